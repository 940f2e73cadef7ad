"""The pages' way to move a recording filed under the wrong patient: the right patient's MRN and a reason, a
confirmation naming both patients, then the recording's page saying so and showing the move."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from diagnostics import services
from diagnostics.models import ECGRecording, RecordingMove

from ..conftest import client_for
from ..factories import PatientFactory
from ..helpers import beat_recording

pytestmark = pytest.mark.django_db
REASON = "The Holter diary names Peter Brandt."


@pytest.fixture
def right_patient(clinic_a):
    import datetime

    return PatientFactory(
        clinic=clinic_a, mrn="A-0002", family_name="Brandt", given_name="Peter", date_of_birth=datetime.date(1950, 3, 4)
    )


@pytest.fixture
def recording(staff_a, patient_a):
    return beat_recording(staff_a, patient_a, classify=False)


def form_fields(html: str) -> dict:
    """The hidden fields of the confirmation's form, as a browser sends them back."""
    form = html[html.index('action="' + "/recordings/") :]
    return {
        name: value
        for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form)
        if name != "csrfmiddlewaretoken"
    }


def confirmation(client, recording, mrn=" a-0002 ", reason=REASON):
    """The form sent, then the confirmation's own page it leads to (post/redirect/get)."""
    sent = client.post(reverse("recording-move", args=[recording.pk]), {"mrn": mrn, "reason": reason})
    assert sent.status_code == 303, sent.content.decode()[:2000]
    assert sent["Location"] == reverse("recording-move-confirm", args=[recording.pk])
    response = client.get(sent["Location"])
    assert response.status_code == 200, response.content.decode()[:2000]
    return response


def test_a_doctor_moves_a_recording_from_its_page_and_sees_the_move_kept(
    client, doctor_a, recording, patient_a, right_patient
):
    client_for(client, doctor_a)
    detail = reverse("recording-detail", args=[recording.pk])
    page = client.get(detail).content.decode()
    assert f'href="{reverse("recording-move", args=[recording.pk])}"' in page
    assert "Filed under the wrong patient?" in page
    form = client.get(reverse("recording-move", args=[recording.pk]))
    assert form.status_code == 200 and "Meyer, Anna" in form.content.decode()

    confirm = confirmation(client, recording).content.decode()
    # both patients side by side, and the recording: which file, when
    for shown in ("Meyer, Anna", "A-0001", "Brandt, Peter", "A-0002", "1950-03-04", "b.csv", REASON):
        assert shown in confirm, shown
    assert ECGRecording.objects.get(pk=recording.pk).patient_id == patient_a.pk  # nothing moved yet
    sent = form_fields(confirm)
    assert sent.keys() == {"submission", "patient", "reason", "seen_patient"}

    moved = client.post(reverse("recording-move-confirm", args=[recording.pk]), sent)
    assert moved.status_code == 302 and moved["Location"] == detail
    assert ECGRecording.objects.get(pk=recording.pk).patient_id == right_patient.pk
    page = client.get(detail).content.decode()
    assert "Recording %d moved to Brandt, Peter (MRN A-0002). Reason: %s" % (recording.pk, REASON) in page
    move = RecordingMove.objects.get()
    moved_at = timezone.localtime(move.created_at)
    assert f'Filed under Meyer, Anna (MRN A-0001) until <time datetime="{moved_at.isoformat()}">' in page
    assert f"{moved_at:%Y-%m-%d %H:%M %Z}</time>; moved by {doctor_a.display_name}: {REASON}</li>" in page
    # the patients' pages list what is now theirs
    assert detail in client.get(reverse("patient-detail", args=[right_patient.pk])).content.decode()
    assert detail not in client.get(reverse("patient-detail", args=[patient_a.pk])).content.decode()


def test_the_move_is_audited_once_as_an_update_and_the_patient_shown_as_a_view(
    client, doctor_a, recording, right_patient
):
    client_for(client, doctor_a)
    sent = form_fields(confirmation(client, recording).content.decode())
    client.post(reverse("recording-move-confirm", args=[recording.pk]), sent)
    rows = AuditEvent.objects.filter(user=doctor_a).exclude(action="login").order_by("id")
    assert [(r.action, r.object_type, r.object_id) for r in rows] == [
        ("view", "patient", str(right_patient.pk)),  # the confirmation names the patient asked for
        ("view", "recording", str(recording.pk)),  # (its page; the form sent before it wrote and showed nothing)
        ("update", "recording", str(recording.pk)),
    ]


def test_back_from_the_confirmation_keeps_what_was_given_and_a_reload_shows_it_again(
    client, doctor_a, recording, right_patient
):
    """The confirmation is a page of its own: Back or a reload had met the browser's "Confirm Form Resubmission", and
    the breadcrumb back to the form an empty form."""
    client_for(client, doctor_a)
    first = confirmation(client, recording).content.decode()
    again = client.get(reverse("recording-move-confirm", args=[recording.pk]))
    assert again.status_code == 200 and "Brandt, Peter" in again.content.decode()
    assert form_fields(again.content.decode()).keys() == form_fields(first).keys()
    form = client.get(reverse("recording-move", args=[recording.pk])).content.decode()
    assert 'value="A-0002"' in form and REASON in form
    moved = client.post(reverse("recording-move-confirm", args=[recording.pk]), form_fields(first))
    assert moved.status_code == 302
    # once made, the move is no longer pending: the confirmation's address leads to the form, empty
    after = client.get(reverse("recording-move-confirm", args=[recording.pk]))
    assert after.status_code == 302 and after["Location"] == reverse("recording-move", args=[recording.pk])
    assert 'value="A-0002"' not in client.get(after["Location"]).content.decode()


def test_a_double_submit_moves_once(client, doctor_a, recording, right_patient):
    client_for(client, doctor_a)
    sent = form_fields(confirmation(client, recording).content.decode())
    url = reverse("recording-move-confirm", args=[recording.pk])
    first, second = client.post(url, sent), client.post(url, sent)
    assert first.status_code == second.status_code == 302
    assert second["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert RecordingMove.objects.count() == 1
    updates = AuditEvent.objects.filter(object_type="recording", path=url, method="POST").values_list(
        "action", flat=True
    )
    assert sorted(updates) == ["update", "view"]  # moved once, then the same form answered again


def test_staff_see_no_move_and_are_refused_it(client, staff_a, recording, right_patient):
    client_for(client, staff_a)
    page = client.get(reverse("recording-detail", args=[recording.pk])).content.decode()
    assert "Filed under the wrong patient?" not in page
    assert client.get(reverse("recording-move", args=[recording.pk])).status_code == 403
    sent = {"patient": right_patient.pk, "reason": REASON, "seen_patient": recording.patient_id}
    assert client.post(reverse("recording-move-confirm", args=[recording.pk]), sent).status_code == 403
    assert not RecordingMove.objects.exists()


def test_another_clinics_recording_is_not_found(client, clinic_b, recording, right_patient):
    from accounts.models import User

    from ..factories import UserFactory

    doctor_b = UserFactory(username="doctor_b", clinic=clinic_b, role=User.Role.DOCTOR)
    client_for(client, doctor_b)
    assert client.get(reverse("recording-move", args=[recording.pk])).status_code == 404
    sent = {"patient": right_patient.pk, "reason": REASON, "seen_patient": recording.patient_id}
    assert client.post(reverse("recording-move-confirm", args=[recording.pk]), sent).status_code == 404
    assert not RecordingMove.objects.exists()


def test_an_unknown_mrn_is_the_form_again_naming_it(client, doctor_a, recording, clinic_b):
    PatientFactory(clinic=clinic_b, mrn="B-0009")  # another clinic's: as unknown
    client_for(client, doctor_a)
    for mrn in ("A-9999", "B-0009"):
        response = client.post(reverse("recording-move", args=[recording.pk]), {"mrn": mrn, "reason": REASON})
        html = response.content.decode()
        assert response.status_code == 400 and f"No patient of your clinic has the MRN “{mrn}”" in html
        assert REASON in html  # what was typed is kept
    assert not AuditEvent.objects.filter(object_type="patient").exists()


def test_the_patient_it_is_under_and_a_missing_reason_are_said_beside_their_fields(
    client, doctor_a, recording, right_patient
):
    client_for(client, doctor_a)
    url = reverse("recording-move", args=[recording.pk])
    same = client.post(url, {"mrn": "A-0001", "reason": REASON})
    assert same.status_code == 400
    assert "already filed under Meyer, Anna (MRN A-0001)" in same.content.decode()
    blank = client.post(url, {"mrn": "A-0002", "reason": "  "})
    assert blank.status_code == 400 and "Say why the recording is moved" in blank.content.decode()
    long = client.post(url, {"mrn": "A-0002", "reason": "x" * 501})
    assert long.status_code == 400 and "at most 500 are allowed" in long.content.decode()
    assert not RecordingMove.objects.exists()


def test_a_confirmation_for_another_clinics_patient_moves_nothing(client, doctor_a, recording, clinic_b):
    elsewhere = PatientFactory(clinic=clinic_b)
    client_for(client, doctor_a)
    sent = {"patient": elsewhere.pk, "reason": REASON, "seen_patient": recording.patient_id}
    response = client.post(reverse("recording-move-confirm", args=[recording.pk]), sent)
    assert response.status_code == 404 and f"No patient {elsewhere.pk} in your clinic." in response.content.decode()
    assert not RecordingMove.objects.exists()


def test_a_confirmation_after_a_colleagues_move_is_refused_saying_so(
    client, doctor_a, admin_a, recording, patient_a, right_patient
):
    client_for(client, doctor_a)
    sent = form_fields(confirmation(client, recording).content.decode())
    third = PatientFactory(clinic=patient_a.clinic, family_name="Berg")
    services.recording_move(recording=recording, patient=third, by=admin_a, reason="The colleague's move.")
    response = client.post(reverse("recording-move-confirm", args=[recording.pk]), sent)
    html = response.content.decode()
    assert response.status_code == 409 and "This recording was moved to Berg" in html
    assert ECGRecording.objects.get(pk=recording.pk).patient_id == third.pk and RecordingMove.objects.count() == 1
    assert not AuditEvent.objects.filter(action="update").exists()  # refused: no write recorded


def test_an_incomplete_confirmation_is_the_form_again_saying_so(client, doctor_a, recording):
    client_for(client, doctor_a)
    response = client.post(reverse("recording-move-confirm", args=[recording.pk]), {"reason": REASON})
    html = response.content.decode()
    assert response.status_code == 400 and "The confirmation was incomplete" in html and REASON in html
    assert not RecordingMove.objects.exists()


def test_the_printed_report_of_a_moved_recording_says_whose_it_was_before(
    client, doctor_a, staff_a, patient_a, right_patient, active_models
):
    """A report printed before the move named another patient: the one printed now says so (FHIR calls it
    'corrected'), and one never moved says nothing of it."""
    moved, kept = beat_recording(staff_a, patient_a), beat_recording(staff_a, patient_a)
    services.recording_move(recording=moved, patient=right_patient, by=doctor_a, reason=REASON)
    client_for(client, doctor_a)
    report = client.get(reverse("recording-report", args=[moved.pk])).content.decode()
    assert "Corrected patient:" in report
    assert "Filed under Meyer, Anna (MRN A-0001) until <time" in report and REASON in report
    assert "Brandt, Peter" in report  # whose it is now, as the report's patient
    assert "Corrected patient:" not in client.get(reverse("recording-report", args=[kept.pk])).content.decode()
