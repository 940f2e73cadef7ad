"""Atrial fibrillation episodes from R-R irregularity (after Dash et al. 2009: rMSSD, Shannon entropy,
turning points) and the absence of a repeating P wave.

Intervals touching a ventricular, fusion or unclassifiable beat are left out, so ventricular ectopy
does not read as irregularity; the features run over a sliding window of the intervals that remain.
Irregular R-R intervals alone also fire on sinus rhythm with frequent atrial ectopy, sinus arrhythmia
or ventricular trigeminy. When the signal is at hand, each beat's P-wave stretch (0.30-0.08 s before
the R-peak) is compared with the median stretch of its neighbours: in sinus rhythm the P wave repeats
at a fixed PR interval (correlation near 1), in atrial fibrillation the fibrillatory waves do not
(around 0.2-0.3 on MIT-BIH). A stretch is AF only where both say so.
"""

from typing import cast

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal as sps

from .ectopy import segments
from .events import Event, episode_rate

WINDOW = 32  # intervals per window
TRIM = 4  # the largest and smallest intervals of a window left out (ectopy the classes missed)
BINS = 16
NRMSSD_MIN = 0.1
ENTROPY_MIN = 0.5
TPR_RANGE = (0.45, 0.85)
SMOOTH = 31  # intervals of majority vote
MERGE_GAP_S = 10.0
MIN_EPISODE_S = 20.0
P_BEFORE_S = (0.30, 0.08)  # the P-wave stretch before the R-peak
P_NEIGHBOURS = 16  # beats either side whose median stretch a beat's P wave is compared with
P_SMOOTH = 31  # beats over which the per-beat correlation is summarised (median)
P_REPEATS = 0.8  # median correlation above which P waves repeat: not AF
P_CHUNK = 1024  # beats per pass, so a 24-hour recording is read a piece at a time


def _p_stretches(values: np.ndarray, fs: float, peaks: np.ndarray) -> np.ndarray:
    """The band-passed P-wave stretch before each of ``peaks`` (rows, mean removed)."""
    lo, hi = int(round(P_BEFORE_S[0] * fs)), int(round(P_BEFORE_S[1] * fs))
    pad = int(2 * fs)
    a = max(0, int(peaks[0]) - lo - pad)
    b = min(len(values), int(peaks[-1]) + pad)
    x = np.nan_to_num(np.asarray(values[a:b], float))
    sos = sps.butter(2, [0.5, 30.0], btype="bandpass", fs=fs, output="sos")
    if len(x) > 30:
        x = sps.sosfiltfilt(sos, x - np.median(x))
    idx = (peaks - a)[:, None] + np.arange(-lo, -hi)[None, :]
    w = x[np.clip(idx, 0, len(x) - 1)]
    return cast(np.ndarray, w - w.mean(axis=1, keepdims=True))


def p_wave_repetition(values: np.ndarray, fs: float, r_peaks: np.ndarray) -> np.ndarray:
    """Per beat: the median, over ``P_SMOOTH`` beats, of how well each beat's P-wave stretch
    correlates with the median stretch of its ``P_NEIGHBOURS`` neighbours either side.

    High (about 0.9) in sinus rhythm, low (about 0.2-0.3) in atrial fibrillation. Memory is bounded
    by reading ``P_CHUNK`` beats at a time.
    """
    peaks = np.asarray(r_peaks, np.int64)
    n = len(peaks)
    corr = np.zeros(n)
    k = P_NEIGHBOURS
    for start in range(0, n, P_CHUNK):
        first, stop = max(0, start - k), min(n, start + P_CHUNK + k)
        w = _p_stretches(values, fs, peaks[first:stop])
        padded = np.pad(w, ((k, k), (0, 0)), mode="edge")
        template = np.median(sliding_window_view(padded, 2 * k + 1, axis=0), axis=2)
        num = (w * template).sum(axis=1)
        den = np.sqrt((w * w).sum(axis=1) * (template * template).sum(axis=1))
        c = np.divide(num, den, out=np.zeros(len(w)), where=den > 1e-12)
        take = slice(start - first, start - first + min(P_CHUNK, n - start))
        corr[start : start + P_CHUNK] = c[take]
    half = P_SMOOTH // 2
    if n == 0:
        return corr
    return cast(np.ndarray, np.median(sliding_window_view(np.pad(corr, half, mode="edge"), P_SMOOTH), axis=1))


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


def burden_measurable(readable_s: float, beats: int) -> bool:
    """Whether a rhythm holds the readable time and beats an AF episode is called over at the least (MIN_EPISODE_S of
    readable time, a window of WINDOW intervals): where not (a strip in VF/VFL, a 10-s ECG), no AF could have been
    found, and its burden is not measured rather than 0 %."""
    return readable_s >= MIN_EPISODE_S and beats >= WINDOW + 2


def af_mask(
    r_peaks: np.ndarray, classes: np.ndarray, fs: float, *, p_repetition: np.ndarray | None = None
) -> np.ndarray:
    """Per beat: True where the rhythm reads as atrial fibrillation.

    ``p_repetition`` (``p_wave_repetition`` of the analysed lead) vetoes beats whose P waves repeat.
    """
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
    mask = cast(np.ndarray, state[filled])
    if p_repetition is not None:
        mask &= np.asarray(p_repetition) < P_REPEATS
    return mask


def af_events(
    r_peaks: np.ndarray,
    classes: np.ndarray,
    fs: float,
    *,
    p_repetition: np.ndarray | None = None,
    gaps: np.ndarray | None = None,
    bridges: np.ndarray | None = None,
) -> tuple[list[Event], np.ndarray]:
    """AF episodes (merged across short gaps, at least 20 s long) and the per-beat mask they cover.

    No episode reaches across one of the ``gaps`` (per interval between beats k and k + 1: it spans a
    VF/VFL episode or a stretch without signal): what the rhythm was there is not AF's to say. Those
    of them that are ``bridges`` (stretches too noisy to read or without signal, not VF) an episode
    reaches across where AF holds on both sides (each an episode on its own) within ``MERGE_GAP_S`` of
    readable time: AF that goes on through a noisy stretch is one episode (MIT-BIH 203 read as eight
    pieces more), though the noisy time is none of it (``MIN_EPISODE_S`` and the rate count the
    readable time only)."""
    mask = af_mask(r_peaks, classes, fs, p_repetition=p_repetition)
    intervals = np.diff(np.asarray(r_peaks, np.float64)) / fs
    unread = np.zeros(len(intervals), bool) if gaps is None else np.asarray(gaps, bool)
    bridged = unread & (np.zeros(len(intervals), bool) if bridges is None else np.asarray(bridges, bool))
    readable = np.concatenate([[0.0], np.cumsum(np.where(unread, 0.0, intervals))])  # readable s up to beat k
    blocking = np.concatenate([[0], np.cumsum(unread & ~bridged)])  # gaps no episode reaches across, up to k
    merged: list[list[int]] = []
    for part in segments(len(r_peaks), gaps):
        edges = np.diff(np.concatenate([[0], mask[part].astype(np.int8), [0]]))
        opened = len(merged)  # no stretch joins one before the gap ...
        for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True):
            first, last = part.start + int(a), part.start + int(b)
            if len(merged) > opened and (r_peaks[first] - r_peaks[merged[-1][1]]) / fs <= MERGE_GAP_S:
                merged[-1][1] = last
            else:
                merged.append([first, last])
    # ... but an episode that stands on its own reaches across a bridge to the next one that does: the
    # pieces of irregular rhythm that noise leaves between its stretches (nstdb) stand on their own nowhere
    standing = [m for m in merged if readable[m[1]] - readable[m[0]] >= MIN_EPISODE_S]
    merged = []
    for first, last in standing:
        if (
            merged
            and blocking[first] == blocking[merged[-1][1]]
            and readable[first] - readable[merged[-1][1]] <= MERGE_GAP_S
        ):
            merged[-1][1] = last
        else:
            merged.append([first, last])
    events = []
    covered = np.zeros(len(r_peaks), bool)
    for first, last in merged:
        seconds = readable[last] - readable[first]
        if seconds < MIN_EPISODE_S:
            continue
        rate = episode_rate(r_peaks, first, last, fs, unread)
        events.append(Event("af", int(r_peaks[first]), int(r_peaks[last]), last - first + 1, rate))
        covered[first : last + 1] = True
    return events, covered
