import numpy as np
import pytest
import wfdb

from ecg.rhythm import analyse_rhythm, vf
from ecg.rhythm.af import af_events
from ecg.rhythm.events import Event

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


def _record(name: str, sampfrom: int = 0, sampto: int | None = None):
    """The first lead of a MIT-BIH record and its reference beats (times relative to ``sampfrom``)."""
    record = str(mitdb_dir() / name)
    signal = wfdb.rdrecord(record, sampfrom=sampfrom, sampto=sampto).p_signal
    r_peaks, classes = _reference_beats(record, sampfrom, sampfrom + len(signal))
    return signal, np.asarray(r_peaks), classes


def _product_beats(signal: np.ndarray, fs: float) -> np.ndarray:
    from ecg.processing.context import detect_beats

    return detect_beats([signal[:, 0], signal[:, 1]], fs)


def test_sinus_rhythm_with_ectopy_is_not_af_once_its_p_waves_are_seen():
    # MIT-BIH 201, 1040-1300 s: sinus rhythm with ventricular trigeminy, irregular enough to read as
    # AF from R-R intervals alone; its P waves repeat.
    signal, r_peaks, classes = _record("201", 360 * 1040, 360 * 1300)
    rr_only = analyse_rhythm(signal=None, fs=360.0, r_peaks=r_peaks, classes=classes, n_samples=len(signal))
    assert [e for e in rr_only.events if e.type == "af"]
    with_p = analyse_rhythm(signal=signal[:, 0], fs=360.0, r_peaks=r_peaks, classes=classes)
    assert [e for e in with_p.events if e.type in ("af", "afl")] == []


def test_af_without_p_waves_is_still_found():
    signal, r_peaks, classes = _record("201", 0, 360 * 378)  # (AFIB from 0 to 378 s
    report = analyse_rhythm(signal=signal[:, 0], fs=360.0, r_peaks=r_peaks, classes=classes)
    covered = sum(e.end - e.start for e in report.events if e.type == "af")
    assert covered > 0.9 * (r_peaks[-1] - r_peaks[0])


def test_organised_flutter_inside_an_irregular_episode_is_typed_afl():
    # MIT-BIH 222 from 1600 s: (AFL 1606-1622, (AFIB 1622-1625, (AFL 1625-1654, ... (AFL 1663-1806.
    signal, r_peaks, classes = _record("222", 360 * 1600)
    report = analyse_rhythm(signal=signal[:, 0], fs=360.0, r_peaks=r_peaks, classes=classes)
    flutter_start = 360 * (1663 - 1600)
    afl = [e for e in report.events if e.type == "afl"]
    overlap = sum(max(0, e.end - max(e.start, flutter_start)) for e in afl)
    assert overlap > 0.5 * (len(signal) - flutter_start)


def test_vf_is_not_reported_where_105_is_clean():
    # 105 is MIT-BIH's noisiest record: a stretch where noise hides every QRS may read as VF, but none
    # lies away (10 s or more) from the annotators' noise marks.
    record = str(mitdb_dir() / "105")
    signal = wfdb.rdrecord(record).p_signal
    ann = wfdb.rdann(record, "atr")
    noise = ann.sample[np.isin(ann.symbol, ["~", "|"])]
    vf_events = vf.vf_events(signal[:, 0], 360.0, _product_beats(signal, 360.0))
    for e in vf_events:
        assert np.any((noise >= e.start - 3600) & (noise <= e.end + 3600)), (e.start / 360, e.end / 360)


def test_muscle_artefact_without_any_ecg_is_no_vf(monkeypatch):
    # the Noise Stress Test Database's muscle-artefact record holds no ECG: uploaded alone, it raised VF
    # episodes and the life-threatening alarm (its power lies above 12 Hz, VF's below)
    record = str(require(DATA_DIR / "nstdb" / "noise_only" / "ma.hea", "Noise Stress Test Database noise records"))
    signal = wfdb.rdrecord(record[: -len(".hea")]).p_signal[: 360 * 300]
    beats = _product_beats(signal, 360.0)
    for lead in range(signal.shape[1]):
        assert vf.vf_events(signal[:, lead], 360.0, beats) == []
    feats, _ = vf.window_features(signal[:, 0], 360.0, beats)
    assert np.median(feats[:, vf.FEATURES.index("high_fraction")]) > vf.HIGH_FRACTION_MAX
    monkeypatch.setattr(vf, "HIGH_FRACTION_MAX", np.inf)  # the window model alone reads VF there
    assert vf.vf_events(signal[:, 0], 360.0, beats)


def test_every_vf_episode_of_207_is_found_within_10_s_of_its_onset():
    record = str(mitdb_dir() / "207")
    signal = wfdb.rdrecord(record).p_signal
    ann = wfdb.rdann(record, "atr")
    onsets = ann.sample[np.asarray(ann.symbol) == "["]
    ends = ann.sample[np.asarray(ann.symbol) == "]"]
    found = vf.vf_events(signal[:, 0], 360.0, _product_beats(signal, 360.0))
    assert len(onsets) == 6
    for start, end in zip(onsets, ends):
        hits = [e for e in found if e.start <= end and start <= e.end]
        assert hits, start / 360
        # decided by the end of the DECISION_WINDOWS-th window from the episode's first one
        lag = vf.WINDOW_S + (vf.DECISION_WINDOWS - 1) * vf.STEP_S - (vf.WINDOW_S - vf.STEP_S) / 2
        assert min(e.start for e in hits) + lag * 360 - start <= 10 * 360


def test_faint_marks_inside_a_pause_do_not_end_it():
    # MIT-BIH 232's first minute: sinus pauses of 2.6-2.8 s at 25 and 40 s, in each of which the R-peak
    # detector marks a ripple at a fifth of the QRS amplitude or less. (The one at 56 s, whose mark
    # reaches a third of it, needs its shape: the next test.)
    signal, _, _ = _record("232", 0, 360 * 70)
    r_peaks = _product_beats(signal, 360.0)
    classes = ["N"] * len(r_peaks)
    pauses = {
        (round(e.start / 360), round(e.end / 360))
        for e in analyse_rhythm(signal=signal[:, 0], fs=360.0, r_peaks=r_peaks, classes=classes).events
        if e.type == "pause"
    }
    assert {(25, 27), (40, 43)} <= pauses
    blind = analyse_rhythm(signal=None, fs=360.0, r_peaks=r_peaks, classes=classes, n_samples=len(signal))
    assert len([e for e in blind.events if e.type == "pause"]) < len(pauses)


def test_a_small_mark_unlike_the_dominant_beat_inside_a_pause_does_not_end_it():
    # MIT-BIH 232's pause at 56-58.7 s holds a mark at 0.39 of its neighbours' QRS amplitude: too large to
    # be faint, but its QRS correlates 0.49 with the record's dominant beat (the worker adds that measure
    # from the record-level inputs)
    from ecg.processing.context import pause_measures, record_context
    from ecg.rhythm.analysis import waveform_measures

    signal, _, _ = _record("232", 0, 360 * 70)
    r_peaks = _product_beats(signal, 360.0)
    classes = ["N"] * len(r_peaks)
    measures = waveform_measures(signal[:, 0], 360.0, r_peaks)

    def pauses(m):
        events = analyse_rhythm(signal=signal[:, 0], fs=360.0, r_peaks=r_peaks, classes=classes, measures=m).events
        return {(round(e.start / 360), round(e.end / 360)) for e in events if e.type == "pause"}

    assert (56, 59) not in pauses(measures)
    context = record_context([signal[:, 0], signal[:, 1]], 360.0, r_peaks)
    with_shape = {**measures, **pause_measures(context)}
    assert {(25, 27), (40, 43), (56, 59)} <= pauses(with_shape)


def test_beats_faint_in_a_saturated_lead_but_whole_in_the_second_end_a_pause():
    # MIT-BIH 208 at 1,384-1,389 s: MLII saturates and drifts; the three beats found in it read 0.03-0.23
    # of their neighbours' amplitude, and a 4.8-s asystole was reported. The second lead shows them as
    # QRS complexes like its dominant beat's.
    from ecg.processing.context import pause_measures, record_context
    from ecg.rhythm.analysis import waveform_measures

    start = 1200
    signal, reference, _ = _record("208", 360 * start, 360 * 1500)
    r_peaks = _product_beats(signal, 360.0)
    classes = ["N"] * len(r_peaks)
    context = record_context([signal[:, 0], signal[:, 1]], 360.0, r_peaks)
    measures = waveform_measures(signal[:, 0], 360.0, r_peaks) | pause_measures(context)

    def silences(m, noisy=None):
        events = analyse_rhythm(
            signal=signal[:, 0], fs=360.0, r_peaks=r_peaks, classes=classes, measures=m, noisy=noisy
        ).events
        return [(e.start / 360 + start, e.type) for e in events if e.type in ("pause", "asystole")]

    # the pause rule alone (the noise stage marks the step as well: test_noise)
    without_second = {k: v for k, v in measures.items() if k != "second_lead_qrs"}
    assert any(t == "asystole" and 1383 < at < 1385 for at, t in silences(without_second, noisy=[]))
    assert not any(1383 < at < 1389 for at, _ in silences(measures, noisy=[]))
    found = silences(measures)
    assert not any(1383 < at < 1389 for at, _ in found)
    # the reference pause at 1,270.8 s holds a noise mark unlike the dominant beat on both leads: still found
    ref_pause = reference[np.flatnonzero(np.diff(reference) >= 2 * 360)] / 360 + start
    assert len(ref_pause) and all(any(abs(at - p) < 0.5 for at, _ in found) for p in ref_pause)


def test_two_beats_small_in_v5_but_whole_in_mlii_make_no_pause():
    # MIT-BIH 100 analysed on V5: at 296-298 s two beats dip to 0.07-0.22 of their neighbours' height
    # there, and a 2.3-s pause was reported in a normal record; MLII shows them at 0.76-0.87 of its own
    # dominant beat's amplitude (the bound was 0.8 of everything)
    from ecg.processing.context import pause_measures, record_context
    from ecg.rhythm.analysis import waveform_measures

    start = 240
    signal, _, _ = _record("100", 360 * start, 360 * 360)
    v5, mlii = signal[:, 1], signal[:, 0]
    r_peaks = _product_beats(signal[:, ::-1], 360.0)
    context = record_context([v5, mlii], 360.0, r_peaks)
    measures = waveform_measures(v5, 360.0, r_peaks) | pause_measures(context)
    classes = ["N"] * len(r_peaks)
    events = analyse_rhythm(signal=v5, fs=360.0, r_peaks=r_peaks, classes=classes, measures=measures).events
    assert [e for e in events if e.type in ("pause", "asystole")] == []
    without = {k: v for k, v in measures.items() if k != "second_lead_qrs"}
    events = analyse_rhythm(signal=v5, fs=360.0, r_peaks=r_peaks, classes=classes, measures=without).events
    assert any(e.type == "pause" and 295 < e.start / 360 + start < 297 for e in events)


def test_only_a_lone_small_mark_unlike_the_dominant_beat_and_not_ventricular_is_dropped():
    from ecg.rhythm.pauses import FAINT, FAINT_UNLIKE, UNLIKE_CORRELATION, pause_events

    fs = 100.0
    # a 3-s pause from 400 to 700 split by a mark at 550
    r_peaks = np.array([0, 100, 200, 300, 400, 550, 700, 800, 900, 1000])
    amplitude = np.ones(len(r_peaks))
    amplitude[5] = (FAINT + FAINT_UNLIKE) / 2
    correlation = np.full(len(r_peaks), 0.95)
    correlation[5] = UNLIKE_CORRELATION - 0.1
    classes = np.array(["N"] * len(r_peaks))

    def found(**kw):
        return [(e.start, e.end) for e in pause_events(r_peaks, fs, qrs_amplitude=amplitude, **kw)]

    assert found() == []  # the amplitude alone: not faint enough
    assert found(qrs_correlation=correlation, classes=classes) == [(400, 700)]
    like = correlation.copy()
    like[5] = UNLIKE_CORRELATION + 0.1
    assert found(qrs_correlation=like, classes=classes) == []  # the dominant beat's shape: a small real beat
    ventricular = classes.copy()
    ventricular[5] = "V"
    assert found(qrs_correlation=correlation, classes=ventricular) == []
    # two such marks in a row are a rhythm of their own (a paced record's spontaneous beats)
    pair_peaks = np.r_[r_peaks[:5], 500, 600, r_peaks[6:]]  # 1-s intervals: no pause unless both are dropped
    pair_amp = np.r_[amplitude[:5], amplitude[5], amplitude[5], amplitude[6:]]
    pair_corr = np.r_[correlation[:5], correlation[5], correlation[5], correlation[6:]]
    pair_classes = np.array(["N"] * len(pair_peaks))
    events = pause_events(pair_peaks, fs, qrs_amplitude=pair_amp, qrs_correlation=pair_corr, classes=pair_classes)
    assert [(e.start, e.end) for e in events] == []


def test_the_supraventricular_summary_counts_only_the_runs_the_event_list_holds():
    rng = np.random.default_rng(3)
    sinus = np.full(300, 0.8)
    rr = np.concatenate([sinus, rng.uniform(0.4, 1.1, 300), sinus])
    r_peaks = np.round(np.cumsum(rr) * FS).astype(int)
    classes = np.array(["N"] * len(r_peaks))
    classes[400:404] = "S"  # a "run" inside the AF: irregular rhythm, not supraventricular ectopy
    classes[450:452] = "S"
    classes[700:703] = "S"  # a real run in the sinus rhythm after it
    report = analyse_rhythm(signal=None, fs=FS, r_peaks=r_peaks, classes=classes)
    listed = [e for e in report.events if e.type in ("svt", "s_run", "s_couplet")]
    s = report.summary["supraventricular"]
    assert [e.start for e in listed] == [r_peaks[700]]
    assert (s["runs"], s["couplets"]) == (1, 0) and s["longest_run"]["start"] == r_peaks[700]
    # S calls inside AF are no ectopy (MIT-BIH 203: 75 of its 80 S calls lie in its AF): counted apart
    assert (s["total"], s["isolated"], s["in_af"]) == (3, 0, 6)
    assert sum(h["s"] for h in report.summary["hourly"]) == 3


def test_no_af_episode_reaches_across_a_gap():
    # 60 s of an irregular rhythm, then (a gap: VF or no signal) 60 s more: two episodes, not one
    rng = np.random.default_rng(3)
    rr = rng.uniform(0.45, 1.1, 200)
    r_peaks = (np.cumsum(rr) * FS).astype(np.int64)
    classes = np.array(["N"] * len(r_peaks))
    whole, whole_covered = af_events(r_peaks, classes, FS)
    assert len(whole) == 1
    middle = len(r_peaks) // 2
    gaps = np.zeros(len(r_peaks) - 1, bool)
    gaps[middle - 1] = True  # between beat middle - 1 and beat middle
    split, covered = af_events(r_peaks, classes, FS, gaps=gaps)
    assert len(split) == 2
    assert split[0].end == r_peaks[middle - 1] and split[1].start == r_peaks[middle]
    assert (covered == whole_covered).all()  # the same beats, in two episodes


def test_an_atrial_run_into_af_is_neither_listed_nor_counted_as_ectopy():
    # svdb 854: a 4-beat atrial run whose last beat is the AF's first; the run was dropped from the
    # events but its beats outside the AF stayed in the total (97 against 94 isolated, couplets and runs)
    rng = np.random.default_rng(6)
    rr = np.concatenate([np.full(300, 0.8), np.full(3, 0.45), rng.uniform(0.4, 1.1, 300), np.full(300, 0.8)])
    r_peaks = np.round(np.cumsum(rr) * FS).astype(int)
    classes = np.array(["N"] * len(r_peaks))
    classes[[50, 120, 700]] = "S"  # isolated, in sinus rhythm
    af = analyse_rhythm(signal=None, fs=FS, r_peaks=r_peaks, classes=classes).events
    (episode,) = [e for e in af if e.type == "af"]
    first_af = int(np.searchsorted(r_peaks, episode.start))
    classes[first_af - 3 : first_af + 1] = "S"  # a run ending on the AF's first beat
    report = analyse_rhythm(signal=None, fs=FS, r_peaks=r_peaks, classes=classes)
    s = report.summary["supraventricular"]
    listed = [e for e in report.events if e.type in ("svt", "s_run", "s_couplet")]
    assert listed == [] and (s["runs"], s["couplets"]) == (0, 0)
    assert (s["total"], s["isolated"], s["in_af"]) == (3, 3, 4)
    assert s["total"] == s["isolated"] + sum(e.beats for e in listed)


def test_af_goes_on_through_a_noisy_stretch_as_one_episode_but_not_through_vf():
    # MIT-BIH 203 and 210: AF on both sides of a stretch too noisy to read was two episodes
    rng = np.random.default_rng(7)
    rr = np.concatenate([np.full(100, 0.8), rng.uniform(0.4, 1.1, 400), np.full(100, 0.8)])
    r_peaks = np.round(np.cumsum(rr) * FS).astype(int)
    classes = ["N"] * len(r_peaks)
    middle = int(r_peaks[300])
    noisy = [(middle, middle + int(8 * FS))]
    report = analyse_rhythm(signal=None, fs=FS, r_peaks=r_peaks, classes=classes, noisy=noisy)
    (episode,) = [e for e in report.events if e.type == "af"]
    assert episode.start < noisy[0][0] and noisy[0][1] < episode.end
    af = report.summary["af"]
    assert af["episodes"] == 1
    # the noisy 8 s are none of the AF time, and the rate is over the episode's own intervals
    assert af["duration_s"] == pytest.approx((episode.end - episode.start) / FS - 8.0, abs=0.1)
    inside = (
        (r_peaks >= episode.start) & (r_peaks <= episode.end) & ~((r_peaks >= noisy[0][0]) & (r_peaks <= noisy[0][1]))
    )
    intervals = np.diff(r_peaks[inside]) / FS
    assert episode.rate_bpm == pytest.approx(60.0 / np.mean(intervals[intervals < 2.0]), rel=0.02)
    # through VF it is not: what the rhythm was after it is for the beats after it to say
    vf_episode = Event("vf", noisy[0][0], noisy[0][1], 0, None)
    report = analyse_rhythm(signal=None, fs=FS, r_peaks=r_peaks, classes=classes, noisy=[], vf_found=[vf_episode])
    assert [e.type for e in report.events if e.type in ("af", "vf")] == ["af", "vf", "af"]


def test_a_faint_mark_a_pause_is_read_through_is_no_beat_to_the_rest_of_the_report():
    # MIT-BIH 207 after its VF: a faint mark called V inside a 2.2-s pause opened an 89-beat idioventricular
    # run, so the report listed a pause that began before the run and a second pause inside it
    fs = 100.0
    times = np.r_[np.arange(0.0, 11.0), 11.2, np.arange(12.5, 40.0)]  # a 2.5-s pause 10 -> 12.5 s, a mark at 11.2 s
    r_peaks = np.round(times * fs).astype(np.int64)
    classes = np.array(["N"] * len(r_peaks))
    mark = 11
    classes[mark] = classes[mark + 1] = "V"  # the mark, then a real ventricular beat
    amplitude = np.ones(len(r_peaks))
    amplitude[mark] = 0.1
    report = analyse_rhythm(
        signal=None,
        fs=fs,
        r_peaks=r_peaks,
        classes=classes,
        n_samples=int(r_peaks[-1]) + 1,
        measures={"qrs_amplitude": amplitude},
        no_signal=[],
        noisy=[],
    )
    pauses = [(e.start, e.end) for e in report.events if e.type == "pause"]
    assert pauses == [(int(r_peaks[mark - 1]), int(r_peaks[mark + 1]))]
    assert not [e for e in report.events if e.type.startswith("v_")], "the mark and the V beat after it made a couplet"
    assert report.summary["ventricular"]["total"] == 1 and report.summary["beats_left_out"] == 1
    assert report.summary["heart_rate"]["hr_min"]["bpm"] < 55  # the 8 intervals over the pause: 9.5 s, not 8.5
