"""Does calling S beats inside detected atrial fibrillation N help the record-level classifier?

    .venv/bin/python -m bench.experiments.af_rule [--data-dir DIR]

AAMI labels every beat of atrial fibrillation N, however early it comes, and record-wise CV found
the largest share of false S calls in AF records (MIT-BIH 201-203, 219, 222). This scores the
out-of-fold class probabilities of the trees (step ``trees`` folds; trees fitted with the second lead
hidden on 20 % of beats, as the shipped blend) with and without the rule "an S call inside an AF
episode the product's rhythm analysis finds (``ecg.rhythm.af.af_events``, P-wave veto on the
first lead) becomes N", and also the network + trees blend when its out-of-fold file exists.
Results: bench/results/heartbeat_protocols/af_rule.json.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import wfdb

from bench import heartbeat_protocols as hp
from ecg.evaluation import protocols
from ecg.rhythm import af
from ecg.rhythm.analysis import waveform_measures
from ecg.training import record as rt

S, N = 1, 0


def in_af(data, rid: str, record: rt.RecordData, classes: np.ndarray) -> np.ndarray:
    rec = wfdb.rdrecord(str(data / rid))
    signal = np.asarray(rec.p_signal[:, 0], np.float64)
    signal = np.nan_to_num(signal)
    measures = waveform_measures(signal, record.fs, record.r_peaks)
    letters = np.array(["N", "S", "V", "F", "Q"])[classes]
    _, covered = af.af_events(record.r_peaks, letters, record.fs, p_repetition=measures["p_repetition"])
    return covered


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    data = hp.data_dir(args.data_dir)
    ids = rt.record_ids(data, "all")
    records = rt.load_records(data, ids, hp.CACHE)

    trees = hp.tree_fold(records, rt.TREE_LEAD_DROPOUT)
    probs = {"trees, second lead hidden on 20 %": hp._oof(hp.tree_oof_name(hp.SHIPPED), records, ids, trees)}
    net = hp.TREE_OOF / "cv_cnn_a05.npz"
    if net.exists():
        p_net = dict(np.load(net))
        probs["cnn_a05 + trees"] = {r: 0.5 * (p_net[r] + probs["trees, second lead hidden on 20 %"][r]) for r in ids}
    out = {}
    for name, p in probs.items():
        mats, mats_rule, moved = {}, {}, {}
        for r in ids:
            pred = p[r].argmax(1)
            covered = in_af(data, r, records[r], pred)
            ruled = np.where(covered & (pred == S), N, pred)
            mats[r] = protocols.confusion(records[r].labels, pred)
            mats_rule[r] = protocols.confusion(records[r].labels, ruled)
            if (pred != ruled).any():
                moved[r] = int((pred != ruled).sum())
        out[name] = {"without": hp.summary(mats, records), "with rule": hp.summary(mats_rule, records), "moved": moved}
        for k in ("without", "with rule"):
            out[name][k].pop("records", None)
            c = out[name][k]["classes"]
            print(f"{name} {k}: S {c['S']['se']:.3f}/{c['S']['ppv']:.3f} V {c['V']['se']:.3f}/{c['V']['ppv']:.3f}")
        print(f"  beats moved S -> N per record: {moved}")
    (hp.OUT / "af_rule.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
