"""A recording's updated_at moves with every write of what it shows (its status, progress and results, its patient,
its interpretation, a doctor's decision on its MI flag or its rhythm events), so a hospital's sync job paging by it
sees each change; a worker renewing its lease changes nothing shown and leaves it."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from diagnostics import corrections, services, tasks
from diagnostics.models import (
    Diagnosis,
    DiaryActivity,
    DiaryEntry,
    ECGRecording,
    Event,
    EventReview,
    Interpretation,
    RecordingMove,
    Review,
)
from ecgsite.errors import Invalid, NotAllowed

from ..factories import PatientFactory
from ..helpers import beat_recording, reviews_rewritable

pytestmark = pytest.mark.django_db
LONG_AGO = datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)


def stamped_long_ago(recording: ECGRecording) -> ECGRecording:
    """The recording with its updated_at set far back, so a write's stamp shows whatever the clock's resolution."""
    ECGRecording.objects.filter(pk=recording.pk).update(updated_at=LONG_AGO)
    recording.refresh_from_db()
    return recording


def updated_now(recording: ECGRecording) -> bool:
    recording.refresh_from_db()
    return timezone.now() - timedelta(minutes=1) < recording.updated_at <= timezone.now()


def recording_updates(queries) -> list[set[str]]:
    """The columns each UPDATE of a recording row set."""
    return [
        set(re.findall(r'"(\w+)" = ', sql.split(" SET ", 1)[1].split(" WHERE ", 1)[0]))
        for sql in (q["sql"] for q in queries)
        if sql.startswith('UPDATE "diagnostics_ecgrecording" SET')
    ]


@pytest.fixture
def queued(staff_a, patient_a):
    return stamped_long_ago(beat_recording(staff_a, patient_a, beats=30, classify=False))


@pytest.fixture
def done(staff_a, patient_a, active_models):
    """An analysed beat file, flagged for MI by the tiny model."""
    return stamped_long_ago(beat_recording(staff_a, patient_a, beats=30))


def test_an_upload_is_stamped_when_it_is_stored(staff_a, patient_a):
    recording = beat_recording(staff_a, patient_a, classify=False)
    assert recording.updated_at is not None and updated_now(recording)


def test_every_write_of_the_worker_that_changes_what_the_recording_shows_stamps_it(queued, active_models):
    """The claim, the beat count, each progress tick and the results: QuerySet.update() bypasses auto_now, so each
    of the worker's updates names updated_at itself."""
    with CaptureQueriesContext(connection) as queries:
        assert tasks.classify_recording.apply(args=(queued.pk,)).get() == "done"
    updates = recording_updates(queries)
    assert any("status" in columns for columns in updates) and any("progress_done" in columns for columns in updates)
    assert all("updated_at" in columns for columns in updates if columns - {"claimed_at"}), updates
    assert updated_now(queued) and queued.updated_at >= queued.finished_at


def test_a_failed_analysis_stamps_it(queued, active_models):
    queued.file.save("recordings/broken.csv", ContentFile(b"1,2,3\n"), save=False)
    ECGRecording.objects.filter(pk=queued.pk).update(file=queued.file.name, updated_at=LONG_AGO)
    assert services.recording_classify(recording_id=queued.pk, claim_token="t1") == "failed"
    assert updated_now(queued) and queued.status == "failed" and queued.updated_at >= queued.finished_at


def test_a_recording_given_up_after_its_attempts_is_stamped(queued, active_models):
    ECGRecording.objects.filter(pk=queued.pk).update(attempts=3)
    assert services.recording_classify(recording_id=queued.pk, claim_token="t9", max_attempts=3) == "not-claimed"
    assert updated_now(queued) and queued.status == "failed"


def test_a_task_that_gives_up_stamps_the_recording_it_fails(queued):
    services.recording_fail(recording_id=queued.pk, reason="Internal error while classifying (KeyError)")
    assert updated_now(queued) and queued.status == "failed"


def test_a_lease_renewal_changes_nothing_shown_and_leaves_it(queued):
    assert services._claim(queued.pk, "worker-1")
    stamped_long_ago(queued)
    assert services.RecordingLease(queued.pk, "worker-1", renew_every=10).renew()
    assert services.recording_claim_hold(recording_id=queued.pk, claim_token="worker-1", seconds=30)
    queued.refresh_from_db()
    assert queued.updated_at == LONG_AGO


def test_a_move_stamps_it(queued, doctor_a, clinic_a):
    services.recording_move(recording=queued, patient=PatientFactory(clinic=clinic_a), by=doctor_a, reason="Wrong")
    stored = ECGRecording.objects.get(pk=queued.pk)
    assert updated_now(stored) and queued.updated_at == stored.updated_at  # the caller's copy reads as stored


def test_a_signed_interpretation_and_its_amendment_stamp_it(done, doctor_a):
    services.interpretation_sign(user=doctor_a, recording=done, text="Sinus rhythm.")
    assert updated_now(done)
    stamped_long_ago(done)
    services.interpretation_sign(user=doctor_a, recording=done, text="Sinus rhythm, 70 /min.", reason="Rate added")
    assert updated_now(done)


def test_a_decision_on_the_mi_flag_stamps_it(done, doctor_a):
    services.review_create(user=doctor_a, diagnosis=done.diagnosis, decision="confirm")
    assert updated_now(done)


def test_a_decision_on_a_rhythm_event_stamps_it(done, doctor_a):
    event = Event.objects.create(recording=done, clinic=done.clinic, type="vt", start=100, end=900, beats=4)
    stamped_long_ago(done)
    services.event_review_create(user=doctor_a, event=event, decision="confirm")
    assert updated_now(done)


def test_a_beat_correction_and_its_undoing_stamp_it(done, doctor_a):
    to = "V" if done.beats.get(index=1).aami_class != "V" else "N"
    correction = corrections.beat_correction_make(recording=done, by=doctor_a, to_class=to, beats=[1])
    assert updated_now(done)
    stamped_long_ago(done)
    corrections.beat_correction_undo(correction=correction, by=doctor_a)
    assert updated_now(done)


def test_a_change_of_a_users_name_stamps_each_recording_that_names_them_in_one_update(
    doctor_a, admin_a, staff_a, patient_a, clinic_a, active_models
):
    reviewed, signed, event_reviewed, moved, noted, removed, active, corrected, others = (
        beat_recording(staff_a, patient_a, beats=6) for _ in range(9)
    )
    services.review_create(user=doctor_a, diagnosis=reviewed.diagnosis, decision="confirm")
    services.interpretation_sign(user=doctor_a, recording=signed, text="Sinus rhythm.")
    event = Event.objects.create(recording=event_reviewed, clinic=clinic_a, type="vt", start=100, end=900, beats=4)
    services.event_review_create(user=doctor_a, event=event, decision="confirm")
    services.recording_move(recording=moved, patient=PatientFactory(clinic=clinic_a), by=doctor_a, reason="Wrong")
    DiaryEntry.objects.create(recording=noted, clinic=clinic_a, sample=1, symptom="fatigue", entered_by=doctor_a)
    DiaryEntry.objects.create(
        recording=removed, clinic=clinic_a, sample=1, symptom="fatigue", entered_by=staff_a, removed_by=doctor_a
    )
    DiaryActivity.objects.create(recording=active, clinic=clinic_a, kind="medication", start=1, entered_by=doctor_a)
    to = "V" if corrected.beats.get(index=0).aami_class != "V" else "N"
    corrections.beat_correction_make(recording=corrected, by=doctor_a, to_class=to, beats=[0])
    services.review_create(user=admin_a, diagnosis=others.diagnosis, decision="confirm")  # another's: not named
    ECGRecording.objects.update(updated_at=LONG_AGO)
    with CaptureQueriesContext(connection) as queries:
        assert services.recordings_stamp_naming_user(user=doctor_a) == 8
    assert len(queries) == 1 and len(recording_updates(queries)) == 1
    for recording in (reviewed, signed, event_reviewed, moved, noted, removed, active, corrected):
        assert updated_now(recording)
    others.refresh_from_db()
    assert others.updated_at == LONG_AGO


def test_a_refused_write_leaves_it(done, doctor_a, staff_a):
    with pytest.raises(Invalid):
        services.interpretation_sign(user=doctor_a, recording=done, text="   ")
    with pytest.raises(NotAllowed):
        services.review_create(user=staff_a, diagnosis=done.diagnosis, decision="confirm")
    done.refresh_from_db()
    assert done.updated_at == LONG_AGO


def test_the_migration_stamps_a_stored_recording_with_the_latest_change_its_rows_tell(done, doctor_a, clinic_a):
    from importlib import import_module

    migration = import_module("diagnostics.migrations.0017_recording_updated_at")
    moved = beat_recording(doctor_a, PatientFactory(clinic=clinic_a), classify=False)
    services.recording_move(recording=moved, patient=PatientFactory(clinic=clinic_a), by=doctor_a, reason="Wrong")
    untouched = beat_recording(doctor_a, PatientFactory(clinic=clinic_a), classify=False)
    services.interpretation_sign(user=doctor_a, recording=done, text="Sinus rhythm.")
    services.review_create(user=doctor_a, diagnosis=done.diagnosis, decision="confirm")
    event = Event.objects.create(recording=done, clinic=done.clinic, type="vt", start=100, end=900, beats=4)
    services.event_review_create(user=doctor_a, event=event, decision="reject", note="artefact")
    # the append-only rows (signatures, moves) keep the times they were made: the others are set around them
    signed = Interpretation.objects.get().created_at
    moved_at = RecordingMove.objects.get().created_at
    day, hour = timedelta(days=1), timedelta(hours=1)
    ECGRecording.objects.filter(pk=done.pk).update(
        created_at=signed - 2 * day, started_at=signed - 2 * day, finished_at=signed - day
    )
    Diagnosis.objects.update(created_at=signed - day)
    ECGRecording.objects.filter(pk=moved.pk).update(created_at=moved_at - day)
    ECGRecording.objects.filter(pk=untouched.pk).update(created_at=LONG_AGO)
    # the model as it stood at the migration, as migrate runs it
    at_migration = MigrationExecutor(connection).loader.project_state(("diagnostics", "0017_recording_updated_at")).apps

    def filled(**later) -> dict:
        with reviews_rewritable():
            for model, when in later.items():
                {"review": Review, "event_review": EventReview}[model].objects.update(created_at=when)
        ECGRecording.objects.update(updated_at=timezone.now() + 365 * day)  # as the new column was filled
        migration.fill(at_migration, None)
        return dict(ECGRecording.objects.values_list("pk", "updated_at"))

    assert filled(review=signed - hour, event_review=signed - hour) == {
        done.pk: signed,
        moved.pk: moved_at,
        untouched.pk: LONG_AGO,
    }
    assert filled(review=signed + hour)[done.pk] == signed + hour
    assert filled(event_review=signed + 2 * hour)[done.pk] == signed + 2 * hour
    ECGRecording.objects.filter(pk=done.pk).update(finished_at=signed + 3 * hour)
    assert filled()[done.pk] == signed + 3 * hour
