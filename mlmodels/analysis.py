"""From a continuous lead to model-ready beats: R-peaks, then the Kaggle-style cut."""

import numpy as np

from .beats import extract_beats
from .detection import detect_r_peaks


def segment(values: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Beats (n, 187) and their R-peak sample indices in ``values``."""
    r_peaks = detect_r_peaks(values, fs)
    return extract_beats(values, fs, r_peaks)


def mean_heart_rate(r_peaks: np.ndarray, fs: float) -> float | None:
    """Mean heart rate in beats per minute over the detected beats."""
    if len(r_peaks) < 2:
        return None
    return float(60.0 * fs * (len(r_peaks) - 1) / (r_peaks[-1] - r_peaks[0]))
