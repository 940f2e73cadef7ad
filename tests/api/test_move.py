"""POST recordings/{id}/move: a recording filed under the wrong patient moved to the right one over the API, with its
history (recordings/{id}/moves), its audit row, its Idempotency-Key, its webhook notice and its FHIR report."""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest

from accounts.models import AuditEvent
from api.models import WebhookDelivery
from api.services import api_token_create
from api.webhooks import signing_secret
from diagnostics import services
from diagnostics.models import Diagnosis, ECGRecording, IdempotencyRecord, RecordingMove

from ..factories import PatientFactory
from ..helpers import strict_validator
from .conftest import submit_beats
from .test_fhir import fetch_valid_bundle, resources

pytestmark = pytest.mark.django_db
REASON = "Uploaded under the wrong patient: the Holter diary names Peter Brandt."


@pytest.fixture
def right_patient(clinic_a):
    return PatientFactory(clinic=clinic_a, mrn="A-0002", family_name="Brandt", given_name="Peter")


@pytest.fixture
def recording(staff_a, patient_a):
    """A queued recording of patient_a (no worker runs here): a move does not wait for the analysis."""
    return submit_beats(staff_a, patient_a)


def move_url(recording) -> str:
    return f"/api/v1/recordings/{recording.pk}/move"


def test_a_doctor_moves_a_recording_and_is_answered_with_it_under_the_new_patient(
    api_as, doctor_a, recording, patient_a, right_patient
):
    api = api_as(doctor_a)
    response = api.post(move_url(recording), {"patient": right_patient.pk, "reason": REASON}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == recording.pk and body["patient"] == right_patient.pk and body["status"] == "queued"
    assert "Idempotent-Replayed" not in response
    assert body == api.get(f"/api/v1/recordings/{recording.pk}").json()  # the resource as a read gives it
    history = api.get(body["links"]["moves"])
    assert history.status_code == 200
    (move,) = history.json()["results"]
    assert {k: v for k, v in move.items() if k != "moved_at"} == {
        "id": RecordingMove.objects.get().pk,
        "recording": recording.pk,
        "from_patient": patient_a.pk,
        "to_patient": right_patient.pk,
        "moved_by": {"id": doctor_a.pk, "name": doctor_a.display_name},
        "reason": REASON,
    }
    listed = api.get("/api/v1/recordings", {"patient": right_patient.pk}).json()["results"]
    assert [r["id"] for r in listed] == [recording.pk]  # the patient's recordings: now theirs
    assert api.get("/api/v1/recordings", {"patient": patient_a.pk}).json()["count"] == 0


def test_the_move_is_audited_once_as_an_update_of_the_recording(api_as, doctor_a, recording, right_patient):
    api_as(doctor_a).post(move_url(recording), {"patient": right_patient.pk, "reason": REASON}, format="json")
    (event,) = AuditEvent.objects.filter(path=move_url(recording))
    assert (event.action, event.object_type, event.object_id, event.user_id, event.channel, event.status_code) == (
        "update",
        "recording",
        str(recording.pk),
        doctor_a.pk,
        "token",
        200,
    )


def test_staff_are_refused_and_nothing_is_moved_or_audited_as_a_write(api_as, staff_a, recording, right_patient):
    response = api_as(staff_a).post(move_url(recording), {"patient": right_patient.pk, "reason": REASON}, format="json")
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "permission_denied",
        "message": "Only doctors and administrators move a recording to another patient.",
    }
    assert ECGRecording.objects.get(pk=recording.pk).patient_id != right_patient.pk
    assert not RecordingMove.objects.exists()
    assert list(AuditEvent.objects.filter(path=move_url(recording)).values_list("action", flat=True)) == ["denied"]


def test_another_clinics_recording_is_not_found(api_as, doctor_b, recording, right_patient, clinic_b):
    api = api_as(doctor_b)
    for patient in (right_patient, PatientFactory(clinic=clinic_b)):
        response = api.post(move_url(recording), {"patient": patient.pk, "reason": REASON}, format="json")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert api.get(f"/api/v1/recordings/{recording.pk}/moves").status_code == 404
    assert not RecordingMove.objects.exists()


def test_another_clinics_patient_is_answered_as_one_that_does_not_exist(api_as, doctor_a, recording, clinic_b):
    api = api_as(doctor_a)
    elsewhere = PatientFactory(clinic=clinic_b, mrn="B-0009", family_name="Rossi")
    unknown = elsewhere.pk + 1000
    answers = {}
    for patient_id in (elsewhere.pk, unknown):
        response = api.post(move_url(recording), {"patient": patient_id, "reason": REASON}, format="json")
        assert response.status_code == 404
        answers[patient_id] = response.json()["error"]
    assert answers[elsewhere.pk] == {
        "code": "not_found",
        "message": f"No patient {elsewhere.pk} in your clinic.",
        "field": "patient",
    }
    assert answers[unknown] == {**answers[elsewhere.pk], "message": f"No patient {unknown} in your clinic."}
    assert not RecordingMove.objects.exists()


def test_a_move_to_the_patient_it_is_under_is_400_naming_it(api_as, doctor_a, recording, patient_a):
    response = api_as(doctor_a).post(move_url(recording), {"patient": patient_a.pk, "reason": REASON}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["field"] == "patient"
    assert "already filed under Meyer, Anna (MRN A-0001)" in error["message"]
    assert error["details"] == {"patient": [error["message"]]}
    assert not RecordingMove.objects.exists()


@pytest.mark.parametrize(
    "body, said",
    [
        ({}, "This field is required."),
        ({"reason": "   "}, "Say why the recording is moved"),
        ({"reason": "x" * 501}, "at most 500 are allowed"),
    ],
    ids=["missing", "blank", "too-long"],
)
def test_a_move_without_a_reason_of_at_most_500_characters_is_400_naming_it(
    api_as, doctor_a, recording, right_patient, body, said
):
    response = api_as(doctor_a).post(move_url(recording), {"patient": right_patient.pk, **body}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["field"] == "reason" and said in error["message"]
    assert not RecordingMove.objects.exists() and not IdempotencyRecord.objects.exists()


def test_a_move_from_a_patient_the_client_did_not_read_it_under_is_409(
    api_as, doctor_a, admin_a, recording, patient_a, right_patient
):
    services.recording_move(recording=recording, patient=right_patient, by=admin_a, reason=REASON)
    third = PatientFactory(clinic=patient_a.clinic)
    response = api_as(doctor_a).post(
        move_url(recording), {"patient": third.pk, "reason": REASON, "from_patient": patient_a.pk}, format="json"
    )
    assert response.status_code == 409 and response.json()["error"]["code"] == "recording_moved"
    assert RecordingMove.objects.count() == 1


@pytest.mark.parametrize("given", ["another", "the target"])
def test_a_from_patient_the_recording_was_never_under_is_400_not_a_move_since(
    api_as, doctor_a, recording, patient_a, right_patient, given
):
    """A 409 had said the recording "was moved" when it never was, and a client that reads again and retries on
    recording_moved had retried its own mistake for ever."""
    wrong = PatientFactory(clinic=patient_a.clinic).pk if given == "another" else right_patient.pk
    response = api_as(doctor_a).post(
        move_url(recording), {"patient": right_patient.pk, "reason": REASON, "from_patient": wrong}, format="json"
    )
    error = response.json()["error"]
    assert response.status_code == 400 and error["code"] == "validation_error" and error["field"] == "from_patient"
    assert "never was under" in error["message"] and "was moved" not in error["message"]
    assert not RecordingMove.objects.exists()


def test_a_retry_with_the_same_key_moves_once_and_another_body_with_it_is_409(
    api_as, doctor_a, staff_a, recording, right_patient, settings
):
    settings.API_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    api_token_create(user=staff_a, webhook_url="http://127.0.0.1:9/hook")  # each move logs one notice
    api = api_as(doctor_a)
    body = {"patient": right_patient.pk, "reason": REASON}
    first = api.post(move_url(recording), body, format="json", HTTP_IDEMPOTENCY_KEY="move-1")
    assert first.status_code == 200 and "Idempotent-Replayed" not in first
    resent = json.dumps(dict(reversed(body.items())), indent=2)  # the same request, written otherwise
    again = api.post(move_url(recording), resent, content_type="application/json", HTTP_IDEMPOTENCY_KEY="move-1")
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert RecordingMove.objects.count() == 1 and WebhookDelivery.objects.count() == 1
    other = api.post(
        move_url(recording), {**body, "reason": "Another reason."}, format="json", HTTP_IDEMPOTENCY_KEY="move-1"
    )
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert RecordingMove.objects.count() == 1 and WebhookDelivery.objects.count() == 1
    # the trail: moved once, then the same request answered again
    actions = AuditEvent.objects.filter(path=move_url(recording), status_code=200).values_list("action", flat=True)
    assert sorted(actions) == ["update", "view"]


def test_a_move_is_told_signed_to_the_clinics_webhooks_as_its_schema_documents(
    client,
    delivered,
    api_as,
    staff_a,
    staff_b,
    doctor_a,
    recording,
    patient_a,
    right_patient,
    django_capture_on_commit_callbacks,
):
    url, received = delivered
    token, _secret = api_token_create(user=staff_a, webhook_url=url)
    api_token_create(user=staff_b, webhook_url=url + "/b")  # another clinic: not told
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(doctor_a).post(
            move_url(recording), {"patient": right_patient.pk, "reason": REASON}, format="json"
        )
    assert response.status_code == 200
    (headers, raw), *more = received
    assert not more
    notice = json.loads(raw)
    move = RecordingMove.objects.get()
    site = "http://127.0.0.1:8000/api/v1"  # SITE_URL's default
    assert {k: v for k, v in notice.items() if k != "moved_at"} == {
        "event": "recording.moved",
        "recording": recording.pk,
        "url": f"{site}/recordings/{recording.pk}",
        "move": move.pk,
        "from_patient": patient_a.pk,
        "to_patient": right_patient.pk,
        "from_patient_url": f"{site}/patients/{patient_a.pk}",
        "to_patient_url": f"{site}/patients/{right_patient.pk}",
        "reason": REASON,
        "moves_url": f"{site}/recordings/{recording.pk}/moves",
    }
    moves = api_as(doctor_a).get(response.json()["links"]["moves"]).json()["results"]
    assert notice["moved_at"] == moves[0]["moved_at"]  # as the API's resources write a time
    key = signing_secret(token).encode()
    assert headers["x-ecg-signature"] == "sha256=" + hmac.new(key, raw, hashlib.sha256).hexdigest()
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    ref = schema["webhooks"]["recording.moved"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    strict_validator(schema, ref["$ref"].rsplit("/", 1)[-1]).validate(notice)
    delivery = WebhookDelivery.objects.get(token=token)
    assert (delivery.event, delivery.status, delivery.recording_id, delivery.diagnosis_id) == (
        "recording.moved",
        "sent",
        recording.pk,
        None,
    )


def test_the_fhir_reports_subject_follows_the_recording(api_as, doctor_a, done_recording, patient_a, right_patient):
    api = api_as(doctor_a)
    before = fetch_valid_bundle(api, done_recording)
    response = api.post(move_url(done_recording), {"patient": right_patient.pk, "reason": REASON}, format="json")
    assert response.status_code == 200
    after = fetch_valid_bundle(api, done_recording)
    for bundle, patient in ((before, patient_a), (after, right_patient)):
        (fhir_patient,) = resources(bundle, "Patient")
        (report,) = resources(bundle, "DiagnosticReport")
        assert fhir_patient["identifier"][0]["value"] == patient.mrn
        assert fhir_patient["name"][0]["family"] == patient.family_name
        entry = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
        assert report["subject"] == {"reference": entry["fullUrl"]}
        observations = resources(bundle, "Observation")
        assert {o["subject"]["reference"] for o in observations} == {entry["fullUrl"]}
    assert resources(before, "DiagnosticReport")[0]["subject"] != resources(after, "DiagnosticReport")[0]["subject"]
    # the report sent before named another patient: now corrected, the report and every Observation, issued at the move
    assert resources(before, "DiagnosticReport")[0]["status"] == "final"
    (report,) = resources(after, "DiagnosticReport")
    assert {report["status"]} | {o["status"] for o in resources(after, "Observation")} == {"corrected"}
    moved_at = done_recording.moves.get().created_at
    assert report["issued"] == moved_at.isoformat() == after["timestamp"]


def test_a_recording_moved_before_its_results_were_made_is_reported_final(
    api_as, doctor_a, done_recording, right_patient
):
    """No report had named the wrong patient: nothing to correct. (The moves are append-only, so the results are
    dated after the move instead.)"""
    services.recording_move(recording=done_recording, patient=right_patient, by=doctor_a, reason=REASON)
    Diagnosis.objects.filter(recording=done_recording).update(
        created_at=done_recording.moves.get().created_at + timedelta(seconds=1)
    )
    (report,) = resources(fetch_valid_bundle(api_as(doctor_a), done_recording), "DiagnosticReport")
    assert report["status"] == "final"


def test_the_moves_list_is_in_the_order_made(api_as, doctor_a, admin_a, recording, patient_a, right_patient):
    services.recording_move(recording=recording, patient=right_patient, by=doctor_a, reason="First.")
    services.recording_move(recording=recording, patient=patient_a, by=admin_a, reason="Back: the first was right.")
    moves = api_as(doctor_a).get(f"/api/v1/recordings/{recording.pk}/moves").json()["results"]
    assert [(m["from_patient"], m["to_patient"], m["reason"]) for m in moves] == [
        (patient_a.pk, right_patient.pk, "First."),
        (right_patient.pk, patient_a.pk, "Back: the first was right."),
    ]
