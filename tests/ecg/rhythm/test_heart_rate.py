import numpy as np
import pytest

from ecg.rhythm import analyse_rhythm
from ecg.rhythm.heart_rate import extremes, hrv_time, nn_intervals, per_minute
from ecg.rhythm.pauses import pause_events, rate_episodes

FS = 250.0


def from_rr(rr_s) -> np.ndarray:
    return np.round(np.cumsum(rr_s) * FS).astype(int)


def test_the_minute_trend_follows_the_rate():
    rr = np.concatenate([np.full(75, 0.8), np.full(120, 0.5)])  # one minute at 75, one at 120 bpm
    minutes = per_minute(from_rr(rr), FS, int(rr.sum() * FS) + 1)
    assert minutes["hr_mean"][0] == pytest.approx(75, abs=1)
    assert minutes["hr_mean"][1] == pytest.approx(120, abs=1)
    assert minutes["hr_min"][1] <= minutes["hr_mean"][1] <= minutes["hr_max"][1]


def test_extremes_are_over_eight_beats_with_their_times():
    rr = np.concatenate([np.full(50, 0.8), [0.4], np.full(50, 0.8), np.full(10, 1.5), np.full(50, 0.8)])
    r_peaks = from_rr(rr)
    found = extremes(r_peaks, FS)
    assert found["hr_max"]["bpm"] == pytest.approx(60 * 8 / (7 * 0.8 + 0.4), abs=0.1)  # one short interval is diluted
    assert found["hr_min"]["bpm"] == pytest.approx(40.0, abs=0.1)
    assert r_peaks[100] <= found["hr_min"]["start"] and found["hr_min"]["end"] <= r_peaks[110]


def test_hrv_uses_normal_to_normal_intervals_only():
    rng = np.random.default_rng(1)
    rr = 0.8 + 0.03 * rng.standard_normal(600)
    classes = np.array(["N"] * 600)
    classes[::50] = "V"
    nn, t = nn_intervals(from_rr(rr), classes, FS)
    assert len(nn) < 600 - 2 * 11
    hrv = hrv_time(nn, t)
    assert hrv["sdnn_ms"] == pytest.approx(30, rel=0.2)
    assert hrv["rmssd_ms"] == pytest.approx(30 * np.sqrt(2), rel=0.2)
    assert 0 < hrv["pnn50_pct"] < 100


def test_a_pause_is_two_seconds_or_more():
    r_peaks = from_rr([0.8] * 10 + [2.0] + [0.8] * 10 + [1.9] + [0.8] * 10)
    found = pause_events(r_peaks, FS)
    assert [(e.start, e.end) for e in found] == [(r_peaks[9], r_peaks[10])]


def test_long_silence_is_asystole_not_a_pause():
    r_peaks = from_rr([0.8] * 20 + [5.0] + [0.8] * 20 + [2.5] + [0.8] * 20)
    report = analyse_rhythm(signal=None, fs=FS, r_peaks=r_peaks, classes=["N"] * len(r_peaks))
    assert [e.type for e in report.events] == ["asystole", "pause"]
    assert report.summary["pauses"]["longest"]["type"] == "asystole"


def test_sustained_slow_and_fast_rates_are_episodes_and_short_ones_are_not():
    rr = [0.8] * 40 + [1.4] * 30 + [0.8] * 40 + [0.5] * 80 + [0.8] * 40 + [0.5] * 20 + [0.8] * 40
    found = rate_episodes(from_rr(rr), FS)
    assert [e.type for e in found] == ["brady", "tachy"]
    assert found[0].rate_bpm == pytest.approx(60 / 1.4, abs=3)


def test_the_hourly_table_counts_beats_and_ectopy():
    rr = np.full(5400, 0.8)  # 72 minutes at 75 bpm
    classes = np.array(["N"] * 5400)
    classes[100] = "V"
    classes[5000] = "S"
    report = analyse_rhythm(signal=None, fs=FS, r_peaks=from_rr(rr), classes=classes)
    hours = report.hours
    assert [h["hour"] for h in hours] == [0, 1]
    assert hours[0]["v"] == 1 and hours[1]["s"] == 1 and sum(h["beats"] for h in hours) == 5400
    assert hours[0]["hr_mean"] == pytest.approx(75, abs=0.5)
