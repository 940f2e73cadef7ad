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
