"""Beats of a 10-s resting 12-lead ECG: every complete beat counted, no cut one, the rate right."""

import numpy as np
import pytest

from ecg.io.readers import read_wfdb
from ecg.processing.context import detect_beats, detection_leads
from ecg.processing.detection import QRS_AFTER_S, QRS_BEFORE_S, detect_r_peaks, keep_complete_edge_beats
from ecg.processing.segmenting import mean_heart_rate
from tests.data import DATA_DIR, require

WINDOW_S = 10.0


@pytest.fixture(scope="module")
def patient001():
    record = require(DATA_DIR / "ptbdb" / "patient001" / "s0010_re.hea", "PTB record patient001")
    return read_wfdb(record.with_suffix(""))


def _windows(signal, step_s: float):
    fs, n = signal.fs, signal.n_samples
    width = int(WINDOW_S * fs)
    return [slice(start, start + width) for start in range(0, n - width, int(step_s * fs))]


def test_every_complete_beat_of_ten_second_excerpts_is_counted_and_no_cut_one(patient001):
    """Excerpts of PTB patient001 cut at many phases of the cardiac cycle: the beats found are the
    whole record's beats whose QRS lies inside the excerpt, and the rate is within 2 bpm of theirs."""
    fs = patient001.fs
    whole = detect_r_peaks(patient001.leads["ii"], fs)
    before, after = int(QRS_BEFORE_S * fs), int(QRS_AFTER_S * fs)
    windows = _windows(patient001, step_s=0.613)
    assert len(windows) >= 40
    wrong_count = 0
    for window in windows:
        leads = {name: values[window] for name, values in patient001.leads.items()}
        found = detect_beats([leads["ii"], *detection_leads(leads, "ii")], fs)
        reference = whole[(whole - window.start >= before) & (whole + after < window.stop)] - window.start
        wrong_count += len(found) != len(reference)
        assert abs(mean_heart_rate(found, fs) - mean_heart_rate(reference, fs)) < 2.0
    assert wrong_count <= len(windows) // 20


def test_the_whole_patient001_record_keeps_every_beat_on_all_twelve_leads(patient001):
    fs = patient001.fs
    found = detect_beats([patient001.leads["ii"], *detection_leads(patient001.leads, "ii")], fs)
    per_lead = [len(detect_r_peaks(values, fs)) for name, values in patient001.leads.items()][:12]
    assert len(found) == int(np.median(per_lead)) == 52


def test_a_cut_qrs_at_either_edge_is_not_a_beat():
    fs = 500.0
    t = np.arange(int(10 * fs))
    beats = np.arange(10, len(t), 400)  # the first R 20 ms into the recording: its QRS began before it
    signal = np.zeros(len(t))
    for r in beats:
        signal += np.exp(-0.5 * ((t - r) / 6.0) ** 2)
    kept = keep_complete_edge_beats(signal[None, :], fs, beats)
    assert kept[0] == beats[1]
    assert kept[-1] == beats[-1] if beats[-1] + QRS_AFTER_S * fs < len(t) else beats[-2]


def test_a_p_wave_beside_the_end_is_not_a_beat_but_a_steep_ectopic_beat_is():
    fs = 500.0
    t = np.arange(int(10 * fs))
    beats = np.arange(200, 4800, 400)
    signal = np.zeros(len(t))
    for r in beats:
        signal += np.exp(-0.5 * ((t - r) / 6.0) ** 2)
    p_wave = 4880
    with_p = signal + 0.15 * np.exp(-0.5 * ((t - p_wave) / 25.0) ** 2)
    assert keep_complete_edge_beats(with_p[None, :], fs, np.r_[beats, p_wave])[-1] == beats[-1]
    ectopic = 4880
    with_v = signal - 1.5 * np.exp(-0.5 * ((t - ectopic) / 12.0) ** 2)
    assert keep_complete_edge_beats(with_v[None, :], fs, np.r_[beats, ectopic])[-1] == ectopic
