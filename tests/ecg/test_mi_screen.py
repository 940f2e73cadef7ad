"""The MI screen's rules: which lead, which beats, and each status."""

import numpy as np
import pytest

from ecg.processing import mi_screen
from ecg.processing.mi_screen import choose_lead, lead_values, screen

FS = 500.0


def synthetic(n: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A lead with ``n`` identical beats (Gaussian P, QRS, T) at 75 bpm, and its R-peaks."""
    rr = int(0.8 * FS)
    t = np.arange(rr) / FS
    beat = (
        0.15 * np.exp(-(((t - 0.15) / 0.03) ** 2))
        + 1.0 * np.exp(-(((t - 0.35) / 0.012) ** 2))
        + 0.3 * np.exp(-(((t - 0.6) / 0.05) ** 2))
    )
    values = np.tile(beat, n + 2) + np.random.default_rng(seed).normal(0, 0.005, rr * (n + 2))
    r_peaks = rr + int(0.35 * FS) + rr * np.arange(n)
    return values, r_peaks


def run(classes, *, p_n=None, values=None, r_peaks=None, mi=None, lead="II", threshold=0.5):
    n = len(classes)
    if values is None:
        values, r_peaks = synthetic(n)
    windows = mi_screen.beat_windows(values, FS, r_peaks)
    return screen(
        r_peaks=r_peaks,
        choice=choose_lead([lead, "V1"]),
        classes=classes,
        p_n=np.full(n, 0.99) if p_n is None else np.asarray(p_n),
        windows=windows,
        mi_probabilities=np.full(n, 0.8) if mi is None else np.asarray(mi),
        threshold=threshold,
    )


def test_lead_ii_is_chosen_whatever_its_label():
    for label in ("II", "ii", "ECG II", "Lead_II"):
        choice = choose_lead(["I", label, "V1"])
        assert choice.lead == label and choice.source == (label,)
    # the reason names a PTB file's "ii" and "avr" as pages write leads; the lead stays the file's label
    assert choose_lead(["i", "ii", "v1"]).reason.startswith("lead II: ")
    assert "(leads: I, aVR, V1)" in choose_lead(["i", "avr", "v1"]).reason
    assert choose_lead(["i", "iii"]).reason == "lead II derived from I and III (Einthoven: II = I + III)"


@pytest.mark.parametrize("names", [["ECG1", "ECG2"], ["ch1", "ch2"], ["V1", "V5"], ["1"], []])
def test_unnamed_or_other_leads_are_not_applicable(names):
    choice = choose_lead(names)
    assert not choice.applicable
    result = screen(
        choice=choice,
        classes=["N"] * 10,
        p_n=np.ones(10),
        windows=np.ones((10, 5)),
        mi_probabilities=np.ones(10),
        threshold=0.5,
    )
    assert result.as_dict() == {
        "status": "not_applicable",
        "reason": choice.reason,
        "lead": None,
        "beats_used": 0,
        "score": None,
        "threshold": None,
        "flag": False,
    }
    assert "lead II" in result.reason


@pytest.mark.parametrize(
    ("seconds", "said"), [(10.0, None), (300.0, None), (301.0, "lasts 5 minutes"), (86400.0, "lasts 24 h 00 min")]
)
def test_a_recording_longer_than_a_resting_ecg_is_not_applicable_whatever_its_leads(seconds, said):
    choice = choose_lead(["I", "II", "III"], duration_s=seconds)
    if said is None:
        assert choice.applicable and choice.lead == "II"
    else:
        assert not choice.applicable and said in choice.reason and "ambulatory or monitoring" in choice.reason


def test_mlii_follows_the_measured_decision():
    assert choose_lead(["MLII", "V1"]).applicable is mi_screen.MLII_QUALIFIES
    assert choose_lead(["MLII", "V1"], accept_mlii=True).lead == "MLII"


def test_lead_ii_is_derived_from_i_and_iii_when_absent():
    choice = choose_lead(["I", "III", "aVR", "V1"])
    assert choice.lead == "II (I + III)" and choice.derived and choice.source == ("I", "III")
    first, third = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 4.0])
    assert lead_values({"I": first, "III": third, "V1": np.zeros(3)}, choice).tolist() == [1.5, 1.0, 7.0]


def test_a_clean_record_is_screened_and_flagged_at_the_threshold():
    result = run(["N"] * 12, mi=np.full(12, 0.7), threshold=0.6)
    assert result.status == "screened" and result.flag and result.beats_used == 12
    assert result.score == pytest.approx(0.7) and result.threshold == 0.6
    below = run(["N"] * 12, mi=np.full(12, 0.5), threshold=0.6)
    assert below.status == "screened" and not below.flag


def ectopic_record(n: int, *, premature: int, ventricular: int) -> tuple[np.ndarray, np.ndarray]:
    """A regular lead with one premature beat of normal shape and one wide, inverted (ventricular) beat."""
    values, r_peaks = synthetic(n)
    width = int(0.15 * FS)
    early = r_peaks[premature] - int(0.3 * FS)
    segment = values[r_peaks[premature] - width : r_peaks[premature] + width].copy()
    values[early - width : early + width] = segment  # the same QRS 0.3 s early
    r_peaks = r_peaks.copy()
    r_peaks[premature] = early
    v = r_peaks[ventricular]
    values[v - 60 : v + 60] = -1.2 * np.hanning(120)  # wide and negative
    return values, r_peaks


def test_ectopic_beats_and_their_neighbours_are_not_scored():
    values, r_peaks = ectopic_record(20, premature=6, ventricular=13)
    mi = np.full(20, 0.1)
    mi[[5, 6, 12, 13]] = 0.99  # what an ectopic beat and the beat before it score
    result = run(["N"] * 20, values=values, r_peaks=r_peaks, mi=mi)
    assert set(result.scored) == set(range(20)) - {5, 6, 12, 13}
    assert result.score == pytest.approx(0.1) and not result.flag
    assert result.excluded["premature"] == 1 and result.excluded["unlike the dominant beat"] == 1
    assert result.excluded["before an ectopic beat"] == 2


def test_the_beat_model_calling_the_dominant_beat_v_does_not_exclude_it():
    """Resting MI beats are often called V by the beat model; regular beats of the dominant shape count."""
    result = run(["V"] * 10, p_n=np.full(10, 0.01), mi=np.full(10, 0.9), threshold=0.5)
    assert result.status == "screened" and result.beats_used == 10 and result.flag


def test_with_the_class_rule_unconfident_and_non_n_beats_are_not_scored():
    p_n = np.full(10, 0.99)
    p_n[:3] = 0.6
    values, r_peaks = synthetic(10)
    scored, excluded = mi_screen.clean_beats(
        classes=["N"] * 9 + ["V"], p_n=p_n, windows=mi_screen.beat_windows(values, FS, r_peaks), rule="class"
    )
    assert set(scored) == {3, 4, 5, 6, 7}
    assert excluded["not N, or N not confident"] == 4 and excluded["before an ectopic beat"] == 1


def test_paced_beats_are_not_scored():
    classes = ["N"] * 12
    classes[6] = "Q"
    result = run(classes)
    assert set(result.scored) == set(range(12)) - {5, 6}


def test_noisy_beats_are_not_scored():
    values, r_peaks = synthetic(12)
    noisy = np.random.default_rng(1).normal(0, 0.4, 400)
    values[r_peaks[4] - 100 : r_peaks[4] + 200] += noisy[:300]  # an artefact over beat 4 only
    values[r_peaks[7] - 50 : r_peaks[7] + 50] *= 4  # an amplitude jump at beat 7
    result = run(["N"] * 12, values=values, r_peaks=r_peaks)
    # an artefact is indistinguishable from an ectopic beat by shape: the beat before goes too
    assert set(result.scored) == set(range(12)) - {3, 4, 7}
    assert result.excluded["unlike the dominant beat"] == 1 and result.excluded["amplitude outlier"] == 1


def test_too_few_clean_beats_are_not_assessable():
    classes = ["Q", "N", "Q", "N", "N", "Q", "N", "Q", "N", "Q"]
    result = run(classes, mi=np.full(10, 0.99))
    assert result.status == "not_assessable" and not result.flag and result.score is None
    assert result.beats_used < mi_screen.MIN_BEATS and "at least 5" in result.reason
    assert result.as_dict()["lead"] == "II"
