"""Stretches too noisy to read: electrode motion and muscle artefact over the QRS complexes.

Holter analysers leave artefact out of the rhythm analysis, and so does this. Noise the size of a
QRS makes the beat detector mark it as beats and the classifier call distorted beats ventricular:
MIT-BIH 118 with electrode-motion noise at 0 dB (the Noise Stress Test Database) read as 80 VT
episodes, 52 couplets, an AF episode and pauses, where the clean record holds none. What tells noise
from ECG is where the steep slopes are. A readable ECG is steep only at its QRS complexes; P and T
waves, fibrillatory and flutter waves are slow beside them. Noise is steep between the complexes
too. So each second of the analysed lead (at 128 Hz, band-passed 0.5-40 Hz, as the classifier sees
it) is scored by the 95th percentile of its slope outside the QRS complexes (0.1 s either side of
each detected beat) over the median steepest slope of the QRS complexes of the beats around it; the
median of that over five seconds, above ``NOISY``, is noise.

On the 48 MIT-BIH records (``python -m bench.noise_eval``, which gives the figures) this reads
0.03-0.17 in the median second of every record, including atrial fibrillation, flutter and runs of
wide ventricular beats, and the steepest clean stretches (paced beats, 207's idioventricular
rhythm) stay under ``NOISY``. VF/VFL is not judged here: the VF detector reads the waveform first
(``vf.vf_events``), and a noisy stretch never takes time from a VF episode, since a missed VF costs
more than a false one; nor from a regular run of beats called V or S (:func:`regular_runs`), since
wide complexes are steep beyond the QRS window too, and so are a fast SVT's P and T waves. A flat stretch (asystole) has no slope and is no
noise. With a second lead, a stretch whose slope score is above ``NOISY_IF_LEADS_DISAGREE`` is noise
as well where the beats the detector finds on each lead alone disagree (:func:`lead_agreement`):
electrode motion is not the same on two leads, a rhythm is.

A saturating amplifier is the other kind of artefact: the baseline steps by more than the QRS
height within a second (:func:`step_scores`) or the signal holds its highest or lowest value
(:func:`clipped_seconds`), and the beats of the seconds after it, while the amplifier recovers, are
squashed to a fraction of their height, which the pause rule reads as marks inside a pause. The step
and the seconds after it until the beats regain half their height (at least ``RECOVERY_S``, at most
``RECOVERY_MAX_S``) are noise too. With a second lead the pause rule asks it whether the
squashed marks are beats (``pauses.pause_events``); with one lead only this stage can tell.

Memory: the signal is read a piece at a time (``CHUNK_S`` with ``MARGIN_S`` either side for the
filter), so a 24-hour recording costs a few numbers per second; the two leads' beats are those the
detector already found on each (no second detection).
"""

from typing import cast

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import median_filter

from ecg.processing.context import CONTEXT_FS, clean, resample

FS = CONTEXT_FS  # the classifier's rate and band (``context.resample``, ``context.clean``)
QRS_HALF_S = 0.1  # the QRS complex: this much either side of a detected beat
REFERENCE_BEATS = 61  # the QRS steepness of a second: the median over this many beats around it
MAX_REFERENCE_GAP_S = 30.0  # a second farther than this from any beat is not judged (no reference)
MIN_OUTSIDE = 16  # samples outside QRS complexes a second needs to be judged (not at 200 /min and more)
PERCENTILE = 95
MEDIAN_SECONDS = 5
NOISY = 0.4
# With a second lead: a stretch above this whose two leads' beat detectors disagree is noise too
# (noise on the electrodes is not the same on both leads; a ventricular run is on both).
NOISY_IF_LEADS_DISAGREE = 0.25
AGREEMENT_S = 10  # the two leads' detections compared over this many seconds around each second ...
AGREEMENT_TOLERANCE_S = 0.15  # ... a beat of one matched by one of the other this close ...
LEADS_AGREE = 0.8  # ... and 2 x matched / (beats of both) under this is disagreement
JOIN_S = 5  # noisy stretches closer than this are one: the few beats between them read no rhythm
# A run of ectopic beats this regular is a tachycardia, not noise: wide ventricular complexes are steep
# beyond the QRS window and a second lead's detector may miss them (MIT-BIH 203 and 205 read 0.27-0.40),
# and in a fast SVT the P and T waves are steep beside the QRS (svdb 865's reads 0.4-0.66 for minutes).
RUN_MIN_BEATS = 3
RUN_MAX_RR_CV = 0.2
MIN_LEFT_S = 3  # what is left of a noisy stretch between such runs, if shorter, is the run's own ripple
# A step of the baseline larger than the QRS complexes within a second is the amplifier saturating
# (MIT-BIH 208 at 23 minutes, 116 at 22.5 and 23 minutes: 1.2-1.8 on the analysed lead); the beats of
# the seconds after it, while the amplifier recovers, are squashed to a fraction of their height and
# read as marks inside a pause (a 4.8-s and two 6-7-s false asystoles on MLII alone). The step and the
# RECOVERY_S after it are noise. Readable stretches stay under it (MIT-BIH's annotated pauses: 0.35 at
# most outside noise; the median second of every record 0.05-0.37).
STEP = 1.2
STEP_BLOCK_S = 0.25  # the baseline: the median of each quarter second
STEP_WINDOW_S = 1.0  # its swing over this long
STEP_QRS_HALF_S = 0.05  # the QRS amplitude: peak to peak this much either side of a detected beat
RECOVERY_S = 3
# ... and after those, for as long as the beats stay squashed under this share of their neighbours'
# height (or none is found), up to RECOVERY_MAX_S: 116's amplifier took 8 s at 22.5 minutes, its beats
# at 0.03-0.42 of their height until then (a 2.3-s false pause with both leads)
RECOVERED = 0.5
RECOVERY_MAX_S = 10
# The amplifier at its rail: the recording's highest or lowest value held this long (MIT-BIH 116 at
# 16.7 and 23.2 minutes, 0.4-0.7 s, before a 6-s false asystole); no other record of MIT-BIH holds one.
CLIPPED_S = 0.1
CHUNK_S = 600
MARGIN_S = 30  # the 0.5-Hz high-pass forgets a piece's edges well within this


def second_scores(values: np.ndarray, fs: float, r_peaks: np.ndarray) -> np.ndarray:
    """Per whole second of ``values``: the 95th percentile of the band-passed slope outside the QRS
    complexes over the median QRS slope of the ``REFERENCE_BEATS`` beats nearest it (0 where no beat
    lies within ``MAX_REFERENCE_GAP_S`` or too little of the second lies outside QRS complexes)."""
    return _second_measures(values, fs, r_peaks)[0]


def step_scores(values: np.ndarray, fs: float, r_peaks: np.ndarray) -> np.ndarray:
    """Per whole second of ``values``: the largest swing of the baseline (the median of each
    ``STEP_BLOCK_S``) within ``STEP_WINDOW_S`` around it, over the median QRS amplitude (peak to peak,
    unfiltered) of the ``REFERENCE_BEATS`` beats nearest it (0 where no beat lies within
    ``MAX_REFERENCE_GAP_S``)."""
    return _second_measures(values, fs, r_peaks)[1]


def tallest_beats(values: np.ndarray, fs: float, r_peaks: np.ndarray) -> np.ndarray:
    """Per whole second of ``values``: the QRS height (peak to peak, unfiltered) of its tallest beat
    over the median of the ``REFERENCE_BEATS`` beats around that beat (0 where it holds no beat)."""
    return _second_measures(values, fs, r_peaks)[2]


def _per_second(values: np.ndarray, per_beat: np.ndarray, peaks: np.ndarray, n_seconds: int) -> np.ndarray:
    """``values`` (per second) over the median of ``per_beat`` over the ``REFERENCE_BEATS`` beats nearest
    each second (``peaks`` at ``FS``); 0 where there is none within ``MAX_REFERENCE_GAP_S``."""
    block = int(FS)
    reference = median_filter(per_beat, size=REFERENCE_BEATS, mode="nearest")
    centres = (np.arange(n_seconds) + 0.5) * block
    nearest = np.clip(np.searchsorted(peaks, centres), 0, len(peaks) - 1)
    before = np.clip(nearest - 1, 0, len(peaks) - 1)
    closer = np.where(np.abs(peaks[before] - centres) < np.abs(peaks[nearest] - centres), before, nearest)
    far = np.abs(peaks[closer] - centres) > MAX_REFERENCE_GAP_S * block
    ref = reference[closer]
    return cast(np.ndarray, np.where((ref > 0) & ~far, values / np.where(ref > 0, ref, 1.0), 0.0))


def _second_measures(values: np.ndarray, fs: float, r_peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(:func:`second_scores`, :func:`step_scores`, :func:`tallest_beats`), read ``CHUNK_S`` at a time."""
    n_seconds = int(len(values) // fs)
    if n_seconds == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    block = int(FS)
    half = int(round(QRS_HALF_S * FS))
    half_amplitude = int(round(STEP_QRS_HALF_S * FS))
    quarter = int(round(STEP_BLOCK_S * FS))
    per_window = int(round(STEP_WINDOW_S / STEP_BLOCK_S))
    peaks = np.round(np.asarray(r_peaks, dtype=np.float64) * FS / fs).astype(np.int64)
    outside = np.zeros(n_seconds)
    swing = np.zeros(n_seconds)
    qrs_slope = np.zeros(len(peaks))
    qrs_height = np.zeros(len(peaks))
    for first in range(0, n_seconds, CHUNK_S):
        last = min(n_seconds, first + CHUNK_S)
        lo = max(0, first - MARGIN_S)
        hi = min(n_seconds, last + MARGIN_S)
        raw = resample(values[int(lo * fs) : int(hi * fs)], fs, FS).astype(np.float64)
        x = clean(raw, FS).astype(np.float64)
        slope = np.abs(np.diff(x, append=x[-1]))
        offset = lo * block
        near = peaks[(peaks >= offset) & (peaks < offset + len(slope))] - offset  # the margins' too
        qrs = np.zeros(len(slope), bool)
        for k in range(-half, half + 1):
            qrs[np.clip(near + k, 0, len(slope) - 1)] = True
        mine = np.flatnonzero((peaks >= first * block) & (peaks < last * block))
        local = peaks[mine] - offset
        for i, p in zip(mine, local, strict=True):
            qrs_slope[i] = slope[max(0, p - half) : p + half + 1].max(initial=0.0)
            qrs_height[i] = np.ptp(raw[max(0, p - half_amplitude) : p + half_amplitude + 1])
        start = (first - lo) * block
        rows = slope[start : start + (last - first) * block]
        masked = qrs[start : start + (last - first) * block]
        rows = rows[: (len(rows) // block) * block].reshape(-1, block)
        masked = masked[: rows.size].reshape(-1, block)
        counts = (~masked).sum(axis=1)
        # the PERCENTILE-th percentile of each row's samples outside QRS complexes (as np.percentile,
        # linear): the masked ones sorted past the end
        ranked = np.sort(np.where(masked, np.inf, rows), axis=1)
        position = PERCENTILE / 100.0 * np.maximum(counts - 1, 0)
        below = np.floor(position).astype(np.int64)
        above = np.minimum(below + 1, np.maximum(counts - 1, 0))
        at = np.arange(len(rows))
        low, high = ranked[at, below], ranked[at, above]
        with np.errstate(invalid="ignore"):  # rows with nothing outside QRS complexes read inf, then 0
            value = np.where(counts >= MIN_OUTSIDE, low + (high - low) * (position - below), 0.0)
        outside[first : first + len(rows)] = value
        # the baseline: each quarter second's median (a QRS complex fills under half of one); its swing
        # over the STEP_WINDOW_S centred on each quarter, the largest of a second's quarters
        blocks = len(raw) // quarter
        baseline = np.median(raw[: blocks * quarter].reshape(blocks, quarter), axis=1)
        padded = np.pad(baseline, (per_window // 2, per_window - per_window // 2 - 1), mode="edge")
        windows = sliding_window_view(padded, per_window)
        quarters = windows.max(axis=1) - windows.min(axis=1)
        per_second = block // quarter
        mine_q = quarters[(first - lo) * per_second : (last - lo) * per_second]
        whole = len(mine_q) // per_second  # a rate that resamples a sample short leaves a part second
        swing[first : first + whole] = mine_q[: whole * per_second].reshape(-1, per_second).max(axis=1)
    if len(peaks) == 0:
        return np.zeros(n_seconds), np.zeros(n_seconds), np.zeros(n_seconds)
    height = qrs_height / np.maximum(median_filter(qrs_height, size=REFERENCE_BEATS, mode="nearest"), 1e-12)
    tallest = np.zeros(n_seconds)
    second = peaks // block
    inside = (second >= 0) & (second < n_seconds)
    np.maximum.at(tallest, second[inside], height[inside])
    return (
        _per_second(outside, qrs_slope, peaks, n_seconds),
        _per_second(swing, qrs_height, peaks, n_seconds),
        tallest,
    )


def recovering(saturated: np.ndarray, squashed: np.ndarray) -> np.ndarray:
    """Per second: saturated, or within ``RECOVERY_S`` after a saturated second, or after that while
    every second since holds squashed beats or none (``squashed``), up to ``RECOVERY_MAX_S``."""
    out = saturated.copy()
    since = -1  # the last saturated second still recovering from, or -1
    for i in range(len(out)):
        if saturated[i]:
            since = i
        elif since >= 0 and (i - since <= RECOVERY_S or (squashed[i] and i - since <= RECOVERY_MAX_S)):
            out[i] = True
        else:
            since = -1
    return out


def clipped_seconds(values: np.ndarray, fs: float, n_seconds: int) -> np.ndarray:
    """Per whole second: whether it holds ``CLIPPED_S`` or more of the recording's highest or lowest
    value without a break (the amplifier at its rail); read ``CHUNK_S`` at a time."""
    out = np.zeros(n_seconds, bool)
    if n_seconds == 0:
        return out
    top, bottom = float(np.max(values)), float(np.min(values))
    if top == bottom:  # a flat line is no signal (signal_loss), not a rail
        return out
    least = max(2, int(round(CLIPPED_S * fs)))
    step = int(CHUNK_S * fs)
    for first in range(0, len(values), step):
        piece = values[first : first + step + least]  # a run across the edge is seen whole
        for rail in (top, bottom):
            edges = np.diff(np.concatenate([[0], (piece == rail).astype(np.int8), [0]]))
            starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
            long = stops - starts >= least
            for a, b in zip(starts[long], stops[long], strict=True):
                out[int((first + a) // fs) : int((first + b - 1) // fs) + 1] = True
    return out


def lead_agreement(first_peaks: np.ndarray, second_peaks: np.ndarray, fs: float, n_seconds: int) -> np.ndarray:
    """Per whole second: how far the beats the detector finds on each lead alone (``context.analyse``
    keeps them: ``BeatContext.lead_peaks``) agree over the ``AGREEMENT_S`` seconds around it (2 x
    beats of the first matched within ``AGREEMENT_TOLERANCE_S`` over the beats of both; 1 where
    neither lead has a beat)."""
    pa, pb = np.asarray(first_peaks, dtype=np.int64), np.asarray(second_peaks, dtype=np.int64)
    if len(pb):
        k = np.clip(np.searchsorted(pb, pa), 1, max(1, len(pb) - 1))
        nearest = np.minimum(np.abs(pa - pb[k - 1]), np.abs(pa - pb[np.minimum(k, len(pb) - 1)]))
        hit = nearest <= AGREEMENT_TOLERANCE_S * fs
    else:
        hit = np.zeros(len(pa), bool)

    def per_second(peaks: np.ndarray) -> np.ndarray:
        seconds = (peaks / fs).astype(np.int64)
        return np.bincount(seconds[(seconds >= 0) & (seconds < n_seconds)], minlength=n_seconds)[:n_seconds]

    half = AGREEMENT_S // 2
    kernel = np.ones(AGREEMENT_S)

    def around(x: np.ndarray) -> np.ndarray:
        return np.convolve(np.pad(x.astype(np.float64), (half, AGREEMENT_S - half - 1)), kernel, mode="valid")

    both = around(per_second(pa)) + around(per_second(pb))
    matched = around(per_second(pa[hit]))
    return cast(np.ndarray, np.where(both > 0, 2 * matched / np.where(both > 0, both, 1), 1.0))


def noisy(
    values: np.ndarray | None, fs: float, r_peaks: np.ndarray, lead_peaks: tuple[np.ndarray, ...] = ()
) -> list[tuple[int, int]]:
    """(start, end) samples, ``end`` inclusive, of the stretches whose ``MEDIAN_SECONDS``-second
    median score (:func:`second_scores`) is above ``NOISY``, or above ``NOISY_IF_LEADS_DISAGREE``
    where the beats found on the analysed and the second lead alone (``lead_peaks``, as
    ``BeatContext.lead_peaks`` holds them) disagree (:func:`lead_agreement`), and of each second
    whose baseline steps (:func:`step_scores` above ``STEP``) or that holds the amplifier at its rail
    (:func:`clipped_seconds`) with the seconds it takes to recover (:func:`recovering`); those less
    than ``JOIN_S`` apart joined; sorted and disjoint."""
    if values is None or len(r_peaks) == 0:
        return []
    scores, steps, tallest = _second_measures(values, fs, r_peaks)
    if len(scores) == 0:
        return []
    level = median_filter(scores, size=MEDIAN_SECONDS, mode="nearest")
    over = level > NOISY
    # a step of the baseline or the amplifier at its rail, and the seconds it takes to recover
    over |= recovering((steps > STEP) | clipped_seconds(values, fs, len(steps)), tallest < RECOVERED)
    if len(lead_peaks) >= 2:
        agreement = lead_agreement(lead_peaks[0], lead_peaks[1], fs, len(level))
        over |= (level > NOISY_IF_LEADS_DISAGREE) & (agreement < LEADS_AGREE)
    edges = np.diff(np.concatenate([[0], over.astype(np.int8), [0]]))
    out: list[tuple[int, int]] = []
    for first, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        start, end = int(round(first * fs)), min(len(values), int(round(stop * fs))) - 1
        if out and start - out[-1][1] < JOIN_S * fs:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def without(spans: list[tuple[int, int]], taken: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of the sorted, disjoint ``spans`` outside every span of ``taken`` (inclusive ends)."""
    out = []
    cuts = sorted(taken)
    for start, end in spans:
        pieces = [(start, end)]
        for cs, ce in cuts:
            nxt = []
            for s, e in pieces:
                if ce < s or cs > e:
                    nxt.append((s, e))
                    continue
                if s < cs:
                    nxt.append((s, cs - 1))
                if ce < e:
                    nxt.append((ce + 1, e))
            pieces = nxt
        out.extend(pieces)
    return out


def regular_runs(r_peaks: np.ndarray, classes: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) R-peak samples of every run of ``RUN_MIN_BEATS`` or more beats classed V (fusion
    beats among them), or classed S, whose R-R intervals vary by at most ``RUN_MAX_RR_CV`` (coefficient of variation):
    kept out of the noise. Noise makes irregular detections; a tachycardia is regular."""
    from .ectopy import RUN_MEMBERS, runs

    out = []
    for kind in ("V", "S"):
        for first, last in runs(np.asarray(classes), RUN_MEMBERS[kind], holding=kind):
            if last - first + 1 < RUN_MIN_BEATS:
                continue
            rr = np.diff(np.asarray(r_peaks[first : last + 1], dtype=np.float64))
            if float(np.std(rr)) <= RUN_MAX_RR_CV * float(np.mean(rr)):
                out.append((int(r_peaks[first]), int(r_peaks[last])))
    return sorted(out)
