"""What the record-level beat model sees of each beat: morphology, rhythm and the patient's own norm.

A single Kaggle-format beat (120 Hz, cut from its own R-peak, scaled to [0, 1]) carries no timing
and nothing of the patient, and does not transfer to patients a model has never seen. Per beat of
one recording this module computes what a cardiologist compares (de Chazal 2004, Llamedo 2011,
Mondéjar-Guerra 2019):

* **morphology** at a fixed physical rate (``CONTEXT_FS``), ``WINDOW_BEFORE`` samples before and
  ``WINDOW_AFTER`` after the R-peak (P wave to T wave), of both leads when there are two, in units
  of the record's own dominant-beat amplitude; beside each lead, the beat minus the record's
  dominant-beat template (a running median of the beats around it);
* **rhythm**: RR intervals before and after the beat, the local and the record's mean RR, their
  ratios (prematurity, compensatory pause) and the neighbours' prematurity, and local irregularity;
* **difference from the dominant beat**: correlation over the QRS and the whole window, residual
  energy, amplitude and slope ratios, per lead.

Arrays in, arrays out: ``record_context(leads, fs, r_peaks)`` takes the leads (1 or 2, any rate of
at least 100 Hz) and the R-peak sample indices, and returns a :class:`BeatContext` with one row per
R-peak, including the first and last (windows past the signal's edge are zero-padded).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import cast

import numpy as np
from scipy import signal as sps

CONTEXT_FS = 128.0
WINDOW_BEFORE = 44  # 0.34 s: the P wave of a normal PR interval
WINDOW_AFTER = 64  # 0.50 s: QRS and most of the T wave
WINDOW = WINDOW_BEFORE + WINDOW_AFTER
QRS_HALF = 13  # +-0.1 s around the R-peak
MORPH_CHANNELS = 4  # lead 1, lead 1 - template, lead 2, lead 2 - template
TEMPLATE_BEATS = 256  # running median over this many beats around each block
TEMPLATE_BLOCK = 128
LOCAL_BEATS = 10
WIDE_BEATS = 40  # the rhythm of the last and next ~half minute: its median, its irregularity
N_RHYTHM = 20
SINUS_BEATS = 256  # the slower intervals of the last and next few minutes: the underlying rhythm
SINUS_BLOCK = 64
SINUS_QUANTILE = 80
BASELINE_SEGMENT_S = 20.0  # the record's underlying rate: the slower 20-s medians ...
BASELINE_HALF_SEGMENTS = 30  # ... of the ten minutes either side (time, not beats: an SVT run of
# hundreds of beats takes over any window counted in beats)
N_LEAD_FEATURES = 9
P_WAVE = slice(WINDOW_BEFORE - 38, WINDOW_BEFORE - 10)  # 0.30 to 0.08 s before the R-peak
MAX_RR_S = 3.0
MAX_RATIO = 4.0
FILTER_HZ = (0.5, 40.0)

FEATURES: tuple[str, ...] = (
    "pre_rr",
    "post_rr",
    "local_rr",
    "record_rr",
    "pre_local",
    "post_local",
    "pre_post",
    "pre_record",
    "post_record",
    "local_record",
    "prev_pre_local",
    "next_pre_local",
    "local_irregularity",
    "pre_wide_median",
    "post_wide_median",
    "wide_irregularity",
    "wide_deviant",
    "wide_lag2_irregularity",
    "pre_sinus",
    "post_sinus",
    "corr_qrs_1",
    "corr_all_1",
    "residual_1",
    "amplitude_1",
    "slope_1",
    "width_1",
    "corr_p_1",
    "p_previous_1",
    "p_wide_1",
    "corr_qrs_2",
    "corr_all_2",
    "residual_2",
    "amplitude_2",
    "slope_2",
    "width_2",
    "corr_p_2",
    "p_previous_2",
    "p_wide_2",
    "second_lead",
)
# The neighbours' timing and shape (two beats either side): runs, couplets and bigeminy are patterns
# of several beats, not of one.
NEIGHBOUR_OFFSETS = (-2, -1, 1, 2)
NEIGHBOUR_FEATURES = ("pre_local", "pre_wide_median", "corr_qrs_1", "residual_1", "corr_p_1")
BEAT_FEATURES = FEATURES
FEATURES = BEAT_FEATURES + tuple(f"{name}@{offset:+d}" for offset in NEIGHBOUR_OFFSETS for name in NEIGHBOUR_FEATURES)
N_FEATURES = len(FEATURES)


@dataclass
class BeatContext:
    """Model inputs of the beats of one recording, in R-peak order."""

    morphology: np.ndarray  # (n, WINDOW, MORPH_CHANNELS) float32
    features: np.ndarray  # (n, N_FEATURES) float32
    r_peaks: np.ndarray  # (n,) sample indices in the original signal
    # what the detector found on each lead alone (analysed, second, ...), where ``analyse`` detected
    # them: the noise stage compares the two leads' beats (ecg.rhythm.noise.lead_agreement)
    lead_peaks: tuple[np.ndarray, ...] = ()


SECOND_LEAD_QRS = 0.6  # a beat's QRS on the second lead: amplitude, steepness and shape against its dominant beat's


def pause_measures(context: BeatContext) -> dict[str, np.ndarray]:
    """What the rhythm analysis's pause measure reads of the beats' shape, per beat.

    ``qrs_correlation``: its QRS correlation with the record's running dominant beat on the analysed
    lead (``corr_qrs_1``). ``second_lead_qrs``: whether the second lead shows a QRS complex like its
    own dominant beat's, at least ``SECOND_LEAD_QRS`` of its amplitude and steepness and correlating
    at least that much with it. Where the analysed lead saturates (MIT-BIH 208 at 23 minutes) its beats
    read as faint marks; the second lead shows them whole (0.76-0.87 of the amplitude, 0.75-0.78 of the
    steepness, correlating 0.64-0.97 where MIT-BIH 100's V5 dips to a fifth of its height for two beats).
    A P wave or a T wave the detector marked inside a pause is slower and smaller there (MIT-BIH 232's,
    which V1 shows large, read at most 0.48 of the amplitude), and noise is unlike the dominant beat
    (208's mark inside its reference pause correlates -0.78).
    """
    wanted = ("second_lead", "amplitude_2", "slope_2", "corr_qrs_2", "corr_qrs_1")
    column = {name: context.features[:, FEATURES.index(name)] for name in wanted}
    second = (
        (column["second_lead"] > 0.5)
        & (column["amplitude_2"] >= SECOND_LEAD_QRS)
        & (column["slope_2"] >= SECOND_LEAD_QRS)
        & (column["corr_qrs_2"] >= SECOND_LEAD_QRS)
    )
    return {"qrs_correlation": np.asarray(column["corr_qrs_1"], np.float64), "second_lead_qrs": np.asarray(second)}


def resample(x: np.ndarray, fs: float, target: float = CONTEXT_FS) -> np.ndarray:
    """``x`` at ``target`` Hz (polyphase, anti-aliased); float32."""
    if abs(fs - target) < 1e-9:
        return np.asarray(x, dtype=np.float32)
    ratio = Fraction(target).limit_denominator(1000) / Fraction(fs).limit_denominator(1000)
    return cast(
        np.ndarray,
        sps.resample_poly(np.asarray(x, dtype=np.float64), ratio.numerator, ratio.denominator).astype(np.float32),
    )


CLEAN_CHUNK = 1 << 20  # samples (2.3 h at 128 Hz): longer signals are band-passed a piece at a time
CLEAN_MARGIN_S = 60.0  # each piece filtered with this much signal either side, then cut back


def clean(x: np.ndarray, fs: float = CONTEXT_FS) -> np.ndarray:
    """Baseline wander and high-frequency noise removed (zero-phase 0.5-40 Hz band-pass).

    A signal longer than CLEAN_CHUNK samples (a Holter recording) is filtered in pieces, each with
    CLEAN_MARGIN_S of signal either side: the filter forgets a piece's ends within a second, so the
    result equals the whole signal's to float precision, and memory stays at a few pieces instead of
    five float64 copies of 24 hours."""
    sos = sps.butter(2, FILTER_HZ, btype="bandpass", fs=fs, output="sos")
    n = len(x)
    if n <= CLEAN_CHUNK:
        whole = np.nan_to_num(np.asarray(x, dtype=np.float64))
        if n <= 3 * 2 * len(sos):  # too short for filtfilt's padding
            return cast(np.ndarray, (whole - np.median(whole)).astype(np.float32))
        return cast(np.ndarray, sps.sosfiltfilt(sos, whole - np.median(whole)).astype(np.float32))
    median = float(np.median(np.nan_to_num(np.asarray(x, dtype=np.float32))))
    margin = int(CLEAN_MARGIN_S * fs)
    out = np.empty(n, np.float32)
    for start in range(0, n, CLEAN_CHUNK):
        stop = min(n, start + CLEAN_CHUNK)
        lo, hi = max(0, start - margin), min(n, stop + margin)
        piece = np.nan_to_num(np.asarray(x[lo:hi], dtype=np.float64)) - median
        out[start:stop] = sps.sosfiltfilt(sos, piece)[start - lo : stop - lo]
    return out


def _windows(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    padded = np.concatenate([np.zeros(WINDOW_BEFORE, np.float32), x, np.zeros(WINDOW_AFTER, np.float32)])
    idx = centres[:, None] + np.arange(WINDOW)[None, :]  # centre c sits at padded[c + WINDOW_BEFORE]
    return padded[np.clip(idx, 0, len(padded) - 1)]


def _running_template(windows: np.ndarray) -> np.ndarray:
    """Per beat, the median beat of the ``TEMPLATE_BEATS`` beats around its block."""
    n = len(windows)
    template = np.empty_like(windows)
    for start in range(0, n, TEMPLATE_BLOCK):
        stop = min(n, start + TEMPLATE_BLOCK)
        centre = (start + stop) // 2
        lo = max(0, min(centre - TEMPLATE_BEATS // 2, n - TEMPLATE_BEATS))
        template[start:stop] = np.median(windows[lo : lo + TEMPLATE_BEATS], axis=0)
    return template


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    return cast(np.ndarray, np.divide((a * b).sum(axis=1), den, out=np.zeros(len(a), np.float32), where=den > 1e-12))


def _width(w: np.ndarray) -> np.ndarray:
    """QRS width proxy in seconds: time the slope spends above a third of its maximum near the R-peak."""
    part = np.abs(np.diff(w[:, WINDOW_BEFORE - QRS_HALF : WINDOW_BEFORE + QRS_HALF], axis=1))
    peak = part.max(axis=1, keepdims=True)
    return cast(np.ndarray, (part > peak / 3).sum(axis=1) / CONTEXT_FS)


def _p_wave_consistency(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per beat, how alike its P-wave stretch is to the previous beat's, and the median of that over
    the WIDE_BEATS beats around it: high in sinus rhythm (with or without isolated ectopics, whose
    neighbours keep their P waves), low in atrial fibrillation, where no P wave repeats."""
    p = w[:, P_WAVE]
    previous = np.concatenate([p[:1], p[:-1]])
    same = _corr(p, previous)
    half = WIDE_BEATS // 2
    padded = np.pad(same, half, mode="edge")
    wide = np.median(np.lib.stride_tricks.sliding_window_view(padded, WIDE_BEATS + 1), axis=1)[: len(same)]
    return same, wide


def _lead_inputs(x: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scaled beats, beat - template, and the template-difference features of one lead."""
    w = _windows(x, centres)
    w -= np.median(w, axis=1, keepdims=True)
    template = _running_template(w)
    qrs = slice(WINDOW_BEFORE - QRS_HALF, WINDOW_BEFORE + QRS_HALF)
    t_amp = np.ptp(template[:, qrs], axis=1)
    scale = float(np.median(t_amp)) if len(t_amp) else 1.0
    scale = scale if scale > 1e-6 else 1.0
    w /= scale
    template /= scale
    t_amp = np.maximum(t_amp / scale, 1e-3)
    residual = ((w - template) ** 2).sum(axis=1) / np.maximum((template**2).sum(axis=1), 1e-6)
    t_slope = np.abs(np.diff(template[:, qrs], axis=1)).max(axis=1)
    slope = np.abs(np.diff(w[:, qrs], axis=1)).max(axis=1)
    feats = np.stack(
        [
            _corr(w[:, qrs], template[:, qrs]),
            _corr(w, template),
            np.minimum(residual, 25.0),
            np.minimum(np.ptp(w[:, qrs], axis=1) / t_amp, MAX_RATIO * 2),
            np.minimum(slope / np.maximum(t_slope, 1e-3), MAX_RATIO * 2),
            _width(w) - _width(template),
            _corr(w[:, P_WAVE], template[:, P_WAVE]),
            *_p_wave_consistency(w),
        ],
        axis=1,
    )
    return np.clip(w, -8, 8), np.clip(w - template, -8, 8), feats


def _wide(rr: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """Per beat, over the WIDE_BEATS intervals around it: their median and three irregularities.

    The median absolute successive difference (over the median RR) is near 0 in sinus rhythm with
    isolated ectopics and high in atrial fibrillation, where beats are N however early; the share of
    intervals off the median by over 15 % counts ectopy and AF alike; the lag-2 difference stays low
    in bigeminy (short-long-short-long) but not in AF.
    """
    half = WIDE_BEATS // 2
    padded = np.pad(rr, half, mode="reflect") if len(rr) > half else np.pad(rr, half, mode="edge")
    win = np.lib.stride_tricks.sliding_window_view(padded, WIDE_BEATS)
    centre = np.clip(np.arange(n), 0, win.shape[0] - 1)
    win = win[centre]
    med = np.median(win, axis=1)
    irregular = np.median(np.abs(np.diff(win, axis=1)), axis=1) / med
    deviant = (np.abs(win / med[:, None] - 1.0) > 0.15).mean(axis=1)
    lag2 = np.median(np.abs(win[:, 2:] - win[:, :-2]), axis=1) / med
    return med, irregular, deviant, lag2


def _sinus_rr(rr: np.ndarray, n: int) -> np.ndarray:
    """Per beat, the 80th percentile of the SINUS_BEATS intervals around its block.

    Where ectopic beats make up much of the rhythm (frequent APCs, long SVT runs) the local mean
    and median are the ectopic rate; the slower intervals still show the underlying rhythm.
    """
    out = np.empty(n)
    for start in range(0, n, SINUS_BLOCK):
        centre = start + SINUS_BLOCK // 2
        lo, hi = max(0, centre - SINUS_BEATS // 2), min(len(rr), centre + SINUS_BEATS // 2)
        window = rr[lo:hi] if hi > lo else rr
        out[start : start + SINUS_BLOCK] = np.percentile(window, SINUS_QUANTILE)
    return out


def baseline_rr(r_peaks: np.ndarray, fs: float) -> np.ndarray:
    """Per beat, the record's underlying RR (s): the 80th percentile of the median RRs of the 20-s
    segments within ten minutes of it (a single beat: 1 s).

    In a record with long SVT runs (svdb 865: 1,816 S beats at 0.42 s beside sinus at 0.80 s, one
    run of 667 beats) every window counted in beats is the SVT itself; counted in time, the sinus
    stretches still show.
    """
    peaks_s = np.asarray(r_peaks, dtype=np.float64) / fs
    n = len(peaks_s)
    if n < 2:
        return np.ones(n)
    rr = np.clip(np.diff(peaks_s), 0.05, MAX_RR_S)
    seg_of_beat = np.floor((peaks_s - peaks_s[0]) / BASELINE_SEGMENT_S).astype(np.int64)
    seg_of_rr = seg_of_beat[1:]  # an interval belongs to the segment of the beat that closes it
    n_seg = int(seg_of_beat[-1]) + 1
    bounds = np.searchsorted(seg_of_rr, np.arange(n_seg + 1))  # seg_of_rr is sorted: beats in time order
    medians = np.full(n_seg, np.nan)
    for k in range(n_seg):
        if bounds[k + 1] > bounds[k]:
            medians[k] = np.median(rr[bounds[k] : bounds[k + 1]])
    fallback = float(np.median(rr))
    baseline = np.empty(n_seg)
    for k in range(n_seg):
        window = medians[max(0, k - BASELINE_HALF_SEGMENTS) : k + BASELINE_HALF_SEGMENTS + 1]
        window = window[~np.isnan(window)]
        baseline[k] = np.percentile(window, SINUS_QUANTILE) if len(window) else fallback
    out: np.ndarray = baseline[seg_of_beat]
    return out


def rhythm_features(r_peaks: np.ndarray, fs: float) -> np.ndarray:
    """The rhythm features (``FEATURES[:N_RHYTHM]``) of each R-peak of one recording."""
    peaks = np.asarray(r_peaks, dtype=np.float64)
    n = len(peaks)
    if n < 2:
        out = np.ones((n, N_RHYTHM), np.float32)
        out[:, [0, 1, 2, 3]] = 0.8
        out[:, [12, 15, 16, 17]] = 0.0
        return out
    rr = np.clip(np.diff(peaks) / fs, 0.05, MAX_RR_S)
    record_rr = float(np.mean(rr))
    csum = np.concatenate([[0.0], np.cumsum(rr)])
    i = np.arange(n)
    lo = np.clip(i - LOCAL_BEATS // 2, 0, len(rr))
    hi = np.clip(i + LOCAL_BEATS // 2, 0, len(rr))
    count = np.maximum(hi - lo, 1)
    local = (csum[hi] - csum[lo]) / count
    csq = np.concatenate([[0.0], np.cumsum(rr * rr)])
    var = np.maximum((csq[hi] - csq[lo]) / count - local**2, 0.0)
    pre = np.concatenate([[np.nan], rr])
    post = np.concatenate([rr, [np.nan]])
    pre = np.where(np.isnan(pre), local, pre)
    post = np.where(np.isnan(post), local, post)

    def ratio(a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
        return np.clip(a / b, 0.0, MAX_RATIO)

    pre_local = ratio(pre, local)
    prev_pre_local = np.concatenate([[1.0], pre_local[:-1]])
    next_pre_local = np.concatenate([pre_local[1:], [1.0]])
    wide, irregular, deviant, lag2 = _wide(rr, n)
    sinus = _sinus_rr(rr, n)
    cols = [
        pre,
        post,
        local,
        np.full(n, record_rr),
        pre_local,
        ratio(post, local),
        ratio(pre, post),
        ratio(pre, record_rr),
        ratio(post, record_rr),
        ratio(local, record_rr),
        prev_pre_local,
        next_pre_local,
        np.sqrt(var) / local,
        ratio(pre, wide),
        ratio(post, wide),
        irregular,
        deviant,
        lag2,
        ratio(pre, sinus),
        ratio(post, sinus),
    ]
    return np.stack(cols, axis=1).astype(np.float32)


def _neighbours(features: np.ndarray) -> np.ndarray:
    """NEIGHBOUR_FEATURES of the beats at NEIGHBOUR_OFFSETS (edges repeat the first or last beat)."""
    n = len(features)
    cols = [BEAT_FEATURES.index(name) for name in NEIGHBOUR_FEATURES]
    if n == 0:
        return np.zeros((0, len(NEIGHBOUR_OFFSETS) * len(cols)), np.float32)
    parts = [features[np.clip(np.arange(n) + offset, 0, n - 1)][:, cols] for offset in NEIGHBOUR_OFFSETS]
    return np.concatenate(parts, axis=1)


def record_context(leads: list[np.ndarray], fs: float, r_peaks: np.ndarray) -> BeatContext:
    """Model inputs for every R-peak of one recording (``leads``: one or two arrays at ``fs`` Hz)."""
    if not 1 <= len(leads) <= 2:
        raise ValueError(f"expected one or two leads, got {len(leads)}")
    r_peaks = np.asarray(r_peaks, dtype=np.int64)
    n = len(r_peaks)
    centres = np.rint(r_peaks * (CONTEXT_FS / fs)).astype(np.int64)
    morph = np.zeros((n, WINDOW, MORPH_CHANNELS), np.float32)
    lead_feats = np.zeros((n, 2 * N_LEAD_FEATURES), np.float32)
    if n:
        for k, lead in enumerate(leads):
            x = clean(resample(lead, fs), CONTEXT_FS)
            w, diff, feats = _lead_inputs(x, centres)
            morph[:, :, 2 * k] = w
            morph[:, :, 2 * k + 1] = diff
            lead_feats[:, N_LEAD_FEATURES * k : N_LEAD_FEATURES * (k + 1)] = feats
    features = np.concatenate(
        [rhythm_features(r_peaks, fs), lead_feats, np.full((n, 1), float(len(leads) == 2), np.float32)], axis=1
    )
    features = np.concatenate([features, _neighbours(features)], axis=1)
    return BeatContext(morphology=morph, features=np.nan_to_num(features).astype(np.float32), r_peaks=r_peaks)


def other_lead(leads: dict[str, np.ndarray], analysed: str) -> np.ndarray | None:
    """A second usable lead beside ``analysed`` (same length, finite, not flat), if the record has one."""
    name = other_lead_name(leads, analysed)
    return None if name is None else leads[name]


def other_lead_name(leads: dict[str, np.ndarray], analysed: str) -> str | None:
    """The name of ``other_lead``'s pick: not always the file's next lead, which may be flat or broken."""
    for name, values in leads.items():
        if (
            name != analysed
            and len(values) == len(leads[analysed])
            and np.isfinite(values).all()
            and np.ptp(values) > 0
        ):
            return name
    return None


def detect_beats(leads: list[np.ndarray], fs: float, each: list[np.ndarray] | None = None) -> np.ndarray:
    """R-peaks from the analysed lead, its gaps (noise, a loose electrode) filled from the others;
    a first or last beat is kept only if its QRS is complete and it looks like the other beats.
    ``each``, when given, receives the R-peaks found on every lead alone."""
    from .detection import detect_r_peaks, detect_r_peaks_multilead, keep_complete_edge_beats

    stacked = np.stack(leads)
    if len(leads) == 1:
        peaks = detect_r_peaks(leads[0], fs)
        if each is not None:
            each.append(peaks)
    else:
        peaks = detect_r_peaks_multilead(stacked, fs, each)
    return keep_complete_edge_beats(stacked, fs, peaks)


# Leads that see the QRS from different directions, for detection on a 12-lead record beside the analysed lead.
DETECTION_LEADS = ("i", "v2", "v5")


def detection_leads(leads: dict[str, np.ndarray], analysed: str) -> list[np.ndarray]:
    """Further leads of a 12-lead record (I, V2, V5) to find beats on, beside the analysed one."""
    from ecg.io.readers import plain_lead

    by_plain = {plain_lead(name): values for name, values in leads.items() if name != analysed}
    n = len(leads[analysed])
    return [
        by_plain[name]
        for name in DETECTION_LEADS
        if name in by_plain
        and len(by_plain[name]) == n
        and np.isfinite(by_plain[name]).all()
        and np.ptp(by_plain[name]) > 0
    ]


NO_SIGNAL_EDGE_S = 1.0  # a stretch without signal is found in whole seconds: its steps lie within one of it


def analyse(
    values: np.ndarray,
    fs: float,
    second: np.ndarray | None = None,
    *,
    more: list[np.ndarray] | None = None,
    lost: list[tuple[int, int]] | None = None,
) -> tuple[np.ndarray, BeatContext]:
    """Every detected beat of a recording: Kaggle-format beats (for the beat-format and MI models)
    and the record-level model's inputs, one row per R-peak, the first and last included. Beats are
    found on the analysed lead, the second and ``more`` leads (a 12-lead record's I, V2, V5); none
    on the samples the file marks as lost (``lost``: sorted spans, end inclusive, which the reader
    bridged with a straight line whose corners a detector may take for a QRS), nor in a stretch where
    the analysed lead carries no signal (``signal_loss.no_signal``: a lead off, the amplifier held at
    a value) or within ``NO_SIGNAL_EDGE_S`` of one: the step into and out of it reads as a QRS, and a
    beat there, anchored on the gap, made every later beat of a sinus record S."""
    from ecg.rhythm.signal_loss import no_signal, overlapping

    from .segmenting import segment_every_peak

    leads = [values] if second is None else [values, second]
    each: list[np.ndarray] = []
    r_peaks = detect_beats([*leads, *(more or [])], fs, each)
    if lost:
        r_peaks = r_peaks[~overlapping(lost, r_peaks, r_peaks)]
    flat = no_signal(values, fs)
    if flat:
        edge = int(round(NO_SIGNAL_EDGE_S * fs))
        r_peaks = r_peaks[~overlapping([(a - edge, b + edge) for a, b in flat], r_peaks, r_peaks)]
    beats = segment_every_peak(values, fs, r_peaks)
    context = record_context(leads, fs, r_peaks)
    context.lead_peaks = tuple(each[: len(leads)])
    return beats, context
