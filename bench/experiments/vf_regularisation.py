"""EXPERIMENT: the VF window model's regularisation and decision threshold, chosen by record-wise CV.

The shipped VF/VFL window model (`ecg.rhythm.vf`, a logistic combination of twelve window inputs,
C = 1) was fitted on every cudb and MIT-BIH window and its episode figures are measured on those
same records (cudb duration Se / +P 95.8 / 83.4 %). This scores the recipe on records it was not
fitted on: 24 folds, each holding out one cudb record and every 24th MIT-BIH record, the model
fitted on the rest and the held-out records' windows decided as the product decides (the mean of
``DECISION_WINDOWS`` windows against ``THRESHOLD``, no window over 2 s or more without signal).
Every combination of the regularisation C, the threshold and the number of windows whose mean
decides is scored on the pooled held-out records, with the same counts as `bench.rhythm_eval`.

    .venv/bin/python -m bench.experiments.vf_regularisation

Needs the per-record product beats cached by `python -m bench.rhythm_eval`. Result:
bench/results/vf_regularisation.json; what it showed: bench/README.md (rhythm analysis, VF/VFL).
"""

import itertools
import os
import time

import numpy as np

from bench import rhythm_eval as rhythm
from bench.common import REPO, machine, write_result
from bench.experiments.vf_organisation import counts, pooled, summary
from ecg.rhythm import signal_loss, vf

OUTPUT = REPO / "bench" / "results" / "vf_regularisation.json"
C_VALUES = (1.0, 0.1, 0.01, 0.003, 0.001, 0.0003)
THRESHOLDS = (0.86, 0.88, 0.9, 0.92, 0.94, 0.96)
DECISION_WINDOWS = (4, 5, 6)


def load() -> dict:
    out = {}
    for db, record, ref, prod, feats, starts, label in rhythm.vf_windows():
        span = int(vf.WINDOW_S * prod["fs"])
        lost = signal_loss.long_enough(prod["no_signal"], prod["fs"])
        out[(db, record)] = {
            "inputs": vf.model_inputs(feats),
            "starts": starts,
            "label": label,
            "silent": signal_loss.overlapping(lost, starts, starts + span - 1),
            "ref": ref,
            "n": len(prod["values"]),
        }
    return out


def folds(keys: list) -> list[list]:
    cudb = sorted(k for k in keys if k[0] == "cudb")
    mitdb = sorted(k for k in keys if k[0] == "mitdb")
    return [[c] + mitdb[i :: len(cudb)] for i, c in enumerate(cudb)]


def out_of_fold(data: dict, c: float) -> dict:
    """Each record's window probabilities from the model fitted without its fold."""
    from sklearn.linear_model import LogisticRegression

    probability = {}
    for held in folds(list(data)):
        train = [k for k in data if k not in held]
        keep = [(data[k]["label"] > 0.99) | (data[k]["label"] == 0) for k in train]
        x = np.concatenate([data[k]["inputs"][m] for k, m in zip(train, keep)])
        y = np.concatenate([data[k]["label"][m] > 0.5 for k, m in zip(train, keep)])
        mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
        clf = LogisticRegression(C=c, class_weight="balanced", max_iter=3000).fit((x - mean) / scale, y)
        for k in held:
            p = clf.predict_proba((data[k]["inputs"] - mean) / scale)[:, 1]
            p[data[k]["silent"]] = 0.0
            probability[k] = p
    return probability


def episodes(rec: dict, probability: np.ndarray) -> list[tuple[int, int]]:
    """Episodes as `vf.vf_events` forms them from window probabilities."""
    return vf.episodes(probability, rec["starts"], rec["ref"]["fs"], rec["n"])


def main() -> None:
    load_before = os.getloadavg()
    started = time.perf_counter()
    data = load()
    shipped = (vf.THRESHOLD, vf.DECISION_WINDOWS)
    variants = []
    try:
        for c in C_VALUES:
            probability = out_of_fold(data, c)
            for threshold, k in itertools.product(THRESHOLDS, DECISION_WINDOWS):
                vf.THRESHOLD, vf.DECISION_WINDOWS = threshold, k
                part = counts(data, list(data), lambda key: episodes(data[key], probability[key]))
                variants.append({"C": c, "threshold": threshold, "decision_windows": k} | summary(pooled(part)))
                print(variants[-1], flush=True)
    finally:
        vf.THRESHOLD, vf.DECISION_WINDOWS = shipped
    write_result(
        OUTPUT,
        {
            "command": "python -m bench.experiments.vf_regularisation",
            "folds": [[f"{db}/{r}" for db, r in f] for f in folds(list(data))],
            "shipped": {"C": rhythm.VF_C, "threshold": shipped[0], "decision_windows": shipped[1]},
            "variants": variants,
            "seconds": round(time.perf_counter() - started, 1),
            "machine": machine(load_before),
        },
    )


if __name__ == "__main__":
    main()
