"""Atrial fibrillation episodes from R-R irregularity (after Dash et al. 2009: rMSSD, Shannon entropy, turning points).

Intervals touching a ventricular, fusion or unclassifiable beat are left out, so ventricular ectopy
does not read as irregularity; the features run over a sliding window of the intervals that remain.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .events import Event

WINDOW = 32  # intervals per window
TRIM = 4  # the largest and smallest intervals of a window left out (ectopy the classes missed)
BINS = 16
NRMSSD_MIN = 0.1
ENTROPY_MIN = 0.5
TPR_RANGE = (0.45, 0.85)
SMOOTH = 31  # intervals of majority vote
MERGE_GAP_S = 10.0
MIN_EPISODE_S = 20.0


def _features(rr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    win = np.sort(sliding_window_view(rr, WINDOW), axis=1)[:, TRIM : WINDOW - TRIM]
    ordered = sliding_window_view(rr, WINDOW)
    mean = win.mean(axis=1)
    diffs = np.diff(ordered, axis=1)
    lo, hi = win[:, :1], win[:, -1:]
    clipped = np.clip(ordered, lo, hi)
    nrmssd = np.sqrt(np.mean(np.diff(clipped, axis=1) ** 2, axis=1)) / mean
    span = np.maximum(hi - lo, 1e-9)
    idx = np.minimum(((win - lo) / span * BINS).astype(int), BINS - 1)
    entropy = np.zeros(len(win))
    for b in range(BINS):
        p = np.mean(idx == b, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            entropy -= np.where(p > 0, p * np.log(p), 0.0)
    entropy /= np.log(BINS)
    turning = np.mean((diffs[:, 1:] * diffs[:, :-1]) < 0, axis=1)
    return nrmssd, entropy, turning


def af_mask(r_peaks: np.ndarray, classes: np.ndarray, fs: float) -> np.ndarray:
    """Per beat: True where the rhythm reads as atrial fibrillation."""
    n = len(r_peaks)
    classes = np.asarray([str(c)[:1].upper() for c in classes])
    out = np.zeros(n, bool)
    if n < WINDOW + 2:
        return out
    rr = np.diff(r_peaks) / fs
    ectopic = np.isin(classes, ["V", "F", "Q"])
    usable = ~(ectopic[1:] | ectopic[:-1]) & (rr < 3.0)
    closing = np.flatnonzero(usable) + 1  # beat index closing each usable interval
    if len(closing) < WINDOW:
        return out
    nrmssd, entropy, turning = _features(rr[usable])
    irregular = (nrmssd > NRMSSD_MIN) & (entropy > ENTROPY_MIN) & (turning > TPR_RANGE[0]) & (turning < TPR_RANGE[1])
    per_interval = np.zeros(len(closing))
    half = WINDOW // 2
    per_interval[half : half + len(irregular)] = irregular
    per_interval[:half] = irregular[0]
    per_interval[half + len(irregular) :] = irregular[-1]
    if SMOOTH > 1:
        votes = np.convolve(per_interval, np.ones(SMOOTH) / SMOOTH, mode="same")
        per_interval = (votes > 0.5).astype(float)
    # Beats between usable intervals take the state of the last usable interval before them.
    state = np.zeros(n, bool)
    state[closing] = per_interval.astype(bool)
    filled = np.maximum.accumulate(np.where(np.isin(np.arange(n), closing), np.arange(n), 0))
    return state[filled]


def af_events(r_peaks: np.ndarray, classes: np.ndarray, fs: float) -> tuple[list[Event], np.ndarray]:
    """AF episodes (merged across short gaps, at least 20 s long) and the per-beat mask they cover."""
    mask = af_mask(r_peaks, classes, fs)
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    stretches = [(int(a), int(b)) for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1)]
    merged: list[list[int]] = []
    for first, last in stretches:
        if merged and (r_peaks[first] - r_peaks[merged[-1][1]]) / fs <= MERGE_GAP_S:
            merged[-1][1] = last
        else:
            merged.append([first, last])
    events = []
    covered = np.zeros(len(r_peaks), bool)
    for first, last in merged:
        if (r_peaks[last] - r_peaks[first]) / fs < MIN_EPISODE_S:
            continue
        n = last - first + 1
        rate = round(60.0 * fs * float(n - 1) / float(r_peaks[last] - r_peaks[first]), 1)
        events.append(Event("af", int(r_peaks[first]), int(r_peaks[last]), int(n), rate))
        covered[first : last + 1] = True
    return events, covered
