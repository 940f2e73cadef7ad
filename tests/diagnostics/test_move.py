"""A recording filed under the wrong patient is moved to the right one (services.recording_move): who may, to whom,
what is kept, and what is refused with nothing stored."""

import threading
import time

import pytest
from django.db import DatabaseError, connection, transaction

from accounts.models import AuditEvent, User
from diagnostics import services
from diagnostics.models import ECGRecording, IdempotencyRecord, RecordingMove
from ecgsite.errors import ApplicationError, Conflict, IdempotencyKeyReused, Invalid, NotAllowed, NotFound
from ecgsite.http import status_for

from ..factories import PatientFactory, UserFactory
from ..helpers import beat_recording

REASON = "Uploaded under the wrong patient: the Holter diary names Peter Brandt."


@pytest.fixture
def right_patient(clinic_a):
    return PatientFactory(clinic=clinic_a, mrn="A-0002", family_name="Brandt", given_name="Peter")


@pytest.fixture
def queued(staff_a, patient_a):
    """A recording of patient_a not yet analysed (no worker runs in these tests)."""
    return beat_recording(staff_a, patient_a, classify=False)


def nothing_stored(recording, patient) -> None:
    recording.refresh_from_db()
    assert recording.patient_id == patient.pk
    assert not RecordingMove.objects.exists() and not IdempotencyRecord.objects.exists()


@pytest.mark.django_db
def test_a_doctor_moves_a_recording_and_the_move_is_kept(doctor_a, queued, patient_a, right_patient):
    move = services.recording_move(recording=queued, patient=right_patient, by=doctor_a, reason=f"  {REASON}\n")
    stored = ECGRecording.objects.get(pk=queued.pk)
    assert stored.patient_id == right_patient.pk and queued.patient_id == right_patient.pk
    assert (move.recording_id, move.clinic_id, move.from_patient_id, move.to_patient_id, move.moved_by_id) == (
        queued.pk,
        queued.clinic_id,
        patient_a.pk,
        right_patient.pk,
        doctor_a.pk,
    )
    assert move.reason == REASON and move.created_at is not None and move.replayed is False  # stripped
    # the patients' recordings: what is now theirs
    assert list(right_patient.recordings.values_list("pk", flat=True)) == [queued.pk]
    assert not patient_a.recordings.exists()


@pytest.mark.django_db
def test_an_administrator_of_the_clinic_moves_one_too(admin_a, queued, right_patient):
    services.recording_move(recording=queued, patient=right_patient, by=admin_a, reason=REASON)
    assert ECGRecording.objects.get(pk=queued.pk).patient_id == right_patient.pk


@pytest.mark.django_db
def test_staff_may_not_move_a_recording(staff_a, queued, patient_a, right_patient):
    with pytest.raises(NotAllowed) as refused:
        services.recording_move(recording=queued, patient=right_patient, by=staff_a, reason=REASON)
    assert status_for(refused.value) == 403 and "doctors and administrators" in refused.value.message
    nothing_stored(queued, patient_a)


@pytest.mark.django_db
def test_a_role_the_service_does_not_know_is_refused(clinic_a, queued, patient_a, right_patient):
    # deny by default: only the roles named may move
    someone = UserFactory(username="visitor", clinic=clinic_a, role="visitor")
    with pytest.raises(NotAllowed):
        services.recording_move(recording=queued, patient=right_patient, by=someone, reason=REASON)
    nothing_stored(queued, patient_a)


@pytest.mark.django_db
def test_another_clinics_doctor_does_not_find_the_recording(clinic_b, queued, patient_a, right_patient):
    doctor_b = UserFactory(username="doctor_b", clinic=clinic_b, role=User.Role.DOCTOR)
    own = PatientFactory(clinic=clinic_b)
    for patient in (right_patient, own):
        with pytest.raises(NotFound) as refused:
            services.recording_move(recording=queued, patient=patient, by=doctor_b, reason=REASON)
        assert status_for(refused.value) == 404
    nothing_stored(queued, patient_a)


@pytest.mark.django_db
def test_another_clinics_patient_is_not_found_as_an_unknown_one_would_not_be(doctor_a, queued, patient_a, clinic_b):
    elsewhere = PatientFactory(clinic=clinic_b, mrn="B-0009", family_name="Rossi")
    with pytest.raises(NotFound) as refused:
        services.recording_move(recording=queued, patient=elsewhere, by=doctor_a, reason=REASON)
    error = refused.value
    assert status_for(error) == 404 and error.field == "patient"
    assert error.message == f"No patient {elsewhere.pk} in your clinic."  # no word of another clinic, name or MRN
    nothing_stored(queued, patient_a)


@pytest.mark.django_db
def test_moving_to_the_patient_it_is_under_is_refused_naming_it(doctor_a, queued, patient_a):
    with pytest.raises(Invalid) as refused:
        services.recording_move(recording=queued, patient=patient_a, by=doctor_a, reason=REASON)
    error = refused.value
    assert status_for(error) == 400 and error.field == "patient"
    assert "already filed under Meyer, Anna (MRN A-0001)" in error.message
    nothing_stored(queued, patient_a)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "reason, said",
    [
        ("", "Say why the recording is moved"),
        (" \n\t ", "Say why the recording is moved"),
        ("x" * 501, "The reason is 501 characters long; at most 500 are allowed."),
        ("wrong\x00patient", "control character (U+0000)"),
        ("wrong \u202bpatient", "invisible direction character (U+202B RIGHT-TO-LEFT EMBEDDING)"),
    ],
    ids=["empty", "blank", "too-long", "control-character", "direction-character"],
)
def test_a_move_needs_a_reason_of_at_most_500_characters(doctor_a, queued, patient_a, right_patient, reason, said):
    with pytest.raises(Invalid) as refused:
        services.recording_move(recording=queued, patient=right_patient, by=doctor_a, reason=reason)
    error = refused.value
    assert status_for(error) == 400 and error.field == "reason" and said in error.message
    nothing_stored(queued, patient_a)


@pytest.mark.django_db
def test_a_reason_of_500_characters_once_stripped_is_taken(doctor_a, queued, right_patient):
    move = services.recording_move(recording=queued, patient=right_patient, by=doctor_a, reason=f"  {'y' * 500}  ")
    assert move.reason == "y" * 500


@pytest.mark.django_db
def test_a_finished_recording_is_moved_with_everything_of_it(
    doctor_a, staff_a, patient_a, right_patient, active_models
):
    recording = beat_recording(staff_a, patient_a)
    interpretation = services.interpretation_sign(user=doctor_a, recording=recording, text="Sinus rhythm.")
    services.recording_move(recording=recording, patient=right_patient, by=doctor_a, reason=REASON)
    recording.refresh_from_db()
    assert recording.status == "done" and recording.patient_id == right_patient.pk
    assert recording.diagnosis.recording_id == recording.pk and recording.beats.count() == 3
    assert list(recording.interpretations.all()) == [interpretation]


@pytest.mark.django_db
def test_a_move_from_a_patient_the_form_did_not_show_is_refused(doctor_a, admin_a, queued, patient_a, right_patient):
    # a colleague moved it since the page was opened: the move is not made on from where the doctor did not see
    services.recording_move(recording=queued, patient=right_patient, by=admin_a, reason=REASON)
    third = PatientFactory(clinic=patient_a.clinic, mrn="A-0003", family_name="Berg")
    stale = ECGRecording.objects.get(pk=queued.pk)
    with pytest.raises(Conflict) as refused:
        services.recording_move(
            recording=stale, patient=third, by=doctor_a, reason=REASON, seen_patient_id=patient_a.pk
        )
    error = refused.value
    assert status_for(error) == 409 and error.code == "recording_moved"
    assert "moved to Brandt, Peter (MRN A-0002) by" in error.message
    assert RecordingMove.objects.count() == 1 and ECGRecording.objects.get(pk=queued.pk).patient_id == right_patient.pk


@pytest.mark.django_db
def test_a_retry_with_the_same_key_moves_once_and_another_move_with_it_is_refused(
    doctor_a, queued, patient_a, right_patient
):
    first = services.recording_move(
        recording=queued, patient=right_patient, by=doctor_a, reason=REASON, idempotency_key="k", fingerprint="f"
    )
    again = services.recording_move(
        recording=ECGRecording.objects.get(pk=queued.pk),
        patient=right_patient,
        by=doctor_a,
        reason=REASON,
        idempotency_key="k",
        fingerprint="f",
    )
    assert again.pk == first.pk and again.replayed is True and RecordingMove.objects.count() == 1
    with pytest.raises(IdempotencyKeyReused):
        services.recording_move(
            recording=queued, patient=patient_a, by=doctor_a, reason=REASON, idempotency_key="k", fingerprint="g"
        )
    assert RecordingMove.objects.count() == 1


@pytest.mark.django_db
def test_the_service_audits_nothing_itself(doctor_a, queued, right_patient):
    # the channel's request is audited (accounts.audit: one update of the recording), not the service's call
    services.recording_move(recording=queued, patient=right_patient, by=doctor_a, reason=REASON)
    assert not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_the_database_keeps_moves_append_only(doctor_a, queued, right_patient):
    move = services.recording_move(recording=queued, patient=right_patient, by=doctor_a, reason=REASON)
    with pytest.raises(PermissionError):
        move.save()
    with pytest.raises(PermissionError):
        move.delete()
    # past the model too: the trigger refuses UPDATE and DELETE
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        RecordingMove.objects.filter(pk=move.pk).update(reason="rewritten")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        RecordingMove.objects.filter(pk=move.pk).delete()
    assert RecordingMove.objects.get().reason == REASON


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("same_target", [False, True], ids=["two-patients", "one-patient"])
def test_two_moves_at_once_leave_one_state_and_the_history_in_order(
    clinic_a, doctor_a, admin_a, staff_a, patient_a, monkeypatch, same_target
):
    recording = beat_recording(staff_a, patient_a, classify=False)
    targets = [PatientFactory(clinic=clinic_a), PatientFactory(clinic=clinic_a)]
    if same_target:
        targets[1] = targets[0]
    # each move holds the recording a while before writing it: without the lock both would read patient_a
    original_save = ECGRecording.save

    def slow_save(self, *args, **kwargs):
        time.sleep(0.3)
        return original_save(self, *args, **kwargs)

    monkeypatch.setattr(ECGRecording, "save", slow_save)
    start = threading.Barrier(2)
    outcomes: list = [None, None]

    def move(i: int, user) -> None:
        try:
            start.wait()
            copy = ECGRecording.objects.get(pk=recording.pk)  # each request reads the recording on its own
            outcomes[i] = services.recording_move(recording=copy, patient=targets[i], by=user, reason=f"move {i}")
        except ApplicationError as exc:
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=move, args=(i, user)) for i, user in enumerate((doctor_a, admin_a))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    moves = list(RecordingMove.objects.order_by("id"))
    final = ECGRecording.objects.get(pk=recording.pk).patient_id
    if same_target:
        assert len(moves) == 1 and final == targets[0].pk
        assert sum(isinstance(o, Invalid) for o in outcomes) == 1  # the second found it moved already
    else:
        assert len(moves) == 2 and all(isinstance(o, RecordingMove) for o in outcomes)
        assert moves[0].from_patient_id == patient_a.pk
        assert moves[1].from_patient_id == moves[0].to_patient_id  # each moved it from where the other left it
        assert final == moves[1].to_patient_id
