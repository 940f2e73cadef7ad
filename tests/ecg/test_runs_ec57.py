"""EC57's run-by-run comparison (ecg.evaluation.runs, used by bench.rhythm_eval and bench.rhythm_unseen):
run lengths, not overlap alone, decide a match; fusion beats extend runs; VF counts as a long run."""

import numpy as np

from ecg.evaluation.runs import beat_stream, compare, from_sample, longest_run

FS = 250.0


def stream(pattern: str, rr_s: float = 0.6, shift_s: float = 0.0, **kwargs):
    """A stream of one beat per letter of ``pattern``, ``rr_s`` apart, the first at 1 s + ``shift_s``."""
    times = np.round((1.0 + shift_s + rr_s * np.arange(len(pattern))) * FS).astype(int)
    return beat_stream(times, list(pattern), **kwargs), times


def counts(result, name):
    m = result[name]
    return m["ref"], m["ref_detected"], m["test"], m["test_true"]


def test_a_couplet_found_within_the_match_window_is_detected_and_true():
    ref, _ = stream("NNNNVVNNNN")
    test, _ = stream("NNNNVVNNNN", shift_s=0.1)  # fiducials 100 ms later: inside 150 ms
    assert counts(compare(ref, test, FS), "couplet") == (1, 1, 1, 1)
    late, _ = stream("NNNNVVNNNN", shift_s=0.2)  # 200 ms later: outside
    assert counts(compare(ref, late, FS), "couplet") == (1, 0, 1, 0)


def test_fusion_beats_extend_runs_on_either_side():
    ref, _ = stream("NNNNFVNNNNVVFNNNN")
    test, _ = stream("NNNNVVNNNNVVVNNNN")
    result = compare(ref, test, FS)
    assert counts(result, "couplet") == (1, 1, 1, 1)
    assert counts(result, "short_run") == (1, 1, 1, 1)
    # a test that calls the fusion beat normal finds an isolated V: the couplet is missed
    test_n, _ = stream("NNNNNVNNNNVVFNNNN")
    assert counts(compare(ref, test_n, FS), "couplet") == (1, 0, 0, 0)


def test_run_length_must_agree_not_just_overlap():
    ref, _ = stream("NNNNVVVNNNNVVVVVVVVNNNN")
    test, _ = stream("NNNNVVNNNNNVVVVVNNNNNNN")
    result = compare(ref, test, FS)
    # the reference short run is not detected by a couplet, nor the long run by a run of five ...
    assert counts(result, "short_run")[:2] == (1, 0)
    assert counts(result, "long_run")[:2] == (1, 0)
    # ... but the test couplet lies in a reference run of 2 or more, the run of five in one of 3 or more
    assert counts(result, "couplet")[2:] == (1, 1)
    assert counts(result, "short_run")[2:] == (1, 1)


def test_a_ventricular_beat_called_where_the_reference_has_a_normal_one_is_a_false_couplet():
    ref, _ = stream("NNNNVNNNNN")
    test, _ = stream("NNNNVVNNNN")
    assert counts(compare(ref, test, FS), "couplet") == (0, 0, 1, 0)


def test_a_vf_episode_counts_as_a_long_run_on_either_side():
    times = np.round((1.0 + 0.6 * np.arange(12)) * FS).astype(int)
    ref = beat_stream(times, list("N" * 12), vf=[(times[2] + 20, times[9] - 20)])
    test = beat_stream(times, list("NN" + "V" * 8 + "NN"))
    result = compare(ref, test, FS)
    assert counts(result, "long_run") == (1, 1, 1, 1)
    # beats inside an episode are left out of its stream
    assert [label for _, label in ref].count("N") == 6


def test_unreadable_signal_ends_a_run():
    ref, times = stream("NNVVVVVVVNN")
    test, _ = stream("NNVVVVVVVNN")
    cut = beat_stream(times, list("NNVVVVVVVNN"), unreadable=[int(times[5]) - 10])
    assert counts(compare(ref, test, FS), "long_run") == (1, 1, 1, 1)
    assert counts(compare(ref, cut, FS), "long_run") == (1, 0, 0, 0)
    vf_free: list[tuple[int, int]] = []
    assert longest_run(cut, vf_free, 0, int(times[-1])) == 4


def test_the_match_window_is_150_ms_either_side_inclusive():
    ref, _ = stream("NNNNVVNNNN")
    window = int(round(0.15 * FS))  # 38 samples at 250 Hz
    on_edge, _ = stream("NNNNVVNNNN", shift_s=window / FS)
    past_edge, _ = stream("NNNNVVNNNN", shift_s=(window + 1) / FS)
    assert counts(compare(ref, on_edge, FS), "couplet") == (1, 1, 1, 1)
    assert counts(compare(ref, past_edge, FS), "couplet") == (1, 0, 1, 0)


def test_a_run_at_the_end_of_the_stream_and_an_episode_left_open_are_scored():
    ref, times = stream("NNNNNNVVV")
    test, _ = stream("NNNNNNVVV")
    assert counts(compare(ref, test, FS), "short_run") == (1, 1, 1, 1)
    # a VF onset with no end lasts to the end of the stream on either side
    open_ref = [(int(times[0]), "N"), (int(times[1]), "[")]
    late_run, _ = stream("NN" + "V" * 7, shift_s=2.0)
    assert counts(compare(open_ref, late_run, FS), "long_run") == (1, 1, 1, 1)


def test_from_five_minutes_on_only_the_test_period_counts_and_vf_in_progress_opens_it():
    times = np.round(np.arange(290.0, 320.0, 0.6) * FS).astype(int)
    labels = ["N"] * len(times)
    before = int(np.searchsorted(times, 300 * FS)) - 1  # the last beat before 5 min
    for k in (before - 1, before, before + 1, before + 2):  # a run of 4 straddling the start
        labels[k] = "V"
    ref = beat_stream(times, labels)
    assert counts(compare(ref, ref, FS), "short_run") == (1, 1, 1, 1)
    # from 5 min on, the run's two beats after the start are a couplet
    assert counts(compare(ref, ref, FS, start_s=300.0), "couplet") == (1, 1, 1, 1)
    assert counts(compare(ref, ref, FS, start_s=300.0), "short_run") == (0, 0, 0, 0)
    vf = beat_stream(times, ["N"] * len(times), vf=[(int(295 * FS), int(305 * FS))])
    assert from_sample(vf, int(300 * FS))[0] == (int(300 * FS), "[")
    assert counts(compare(vf, vf, FS, start_s=300.0), "long_run") == (1, 1, 1, 1)
