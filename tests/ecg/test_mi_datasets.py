"""MI data readers (PTB xlsx + header, raw PTB WFDB, Kaggle PTB CSV, PTB-XL npy) and the beat builder."""

import numpy as np
import pytest

from ecg.constants import BEAT_LENGTH
from ecg.datasets import mi, ptb, ptbxl
from tests.data import DATA_DIR, mi_dir, require


def test_ptb_excerpt_and_header():
    path = mi_dir() / "ptbdb_10s_xlsx" / "patient205_s0426_re.xlsx"
    signal, header = ptb.read_excerpt(path)
    assert header.patient_id == "patient205" and header.is_mi and not header.is_healthy
    assert header.fs == 1000 and header.n_samples == 10_000
    assert list(signal.leads) == list(ptb.LEADS_12)
    assert all(len(v) == 10_000 for v in signal.leads.values())
    assert signal.units["II"] == "mV"
    # aVL comes before aVR in the sheet: values must land under the right names.
    assert signal.leads["aVL"][0] == pytest.approx(-1143 / 2000, abs=1e-3)
    assert signal.leads["aVR"][0] == pytest.approx(-2119 / 2000, abs=1e-3)
    assert ptb.first_samples_match(signal, header)


def test_ptb_misaligned_excerpt_is_detected():
    signal, header = ptb.read_excerpt(mi_dir() / "ptbdb_10s_xlsx" / "patient248_s0481_re.xlsx")
    assert header.is_healthy
    assert not ptb.first_samples_match(signal, header)


def test_raw_ptb_record():
    path = require(DATA_DIR / "ptbdb" / "patient001" / "s0010_re.hea", "raw PTB record patient001")
    signal, header = ptb.read_record(path.with_suffix(""))
    assert header.patient_id == "patient001" and header.is_mi
    assert signal.fs == 1000 and "II" in signal.leads and "V6" in signal.leads
    assert signal.units["II"] == "mV"


def test_kaggle_ptb_csv(tmp_path):
    rng = np.random.default_rng(0)
    normal = np.column_stack([rng.random((3, BEAT_LENGTH)), np.zeros(3)])
    abnormal = np.column_stack([rng.random((4, BEAT_LENGTH)), np.ones(4)])
    paths = []
    for name, rows in (("ptbdb_normal.csv", normal), ("ptbdb_abnormal.csv", abnormal)):
        paths.append(tmp_path / name)
        paths[-1].write_text("\n".join(",".join(f"{v:.10e}" for v in row) for row in rows) + "\n")
    x, y = ptb.read_kaggle_ptb_csv(paths[0], label=0)
    assert x.shape == (3, BEAT_LENGTH) and y.tolist() == [0, 0, 0]  # first row kept
    with pytest.raises(ValueError, match="labelled 0"):
        ptb.read_kaggle_ptb_csv(paths[1], label=0)
    beats = mi.kaggle_ptb_beats(paths[0], paths[1])
    assert len(beats) == 7 and beats.labels.sum() == 4 and set(beats.sources) == {"kaggle-ptb"}


def test_ptbxl_npy_and_labels():
    directory = mi_dir() / "ptbxl_500hz_preprocessed_npy"
    labels = ptbxl.read_labels(directory)
    assert len(labels) == 116 and labels.patient_id.nunique() == 116
    assert (labels.label == "MI").sum() == 58
    # 12 MI records whose every MI statement is only "possible" (likelihood 15).
    assert labels.uncertain_mi.sum() == 12
    assert not labels[labels.label == "NORM"].uncertain_mi.any()
    row = labels.iloc[0]
    signal = ptbxl.read_npy(directory / row.file)
    assert signal.fs == 500 and list(signal.leads) == list(ptb.LEADS_12)
    assert len(signal.leads["II"]) == 5000


def test_harmonise_matches_ptbxl_preprocessing():
    fs = 1000.0
    t = np.arange(int(10 * fs)) / fs
    x = 3.0 + 0.5 * np.sin(2 * np.pi * 0.05 * t) + np.sin(2 * np.pi * 10 * t) + 0.3 * np.sin(2 * np.pi * 100 * t)
    y = mi.harmonise(x, fs)
    assert abs(y.mean()) < 1e-6 and y.std() == pytest.approx(1.0)
    spectrum = np.abs(np.fft.rfft(y))
    freqs = np.fft.rfftfreq(len(y), 1 / fs)
    assert spectrum[np.argmin(abs(freqs - 100))] < 0.01 * spectrum[np.argmin(abs(freqs - 10))]


def test_plausible_beats_refuses_noise_and_keeps_a_real_excerpt():
    beats, r_peaks, reason = mi.plausible_beats(np.random.default_rng(0).normal(size=5000) * 0.01, 500.0)
    assert len(beats) == 0 or reason == ""
    signal = ptbxl.read_npy(mi_dir() / "ptbxl_500hz_preprocessed_npy" / "9.npy")
    beats, r_peaks, reason = mi.plausible_beats(signal.leads["II"], signal.fs)
    assert reason == "" and 8 <= len(beats) <= 12 and beats.shape[1] == BEAT_LENGTH
    assert beats.min() >= 0 and beats.max() <= 1


EXCERPTS = {"patient205_s0426_re", "patient214_s0436_re", "patient248_s0481_re"}  # MI, healthy, misaligned


def test_mi_dataset_counts_and_patients():
    beats, records = mi.build_mi_dataset(mi_dir(), excerpts=EXCERPTS)
    by_source = {s: {r.patient_id for r in records if r.source == s and r.n_beats} for s in ("ptb", "ptbxl")}
    assert len(by_source["ptbxl"]) == 116  # the product's detector gives plausible beats on all of them
    assert by_source["ptb"] == {"patient205", "patient214"}
    assert any(r.record == "patient248_s0481_re" and "excluded" in r.note for r in records)
    # one label per patient, and PTB patients never share ids with PTB-XL ones
    labels = {}
    for p, y in zip(beats.patient_ids.tolist(), beats.labels.tolist()):
        assert labels.setdefault(p, y) == y
    assert beats.uncertain.sum() > 0 and beats.labels[beats.uncertain].min() == 1
    assert beats.beats.shape[1] == BEAT_LENGTH and beats.beats.dtype == np.float32
