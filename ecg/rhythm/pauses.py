"""Pauses, bradycardia and tachycardia episodes from beat times.

A pause is measured between beats the ventricles made. An R-peak detector working on a long gap
sometimes marks a P wave, a T wave or a ripple of noise inside it; such a mark has a fraction of the
amplitude of the QRS complexes around it (0.03-0.2 of it on MIT-BIH 232 and 208, where it hid five
annotated pauses). With ``qrs_amplitude`` at hand, marks under ``FAINT`` of their neighbours' QRS
amplitude do not end a pause.
"""

from typing import cast

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .events import Event
from .heart_rate import rolling_rate

PAUSE_S = 2.0
BRADY_BPM = 50.0
TACHY_BPM = 100.0
SUSTAINED_S = 30.0  # a brady / tachy episode lasts at least this long
QRS_HALF_S = 0.05  # half the stretch around an R-peak whose peak-to-peak is its QRS amplitude
NEIGHBOURS = 16  # beats either side whose median amplitude a beat is compared with
FAINT = 0.25  # a mark under this share of its neighbours' QRS amplitude is no beat (for pauses)


def qrs_amplitude(values: np.ndarray, fs: float, r_peaks: np.ndarray) -> np.ndarray:
    """Per beat: its QRS peak-to-peak amplitude over the median of its ``NEIGHBOURS`` either side."""
    peaks = np.asarray(r_peaks, np.int64)
    if len(peaks) == 0:
        return np.zeros(0)
    half = max(1, int(round(QRS_HALF_S * fs)))
    x = np.asarray(values, float)
    idx = np.clip(peaks[:, None] + np.arange(-half, half + 1)[None, :], 0, len(x) - 1)
    amplitude = np.ptp(np.nan_to_num(x[idx]), axis=1)
    padded = np.pad(amplitude, NEIGHBOURS, mode="edge")
    local = np.median(sliding_window_view(padded, 2 * NEIGHBOURS + 1), axis=1)
    return cast(np.ndarray, amplitude / np.maximum(local, 1e-9))


def pause_events(
    r_peaks: np.ndarray,
    fs: float,
    *,
    skip: np.ndarray | None = None,
    qrs_amplitude: np.ndarray | None = None,
) -> list[Event]:
    """Every R-R interval of at least 2.0 s; ``skip`` marks intervals (index of the closing beat) to ignore.

    With ``qrs_amplitude`` (per beat, relative to its neighbours), faint marks do not split a pause.
    """
    r_peaks = np.asarray(r_peaks)
    beats = np.arange(len(r_peaks))
    if qrs_amplitude is not None:
        beats = beats[np.asarray(qrs_amplitude) >= FAINT]
    peaks = r_peaks[beats]
    rr = np.diff(peaks) / fs
    long = np.flatnonzero(rr >= PAUSE_S)
    events = []
    for i in long:
        if skip is not None and skip[beats[i + 1]]:
            continue
        events.append(Event("pause", int(peaks[i]), int(peaks[i + 1]), 2, round(60.0 / float(rr[i]), 1)))
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
