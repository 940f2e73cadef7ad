"""Beat families found by the worker, a doctor's corrections of beats' classes, and the rhythm recomputed over them."""

import time
from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from diagnostics import corrections, services
from diagnostics.models import (
    Beat,
    BeatCorrection,
    BeatFamily,
    Diagnosis,
    ECGRecording,
    Event,
    RhythmInputs,
)
from ecgsite.errors import Conflict, Invalid, NotAllowed, NotFound

from ..conftest import model_version_from
from ..helpers import mi_screened
from .test_record_model import _upload_record


@pytest.fixture
def record_model(db, tiny_model_dir):
    return model_version_from(tiny_model_dir / "heartbeat-record.keras", task="heartbeat_record", version="tiny-record")


@pytest.fixture
def analysed(client, staff_a, patient_a, active_models, record_model):
    """MIT-BIH 119 (ventricular bigeminy, both leads) classified in context by the worker's service."""
    recording = _upload_record(client, staff_a, patient_a, "119")
    assert services.recording_classify(recording_id=recording.pk, claim_token="t") == "done"
    return ECGRecording.objects.get(pk=recording.pk)


def _classes(recording) -> np.ndarray:
    return np.array(list(recording.beats.order_by("index").values_list("aami_class", flat=True)))


def _corrected_while_inputs_are_read(monkeypatch, recording, doctor, beats: list[int]) -> None:
    """The next recomputation reads the kept inputs, then a correction of ``beats`` to V commits meanwhile."""
    read = corrections.rhythm_inputs_read

    def read_then_corrected_meanwhile(row):
        got = read(row)
        corrections.beat_correction_make(recording=recording, by=doctor, to_class="V", beats=beats)
        return got

    monkeypatch.setattr(corrections, "rhythm_inputs_read", read_then_corrected_meanwhile)


def _counts(recording) -> dict[str, int]:
    d = Diagnosis.objects.get(recording=recording)
    return {c: getattr(d, f"count_{c.lower()}") for c in "NSVFQ"}


@pytest.mark.django_db
def test_the_worker_groups_each_class_s_beats_by_shape(analysed):
    families = list(BeatFamily.objects.filter(recording=analysed))
    beats = list(analysed.beats.order_by("index").values_list("index", "aami_class", "family"))
    assert families and all(family is not None for _, _, family in beats)
    for f in families:
        members = [(i, c) for i, c, family in beats if family == f.number]
        assert len(members) == f.beats and {c for _, c in members} == {f.aami_class}
        assert f.example in {i for i, _ in members}
        assert len(f.template["leads"]) == 2 and len(f.template["leads"][0]) == 108  # both leads, P to T wave
    assert sum(f.beats for f in families) == len(beats)
    assert [f.number for f in families] == list(range(len(families)))


@pytest.mark.django_db
def test_a_doctor_corrects_a_family_and_the_counts_follow_at_once(analysed, doctor_a):
    family = BeatFamily.objects.filter(recording=analysed).order_by("-beats").first()
    to = "V" if family.aami_class != "V" else "N"
    before = _counts(analysed)
    correction = corrections.beat_correction_make(
        recording=analysed, by=doctor_a, to_class=to, family=family.number, note="  wide, no P wave "
    )
    assert correction.beats_changed == family.beats and correction.note == "wide, no P wave"
    assert correction.previous == {family.aami_class: correction.beat_indices}
    members = analysed.beats.filter(family=family.number)
    assert set(members.values_list("aami_class", flat=True)) == {to}
    assert set(members.values_list("classified_as", flat=True)) == {family.aami_class}
    after = _counts(analysed)
    assert (
        after[to] == before[to] + family.beats and after[family.aami_class] == before[family.aami_class] - family.beats
    )
    diagnosis = Diagnosis.objects.get(recording=analysed)
    assert diagnosis.rhythm_outdated_at is not None and diagnosis.rhythm_recompute_error == ""
    beat = members.first()
    assert beat.corrected_from == family.aami_class and not beat.by_rule
    # the same again changes nothing and says so
    with pytest.raises(Conflict) as refused:
        corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class=to, family=family.number)
    assert refused.value.code == "unchanged"


@pytest.mark.django_db
def test_a_correction_is_refused_as_its_rules_say(analysed, doctor_a, staff_a, clinic_b):
    from tests.factories import UserFactory

    doctor_b = UserFactory(username="doctor_b", clinic=clinic_b, role="doctor")
    make = corrections.beat_correction_make
    with pytest.raises(NotAllowed):
        make(recording=analysed, by=staff_a, to_class="V", beats=[3])
    with pytest.raises(NotFound):
        make(recording=analysed, by=doctor_b, to_class="V", beats=[3])
    cases = [
        ({"to_class": "X", "beats": [3]}, "to_class", "one of N, S, V, F, Q"),
        ({"to_class": "V", "beats": [3], "family": 0}, "family", "not both"),
        ({"to_class": "V"}, "family", "not both"),
        ({"to_class": "V", "beats": []}, "beats", "a list of their indices"),
        ({"to_class": "V", "beats": [3, 3]}, "beats", "named twice"),
        ({"to_class": "V", "beats": [True]}, "beats", "whole number"),
        ({"to_class": "V", "beats": [10**6]}, "beats", "There is no beat 1000000"),
        ({"to_class": "V", "beats": list(range(1001))}, "beats", "at most 1,000"),
        ({"to_class": "V", "family": "0"}, "family", "by its number"),
        ({"to_class": "V", "beats": [3], "note": "a\x07b"}, "note", "control character"),
        ({"to_class": "V", "beats": [3], "note": "a\u202db"}, "note", "invisible direction character (U+202D"),
    ]
    for kwargs, field, words in cases:
        with pytest.raises(Invalid) as refused:
            make(recording=analysed, by=doctor_a, **kwargs)
        assert refused.value.field == field and words in refused.value.message, kwargs
    with pytest.raises(NotFound) as missing:
        make(recording=analysed, by=doctor_a, to_class="V", family=999)
    assert missing.value.field == "family"
    assert not BeatCorrection.objects.exists() and _counts(analysed) == _counts(analysed)
    assert Diagnosis.objects.get(recording=analysed).rhythm_outdated_at is None


@pytest.mark.django_db
def test_the_rhythm_is_recomputed_over_the_corrected_classes(analysed, doctor_a):
    classes = _classes(analysed)
    # three beats of no ventricular class between two others: made V, a ventricular run of three
    quiet = [i for i in range(10, len(classes) - 10) if not set(classes[i - 1 : i + 4]) & {"V", "F"}]
    start = quiet[len(quiet) // 2]
    before = analysed.diagnosis.rhythm["ventricular"]
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="V", beats=[start, start + 1, start + 2])
    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "done"
    diagnosis = Diagnosis.objects.get(recording=analysed)
    assert diagnosis.rhythm_outdated_at is None and diagnosis.rhythm_recomputed_at is not None
    assert diagnosis.rhythm["ventricular"]["total"] == before["total"] + 3
    position = analysed.beats.get(index=start).position
    run = Event.objects.filter(recording=analysed, type__in=["v_run", "vt"], start=position)
    assert run.count() == 1 and run.get().beats == 3
    # nothing outdated: a second run writes nothing
    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "current"


@pytest.mark.django_db
def test_events_found_again_keep_their_decisions_and_those_withdrawn_are_kept_with_the_correction(analysed, doctor_a):
    classes = _classes(analysed)
    quiet = [i for i in range(10, len(classes) - 10) if not set(classes[i - 1 : i + 4]) & {"V", "F"}]
    a, b = quiet[len(quiet) // 3], quiet[2 * len(quiet) // 3]
    corrections.beat_correction_make(
        recording=analysed, by=doctor_a, to_class="V", beats=[a, a + 1, a + 2, b, b + 1, b + 2]
    )
    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "done"
    at = dict(analysed.beats.filter(index__in=[a, b]).values_list("index", "position"))
    run_a = Event.objects.get(recording=analysed, type__in=["v_run", "vt"], start=at[a])
    run_b = Event.objects.get(recording=analysed, type__in=["v_run", "vt"], start=at[b])
    services.event_review_create(user=doctor_a, event=run_a, decision="confirm", note="seen")
    services.event_review_create(user=doctor_a, event=run_b, decision="reject", note="artefact")
    second = corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="N", beats=[b, b + 1, b + 2])
    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "done"
    # the run still found keeps its row and its decision; the one no longer found is kept, decided, with the correction
    assert Event.objects.get(pk=run_a.pk).reviews.get().decision == "confirm"
    assert not Event.objects.filter(pk=run_b.pk).exists()
    second.refresh_from_db()
    assert second.withdrawn_events == [
        {
            "type": run_b.type,
            "start": run_b.start,
            "end": run_b.end,
            "beats": 3,
            "decisions": [
                {
                    "decision": "reject",
                    "reviewer": "doctor_a",
                    "reviewer_id": doctor_a.pk,
                    "note": "artefact",
                    "at": second.withdrawn_events[0]["decisions"][0]["at"],
                }
            ],
            "withdrawn_at": second.withdrawn_events[0]["withdrawn_at"],
        }
    ]

    # the correction undone: the run is found again, with the decision it had, by its doctor at its time
    corrections.beat_correction_undo(correction=second, by=doctor_a)
    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "done"
    back = Event.objects.get(recording=analysed, type=run_b.type, start=run_b.start, end=run_b.end)
    review = back.reviews.get()
    assert (review.decision, review.reviewer, review.note) == ("reject", doctor_a, "artefact")
    assert review.created_at.isoformat() == second.withdrawn_events[0]["decisions"][0]["at"]
    assert Event.objects.get(pk=run_a.pk).reviews.count() == 1  # kept throughout, not doubled


@pytest.mark.django_db
def test_undo_gives_each_beat_back_the_class_it_had_latest_first(analysed, doctor_a, staff_a):
    classes, counts = _classes(analysed), _counts(analysed)
    n = [i for i, c in enumerate(classes) if c == "N"][:4]
    first = corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="S", beats=n[:3])
    second = corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="V", beats=n[1:])
    assert second.previous == {"S": n[1:3], "N": n[3:]}
    with pytest.raises(Conflict) as refused:
        corrections.beat_correction_undo(correction=first, by=doctor_a)
    assert refused.value.code == "later_correction"
    with pytest.raises(NotAllowed):
        corrections.beat_correction_undo(correction=second, by=staff_a)
    assert corrections.beat_correction_undo(correction=second, by=doctor_a) is True
    assert corrections.beat_correction_undo(correction=second, by=doctor_a) is False  # once
    assert _classes(analysed)[n].tolist() == ["S", "S", "S", "N"]
    assert corrections.beat_correction_undo(correction=first, by=doctor_a) is True
    assert np.array_equal(_classes(analysed), classes) and _counts(analysed) == counts
    assert not analysed.beats.exclude(classified_as="").exists()
    second.refresh_from_db()
    assert second.undone_by == doctor_a and second.undone_at is not None


@pytest.mark.django_db
def test_a_recomputation_overtaken_by_a_later_correction_writes_nothing(analysed, doctor_a, monkeypatch):
    classes = _classes(analysed)
    n = [i for i, c in enumerate(classes) if c == "N"]
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="V", beats=n[:1])
    rhythm = Diagnosis.objects.get(recording=analysed).rhythm
    _corrected_while_inputs_are_read(monkeypatch, analysed, doctor_a, n[1:2])
    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "again"
    diagnosis = Diagnosis.objects.get(recording=analysed)
    assert diagnosis.rhythm == rhythm and diagnosis.rhythm_outdated_at is not None


@pytest.mark.django_db
def test_the_rhythm_recomputed_over_unchanged_classes_is_the_classification_s_own(analysed, doctor_a):
    # over the inputs the classification kept (no signal read): the same summary and events, to the sample
    rhythm = Diagnosis.objects.get(recording=analysed).rhythm
    events = sorted(Event.objects.filter(recording=analysed).values_list("type", "start", "end", "beats", "rate_bpm"))
    cls = analysed.beats.get(index=5).aami_class
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="Q" if cls != "Q" else "N", beats=[5])
    correction = BeatCorrection.objects.get()
    corrections.beat_correction_undo(correction=correction, by=doctor_a)
    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "done"
    assert Diagnosis.objects.get(recording=analysed).rhythm == rhythm
    assert (
        sorted(Event.objects.filter(recording=analysed).values_list("type", "start", "end", "beats", "rate_bpm"))
        == events
    )


@pytest.mark.django_db
def test_a_long_recording_analysed_before_its_inputs_were_kept_is_not_read_again(analysed, doctor_a, monkeypatch):
    RhythmInputs.objects.filter(recording=analysed).delete()
    monkeypatch.setattr(corrections, "SIGNAL_AGAIN_MAX_S", 60.0)  # 119 is 30 minutes long
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="V", beats=[5])
    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "failed"
    assert "upload it again" in Diagnosis.objects.get(recording=analysed).rhythm_recompute_error


@pytest.mark.django_db
def test_a_signal_whose_beats_are_not_found_again_fails_with_its_reason_and_is_not_sent_again(analysed, doctor_a):
    RhythmInputs.objects.filter(recording=analysed).delete()  # analysed before they were kept: the signal read again
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="V", beats=[5])
    Beat.objects.filter(recording=analysed, index=0).update(position=1)
    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "failed"
    diagnosis = Diagnosis.objects.get(recording=analysed)
    assert "not those it was analysed with" in diagnosis.rhythm_recompute_error
    Diagnosis.objects.filter(pk=diagnosis.pk).update(rhythm_outdated_at=timezone.now() - timedelta(hours=1))
    assert corrections.rhythms_requeue_outdated(older_than=timedelta(minutes=1)) == 0


@pytest.mark.django_db
def test_families_are_found_when_a_recording_analysed_before_them_is_recomputed(analysed, doctor_a):
    expected = list(BeatFamily.objects.filter(recording=analysed).values_list("aami_class", "beats", "example"))
    BeatFamily.objects.filter(recording=analysed).delete()
    RhythmInputs.objects.filter(recording=analysed).delete()  # analysed before either was kept
    Beat.objects.filter(recording=analysed).update(family=None)
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="Q", beats=[7])
    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "done"
    # grouped by the classes the analysis gave, not the corrected ones: the same families as the worker found
    assert list(BeatFamily.objects.filter(recording=analysed).values_list("aami_class", "beats", "example")) == expected
    assert not analysed.beats.filter(family__isnull=True).exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_worker_recomputes_after_a_correction_and_the_sweep_sends_a_lost_one_again(
    client, celery_worker, staff_a, doctor_a, patient_a, active_models, record_model
):
    from ..conftest import wait_for_status

    recording = wait_for_status(_upload_record(client, staff_a, patient_a, "119"))
    assert recording.status == "done", recording.error_message
    classes = _classes(recording)
    quiet = [i for i in range(5, len(classes) - 5) if not set(classes[i - 2 : i + 3]) & {"V", "F"}]
    one, two = quiet[len(quiet) // 3], quiet[2 * len(quiet) // 3]
    total = recording.diagnosis.rhythm["ventricular"]["total"]

    def recomputed(timeout: float = 120.0) -> Diagnosis:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            diagnosis = Diagnosis.objects.get(recording=recording)
            if diagnosis.rhythm_outdated_at is None:
                return diagnosis
            time.sleep(0.3)
        raise AssertionError("the rhythm was not recomputed")

    corrections.beat_correction_make(recording=recording, by=doctor_a, to_class="V", beats=[one])
    assert recomputed().rhythm["ventricular"]["total"] == total + 1
    # the message lost (a broker down when the correction committed): the sweep sends it again
    Beat.objects.filter(recording=recording, index=two).update(aami_class="V", classified_as=classes[two])
    Diagnosis.objects.filter(recording=recording).update(rhythm_outdated_at=timezone.now() - timedelta(hours=1))
    assert corrections.rhythms_requeue_outdated(older_than=timedelta(minutes=5)) == 1
    assert recomputed().rhythm["ventricular"]["total"] == total + 2


@pytest.mark.django_db
def test_a_correction_after_a_failed_recomputation_asks_for_a_new_one(analysed, doctor_a):
    family = BeatFamily.objects.filter(recording=analysed).order_by("-beats").first()
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="Q", family=family.number)
    corrections.rhythm_recompute_failed(recording_id=analysed.pk, reason="The signal could not be read again.")
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="F", family=family.number)
    diagnosis = Diagnosis.objects.get(recording=analysed)
    # the recording no longer says the earlier run's failure, and the sweep sends this one again if it is lost
    assert diagnosis.rhythm_outdated_at is not None and diagnosis.rhythm_recompute_error == ""
    diagnosis.rhythm_outdated_at = timezone.now() - timedelta(hours=1)
    diagnosis.save(update_fields=["rhythm_outdated_at"])
    assert corrections.rhythms_requeue_outdated(older_than=timedelta(minutes=5)) == 1


@pytest.mark.django_db
def test_the_sweep_sends_a_recomputation_once_a_period_not_at_every_round(analysed, doctor_a, monkeypatch):
    """A recomputation still waiting behind busy workers, or running longer than the lease, is not sent again at
    every sweep (15 s): the queue would fill with copies, each reading the signal again. A later correction's is
    sent at once."""
    sent = []
    monkeypatch.setattr(corrections, "enqueue_rhythm_recompute", lambda recording_id: sent.append(recording_id) or True)
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="V", beats=[5])
    Diagnosis.objects.filter(recording=analysed).update(rhythm_outdated_at=timezone.now() - timedelta(minutes=2))
    assert corrections.rhythms_requeue_outdated(older_than=timedelta(minutes=1)) == 1
    assert corrections.rhythms_requeue_outdated(older_than=timedelta(minutes=1)) == 0
    assert corrections.rhythms_requeue_outdated(older_than=timedelta(minutes=1)) == 0
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="V", beats=[6])
    Diagnosis.objects.filter(recording=analysed).update(rhythm_outdated_at=timezone.now() - timedelta(minutes=2))
    assert corrections.rhythms_requeue_outdated(older_than=timedelta(minutes=1)) == 1
    assert sent == [analysed.pk, analysed.pk]


@pytest.mark.django_db
def test_a_recomputation_that_breaks_marks_its_own_request_failed_not_a_later_one(analysed, doctor_a, monkeypatch):
    import ecg.rhythm

    classes = _classes(analysed)
    n = [i for i, c in enumerate(classes) if c != "V"]

    def broken(**kwargs):
        raise RuntimeError("a fault")

    monkeypatch.setattr(ecg.rhythm, "analyse_rhythm", broken)
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="V", beats=n[:1])
    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "failed"
    assert "Internal error while recomputing the rhythm (RuntimeError)" in (
        Diagnosis.objects.get(recording=analysed).rhythm_recompute_error
    )
    # a later correction's request, made while an earlier run breaks, stays outdated and unfailed: its own run writes
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="V", beats=n[1:2])
    _corrected_while_inputs_are_read(monkeypatch, analysed, doctor_a, n[2:3])
    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "failed"
    diagnosis = Diagnosis.objects.get(recording=analysed)
    assert diagnosis.rhythm_outdated_at is not None and diagnosis.rhythm_recompute_error == ""


@pytest.mark.django_db
def test_the_mi_screen_leaves_out_the_beats_a_doctor_calls_ectopic_and_gives_them_back_on_undo(analysed, doctor_a):
    # The screen scores dominant, normally conducted beats by their shape and timing, not by the classifier's call;
    # a doctor's call that a beat is ventricular is another matter: it and the beat before it are left out.
    from ecg.processing import mi_screen

    scored = list(range(20, 60))
    probability = {i: (0.9 if i in (30, 31, 40, 41) else 0.2 + 0.001 * i) for i in range(analysed.beats.count())}
    for index, value in probability.items():
        Beat.objects.filter(recording=analysed, index=index).update(mi_probability=value)
    original = f"median MI probability of {len(scored)} of 100 beats (dominant, normally conducted, clean) in II"
    score = float(np.median([probability[i] for i in scored]))
    Diagnosis.objects.filter(recording=analysed).update(
        mi_status="screened",
        mi_lead="II",
        mi_reason=original,
        mi_scored_beats=scored,
        mi_beats_used=len(scored),
        mi_score=score,
        mi_threshold=0.5,
        mi_flag=False,
    )
    # beats 31 and 41 (0.9 each, and 30 and 40 before them) called V by a doctor: left out, the median falls
    classes = _classes(analysed)
    to = {i: ("V" if classes[i] != "V" else "S") for i in (31, 41)}
    made = [
        corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class=cls, beats=[i])
        for i, cls in to.items()
    ]
    d = Diagnosis.objects.get(recording=analysed)
    kept = [i for i in scored if i not in (30, 31, 40, 41)]
    assert (d.mi_status, d.mi_beats_used) == ("screened", len(kept))
    assert d.mi_score == pytest.approx(float(np.median([probability[i] for i in kept])))
    assert d.mi_reason.startswith(original + corrections.MI_AFTER_CORRECTIONS)
    assert "4 of the 40 beats scored left out" in d.mi_reason and d.mi_scored_beats == scored
    # undone, one by one: the classification's screen again, to the figure
    for correction in reversed(made):
        corrections.beat_correction_undo(correction=correction, by=doctor_a)
    d = Diagnosis.objects.get(recording=analysed)
    assert (d.mi_status, d.mi_reason, d.mi_beats_used, d.mi_score) == ("screened", original, len(scored), score)

    # so many called ectopic that fewer than MIN_BEATS are left: not assessable, no flag; undone, screened again
    Diagnosis.objects.filter(recording=analysed).update(mi_flag=True, mi_threshold=0.2)
    many = [i for i in range(20, 60, 2)]
    wide = corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="Q", beats=many)
    d = Diagnosis.objects.get(recording=analysed)
    assert (d.mi_status, d.mi_score, d.mi_flag) == ("not_assessable", None, False)
    assert f"fewer than the {mi_screen.MIN_BEATS} the screen needs" in d.mi_reason
    corrections.beat_correction_undo(correction=wide, by=doctor_a)
    d = Diagnosis.objects.get(recording=analysed)
    assert (d.mi_status, d.mi_score, d.mi_flag, d.mi_reason) == ("screened", score, True, original)


@pytest.mark.django_db
def test_a_recording_the_mi_screen_did_not_read_is_left_as_it_was_by_a_correction(analysed, doctor_a):
    before = Diagnosis.objects.values("mi_status", "mi_reason", "mi_score", "mi_flag").get(recording=analysed)
    assert before["mi_status"] == "not_applicable"  # MIT-BIH's MLII and V1: not a lead the screen reads
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="Q", beats=[3, 4, 5])
    assert Diagnosis.objects.values("mi_status", "mi_reason", "mi_score", "mi_flag").get(recording=analysed) == before


@pytest.mark.django_db
def test_events_an_undoing_withdraws_are_kept_with_the_correction_undone_and_come_back_as_last_withdrawn(
    analysed, doctor_a
):
    """The withdrawn events had been kept with the newest correction, an undone one as well: undoing the first of two
    corrections, after the second was undone, put the events it withdrew with the second, which had nothing to do with
    them. And an event withdrawn twice takes back the decisions it had when last withdrawn, not the first time's."""
    classes = _classes(analysed)
    quiet = [i for i in range(10, len(classes) - 10) if not set(classes[i - 1 : i + 4]) & {"V", "F"}]
    a = quiet[len(quiet) // 2]
    run_of_a = {"recording": analysed, "type__in": ["v_run", "vt"], "start": analysed.beats.get(index=a).position}

    first = corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="V", beats=[a, a + 1, a + 2])
    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "done"
    services.event_review_create(user=doctor_a, event=Event.objects.get(**run_of_a), decision="confirm", note="seen")
    # a second correction takes the run away (kept with it), and its undoing brings it back, decided
    second = corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="N", beats=[a, a + 1, a + 2])
    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "done"
    assert not Event.objects.filter(**run_of_a).exists()
    assert corrections.beat_correction_undo(correction=second, by=doctor_a)
    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "done"
    services.event_review_create(
        user=doctor_a, event=Event.objects.get(**run_of_a), decision="reject", note="on second look"
    )

    # undoing the first takes the run away again: with the first, whose undoing did it, not the second
    assert corrections.beat_correction_undo(correction=first, by=doctor_a)
    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "done"
    first.refresh_from_db()
    second.refresh_from_db()
    assert [[d["decision"] for d in e["decisions"]] for e in second.withdrawn_events] == [["confirm"]]
    (withdrawn,) = first.withdrawn_events
    assert [d["decision"] for d in withdrawn["decisions"]] == ["confirm", "reject"]
    assert withdrawn["withdrawn_at"] > first.undone_at.isoformat() > second.withdrawn_events[0]["withdrawn_at"]

    # found once more, it takes back both decisions, as last withdrawn
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="V", beats=[a, a + 1, a + 2])
    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "done"
    back = Event.objects.get(**run_of_a).reviews.order_by("created_at", "id")
    assert [(r.decision, r.note) for r in back] == [("confirm", "seen"), ("reject", "on second look")]


def _mi_screened(recording, scored, probability, threshold=0.5, flag=False):
    for index, value in probability.items():
        Beat.objects.filter(recording=recording, index=index).update(mi_probability=value)
    score = float(np.median([probability[i] for i in scored]))
    mi_screened(
        recording, scored, score, flag=flag, reason="median MI probability of the beats scored", threshold=threshold
    )


@pytest.mark.django_db
def test_a_beat_a_doctor_calls_v_again_after_calling_it_n_is_left_out_of_the_mi_screen(analysed, doctor_a):
    # back to the analysis's class, the beat's classified_as is empty: what the doctor last said counts, not the path
    classes = _classes(analysed)
    v = next(i for i in range(21, len(classes) - 1) if classes[i] == "V")
    scored = [i for i in range(v - 20, v + 20) if classes[i] != "V" or i == v]
    _mi_screened(analysed, scored, {i: 0.3 for i in range(len(classes))})
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="N", beats=[v])
    assert Diagnosis.objects.get(recording=analysed).mi_beats_used == len(scored)  # called N: nothing left out
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="V", beats=[v])
    assert analysed.beats.get(index=v).classified_as == ""
    d = Diagnosis.objects.get(recording=analysed)
    assert d.mi_beats_used == len([i for i in scored if i not in (v - 1, v)])


@pytest.mark.django_db
def test_once_a_doctor_has_decided_on_the_mi_flag_a_correction_leaves_the_screen_they_decided_on(analysed, doctor_a):
    # a confirmed MI had been left beside a screen made "not assessable" by a later correction, and out of the queue
    from diagnostics.services import review_create

    scored = list(range(20, 60))
    _mi_screened(analysed, scored, {i: 0.9 for i in range(analysed.beats.count())}, flag=True)
    diagnosis = Diagnosis.objects.get(recording=analysed)
    review_create(user=doctor_a, diagnosis=diagnosis, decision="confirm", note="")
    before = Diagnosis.objects.values("mi_status", "mi_reason", "mi_score", "mi_flag", "mi_beats_used").get(
        pk=diagnosis.pk
    )
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="Q", beats=list(range(20, 60, 2)))
    after = Diagnosis.objects.values("mi_status", "mi_reason", "mi_score", "mi_flag", "mi_beats_used").get(
        pk=diagnosis.pk
    )
    assert after == before


@pytest.mark.django_db
def test_an_event_withdrawn_after_several_changes_is_kept_with_the_change_that_named_its_beats(analysed, doctor_a):
    # corrections can pile up before the worker runs: an unrelated one made and undone after the one that withdrew a
    # confirmed run had been given the run's decisions
    classes = _classes(analysed)
    quiet = [i for i in range(10, len(classes) - 10) if not set(classes[i - 1 : i + 4]) & {"V", "F"}]
    a, far = quiet[len(quiet) // 3], quiet[2 * len(quiet) // 3]
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="V", beats=[a, a + 1, a + 2])
    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "done"
    start = analysed.beats.get(index=a).position
    run = Event.objects.get(recording=analysed, type__in=["v_run", "vt"], start=start)
    services.event_review_create(user=doctor_a, event=run, decision="confirm", note="seen")
    second = corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="N", beats=[a, a + 1, a + 2])
    third = corrections.beat_correction_make(
        recording=analysed, by=doctor_a, to_class="Q" if classes[far] != "Q" else "S", beats=[far]
    )
    corrections.beat_correction_undo(correction=third, by=doctor_a)
    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "done"
    second.refresh_from_db()
    third.refresh_from_db()
    assert [(e["start"], e["decisions"][0]["decision"]) for e in second.withdrawn_events] == [(start, "confirm")]
    assert third.withdrawn_events == []


class WorkerDied(BaseException):
    """What a worker killed mid-recomputation leaves: the run ends with nothing written (an out-of-memory kill,
    say), and its message comes again."""


@pytest.mark.django_db
def test_a_recomputation_that_keeps_killing_its_worker_fails_after_three_attempts(analysed, doctor_a, monkeypatch):
    """A recomputation that takes its worker down each time (reject_on_worker_lost sends its message straight back,
    the sweep sends it again) had been run for ever; three crashes end it failed, with the reason, as a
    classification's do, and a later correction is given three attempts of its own."""
    import ecg.rhythm

    analyse = ecg.rhythm.analyse_rhythm

    def dies(**kwargs):
        raise WorkerDied

    n = [i for i, c in enumerate(_classes(analysed)) if c != "V"]
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="V", beats=n[:1])
    monkeypatch.setattr(ecg.rhythm, "analyse_rhythm", dies)
    for _ in range(3):
        with pytest.raises(WorkerDied):
            corrections.recording_rhythm_recompute(recording_id=analysed.pk)
    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "failed"
    diagnosis = Diagnosis.objects.get(recording=analysed)
    assert diagnosis.rhythm_status == "failed"
    assert "Gave up after 3 attempts" in diagnosis.rhythm_recompute_error
    Diagnosis.objects.filter(pk=diagnosis.pk).update(rhythm_outdated_at=timezone.now() - timedelta(hours=1))
    assert corrections.rhythms_requeue_outdated(older_than=timedelta(minutes=5)) == 0  # not sent again
    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="V", beats=n[1:2])
    with pytest.raises(WorkerDied):
        corrections.recording_rhythm_recompute(recording_id=analysed.pk)
    monkeypatch.setattr(ecg.rhythm, "analyse_rhythm", analyse)
    assert corrections.recording_rhythm_recompute(recording_id=analysed.pk) == "done"
    assert Diagnosis.objects.get(recording=analysed).rhythm_status == "current"


@pytest.mark.django_db
def test_a_database_restart_retried_is_not_counted_as_a_crash(analysed, doctor_a, monkeypatch):
    """The task's tries after a database error each add an attempt to the budget (as a classification's do)."""
    import ecg.rhythm

    def dies(**kwargs):
        raise WorkerDied

    corrections.beat_correction_make(recording=analysed, by=doctor_a, to_class="V", beats=[5])
    monkeypatch.setattr(ecg.rhythm, "analyse_rhythm", dies)
    for _ in range(3):
        with pytest.raises(WorkerDied):
            corrections.recording_rhythm_recompute(recording_id=analysed.pk)
    with pytest.raises(WorkerDied):  # a fourth try of the same task, after a database error
        corrections.recording_rhythm_recompute(recording_id=analysed.pk, max_attempts=4)
