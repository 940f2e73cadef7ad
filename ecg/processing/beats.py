"""AAMI beat classes and Kaggle/Kachuee-format beat extraction.

One code path for training data and uploaded recordings: given a signal, its sampling rate and
R-peak sample indices, cut one 187-value beat per R-peak in the format of the Kaggle
"ECG Heartbeat Categorization" CSVs (which the seed model was trained on):

* the beat starts exactly at the R-peak and takes every 3rd sample of a 360 Hz signal (120 Hz,
  no smoothing);
* it runs for 1.2 x the median RR interval of the R-peaks given (in 120 Hz samples, truncated
  to an integer) and is truncated to 187 values;
* it is min-max scaled to [0, 1] over the beat window itself and zero-padded to 187 values;
* the last R-peak gives no beat (its following RR interval is unknown; Kaggle drops it too); a
  window running past the end of the signal is cut there.

Checked against published Kaggle rows: the values match the MLII signal at the annotated R-peak
to within 3e-8 given the row's length. Kaggle's per-beat length, though, is not reproducible from
the reference annotations (it came from Kachuee's own R-peak detector, per 10 s window); we use
the median RR over the whole recording, which differs from Kaggle's length by a few samples on
some beats.

Other sampling rates: an integer multiple of 120 Hz is decimated the same way (every fs/120-th
sample); any other rate is first resampled to 360 Hz with ``scipy.signal.resample_poly``
(polyphase FIR, anti-aliased) and R-peaks are moved to the nearest 360 Hz sample.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

from ecg.constants import AAMI_CLASSES, BEAT_FS, BEAT_LENGTH, SYMBOL_TO_AAMI

RR_FACTOR = 1.2
_REFERENCE_FS = 360


def aami_class(symbol: str) -> str | None:
    """AAMI class of a WFDB beat annotation symbol; None for non-beat annotations."""
    return SYMBOL_TO_AAMI.get(symbol)


def aami_index(symbols: np.ndarray | list[str]) -> np.ndarray:
    """Class index (0..4 in AAMI_CLASSES order) per symbol, -1 for non-beat annotations."""
    lookup = {s: AAMI_CLASSES.index(c) for s, c in SYMBOL_TO_AAMI.items()}
    return np.array([lookup.get(str(s), -1) for s in symbols], dtype=np.int64)


def beat_window(r_peaks: np.ndarray, fs: float) -> int:
    """Beat length in 120 Hz samples: 1.2 x median RR interval, truncated, at most 187."""
    if len(r_peaks) < 2:
        raise ValueError("at least two R-peaks are needed to measure the RR interval")
    median_rr = float(np.median(np.diff(np.asarray(r_peaks, dtype=np.float64))))
    length = int(RR_FACTOR * median_rr * BEAT_FS / fs)
    return max(1, min(length, BEAT_LENGTH))


def _to_decimable(signal: np.ndarray, fs: float, r_peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Signal and R-peaks at a rate that is an integer multiple of 120 Hz, and that multiple."""
    step = fs / BEAT_FS
    if abs(step - round(step)) < 1e-9 and round(step) >= 1:
        return signal, r_peaks, int(round(step))
    ratio = Fraction(_REFERENCE_FS) / Fraction(fs).limit_denominator(1000)
    resampled = resample_poly(signal, ratio.numerator, ratio.denominator)
    moved = np.rint(r_peaks * (_REFERENCE_FS / fs)).astype(np.int64)
    return resampled, moved, _REFERENCE_FS // int(BEAT_FS)


def min_max(beats: np.ndarray, lengths: np.ndarray | int) -> np.ndarray:
    """Scale each beat to [0, 1] over its first ``lengths`` values; zero the rest."""
    beats = np.asarray(beats, dtype=np.float64)
    n, width = beats.shape
    lengths = np.broadcast_to(np.asarray(lengths), (n,))
    inside = np.arange(width)[None, :] < lengths[:, None]
    low = np.where(inside, beats, np.inf).min(axis=1, keepdims=True)
    high = np.where(inside, beats, -np.inf).max(axis=1, keepdims=True)
    span = high - low
    scaled = np.divide(beats - low, span, out=np.zeros_like(beats), where=span > 0)
    return np.where(inside, scaled, 0.0)


def extract_beats(signal: np.ndarray, fs: float, r_peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut Kaggle-format beats at ``r_peaks`` (sample indices into ``signal``).

    Returns (beats float32 of shape (n, 187), the R-peaks in ``signal``'s indices that gave them).
    """
    signal = np.asarray(signal, dtype=np.float64)
    if signal.ndim != 1:
        raise ValueError(f"expected a single-lead 1-D signal, got shape {signal.shape}")
    r_peaks = np.asarray(r_peaks, dtype=np.int64)
    empty = (np.zeros((0, BEAT_LENGTH), np.float32), np.zeros(0, np.int64))
    if len(r_peaks) < 2:
        return empty
    length = beat_window(r_peaks, fs)
    work, work_peaks, step = _to_decimable(signal, fs, r_peaks)
    starts = work_peaks[:-1]
    keep = np.zeros(len(r_peaks), dtype=bool)
    keep[:-1] = (starts >= 0) & (starts < len(work))
    if not keep.any():
        return empty
    starts = work_peaks[keep]
    # A window running past the end of the signal is cut there (Kaggle keeps these beats).
    available = (len(work) - 1 - starts) // step + 1
    lengths = np.minimum(length, available)
    idx = np.minimum(starts[:, None] + step * np.arange(BEAT_LENGTH)[None, :], len(work) - 1)
    return min_max(work[idx], lengths).astype(np.float32), r_peaks[keep]
