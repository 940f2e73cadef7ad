"""Stretches too noisy to read are left out of the rhythm analysis; ECG, however irregular, is not."""

import numpy as np
import pytest
import wfdb

from ecg.rhythm import analyse_rhythm, noise
from ecg.rhythm.events import Event

from ...data import DATA_DIR, mitdb_dir, require

FS = 360.0


def _product_peaks(signal: np.ndarray) -> np.ndarray:
    from ecg.processing.context import detect_beats

    return detect_beats([signal[:, 0], signal[:, 1]], FS)


def _stress_record(name: str, seconds: int) -> np.ndarray:
    path = require(DATA_DIR / "nstdb", "MIT-BIH Noise Stress Test Database") / name
    return wfdb.rdrecord(str(path), sampto=int(FS * seconds)).p_signal


def _covered(spans, start_s: float, end_s: float) -> float:
    a, b = int(start_s * FS), int(end_s * FS)
    return sum(max(0, min(e, b) - max(s, a) + 1) for s, e in spans) / (b - a)


def test_electrode_motion_noise_is_marked_and_its_false_rhythm_goes():
    # nstdb 118e00: MIT-BIH 118 with electrode-motion noise at 0 dB from 300 to 420 s and 540 to 660 s;
    # the detector takes the noise for beats, whose irregular intervals read as AF.
    signal = _stress_record("118e00", 660)
    r_peaks = _product_peaks(signal)
    classes = np.array(["N"] * len(r_peaks))
    spans = noise.noisy(signal[:, 0], FS, r_peaks)
    assert _covered(spans, 300, 420) > 0.45
    assert _covered(spans, 540, 660) > 0.35
    assert _covered(spans, 0, 300) == 0.0

    def af_in_noise(report) -> float:
        return _covered([(e.start, e.end) for e in report.events if e.type == "af"], 300, 420) + _covered(
            [(e.start, e.end) for e in report.events if e.type == "af"], 540, 660
        )

    without = analyse_rhythm(signal=signal[:, 0], fs=FS, r_peaks=r_peaks, classes=classes, noisy=[])
    report = analyse_rhythm(signal=signal[:, 0], fs=FS, r_peaks=r_peaks, classes=classes)
    assert af_in_noise(without) > 1.0
    assert af_in_noise(report) < 0.5 * af_in_noise(without)
    for event in report.events:  # none starts or ends in a stretch marked as noise
        assert not any(s <= event.start <= e or s <= event.end <= e for s, e in spans), event
    kept = [(s, e) for s, e in spans if e - s + 1 >= noise.MIN_LEFT_S * FS]  # no VF or ectopic run cut them
    assert report.summary["noise"] == [{"start": s, "end": e} for s, e in kept]
    assert report.summary["noise_s"] == pytest.approx(sum(e - s + 1 for s, e in kept) / FS, abs=0.1)
    assert report.summary["beats_left_out"] > 0


@pytest.mark.parametrize(
    ("record", "what", "at_most"),
    [
        ("100", "clean sinus rhythm", 0.02),
        ("201", "atrial fibrillation and flutter", 0.02),
        # 203's 16 s marked lie at its own noise marks (5-8, 533-536 and 553-557 s) and at a 4-mV
        # artefact between two beats at 113.5 s
        ("203", "atrial flutter and fibrillation with multiform ventricular runs", 0.03),
        ("106", "ventricular bigeminy, couplets and runs", 0.02),
    ],
)
def test_ecg_however_irregular_is_not_noise(record, what, at_most):
    signal = wfdb.rdrecord(str(mitdb_dir() / record), sampto=int(FS * 600)).p_signal
    spans = noise.noisy(signal[:, 0], FS, _product_peaks(signal))
    assert _covered(spans, 0, 600) < at_most, what


def test_vf_is_read_through_noise_and_a_flat_stretch_is_no_noise():
    rng = np.random.default_rng(3)
    n = int(FS * 60)
    t = np.arange(n) / FS
    values = rng.normal(0, 0.005, n)
    r_peaks = np.arange(int(0.5 * FS), n, int(0.8 * FS))
    for p in r_peaks:  # narrow QRS complexes
        values[max(0, p - 10) : p + 10] += np.hanning(len(values[max(0, p - 10) : p + 10]))
    noisy_from, noisy_to = int(20 * FS), int(40 * FS)
    values[noisy_from:noisy_to] += (
        0.8 * np.sin(2 * np.pi * 9 * t[noisy_from:noisy_to]) * rng.normal(1, 0.3, noisy_to - noisy_from)
    )
    spans = noise.noisy(values, FS, r_peaks)
    assert _covered(spans, 21, 39) > 0.9
    assert _covered(spans, 0, 18) == 0.0 and _covered(spans, 42, 60) == 0.0

    vf_event = Event("vf", int(25 * FS), int(30 * FS), 0, None)
    classes = np.array(["N"] * len(r_peaks))
    report = analyse_rhythm(signal=values, fs=FS, r_peaks=r_peaks, classes=classes, vf_found=[vf_event])
    assert [e.type for e in report.events] == ["vf"]
    for stretch in report.summary["noise"]:  # VF keeps its time
        assert stretch["end"] < vf_event.start or stretch["start"] > vf_event.end

    # Six seconds with no beat: asystole, not noise, though the baseline still moves a little.
    quiet = values.copy()
    quiet[int(5 * FS) : int(11 * FS)] = rng.normal(0, 0.005, int(6 * FS))
    kept = r_peaks[(r_peaks < 5 * FS) | (r_peaks >= 11 * FS)]
    assert _covered(noise.noisy(quiet, FS, kept), 0, 18) == 0.0
    report = analyse_rhythm(signal=quiet, fs=FS, r_peaks=kept, classes=np.array(["N"] * len(kept)), noisy=None)
    assert "asystole" in [e.type for e in report.events]


def test_a_long_recording_scores_the_same_a_piece_at_a_time(monkeypatch):
    signal = wfdb.rdrecord(str(mitdb_dir() / "105"), sampto=int(FS * 400)).p_signal
    r_peaks = _product_peaks(signal)
    monkeypatch.setattr(noise, "CHUNK_S", 10_000)
    whole = noise.second_scores(signal[:, 0], FS, r_peaks)
    monkeypatch.setattr(noise, "CHUNK_S", 60)
    pieces = noise.second_scores(signal[:, 0], FS, r_peaks)
    assert len(whole) == 400
    # the same but at the recording's own first and last second, where each piece's offset differs
    np.testing.assert_allclose(pieces[1:-1], whole[1:-1], rtol=1e-3)
    np.testing.assert_allclose(pieces, whole, rtol=0.05)


def test_without_cuts_spans_around_the_taken_ones():
    assert noise.without([(0, 100), (200, 300)], [(50, 60), (250, 400)]) == [(0, 49), (61, 100), (200, 249)]
    assert noise.without([(0, 10)], []) == [(0, 10)]
    assert noise.without([(5, 10)], [(0, 20)]) == []


def test_the_two_leads_disagree_in_noise_and_agree_in_clean_rhythm():
    from ecg.processing.context import analyse
    from ecg.processing.detection import detect_r_peaks

    signal = _stress_record("118e06", 660)  # 6 dB from 300 to 420 s and 540 to 660 s
    _, context = analyse(signal[:, 0], FS, signal[:, 1])
    first, second = context.lead_peaks  # what the detector found on each lead alone
    np.testing.assert_array_equal(first, detect_r_peaks(signal[:, 0], FS))
    np.testing.assert_array_equal(second, detect_r_peaks(signal[:, 1], FS))
    agreement = noise.lead_agreement(first, second, FS, 660)
    assert len(agreement) == 660
    assert np.median(agreement[20:290]) > 0.95
    assert np.median(agreement[305:415]) < np.median(agreement[20:290]) - 0.05
    r_peaks = context.r_peaks
    alone = noise.noisy(signal[:, 0], FS, r_peaks)
    both = noise.noisy(signal[:, 0], FS, r_peaks, context.lead_peaks)
    assert _covered(both, 300, 420) > _covered(alone, 300, 420) + 0.1
    assert _covered(both, 0, 300) == 0.0


def test_a_regular_ectopic_run_keeps_its_time_in_noise():
    r_peaks = np.array([0, 300, 600, 900, 1000, 1100, 1200, 1300, 1600, 1700, 1760, 1900, 2200]) * 3
    classes = np.array(list("NNNNVVVVNVVVN"))
    # 1000-1300: four V beats 100 apart (regular); 1700-1900: three V beats 60 and 140 apart (not)
    assert noise.regular_runs(r_peaks, classes) == [(3000, 3900)]
    svt = np.array(list("NNNNSSSSNSSSN"))  # a regular run of S beats (an SVT) is kept as well
    assert noise.regular_runs(r_peaks, svt) == [(3000, 3900)]
    report = analyse_rhythm(signal=None, fs=FS, r_peaks=r_peaks, classes=classes, n_samples=7000, noisy=[(2500, 6000)])
    # what is left before the run is under MIN_LEFT_S: the run's own ripple, not noise
    assert report.summary["noise"] == [{"start": 3901, "end": 6000}]
    assert [e.type for e in report.events if e.type in ("v_run", "vt")] != []


@pytest.mark.parametrize(
    ("record", "start_s", "asystole_s", "what"),
    [
        ("208", 1300, (1383.9, 1388.6), "the baseline steps by twice the QRS height and decays over 5 s"),
        ("116", 1340, (1354.4, 1361.9), "a step of 4 mV, then the beats squashed while it decays"),
        ("116", 1340, (1390.6, 1396.6), "the amplifier at its rail for 0.7 s"),
    ],
)
def test_a_saturating_amplifier_is_noise_not_asystole(record, start_s, asystole_s, what):
    # MLII alone (a one-lead upload): the squashed beats read as marks inside a pause, and no second lead
    # says they are beats. With both leads the pause rule asks the second lead (test_af_vf).
    from ecg.processing.context import analyse, pause_measures
    from ecg.rhythm.analysis import waveform_measures

    values = wfdb.rdrecord(str(mitdb_dir() / record), sampfrom=int(FS * start_s), sampto=int(FS * (start_s + 120)))
    lead = values.p_signal[:, 0]
    _, context = analyse(lead, FS, None)
    r_peaks = context.r_peaks
    measures = waveform_measures(lead, FS, r_peaks) | pause_measures(context)
    classes = np.array(["N"] * len(r_peaks))
    a, b = asystole_s[0] - start_s, asystole_s[1] - start_s

    def asystoles(report) -> list[tuple[float, float]]:
        return [(e.start / FS, e.end / FS) for e in report.events if e.type == "asystole"]

    spans = noise.noisy(lead, FS, r_peaks)
    without = analyse_rhythm(signal=lead, fs=FS, r_peaks=r_peaks, classes=classes, measures=measures, noisy=[])
    assert any(s < b and e > a for s, e in asystoles(without)), what  # the false asystole, without the stage
    report = analyse_rhythm(signal=lead, fs=FS, r_peaks=r_peaks, classes=classes, measures=measures, noisy=spans)
    assert not any(s < b and e > a for s, e in asystoles(report)), what
    assert _covered(spans, a, b) > 0.3
    assert _covered(spans, 0, 10) == 0.0  # the clean minute before it is read


def test_the_pauses_of_sinus_arrest_are_no_step():
    # MIT-BIH 232: 2-6-s pauses in sinus bradycardia, P waves inside them, a calm baseline
    signal = wfdb.rdrecord(str(mitdb_dir() / "232"), sampto=int(FS * 600)).p_signal
    r_peaks = _product_peaks(signal)
    steps = noise.step_scores(signal[:, 0], FS, r_peaks)
    assert len(steps) == 600 and 0.05 < np.median(steps) < 0.5
    assert steps.max() < noise.STEP
    assert not noise.clipped_seconds(signal[:, 0], FS, 600).any()


def test_clipping_is_the_recordings_extreme_held():
    values = np.sin(np.arange(int(FS * 10)) / FS * 2 * np.pi)
    values[int(4.5 * FS) : int(4.8 * FS)] = 1.5  # at its rail for 0.3 s
    values[int(7 * FS) : int(7 * FS) + 10] = -1.5  # the lowest value, for 28 ms only
    clipped = noise.clipped_seconds(values, FS, 10)
    assert list(np.flatnonzero(clipped)) == [4]
    assert not noise.clipped_seconds(np.zeros(int(FS * 10)), FS, 10).any()  # a flat line is no rail


def test_noise_lasts_while_the_amplifier_recovers_the_beats_height():
    # MIT-BIH 116 at 22.5 minutes, both leads: after the step the beats stay at 0.03-0.42 of their height
    # for 8 s; three of them the second lead confirms end the asystole, but a 2.3-s pause (1,359.6-1,361.9 s)
    # between two squashed ones the second lead does not confirm was left after the step's first 3 s.
    from ecg.processing.context import analyse, pause_measures
    from ecg.rhythm.analysis import waveform_measures

    start = 1340
    signal = wfdb.rdrecord(str(mitdb_dir() / "116"), sampfrom=int(FS * start), sampto=int(FS * (start + 120))).p_signal
    _, context = analyse(signal[:, 0], FS, signal[:, 1])
    r_peaks = context.r_peaks
    measures = waveform_measures(signal[:, 0], FS, r_peaks) | pause_measures(context)
    classes = np.array(["N"] * len(r_peaks))
    spans = noise.noisy(signal[:, 0], FS, r_peaks, context.lead_peaks)

    def silences(noisy) -> list[float]:
        report = analyse_rhythm(
            signal=signal[:, 0], fs=FS, r_peaks=r_peaks, classes=classes, measures=measures, noisy=noisy
        )
        return [e.start / FS + start for e in report.events if e.type in ("pause", "asystole")]

    assert any(1354 < at < 1362 for at in silences([]))
    assert not any(1354 < at < 1362 for at in silences(spans))
    tallest = noise.tallest_beats(signal[:, 0], FS, r_peaks)
    assert tallest[18:22].max() < noise.RECOVERED < tallest[25]  # squashed until 1,362 s, whole again by 1,365 s
    assert _covered(spans, 14, 21.5) > 0.95 and _covered(spans, 30, 48) == 0.0  # 116's next step: 1,390 s


def test_recovery_lasts_while_the_beats_are_squashed_and_no_longer():
    saturated = np.zeros(30, bool)
    saturated[[2, 20]] = True
    squashed = np.zeros(30, bool)
    squashed[3:18] = True  # the beats after the first step stay squashed for 15 s; after the second, not
    out = noise.recovering(saturated, squashed)
    # RECOVERY_MAX_S = 10 after the first, RECOVERY_S = 3 after the second
    assert list(np.flatnonzero(out)) == [*range(2, 13), *range(20, 24)]
    squashed[8] = False  # whole beats end the recovery
    assert list(np.flatnonzero(noise.recovering(saturated, squashed))) == [*range(2, 8), *range(20, 24)]


@pytest.mark.parametrize("fs", [100.3, 102.4, 110.7])
@pytest.mark.parametrize("seconds", [12, 13, 17, 26, 37])
def test_a_rate_that_resamples_a_sample_short_is_read(fs, seconds):
    # at these rates and lengths the 128-Hz piece comes out a sample short of its whole seconds
    rng = np.random.default_rng(0)
    n = int(seconds * fs) + 1
    values = rng.normal(0, 0.02, n)
    r_peaks = (np.arange(0.5, seconds - 0.5, 0.8) * fs).astype(int)
    for p in r_peaks:
        values[p - 2 : p + 3] += [0.2, 0.6, 1.0, 0.6, 0.2]
    assert noise.noisy(values, fs, r_peaks) == []
    assert len(noise.step_scores(values, fs, r_peaks)) == int(n // fs)
