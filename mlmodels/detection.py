"""R-peak detection on a single ECG lead."""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

from mlmodels.errors import SignalError

MIN_FS = 100.0


def _boxcar(x: np.ndarray, width: int) -> np.ndarray:
    width = max(int(width), 1)
    kernel = np.ones(width) / width
    return np.convolve(x, kernel, mode="same")


def detect_r_peaks(signal: np.ndarray, fs: float) -> np.ndarray:
    """Sample indices (int64, sorted, unique) of the R peaks in ``signal`` sampled at ``fs`` Hz."""
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1:
        raise SignalError(f"expected one lead (1-D array), got shape {x.shape}")
    if not np.isfinite(fs) or fs < MIN_FS:
        raise SignalError(f"sampling rate {fs:g} Hz is below the minimum of {MIN_FS:g} Hz")
    if len(x) < int(fs):
        return np.zeros(0, dtype=np.int64)
    x = np.nan_to_num(x - np.nanmedian(x))
    sos = sps.butter(3, [5.0, 20.0], btype="bandpass", fs=fs, output="sos")
    band = sps.sosfiltfilt(sos, x)
    spread = np.percentile(x, 99) - np.percentile(x, 1)
    if np.ptp(band) < 0.02 * spread or spread == 0:
        return np.zeros(0, dtype=np.int64)  # no QRS-band content: baseline only
    grad = np.abs(np.gradient(band))
    env = _boxcar(grad, round(0.1 * fs))
    avg = _boxcar(grad, round(0.75 * fs))
    qrs = env > 1.5 * avg
    edges = np.flatnonzero(np.diff(qrs.astype(np.int8)))
    if qrs[0]:
        edges = np.r_[0, edges]
    if qrs[-1]:
        edges = np.r_[edges, len(x) - 1]
    starts, ends = edges[0::2], edges[1::2]
    peaks = []
    min_width = 0.4 * np.mean(ends - starts) if len(starts) else 0
    for s, e in zip(starts, ends):
        if e - s < min_width:
            continue
        peaks.append(s + int(np.argmax(np.abs(band[s:e + 1]))))
    return np.unique(np.asarray(peaks, dtype=np.int64))
