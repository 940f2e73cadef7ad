"""Stretches without signal (a lead off, a gap filled with one value) are neither asystole nor VF."""

import numpy as np
import pytest
import wfdb

from ecg.rhythm import analyse_rhythm
from ecg.rhythm.signal_loss import no_signal, overlapping

from ...data import mitdb_dir

FS = 360.0


def _sinus_with(fill: str, start_s: int = 100, end_s: int = 160):
    """Five minutes of MIT-BIH 100's first lead with a minute replaced by one value, and its R-peaks."""
    from ecg.processing.detection import detect_r_peaks

    values = wfdb.rdrecord(str(mitdb_dir() / "100"), sampto=int(FS * 300)).p_signal[:, 0].copy()
    a, b = int(FS * start_s), int(FS * end_s)
    values[a:b] = {"zero": 0.0, "hold": values[a - 1], "rail": 5.0}[fill]
    return values, detect_r_peaks(values, FS), (a, b)


def test_constant_stretches_of_two_seconds_or_more_have_no_signal():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, int(FS * 20))
    x[int(FS * 3) : int(FS * 3.5)] = 0.0  # half a second: no whole flat second
    x[int(FS * 6) : int(FS * 7.9)] = 0.0  # one whole second only
    x[int(FS * 10) : int(FS * 14)] = 2.5  # four seconds
    assert no_signal(x, FS) == [(int(FS * 10), int(FS * 14) - 1)]
    assert no_signal(x[: int(FS)], FS) == []
    spans = [(10, 20), (40, 50)]
    assert overlapping(spans, np.array([0, 5, 21, 45, 51]), np.array([9, 10, 39, 46, 60])).tolist() == [
        False,
        True,
        False,
        True,
        False,
    ]
    assert overlapping([], np.array([1]), np.array([2])).tolist() == [False]


def test_a_real_recording_has_signal_throughout():
    values = wfdb.rdrecord(str(mitdb_dir() / "100")).p_signal[:, 0]
    assert no_signal(values, FS) == []


@pytest.mark.parametrize("fill", ["zero", "hold", "rail"])
def test_a_lead_off_is_neither_asystole_nor_vf_and_holds_no_heart_rate(fill):
    values, r_peaks, (a, b) = _sinus_with(fill)
    report = analyse_rhythm(signal=values, fs=FS, r_peaks=r_peaks, classes=["N"] * len(r_peaks))
    assert [e.type for e in report.events if e.type in ("vf", "asystole", "pause", "brady")] == []
    summary = report.summary
    assert summary["no_signal_s"] == pytest.approx(60, abs=1)
    (lost,) = summary["no_signal"]
    assert abs(lost["start"] - a) <= FS and abs(lost["end"] - b) <= FS
    assert summary["heart_rate"]["mean_bpm"] == pytest.approx(75, abs=5)
    assert summary["heart_rate"]["hr_min"]["bpm"] > 60
    # the same beats without the signal: the minute without beats reads as asystole
    blind = analyse_rhythm(signal=None, fs=FS, r_peaks=r_peaks, classes=["N"] * len(r_peaks))
    assert "asystole" in [e.type for e in blind.events] and blind.summary["no_signal"] == []


def test_af_burden_is_over_the_time_with_signal():
    rng = np.random.default_rng(3)
    rr = np.concatenate([np.full(300, 0.8), rng.uniform(0.4, 1.1, 300), [100.0], np.full(300, 0.8)])
    r_peaks = np.round(np.cumsum(rr) * FS).astype(int)
    n = int(r_peaks[-1]) + 1
    lost = (int(r_peaks[599]) + int(FS), int(r_peaks[600]) - int(FS))  # the 100 s without beats: no signal
    kwargs = {"signal": None, "fs": FS, "r_peaks": r_peaks, "classes": ["N"] * len(r_peaks), "n_samples": n}
    without = analyse_rhythm(**kwargs).summary
    with_loss = analyse_rhythm(**kwargs, no_signal=[lost]).summary
    assert without["af"]["episodes"] == with_loss["af"]["episodes"] == 1
    assert with_loss["no_signal_s"] == pytest.approx(98.0, abs=0.05)
    ratio = (n / FS) / (n / FS - with_loss["no_signal_s"])
    assert with_loss["af"]["burden_pct"] == pytest.approx(without["af"]["burden_pct"] * ratio, rel=0.01)
    assert without["asystole"] and with_loss["asystole"] == []  # unmarked, the 100 s read as asystole


def test_af_burden_leaves_vf_time_out_of_the_readable_time():
    """cu05: the minutes in VF/VFL counted as time in sinus rhythm and lowered the AF burden."""
    from ecg.rhythm.events import Event

    rng = np.random.default_rng(3)
    rr = np.concatenate([np.full(300, 0.8), rng.uniform(0.4, 1.1, 300), [100.0], np.full(300, 0.8)])
    r_peaks = np.round(np.cumsum(rr) * FS).astype(int)
    n = int(r_peaks[-1]) + 1
    vf = Event("vf", int(r_peaks[599]) + int(FS), int(r_peaks[600]) - int(FS), 0, None)
    kwargs = {"signal": None, "fs": FS, "r_peaks": r_peaks, "classes": ["N"] * len(r_peaks), "n_samples": n}
    without = analyse_rhythm(**kwargs, vf_found=[]).summary
    with_vf = analyse_rhythm(**kwargs, vf_found=[vf]).summary
    assert with_vf["af"]["episodes"] == without["af"]["episodes"] == 1
    assert with_vf["af"]["duration_s"] == without["af"]["duration_s"]
    vf_s = (vf.end - vf.start + 1) / FS
    ratio = (n / FS) / (n / FS - vf_s)
    assert with_vf["af"]["burden_pct"] == pytest.approx(without["af"]["burden_pct"] * ratio, rel=0.01)
    # a stretch without signal inside the VF is left out once
    lost = (vf.start + int(10 * FS), vf.start + int(20 * FS))
    both = analyse_rhythm(**kwargs, vf_found=[vf], no_signal=[lost]).summary
    assert both["af"]["burden_pct"] == pytest.approx(with_vf["af"]["burden_pct"], rel=0.001)
