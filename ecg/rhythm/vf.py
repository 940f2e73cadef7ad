"""Ventricular flutter / fibrillation from the signal itself, window by window.

A stretch in VF yields no reliable beats, so this looks at the waveform: 4-s windows every second
(resampled to 125 Hz, band-passed 1-30 Hz), scored by a logistic combination of segment features
from the VF-detection literature:

- threshold crossing sample count (TCSC, Arafat et al. 2009): fraction of samples above 20 % of each
  second's peak; an organised rhythm spends most of its time near the baseline, VF does not;
- VF filter leakage (Kuo & Dillman 1978): how far the signal is from one sinusoid;
- spectral features (after Barro et al. 1989): share of power around the dominant frequency, share
  above 12 Hz (QRS complexes are sharp, VF is not), the dominant frequency itself;
- spectral entropy, kurtosis and periodicity (the autocorrelation peak at 0.2-1.2 s): VF is a broad,
  unpeaked, poorly repeating wave, ventricular tachycardia repeats one sharp complex;
- the window's beat count and R-R regularity from the beat detector (whether it found beats at all
  is its own input: the detector stays silent in most VF, and "no intervals" is not "irregular").

The coefficients were fitted on cudb and MIT-BIH windows (`python -m bench.rhythm_eval --fit-vf`),
strongly regularised (C = 0.001); that, the threshold and the number of windows whose mean decides
were chosen by record-wise cross-validation (`python -m bench.experiments.vf_regularisation`), the
highest threshold that still finds every episode of MIT-BIH 207 (a 4-s one is lost at 0.90). On
records the model was not fitted on it reads 93.7 / 82.9 % duration Se / +P on cudb with every onset
decided within 8.0 s, where the earlier fit (C = 1, 5 windows at 0.94) read 93.6 / 82.8 % within 9.8 s.

An episode opens when the mean probability of ``DECISION_WINDOWS`` consecutive windows reaches the
threshold, so the decision comes at most 4 + 3 s after the first of them, and a single window just
under the threshold does not break an episode (VF's waveform changes from second to second). Each
episode is dated by the centres of its first and last windows, not their edges, which would add up
to 1.5 s of organised rhythm on either side.
"""

from fractions import Fraction
from typing import cast

import numpy as np
from scipy import signal as sps

from . import signal_loss
from .events import Event

FS = 125
WINDOW_S = 4
STEP_S = 1
FEATURES = (
    "tcsc",
    "leakage",
    "a2",
    "high_fraction",
    "peak_hz",
    "beats",
    "rr_cv",
    "spectral_entropy",
    "kurtosis",
    "periodicity",
)
# The model's inputs: the window features, with whether the detector was silent beside the rhythm
# ones (rr_cv is over windows with at least three beats, else 0) and one interaction.
INPUTS = (*FEATURES[:7], "silent", *FEATURES[7:], "tcsc_x_a2")
# Logistic combination over standardised inputs (mean, scale, weight per input), and its bias.
MEAN = np.array(
    [0.18983, 0.77128, 0.31684, 0.19991, 3.41518, 5.0082, 0.08524, 0.02391, 0.74753, 10.92253, 0.44553, 0.07301]
)
SCALE = np.array(
    [0.15087, 0.09201, 0.13553, 0.14357, 1.59646, 1.5212, 0.1159, 0.15278, 0.10469, 7.63601, 0.1989, 0.10192]
)
WEIGHTS = np.array(
    [1.08638, -0.41893, 0.02312, 0.16859, -0.00533, -0.77683, 0.46001, 0.2578, 0.05693, -0.33771, -0.64195, 0.58952]
)
BIAS = -4.61126
THRESHOLD = 0.88
DECISION_WINDOWS = 4  # windows whose mean probability opens an episode
LEADING_MIN = 0.5  # windows at an episode's start below this are not part of it
MERGE_GAP_S = 6.0


def _resampled(values: np.ndarray, fs: float) -> np.ndarray:
    ratio = Fraction(FS / fs).limit_denominator(200)
    x = np.asarray(values, float)
    x = np.nan_to_num(x - np.nanmedian(x))
    if ratio != 1:
        x = sps.resample_poly(x, ratio.numerator, ratio.denominator)
    sos = sps.butter(2, [1.0, 30.0], btype="bandpass", fs=FS, output="sos")
    return cast(np.ndarray, sps.sosfiltfilt(sos, x))


CHUNK_WINDOWS = 600  # windows per pass: a 24-hour recording is read ten minutes at a time
PAD_S = 2.0  # filter run-in on each side of a pass


def window_features(values: np.ndarray, fs: float, r_peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features (n_windows, len(FEATURES)) and each window's first sample in the original signal.

    The signal is resampled and filtered a pass at a time, so memory stays bounded on long recordings.
    """
    n_windows = int((len(values) / fs - WINDOW_S) // STEP_S) + 1
    if n_windows <= 0:
        return np.zeros((0, len(FEATURES))), np.zeros(0, int)
    peaks_s = np.asarray(r_peaks, float) / fs
    parts = []
    for first in range(0, n_windows, CHUNK_WINDOWS):
        count = min(CHUNK_WINDOWS, n_windows - first)
        t0 = first * STEP_S
        a = max(0, int((t0 - PAD_S) * fs))
        b = min(len(values), int(np.ceil((t0 + (count - 1) * STEP_S + WINDOW_S + PAD_S) * fs)))
        x = _resampled(values[a:b], fs)
        offset = round((t0 - a / fs) * FS)
        starts = offset + np.arange(count) * STEP_S * FS
        starts = starts[starts + WINDOW_S * FS <= len(x)]
        parts.append(_features(x, starts, peaks_s - a / fs))
    feats = np.concatenate(parts)
    return feats, np.round(np.arange(len(feats)) * STEP_S * fs).astype(int)


def _features(x: np.ndarray, starts: np.ndarray, peaks_s: np.ndarray) -> np.ndarray:
    win = WINDOW_S * FS
    n = len(starts)
    frames = np.lib.stride_tricks.sliding_window_view(x, win)[starts]
    seconds = frames.reshape(n, WINDOW_S, FS)
    peak = np.abs(seconds).max(axis=2, keepdims=True)
    tcsc = np.mean(np.abs(seconds) > 0.2 * np.maximum(peak, 1e-9), axis=(1, 2))
    # VF filter leakage, half-period estimated from mean absolute value and slope.
    absum = np.abs(frames).sum(axis=1)
    slope = np.abs(np.diff(frames, axis=1)).sum(axis=1)
    half = np.clip(np.floor(np.pi * absum / np.maximum(slope, 1e-9) + 0.5).astype(int), 1, win // 2)
    j = np.arange(win)
    valid = j[None, :] >= half[:, None]
    shifted = np.take_along_axis(frames, np.clip(j[None, :] - half[:, None], 0, win - 1), axis=1)
    num = np.where(valid, np.abs(frames + shifted), 0.0).sum(axis=1)
    den = np.where(valid, np.abs(frames) + np.abs(shifted), 0.0).sum(axis=1)
    leakage = num / np.maximum(den, 1e-9)
    spectrum = np.abs(np.fft.rfft(frames * np.hamming(win), axis=1)) ** 2
    freqs = np.fft.rfftfreq(win, 1.0 / FS)
    band = (freqs >= 0.5) & (freqs <= 30)
    total = np.maximum(spectrum[:, band].sum(axis=1), 1e-12)
    search = (freqs >= 1.0) & (freqs <= 10.0)
    peak_hz = freqs[search][np.argmax(spectrum[:, search], axis=1)]
    cumulative = np.concatenate([np.zeros((n, 1)), np.cumsum(spectrum, axis=1)], axis=1)
    lo_bin = np.searchsorted(freqs, 0.7 * peak_hz, side="left")
    hi_bin = np.searchsorted(freqs, 1.4 * peak_hz, side="right")
    rows = np.arange(n)
    a2 = (cumulative[rows, hi_bin] - cumulative[rows, lo_bin]) / total
    high_fraction = spectrum[:, freqs >= 12].sum(axis=1) / total
    share = spectrum[:, band] / total[:, None]
    spectral_entropy = -(share * np.log(share + 1e-12)).sum(axis=1) / np.log(band.sum())
    centred = frames - frames.mean(axis=1, keepdims=True)
    m2 = np.mean(centred**2, axis=1)
    kurt = np.mean(centred**4, axis=1) / np.maximum(m2**2, 1e-18) - 3.0
    power = np.abs(np.fft.rfft(centred, n=2 * win, axis=1)) ** 2
    autocorr = np.fft.irfft(power, axis=1)[:, :win]
    autocorr /= np.maximum(autocorr[:, :1], 1e-12)
    periodicity = autocorr[:, int(0.2 * FS) : int(1.2 * FS)].max(axis=1)
    # Beats found by the detector in each window, and how regular their intervals are.
    peaks = peaks_s * FS
    lo = np.searchsorted(peaks, starts)
    hi = np.searchsorted(peaks, starts + win)
    beats = (hi - lo).astype(float)
    rr = np.diff(peaks)
    c1 = np.concatenate([[0.0], np.cumsum(rr)])
    c2 = np.concatenate([[0.0], np.cumsum(rr**2)])
    pairs = np.maximum(hi - lo - 1, 0)  # intervals between consecutive beats inside the window
    first = np.minimum(lo, len(c1) - 1)
    last = np.minimum(lo + pairs, len(c1) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (c1[last] - c1[first]) / pairs
        var = np.maximum((c2[last] - c2[first]) / pairs - mean**2, 0.0)
        rr_cv = np.where(pairs >= 2, np.sqrt(var) / mean, 1.0)
    return np.column_stack(
        [tcsc, leakage, a2, high_fraction, peak_hz, beats, rr_cv, spectral_entropy, kurt, periodicity]
    )


def model_inputs(features: np.ndarray) -> np.ndarray:
    """The logistic model's inputs (``INPUTS``) from the window features (``FEATURES``)."""
    f = np.asarray(features, float)
    beats, rr_cv = f[:, 5], f[:, 6]
    return np.column_stack(
        [
            f[:, :5],
            np.minimum(beats, 12.0),
            np.where(beats >= 3, rr_cv, 0.0),
            (beats <= 1).astype(float),
            f[:, 7:],
            f[:, 0] * f[:, 2],
        ]
    )


# A window with this share of its power at 12 Hz or more is no VF/VFL (np.inf: off): muscle artefact.
# Marked VF on cudb reads 0.02 at the median, 0.25 at the 99th percentile; the Noise Stress Test
# Database's muscle-artefact record, no ECG at all, 0.64, and its windows the model read as VF 0.67.
HIGH_FRACTION_MAX = 0.3


def vf_probability(features: np.ndarray) -> np.ndarray:
    z = (model_inputs(features) - MEAN) / SCALE
    p = 1.0 / (1.0 + np.exp(-(z @ WEIGHTS + BIAS)))
    if len(p):
        p = np.where(features[:, FEATURES.index("high_fraction")] > HIGH_FRACTION_MAX, 0.0, p)
    return cast(np.ndarray, p)


def decided_windows(probability: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) window of each stretch where the mean of ``DECISION_WINDOWS`` windows reaches
    the threshold; the stretch starts at the first of those windows that is itself likely VF."""
    k = DECISION_WINDOWS
    if len(probability) < k:
        return []
    cumulative = np.concatenate([[0.0], np.cumsum(probability)])
    mean = np.zeros(len(probability))
    mean[k - 1 :] = (cumulative[k:] - cumulative[:-k]) / k
    flagged = mean >= THRESHOLD
    edges = np.diff(np.concatenate([[0], flagged.astype(np.int8), [0]]))
    out = []
    for first, last in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1):
        start = int(first) - k + 1
        while start < first and probability[start] < LEADING_MIN:
            start += 1
        out.append((start, int(last)))
    return out


def episodes(probability: np.ndarray, starts: np.ndarray, fs: float, n_samples: int) -> list[tuple[int, int]]:
    """(start, end) samples, ``end`` inclusive, of the episodes the windows starting at ``starts`` decide
    (``decided_windows``), each from its first window's centre to its last's, merged across short gaps."""
    centre = round((WINDOW_S - STEP_S) / 2 * fs)  # from a window's edge to its middle second
    span = round(WINDOW_S * fs)
    out: list[list[int]] = []
    for first, last in decided_windows(probability):
        start, end = int(starts[first]) + centre, min(int(starts[last]) + span - centre, n_samples) - 1
        if out and (start - out[-1][1]) / fs <= MERGE_GAP_S:
            out[-1][1] = end
        else:
            out.append([start, end])
    return [(start, end) for start, end in out]


def vf_events(
    values: np.ndarray, fs: float, r_peaks: np.ndarray, no_signal: list[tuple[int, int]] | None = None
) -> list[Event]:
    """VF/VFL episodes: stretches of windows decided as VF (``episodes``), merged across short gaps;
    none in the stretches without signal (``no_signal``: ``signal_loss.stretches`` of ``values``, its flat
    stretches found here when not given) of two seconds or more."""
    feats, starts = window_features(values, fs, r_peaks)
    if len(feats) == 0:
        return []
    span = round(WINDOW_S * fs)
    probability = vf_probability(feats)
    # a lead off or a filled gap is no VF, though its filtered residue reads as one
    lost = signal_loss.no_signal(values, fs) if no_signal is None else no_signal
    # a window is read through a bridged gap shorter than the flat-stretch bound (``long_enough``)
    probability[signal_loss.overlapping(signal_loss.long_enough(lost, fs), starts, starts + span - 1)] = 0.0
    events = []
    for start, end in episodes(probability, starts, fs, len(values)):
        # no count of beats: what the detector marks inside VF/VFL are waves, not beats
        events.append(Event("vf", start, end, None, None))
    return events


# The least share of a signal's power (around its median) the detector's 1-30 Hz band must hold for VF found in it
# to be the heart's: marked VF on cudb holds 42 % or more of it, baseline wander (a slow sine, whose filtered
# residue the detector reads as a flutter wave) 8 % at 0.8 Hz and well under 1 % at 0.3 Hz.
IN_BAND_MIN = 0.25


def fibrillating(values: np.ndarray, fs: float, r_peaks: np.ndarray) -> bool:
    """Whether a signal in which the beat detector finds (almost) no beats is in VF/VFL (``vf_events``), rather than
    a lead holding only baseline wander or noise: what lets a strip recorded in VF be analysed at all."""
    if not vf_events(values, fs, r_peaks):
        return False
    x = np.asarray(values, float)
    x = x - np.median(x)
    sos = sps.butter(2, [1.0, min(30.0, 0.45 * fs)], btype="bandpass", fs=fs, output="sos")
    in_band = float(np.sum(cast(np.ndarray, sps.sosfiltfilt(sos, x)) ** 2))
    return in_band >= IN_BAND_MIN * float(np.sum(x**2))
