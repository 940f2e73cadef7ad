import io

import numpy as np


def beat_rows(n: int, *, seed: int = 0) -> np.ndarray:
    """Plausible beat rows in the Kaggle format: a QRS spike at 0 decaying, zero-padded tail, in [0, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(187)
    rows = []
    for _ in range(n):
        length = int(rng.integers(90, 160))
        beat = np.exp(-t / 4.0) + 0.25 * np.exp(-((t - 0.6 * length) ** 2) / 60.0) + 0.02 * rng.standard_normal(187)
        beat[length:] = 0.0
        beat = (beat - beat[:length].min()) / (beat[:length].max() - beat[:length].min())
        beat[length:] = 0.0
        rows.append(np.clip(beat, 0, 1))
    return np.array(rows)


def beat_csv(n: int = 10, *, header: bool = False, label: bool = False, seed: int = 0) -> bytes:
    rows = beat_rows(n, seed=seed)
    lines = []
    if header:
        lines.append(",".join(f"c{i}" for i in range(187 + label)))
    for row in rows:
        cells = [f"{v:.6f}" for v in row] + (["0"] if label else [])
        lines.append(",".join(cells))
    return ("\n".join(lines) + "\n").encode()


def upload(name: str, data: bytes) -> io.BytesIO:
    fh = io.BytesIO(data)
    fh.name = name
    return fh
