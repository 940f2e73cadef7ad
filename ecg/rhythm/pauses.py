"""Pauses, bradycardia and tachycardia episodes from beat times.

A pause is measured between beats the ventricles made. An R-peak detector working on a long gap
sometimes marks a P wave, a T wave or a ripple of noise inside it; such a mark has a fraction of the
amplitude of the QRS complexes around it (0.03-0.2 of it on MIT-BIH 232 and 208, where it hid five
annotated pauses). With ``qrs_amplitude`` at hand, marks under ``FAINT`` of their neighbours' QRS
amplitude do not end a pause. With each beat's QRS correlation with the record's dominant beat
(``qrs_correlation``, from the record-level inputs) and the beats' classes as well, neither do marks
under ``FAINT_UNLIKE`` of it whose QRS is unlike the dominant beat's (under ``UNLIKE_CORRELATION``),
that are not called V and stand alone (the beats either side are not such marks): MIT-BIH 232's last
missed pause held a mark at 0.39 of the amplitude correlating 0.49, while the small real beats keep
the dominant beat's shape (0.65-0.96 outside noise), are ventricular, or come in runs (the
spontaneous beats of the paced 104 and 217). Where the second lead shows a mark as a QRS complex like
its own dominant beat's (``second_lead_qrs``, from the record-level inputs), the mark is a beat whatever
the analysed lead shows: that lead saturates at times (MIT-BIH 208 at 23 minutes, where three beats at
0.03-0.23 of the amplitude made a 4.8-s asystole).
"""

from typing import cast

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .events import Event, episode_rate
from .heart_rate import EXTREME_BEATS, rolling_rate

PAUSE_S = 2.0
BRADY_BPM = 50.0
TACHY_BPM = 100.0
SUSTAINED_S = 30.0  # a brady / tachy episode lasts at least this long
QRS_HALF_S = 0.05  # half the stretch around an R-peak whose peak-to-peak is its QRS amplitude
NEIGHBOURS = 16  # beats either side whose median amplitude a beat is compared with
FAINT = 0.25  # a mark under this share of its neighbours' QRS amplitude is no beat (for pauses)
FAINT_UNLIKE = 0.40  # ... nor is one under this share unlike the dominant beat (not called V) ...
UNLIKE_CORRELATION = 0.6  # ... its QRS correlating under this with the dominant beat's


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
    qrs_correlation: np.ndarray | None = None,
    classes: np.ndarray | None = None,
    second_lead_qrs: np.ndarray | None = None,
) -> list[Event]:
    """Every R-R interval of at least 2.0 s; ``skip`` marks intervals (index of the closing beat) to ignore.

    With ``qrs_amplitude`` (per beat, relative to its neighbours), faint marks do not split a pause; with
    ``qrs_correlation`` (with the dominant beat) and ``classes`` (AAMI letters) as well, nor do lone small
    marks unlike the dominant beat that are not called V; with ``second_lead_qrs``, no mark the second
    lead shows as a QRS complex is dropped.
    """
    r_peaks = np.asarray(r_peaks)
    beats = np.arange(len(r_peaks))
    if qrs_amplitude is not None:
        amplitude = np.asarray(qrs_amplitude)
        mark = amplitude < FAINT
        if qrs_correlation is not None and classes is not None:
            ventricular = np.asarray([str(c)[:1].upper() == "V" for c in classes], bool)
            unlike = (amplitude < FAINT_UNLIKE) & (np.asarray(qrs_correlation) < UNLIKE_CORRELATION) & ~ventricular
            # alone: a run of small beats unlike the dominant one is a rhythm of its own (a paced record's
            # spontaneous beats, noise), not a mark inside a pause
            mark |= unlike & ~np.r_[False, unlike[:-1]] & ~np.r_[unlike[1:], False]
        if second_lead_qrs is not None:
            mark &= ~np.asarray(second_lead_qrs, bool)
        beats = beats[~mark]
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


def rate_episodes(
    r_peaks: np.ndarray, fs: float, *, excluded: np.ndarray | None = None, gaps: np.ndarray | None = None
) -> list[Event]:
    """Sustained bradycardia (< 50 bpm) and tachycardia (> 100 bpm) over the 8-beat rate (no window
    holding one of the ``gaps``, intervals that are no R-R interval of a rhythm, e.g. across VF)."""
    rate = rolling_rate(r_peaks, fs, gaps=gaps)
    # per beat: the last excluded beat at or before it (-1: none), so no episode reaches back into one
    last_excluded = np.full(len(r_peaks), -1)
    if excluded is not None and np.any(excluded):
        last_excluded = np.maximum.accumulate(np.where(np.asarray(excluded, bool), np.arange(len(r_peaks)), -1))
    stretches = []
    for name, mask in (("brady", rate < BRADY_BPM), ("tachy", rate > TACHY_BPM)):
        if excluded is not None:
            mask &= ~excluded
        stretches += [(int(first), int(last), name) for first, last in _stretches(mask)]
    events: list[Event] = []
    previous, previous_start = -1, -1  # the first and last beats of the episode before, of either kind
    for first, last, name in sorted(stretches):
        # the first flagged beat's rate spans the 8 intervals before it, but not an excluded beat's (AF, a
        # run) nor the episode before's (MIT-BIH 233: two tachycardias 8 beats apart overlapped)
        start = max(0, first - EXTREME_BEATS, int(last_excluded[first]) + 1, previous + 1)
        if (r_peaks[last] - r_peaks[start]) / fs < SUSTAINED_S:
            continue
        # A dip no whole 8-beat window holds does not end an episode: where this one's first window reaches back
        # into the episode before of its kind, with no excluded beat between, it goes on (MIT-BIH 233 at 1:26:
        # one beat's 8-beat rate at 98.9 /min made two tachycardias one R-R interval apart)
        if events and events[-1].type == name and first - EXTREME_BEATS <= previous and start == previous + 1:
            bpm = episode_rate(r_peaks, previous_start, last, fs)
            if bpm is not None and (bpm > TACHY_BPM if name == "tachy" else bpm < BRADY_BPM):
                events[-1] = Event(
                    name, int(r_peaks[previous_start]), int(r_peaks[last]), last - previous_start + 1, bpm
                )
                previous = last
                continue
        bpm = episode_rate(r_peaks, start, last, fs)
        events.append(Event(name, int(r_peaks[start]), int(r_peaks[last]), last - start + 1, bpm))
        previous, previous_start = last, start
    return events
