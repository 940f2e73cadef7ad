"""Beat-by-beat scoring of a classifier against reference annotations, EC57 style.

A detected beat matches the reference beat nearest to it within ``MATCH_S`` (0.15 s, ANSI/AAMI
EC57); classification figures are over matched beats, detection figures over all of them.
Intervals are bootstrap percentiles over records (patients), since beats of one patient are not
independent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ecg.constants import AAMI_CLASSES
from ecg.evaluation import detection

MATCH_S = detection.TOLERANCE_S


def match_beats(detected: np.ndarray, reference: np.ndarray, fs: float) -> np.ndarray:
    """Index into ``reference`` of the beat each detection matches, -1 where none is within MATCH_S."""
    out = np.full(len(detected), -1, dtype=np.int64)
    md, mr = detection.match_beats(detected, reference, int(round(MATCH_S * fs)))
    out[md] = mr
    return out


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n: int = len(AAMI_CLASSES)) -> np.ndarray:
    """Rows = reference class, columns = predicted; beats without a reference label (-1) are left out."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    keep = (y_true >= 0) & (y_pred >= 0)
    m = np.zeros((n, n), dtype=np.int64)
    np.add.at(m, (y_true[keep], y_pred[keep]), 1)
    return m


def class_stats(m: np.ndarray) -> dict[str, dict[str, float | None]]:
    """Sensitivity and positive predictivity per class (fractions, None when undefined)."""
    out = {}
    for k, name in enumerate(AAMI_CLASSES):
        tp, fn, fp = m[k, k], m[k].sum() - m[k, k], m[:, k].sum() - m[k, k]
        out[name] = {
            "se": float(tp / (tp + fn)) if tp + fn else None,
            "ppv": float(tp / (tp + fp)) if tp + fp else None,
            "n": int(m[k].sum()),
        }
    return out


def bootstrap_intervals(per_record: list[np.ndarray], draws: int = 1000, seed: int = 0) -> dict[str, dict[str, Any]]:
    """95 % percentile intervals of per-class Se and +P, resampling records with replacement."""
    rng = np.random.default_rng(seed)
    mats = np.stack(per_record)
    samples: dict[str, dict[str, list[float]]] = {c: {"se": [], "ppv": []} for c in AAMI_CLASSES}
    for _ in range(draws):
        m = mats[rng.integers(0, len(mats), len(mats))].sum(axis=0)
        for c, s in class_stats(m).items():
            for key in ("se", "ppv"):
                if (value := s[key]) is not None:
                    samples[c][key].append(value)
    return {
        c: {k: [float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))] if v else None for k, v in d.items()}
        for c, d in samples.items()
    }


def report(per_record: dict[str, np.ndarray], draws: int = 1000) -> dict[str, Any]:
    """Pooled per-class figures with bootstrap intervals, and each record's own figures."""
    mats = list(per_record.values())
    total = np.sum(mats, axis=0)
    stats: dict[str, dict[str, Any]] = class_stats(total)
    intervals = bootstrap_intervals(mats, draws=draws) if len(mats) > 1 else {}
    for c in stats:
        stats[c]["ci95"] = intervals.get(c)
    return {
        "classes": stats,
        "accuracy": float(np.trace(total) / max(total.sum(), 1)),
        "beats": int(total.sum()),
        "confusion": total.tolist(),
        "records": {
            r: {"confusion": m.tolist(), **{c: s for c, s in class_stats(m).items()}} for r, m in per_record.items()
        },
    }


def result_save(directory: Path, name: str, payload: dict[str, Any]) -> None:
    """Write one protocol's results as ``name``.json, atomically (an interrupted run leaves no half file)."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f"{name}.json.tmp"
    tmp.write_text(json.dumps(payload, indent=1))
    tmp.replace(directory / f"{name}.json")


def result_load(directory: Path, name: str) -> dict[str, Any] | None:
    path = directory / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None
