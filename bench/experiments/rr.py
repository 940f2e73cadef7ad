"""RR-interval features of beats, from the R-peak positions of one recording (EXPERIMENT).

A single Kaggle-format beat starts at its own R-peak and carries no timing: it cannot tell a
premature (S) beat from a normal one of the same shape. The inter-patient literature (de Chazal
et al. 2004, Mondejar-Guerra et al. 2019) adds RR-interval features; these are those features,
computed from nothing but the R-peak sample positions of one recording (reference annotations in
training, the detector's peaks in the product), so they can be computed wherever beats are cut.

Features per R-peak (``RR_FEATURES`` order), intervals in seconds:

* ``pre_rr``, ``post_rr``: interval to the previous / next R-peak;
* ``local_rr``: mean of the (up to) ``LOCAL_BEATS`` intervals around the beat (5 before, 5 after);
* ``pre_local``, ``post_local``: pre-RR / local RR and post-RR / local RR (prematurity and the
  compensatory pause, relative to the local rhythm);
* ``pre_post``: pre-RR / post-RR;
* ``pre_median``, ``post_median``, ``local_median``: pre-RR, post-RR and local RR over the
  recording's median RR (per-recording normalisation: a patient's own heart rate cancels out).

Edge beats: the first beat has no previous interval and the last no next one; the missing interval
is taken as the local mean RR (ratio 1, i.e. "not premature, no pause": the neutral assumption).
Absolute intervals are clipped to [0, ``MAX_RR_S``] s and ratios to [0, ``MAX_RATIO``] so a gap in
the detection (a long pause, a missed beat) cannot push a feature far out of range. With fewer
than two R-peaks there is no interval at all: :func:`rr_features` then returns zeros and
:func:`rr_available` is False - callers use the model's masked path (``rr_input(.., False)``).
"""

from __future__ import annotations

import numpy as np

RR_FEATURES: tuple[str, ...] = (
    "pre_rr",
    "post_rr",
    "local_rr",
    "pre_local",
    "post_local",
    "pre_post",
    "pre_median",
    "post_median",
    "local_median",
)
N_RR_FEATURES = len(RR_FEATURES)
LOCAL_BEATS = 10
MAX_RR_S = 3.0
MAX_RATIO = 4.0


def rr_available(r_peaks: np.ndarray) -> bool:
    """Whether RR features can be computed (two or more R-peaks)."""
    return len(np.asarray(r_peaks)) >= 2


def rr_features(r_peaks: np.ndarray, fs: float) -> np.ndarray:
    """RR features (n, ``N_RR_FEATURES``) float32 of each of the ``n`` R-peaks of one recording.

    ``r_peaks`` are sample indices (sorted ascending; they are sorted here if not) at ``fs`` Hz.
    Rows follow the sorted order of ``r_peaks``.
    """
    peaks = np.sort(np.asarray(r_peaks, dtype=np.float64))
    n = len(peaks)
    if n < 2:
        return np.zeros((n, N_RR_FEATURES), dtype=np.float32)
    if fs <= 0:
        raise ValueError(f"sampling rate must be positive, got {fs}")
    rr = np.diff(peaks) / float(fs)  # rr[j] = interval between beat j and beat j+1
    # Local mean: intervals rr[i-5 .. i+4] (5 before beat i, 5 after), clipped to the recording.
    half = LOCAL_BEATS // 2
    csum = np.r_[0.0, np.cumsum(rr)]
    idx = np.arange(n)
    lo = np.clip(idx - half, 0, len(rr))
    hi = np.clip(idx + half, 0, len(rr))
    local = (csum[hi] - csum[lo]) / np.maximum(hi - lo, 1)
    pre = np.r_[np.nan, rr]
    post = np.r_[rr, np.nan]
    pre = np.where(np.isnan(pre), local, pre)
    post = np.where(np.isnan(post), local, post)
    median = float(np.median(rr))

    def ratio(a: np.ndarray, b: np.ndarray | float) -> np.ndarray:
        return np.clip(np.divide(a, b, out=np.ones_like(a), where=np.asarray(b) > 0), 0.0, MAX_RATIO)

    features = np.stack(
        [
            np.clip(pre, 0.0, MAX_RR_S),
            np.clip(post, 0.0, MAX_RR_S),
            np.clip(local, 0.0, MAX_RR_S),
            ratio(pre, local),
            ratio(post, local),
            ratio(pre, post),
            ratio(pre, median),
            ratio(post, median),
            ratio(local, median),
        ],
        axis=1,
    )
    return features.astype(np.float32)


def features_at(r_peaks: np.ndarray, fs: float, beat_peaks: np.ndarray) -> np.ndarray:
    """RR features of the beats at ``beat_peaks`` (a subset of ``r_peaks``, e.g. the peaks that
    gave a beat: the last R-peak of a recording gives none), computed over all of ``r_peaks``."""
    peaks = np.sort(np.asarray(r_peaks, dtype=np.int64))
    where = np.searchsorted(peaks, np.asarray(beat_peaks, dtype=np.int64))
    if len(where) and (where.max() >= len(peaks) or not np.array_equal(peaks[where], beat_peaks)):
        raise ValueError("beat_peaks must be a subset of r_peaks")
    return rr_features(peaks, fs)[where]


def rr_input(features: np.ndarray, available: bool | np.ndarray) -> np.ndarray:
    """Model input (n, ``N_RR_FEATURES`` + 1): the features followed by an "RR available" flag.

    Where RR is not available (beat-file uploads have no positions) the features are zeros and the
    flag is 0 - the masked path the two-input model is trained on for a share of its beats.
    """
    features = np.asarray(features, dtype=np.float32)
    flag = np.broadcast_to(np.asarray(available, dtype=np.float32), (len(features),))[:, None]
    return np.concatenate([features * flag, flag], axis=1).astype(np.float32)
