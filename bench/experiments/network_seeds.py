"""EXPERIMENT: five network seeds instead of three in the shipped recipe (issue 11).

The shipped model averages three network seeds, then averages them with the trees. Here two more seeds
are trained by the same record-wise CV folds (out-of-fold probabilities kept in training-runs/oof beside
the first three, so a run resumes; about 40 s per fold on our 2 cores), and the product's whole
decision is scored on every three-seed subset and on all five, each with the close-call weight between
N and S (``S_WEIGHT``) at the shipped 1.5 and heavier: how much of the S +P is the three-seed ensemble's
own spread, and whether a five-seed ensemble would buy S sensitivity.

    .venv/bin/python -m bench.experiments.network_seeds

Result: bench/results/network_seeds.json.
"""

from __future__ import annotations

import itertools
import os

import numpy as np

from bench import heartbeat_protocols as hp
from bench.common import REPO, machine, write_result
from bench.experiments.prior_shift import CONFIG, decided_confusions, decision_settings
from ecg.training import record as rt

OUTPUT = REPO / "bench" / "results" / "network_seeds.json"
SEEDS = 5
WEIGHTS = (1.5, 1.75, 2.0, 2.5)


def main() -> None:
    load_before = os.getloadavg()
    ids, records = hp.all_records()
    seeds = [
        hp._oof(
            hp.seed_oof_name(CONFIG, seed),
            records,
            ids,
            hp.network_fold(records, CONFIG, seed, lambda m, s=seed: print(f"  seed {s} {m}")),
        )
        for seed in range(SEEDS)
    ]
    trees = hp._oof(hp.tree_oof_name(hp.SHIPPED), records, ids, hp.tree_fold(records, rt.TREE_LEAD_DROPOUT))
    measures = hp.all_measures(hp.data_dir(None), records, ids)
    combos = [c for c in itertools.combinations(range(SEEDS), 3)] + [tuple(range(SEEDS))]
    results: dict = {}
    for combo in combos:
        p = {r: (np.mean([seeds[i][r] for i in combo], axis=0) + trees[r]) / 2 for r in ids}
        weights = WEIGHTS if combo in ((0, 1, 2), tuple(range(SEEDS))) else (1.5,)
        for w in weights:
            with decision_settings(S_WEIGHT=w):
                figures = hp.figures_by_database(decided_confusions(p, records, measures))
            name = f"seeds {','.join(map(str, combo))}, S x {w}"
            results[name] = {"seeds": list(combo), "S_WEIGHT": w, "cv": figures}
            c, s = figures["all"], figures["svdb"]
            print(
                f"{name:28s} CV S {c['S']['se']:.3f}/{c['S']['ppv']:.3f} V {c['V']['se']:.3f}/{c['V']['ppv']:.3f}"
                f" svdb S {s['S']['se']:.3f}/{s['S']['ppv']:.3f} V {s['V']['se']:.3f}/{s['V']['ppv']:.3f}",
                flush=True,
            )
    write_result(OUTPUT, {"machine": machine(load_before), "records": len(ids), "results": results})


if __name__ == "__main__":
    main()
