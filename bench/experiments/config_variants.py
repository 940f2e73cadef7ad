"""EXPERIMENT: the shipped recipe with other network settings, judged by the product's whole decision.

Each variant of the shipped configuration (``cnn_a05``) is trained by the record-wise CV folds of
`bench.heartbeat_protocols` with three seeds per fold (out-of-fold probabilities kept in
training-runs/oof as ``cv_<variant>_seed<k>.npz``, so a run resumes), averaged, averaged again with the
shipped trees' out-of-fold probabilities (``trees_ld``, ``trees_ld_ch4`` since the trees read both
leads), and decided as the product decides (the run
rules, then no S in atrial fibrillation or flutter, from each record's waveform measures). Pooled
figures over all 96 records, and over svdb's and MIT-BIH's records apart (the held-back scorer's
records are svdb's).

    .venv/bin/python -m bench.experiments.config_variants [--variants epochs10,width64]

Result: bench/results/config_variants.json (variants already scored are kept).
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from bench import heartbeat_protocols as hp
from bench.common import REPO, machine, write_result
from bench.experiments.prior_shift import oof_probabilities
from ecg.evaluation import protocols

OUTPUT = REPO / "bench" / "results" / "config_variants.json"
CONFIG = "cnn_a05"
VARIANTS = {
    "epochs10": {"epochs": 10},
    "width64": {"width": 64},
    "n_keep05": {"n_keep": 0.5},
    "alpha07": {"alpha": 0.7},
    "lr5e-4_epochs10": {"learning_rate": 5e-4, "epochs": 10},
    "lead_swap05": {"lead_swap": 0.5},
}


def oof(name: str, changes: dict, records, ids) -> dict[str, np.ndarray]:
    seeds = [
        hp._oof(f"cv_{name}_seed{seed}", records, ids, hp.network_fold(records, CONFIG, seed, changes=changes))
        for seed in range(hp.SEEDS)
    ]
    return {r: np.mean([s[r] for s in seeds], axis=0) for r in ids}


def scored(blend: dict[str, np.ndarray], measures, records, ids) -> dict:
    return hp.figures_by_database(
        {r: protocols.confusion(records[r].labels, hp.decide(blend[r], records[r], True, measures[r])) for r in ids}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    load_before = os.getloadavg()
    ids, records = hp.all_records()
    trees = dict(np.load(hp.TREE_OOF / f"{hp.tree_oof_name(hp.SHIPPED)}.npz"))
    measures = hp.all_measures(hp.data_dir(None), records, ids)
    result = json.loads(OUTPUT.read_text())["results"] if OUTPUT.exists() else {}
    result["shipped (cnn_a05)"] = scored(oof_probabilities(ids), measures, records, ids)
    for name in args.variants.split(","):
        if name in result:
            continue
        result[name] = {
            "changes": VARIANTS[name],
            **scored(
                {r: p + trees[r] for r, p in oof(name, VARIANTS[name], records, ids).items()}, measures, records, ids
            ),
        }
        a = result[name]["all"]
        print(f"{name}: S {a['S']['se']:.3f}/{a['S']['ppv']:.3f} V {a['V']['se']:.3f}/{a['V']['ppv']:.3f}", flush=True)
        write_result(OUTPUT, {"machine": machine(load_before), "records": len(ids), "results": result})
    write_result(OUTPUT, {"machine": machine(load_before), "records": len(ids), "results": result})


if __name__ == "__main__":
    main()
