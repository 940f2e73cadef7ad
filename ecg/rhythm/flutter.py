"""Atrial flutter told apart from fibrillation inside an irregular-rhythm episode.

Both leave no repeating P wave before the QRS, but flutter's atrial activity is one organised
wave (a sawtooth at 240-420 /min, 4-7 Hz), fibrillation's is a broad band. With the QRS-T
complexes removed (each beat minus the median beat of its neighbours, the usual average-beat
subtraction), the spectrum of what is left is measured every ``STEP_S`` over ``SEGMENT_S``: the
share of its 2-12 Hz power within 0.5 Hz of the dominant 3-9 Hz frequency and its second harmonic
is the organisation. On MIT-BIH's flutter (222) it is 0.5-0.8, on fibrillation about 0.3-0.5.
"""

from typing import cast

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal as sps

from .events import Event, episode_rate

BEAT_S = (0.25, 0.45)  # the QRS-T stretch around an R-peak that the average beat replaces
NEIGHBOURS = 15  # beats either side whose median is the average beat
BLOCK = 8
SEGMENT_S = 8.0
STEP_S = 4.0
FLUTTER_HZ = (3.5, 7.0)
ORGANISED = 0.6  # median organisation (over SMOOTH beats) above which the atria flutter
SMOOTH = 31
MIN_FLUTTER_S = 10.0
CHUNK = 1024  # beats per pass, so a 24-hour recording is read a piece at a time


def _organisation(segments: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Per segment (rows): the dominant 3-9 Hz frequency and the share of 2-12 Hz power around it."""
    f, p = sps.welch(segments, fs=fs, nperseg=min(segments.shape[1], int(4 * fs)), axis=-1)
    band = (f >= 2) & (f <= 12)
    search = (f >= 3) & (f <= 9)
    total = p[:, band].sum(axis=1)
    peak = f[search][np.argmax(p[:, search], axis=1)]
    near = band[None, :] & (
        (np.abs(f[None, :] - peak[:, None]) <= 0.5) | (np.abs(f[None, :] - 2 * peak[:, None]) <= 0.5)
    )
    share = np.divide((p * near).sum(axis=1), total, out=np.zeros(len(p)), where=total > 0)
    return peak, share


def atrial_organisation(values: np.ndarray, fs: float, r_peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per beat: the dominant atrial frequency (Hz) and the organisation of the segment around it."""
    peaks = np.asarray(r_peaks, np.int64)
    n = len(peaks)
    freq, org = np.zeros(n), np.zeros(n)
    before, after = int(BEAT_S[0] * fs), int(BEAT_S[1] * fs)
    sos = sps.butter(2, [1.0, 30.0], btype="bandpass", fs=fs, output="sos")
    k = NEIGHBOURS
    for start in range(0, n, CHUNK):
        first, stop = max(0, start - k), min(n, start + CHUNK + k)
        part = peaks[first:stop]
        a = max(0, int(part[0]) - int(SEGMENT_S * fs))
        b = min(len(values), int(part[-1]) + int(SEGMENT_S * fs))
        x = np.nan_to_num(np.asarray(values[a:b], float))
        if len(x) <= 30:
            continue
        x = sps.sosfiltfilt(sos, x - np.median(x))
        idx = np.clip((part - a)[:, None] + np.arange(-before, after)[None, :], 0, len(x) - 1)
        w = x[idx]
        padded = np.pad(w, ((k, k), (0, 0)), mode="edge")
        # One average beat per block of BLOCK beats: the median of 31 beats barely moves from beat to beat.
        blocks = np.median(sliding_window_view(padded, 2 * k + 1, axis=0)[::BLOCK], axis=2)
        template = np.repeat(blocks, BLOCK, axis=0)[: len(w)]
        residual = x.copy()
        residual[idx] = w - template  # where two beats' stretches overlap, the later one's stands
        half = int(SEGMENT_S * fs / 2)
        centres = np.arange(half, len(x) - half, int(STEP_S * fs))
        if len(centres) == 0:
            continue
        peak, share = _organisation(sliding_window_view(residual, 2 * half)[centres - half], fs)
        own = slice(start - first, start - first + min(CHUNK, n - start))
        nearest = np.clip(np.searchsorted(centres, part[own] - a), 0, len(centres) - 1)
        freq[start : start + CHUNK] = peak[nearest]
        org[start : start + CHUNK] = share[nearest]
    if n:
        half = SMOOTH // 2
        org = np.median(sliding_window_view(np.pad(org, half, mode="edge"), SMOOTH), axis=1)
        freq = np.median(sliding_window_view(np.pad(freq, half, mode="edge"), SMOOTH), axis=1)
    return cast(np.ndarray, freq), cast(np.ndarray, org)


def split_flutter(
    events: list[Event],
    r_peaks: np.ndarray,
    fs: float,
    freq: np.ndarray,
    org: np.ndarray,
    gaps: np.ndarray | None = None,
) -> list[Event]:
    """AF episodes with their organised stretches (at least ``MIN_FLUTTER_S``) typed ``afl``; each
    piece's rate over its own R-R intervals, none of the ``gaps`` (noise an episode goes on through)."""
    flutter = (org >= ORGANISED) & (freq >= FLUTTER_HZ[0]) & (freq <= FLUTTER_HZ[1])
    out: list[Event] = []
    for e in events:
        first = int(np.searchsorted(r_peaks, e.start))
        last = int(np.searchsorted(r_peaks, e.end, side="right")) - 1
        marks = flutter[first : last + 1]
        edges = np.diff(np.concatenate([[0], marks.astype(np.int8), [0]]))
        runs = [
            (first + int(a), first + int(b))
            for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1)
            if (r_peaks[first + b] - r_peaks[first + a]) / fs >= MIN_FLUTTER_S
        ]
        cursor = first
        pieces: list[tuple[str, int, int]] = []
        for a, b in runs:
            if a > cursor:
                pieces.append(("af", cursor, a - 1))
            pieces.append(("afl", a, b))
            cursor = b + 1
        if cursor <= last:
            pieces.append(("af", cursor, last))
        # A stretch of fibrillation too short to stand alone between flutter joins it.
        if len(pieces) > 1:
            pieces = [
                ("afl" if (r_peaks[b] - r_peaks[a]) / fs < MIN_FLUTTER_S else kind, a, b) for kind, a, b in pieces
            ]
        joined: list[tuple[str, int, int]] = []
        for kind, a, b in pieces:
            if joined and joined[-1][0] == kind:
                a = joined.pop()[1]
            joined.append((kind, a, b))
        for kind, a, b in joined:
            out.append(Event(kind, int(r_peaks[a]), int(r_peaks[b]), b - a + 1, episode_rate(r_peaks, a, b, fs, gaps)))
    return out
