"""From a continuous lead to model-ready beats: R-peaks, then the Kaggle-style cut."""

import numpy as np

from ecg.constants import BEAT_LENGTH

from .beats import extract_beats
from .detection import detect_r_peaks

# Beats cut per pass: bounds the cut's float64 temporaries (~8192 x 187 values each) on 24-hour
# recordings; a 30-minute MIT-BIH record (at most ~3,400 beats) is cut in one pass.
CUT_CHUNK_BEATS = 8192


def segment(
    values: np.ndarray, fs: float, *, chunk: int = CUT_CHUNK_BEATS, r_peaks: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Beats (n, 187) and their R-peak sample indices in ``values`` (R-peaks detected unless given).

    Longer recordings are cut ``chunk`` beats at a time, each chunk's beat window set by its own
    median RR (about two hours at 70 bpm; Kachuee's beats used 10 s windows), so memory stays
    bounded whatever the length. Each chunk gets the next R-peak too, which closes its last beat.
    """
    if r_peaks is None:
        r_peaks = detect_r_peaks(values, fs)
    if len(r_peaks) <= chunk + 1:
        return extract_beats(values, fs, r_peaks)
    beats, peaks = [], []
    for start in range(0, len(r_peaks) - 1, chunk):
        part_beats, part_peaks = extract_beats(values, fs, r_peaks[start : start + chunk + 1])
        beats.append(part_beats)
        peaks.append(part_peaks)
    return np.concatenate(beats), np.concatenate(peaks)


def mean_heart_rate(r_peaks: np.ndarray, fs: float) -> float | None:
    """Mean heart rate in beats per minute over the detected beats."""
    if len(r_peaks) < 2:
        return None
    return float(60.0 * fs * (len(r_peaks) - 1) / (r_peaks[-1] - r_peaks[0]))


def segment_every_peak(values: np.ndarray, fs: float, r_peaks: np.ndarray) -> np.ndarray:
    """Kaggle-format beats (n, 187) for every one of ``r_peaks``, the last one included.

    The last R-peak has no following one to close its window; it is closed one median RR later
    (cut at the signal's end), so each detected beat has its row.
    """
    r_peaks = np.asarray(r_peaks, dtype=np.int64)
    if len(r_peaks) < 2:
        return (
            np.zeros((0, BEAT_LENGTH), np.float32)
            if len(r_peaks) == 0
            else extract_beats(values, fs, np.array([r_peaks[0], r_peaks[0] + int(fs)]))[0]
        )
    closing = r_peaks[-1] + int(np.median(np.diff(r_peaks)))
    beats, kept = segment(values, fs, r_peaks=np.append(r_peaks, closing))
    if len(kept) != len(r_peaks):
        raise ValueError("an R-peak lies outside the signal")
    return beats
