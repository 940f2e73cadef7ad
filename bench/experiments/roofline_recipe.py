"""EXPERIMENT (issue 11, the roofline): a wider network beside fewer trees, by the whole decision and by speed.

The shipped blend spends more CPU per beat in its 750 trees than in its network, and the roofline
counts the network's multiply-adds only (`bench.record_inference`; bench/README.md, Gaps). A wider
network runs nearer its roofline and fewer trees cost less, so each pair of a network (the shipped
width 32, or width 64) and a tree model (the shipped 150 iterations, fewer, or none) is scored here:

* by the record-wise CV folds of `bench.heartbeat_protocols`, three network seeds per fold averaged
  (out-of-fold probabilities kept in training-runs/oof: the shipped network's ``cv_cnn_a05*``, the
  wider one's ``cv_width64_seed<k>`` as `bench.experiments.config_variants` names them, each tree
  model's ``trees_ld`` or ``trees_ld_<variant>``, with ``_ch4`` for trees on both leads), averaged with the trees and decided as the product
  decides (`ecg.models.decision`), pooled over all 96 records and over svdb's and MIT-BIH's apart;
* with ``--timing``, by speed: each tree model's CPU time per beat through the product's walk at batch
  1024 (`ecg.models.trees.fast_predictor`; trees fitted on the first fold's training records, walked
  over 1,024 of its held-out beats, median of 7 rounds), beside the trees' node counts.

    .venv/bin/python -m bench.experiments.roofline_recipe [--networks width32,width64] [--trees it150,it40_lr03,none]
        [--seeds 1] [--timing] [--runs]

With ``--runs`` each pair's V couplets and runs are also scored end to end as `bench.rhythm_unseen`
scores the shipped recipe (the product's R-peaks and rhythm logic, reference runs from the .atr files).

Results: bench/results/roofline_recipe.json (pairs already scored are kept; an interrupted run resumes),
with the walks' timing in roofline_recipe_tree_timing.json and the runs in roofline_recipe_runs.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from bench import heartbeat_protocols as hp
from bench.common import REPO, machine, write_result
from ecg.evaluation import protocols
from ecg.training import record as rt

OUTPUT = REPO / "bench" / "results" / "roofline_recipe.json"
CONFIG = "cnn_a05"
NETWORKS = {"width32": {}, "width64": {"width": 64}, "width128": {"width": 128}}
TREES: dict[str, dict | None] = {
    "it150": {},  # shipped: 150 iterations (750 trees), 31 leaves, learning rate 0.1
    "it300": {"max_iter": 300},  # twice the trees: with the compiled walk they cost about 15 us per beat
    "it60_lr025": {"max_iter": 60, "learning_rate": 0.25},
    "it40_lr03": {"max_iter": 40, "learning_rate": 0.3},
    "it25_lr04": {"max_iter": 25, "learning_rate": 0.4},
    "it40_lr03_leaves15": {"max_iter": 40, "learning_rate": 0.3, "max_leaf_nodes": 15},
    "none": None,
}
TIMING = OUTPUT.with_name("roofline_recipe_tree_timing.json")
RUNS = OUTPUT.with_name("roofline_recipe_runs.json")


def network_oof(name: str, records, ids, n_seeds: int = hp.SEEDS) -> dict[str, np.ndarray]:
    changes = NETWORKS[name]
    names = [hp.seed_oof_name(CONFIG, s) if not changes else f"cv_{name}_seed{s}" for s in range(n_seeds)]
    seeds = [
        hp._oof(n, records, ids, hp.network_fold(records, CONFIG, s, changes=changes or None))
        for s, n in enumerate(names)
    ]
    return {r: np.mean([p[r] for p in seeds], axis=0) for r in ids}


def tree_timing(name: str, records, ids, timings: dict) -> None:
    """CPU microseconds per beat of the product's walk of ``name``'s trees (``trees.fast_predictor``,
    one tree at a time over the rows, as the worker runs them) at batch 1024: the trees fitted on the
    first fold's training records, walked over 1,024 of its held-out beats, median of 7 rounds."""
    from ecg.models import trees

    params = TREES[name]
    if params is None or name in timings:
        return
    test = hp.folds(ids)[0]
    clf = rt.fit_trees(
        records, [i for i in ids if i not in test], seed=0, lead_dropout=rt.TREE_LEAD_DROPOUT, params=params
    )
    walk = trees.fast_predictor(trees.TreeEnsemble.from_export(trees.export(clf)))
    x = np.concatenate([trees.tree_inputs(records[t].morphology, records[t].features) for t in test])[:1024]
    rounds = []
    for _ in range(7):
        t0 = time.process_time()
        walk(x)
        rounds.append((time.process_time() - t0) / len(x))
    timings[name] = {
        "cpu_us_per_beat_median": round(float(np.median(rounds)) * 1e6, 2),
        "cpu_us_per_beat_rounds": [round(r * 1e6, 2) for r in rounds],
        "trees": int(sum(len(t) for t in clf._predictors)),
        "nodes": int(sum(len(p.nodes) for t in clf._predictors for p in t)),
        "max_depth": int(max(p.nodes["depth"].max() for t in clf._predictors for p in t)),
    }
    TIMING.write_text(json.dumps(timings, indent=2) + "\n")


def tree_oof(name: str, records, ids) -> dict[str, np.ndarray] | None:
    params = TREES[name]
    if params is None:
        return None
    oof_name = ("trees_ld" if not params else f"trees_ld_{name}") + hp.tree_reading()
    return hp._oof(oof_name, records, ids, hp.tree_fold(records, rt.TREE_LEAD_DROPOUT, params))


def scored(probs: dict[str, np.ndarray], measures, records, ids) -> dict:
    return hp.figures_by_database(
        {r: protocols.confusion(records[r].labels, hp.decide(probs[r], records[r], True, measures[r])) for r in ids}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default=",".join(NETWORKS))
    parser.add_argument("--trees", default=",".join(TREES))
    parser.add_argument("--seeds", type=int, default=hp.SEEDS, help="network seeds averaged per fold (first N)")
    parser.add_argument("--timing", action="store_true", help="also time each tree model's walk (a fit per model)")
    parser.add_argument(
        "--runs", action="store_true", help="also score V couplets and runs end to end (bench.rhythm_unseen) per pair"
    )
    args = parser.parse_args()
    load_before = os.getloadavg()
    ids, records = hp.all_records()
    measures = hp.all_measures(hp.data_dir(None), records, ids)
    result = json.loads(OUTPUT.read_text())["results"] if OUTPUT.exists() else {}
    timings = json.loads(TIMING.read_text()) if TIMING.exists() else {}
    runs = json.loads(RUNS.read_text()) if RUNS.exists() else {}
    trees = {name: tree_oof(name, records, ids) for name in args.trees.split(",")}
    for net_name in args.networks.split(","):
        net = network_oof(net_name, records, ids, args.seeds)
        tail = "" if args.seeds == hp.SEEDS else f" ({args.seeds} network seed{'s' if args.seeds > 1 else ''})"
        for tree_name, p_trees in trees.items():
            key = f"{net_name} + {tree_name}{tail}"
            scored_now, runs_now = key not in result, args.runs and key not in runs
            if not (scored_now or runs_now):
                continue
            probs = net if p_trees is None else {r: (net[r] + p_trees[r]) / 2 for r in ids}
            if scored_now:
                result[key] = {
                    "network": NETWORKS[net_name],
                    "trees": TREES[tree_name],
                    **scored(probs, measures, records, ids),
                }
                a = result[key]["all"]
                print(f"{key}: S {a['S']['se']:.4f}/{a['S']['ppv']:.4f} V {a['V']['se']:.4f}/{a['V']['ppv']:.4f}")
                write_result(
                    OUTPUT,
                    {"machine": machine(load_before), "records": len(ids), "tree_timing": timings, "results": result},
                )
            if runs_now:
                from bench import rhythm_unseen

                per_record = [rhythm_unseen.evaluate(r, records[r], probs[r]) for r in ids]
                runs[key] = rhythm_unseen.totals(per_record)["overlap"]["all"]  # the kept runs' comparison
                RUNS.write_text(json.dumps(runs, indent=2) + "\n")
                print(f"{key} runs: {json.dumps(runs[key])}", flush=True)
    if args.timing:
        for name in trees:
            tree_timing(name, records, ids, timings)
    write_result(
        OUTPUT, {"machine": machine(load_before), "records": len(ids), "tree_timing": timings, "results": result}
    )


if __name__ == "__main__":
    main()
