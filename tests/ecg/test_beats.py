"""Beat extraction: AAMI mapping, the Kaggle beat format, other sampling rates, MIT-BIH counts."""

import numpy as np
import pytest
from scipy.signal import resample_poly

from ecg.constants import AAMI_CLASSES, BEAT_LENGTH
from ecg.processing.beats import aami_class, aami_index, beat_window, extract_beats
from tests.data import mitdb_dir

# Kaggle's mitbih_train.csv + mitbih_test.csv: 109,446 beats.
KAGGLE_COUNTS = {"N": 90589, "S": 2779, "V": 7236, "F": 803, "Q": 8039}


def test_aami_mapping():
    assert AAMI_CLASSES == ("N", "S", "V", "F", "Q")
    expected = {"N": "NLRej", "S": "AaJS", "V": "VE", "F": "F", "Q": "/fQ"}
    for cls, symbols in expected.items():
        assert all(aami_class(s) == cls for s in symbols)
    for non_beat in ["+", "~", "|", "x", "!", "[", "]", '"', "p", "t", "u"]:
        assert aami_class(non_beat) is None
    assert aami_index(["N", "+", "V", "/"]).tolist() == [0, -1, 2, 4]


def _spiky(fs: float, rr_s: float, n_beats: int) -> tuple[np.ndarray, np.ndarray]:
    peaks = (np.arange(1, n_beats + 1) * rr_s * fs).astype(int)
    signal = np.sin(np.arange(peaks[-1] + int(2 * fs)) / fs * 2 * np.pi * 0.7) * 0.1
    signal[peaks] = 2.0
    return signal, peaks


def test_beat_format_at_360_hz():
    signal, peaks = _spiky(360, 0.8, 10)
    beats, kept = extract_beats(signal, 360, peaks)
    assert beats.shape == (9, BEAT_LENGTH) and beats.dtype == np.float32
    assert kept.tolist() == peaks[:-1].tolist()  # the last R-peak gives no beat
    length = beat_window(peaks, 360)
    assert length == int(1.2 * 288 / 3) == 115  # 1.2 x median RR, in 120 Hz samples
    assert np.all(beats[:, 0] == 1.0)  # starts at the R-peak, the beat's maximum
    assert np.all(beats[:, length:] == 0) and np.all(beats[:, :length].min(axis=1) == 0)
    # every 3rd sample, min-max over the window itself
    window = signal[peaks[0] : peaks[0] + 3 * length : 3]
    assert np.allclose(beats[0, :length], (window - window.min()) / np.ptp(window), atol=1e-6)


def test_long_rr_is_truncated_and_end_of_signal_window_is_cut():
    signal, peaks = _spiky(360, 2.0, 4)  # 1.2 x 2 s = 288 samples at 120 Hz > 187
    beats, _ = extract_beats(signal, 360, peaks)
    assert beats.shape == (3, BEAT_LENGTH) and beats[:, -1].max() > 0
    short = signal[: peaks[1] + 90]  # the second beat's window runs past the end: cut at 30 values
    beats, kept = extract_beats(short, 360, peaks[:3])
    assert kept.tolist() == peaks[:2].tolist()
    assert np.count_nonzero(beats[1][30:]) == 0 and beats[1][:30].max() == 1.0


def test_too_few_peaks_gives_no_beats():
    beats, kept = extract_beats(np.zeros(1000), 360, np.array([100]))
    assert beats.shape == (0, BEAT_LENGTH) and kept.shape == (0,)


def test_mitdb_counts_equal_kaggle():
    from ecg.datasets.mitdb import ALL_RECORDS, load_mitdb

    beats = load_mitdb(mitdb_dir(), ALL_RECORDS)
    counts = dict(zip(AAMI_CLASSES, beats.class_counts().tolist()))
    assert len(beats) == 109_446
    assert counts == KAGGLE_COUNTS
    assert beats.beats.shape == (109_446, BEAT_LENGTH)
    assert float(beats.beats.min()) == 0.0 and float(beats.beats.max()) == 1.0


@pytest.mark.parametrize("fs_new", [250, 500])
def test_other_sampling_rates_give_close_beats(fs_new):
    from ecg.datasets.mitdb import read_record

    signal, fs, _, samples, symbols = read_record(mitdb_dir(), "100")
    labels = aami_index(symbols)
    peaks = samples[labels >= 0][:300]
    signal = signal[: peaks[-1] + 720]
    reference, kept = extract_beats(signal, fs, peaks)
    resampled = resample_poly(signal, fs_new, 360)
    moved = np.rint(peaks * fs_new / 360).astype(int)
    beats, kept_new = extract_beats(resampled, fs_new, moved)
    assert len(beats) == len(reference)
    assert np.array_equal(kept_new, moved[:-1])  # R-peaks reported in the input's own indices
    assert np.median(np.abs(beats - reference).mean(axis=1)) < 0.02
    correlation = [np.corrcoef(a, b)[0, 1] for a, b in zip(beats, reference)]
    assert np.median(correlation) > 0.99
