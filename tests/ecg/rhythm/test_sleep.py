"""The heart rate awake and asleep from the per-minute trend and the diary's sleep periods (ecg.rhythm.sleep)."""

import numpy as np
import pytest

from ecg.rhythm import sleep
from ecg.rhythm.heart_rate import per_minute
from ecg.rhythm.sleep import awake_asleep, minutes_in, rate_over

FS = 250.0
MINUTE = int(60 * FS)


def trend_of(rates: list[float]) -> dict:
    """A stored trend of one minute per rate: as many beats, its 4-beat extremes 2 bpm either side."""
    return {
        "minute": list(range(len(rates))),
        "beats": [round(r) for r in rates],
        "hr_min": [r - 2.0 for r in rates],
        "hr_mean": [float(r) for r in rates],
        "hr_max": [r + 2.0 for r in rates],
    }


def test_a_minute_is_asleep_when_its_middle_lies_in_a_sleep_period():
    # minutes 1 and 2 (their middles at 1.5 and 2.5 min); minute 3's middle (3.5 min) is past the end
    inside = minutes_in([(int(1.2 * MINUTE), int(3.4 * MINUTE))], fs=FS, n_samples=5 * MINUTE, minutes=5)
    assert inside.tolist() == [False, True, True, False, False]
    # the last minute holds 10 s: its middle is 5 s into it
    short = minutes_in([(3 * MINUTE, 3 * MINUTE + 1300)], fs=FS, n_samples=3 * MINUTE + 2500, minutes=4)
    assert short.tolist() == [False, False, False, True]


def test_a_night_across_midnight_is_asleep_and_the_day_around_it_awake():
    # a recording started at 20:00, one minute of the trend standing for each hour: asleep from 23:10 to 06:45 the
    # next morning (3 h 10 min and 10 h 45 min in: midnight is no boundary of the samples)
    rates = [80, 78, 76, 66, 58, 54, 52, 50, 56, 60, 62, 85, 90]  # 20:00 … 08:00
    hour = MINUTE
    sleep = [(3 * hour + hour // 6, 10 * hour + 3 * hour // 4)]
    found = awake_asleep(
        trend=trend_of(rates),
        fs=FS,
        n_samples=len(rates) * MINUTE,
        sleep=sleep,
        event_types=["pause", "pause", "brady", "pause", "vt", "pause"],
        event_starts=[4 * hour, 6 * hour, 7 * hour, 9 * hour, 12 * hour, 1 * hour],
    )
    asleep, awake = found["asleep"], found["awake"]
    # the minutes 3 to 10, whose middles (23:30 … 06:30) lie in the night
    assert (asleep["minutes"], awake["minutes"]) == (8, 5)
    # each minute's intervals cover the minute here: the mean is the minutes' (458 beats in 8 minutes)
    assert asleep["mean_bpm"] == 57.2 and awake["mean_bpm"] == 81.8
    assert asleep["lowest"] == {"bpm": 48.0, "minute": 7} and asleep["highest"] == {"bpm": 68.0, "minute": 3}
    assert awake["lowest"] == {"bpm": 74.0, "minute": 2} and awake["highest"] == {"bpm": 92.0, "minute": 12}
    # 3 of the 4 pauses began asleep; the VT by day
    assert found["events"] == {
        "pause": {"asleep": 3, "total": 4},
        "brady": {"asleep": 1, "total": 1},
        "vt": {"asleep": 0, "total": 1},
    }
    assert found["extreme_beats"] == 4  # the trend's extremes, not the summary's 8-beat ones


def test_the_trend_of_real_beats_gives_the_rate_asleep():
    # from beats through heart_rate.per_minute, as the analysis stores it: 2 minutes at 75, 2 at 50, 1 at 75
    rr = np.concatenate([np.full(150, 0.8), np.full(100, 1.2), np.full(75, 0.8)])
    r_peaks = np.round(np.cumsum(rr) * FS).astype(int)
    minutes = per_minute(r_peaks, FS, 5 * MINUTE)
    trend = {k: [None if np.isnan(v) else float(v) for v in minutes[k]] for k in ("hr_min", "hr_mean", "hr_max")}
    trend |= {"minute": minutes["minute"].tolist(), "beats": minutes["beats"].tolist()}
    found = awake_asleep(trend=trend, fs=FS, n_samples=5 * MINUTE, sleep=[(2 * MINUTE, 4 * MINUTE - 1)])
    assert found["asleep"]["minutes"] == 2 and found["asleep"]["mean_bpm"] == pytest.approx(50, abs=1)
    assert found["awake"]["minutes"] == 3 and found["awake"]["mean_bpm"] == pytest.approx(75, abs=1)
    assert found["asleep"]["lowest"]["bpm"] == pytest.approx(50, abs=1)


def test_without_sleep_every_minute_is_awake():
    trend = trend_of([70, 72, 74])
    found = awake_asleep(trend=trend, fs=FS, n_samples=3 * MINUTE, sleep=[], event_types=["pause"], event_starts=[5])
    assert found["asleep"] == {"minutes": 0, "mean_bpm": None, "lowest": None, "highest": None}
    assert found["awake"]["minutes"] == 3 and found["awake"]["mean_bpm"] == pytest.approx(72, abs=0.5)
    assert found["events"] == {"pause": {"asleep": 0, "total": 1}}


def test_minutes_without_a_rate_are_not_counted():
    # minute 1 without a rate (VF, no signal or noise): in no figure, nor in the minutes counted
    found = rate_over(
        np.array([True, True, True]),
        beats=[60, 0, 50],
        hr_min=[58.0, None, 48.0],
        hr_mean=[60.0, None, 50.0],
        hr_max=[62.0, None, 52.0],
    )
    assert found["minutes"] == 2
    assert found["mean_bpm"] == pytest.approx(110 / (60 / 60 + 50 / 50), abs=0.01)  # beats over time: 55, not 55.45
    assert found["lowest"] == {"bpm": 48.0, "minute": 2} and found["highest"] == {"bpm": 62.0, "minute": 0}


def test_the_af_burden_awake_and_asleep_is_the_share_of_each_sides_minutes_in_af_or_flutter():
    # 10 minutes at 100 Hz, asleep from the start of minute 4 to the end of minute 7; AF over minutes 5-6 (asleep)
    # and over half of minute 1 (awake), a flutter over minute 9's first 15 s; a pause is not AF
    fs, minutes = 100.0, 10
    trend = {
        "minute": list(range(minutes)),
        "beats": [60] * minutes,
        "hr_min": [55.0] * minutes,
        "hr_mean": [60.0] * minutes,
        "hr_max": [65.0] * minutes,
    }
    at = 60 * fs  # samples per minute
    figures = sleep.awake_asleep(
        trend=trend,
        fs=fs,
        n_samples=int(minutes * at),
        sleep=[(int(4 * at), int(8 * at) - 1)],
        event_types=["af", "af", "afl", "pause"],
        event_starts=[int(5 * at), int(1 * at), int(9 * at), int(2 * at)],
        event_ends=[int(7 * at) - 1, int(1.5 * at) - 1, int(9.25 * at) - 1, int(3 * at)],
    )
    assert figures["asleep"]["af_burden_pct"] == 50.0  # 2 of its 4 minutes
    assert figures["awake"]["af_burden_pct"] == round(100 * (30 + 15) / 360, 2)  # 45 s of its 6 minutes
    # without the events' ends no burden is given (as before)
    assert (
        "af_burden_pct"
        not in sleep.awake_asleep(
            trend=trend, fs=fs, n_samples=int(minutes * at), sleep=[(int(4 * at), int(8 * at) - 1)]
        )["asleep"]
    )


def test_the_seconds_spans_cover_are_counted_in_each_minute_and_a_last_partial_minute_as_long_as_it_is():
    fs = 10.0
    covered = sleep.seconds_in_minutes([(550, 650), (1190, 5000)], fs=fs, n_samples=1250, minutes=3)
    assert covered.tolist() == pytest.approx([5.0, 6.1, 5.0])  # 55-65.1 s, then 119-125 s (the end)
    beats = [60, 60, 0]  # the last minute without a rate: not counted
    burden = sleep.af_burden_over(np.array([True, True, True]), af_seconds=covered, beats=beats, fs=fs, n_samples=1250)
    assert burden == round(100 * (5.0 + 6.1) / 120, 2)
    assert sleep.af_burden_over(np.array([False] * 3), af_seconds=covered, beats=beats, fs=fs, n_samples=1250) is None


def test_a_short_af_over_a_long_night_is_a_burden_above_nothing_not_0_0():
    # 20 s of AF over 12 hours asleep: 0.05 %, which to a tenth had read 0.0 %, as if the night held none
    fs, minutes = 10.0, 12 * 60
    trend = {
        "minute": list(range(minutes)),
        "beats": [60] * minutes,
        "hr_min": [55.0] * minutes,
        "hr_mean": [60.0] * minutes,
        "hr_max": [65.0] * minutes,
    }
    at = 60 * fs
    figures = sleep.awake_asleep(
        trend=trend,
        fs=fs,
        n_samples=int(minutes * at),
        sleep=[(0, int(minutes * at) - 1)],
        event_types=["af"],
        event_starts=[int(100 * at)],
        event_ends=[int(100 * at + 20 * fs) - 1],
    )
    assert figures["asleep"]["af_burden_pct"] == round(100 * 20 / (12 * 3600), 2) > 0
