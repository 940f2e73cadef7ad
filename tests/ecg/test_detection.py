from fractions import Fraction

import numpy as np
import pytest
from scipy import signal as sps

from ecg.datasets.mitdb import read_detection_reference
from ecg.evaluation.detection import score
from ecg.io.errors import SignalError
from ecg.processing.detection import detect_r_peaks
from tests.data import mitdb_dir


@pytest.fixture(scope="module")
def record_100():
    return read_detection_reference(mitdb_dir(), "100")


# Floors: measured value (bench/results/detector.json) minus a margin.
@pytest.mark.parametrize("record, min_se, min_ppv", [
    ("100", 99.9, 99.9),   # measured 100 / 100
    ("105", 98.5, 98.5),   # noise bursts; measured 98.99 / 99.18
    ("203", 98.0, 99.0),   # multiform PVCs, VT, noise; measured 98.86 / 99.53
])
def test_mitdb_records(record, min_se, min_ppv):
    signal, fs, reference = read_detection_reference(mitdb_dir(), record)
    r_peaks = detect_r_peaks(signal, fs)
    result = score(r_peaks, reference, fs)
    assert 100 * result["sensitivity"] >= min_se
    assert 100 * result["ppv"] >= min_ppv


def test_r_peak_placed_on_annotation(record_100):
    signal, fs, reference = record_100
    offsets = score(detect_r_peaks(signal, fs), reference, fs)["_offsets_ms"]
    assert np.median(np.abs(offsets)) <= 3.0
    assert np.percentile(np.abs(offsets), 95) <= 20.0


def test_r_peak_on_dominant_deflection_of_pvcs():
    # 119: ventricular bigeminy; the band-passed extremum of its PVCs is a side lobe ~80 ms off
    signal, fs, reference = read_detection_reference(mitdb_dir(), "119")
    offsets = np.abs(score(detect_r_peaks(signal, fs), reference, fs)["_offsets_ms"])
    assert np.percentile(offsets, 95) <= 15.0  # measured 5.6


@pytest.mark.parametrize("fs_new", [250, 500])
def test_other_sampling_rates(record_100, fs_new):
    signal, fs, reference = record_100
    ratio = Fraction(fs_new, int(fs))
    resampled = sps.resample_poly(signal, ratio.numerator, ratio.denominator)
    reference_new = np.round(reference * fs_new / fs).astype(np.int64)
    result = score(detect_r_peaks(resampled, float(fs_new)), reference_new, fs_new)
    assert result["sensitivity"] >= 0.99
    assert result["ppv"] >= 0.99


def test_output_contract(record_100):
    signal, fs, _ = record_100
    r_peaks = detect_r_peaks(signal[: int(60 * fs)], fs)
    assert r_peaks.dtype == np.int64
    assert np.all(np.diff(r_peaks) > 0)
    assert 60 <= len(r_peaks) <= 90  # ~75 bpm
    assert r_peaks.min() >= 0 and r_peaks.max() < 60 * fs


def test_flat_and_short_signals_have_no_beats():
    assert len(detect_r_peaks(np.zeros(3600), 360.0)) == 0
    assert len(detect_r_peaks(np.full(3600, 0.7), 360.0)) == 0
    t = np.arange(3600) / 360.0
    assert len(detect_r_peaks(0.5 * np.sin(2 * np.pi * 0.3 * t), 360.0)) == 0
    assert len(detect_r_peaks(np.zeros(100), 360.0)) == 0


def test_noise_has_no_beats(record_100):
    rng = np.random.default_rng(0)
    for fs in (250.0, 360.0, 500.0):
        assert len(detect_r_peaks(rng.normal(0, 0.2, int(30 * fs)), fs)) == 0
    signal, fs, _ = record_100
    noisy = signal[: int(60 * fs)].copy()
    noisy[int(20 * fs):int(40 * fs)] += rng.normal(0, 1.0, int(20 * fs))
    r_peaks = detect_r_peaks(noisy, fs)
    in_noise = np.sum((r_peaks > 20 * fs) & (r_peaks < 40 * fs))
    assert in_noise <= 3
    assert len(r_peaks) - in_noise >= 45  # the clean 40 s still have their ~50 beats


def test_refusals():
    with pytest.raises(SignalError, match="sampling rate 50 Hz is below the minimum of 100 Hz"):
        detect_r_peaks(np.zeros(1000), 50.0)
    with pytest.raises(SignalError, match="one lead"):
        detect_r_peaks(np.zeros((2, 1000)), 360.0)


def test_chunked_processing_matches_whole(record_100, monkeypatch):
    import ecg.processing.detection as detection

    signal, fs, _ = record_100
    whole = detect_r_peaks(signal, fs)
    monkeypatch.setattr(detection, "CHUNK_S", 120.0)
    chunked = detect_r_peaks(signal, fs)
    np.testing.assert_array_equal(chunked, whole)
