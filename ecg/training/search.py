"""Cheap hyperparameter search: random configurations pruned by successive halving.

Scored on record-wise validation (macro-F1 over N, S, V, F), short epochs, CPU-bounded. Every
rung is logged to a JSON file; finished trials are reused when the search is rerun.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

from ecg.datasets import BeatSet
from ecg.evaluation.metrics import classification_metrics, predict_classes
from ecg.training.heartbeat import HyperParams, fit
from ecg.training.trainer import Log

SPACE: dict[str, list[Any]] = {
    "lr": [3e-4, 1e-3, 3e-3],
    "batch_size": [128, 256, 512],
    "width": [16, 24, 28],  # 0.9 M, 2.0 M, 2.8 M multiply-adds per beat
    "dropout": [0.0, 0.2],
    "class_weight": ["sqrt", "balanced"],
}


def sample_configs(base: HyperParams, n: int, seed: int) -> list[HyperParams]:
    rng = random.Random(seed)
    configs: list[HyperParams] = []
    while len(configs) < n:
        candidate = base.with_(**{k: rng.choice(v) for k, v in SPACE.items()})
        if candidate not in configs:
            configs.append(candidate)
    return configs


def successive_halving(
    base: HyperParams,
    train: BeatSet,
    val: BeatSet,
    out_dir: Path,
    n_configs: int = 8,
    rung_epochs: tuple[int, ...] = (2, 5),
    keep: float = 0.4,
    seed: int = 42,
    log: Log = print,
) -> tuple[HyperParams, dict[str, Any]]:
    """Train ``n_configs`` for ``rung_epochs[0]`` epochs, keep the best ``keep`` fraction, train
    those on to the next rung, and so on. Returns the best configuration and the log."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    trials: list[dict[str, Any]] = [
        {"trial": i, "params": hp.as_dict(), "rungs": []} for i, hp in enumerate(sample_configs(base, n_configs, seed))
    ]
    alive = list(range(len(trials)))
    report: dict[str, Any] = {
        "method": "random sampling + successive halving",
        "space": SPACE,
        "rung_epochs": list(rung_epochs),
        "score": "validation macro-F1 over N,S,V,F (DS1 records held out by record)",
        "trials": trials,
    }
    for rung, epochs in enumerate(rung_epochs):
        for i in alive:
            hp = HyperParams(**trials[i]["params"])
            t0 = time.time()
            log(f"search rung {rung} trial {i} ({epochs} epochs): {hp.as_dict()}")
            model = fit(hp, train, val, out_dir / f"trial{i:02d}", epochs=epochs, log=log, seed=seed)
            metrics = classification_metrics(val.labels, predict_classes(model, val.beats))
            trials[i]["rungs"].append(
                {
                    "rung": rung,
                    "epochs": epochs,
                    "seconds": round(time.time() - t0, 1),
                    "val_macro_f1_nsvf": metrics["macro_f1_nsvf"],
                    "val_sensitivity": {c: v["sensitivity"] for c, v in metrics["per_class"].items()},
                }
            )
            log(f"  -> val macro-F1 (NSVF) {metrics['macro_f1_nsvf']:.3f}")
            (out_dir / "search.json").write_text(json.dumps(report, indent=2))
        alive.sort(key=lambda i: trials[i]["rungs"][-1]["val_macro_f1_nsvf"] or 0.0, reverse=True)
        if rung < len(rung_epochs) - 1:
            alive = alive[: max(1, round(len(alive) * keep))]
    best = alive[0]
    report.update(
        {"best_trial": best, "best_params": trials[best]["params"], "seconds_total": round(time.time() - started, 1)}
    )
    (out_dir / "search.json").write_text(json.dumps(report, indent=2))
    return HyperParams(**trials[best]["params"]), report
