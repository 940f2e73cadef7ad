"""EXPERIMENT: complete V couplets and runs from a V beat's neighbours.

With the product's own beats on patients the classifier never saw (`bench.rhythm_unseen`), V
couplets are found 76 % of the time against 92 % of V beats: a couplet needs both of its beats
called V. Here, after the product's decision on the shipped recipe's out-of-fold probabilities, a
beat next to a V beat becomes V when its own V probability is at least ``t`` (and, in the second
variant, its R-R interval is premature: under 0.9 of the record's median). Couplets and runs are
counted from the classes by the product's run logic (``ecg.rhythm.ectopy``) and matched to the
reference runs as `bench.rhythm_eval` does (VF stretches are not left out here, unlike
`bench.rhythm_unseen`, whose figures this reproduces within a point).

    .venv/bin/python -m bench.experiments.v_couplet_completion

Result: bench/results/v_couplet_completion.json.
"""

from __future__ import annotations

import os

import numpy as np

from bench import heartbeat_protocols as hp
from bench import rhythm_eval as re_
from bench.common import REPO, machine, write_result
from bench.experiments.prior_shift import oof_inputs
from ecg.constants import AAMI_CLASSES
from ecg.evaluation import protocols
from ecg.rhythm import ectopy

OUTPUT = REPO / "bench" / "results" / "v_couplet_completion.json"
V = AAMI_CLASSES.index("V")


def completed(classes: np.ndarray, probs: np.ndarray, r_peaks: np.ndarray, fs: float, t: float, premature):
    out = classes.copy()
    p = probs / probs.sum(axis=1, keepdims=True)
    rr = np.diff(r_peaks) / fs
    median = float(np.median(rr)) if len(rr) else 1.0
    for j in np.flatnonzero(classes == V):
        for k in (j - 1, j + 1):
            if (
                0 < k < len(out)
                and out[k] != V
                and p[k, V] >= t
                and (premature is None or rr[k - 1] < premature * median)
            ):
                out[k] = V
    return out


def main() -> None:
    load_before = os.getloadavg()
    ids, records, probs, measures = oof_inputs()
    reference = {rid: re_.reference_runs(rid) for rid in ids}
    shipped = {r: hp.decide(probs[r], records[r], True, measures[r]) for r in ids}

    def score(decided: dict[str, np.ndarray]) -> dict:
        per, mats = [], {}
        for rid in ids:
            r = records[rid]
            mats[rid] = protocols.confusion(r.labels, decided[rid])
            events, _ = ectopy.ectopic_events(r.r_peaks, np.array(AAMI_CLASSES)[decided[rid]], r.fs, kind="V")
            found = re_.run_match(reference[rid], re_._runs_from_events(events))
            per.append({"db": rid.split("/")[0], "runs_product": found})
        totals = re_.run_totals(per, "runs_product", lambda x: True)
        v = hp.summary(mats)["classes"]["V"]
        return {"V beats": {"se": round(v["se"], 4), "ppv": round(v["ppv"], 4)}, **totals}

    results = {"shipped decision": score(shipped)}
    for t in (0.2, 0.3, 0.4):
        for premature in (None, 0.9):
            name = f"neighbour p(V) >= {t}" + ("" if premature is None else f", R-R < {premature} of the median")
            results[name] = score(
                {r: completed(shipped[r], probs[r], records[r].r_peaks, records[r].fs, t, premature) for r in ids}
            )
            c = results[name]
            print(name, {k: (c[k]["se"], c[k]["ppv"]) for k in re_.RUN_CLASSES}, flush=True)
    write_result(OUTPUT, {"machine": machine(load_before), "records": len(ids), "results": results})


if __name__ == "__main__":
    main()
