"""The record-level classes: most probable class, then 'a supraventricular run goes on at its own rate'."""

import numpy as np

from ecg.models.decision import (
    AF_P_REPETITION_MAX,
    PREMATURE_S_AFTER_SINUS_MIN,
    PREMATURE_S_PROBABILITY_MIN,
    atrial_rhythm_rules,
    continue_supraventricular_runs,
    paused_premature_beats,
    premature_atrial_beats,
    record_class_indices,
    record_classes,
    sinus_arrhythmia_beats,
)

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


def _af_then_sinus(seconds_af: float = 300, seconds_sinus: float = 300):
    """Irregular R-R intervals (atrial fibrillation), then regular sinus rhythm with premature beats."""
    rng = np.random.default_rng(1)
    rr_af = rng.uniform(0.4, 1.1, int(seconds_af / 0.75))
    rr_sinus = np.full(int(seconds_sinus / 0.8), 0.8)
    rr = np.concatenate([rr_af, rr_sinus])
    peaks = (np.concatenate([[0.0], np.cumsum(rr)]) * FS).astype(np.int64)
    return peaks, len(rr_af)


def test_s_calls_inside_atrial_fibrillation_without_repeating_p_waves_are_n():
    peaks, n_af = _af_then_sinus()
    classes = np.full(len(peaks), N)
    early_af = np.arange(110, n_af - 40, 7)  # the classifier calls some of AF's short intervals S
    classes[early_af] = S
    sinus_pac = n_af + 100
    classes[sinus_pac] = S  # a premature beat in sinus rhythm stays S
    classes[n_af // 2] = V  # a V beat stays V
    p_rep = np.where(np.arange(len(peaks)) < n_af, 0.25, 0.9)  # fibrillatory waves do not repeat; P waves do
    out = atrial_rhythm_rules(peaks, FS, classes, {"p_repetition": p_rep}, labels=["N", "S", "V", "F", "Q"])
    assert (out[early_af] == N).all()
    assert out[sinus_pac] == S and out[n_af // 2] == V


def test_irregular_rhythm_whose_p_waves_repeat_keeps_its_s_calls():
    """Frequent atrial ectopy also makes the intervals irregular, but its sinus P waves still repeat."""
    peaks, n_af = _af_then_sinus()
    classes = np.full(len(peaks), N)
    classes[np.arange(110, n_af - 40, 7)] = S
    p_rep = np.full(len(peaks), AF_P_REPETITION_MAX + 0.3)
    out = atrial_rhythm_rules(peaks, FS, classes, {"p_repetition": p_rep}, labels=["N", "S", "V", "F", "Q"])
    assert (out == classes).all()


def test_record_classes_applies_the_atrial_rules_only_given_the_waveform_measures():
    peaks, n_af = _af_then_sinus()
    scores = np.zeros((len(peaks), 5))
    scores[:, 0] = 1.0
    early = np.arange(110, n_af - 40, 7)
    scores[early, 0], scores[early, 1] = 0.2, 0.8
    p_rep = np.where(np.arange(len(peaks)) < n_af, 0.25, 0.9)
    labels = ["N", "S", "V", "F", "Q"]
    assert (record_classes(scores, labels, peaks, FS)[early] == "S").all()
    assert (record_classes(scores, labels, peaks, FS, measures={"p_repetition": p_rep})[early] == "N").all()


def test_s_calls_inside_sustained_atrial_flutter_are_n():
    """Flutter conducted 2:1 is regular: only the organised atrial activity at 210-420 /min tells it."""
    peaks = _peaks((300, 0.8), (300, 0.42), (300, 0.8))
    n = len(peaks)
    start, end = int(np.searchsorted(peaks, 300 * FS)), int(np.searchsorted(peaks, 600 * FS))
    classes = np.full(n, N)
    classes[start + 50 : end - 50 : 5] = S  # the classifier calls the flutter's beats S here and there
    classes[60] = S  # and a premature beat in the sinus stretch before it
    organisation = np.full(n, 0.3)
    organisation[start:end] = 0.65
    frequency = np.full(n, 3.0)
    frequency[start:end] = 4.7  # 280 /min
    measures = {"atrial_organisation": organisation, "atrial_frequency": frequency}
    out = atrial_rhythm_rules(peaks, FS, classes, measures, labels=["N", "S", "V", "F", "Q"])
    assert (out[start + 50 : end - 50] == N).all() and out[60] == S
    # a few organised beats are not sustained flutter; nor is organised activity at a sinus P wave's rate
    brief = np.full(n, 0.3)
    brief[start : start + 20] = 0.65
    out = atrial_rhythm_rules(peaks, FS, classes, {**measures, "atrial_organisation": brief}, labels=list("NSVFQ"))
    assert (out == classes).all()
    slow = np.full(n, 2.0)
    out = atrial_rhythm_rules(peaks, FS, classes, {**measures, "atrial_frequency": slow}, labels=list("NSVFQ"))
    assert (out == classes).all()


def test_flutter_once_found_holds_through_the_dips_of_its_organisation():
    """svdb 867: 2:1 flutter whose organisation dips to 0.3-0.45 for minutes at the same atrial rate."""
    from ecg.models.decision import FLUTTER_ORGANISATION_KEEP, FLUTTER_ORGANISATION_MIN

    peaks = _peaks((300, 0.8), (600, 0.42), (300, 0.8))
    n = len(peaks)
    start, end = int(np.searchsorted(peaks, 300 * FS)), int(np.searchsorted(peaks, 900 * FS))
    dip = start + 400  # the organisation dips after 400 beats of clear flutter
    organisation = np.full(n, 0.2)
    organisation[start:dip] = 0.65
    organisation[dip:end] = (FLUTTER_ORGANISATION_KEEP + FLUTTER_ORGANISATION_MIN) / 2
    frequency = np.full(n, 3.0)
    frequency[start:end] = 4.7
    classes = np.full(n, N)
    classes[dip + 100 : end - 100 : 7] = S  # S calls inside the dip
    classes[end + 100] = S  # and one in the sinus rhythm after the flutter
    measures = {"atrial_organisation": organisation, "atrial_frequency": frequency}
    out = atrial_rhythm_rules(peaks, FS, classes, measures, labels=list("NSVFQ"))
    assert (out[start:end] == N).all() and out[end + 100] == S
    # the same organisation never reaching the flutter bound is not flutter: the S calls stay
    never = organisation.copy()
    never[start:dip] = (FLUTTER_ORGANISATION_KEEP + FLUTTER_ORGANISATION_MIN) / 2
    out = atrial_rhythm_rules(peaks, FS, classes, {**measures, "atrial_organisation": never}, labels=list("NSVFQ"))
    assert (out == classes).all()


def _bigeminy_in_flutter_hold():
    """A flutter hold (600 s at 0.42 s, organisation 0.65, then 0.4 at the same atrial rate) whose dip is
    sinus rhythm at 0.8 s with atrial bigeminy: every other beat at 0.45 s with a P wave of its own
    (MIT-BIH 222 between its flutter). The classifier calls the atrial beats S, and S here and there
    in the flutter itself. Returns peaks, classes, measures, morphology, the atrial beats, the flutter's
    S calls."""
    from ecg.models.decision import FLUTTER_ORGANISATION_KEEP, FLUTTER_ORGANISATION_MIN
    from ecg.processing.context import MORPH_CHANNELS, P_WAVE, WINDOW

    flutter = _peaks((300, 0.8), (300, 0.42))
    rr = np.tile([0.8, 0.45], 150)  # the dip: sinus, atrial premature beat, ...
    peaks = np.r_[flutter, flutter[-1] + (np.cumsum(rr) * FS).astype(np.int64)]
    n = len(peaks)
    start, dip = int(np.searchsorted(peaks, 300 * FS)), len(flutter)
    organisation = np.full(n, 0.2)
    organisation[start:dip] = 0.65
    organisation[dip:] = (FLUTTER_ORGANISATION_KEEP + FLUTTER_ORGANISATION_MIN) / 2
    frequency = np.full(n, 3.0)
    frequency[start:] = 4.0
    morph = np.zeros((n, WINDOW, MORPH_CHANNELS), np.float32)
    t = np.arange(P_WAVE.stop - P_WAVE.start)
    morph[:, P_WAVE, 0] = np.exp(-0.5 * ((t - len(t) / 2) / 4.0) ** 2)
    atrial = dip + np.flatnonzero(rr == 0.45)  # the beat that ends each 0.45-s interval
    morph[atrial, P_WAVE, 0] *= -1
    in_flutter = np.arange(start + 50, dip - 50, 7)
    classes = np.full(n, N)
    classes[atrial] = S
    classes[in_flutter] = S
    measures = {"atrial_organisation": organisation, "atrial_frequency": frequency}
    return peaks, classes, measures, morph, atrial, in_flutter


def test_an_atrial_premature_beat_where_flutters_organisation_dips_stays_s():
    """MIT-BIH 222: flutter's hold covered its atrial bigeminy; flutter's own S calls still go."""
    from ecg.models.decision import FLUTTER_ORGANISATION_MIN

    peaks, classes, measures, morph, atrial, in_flutter = _bigeminy_in_flutter_hold()
    labels = list("NSVFQ")
    without = atrial_rhythm_rules(peaks, FS, classes, measures, labels=labels)
    assert (without[atrial] == N).all() and (without[in_flutter] == N).all()  # the hold alone takes both
    out = atrial_rhythm_rules(peaks, FS, classes, measures, labels=labels, morphology=morph)
    assert (out[atrial] == S).all() and (out[in_flutter] == N).all()
    # with the flutter wave before every QRS (the same P wave as the beat before) they are flutter's
    same = morph.copy()
    same[atrial] = morph[atrial - 1]
    assert (atrial_rhythm_rules(peaks, FS, classes, measures, labels=labels, morphology=same)[atrial] == N).all()
    # where the organisation around them is flutter's own, they are flutter's
    organised = {
        **measures,
        "atrial_organisation": np.maximum(measures["atrial_organisation"], FLUTTER_ORGANISATION_MIN),
    }
    assert (atrial_rhythm_rules(peaks, FS, classes, organised, labels=labels, morphology=morph)[atrial] == N).all()
    # at the flutter's own cycle (not early against the beat before's interval) they are flutter's
    regular = (np.arange(len(peaks)) * 0.42 * FS).astype(np.int64)
    assert (atrial_rhythm_rules(regular, FS, classes, measures, labels=labels, morphology=morph)[atrial] == N).all()


def test_a_beat_called_n_is_s_when_its_weighted_s_probability_exceeds_its_n_probability_and_v_calls_stay():
    from ecg.models.decision import S_WEIGHT, record_class_indices

    peaks = _peaks((60, 0.8))
    scores = np.tile([0.9, 0.05, 0.05, 0.0, 0.0], (len(peaks), 1))
    assert S_WEIGHT > 1
    p_s = 0.35
    scores[10] = [p_s * S_WEIGHT - 0.03, p_s, 1.03 - p_s * (1 + S_WEIGHT), 0.0, 0.0]  # N by a little: S
    scores[20] = [p_s * S_WEIGHT + 0.03, p_s, 0.97 - p_s * (1 + S_WEIGHT), 0.0, 0.0]  # N by more: N
    scores[30] = [0.3, 0.28, 0.42, 0.0, 0.0]  # V by a little: S x weight would beat it, but V stays V
    out = record_class_indices(scores, list("NSVFQ"), peaks, FS)
    assert out[10] == S and out[20] == N and out[30] == V
    assert (np.delete(out, [10, 30]) == N).all()


def _shapes(kinds: np.ndarray, seed: int = 0) -> np.ndarray:
    """Morphology inputs (n, WINDOW, 4) whose first lead's QRS is one of two shapes plus a little noise."""
    from ecg.processing.context import MORPH_CHANNELS, WINDOW, WINDOW_BEFORE

    rng = np.random.default_rng(seed)
    t = np.arange(WINDOW) - WINDOW_BEFORE
    narrow = np.exp(-0.5 * (t / 2.0) ** 2)
    wide = -1.2 * np.exp(-0.5 * ((t - 4) / 6.0) ** 2)
    m = rng.normal(0, 0.03, (len(kinds), WINDOW, MORPH_CHANNELS)).astype(np.float32)
    m[:, :, 0] += np.where(np.asarray(kinds)[:, None] == 1, wide, narrow)
    return m


def test_shape_neighbours_are_the_nearest_beats_within_the_window_and_never_the_beat_itself():
    from ecg.models.decision import SHAPE_QRS, shape_neighbours

    rng = np.random.default_rng(1)
    kinds = rng.integers(0, 2, 600)
    morph = _shapes(kinds)
    idx = shape_neighbours(morph, k=5, window=100)
    rows = np.arange(len(kinds))[:, None]
    assert idx.shape == (600, 5)
    assert not (idx == rows).any()
    assert (np.abs(idx - rows) <= 100).all()
    assert (kinds[idx] == kinds[:, None]).all()  # the same shape, not merely the closest in time
    # the same neighbours as an exhaustive search over the window
    x = morph[:, SHAPE_QRS, 0]
    for j in (0, 250, 599):
        lo, hi = max(0, j - 100), min(600, j + 101)
        d = ((x[lo:hi] - x[j]) ** 2).sum(axis=1)
        d[j - lo] = np.inf
        assert set(np.argsort(d)[:5] + lo) == set(idx[j])


def test_a_hesitant_beat_among_ventricular_beats_of_its_shape_is_v_and_a_stray_v_call_among_normal_beats_is_not():
    from ecg.models.decision import share_v_by_shape

    peaks = _peaks((600, 0.8))
    n = len(peaks)
    kinds = np.zeros(n, int)
    kinds[::10] = 1  # every tenth beat wide
    scores = np.tile([0.9, 0.05, 0.05, 0.0, 0.0], (n, 1))
    scores[kinds == 1] = [0.1, 0.05, 0.85, 0.0, 0.0]
    hesitant, stray = 300, 305
    scores[hesitant] = [0.45, 0.2, 0.35, 0.0, 0.0]  # a wide beat the classifier calls N
    scores[stray] = [0.35, 0.2, 0.45, 0.0, 0.0]  # a narrow beat the classifier calls V
    morph = _shapes(kinds)
    labels = ["N", "S", "V", "F", "Q"]
    plain = record_classes(scores, labels, peaks, FS)
    assert plain[hesitant] == "N" and plain[stray] == "V"
    out = record_classes(scores, labels, peaks, FS, morphology=morph)
    assert out[hesitant] == "V" and out[stray] == "N"
    assert (out[kinds == 1] == "V").all() and (np.delete(out, hesitant)[np.delete(kinds, hesitant) == 0] == "N").all()
    shared = share_v_by_shape(scores, morph)
    assert np.allclose(shared.sum(axis=1), 1.0)
    # the other classes keep their proportions
    assert np.isclose(shared[hesitant, 0] / shared[hesitant, 1], 0.45 / 0.2)


def _ectopic_atrial_record(
    pause: float, cycle: float = 0.73, runs: int = 30, run_beats: int = 12, sinus: float | None = None
):
    """Sinus beats after pauses, each followed by a run of atrial beats with a P wave of their own (MIT-BIH
    232); with ``sinus``, a second sinus beat that interval after the first. Returns peaks, the
    classifier's classes (the first beat of each run S, the rest N), the reference (every atrial beat
    S) and the beats' morphology."""
    from ecg.processing.context import MORPH_CHANNELS, P_WAVE, WINDOW

    times, truth = [0.0, pause], [N, N]
    for _ in range(runs):
        if sinus is not None:
            times.append(times[-1] + sinus)
            truth.append(N)
        for _ in range(run_beats):
            times.append(times[-1] + cycle)
            truth.append(S)
        times.append(times[-1] + pause)
        truth.append(N)
    peaks = (np.array(times) * FS).astype(np.int64)
    truth = np.array(truth)
    classes = np.full(len(truth), N)
    first = np.flatnonzero((truth == S) & (np.roll(truth, 1) == N))
    classes[first] = S
    morph = np.zeros((len(peaks), WINDOW, MORPH_CHANNELS), np.float32)
    t = np.arange(P_WAVE.stop - P_WAVE.start)
    bump = np.exp(-0.5 * ((t - len(t) / 2) / 4.0) ** 2)
    morph[:, P_WAVE, 0] = np.where(truth[:, None] == S, -bump, bump)  # the atrial beats' P wave inverted
    return peaks, classes, truth, morph


def test_runs_of_atrial_beats_after_sinus_pauses_go_on_though_they_are_the_records_own_rhythm():
    peaks, classes, truth, morph = _ectopic_atrial_record(pause=1.9)
    without = continue_supraventricular_runs(peaks, FS, classes)
    assert (without == S).sum() == (classes == S).sum()  # the runs are the baseline: not faster than it
    out = continue_supraventricular_runs(peaks, FS, classes, morphology=morph)
    assert (out == truth).all()


def test_no_ectopic_onset_after_a_blocked_beat_a_compensatory_pause_or_the_same_p_wave():
    # the interval before the run twice its cycle: a blocked beat of the same rhythm
    peaks, classes, truth, morph = _ectopic_atrial_record(pause=2 * 0.73)
    assert (continue_supraventricular_runs(peaks, FS, classes, morphology=morph) == classes).all()
    peaks, classes, truth, morph = _ectopic_atrial_record(pause=1.9)
    # the beat before the run's first beat has the same P wave
    same = morph.copy()
    same[:, :, 0] = np.abs(same[:, :, 0])
    assert (continue_supraventricular_runs(peaks, FS, classes, morphology=same) == classes).all()
    # the beat before the pause is ventricular: the pause is compensatory
    after_v = classes.copy()
    sinus = np.flatnonzero(truth == N)[1:]
    after_v[sinus - 1] = V
    out = continue_supraventricular_runs(peaks, FS, after_v, morphology=morph)
    assert ((out == S) == (after_v == S)).all()


def test_an_interval_twice_the_runs_after_a_longer_pause_is_the_sinus_rhythms_not_a_blocked_beat():
    # 232: an atrial run ends in a 1.9-s pause, a sinus beat follows at the bradycardia's 1.46 s (twice
    # the atrial cycle by coincidence), then the next run
    peaks, classes, truth, morph = _ectopic_atrial_record(pause=1.9, sinus=2 * 0.73)
    out = continue_supraventricular_runs(peaks, FS, classes, morphology=morph)
    assert (out == truth).all()
    # the same interval after a shorter one is a blocked beat: no run
    peaks, classes, truth, morph = _ectopic_atrial_record(pause=2 * 0.73, sinus=0.73 * 1.1)
    assert (continue_supraventricular_runs(peaks, FS, classes, morphology=morph) == classes).all()


def _scores(classes: np.ndarray, s_probability: float = 0.3) -> np.ndarray:
    """Class probabilities whose most probable class is ``classes``' (N beats keep ``s_probability`` of S)."""
    scores = np.zeros((len(classes), 5))
    scores[:, 0], scores[:, 1] = 1.0 - s_probability, s_probability
    scores[classes == S] = [0.2, 0.8, 0.0, 0.0, 0.0]
    scores[classes == V] = [0.05, 0.05, 0.9, 0.0, 0.0]
    return scores


def test_atrial_premature_beats_the_classifier_called_n_are_s_by_their_own_cycle_and_p_wave():
    peaks, _, truth, morph = _ectopic_atrial_record(pause=1.9)
    called_n = np.full(len(truth), N)  # the classifier finds none of the runs
    measures = {"p_repetition": np.full(len(truth), 0.9)}
    labels = ["N", "S", "V", "F", "Q"]
    scores = _scores(called_n)
    assert (record_class_indices(scores, labels, peaks, FS, measures=measures) == N).all()  # no morphology
    out = record_class_indices(scores, labels, peaks, FS, measures=measures, morphology=morph)
    assert (out == truth).all()  # each run's first beat premature against the sinus beat's pause, the rest follow
    # three times the run's cycle is a pause, not a blocked beat
    peaks3, _, truth3, morph3 = _ectopic_atrial_record(pause=3 * 0.73)
    out = record_class_indices(scores, labels, peaks3, FS, measures=measures, morphology=morph3)
    assert (out == truth3).all()


def test_no_atrial_premature_beat_after_a_blocked_beat_a_v_beat_with_the_same_p_wave_or_all_but_ruled_out():
    peaks, _, truth, morph = _ectopic_atrial_record(pause=1.9)
    called_n = np.full(len(truth), N)
    s_probability = np.full(len(truth), 0.3)
    no_af = np.zeros(len(truth), bool)

    def decided(peaks=peaks, classes=called_n, s_probability=s_probability, morph=morph, in_af=no_af):
        return premature_atrial_beats(peaks, FS, classes, s_probability, morph, in_af, s=S, n=N, v=V)

    first = np.flatnonzero((truth == S) & (np.roll(truth, 1) == N))
    assert (decided()[first] == S).all() and (decided()[truth == N] == N).all()
    blocked, _, _, blocked_morph = _ectopic_atrial_record(pause=2 * 0.73)
    assert (decided(peaks=blocked, morph=blocked_morph) == N).all()
    same = morph.copy()
    same[:, :, 0] = np.abs(same[:, :, 0])
    assert (decided(morph=same) == N).all()
    ruled_out = np.full(len(truth), PREMATURE_S_AFTER_SINUS_MIN / 2)
    assert (decided(s_probability=ruled_out) == N).all()
    # after an ectopic beat (the beat before the sinus beat called S), the cycle before is its pause and
    # the classifier's S probability must reach the higher bound
    unlikely = np.full(len(truth), PREMATURE_S_PROBABILITY_MIN / 2)
    after_s = called_n.copy()
    after_s[np.flatnonzero(truth == N)[1:] - 1] = S  # each run's last beat called S
    assert (decided(classes=after_s, s_probability=unlikely)[first] == N).all()
    assert (decided(classes=after_s)[first] == S).all()
    # after two sinus beats called N: premature at the lower bound, when the P wave is unlike both of theirs
    peaks2, _, truth2, morph2 = _ectopic_atrial_record(pause=1.9, sinus=1.2)
    first2 = np.flatnonzero((truth2 == S) & (np.roll(truth2, 1) == N))
    n2 = np.full(len(truth2), N)
    low = np.full(len(truth2), PREMATURE_S_PROBABILITY_MIN / 2)
    out = premature_atrial_beats(peaks2, FS, n2, low, morph2, np.zeros(len(truth2), bool), s=S, n=N, v=V)
    assert (out[first2] == S).all() and (out[truth2 == N] == N).all()
    # the beat two before with the same P wave (the last, missed beat of the run before the pause): a
    # noisy P wave unlike one beat's only is not enough at that bound
    assert (decided(s_probability=unlikely)[first[1:]] == N).all()
    assert (decided(in_af=np.ones(len(truth), bool)) == N).all()
    after_v = called_n.copy()
    after_v[np.flatnonzero(truth == N)[1:] - 1] = V  # the beat before each pause ventricular: compensatory
    assert (decided(classes=after_v)[first] == N).all()


def test_an_atrial_premature_beats_p_wave_counts_as_another_under_the_runs_onset_bound():
    from ecg.models.decision import ONSET_P_CORRELATION_MAX, PREMATURE_P_CORRELATION_MAX, _p_wave_correlation
    from ecg.processing.context import P_WAVE

    assert PREMATURE_P_CORRELATION_MAX == ONSET_P_CORRELATION_MAX  # one meaning of "another P wave"
    peaks, _, truth, morph = _ectopic_atrial_record(pause=1.9)
    first = np.flatnonzero((truth == S) & (np.roll(truth, 1) == N))
    # the atrial beats' P wave: the sinus bump shifted by 4 samples (correlation 0.56 with it)
    t = np.arange(P_WAVE.stop - P_WAVE.start)
    shifted = morph.copy()
    shifted[truth == S, P_WAVE, 0] = np.exp(-0.5 * ((t - len(t) / 2 - 4) / 4.0) ** 2)
    corr = _p_wave_correlation(shifted, int(first[0]), int(first[0]) - 1)
    assert 0.5 < corr < ONSET_P_CORRELATION_MAX
    out = premature_atrial_beats(
        peaks, FS, np.full(len(truth), N), np.full(len(truth), 0.3), shifted, np.zeros(len(truth), bool), s=S, n=N, v=V
    )
    assert (out[first] == S).all()


def test_recordings_of_fewer_than_three_beats_are_decided_with_every_rule_given_its_inputs():
    from ecg.processing.context import MORPH_CHANNELS, WINDOW

    for n in (0, 1, 2):
        scores = np.tile([0.7, 0.3, 0.0, 0.0, 0.0], (n, 1)).reshape(n, 5)
        measures = {"p_repetition": np.ones(n), "atrial_frequency": np.zeros(n), "atrial_organisation": np.zeros(n)}
        morph = np.zeros((n, WINDOW, MORPH_CHANNELS), np.float32)
        out = record_class_indices(
            scores, ["N", "S", "V", "F", "Q"], np.arange(n) * 128, FS, measures=measures, morphology=morph
        )
        assert out.tolist() == [N] * n


def test_an_isolated_s_call_barely_early_with_the_sinus_p_wave_is_sinus_arrhythmia():
    from ecg.processing.context import MORPH_CHANNELS, P_WAVE, WINDOW

    # sinus rhythm at 0.8 s; beat 10 comes at 0.72 s (0.9 of the cycle), beat 20 at 0.5 s (a PAC)
    rr = np.full(30, 0.8)
    rr[10], rr[20] = 0.72, 0.5
    peaks = (np.cumsum(rr) * FS).astype(np.int64)
    classes = np.full(30, N)
    classes[[10, 20]] = S
    morph = np.zeros((30, WINDOW, MORPH_CHANNELS), np.float32)
    t = np.arange(P_WAVE.stop - P_WAVE.start)
    morph[:, P_WAVE, 0] = np.exp(-0.5 * ((t - len(t) / 2) / 4.0) ** 2)
    out = sinus_arrhythmia_beats(peaks, FS, classes, morph, s=S, n=N)
    assert out[10] == N and out[20] == S  # the PAC is well early
    # the same beat 10 with a P wave of its own stays S
    other = morph.copy()
    other[10, P_WAVE, 0] *= -1
    assert sinus_arrhythmia_beats(peaks, FS, classes, other, s=S, n=N)[10] == S
    # inside a run (a neighbour called S) it stays S
    run = classes.copy()
    run[11] = S
    assert sinus_arrhythmia_beats(peaks, FS, run, morph, s=S, n=N)[10] == S


def _paused_record(own: float = 0.72, after: float = 1.0, cycle: float = 0.8):
    """Sinus rhythm at ``cycle`` (30 beats, every beat the sinus P wave) with beat 10 at ``own`` after the
    beat before and beat 11 ``after`` it, beat 10 carrying a P wave of its own; the classifier calls every
    beat N and gives S 0.15 to beat 10, 0.01 to the others."""
    from ecg.processing.context import MORPH_CHANNELS, P_WAVE, WINDOW

    rr = np.full(30, cycle)
    rr[10], rr[11] = own, after
    peaks = (np.cumsum(rr) * FS).astype(np.int64)
    morph = np.zeros((30, WINDOW, MORPH_CHANNELS), np.float32)
    t = np.arange(P_WAVE.stop - P_WAVE.start)
    morph[:, P_WAVE, 0] = np.exp(-0.5 * ((t - len(t) / 2) / 4.0) ** 2)
    morph[10, P_WAVE, 0] *= -1
    s_probability = np.full(30, 0.01)
    s_probability[10] = 0.15
    return peaks, np.full(30, N), s_probability, morph


def test_a_mildly_premature_beat_with_its_own_p_wave_followed_by_a_pause_is_s():
    peaks, classes, s_probability, morph = _paused_record()
    out = paused_premature_beats(peaks, FS, classes, s_probability, morph, s=S, n=N)
    assert out[10] == S and (np.delete(out, 10) == N).all()  # 0.9 of the cycle, then 1.39 times its interval
    # and through the whole decision (the classifier's N at 0.85, S 0.15: the S weight alone leaves it N)
    scores = np.zeros((30, 5))
    scores[:, 1] = s_probability
    scores[:, 0] = 1.0 - s_probability
    labels = ["N", "S", "V", "F", "Q"]
    assert record_class_indices(scores, labels, peaks, FS, morphology=morph)[10] == S
    assert record_class_indices(scores, labels, peaks, FS)[10] == N  # no morphology, no rule
    # no pause after it: sinus arrhythmia speeding up and slowing down gradually
    peaks, classes, s_probability, morph = _paused_record(after=0.8)
    assert (paused_premature_beats(peaks, FS, classes, s_probability, morph, s=S, n=N) == N).all()
    # not early enough
    peaks, classes, s_probability, morph = _paused_record(own=0.76, after=1.0)
    assert (paused_premature_beats(peaks, FS, classes, s_probability, morph, s=S, n=N) == N).all()
    # the sinus P wave
    peaks, classes, s_probability, morph = _paused_record()
    same = morph.copy()
    same[10] = same[9]
    assert (paused_premature_beats(peaks, FS, classes, s_probability, same, s=S, n=N) == N).all()
    # the classifier all but rules S out
    low = np.full(30, 0.01)
    assert (paused_premature_beats(peaks, FS, classes, low, morph, s=S, n=N) == N).all()
    # an unsteady rhythm before it (the two intervals before differ by 20 %)
    rr = np.diff(np.r_[0, peaks]) / FS
    rr[8] = 0.64
    unsteady = (np.cumsum(rr) * FS).astype(np.int64)
    assert (paused_premature_beats(unsteady, FS, classes, s_probability, morph, s=S, n=N) == N).all()
    # after a beat called S (inside a run or after an ectopic beat) the rule is not asked
    after_s = classes.copy()
    after_s[8] = S
    assert paused_premature_beats(peaks, FS, after_s, s_probability, morph, s=S, n=N)[10] == N


def _bigeminy_record(short: float = 0.68, long: float = 0.8, p_of_atrial: float = 0.05):
    """Sinus rhythm at 0.8 s (10 beats), then atrial bigeminy: every other beat at ``short`` after a sinus
    beat with a P wave of its own, the sinus beat after it at ``long``; then sinus again. The classifier
    calls every beat N and gives the atrial beats S at ``p_of_atrial``. Returns peaks, classes, S
    probability, morphology and the atrial beats."""
    from ecg.processing.context import MORPH_CHANNELS, P_WAVE, WINDOW

    rr = np.r_[np.full(10, 0.8), np.tile([short, long], 10), np.full(10, 0.8)]
    peaks = (np.cumsum(rr) * FS).astype(np.int64)
    n = len(rr)
    atrial = np.arange(10, 30, 2)
    morph = np.zeros((n, WINDOW, MORPH_CHANNELS), np.float32)
    t = np.arange(P_WAVE.stop - P_WAVE.start)
    morph[:, P_WAVE, 0] = np.exp(-0.5 * ((t - len(t) / 2) / 4.0) ** 2)
    morph[atrial, P_WAVE, 0] *= -1
    s_probability = np.full(n, 0.005)
    s_probability[atrial] = p_of_atrial
    return peaks, np.full(n, N), s_probability, morph, atrial


def test_atrial_bigeminy_called_n_is_s_from_its_second_atrial_beat():
    from ecg.models.decision import atrial_bigeminy_beats

    peaks, classes, s_probability, morph, atrial = _bigeminy_record()
    out = atrial_bigeminy_beats(peaks, FS, classes, s_probability, morph, s=S, n=N)
    # the first atrial beat follows the steady sinus cycle, not an alternation: the pause rule's case
    assert (out[atrial[1:]] == S).all() and out[atrial[0]] == N
    assert (np.delete(out, atrial) == N).all()
    # the pause rule alone finds none of them (no steady cycle before any but the first)
    assert (paused_premature_beats(peaks, FS, classes, s_probability, morph, s=S, n=N)[atrial[1:]] == N).all()
    # and through the whole decision
    scores = np.zeros((len(peaks), 5))
    scores[:, 1] = s_probability
    scores[:, 0] = 1.0 - s_probability
    labels = ["N", "S", "V", "F", "Q"]
    assert (record_class_indices(scores, labels, peaks, FS, morphology=morph)[atrial[1:]] == S).all()
    # a 3:2 block alternates the same way with the sinus P wave before every beat: N
    sinus = morph.copy()
    sinus[atrial] = morph[atrial - 1]
    assert (atrial_bigeminy_beats(peaks, FS, classes, s_probability, sinus, s=S, n=N) == N).all()
    # early enough (0.6 against 0.678) but no pause after them (0.678: under 1.15 times their own)
    peaks, classes, s_probability, morph, atrial = _bigeminy_record(short=0.6, long=0.678)
    assert (atrial_bigeminy_beats(peaks, FS, classes, s_probability, morph, s=S, n=N) == N).all()
    # the classifier rules S out
    peaks, classes, s_probability, morph, atrial = _bigeminy_record(p_of_atrial=0.001)
    assert (atrial_bigeminy_beats(peaks, FS, classes, s_probability, morph, s=S, n=N) == N).all()


def test_a_run_counted_against_the_sinus_beat_before_it_stops_where_the_sinus_p_wave_returns():
    # the atrial runs of the synthetic 232, but every run's beats after its first carry the sinus P wave:
    # sinus beats resuming after a pause, faster than it, with one early beat of another P wave before them
    peaks, classes, truth, morph = _ectopic_atrial_record(pause=1.9)
    first = np.flatnonzero((truth == S) & (np.roll(truth, 1) == N))
    sinus_p = morph.copy()
    rest = (truth == S) & ~np.isin(np.arange(len(truth)), first)
    sinus_p[rest] = np.abs(sinus_p[rest])
    out = continue_supraventricular_runs(peaks, FS, classes, morphology=sinus_p)
    assert (out == classes).all()  # only the early beats stay S
    assert (continue_supraventricular_runs(peaks, FS, classes, morphology=morph) == truth).all()


def test_an_s_call_with_a_changed_qrs_and_t_wave_and_some_v_probability_is_v():
    """V beats whose QRS is near the patient's own differ in their T wave (svdb 868, 881); atrial beats,
    even aberrant ones, keep theirs; in noise every beat's T wave differs and none is made V."""
    from ecg.models.decision import (
        SHAPE_QRS,
        T_WAVE,
        V_PROBABILITY_MIN,
        V_QRS_RESIDUAL_MIN,
        V_T_OF_LOCAL,
        V_T_RESIDUAL_MIN,
        repolarisation_beats,
    )
    from ecg.processing.context import MORPH_CHANNELS, WINDOW

    assert V_T_OF_LOCAL > 1
    n = 60
    rng = np.random.default_rng(0)
    morph = rng.normal(0, 0.01, (n, WINDOW, MORPH_CHANNELS)).astype(np.float32)  # beats like their template
    t_step = np.sqrt(1.5 * V_T_RESIDUAL_MIN / (T_WAVE.stop - T_WAVE.start))
    q_step = np.sqrt(1.5 * V_QRS_RESIDUAL_MIN / (SHAPE_QRS.stop - SHAPE_QRS.start))
    beats = [20, 24, 28, 32, 36]
    morph[[20, 24, 28, 36], T_WAVE, 3] += t_step  # the second lead's T wave differs from its template
    morph[[20, 24, 32, 36], SHAPE_QRS, 1] += q_step  # the first lead's QRS differs a little
    idx = np.full(n, N)
    idx[beats[:4]] = S
    p_v = np.full(n, 2 * V_PROBABILITY_MIN)
    p_v[24] = V_PROBABILITY_MIN / 2  # the classifier all but rules V out
    out = repolarisation_beats(idx, p_v, morph, s=S, v=V)
    assert out[beats].tolist() == [V, S, S, S, N]  # T wave, QRS and V probability together; S calls only
    assert (np.delete(out, beats) == N).all() and out is not idx and idx[20] == S
    assert (repolarisation_beats(idx, p_v, morph[:, :, :1], s=S, v=V) == idx).all()  # no template channel
    noisy = morph.copy()
    noisy[:, T_WAVE, 1] += rng.normal(0, 1.5 * t_step, (n, T_WAVE.stop - T_WAVE.start))  # every T wave changed
    assert (repolarisation_beats(idx, p_v, noisy, s=S, v=V) == idx).all()


def _svt_after_bigeminy(svt_p_wave: float = -1.0, ramp: int = 0, svt_beats: int = 200):
    """Sinus rhythm at 0.75 s with ventricular bigeminy for five minutes, then a regular tachycardia at
    0.42 s (``svt_beats`` beats) starting at the beat after the sinus beat after a V beat, then sinus
    rhythm. The tachycardia's P wave is the sinus one times ``svt_p_wave`` (-1: inverted, an ectopic
    focus); with ``ramp`` beats the rate gets there gradually instead (sinus tachycardia). The
    classifier calls every beat N but the V beats, with S at 0.3 for the tachycardia's first beat and
    0.05 for the rest. Returns peaks, classes, S probability, morphology and the tachycardia's beats."""
    from ecg.processing.context import MORPH_CHANNELS, P_WAVE, WINDOW

    bigeminy = np.tile([0.75, 0.45, 1.05], 130)  # N N V (coupled at 0.45, a compensatory pause after)
    classes = [N] * (len(bigeminy) + 1)
    classes[2::3] = [V] * len(classes[2::3])
    rr = list(bigeminy)  # ending in the sinus beat after a V beat's pause: the tachycardia starts at the next
    onset = len(rr) + 1
    rr += list(np.linspace(0.75, 0.42, ramp + 1)[1:]) + [0.42] * svt_beats + [0.75] * 400
    classes += [N] * (len(rr) + 1 - len(classes))
    peaks = (np.cumsum([0.75, *rr]) * FS).astype(np.int64)
    n = len(peaks)
    svt = np.arange(onset + ramp, onset + ramp + svt_beats)
    morph = np.zeros((n, WINDOW, MORPH_CHANNELS), np.float32)
    t = np.arange(P_WAVE.stop - P_WAVE.start)
    morph[:, P_WAVE, 0] = np.exp(-0.5 * ((t - len(t) / 2) / 4.0) ** 2)
    morph[svt, P_WAVE, 0] *= svt_p_wave
    # the V beats' QRS unlike the others' (their shape neighbours are V beats, and the N beats' N beats:
    # with every QRS alike, which beats are nearest is a matter of ties)
    from ecg.models.decision import SHAPE_QRS

    is_v = np.asarray(classes) == V
    q = np.arange(SHAPE_QRS.stop - SHAPE_QRS.start)
    morph[:, SHAPE_QRS, 0] += np.exp(-0.5 * ((q - len(q) / 2) / 2.0) ** 2)
    morph[is_v, SHAPE_QRS, 0] = -2.0 * np.exp(-0.5 * ((q - len(q) / 2) / 6.0) ** 2)
    s_probability = np.full(n, 0.005)
    s_probability[svt] = 0.05
    s_probability[svt[0]] = 0.3
    return peaks, np.asarray(classes), s_probability, morph, svt


def test_an_abrupt_regular_tachycardia_is_s_from_its_first_beat_through_the_run_rule():
    from ecg.models.decision import tachycardia_onset_beats

    peaks, classes, s_probability, morph, svt = _svt_after_bigeminy()
    out = tachycardia_onset_beats(peaks, FS, classes, s_probability, morph, s=S, n=N)
    assert out[svt[0]] == S and (np.delete(out, svt[0]) == classes[np.arange(len(out)) != svt[0]]).all()
    # the atrial premature beats' rule does not look after a V beat's pause, so nothing started the run
    scores = np.zeros((len(peaks), 5))
    scores[np.arange(len(peaks)), classes] = 1.0
    scores[:, 1] = np.where(classes == N, s_probability, 0.0)
    scores[:, 0] = np.where(classes == N, 1.0 - s_probability, 0.0)
    labels = ["N", "S", "V", "F", "Q"]
    decided = record_class_indices(scores, labels, peaks, FS, morphology=morph)
    assert (decided[svt] == S).all()
    assert (decided[: svt[0]][classes[: svt[0]] == N] == N).all() and (decided[svt[-1] + 1 :] == N).all()
    from ecg.models import decision

    saved = decision.TACHYCARDIA_ONSET_BEATS
    decision.TACHYCARDIA_ONSET_BEATS = 0
    try:
        assert (record_class_indices(scores, labels, peaks, FS, morphology=morph)[svt] == N).all()
    finally:
        decision.TACHYCARDIA_ONSET_BEATS = saved


def test_a_tachycardia_with_the_sinus_p_wave_a_gradual_one_or_a_short_salvo_starts_no_run():
    from ecg.models.decision import tachycardia_onset_beats

    for kwargs in ({"svt_p_wave": 1.0}, {"ramp": 20}, {"svt_beats": 5}):
        peaks, classes, s_probability, morph, svt = _svt_after_bigeminy(**kwargs)
        out = tachycardia_onset_beats(peaks, FS, classes, s_probability, morph, s=S, n=N)
        assert (out == classes).all(), kwargs
    # the classifier rules S out
    peaks, classes, s_probability, morph, svt = _svt_after_bigeminy()
    s_probability[svt] = 0.001
    assert (tachycardia_onset_beats(peaks, FS, classes, s_probability, morph, s=S, n=N) == classes).all()


def test_a_clearly_premature_beat_followed_by_a_pause_is_s_whatever_its_p_wave():
    from ecg.models import decision

    peaks, classes, s_probability, morph = _paused_record(own=0.6, after=1.0)  # 0.75 of the cycle
    same = morph.copy()
    same[10] = same[9]  # the first lead shows the sinus P wave
    out = paused_premature_beats(peaks, FS, classes, s_probability, same, s=S, n=N)
    assert out[10] == S and (np.delete(out, 10) == N).all()
    # mildly premature (0.9 of the cycle) with the sinus P wave stays N: sinus arrhythmia's case
    peaks_mild, _, _, _ = _paused_record()
    assert (paused_premature_beats(peaks_mild, FS, classes, s_probability, same, s=S, n=N) == N).all()
    # no pause after it
    peaks_no_pause, _, _, _ = _paused_record(own=0.6, after=0.7)
    assert (paused_premature_beats(peaks_no_pause, FS, classes, s_probability, same, s=S, n=N) == N).all()
    saved = decision.PAUSED_ANY_P_OF_CYCLE
    decision.PAUSED_ANY_P_OF_CYCLE = 0.0
    try:
        assert (paused_premature_beats(peaks, FS, classes, s_probability, same, s=S, n=N) == N).all()
    finally:
        decision.PAUSED_ANY_P_OF_CYCLE = saved


def test_the_tachycardia_onset_rule_takes_records_of_any_length():
    from ecg.models.decision import TACHYCARDIA_ONSET_BEATS, TACHYCARDIA_SINUS_BEATS, tachycardia_onset_beats
    from ecg.processing.context import MORPH_CHANNELS, WINDOW

    shortest = TACHYCARDIA_ONSET_BEATS + TACHYCARDIA_SINUS_BEATS + 2
    for n in (0, 1, shortest - 1, shortest, shortest + 1):
        peaks = (np.cumsum(np.r_[np.full(n // 2, 0.8), np.full(n - n // 2, 0.42)]) * FS).astype(np.int64)
        morph = np.zeros((n, WINDOW, MORPH_CHANNELS), np.float32)
        out = tachycardia_onset_beats(peaks, FS, np.full(n, N), np.full(n, 0.3), morph, s=S, n=N)
        assert out.shape == (n,)
        if n < shortest:
            assert (out == N).all()


def _pair_record():
    """Sinus rhythm at 0.8 s (narrow QRS) with ventricular pairs (wide QRS) whose other beat the classifier
    called N, and the beats that only look like one. Returns (peaks, classes, V probabilities, kinds,
    {case: beat})."""
    from ecg.models.decision import V_PAIR_PROBABILITY_MIN

    rr, kinds, classes, cases = [], [], [], {}

    def beat(interval, kind, cls, case=None):
        if case:
            cases[case] = len(rr)
        rr.append(interval)
        kinds.append(kind)
        classes.append(cls)

    def sinus(k=6):
        for _ in range(k):
            beat(0.8, 0, N)

    sinus()
    beat(0.5, 1, V), beat(0.45, 1, N, "second"), beat(1.3, 0, N)  # couplet, its second beat called N
    sinus()
    beat(0.5, 1, N, "first"), beat(0.45, 1, V), beat(1.3, 0, N)  # couplet, its first beat called N
    sinus()
    beat(0.5, 1, V), beat(0.48, 1, N, "in_run"), beat(0.48, 1, V), beat(0.48, 1, V), beat(1.3, 0, N)  # a run
    sinus()
    beat(0.5, 1, V), beat(1.1, 0, N, "sinus_after"), beat(0.8, 0, N)  # the sinus beat after a V beat
    sinus()
    beat(0.5, 1, V), beat(0.45, 0, N, "narrow"), beat(1.3, 0, N)  # early, but another shape
    sinus()
    beat(0.5, 1, V), beat(0.45, 1, N, "improbable"), beat(1.3, 0, N)  # V all but ruled out
    sinus()
    beat(0.5, 1, V), beat(0.45, 1, N, "no_pause"), beat(0.45, 0, N), beat(0.8, 0, N)  # nothing pair-like after
    sinus()
    beat(0.5, 1, V), beat(0.6, 1, N, "later"), beat(1.3, 0, N)  # after a longer interval than the V came at
    sinus()
    beat(0.78, 1, N, "not_premature"), beat(0.45, 1, V), beat(1.3, 0, N)  # on time, not premature
    sinus()
    beat(0.5, 1, V), beat(0.45, 1, N, "v_too_late"), beat(0.55, 1, V), beat(1.3, 0, N)  # no pause, next V too late
    sinus()
    beat(0.5, 1, N, "v_after_later"), beat(0.6, 1, V), beat(1.3, 0, N)  # premature, but the V beat comes later
    sinus()
    beat(0.5, 1, V), beat(0.45, 1, V), beat(0.45, 1, N, "third"), beat(1.3, 0, N)  # after two: a run's last beat
    sinus()
    peaks = (np.cumsum(rr) * FS).astype(np.int64)
    p_v = np.full(len(rr), 2 * V_PAIR_PROBABILITY_MIN)
    p_v[cases["improbable"]] = V_PAIR_PROBABILITY_MIN / 2
    return peaks, np.array(classes), p_v, np.array(kinds), cases


def test_the_beat_beside_a_v_beat_with_its_shape_and_a_ventricular_pairs_timing_is_v():
    """On unseen patients one beat of a couplet was called N or S while the other was V (MIT-BIH 208,
    svdb 881); a sinus beat after a V beat comes after a pause with the patient's own QRS."""
    from ecg.models.decision import ventricular_pair_beats

    peaks, classes, p_v, kinds, cases = _pair_record()
    morph = _shapes(kinds)
    out = ventricular_pair_beats(peaks, FS, classes, p_v, morph, n=N, s=S, v=V)
    made_v = {case for case, k in cases.items() if out[k] == V}
    assert made_v == {"second", "first", "in_run", "third"}
    assert (out[classes == V] == V).all() and (
        np.delete(out, list(cases.values())) == classes[np.delete(np.arange(len(classes)), list(cases.values()))]
    ).all()
    s_calls = np.where(np.isin(np.arange(len(classes)), [cases["second"]]), S, classes)  # an S call is taken too
    assert ventricular_pair_beats(peaks, FS, s_calls, p_v, morph, n=N, s=S, v=V)[cases["second"]] == V
    # through the whole decision: only given the beats' morphology
    scores = np.zeros((len(classes), 5))
    scores[np.arange(len(classes)), classes] = 0.8
    scores[:, :3] += 0.05
    scores[:, 2] = np.where(classes == V, scores[:, 2], 0.12)
    labels = ["N", "S", "V", "F", "Q"]
    assert record_classes(scores, labels, peaks, FS)[cases["second"]] == "N"
    decided = record_classes(scores, labels, peaks, FS, morphology=morph)
    assert decided[cases["second"]] == "V" and decided[cases["first"]] == "V" and decided[cases["sinus_after"]] == "N"


def test_a_v_call_on_time_with_the_qrs_of_the_n_beat_before_it_is_n():
    """MIT-BIH 108's sinus beats at 57 /min, called V by a classifier that never saw the patient, read as
    ventricular runs: on time and with the patient's own QRS in each lead, a beat is conducted. An
    accelerated idioventricular rhythm at the sinus rate keeps its V (another QRS), as does a premature
    beat (left to the atrial rules), a beat whose QRS differs in the second lead only, and every beat of a
    one-lead recording."""
    from ecg.models.decision import conducted_v_calls

    rr, kinds, second, classes, cases = [], [], [], [], {}

    def beat(interval, kind, cls, case=None, other=None):
        if case:
            cases.setdefault(case, []).append(len(rr))
        rr.append(interval), kinds.append(kind), second.append(kind if other is None else other), classes.append(cls)

    def sinus(k=6):
        for _ in range(k):
            beat(1.0, 0, N)

    sinus()
    for _ in range(4):
        beat(1.02, 0, V, "conducted")  # the sinus rhythm going on, called V
    sinus()
    for _ in range(4):
        beat(1.0, 1, V, "idioventricular")  # at the sinus rate, another QRS
    sinus()
    beat(0.7, 0, V, "premature"), beat(1.3, 0, N)
    sinus()
    beat(1.0, 0, V, "second_lead_differs", other=1)
    sinus()
    peaks = (np.cumsum(rr) * FS).astype(np.int64)
    classes = np.array(classes)
    morph = _shapes(np.array(kinds))
    morph[:, :, 2] = _shapes(np.array(second), seed=1)[:, :, 0]
    out = conducted_v_calls(peaks, FS, classes, morph, n=N, v=V)
    made_n = {case for case, ks in cases.items() if (out[ks] == N).any()}
    assert made_n == {"conducted"} and (out[cases["conducted"]] == N).all()
    assert (out[classes == N] == N).all()
    # a recording of one lead (the second lead's channels empty): V beats can share its N beat's QRS there
    one_lead = morph.copy()
    one_lead[:, :, 2:] = 0.0
    assert (conducted_v_calls(peaks, FS, classes, one_lead, n=N, v=V) == classes).all()
    assert (conducted_v_calls(peaks, FS, classes, morph[..., :2], n=N, v=V) == classes).all()
    # through the whole decision: only given the beats' morphology
    scores = np.zeros((len(classes), 5))
    scores[np.arange(len(classes)), classes] = 0.8
    labels = ["N", "S", "V", "F", "Q"]
    assert (record_classes(scores, labels, peaks, FS)[cases["conducted"]] == "V").all()
    decided = record_classes(scores, labels, peaks, FS, morphology=morph)
    assert (decided[cases["conducted"]] == "N").all() and (decided[cases["idioventricular"]] == "V").all()


def test_a_v_call_after_an_s_beat_or_at_the_recordings_start_stays_v():
    """The rule reads the beat called N just before a run of V calls: after an S beat (an atrial beat
    before the run) or with no interval before that beat, nothing is changed."""
    from ecg.models.decision import conducted_v_calls

    kinds = np.zeros(12, np.int64)
    rr = np.full(12, 1.0)
    peaks = (np.cumsum(rr) * FS).astype(np.int64)
    morph = _shapes(kinds)
    morph[:, :, 2] = _shapes(kinds, seed=1)[:, :, 0]
    classes = np.full(12, N)
    classes[[1, 6, 7]] = V
    classes[5] = S
    out = conducted_v_calls(peaks, FS, classes, morph, n=N, v=V)
    assert out[1] == V and (out[[6, 7]] == V).all()  # beat 0 has no interval before it; beat 5 is S
    classes[5] = N
    assert (conducted_v_calls(peaks, FS, classes, morph, n=N, v=V)[[6, 7]] == N).all()


def test_an_f_call_beside_a_v_call_is_n_and_other_f_calls_stay_f():
    from ecg.models.decision import fusion_in_run_calls

    F = 3
    classes = np.array([N, F, V, N, N, V, F, N, N, F, F, N, N, F, N, V, N])
    out = fusion_in_run_calls(classes, n=N, v=V, f=F)
    assert out.tolist() == [N, N, V, N, N, V, N, N, N, F, F, N, N, F, N, V, N]
    # through the whole decision: the classifier's F call beside its V call makes no couplet
    peaks = _peaks((60, 0.8))
    scores = np.zeros((len(peaks), 5))
    scores[:, 0] = 1.0
    scores[20, :] = [0.1, 0.0, 0.0, 0.9, 0.0]  # F
    scores[21, :] = [0.1, 0.0, 0.9, 0.0, 0.0]  # V
    scores[40, :] = [0.1, 0.0, 0.0, 0.9, 0.0]  # an isolated F
    out = record_classes(scores, ["N", "S", "V", "F", "Q"], peaks, FS)
    assert (out[20], out[21], out[40]) == ("N", "V", "F")


def _couplet_openings(openings):
    """Sinus rhythm in which each of ``openings``, (case, interval, kind), is a beat called N at that
    interval, then a V call and a pause: kind 0 has the sinus QRS, kind 2 a fusion of the sinus and V
    QRS. (R-peaks, classes, two-lead morphology, each case's beat index.)"""
    rr, kinds, classes, cases = [], [], [], {}

    def beat(interval, kind, cls, case=None):
        if case:
            cases[case] = len(rr)
        rr.append(interval), kinds.append(kind), classes.append(cls)

    def sinus(k=5):
        for _ in range(k):
            beat(1.0, 0, N)

    sinus()
    for case, interval, kind in openings:
        beat(interval, kind, N, case), beat(0.5, 1, V), beat(1.5, 0, N)
        sinus()
    kinds_a = np.array(kinds)
    morph = _shapes(np.where(kinds_a == 2, 1, kinds_a))
    plain = _shapes(np.zeros(len(kinds_a), int), seed=2)[:, :, 0]  # the narrow QRS alone
    mixed = kinds_a == 2
    morph[mixed, :, 0] = 0.3 * plain[mixed] + 0.7 * morph[mixed, :, 0]  # a fusion of the two
    morph[:, :, 2] = morph[:, :, 0] + np.random.default_rng(3).normal(0, 0.03, morph.shape[:2])
    return (np.cumsum(rr) * FS).astype(np.int64), np.array(classes), morph, cases


def test_a_premature_beat_with_the_v_beats_qrs_before_it_opens_a_couplet_as_a_fusion_beat(monkeypatch):
    """MIT-BIH 208's couplets open with a fusion beat the classifier calls N: premature, its QRS unlike
    the sinus beat's and like the V beat after it, in both leads. Not on time, not with the sinus QRS,
    not on one lead."""
    from ecg.models.decision import fusion_couplet_beats

    F = 3
    peaks, classes, morph, cases = _couplet_openings([("fusion", 0.75, 2), ("on_time", 1.0, 2), ("sinus_qrs", 0.75, 0)])
    out = fusion_couplet_beats(peaks, FS, classes, morph, n=N, v=V, f=F)
    assert out[cases["fusion"]] == F
    assert out[cases["on_time"]] == N and out[cases["sinus_qrs"]] == N
    assert ((out == classes) | (np.arange(len(out)) == cases["fusion"])).all()
    one_lead = morph.copy()
    one_lead[:, :, 2:] = 0.0
    assert (fusion_couplet_beats(peaks, FS, classes, one_lead, n=N, v=V, f=F) == classes).all()
    # through the whole decision, given the morphology: the fusion beat and the V beat make a couplet
    scores = np.zeros((len(classes), 5))
    scores[np.arange(len(classes)), classes] = 0.8
    labels = ["N", "S", "V", "F", "Q"]
    assert record_classes(scores, labels, peaks, FS)[cases["fusion"]] == "N"
    decided = record_classes(scores, labels, peaks, FS, morphology=morph)
    fusion = cases["fusion"]
    assert decided[fusion] in ("F", "V") and decided[fusion + 1] == "V"  # (the pair rule may call it V first)
    assert decided[cases["sinus_qrs"]] == "N"
    # the fused beat on time: N as shipped; the on-time bounds, off as shipped, make it F (the V beats'
    # probability shared with its shape: test_a_fusion_beat_on_time_opens_a_couplet_...)
    assert decided[cases["on_time"]] == "N"
    from ecg.models import decision

    monkeypatch.setattr(decision, "FUSION_ON_TIME_OF_CYCLE", 1.1)
    assert record_classes(scores, labels, peaks, FS, morphology=morph)[cases["on_time"]] == "F"


def test_a_fusion_beat_on_time_opens_a_couplet_where_the_classifier_sees_the_ventricular_beat_in_it(monkeypatch):
    """A fusion beat need not be premature: the sinus impulse and the ventricular focus meet at about the
    sinus beat's time (MIT-BIH 208's fusion beats up to 1.05 of the cycle). With the on-time bounds on (off
    as shipped: bench.experiments.fusion_couplets), it is F only where the classifier gives V and F together
    some probability, and never where it comes late."""
    from ecg.models import decision
    from ecg.models.decision import fusion_couplet_beats

    F = 3
    peaks, classes, morph, cases = _couplet_openings([("on_time", 1.0, 2), ("unseen", 1.0, 2), ("late", 1.2, 2)])
    share = np.zeros(len(classes))
    share[[cases["on_time"], cases["late"]]] = 0.2  # the classifier sees some of the V beat in them
    assert decision.FUSION_ON_TIME_OF_CYCLE == 0.0  # off as shipped
    assert (fusion_couplet_beats(peaks, FS, classes, morph, n=N, v=V, f=F, ventricular_share=share) == classes).all()
    monkeypatch.setattr(decision, "FUSION_ON_TIME_OF_CYCLE", 1.1)
    out = fusion_couplet_beats(peaks, FS, classes, morph, n=N, v=V, f=F, ventricular_share=share)
    assert out[cases["on_time"]] == F
    assert out[cases["unseen"]] == N and out[cases["late"]] == N
    assert ((out == classes) | (np.arange(len(out)) == cases["on_time"])).all()
    # without the probabilities, the premature rule alone: all N
    assert (fusion_couplet_beats(peaks, FS, classes, morph, n=N, v=V, f=F) == classes).all()
    # through the whole decision: V probability in the scores (shared among beats of one shape, so the
    # two fused beats on time read alike), the late one still N
    scores = np.zeros((len(classes), 5))
    scores[np.arange(len(classes)), classes] = 0.8
    scores[cases["on_time"], 2] = 0.1
    decided = record_classes(scores, ["N", "S", "V", "F", "Q"], peaks, FS, morphology=morph)
    assert decided[cases["on_time"]] == "F" and decided[cases["on_time"] + 1] == "V"
    assert decided[cases["late"]] == "N"
    assert record_classes(scores, ["N", "S", "V", "F", "Q"], peaks, FS)[cases["on_time"]] == "N"  # no shapes


def test_a_beat_format_models_f_call_beside_a_v_call_is_n():
    from ecg.models.decision import most_probable_classes

    scores = np.array(
        [[0.9, 0, 0, 0.1, 0], [0.2, 0, 0, 0.8, 0], [0.1, 0, 0.9, 0, 0], [0.2, 0, 0, 0.8, 0], [1, 0, 0, 0, 0]]
    )
    assert most_probable_classes(scores, ["N", "S", "V", "F", "Q"]).tolist() == ["N", "N", "V", "N", "N"]
    assert most_probable_classes(scores[[0, 3, 1, 4]], ["N", "S", "V", "F", "Q"]).tolist() == ["N", "F", "F", "N"]
    assert most_probable_classes(np.zeros((0, 5)), ["N", "S", "V", "F", "Q"]).tolist() == []


def test_shape_neighbours_break_ties_by_the_earlier_beat_whatever_the_processor():
    # identical shapes: np.argpartition alone picks among equal distances as its SIMD path does, so the
    # same record was read differently on another processor
    from ecg.models.decision import SHAPE_QRS, shape_neighbours

    morph = np.zeros((40, SHAPE_QRS.stop + 5, 1), np.float32)
    morph[::2, SHAPE_QRS, 0] = 1.0
    nearest = shape_neighbours(morph, k=3, window=40)
    assert nearest.tolist()[1] == [3, 5, 7] and nearest.tolist()[0] == [2, 4, 6]
