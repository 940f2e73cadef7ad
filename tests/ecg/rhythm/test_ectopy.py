import numpy as np
import pytest

from ecg.rhythm import analyse_rhythm
from ecg.rhythm.ectopy import ectopic_events, pattern_events
from ecg.rhythm.heart_rate import rolling_rate
from ecg.rhythm.pauses import rate_episodes

FS = 250.0


def beats(pattern: str, rr_s: dict[str, float] | None = None):
    """R-peaks for a class string: each beat follows the previous by the interval of its class."""
    rr_s = {"N": 0.8, "S": 0.5, "V": 0.5, "F": 0.8, "Q": 0.8} | (rr_s or {})
    times = np.cumsum([rr_s[c] for c in pattern])
    return np.round(times * FS).astype(int), list(pattern)


def types(events):
    return [e.type for e in events]


def test_it_tells_couplets_runs_and_ventricular_tachycardia_apart():
    r_peaks, classes = beats("NNNNVVNNNNVVVNNNNVVVVVVVNNNN", {"V": 0.5})
    events, summary = ectopic_events(r_peaks, classes, FS, kind="V")
    assert types(events) == ["v_couplet", "vt", "vt"]
    assert [e.beats for e in events] == [2, 3, 7]
    assert events[1].start == r_peaks[10] and events[1].end == r_peaks[12]
    assert events[1].rate_bpm == pytest.approx(120.0)
    assert summary["couplets"] == 1 and summary["runs"] == 2 and summary["longest_run"]["beats"] == 7
    assert summary["fast_runs"] == 2
    _, slow = ectopic_events(*beats("NNNNVVVNNNN", {"V": 0.8}), FS, kind="V")  # 75 /min: a run, not tachycardia
    assert (slow["runs"], slow["fast_runs"]) == (1, 0)


def test_a_runs_rate_is_over_its_own_intervals_not_the_coupling_interval_before_it():
    # V beats 0.4 s after the sinus beat, then 0.6 s apart: the run is at 100 /min, the couplet at 100
    # (the coupling interval counted in, they read 109 and 120 /min)
    r_peaks, classes = beats("NNNN" + "VVV" + "NNNN" + "VV" + "NNNN", {"V": 0.6})
    for i in (4, 11):
        r_peaks[i:] -= int(0.2 * FS)
    events, summary = ectopic_events(r_peaks, classes, FS, kind="V")
    assert [(e.type, e.rate_bpm) for e in events] == [("vt", 100.0), ("v_couplet", 100.0)]
    assert summary["fastest_run"]["rate_bpm"] == 100.0


def test_a_slow_ventricular_run_is_not_called_tachycardia():
    r_peaks, classes = beats("NNNNVVVVNNNN", {"V": 0.9})
    events, _ = ectopic_events(r_peaks, classes, FS, kind="V")
    assert types(events) == ["v_run"] and events[0].rate_bpm == pytest.approx(66.7, abs=0.1)


def test_isolated_ectopic_beats_are_counted_not_listed():
    r_peaks, classes = beats("NNVNNNSNNNVNN")
    v_events, v = ectopic_events(r_peaks, classes, FS, kind="V")
    s_events, s = ectopic_events(r_peaks, classes, FS, kind="S")
    assert v_events == [] and s_events == []
    assert (v["isolated"], v["total"], s["isolated"], s["total"]) == (2, 2, 1, 1)


def test_a_fusion_beat_beside_a_ventricular_beat_is_part_of_its_run_as_ec57_counts_it():
    r_peaks, classes = beats("NNNNFVNNNNVFVNNNNFNNNNVNNNSFVNNNNFFNN", {"V": 0.5, "F": 0.5})
    events, summary = ectopic_events(r_peaks, classes, FS, kind="V")
    # fusion beats alone (F F) make no run
    assert [(e.type, e.beats) for e in events] == [("v_couplet", 2), ("vt", 3), ("v_couplet", 2)]
    assert events[0].start == r_peaks[4] and events[0].end == r_peaks[5]
    # a lone fusion beat is neither a run nor an isolated ventricular beat; V beats are counted alone
    assert (summary["isolated"], summary["total"]) == (1, 5)
    s_events, _ = ectopic_events(r_peaks, classes, FS, kind="S")
    assert s_events == []


def test_supraventricular_runs_become_svt_when_fast():
    r_peaks, classes = beats("NNNNSSNNNNSSSSSNNNN", {"S": 0.4})
    events, summary = ectopic_events(r_peaks, classes, FS, kind="S")
    assert types(events) == ["s_couplet", "svt"] and summary["fastest_run"]["beats"] == 5


def test_bigeminy_and_trigeminy_need_three_cycles():
    r_peaks, classes = beats("NNN" + "NV" * 4 + "NNNN" + "NNV" * 3 + "NNNN" + "NV" * 2 + "NNN")
    found = pattern_events(r_peaks, classes, FS)
    assert sorted((e.type, e.beats) for e in found) == [("bigeminy", 8), ("trigeminy", 9)]


def test_the_summary_lists_events_in_time_order_with_counts():
    r_peaks, classes = beats("N" * 40 + "VV" + "N" * 40 + "VVVV" + "N" * 40)
    report = analyse_rhythm(signal=None, fs=FS, r_peaks=r_peaks, classes=classes)
    assert types(report.events) == ["v_couplet", "vt"]
    assert report.summary["event_counts"] == {"v_couplet": 1, "vt": 1}
    assert report.summary["ventricular"]["total"] == 6


def test_the_summary_gives_each_ectopic_burden_as_a_share_of_the_beats_analysed():
    # 120 N, 6 V and 3 S beats: the burden is over every beat the figures are over, not over the N beats
    r_peaks, classes = beats("N" * 40 + "VV" + "N" * 30 + "S" + "N" * 10 + "VVVV" + "N" * 20 + "SS" + "N" * 20)
    summary = analyse_rhythm(signal=None, fs=FS, r_peaks=r_peaks, classes=classes).summary
    assert summary["beats_analysed"] == 129
    assert summary["ventricular"]["burden_pct"] == round(100 * 6 / 129, 2) == 4.65
    assert summary["supraventricular"]["burden_pct"] == round(100 * 3 / 129, 2)
    none = analyse_rhythm(signal=None, fs=FS, r_peaks=beats("N" * 30)[0], classes=["N"] * 30).summary
    assert none["ventricular"]["burden_pct"] == none["supraventricular"]["burden_pct"] == 0.0


def test_no_run_or_pattern_reaches_across_a_vf_episode():
    # MIT-BIH 207: the beats either side of a VF episode were neighbours, so an idioventricular rhythm
    # after VF read as a run at 27 /min (its first interval the VF), and bigeminy wrapped the episode
    pattern = "NNNNNN" + "NVNV" + "VVVVVVVV" + "NNNN"
    r_peaks, classes = beats(pattern, {"V": 1.0})
    r_peaks[10:] += int(60 * FS)  # a minute of VF between beats 9 and 10 (the detector finds no beats there)
    gaps = np.zeros(len(r_peaks) - 1, bool)
    gaps[9] = True
    joined, _ = ectopic_events(r_peaks, classes, FS, kind="V")
    assert joined[0].beats == 9 and joined[0].rate_bpm < 10  # without the gap: one run across the VF
    events, summary = ectopic_events(r_peaks, classes, FS, kind="V", gaps=gaps)
    assert [(e.type, e.beats) for e in events] == [("v_run", 8)]
    assert events[0].start == r_peaks[10] and events[0].rate_bpm == pytest.approx(60.0)
    assert (summary["isolated"], summary["total"]) == (2, 10)
    r_peaks, classes = beats("NNNNNVNV" + "NVNNNN")  # two cycles before the VF, one after
    r_peaks[8:] += int(60 * FS)
    gaps = np.zeros(len(r_peaks) - 1, bool)
    gaps[7] = True
    assert [e.type for e in pattern_events(r_peaks, classes, FS)] == ["bigeminy"]
    assert pattern_events(r_peaks, classes, FS, gaps=gaps) == []


def test_a_bigeminy_before_a_run_ends_at_the_beat_before_the_run():
    # MIT-BIH 203 at 19:13: the bigeminy's last V beat was also the first of the VT after it
    r_peaks, classes = beats("NNN" + "NV" * 5 + "VV" + "NNN" + "NNV" * 4 + "V" + "NNN")
    patterns = pattern_events(r_peaks, classes, FS)
    runs, _ = ectopic_events(r_peaks, classes, FS, kind="V")
    assert [(e.type, e.beats) for e in patterns] == [("bigeminy", 8), ("trigeminy", 9)]
    assert [(e.type, e.beats) for e in runs] == [("vt", 3), ("v_couplet", 2)]
    for pattern in patterns:
        assert all(pattern.end < run.start or run.end < pattern.start for run in runs)


def test_a_trigeminy_turning_into_bigeminy_shares_no_beat_with_it():
    # MIT-BIH 119 at 12:36: the trigeminy's last N V was also the bigeminy's first cycle
    r_peaks, classes = beats("NNN" + "NNV" * 4 + "NV" * 3 + "NNNN" + "NNV" * 3 + "NV" * 4 + "NNN")
    found = pattern_events(r_peaks, classes, FS)
    assert [(e.type, e.beats) for e in found] == [("trigeminy", 12), ("bigeminy", 6), ("trigeminy", 9), ("bigeminy", 8)]
    assert all(a.end < b.start for a, b in zip(found, found[1:]))
    # a trigeminy of three cycles keeps them: the bigeminy has three only with the trigeminy's last one
    r_peaks, classes = beats("NNN" + "NNV" * 3 + "NV" * 2 + "NNNN")
    assert [e.type for e in pattern_events(r_peaks, classes, FS)] == ["trigeminy"]


def test_a_trigeminy_of_four_cycles_gives_its_last_to_the_bigeminy_after_it():
    # MIT-BIH 119 at 12:45 (and 16:05, 21:22, 24:36): N N V x 4 then N V x 2, which the annotators mark as a
    # trigeminy of three cycles and a bigeminy of three, read as the trigeminy alone: the bigeminy had its
    # three cycles only with the trigeminy's last N V, and the trigeminy kept all four
    r_peaks, classes = beats("NNN" + "NNV" * 4 + "NV" * 2 + "NNNN")
    found = pattern_events(r_peaks, classes, FS)
    assert [(e.type, e.beats) for e in found] == [("trigeminy", 9), ("bigeminy", 6)]
    assert found[0].start == r_peaks[3] and found[0].end == r_peaks[11]  # N N V x 3
    assert found[1].start == r_peaks[13] and found[1].end == r_peaks[18]  # the fourth cycle's N V, then N V x 2
    assert all(a.end < b.start for a, b in zip(found, found[1:]))
    report = analyse_rhythm(signal=None, fs=FS, r_peaks=r_peaks, classes=classes)
    assert (
        report.summary["ventricular"]["trigeminy_episodes"],
        report.summary["ventricular"]["bigeminy_episodes"],
    ) == (
        1,
        1,
    )


def test_two_tachycardias_a_few_beats_apart_do_not_overlap():
    # MIT-BIH 233: the second episode started 8 beats back, inside the first. A slower stretch a whole 8-beat
    # window holds (16 intervals at about 92 /min) ends the first; the second starts after it, sharing no beat.
    rr = [0.8] * 20 + [0.5] * 80 + [0.65] * 16 + [0.5] * 80 + [0.8] * 20
    r_peaks = np.round(np.cumsum(rr) * FS).astype(int)
    found = rate_episodes(r_peaks, FS)
    assert [e.type for e in found] == ["tachy", "tachy"]
    assert found[0].end < found[1].start
    # the second episode's first fast 8-beat rate spans the 8 intervals before it, none of the first's
    fast = np.flatnonzero(rolling_rate(r_peaks, FS) > 100)
    second_first = fast[np.flatnonzero(np.diff(fast) > 1)[0] + 1]
    assert found[1].start == r_peaks[second_first - 8]


def test_a_dip_no_whole_window_holds_does_not_split_a_tachycardia():
    # MIT-BIH 233 at 1:26: one beat's 8-beat rate at 98.9 /min in a sustained sinus tachycardia; the
    # second piece's window reached back to the first's last beat, and the report read two tachycardias
    # one R-R interval apart
    rr = [0.56] * 100 + [0.73] + [0.56] * 6 + [0.73] + [0.56] * 100  # one 8-beat window at 99.6 /min
    r_peaks = np.round(np.cumsum(rr) * FS).astype(int)
    assert np.sum(rolling_rate(r_peaks, FS) <= 100) == 1
    found = rate_episodes(r_peaks, FS)
    assert [e.type for e in found] == ["tachy"]
    assert found[0].start == r_peaks[0] and found[0].end == r_peaks[-1] and found[0].beats == len(r_peaks)
    assert found[0].rate_bpm == pytest.approx(60 * len(rr[1:]) / sum(rr[1:]), abs=0.1)
    # the same for bradycardia: one window at 50 /min in a sustained one at 46
    rr = [1.3] * 40 + [0.85] + [1.3] * 6 + [0.85] + [1.3] * 40
    r_peaks = np.round(np.cumsum(rr) * FS).astype(int)
    assert [e.type for e in rate_episodes(r_peaks, FS)] == ["brady"]


def test_a_bigeminy_does_not_take_the_first_beat_of_a_couplet_a_fusion_beat_completes():
    r_peaks, classes = beats("NNN" + "NV" * 4 + "FNNNN", {"F": 0.5})
    found = pattern_events(r_peaks, classes, FS)
    events, _ = ectopic_events(r_peaks, classes, FS, kind="V")
    assert [(e.type, e.beats) for e in events] == [("v_couplet", 2)]
    assert [e.type for e in found] == ["bigeminy"] and found[0].end < events[0].start
