"""The record-level classes: most probable class, then 'a supraventricular run goes on at its own rate'."""

import numpy as np

from ecg.models.decision import continue_supraventricular_runs, record_classes

FS = 128.0
N, S, V = 0, 1, 2


def _peaks(*stretches):
    """R-peak samples of consecutive stretches given as (seconds, RR in s)."""
    t = [0.0]
    for seconds, rr in stretches:
        end = t[-1] + seconds
        while t[-1] < end:
            t.append(t[-1] + rr)
    return (np.array(t) * FS).astype(np.int64)


def test_a_sustained_run_found_at_its_onset_is_s_to_its_end():
    peaks = _peaks((300, 0.8), (120, 0.42), (300, 0.8))
    onset = int(np.searchsorted(peaks, 300 * FS)) + 1
    end = int(np.searchsorted(peaks, 420 * FS))
    classes = np.full(len(peaks), N)
    classes[onset : onset + 3] = S  # the classifier finds the first beats only
    out = continue_supraventricular_runs(peaks, FS, classes)
    assert (out[onset:end] == S).all()
    assert (out[end + 1 :] == N).all() and (out[:onset] == N).all()


def test_an_isolated_premature_beat_is_not_extended():
    peaks = _peaks((300, 0.8)).copy()
    peaks[100] = peaks[99] + int(0.5 * FS)  # 0.5 s after its predecessor, then a compensatory 1.1 s
    classes = np.full(len(peaks), N)
    classes[100] = S
    out = continue_supraventricular_runs(peaks, FS, classes)
    assert out[101] == N and (out == S).sum() == 1


def test_a_run_at_the_records_own_rate_is_not_extended():
    """Beats no faster than the underlying rhythm (sinus tachycardia after an S call) stay N."""
    peaks = _peaks((600, 0.5))
    classes = np.full(len(peaks), N)
    classes[200] = S
    out = continue_supraventricular_runs(peaks, FS, classes)
    assert (out == S).sum() == 1


def test_ventricular_beats_are_never_changed_and_irregular_rhythm_stops_a_run():
    rng = np.random.default_rng(0)
    rr = np.concatenate([np.full(400, 0.8), rng.uniform(0.35, 0.7, 400)])  # then an irregular fast rhythm
    peaks = (np.concatenate([[0.0], np.cumsum(rr)]) * FS).astype(np.int64)
    classes = np.full(len(peaks), N)
    classes[450] = S
    classes[451:460] = V
    out = continue_supraventricular_runs(peaks, FS, classes)
    assert (out[451:460] == V).all()
    assert (out[460:] == S).sum() < 20  # chains of two intervals within 10 % are rare in such a rhythm


def test_record_classes_spells_the_models_labels():
    peaks = _peaks((300, 0.8), (60, 0.4), (120, 0.8))
    scores = np.zeros((len(peaks), 5))
    scores[:, 0] = 1.0
    onset = int(np.searchsorted(peaks, 300 * FS)) + 1
    scores[onset, 0], scores[onset, 1] = 0.2, 0.8
    out = record_classes(scores, ["N", "S", "V", "F", "Q"], peaks, FS)
    assert out.dtype.kind == "U" and out[onset] == "S" and out[onset + 20] == "S" and out[0] == "N"
    assert (out == "S").sum() > 100
    # a model without an S class: the most probable class only
    assert (record_classes(scores[:, [0, 2]], ["N", "V"], peaks, FS) == "N").all()


def _svt_with(other_at: dict[int, float]):
    """Sinus at 0.8 s, then a 2-minute SVT at 0.42 s found at its onset, with beats of another class at
    the given offsets into the run (offset -> their RR in s); the run's cycle goes on behind them."""
    peaks = _peaks((300, 0.8), (120, 0.42), (300, 0.8))
    onset = int(np.searchsorted(peaks, 300 * FS)) + 1
    end = int(np.searchsorted(peaks, 420 * FS))
    classes = np.full(len(peaks), N)
    classes[onset : onset + 3] = S
    for offset, rr in other_at.items():
        i = onset + offset
        peaks[i] = peaks[i - 1] + int(rr * FS)
        classes[i] = V
    return peaks, classes, onset, end


def test_a_ventricular_beat_inside_a_run_does_not_end_it():
    # an interpolated V beat 0.3 s after the 40th beat; the SVT's next beat comes two cycles after it
    peaks, classes, onset, end = _svt_with({40: 0.3})
    out = continue_supraventricular_runs(peaks, FS, classes)
    assert out[onset + 40] == V
    assert (out[onset + 41 : end] == S).all()


def test_a_ventricular_couplet_at_the_runs_rate_does_not_end_it():
    peaks, classes, onset, end = _svt_with({40: 0.4, 41: 0.42})
    out = continue_supraventricular_runs(peaks, FS, classes)
    assert (out[onset + 40 : onset + 42] == V).all()
    assert (out[onset + 42 : end] == S).all()


def test_three_beats_of_another_class_end_a_run():
    peaks, classes, onset, end = _svt_with({40: 0.42, 41: 0.42, 42: 0.42})
    out = continue_supraventricular_runs(peaks, FS, classes)
    assert (out[onset + 1 : onset + 40] == S).all()
    assert (out[onset + 43 : end] == N).all()


def test_a_ventricular_beat_after_which_the_rhythm_changes_ends_the_run():
    """After the V beat the rhythm resumes off the run's cycle (a pause, then sinus): the run is over."""
    peaks = _peaks((300, 0.8), (60, 0.42), (0.42, 0.3), (0.6, 1.0), (300, 0.8))
    onset = int(np.searchsorted(peaks, 300 * FS)) + 1
    v = int(np.searchsorted(peaks, 360 * FS))
    classes = np.full(len(peaks), N)
    classes[onset : onset + 3] = S
    classes[v] = V
    out = continue_supraventricular_runs(peaks, FS, classes)
    assert (out[onset:v] == S).all() and out[v] == V
    assert (out[v + 1 :] == N).all()
