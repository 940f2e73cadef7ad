"""Per-class beat classification metrics (AAMI style) and throughput."""

from __future__ import annotations

import time
from typing import Any, cast

import keras
import numpy as np

from ecg.constants import AAMI_CLASSES, BEAT_LENGTH


def predict_classes(model: keras.Model, beats: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    probabilities = model.predict(beats.reshape(-1, BEAT_LENGTH, 1), batch_size=batch_size, verbose=0)
    return cast(np.ndarray, probabilities.argmax(axis=1))


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den else None


def _macro(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(AAMI_CLASSES)) -> np.ndarray:
    """Rows = reference class, columns = predicted class."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return matrix


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, classes: tuple[str, ...] = AAMI_CLASSES
) -> dict[str, Any]:
    """Sensitivity, positive predictivity (+P) and F1 per class; accuracy; macro-F1; confusion matrix.

    A figure with a zero denominator (no reference beats of a class, or none predicted) is None,
    and macro-F1 averages only the classes where F1 is defined: macro_f1 over all classes,
    macro_f1_nsvf over N, S, V, F (DS2 holds almost no Q beats once paced records are excluded).
    """
    matrix = confusion(y_true, y_pred, len(classes))
    per_class = {}
    for i, name in enumerate(classes):
        tp = matrix[i, i]
        support = matrix[i].sum()
        predicted = matrix[:, i].sum()
        sensitivity = _ratio(tp, support)
        ppv = _ratio(tp, predicted)
        f1 = _ratio(2 * tp, support + predicted)
        per_class[name] = {
            "sensitivity": sensitivity,
            "ppv": ppv,
            "f1": f1,
            "support": int(support),
            "predicted": int(predicted),
        }
    return {
        "n_beats": int(matrix.sum()),
        "accuracy": _ratio(np.trace(matrix), matrix.sum()),
        "macro_f1": _macro([per_class[c]["f1"] for c in classes if per_class[c]["support"]]),
        "macro_f1_nsvf": _macro(
            [per_class[c]["f1"] for c in ("N", "S", "V", "F") if c in per_class and per_class[c]["support"]]
        ),
        "per_class": per_class,
        "confusion_matrix": {"rows_reference_cols_predicted": list(classes), "counts": matrix.tolist()},
    }


def beats_per_second(
    model: keras.Model, batch_size: int = 1024, n_batches: int = 4, repeats: int = 3, seed: int = 0
) -> float:
    """Inference throughput on random beats: best of ``repeats`` timed passes after a warm-up
    (best-of, because the CPU is shared and other load only ever slows a pass down)."""
    beats = np.random.default_rng(seed).random((batch_size * n_batches, BEAT_LENGTH, 1), dtype=np.float32)
    model.predict(beats[:batch_size], batch_size=batch_size, verbose=0)
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(beats, batch_size=batch_size, verbose=0)
        best = max(best, len(beats) / (time.perf_counter() - start))
    return best


def false_positive_sources(
    y_true: np.ndarray, y_pred: np.ndarray, records: np.ndarray, classes: tuple[str, ...] = AAMI_CLASSES, top: int = 4
) -> dict[str, Any]:
    """For each predicted class, the records contributing most beats wrongly given that class."""
    sources = {}
    for i, name in enumerate(classes):
        wrong = (y_pred == i) & (y_true != i)
        if not wrong.any():
            continue
        found, counts = np.unique(records[wrong], return_counts=True)
        order = np.argsort(-counts)[:top]
        sources[name] = {
            "false_positives": int(wrong.sum()),
            "top_records": {str(found[j]): int(counts[j]) for j in order},
        }
    return sources
