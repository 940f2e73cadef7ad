"""Kaggle "ECG Heartbeat Categorization" CSVs (mitbih_train.csv / mitbih_test.csv).

Each row: 187 beat values in [0, 1] then the AAMI class index (0..4 = N,S,V,F,Q) as a float;
no header. Rows carry no record id, so they only support the intra-patient protocol.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ecg.constants import AAMI_CLASSES, BEAT_LENGTH


def read_beat_rows(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Rows of 187 beat values and a label, as in every Kaggle beat CSV: (beats float32, labels float64)."""
    # header=None: the seed app lost the first beat by letting pandas take it as a header.
    frame = pd.read_csv(path, header=None, dtype=np.float64)
    if frame.shape[1] != BEAT_LENGTH + 1:
        raise ValueError(f"{Path(path).name}: expected {BEAT_LENGTH + 1} columns per row, got {frame.shape[1]}")
    values = frame.to_numpy()
    if np.isnan(values).any():
        raise ValueError(f"{Path(path).name}: empty or non-numeric values")
    return values[:, :BEAT_LENGTH].astype(np.float32), values[:, -1]


def read_kaggle_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(beats float32 (n, 187), labels int64 (n,)); raises ValueError on a malformed file."""
    beats, labels = read_beat_rows(path)
    if not np.all(np.isin(labels, np.arange(len(AAMI_CLASSES)))):
        raise ValueError(f"{Path(path).name}: labels must be class indices 0..{len(AAMI_CLASSES) - 1}")
    return beats, labels.astype(np.int64)
