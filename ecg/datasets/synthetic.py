"""Plausible Kaggle-format beat rows made up from a seed, for tests, benches and demos."""

from __future__ import annotations

import numpy as np

from ecg.constants import BEAT_LENGTH


def beat_rows(n: int, *, seed: int = 0) -> np.ndarray:
    """A QRS spike at 0 decaying, a T-like bump, a zero-padded tail; each row in [0, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(BEAT_LENGTH)
    rows = []
    for _ in range(n):
        length = int(rng.integers(90, 160))
        beat = (
            np.exp(-t / 4.0)
            + 0.25 * np.exp(-((t - 0.6 * length) ** 2) / 60.0)
            + 0.02 * rng.standard_normal(BEAT_LENGTH)
        )
        beat[length:] = 0.0
        beat = (beat - beat[:length].min()) / (beat[:length].max() - beat[:length].min())
        beat[length:] = 0.0
        rows.append(np.clip(beat, 0, 1))
    return np.array(rows)


def beat_csv(n: int = 10, *, header: bool = False, label: bool = False, seed: int = 0) -> bytes:
    """``beat_rows`` as an upload file: comma-separated, optionally a header row and a label column."""
    rows = beat_rows(n, seed=seed)
    lines = []
    if header:
        lines.append(",".join(f"c{i}" for i in range(BEAT_LENGTH + label)))
    for row in rows:
        cells = [f"{v:.6f}" for v in row] + (["0"] if label else [])
        lines.append(",".join(cells))
    return ("\n".join(lines) + "\n").encode()
