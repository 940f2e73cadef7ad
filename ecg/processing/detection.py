"""R-peak detection on one ECG lead, or on several leads of a record, any sampling rate >= 100 Hz.

Method (rules tuned on MIT-BIH and svdb; see bench/README.md):
1. Candidates from the 5-20 Hz zero-phase band-passed signal's smoothed
   absolute slope (``env``, 100 ms): regions where it exceeds 1.5x its 0.75 s
   moving average (the NeuroKit2 rule, one candidate per region), plus slope
   peaks outside those regions above 1.2x the average ("extra": beats the
   1.5x rule misses in fast rhythms such as VT).
2. Local level: a candidate under 20 % of the 80th percentile of candidate
   energies within +-4 s is not a beat (extra candidates: under 40 %).  A
   relative level copes with amplitude changes and large ectopic beats better
   than a running signal/noise estimate.
3. Noise/flutter gate: a candidate under 2x the median slope within +-2 s
   (extra: 3x) stands out from no quiet baseline - noise, or ventricular
   flutter waves, which are not beats - and is dropped.
4. Conflicts: within 250 ms (no MIT-BIH RR is shorter) the stronger wins;
   within 360 ms the one with under half the other's slope is a T (or P)
   wave.
5. Search-back: an RR interval over 1.6x the median of the previous eight gets
   the strongest remaining candidate in it (>= 12 % of the level, gate passed).
6. Unreadable segments: beats whose neighbours within +-5 s have a median
   gate ratio under 3 are dropped (white noise: ~2.2; MIT-BIH beats: ~7+),
   unless those beats look alike: median correlation of each beat's 1-40 Hz
   shape (+-100 ms) with one of its two neighbours on either side >= 0.8, over
   at least 10 beats (white noise: <= 0.77).  Fast rhythms with tall T waves
   (svdb SVT at ~150 bpm) leave no quiet baseline, so their QRS stand only
   ~2.5x above the median slope, yet they are regular beats of one shape.
7. The R peak is the extremum of the band-passed signal in the candidate
   window (on MIT-BIH the annotated sample itself for ~76 % of beats; the raw
   or 1-40 Hz extremum is exact less often), moved to the largest 1-40 Hz
   deflection within 100 ms when that is over twice as large (wide PVCs,
   paced beats: halves the 95th-percentile offset).

Several leads (``detect_r_peaks_multilead``): the first lead's beats, plus a
later lead's beats in the gaps the first leaves where that lead stands out
better from its background (see the function).
"""

from __future__ import annotations

from typing import cast

import numpy as np
from scipy import ndimage
from scipy import signal as sps

from ecg.io.errors import SignalError

MIN_FS = 100.0
BAND_HZ = (5.0, 20.0)  # QRS band: candidates, slopes, R position
WIDE_HZ = (1.0, 40.0)  # whole-QRS band: dominant-deflection check
# Candidate acceptance (see the module docstring for the rationale).
LEVEL_WINDOW_S = 4.0
LEVEL_QUANTILE = 0.8
ACCEPT_RATIO = 0.20
BACKGROUND_WINDOW_S = 2.0
MIN_SNR = 2.0
EXTRA_FACTOR = 1.2  # slope peaks outside the 1.5x regions...
EXTRA_RATIO = 0.4  # ...need stronger evidence
EXTRA_SNR = 3.0
# Conflicts and search-back.
REFRACTORY_S = 0.25
T_WAVE_S = 0.36
T_WAVE_SLOPE = 0.5
SEARCHBACK_RR = 1.6
SEARCHBACK_RATIO = 0.12
# Unreadable segments, placement, long recordings.
SEGMENT_S = 5.0
MIN_SEGMENT_SNR = 3.0
SIMILARITY_S = 0.1
MIN_SEGMENT_SIMILARITY = 0.8
MIN_ALIKE_BEATS = 10
DOMINANT_S = 0.10
DOMINANT_FRACTION = 0.5
CHUNK_S = 1800.0
FILL_RR = 1.5
FILL_WINDOW_RR = 1.5
MARGIN_S = 15.0


def _boxcar(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average (same length as x), O(n) via a cumulative sum."""
    width = max(int(width), 1)
    padded = np.concatenate([np.zeros(width // 2 + 1), x, np.zeros(width)])
    csum = np.cumsum(padded)
    return cast(np.ndarray, (csum[width : width + len(x)] - csum[: len(x)]) / width)


def _regions(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = np.flatnonzero(np.diff(mask.astype(np.int8))) + 1
    if mask[0]:
        edges = np.r_[0, edges]
    if mask[-1]:
        edges = np.r_[edges, len(mask)]
    return edges[0::2], edges[1::2]


def _candidate_windows(env: np.ndarray, avg: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, ends, extra): regions above 1.5x the moving average, plus windows
    round slope peaks outside them (``extra``), in time order."""
    starts, ends = _regions(env > 1.5 * avg)
    if len(starts):
        widths = ends - starts
        keep = widths >= 0.4 * widths.mean()
        starts, ends = starts[keep], ends[keep]
    top, _ = sps.find_peaks(env, distance=max(int(REFRACTORY_S * fs), 1))
    top = top[env[top] > EXTRA_FACTOR * avg[top]]
    coverage = np.zeros(len(env) + 1, np.int64)
    np.add.at(coverage, starts, 1)
    np.add.at(coverage, ends, -1)
    top = top[np.cumsum(coverage)[top] == 0]
    half = int(round(0.06 * fs))
    all_starts = np.r_[starts, np.maximum(top - half, 0)]
    all_ends = np.r_[ends, np.minimum(top + half + 1, len(env))]
    extra = np.r_[np.zeros(len(starts), bool), np.ones(len(top), bool)]
    order = np.argsort(all_starts, kind="stable")
    return all_starts[order], all_ends[order], extra[order]


class _Candidates:
    """QRS candidates and their features, in time order."""

    def __init__(self, band: np.ndarray, fs: float) -> None:
        grad = np.abs(np.gradient(band))
        env = _boxcar(grad, round(0.1 * fs))
        avg = _boxcar(grad, round(0.75 * fs))
        starts, ends, self.extra = _candidate_windows(env, avg, fs)
        n = len(starts)
        self.peak = np.empty(n, np.int64)
        self.slope = np.empty(n)
        self.energy = np.empty(n)
        for i, (s, e) in enumerate(zip(starts, ends)):
            seg = np.abs(band[s:e])
            j = int(np.argmax(seg))
            self.peak[i] = s + j
            self.slope[i] = grad[s:e].max()
            self.energy[i] = env[s:e].max()
        self.ratio = self.energy / self._level(fs) if n else np.zeros(0)
        self.snr = self.energy / self._background(env, fs) if n else np.zeros(0)

    def _background(self, env: np.ndarray, fs: float) -> np.ndarray:
        step = max(int(fs / 90), 1)  # the median needs no more than ~90 samples/s
        coarse = env[::step]
        half = int(BACKGROUND_WINDOW_S * fs / step)
        centre = self.peak // step
        return np.array([_quantile(coarse[max(c - half, 0) : c + half], 0.5) for c in centre]) + 1e-12

    def _level(self, fs: float) -> np.ndarray:
        half = LEVEL_WINDOW_S * fs
        lo = np.searchsorted(self.peak, self.peak - half)
        hi = np.searchsorted(self.peak, self.peak + half)
        return np.array([_quantile(self.energy[a:b], LEVEL_QUANTILE) for a, b in zip(lo, hi)])


def _quantile(values: np.ndarray, q: float) -> float:
    """Nearest-rank quantile; np.percentile's per-call overhead dominated run time."""
    k = int(round(q * (len(values) - 1)))
    return float(np.partition(values, k)[k])


def _resolve_conflicts(c: _Candidates, beats: list[int], fs: float) -> list[int]:
    refractory, t_wave = REFRACTORY_S * fs, T_WAVE_S * fs
    kept: list[int] = []
    for i in beats:
        if kept and c.peak[i] - c.peak[kept[-1]] < refractory:
            if c.energy[i] > c.energy[kept[-1]]:
                kept[-1] = i
            continue
        kept.append(i)
    # T/P-wave check, one pass: a weak neighbour within t_wave gives way.
    result: list[int] = []
    for i in kept:
        while result and c.peak[i] - c.peak[result[-1]] < t_wave and c.slope[result[-1]] < T_WAVE_SLOPE * c.slope[i]:
            result.pop()
        if result and c.peak[i] - c.peak[result[-1]] < t_wave and c.slope[i] < T_WAVE_SLOPE * c.slope[result[-1]]:
            continue
        result.append(i)
    return result


def _search_back(c: _Candidates, beats: list[int], fs: float) -> list[int]:
    if len(beats) < 2:
        return beats
    beats_arr = np.asarray(beats)
    rr = np.diff(c.peak[beats_arr])
    added = []
    for k in range(1, len(beats_arr)):
        a, b = beats_arr[k - 1], beats_arr[k]
        gap = rr[k - 1]
        median_rr = float(np.median(rr[max(0, k - 9) : k - 1])) if k > 1 else float(gap)
        if gap <= SEARCHBACK_RR * median_rr:
            continue
        margin = 0.36 * median_rr
        inside = np.arange(a + 1, b)
        ok = inside[
            (c.peak[inside] - c.peak[a] >= margin)
            & (c.peak[b] - c.peak[inside] >= margin)
            & (c.ratio[inside] >= SEARCHBACK_RATIO)
            & (c.snr[inside] >= MIN_SNR)
        ]
        if len(ok):
            added.append(int(ok[np.argmax(c.energy[ok])]))
    return sorted(beats + added)


def _on_dominant_deflection(peaks: np.ndarray, wide: np.ndarray, fs: float) -> np.ndarray:
    """Move a peak to the largest deflection of the 1-40 Hz signal within +-100 ms
    when that is over twice as large: the band-passed extremum of a wide PVC or a
    paced beat is often the steep lobe beside the one annotated."""
    half = int(round(DOMINANT_S * fs))
    out = peaks.copy()
    for k, p in enumerate(peaks):
        a, b = max(p - half, 0), min(p + half + 1, len(wide))
        window = np.abs(wide[a:b])
        j = int(np.argmax(window))
        if abs(wide[p]) < DOMINANT_FRACTION * window[j]:
            out[k] = a + j
    return out


def _similarity(wide: np.ndarray, peaks: np.ndarray, fs: float) -> np.ndarray:
    """Per beat, the larger correlation of its 1-40 Hz shape (+-SIMILARITY_S) with either of the two
    beats before it or after it."""
    half = round(SIMILARITY_S * fs)
    idx = np.clip(peaks[:, None] + np.arange(-half, half + 1)[None, :], 0, len(wide) - 1)
    shapes = wide[idx]
    shapes -= shapes.mean(axis=1, keepdims=True)
    shapes /= np.linalg.norm(shapes, axis=1, keepdims=True) + 1e-12
    best = np.full(len(peaks), -1.0)
    for lag in (1, 2):
        r = np.einsum("ij,ij->i", shapes[lag:], shapes[:-lag])
        best[lag:] = np.maximum(best[lag:], r)
        best[:-lag] = np.maximum(best[:-lag], r)
    return best


def _drop_unreadable(c: _Candidates, beats: np.ndarray, wide: np.ndarray, fs: float) -> np.ndarray:
    """Drop beats where those around them (+-SEGMENT_S) barely stand out from the background
    and do not look alike either."""
    if len(beats) == 0:
        return beats
    peaks, snr = c.peak[beats], c.snr[beats]
    lo = np.searchsorted(peaks, peaks - SEGMENT_S * fs)
    hi = np.searchsorted(peaks, peaks + SEGMENT_S * fs)
    local = np.array([_quantile(snr[a:b], 0.5) for a, b in zip(lo, hi)])
    similarity = _similarity(wide, peaks, fs) if len(peaks) > 2 else np.zeros(len(peaks))
    alike = np.array([_quantile(similarity[a:b], 0.5) for a, b in zip(lo, hi)])
    alike[hi - lo < MIN_ALIKE_BEATS] = 0.0
    return beats[(local >= MIN_SEGMENT_SNR) | (alike >= MIN_SEGMENT_SIMILARITY)]


def detect_r_peaks(signal: np.ndarray, fs: float) -> np.ndarray:
    """Sample indices (int64, sorted, unique) of the R peaks in ``signal`` sampled at ``fs`` Hz.

    Long recordings are processed in CHUNK_S pieces overlapping by MARGIN_S (more
    than any window the rules look at), which bounds memory for 24 h Holters.
    """
    return _detect_lead(signal, fs)[0]


def detect_r_peaks_multilead(leads: np.ndarray, fs: float, each: list[np.ndarray] | None = None) -> np.ndarray:
    """R peaks of one recording from several leads (n_leads x n_samples), first lead preferred.

    Each lead is detected on its own. A later lead's beat is added where the beats found so far
    leave a gap longer than FILL_RR times that lead's local RR, with no beat within half an RR,
    and where that lead stands out from its background better than the leads before it within
    FILL_WINDOW_RR local RRs (noise, a loose electrode or a tiny QRS in the first lead; not a
    real pause that the first lead shows clearly). ``each``, when given, receives every lead's own
    R peaks in lead order (what ``detect_r_peaks`` finds on it alone).
    """
    x = np.asarray(leads)  # no float64 copy of every lead at once: each is converted in turn
    if x.ndim != 2 or x.shape[0] == 0:
        raise SignalError(f"expected leads as a 2-D array (n_leads, n_samples), got shape {x.shape}")
    peaks, tested, snr = _detect_lead(x[0], fs)
    if each is not None:
        each.append(peaks)
    readable = [(tested, snr)]
    for lead in x[1:]:
        other, tested, snr = _detect_lead(lead, fs)
        if each is not None:
            each.append(other)
        if len(other) < 2:
            continue
        local_rr = ndimage.median_filter(np.diff(other, append=2 * other[-1] - other[-2]), size=9, mode="nearest")
        half = FILL_WINDOW_RR * local_rr
        before = np.max([_readability(t, s, other, half) for t, s in readable], axis=0)
        peaks = _fill_gaps(peaks, other, local_rr, _readability(tested, snr, other, half) > before)
        readable.append((tested, snr))
    return peaks


def _readability(tested: np.ndarray, snr: np.ndarray, at: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Median SNR of a lead's tested beats within +-half of each time in ``at`` (0: none there)."""
    lo = np.searchsorted(tested, at - half)
    hi = np.searchsorted(tested, at + half, side="right")
    return np.array([_quantile(snr[a:b], 0.5) if b > a else 0.0 for a, b in zip(lo, hi)])


def _fill_gaps(peaks: np.ndarray, other: np.ndarray, local_rr: np.ndarray, better: np.ndarray) -> np.ndarray:
    after = np.searchsorted(peaks, other)
    padded = np.r_[-np.inf, peaks, np.inf]
    before_peak, after_peak = padded[after], padded[after + 1]
    nearest = np.minimum(other - before_peak, after_peak - other)
    add = better & (after_peak - before_peak > FILL_RR * local_rr) & (nearest >= 0.5 * local_rr)
    return np.unique(np.r_[peaks, other[add]]).astype(np.int64)


def _detect_lead(signal: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(R peaks, tested beats, their SNR) of one lead; tested beats are those before the
    unreadable-segment rule."""
    x = np.asarray(signal, dtype=np.float64)
    if x.ndim != 1:
        raise SignalError(f"expected one lead (1-D array), got shape {x.shape}")
    if not np.isfinite(fs) or fs < MIN_FS:
        raise SignalError(f"sampling rate {fs:g} Hz is below the minimum of {MIN_FS:g} Hz")
    chunk, margin = int(CHUNK_S * fs), int(MARGIN_S * fs)
    if len(x) <= chunk + 2 * margin:
        return _detect(x, fs)
    pieces: list[list[np.ndarray]] = [[], [], []]
    for start in range(0, len(x), chunk):
        a, b = max(start - margin, 0), min(start + chunk + margin, len(x))
        peaks, tested, snr = _detect(x[a:b], fs)
        peaks, tested = peaks + a, tested + a
        inside = (tested >= start) & (tested < start + chunk)
        pieces[0].append(peaks[(peaks >= start) & (peaks < start + chunk)])
        pieces[1].append(tested[inside])
        pieces[2].append(snr[inside])
    peaks, tested, snr = (np.concatenate(p) for p in pieces)
    keep = np.ones(len(peaks), dtype=bool)  # (no beat at all in a long recording is an answer too)
    keep[1:] = np.diff(peaks) >= REFRACTORY_S * fs  # a beat on a chunk boundary
    return peaks[keep], tested, snr


def _detect(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    nothing = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
    if len(x) < int(fs):
        return nothing
    x = np.nan_to_num(x - np.nanmedian(x))
    band = sps.sosfiltfilt(sps.butter(3, BAND_HZ, btype="bandpass", fs=fs, output="sos"), x)
    spread = np.percentile(x, 99) - np.percentile(x, 1)
    if spread == 0 or np.ptp(band) < 0.02 * spread:
        return nothing  # no QRS-band content: baseline only
    c = _Candidates(band, fs)
    strong = (c.ratio >= ACCEPT_RATIO) & (c.snr >= MIN_SNR)
    strong &= ~c.extra | ((c.ratio >= EXTRA_RATIO) & (c.snr >= EXTRA_SNR))
    beats = [int(i) for i in np.flatnonzero(strong)]
    beats = _search_back(c, _resolve_conflicts(c, beats, fs), fs)
    tested = np.asarray(beats, dtype=np.int64)
    wide = sps.sosfiltfilt(sps.butter(2, WIDE_HZ, btype="bandpass", fs=fs, output="sos"), x)
    kept = _drop_unreadable(c, tested, wide, fs)
    order = np.argsort(c.peak[tested], kind="stable")
    return (
        np.unique(_on_dominant_deflection(c.peak[kept], wide, fs).astype(np.int64)),
        c.peak[tested][order],
        c.snr[tested][order],
    )


# Edge beats of a short (resting) recording: kept when their QRS is complete and as steep as the
# record's other QRS complexes in most leads.
QRS_BEFORE_S = 0.08  # R peak to the edge: a cut QRS's tail is found up to ~75 ms in (PTB, 10-s windows)
QRS_AFTER_S = 0.08
EDGE_SLOPE_RATIO = 0.4
EDGE_SPAN_S = 12.0


def keep_complete_edge_beats(leads: np.ndarray, fs: float, r_peaks: np.ndarray) -> np.ndarray:
    """``r_peaks`` without a first or last beat whose QRS runs past the signal's edge, or whose
    steepest QRS-band slope (within the QRS) is under EDGE_SLOPE_RATIO of the median of the other
    beats near that edge, in the median lead (``leads``: n_leads x n_samples).

    At a recording's ends detectors take a P or T wave beside a cut QRS for a beat; on a 10-s
    resting ECG one such beat moves the heart rate by several bpm. An ectopic beat is as steep as a
    normal one and stays. Only the first and last EDGE_SPAN_S of each lead are filtered, so a
    24-hour recording costs no more than a resting one.
    """
    x = np.atleast_2d(np.asarray(leads, dtype=np.float64))
    peaks = np.asarray(r_peaks, dtype=np.int64)
    n = x.shape[1]
    before, after = int(round(QRS_BEFORE_S * fs)), int(round(QRS_AFTER_S * fs))
    peaks = peaks[(peaks - before >= 0) & (peaks + after < n)]
    if len(peaks) < 4:
        return cast(np.ndarray, peaks)
    span = min(n, int(EDGE_SPAN_S * fs))
    sos = sps.butter(3, BAND_HZ, btype="bandpass", fs=fs, output="sos")
    keep = np.ones(len(peaks), bool)
    for first, offset in ((True, 0), (False, n - span)):
        piece = x[:, offset : offset + span]
        slope = np.abs(
            np.gradient(sps.sosfiltfilt(sos, piece - np.median(piece, axis=1, keepdims=True), axis=1), axis=1)
        )
        inside = peaks[(peaks >= offset) & (peaks < offset + span)] - offset
        if len(inside) < 4:
            continue
        steepest = np.stack([slope[:, max(p - before, 0) : p + after + 1].max(axis=1) for p in inside], axis=1)
        edge, others = (steepest[:, 0], steepest[:, 1:]) if first else (steepest[:, -1], steepest[:, :-1])
        if float(np.median(edge / (np.median(others, axis=1) + 1e-12))) < EDGE_SLOPE_RATIO:
            keep[0 if first else len(peaks) - 1] = False
    return cast(np.ndarray, peaks[keep])
