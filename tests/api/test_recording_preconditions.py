"""If-Match and If-Unmodified-Since on the writes to a recording: its move, its interpretation's signature and the
review of its diagnosis. They had been ignored, which is worse than refused: a client that sent them believed it was
protected from writing over a change it had not seen."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.db import connection, transaction
from django.utils.http import http_date

from api.models import WebhookDelivery
from api.services import api_token_create
from diagnostics import services
from diagnostics.models import ECGRecording, IdempotencyRecord, Interpretation, RecordingMove, Review
from patients.models import Patient

from ..factories import PatientFactory

pytestmark = pytest.mark.django_db
REASON = "Uploaded under the wrong patient: the Holter diary names Peter Brandt."


@dataclass
class Write:
    url: str
    body: dict
    read: str  # the resource whose ETag and Last-Modified the write is held to
    model: type  # what it makes
    status: int  # its success
    change: Callable[[], object]  # another system's change of that resource
    same: Callable[..., object]  # the write the request asks for, made by the service for a user


@pytest.fixture
def subscribed(staff_a, settings):
    """A token of the clinic with a webhook: every write logs a delivery for it."""
    settings.API_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    api_token_create(user=staff_a, webhook_url="http://127.0.0.1:9/hook")


@pytest.fixture(params=["move", "interpretation", "review"])
def write(request, done_recording, admin_a, clinic_a) -> Write:
    recording = f"/api/v1/recordings/{done_recording.pk}"

    def sign():  # another doctor's signature (an amendment, once one is signed)
        return services.interpretation_sign(user=admin_a, recording=done_recording, text="Sinus.", reason="Reread.")

    if request.param == "move":
        body = {"patient": PatientFactory(clinic=clinic_a).pk, "reason": REASON}
        return Write(
            url=f"{recording}/move",
            body=body,
            read=recording,
            model=RecordingMove,
            status=200,
            change=sign,
            same=lambda user: services.recording_move(
                recording=done_recording, patient=Patient.objects.get(pk=body["patient"]), by=user, reason=REASON
            ),
        )
    if request.param == "interpretation":
        body = {"text": "Sinus rhythm, 72 /min.", "reason": "Rate added."}  # a reason, for an amendment
        return Write(
            url=f"{recording}/interpretations",
            body=body,
            read=recording,
            model=Interpretation,
            status=201,
            change=sign,
            same=lambda user: services.interpretation_sign(user=user, recording=done_recording, **body),
        )
    diagnosis = done_recording.diagnosis
    return Write(
        url="/api/v1/reviews",
        body={"diagnosis": diagnosis.pk, "decision": "confirm", "note": "STEMI"},
        read=f"/api/v1/diagnoses/{diagnosis.pk}",
        model=Review,
        status=201,
        change=lambda: services.review_create(user=admin_a, diagnosis=diagnosis, decision="reject", note="artefact"),
        same=lambda user: services.review_create(user=user, diagnosis=diagnosis, decision="confirm", note="STEMI"),
    )


def made(write: Write) -> int:
    return write.model.objects.count()


def test_a_stale_if_match_is_412_and_writes_nothing(api_as, doctor_a, write, subscribed):
    api = api_as(doctor_a)
    tag = api.get(write.read)["ETag"]
    write.change()
    before = (
        made(write),
        WebhookDelivery.objects.count(),
        ECGRecording.objects.values_list("patient", "updated_at")[0],
    )
    response = api.post(write.url, write.body, format="json", HTTP_IF_MATCH=tag, HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 412, response.content
    assert response.json()["error"] == {
        "code": "precondition_failed",
        "message": "The resource has changed since the ETag given in If-Match: read it again, then send the change.",
        "field": "If-Match",
    }
    after = (made(write), WebhookDelivery.objects.count(), ECGRecording.objects.values_list("patient", "updated_at")[0])
    assert after == before and not IdempotencyRecord.objects.exists()  # the key unused too
    fresh = api.get(write.read)["ETag"]
    again = api.post(write.url, write.body, format="json", HTTP_IF_MATCH=fresh, HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == write.status, again.content


def test_the_current_tag_goes_through_as_read_weak_or_among_others(api_as, doctor_a, write):
    api = api_as(doctor_a)
    tag = api.get(write.read)["ETag"]
    response = api.post(write.url, write.body, format="json", HTTP_IF_MATCH=f'"stale", W/{tag}')
    assert response.status_code == write.status, response.content
    assert made(write) == 1


def test_if_match_any_goes_through_whatever_changed(api_as, doctor_a, write):
    write.change()
    response = api_as(doctor_a).post(write.url, write.body, format="json", HTTP_IF_MATCH="*")
    assert response.status_code == write.status, response.content


def test_if_unmodified_since_before_the_last_change_is_412_and_its_last_modified_goes_through(api_as, doctor_a, write):
    api = api_as(doctor_a)
    write.change()
    before = made(write)
    refused = api.post(write.url, write.body, format="json", HTTP_IF_UNMODIFIED_SINCE=http_date(946684800))
    assert refused.status_code == 412 and refused.json()["error"]["field"] == "If-Unmodified-Since"
    assert made(write) == before
    read = api.get(write.read)
    response = api.post(write.url, write.body, format="json", HTTP_IF_UNMODIFIED_SINCE=read["Last-Modified"])
    assert response.status_code == write.status, response.content
    assert made(write) == before + 1


def test_a_retry_with_the_same_key_after_a_change_is_answered_as_the_first_request_was(api_as, doctor_a, write):
    """The key's answer is what the client wants: its own write, now changing the resource, is no reason to refuse
    it, and neither is another system's change since."""
    api = api_as(doctor_a)
    tag = api.get(write.read)["ETag"]
    first = api.post(write.url, write.body, format="json", HTTP_IF_MATCH=tag, HTTP_IDEMPOTENCY_KEY="k-2")
    assert first.status_code == write.status, first.content
    write.change()
    again = api.post(write.url, write.body, format="json", HTTP_IF_MATCH=tag, HTTP_IDEMPOTENCY_KEY="k-2")
    assert again.status_code == write.status and again["Idempotent-Replayed"] == "true", again.content
    assert again.json()["id"] == first.json()["id"]


def test_a_request_that_loses_a_race_to_its_own_key_is_answered_as_the_winner_not_412(
    api_as, doctor_a, write, monkeypatch
):
    """Two requests with one key and one tag at once: both find the key new, the other commits first and changes
    the resource this one waits to lock. The tag is stale once this one holds the lock, but the key's answer is
    the winner's."""
    api = api_as(doctor_a)
    tag = api.get(write.read)["ETag"]
    real = services.idempotency_replay
    calls = []

    def another_request_commits_first(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            made = write.same(doctor_a)
            target = {services._IDEMPOTENCY_TARGETS[write.model]: made}
            IdempotencyRecord.objects.create(user=doctor_a, key="race", fingerprint=kwargs["fingerprint"], **target)
            return None
        return real(**kwargs)

    monkeypatch.setattr(services, "idempotency_replay", another_request_commits_first)
    response = api.post(write.url, write.body, format="json", HTTP_IF_MATCH=tag, HTTP_IDEMPOTENCY_KEY="race")
    assert response.status_code == write.status, response.content
    assert response["Idempotent-Replayed"] == "true" and made(write) == 1


def test_a_move_answers_the_tag_and_time_a_read_gives_for_the_next_write(api_as, doctor_a, done_recording, clinic_a):
    api = api_as(doctor_a)
    url = f"/api/v1/recordings/{done_recording.pk}"
    read = api.get(url)
    body = {"patient": PatientFactory(clinic=clinic_a).pk, "reason": REASON}
    moved = api.post(f"{url}/move", body, format="json", HTTP_IF_MATCH=read["ETag"])
    assert moved.status_code == 200 and moved["ETag"] != read["ETag"]
    reread = api.get(url)
    assert (moved["ETag"], moved["Last-Modified"]) == (reread["ETag"], reread["Last-Modified"])
    signed = api.post(f"{url}/interpretations", {"text": "Sinus rhythm."}, format="json", HTTP_IF_MATCH=moved["ETag"])
    assert signed.status_code == 201, signed.content
    stale = api.post(f"{url}/move", {**body, "patient": PatientFactory(clinic=clinic_a).pk}, format="json",
                     HTTP_IF_MATCH=moved["ETag"])  # fmt: skip
    assert stale.status_code == 412


def test_a_change_of_the_recording_the_diagnosis_does_not_show_does_not_refuse_its_review(
    api_as, doctor_a, admin_a, done_recording
):
    api = api_as(doctor_a)
    diagnosis = f"/api/v1/diagnoses/{done_recording.diagnosis.pk}"
    read = api.get(diagnosis)
    services.interpretation_sign(user=admin_a, recording=done_recording, text="Sinus rhythm.")
    body = {"diagnosis": done_recording.diagnosis.pk, "decision": "confirm"}
    response = api.post(
        "/api/v1/reviews", body, format="json", HTTP_IF_MATCH=read["ETag"], HTTP_IF_UNMODIFIED_SINCE=http_date()
    )
    assert response.status_code == 201, response.content
    assert api.get(diagnosis)["Last-Modified"] == http_date(Review.objects.get().created_at.timestamp())


@pytest.mark.django_db(transaction=True)
def test_the_tag_is_checked_under_the_recordings_lock(api_as, doctor_a, admin_a, staff_a, patient_a, clinic_a):
    """A move sent with the current tag while another one holds the recording: the other's change commits first, so
    this one, checked once it holds the lock, is refused. Checked before the lock, both had moved it."""
    from ..helpers import beat_recording

    recording = beat_recording(staff_a, patient_a, classify=False)
    api = api_as(doctor_a)
    url = f"/api/v1/recordings/{recording.pk}"
    tag = api.get(url)["ETag"]
    locked, sent = threading.Event(), threading.Event()

    def the_other_move() -> None:
        try:
            with transaction.atomic():
                ECGRecording.objects.select_for_update().get(pk=recording.pk)
                locked.set()
                sent.wait(10)
                time.sleep(0.3)  # the request is waiting for the lock by now
                services.recording_move(
                    recording=recording, patient=PatientFactory(clinic=clinic_a), by=admin_a, reason="Wrong patient."
                )
        finally:
            connection.close()

    other = threading.Thread(target=the_other_move)
    other.start()
    assert locked.wait(10)
    sent.set()
    body = {"patient": PatientFactory(clinic=clinic_a).pk, "reason": REASON}
    response = api.post(f"{url}/move", body, format="json", HTTP_IF_MATCH=tag)
    other.join(10)
    assert response.status_code == 412, response.content
    assert RecordingMove.objects.count() == 1


def test_the_schema_documents_the_preconditions_and_their_412_on_each_write_that_takes_them(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    taking = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
            if "If-Match" in headers:
                taking.add((method, path))
                assert "If-Unmodified-Since" in headers, (method, path)
            assert ("412" in operation["responses"]) == ("If-Match" in headers), (method, path)
    assert taking == {
        ("put", "/api/v1/patients/{id}"),
        ("patch", "/api/v1/patients/{id}"),
        ("post", "/api/v1/recordings/{id}/move"),
        ("post", "/api/v1/recordings/{id}/interpretations"),
        ("post", "/api/v1/recordings/{id}/diary"),  # tests/api/test_diary.py
        ("delete", "/api/v1/recordings/{id}/diary/{entry_id}"),
        ("post", "/api/v1/recordings/{id}/activities"),  # tests/api/test_activities.py
        ("delete", "/api/v1/recordings/{id}/activities/{activity_id}"),
        ("post", "/api/v1/recordings/{id}/beat-corrections"),  # tests/api/test_beat_corrections_api.py
        ("delete", "/api/v1/recordings/{id}/beat-corrections/{correction_id}"),
        ("post", "/api/v1/reviews"),
    }
