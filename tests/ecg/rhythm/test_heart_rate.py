import numpy as np
import pytest

from ecg.rhythm import analyse_rhythm
from ecg.rhythm.events import Event
from ecg.rhythm.heart_rate import extremes, hrv_time, mean_rate, nn_intervals, per_minute, rolling_rate
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


def test_hrv_left_blank_in_atrial_fibrillation_says_why():
    rng = np.random.default_rng(2)
    rr = rng.uniform(0.4, 1.1, 600)  # irregularly irregular throughout: no normal-to-normal interval
    r_peaks = from_rr(rr)
    hrv = analyse_rhythm(signal=None, fs=FS, r_peaks=r_peaks, classes=["N"] * len(r_peaks)).summary["hrv"]
    assert hrv["sdnn_ms"] is None and hrv["nn_count"] < 30
    assert (
        "HRV needs 4 min of them" in hrv["reason"] and "100 % of the beats lie in atrial fibrillation" in hrv["reason"]
    )
    assert "not classed N" not in hrv["reason"]
    # frequent ectopic beats, no AF: the reason names them, not AF
    classes = np.where(np.arange(600) % 2 == 0, "N", "S")
    sinus = from_rr(0.8 + 0.03 * rng.standard_normal(600))
    hrv = analyse_rhythm(signal=None, fs=FS, r_peaks=sinus, classes=classes).summary["hrv"]
    assert "50 % of the beats are not classed N" in hrv["reason"] and "fibrillation" not in hrv["reason"]
    sinus = from_rr(0.8 + 0.03 * rng.standard_normal(600))
    assert analyse_rhythm(signal=None, fs=FS, r_peaks=sinus, classes=["N"] * 600).summary["hrv"]["reason"] is None


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


def test_a_gap_leaves_the_rates_that_would_hold_it():
    r_peaks = from_rr([0.8] * 20 + [30.0] + [0.8] * 20)  # 30 s without beats: VF, not a slow rhythm
    gaps = np.zeros(len(r_peaks) - 1, bool)
    gaps[19] = True  # from beat 19 to beat 20
    rate = rolling_rate(r_peaks, FS, gaps=gaps)
    assert np.isnan(rate[20:28]).all() and rate[28] == pytest.approx(75)  # windows holding the gap, and the next
    assert np.nanmin(rolling_rate(r_peaks, FS)) < 15  # counted in, it reads as a few beats a minute
    assert mean_rate(r_peaks, FS, gaps) == pytest.approx(75)
    assert mean_rate(r_peaks, FS) < 40
    assert mean_rate(r_peaks[:1], FS) is None and mean_rate(r_peaks[:2], FS, gaps[:1] | True) is None
    assert extremes(r_peaks, FS, gaps=gaps)["hr_min"]["bpm"] == pytest.approx(75)
    minutes = per_minute(r_peaks, FS, int(r_peaks[-1]) + 1, gaps=gaps)
    assert np.nanmin(minutes["hr_mean"]) == pytest.approx(75) and np.nanmin(minutes["hr_min"]) == pytest.approx(75)
    assert rate_episodes(from_rr([0.8] * 40 + [60.0] + [0.8] * 40), FS)  # brady across the gap unless told
    gaps = np.zeros(80, bool)
    gaps[39] = True
    assert rate_episodes(from_rr([0.8] * 40 + [60.0] + [0.8] * 40), FS, gaps=gaps) == []


def test_heart_rate_figures_leave_out_a_vf_episode_between_beats():
    rr = [0.8] * 120 + [60.0] + [0.8] * 120  # sinus at 75 bpm, a minute of VF with no beat found, sinus
    r_peaks = from_rr(rr)
    vf_episode = Event("vf", int(r_peaks[119] + 0.5 * FS), int(r_peaks[120] - 0.5 * FS), 0, None)
    report = analyse_rhythm(signal=None, fs=FS, r_peaks=r_peaks, classes=["N"] * len(r_peaks), vf_found=[vf_episode])
    heart = report.summary["heart_rate"]
    assert heart["mean_bpm"] == pytest.approx(75, abs=0.5)
    assert heart["hr_min"]["bpm"] == pytest.approx(75, abs=0.5)
    assert [e.type for e in report.events] == ["vf"]  # no bradycardia, pause or asystole across it
    assert min(h["hr_min"] for h in report.summary["hourly"]) == pytest.approx(75, abs=0.5)
    # without the episode the same beats are a 60-s asystole, and its slow rate counts
    report = analyse_rhythm(signal=None, fs=FS, r_peaks=r_peaks, classes=["N"] * len(r_peaks))
    assert report.summary["heart_rate"]["mean_bpm"] < 60 and "asystole" in [e.type for e in report.events]


def test_the_hourly_table_agrees_with_the_summary():
    # one hour: 30 minutes at 75 bpm and 30 at 120; a beat-weighted average of minute rates leans to the
    # fast half (120 x 3600 + 75 x 2250 beats: 102.7), the recording's mean is beats over time (97.5)
    rr = np.concatenate([np.full(2250, 0.8), np.full(3599, 0.5)])  # just under the hour
    report = analyse_rhythm(signal=None, fs=FS, r_peaks=from_rr(rr), classes=["N"] * len(rr))
    (hour,) = report.hours
    heart = report.summary["heart_rate"]
    assert hour["hr_mean"] == pytest.approx(heart["mean_bpm"], abs=0.1) == pytest.approx(97.5, abs=0.1)
    # extremes over 8 beats, as the summary's: one short interval does not set the hour's maximum
    rr = np.full(4000, 0.8)
    rr[2000] = 0.4
    report = analyse_rhythm(signal=None, fs=FS, r_peaks=from_rr(rr), classes=["N"] * len(rr))
    heart, hours = report.summary["heart_rate"], report.hours
    assert max(h["hr_max"] for h in hours) == heart["hr_max"]["bpm"] == pytest.approx(60 * 8 / 6.0, abs=0.1)
    assert min(h["hr_min"] for h in hours) == heart["hr_min"]["bpm"]


def test_a_tachycardia_episode_leaves_out_an_svt_and_does_not_reach_back_into_af():
    rng = np.random.default_rng(4)
    # sinus, a 60-s SVT at 150 /min, sinus, AF, then 60 s of sinus tachycardia at 120 /min
    rr = np.concatenate(
        [np.full(60, 0.8), np.full(150, 0.4), np.full(60, 0.8), rng.uniform(0.35, 0.9, 200), np.full(120, 0.5)]
    )
    classes = np.array(["N"] * len(rr))
    classes[60:210] = "S"
    report = analyse_rhythm(signal=None, fs=FS, r_peaks=from_rr(rr), classes=classes)
    types = [e.type for e in report.events]
    assert "svt" in types and "af" in types
    tachy = [e for e in report.events if e.type == "tachy"]
    (af,) = [e for e in report.events if e.type == "af"]
    (svt,) = [e for e in report.events if e.type == "svt"]
    assert tachy and all(e.start > af.end or e.end < af.start for e in tachy)  # no tachy over the AF
    assert all(e.start > svt.end or e.end < svt.start for e in tachy)  # nor over the SVT


def test_hrv_needs_minutes_of_normal_to_normal_intervals_and_sdann_an_hour():
    rng = np.random.default_rng(5)
    short = 0.8 + 0.03 * rng.standard_normal(200)  # 160 s of sinus rhythm: 199 intervals, under 4 minutes
    hrv = hrv_time(*nn_intervals(from_rr(short), ["N"] * 200, FS))
    assert hrv["sdnn_ms"] is None and hrv["reason"].startswith("199 normal-to-normal intervals over 2.")
    assert "HRV needs 4 min of them" in hrv["reason"]
    # 30 minutes: SDNN and the others, no SDANN (a 24-hour measure; under an hour of 5-minute segments)
    half_hour = 0.8 + 0.03 * rng.standard_normal(2250)
    hrv = hrv_time(*nn_intervals(from_rr(half_hour), ["N"] * 2250, FS))
    assert hrv["sdnn_ms"] is not None and hrv["reason"] is None and hrv["sdann_ms"] is None
    # two hours whose 5-minute means alternate between 0.8 and 0.9 s: SDANN is their spread
    from ecg.rhythm.heart_rate import sdann

    t = np.concatenate([300.0 * k + np.arange(1, 330) * 0.9 for k in range(24)])
    nn = np.concatenate([np.full(329, 800.0 if k % 2 else 900.0) for k in range(24)])
    assert sdann(nn, t) == pytest.approx(np.std([800.0, 900.0] * 12, ddof=1), abs=0.1)
    assert sdann(nn[t < 3300], t[t < 3300]) is None  # 11 segments: under an hour


def test_sdann_leaves_out_segments_with_few_normal_intervals():
    # 5-minute segments of steady sinus at 0.8 s, but every other one is mostly AF: those hold a handful of
    # NN intervals, their means are not the trend, and with them SDANN would read what they hold
    t, nn = [], []
    for segment in range(24):
        base = 300.0 * segment
        if segment % 2:
            times = base + np.arange(5) * 0.5  # 5 NN intervals of 0.5 s, the rest AF
            values = np.full(5, 500.0)
        else:
            times = base + np.arange(1, 370) * 0.8
            values = np.full(369, 800.0)
        t.append(times)
        nn.append(values)
    from ecg.rhythm.heart_rate import sdann

    assert sdann(np.concatenate(nn), np.concatenate(t)) == pytest.approx(0.0, abs=0.1)


def test_a_couplet_does_not_split_a_sinus_tachycardia():
    rr = np.full(1200, 0.5)  # ten minutes at 120 /min
    classes = np.array(["N"] * 1200)
    classes[600:602] = "S"
    report = analyse_rhythm(signal=None, fs=FS, r_peaks=from_rr(rr), classes=classes)
    assert sorted(e.type for e in report.events) == ["s_couplet", "tachy"]


def test_a_tachycardia_followed_by_bradycardia_do_not_share_beats():
    r_peaks = from_rr([0.5] * 120 + [1.5] * 40)
    found = rate_episodes(r_peaks, FS)
    assert [e.type for e in found] == ["tachy", "brady"] and found[0].end < found[1].start
    r_peaks = from_rr([1.5] * 40 + [0.5] * 120)
    found = rate_episodes(r_peaks, FS)
    assert [e.type for e in found] == ["brady", "tachy"] and found[0].end < found[1].start


def _strip(record: str, start_s: float, seconds: float):
    import wfdb

    from ecg.processing.segmenting import segment

    from ...data import mitdb_dir

    values = wfdb.rdrecord(
        str(mitdb_dir() / record), sampfrom=int(start_s * 360), sampto=int((start_s + seconds) * 360)
    )
    signal = values.p_signal[:, 0]
    _, r_peaks = segment(signal, 360.0)
    return analyse_rhythm(signal=signal, fs=360.0, r_peaks=r_peaks, classes=["N"] * len(r_peaks)).summary


@pytest.mark.parametrize("record, start_s", [("222", 30), ("221", 0), ("232", 480), ("228", 420)])
def test_a_10_s_strip_gives_its_mean_rate_alone_not_extremes_the_mean_reads_beyond(record, start_s):
    """Over a 10-s ECG the few 8-beat windows weigh its first and last R-R intervals less than the mean does: MIT-BIH
    222 from 30 s had read a mean of 74.8 bpm beside a maximum of 74.6. Such a strip's rate is its mean; the 8-beat
    extremes are a Holter's, given over 30 s of R-R intervals or more, in the summary and the hourly table alike."""
    summary = _strip(record, start_s, 10)
    heart, (hour,) = summary["heart_rate"], summary["hourly"]
    assert heart["mean_bpm"] is not None and heart["hr_min"] is None and heart["hr_max"] is None
    assert hour["hr_mean"] == heart["mean_bpm"] and hour["hr_min"] is None and hour["hr_max"] is None


@pytest.mark.parametrize("record", ["108", "207", "221", "222", "228", "232"])
def test_where_extremes_are_given_the_mean_lies_between_them(record):
    for start_s in range(0, 240, 20):
        summary = _strip(record, start_s, 40)
        heart, (hour,) = summary["heart_rate"], summary["hourly"]
        if heart["hr_min"] is not None:
            assert heart["hr_min"]["bpm"] <= heart["mean_bpm"] <= heart["hr_max"]["bpm"], (record, start_s)
        if hour["hr_min"] is not None:
            assert hour["hr_min"] <= hour["hr_mean"] <= hour["hr_max"], (record, start_s)


def test_the_summarys_extremes_are_those_of_the_hourly_table_when_its_last_hour_is_a_few_seconds():
    # an hour at 75 bpm, then 20 s at 100: the last hour's intervals cover too little for 8-beat extremes, in the
    # table and in the summary alike, so the summary's maximum is still an hour's
    rr = np.concatenate([np.full(4500, 0.8), np.full(33, 0.6)])
    report = analyse_rhythm(signal=None, fs=FS, r_peaks=from_rr(rr), classes=["N"] * len(rr))
    heart, hours = report.summary["heart_rate"], report.hours
    assert len(hours) == 2 and hours[1]["hr_max"] is None and hours[1]["hr_mean"] == pytest.approx(100, abs=2)
    assert heart["hr_max"]["bpm"] == max(h["hr_max"] for h in hours if h["hr_max"] is not None)
