"""Pauses, bradycardia and tachycardia episodes from beat times."""

import numpy as np

from .events import Event
from .heart_rate import rolling_rate

PAUSE_S = 2.0
BRADY_BPM = 50.0
TACHY_BPM = 100.0
SUSTAINED_S = 30.0  # a brady / tachy episode lasts at least this long


def pause_events(r_peaks: np.ndarray, fs: float, *, skip: np.ndarray | None = None) -> list[Event]:
    """Every R-R interval of at least 2.0 s; ``skip`` marks intervals (index of the closing beat) to ignore."""
    rr = np.diff(r_peaks) / fs
    long = np.flatnonzero(rr >= PAUSE_S)
    events = []
    for i in long:
        if skip is not None and skip[i + 1]:
            continue
        events.append(Event("pause", int(r_peaks[i]), int(r_peaks[i + 1]), 2, round(60.0 / float(rr[i]), 1)))
    return events


def _stretches(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1))


def rate_episodes(r_peaks: np.ndarray, fs: float, *, excluded: np.ndarray | None = None) -> list[Event]:
    """Sustained bradycardia (< 50 bpm) and tachycardia (> 100 bpm) over the 8-beat rate."""
    rate = rolling_rate(r_peaks, fs)
    events = []
    for name, mask in (("brady", rate < BRADY_BPM), ("tachy", rate > TACHY_BPM)):
        if excluded is not None:
            mask &= ~excluded
        for first, last in _stretches(mask):
            start = max(0, first - 8)  # the first flagged beat's rate spans the 8 intervals before it
            if (r_peaks[last] - r_peaks[start]) / fs < SUSTAINED_S:
                continue
            n = last - start + 1
            bpm = round(60.0 * fs * float(n - 1) / float(r_peaks[last] - r_peaks[start]), 1)
            events.append(Event(name, int(r_peaks[start]), int(r_peaks[last]), int(n), bpm))
    return events
