"""EXPERIMENT: average each beat's class probabilities with those of its nearest beats in shape.

Holter systems sort a recording's beats into families of one shape and let the reader label a family
at once. Here each beat's probabilities (the shipped recipe's out-of-fold probabilities, as
`bench.rhythm_unseen` keeps them in training-runs/oof) are averaged, half and half, with the mean of
its ``k`` nearest beats in shape within the same record (Euclidean, over the morphology inputs:
the first lead or both leads, the QRS only or the whole window), either for every class or for the
V probability alone (the other classes rescaled to fill the rest). The product's decision (most
probable class, then the supraventricular-run rule) follows, and the pooled figures are compared with
the shipped decision on the same probabilities.

    .venv/bin/python -m bench.experiments.shape_neighbours

Result: bench/results/shape_neighbours.json.
"""

from __future__ import annotations

import os

import numpy as np
from sklearn.neighbors import NearestNeighbors

from bench import heartbeat_protocols as hp
from bench.common import REPO, machine, write_result
from bench.experiments.prior_shift import oof_probabilities
from ecg.evaluation import protocols
from ecg.processing.context import WINDOW_BEFORE

OUTPUT = REPO / "bench" / "results" / "shape_neighbours.json"
QRS = slice(WINDOW_BEFORE - 12, WINDOW_BEFORE + 20)  # 94 ms before to 156 ms after the R-peak at 128 Hz
V = 2


def neighbours(morphology: np.ndarray, k: int, leads: tuple[int, ...], qrs_only: bool) -> np.ndarray:
    x = morphology[:, :, list(leads)]
    if qrs_only:
        x = x[:, QRS]
    x = x.reshape(len(x), -1)
    _, idx = NearestNeighbors(n_neighbors=min(k + 1, len(x))).fit(x).kneighbors(x)
    return idx[:, 1:]


def smoothed(p: np.ndarray, idx: np.ndarray, mode: str, weight: float = 0.5) -> np.ndarray:
    q = p[idx].mean(axis=1)
    if mode == "all":
        return (1 - weight) * p + weight * q
    pv = (1 - weight) * p[:, V] + weight * q[:, V]
    rest = p.copy()
    rest[:, V] = 0.0
    rest *= ((1 - pv) / np.maximum(rest.sum(axis=1), 1e-9))[:, None]
    rest[:, V] = pv
    return rest


def main() -> None:
    load_before = os.getloadavg()
    ids, records = hp.all_records()
    probs = oof_probabilities(ids)

    def score(fn) -> dict:
        mats = {r: protocols.confusion(records[r].labels, hp.decide(fn(r), records[r], shape_rule=False)) for r in ids}
        return hp.figures_by_database(mats, ("all", "svdb"))

    results = {"shipped decision": score(lambda r: probs[r])}
    for k in (8, 20):
        for leads in ((0,), (0, 2)):
            for qrs_only in (True, False):
                nb = {r: neighbours(records[r].morphology, k, leads, qrs_only) for r in ids}
                for mode in ("all", "V"):
                    name = f"k={k} leads={'1' if leads == (0,) else '1+2'} {'QRS' if qrs_only else 'window'} {mode}"
                    results[name] = score(lambda r, nb=nb, mode=mode: smoothed(probs[r], nb[r], mode))
                    a = results[name]["all"]
                    print(f"{name}: S {a['S']['se']:.3f}/{a['S']['ppv']:.3f} V {a['V']['se']:.3f}/{a['V']['ppv']:.3f}")
    write_result(OUTPUT, {"machine": machine(load_before), "records": len(ids), "results": results})


if __name__ == "__main__":
    main()
