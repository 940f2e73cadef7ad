import numpy as np
import pytest
import wfdb

from ecg.rhythm import analyse_rhythm
from ecg.rhythm.af import af_events

from ...data import DATA_DIR, mitdb_dir, require

FS = 250.0


def test_an_irregularly_irregular_stretch_is_af_and_sinus_arrhythmia_is_not():
    rng = np.random.default_rng(3)
    sinus = 0.8 + 0.05 * np.sin(np.arange(300) / 5)  # breathing modulates the rate smoothly
    af_rr = rng.uniform(0.4, 1.1, 300)
    rr = np.concatenate([sinus, af_rr, sinus])
    r_peaks = np.round(np.cumsum(rr) * FS).astype(int)
    events, _ = af_events(r_peaks, ["N"] * len(r_peaks), FS)
    assert len(events) == 1
    af_start, af_end = r_peaks[300], r_peaks[599]
    assert abs(events[0].start - af_start) < 10 * FS and abs(events[0].end - af_end) < 10 * FS


def test_frequent_ventricular_ectopy_is_not_af():
    rr = np.tile([0.8, 0.8, 0.5, 1.1], 150)
    classes = np.tile(["N", "N", "V", "N"], 150)
    r_peaks = np.round(np.cumsum(rr) * FS).astype(int)
    events, _ = af_events(r_peaks, classes, FS)
    assert events == []


def _reference_beats(record: str, sampfrom: int, sampto: int):
    ann = wfdb.rdann(record, "atr", sampfrom=sampfrom, sampto=sampto)
    keep = [i for i, s in enumerate(ann.symbol) if s in "NLRejAaJSVEF/fQ"]
    return ann.sample[keep] - sampfrom, ["V" if ann.symbol[i] in "VE" else "N" for i in keep]


def test_ventricular_fibrillation_is_found_from_the_signal():
    record = str(require(DATA_DIR / "cudb", "Creighton University VT database") / "cu01")
    values = wfdb.rdrecord(record).p_signal[:, 0]
    values = np.nan_to_num(values)
    ann = wfdb.rdann(record, "atr")
    onset = int(ann.sample[list(ann.symbol).index("[")])
    r_peaks, classes = _reference_beats(record, 0, len(values))
    report = analyse_rhythm(signal=values, fs=250.0, r_peaks=r_peaks, classes=classes)
    vf = [e for e in report.events if e.type == "vf"]
    assert vf and abs(vf[0].start - onset) < 10 * 250
    assert report.summary["vf"][0]["start"] == vf[0].start


def test_sinus_rhythm_gives_no_vf():
    record = str(mitdb_dir() / "100")
    values = wfdb.rdrecord(record, sampto=360 * 300).p_signal[:, 0]
    r_peaks, classes = _reference_beats(record, 0, 360 * 300)
    report = analyse_rhythm(signal=values, fs=360.0, r_peaks=r_peaks, classes=classes)
    assert [e for e in report.events if e.type in ("vf", "asystole", "af")] == []
    assert report.summary["heart_rate"]["mean_bpm"] == pytest.approx(75, abs=5)
