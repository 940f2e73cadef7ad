"""Idempotency-Key on a doctor's writes, as on uploads: POST reviews (an MI review) and POST
recordings/{id}/interpretations (a signature). A hospital system retrying after a timeout had made a second
review and a second ``diagnosis.reviewed`` notice."""

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import AuditEvent
from api.models import WebhookDelivery
from api.services import api_token_create
from diagnostics import services
from diagnostics.models import IdempotencyRecord, Interpretation, Review

from ..helpers import beat_rows
from .conftest import classify_by_hand, submit_beats

pytestmark = pytest.mark.django_db
FINDINGS = "Sinus rhythm, 72 /min.\nNo ischaemic changes."


@dataclass
class Write:
    url: str
    body: dict
    other: dict  # another request to the same endpoint
    refused: list[tuple[str, dict, int]]  # requests refused (url, body, status)
    model: type
    location: bool  # whether the 201 names the new object (an interpretation has no URL of its own)


@pytest.fixture(params=["review", "interpretation"])
def write(request, done_recording) -> Write:
    if request.param == "review":
        diagnosis = done_recording.diagnosis.pk
        return Write(
            url="/api/v1/reviews",
            body={"diagnosis": diagnosis, "decision": "confirm", "note": "STEMI"},
            other={"diagnosis": diagnosis, "decision": "reject", "note": "STEMI"},
            refused=[
                ("/api/v1/reviews", {"diagnosis": diagnosis, "decision": "maybe"}, 400),
                ("/api/v1/reviews", {"diagnosis": 999999999, "decision": "confirm"}, 404),
            ],
            model=Review,
            location=True,
        )
    url = f"/api/v1/recordings/{done_recording.pk}/interpretations"
    return Write(
        url=url,
        body={"text": FINDINGS, "reason": "Amended on review."},  # a reason: some of these sign an amendment
        other={"text": "Sinus rhythm.", "reason": "Amended on review."},
        refused=[(url, {"text": "  "}, 400), ("/api/v1/recordings/999999999/interpretations", {"text": FINDINGS}, 404)],
        model=Interpretation,
        location=False,
    )


@pytest.fixture
def subscribed(staff_a, settings):
    """A token of the clinic with a webhook: every review or signature logs a delivery for it."""
    settings.API_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    api_token_create(user=staff_a, webhook_url="http://127.0.0.1:9/hook")


def age(key: str, hours: float) -> None:
    IdempotencyRecord.objects.filter(key=key).update(created_at=timezone.now() - timedelta(hours=hours))


def test_a_retry_returns_the_first_answer_and_makes_nothing(api_as, doctor_a, write, subscribed):
    api = api_as(doctor_a)
    first = api.post(write.url, write.body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first
    # the same JSON with its keys in another order and other spacing is the same request
    resent = json.dumps(dict(reversed(write.body.items())), indent=2)
    again = api.post(write.url, resent, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201
    assert again.json() == first.json() and again.json()["id"] == write.model.objects.get().pk
    assert again["Idempotent-Replayed"] == "true"
    assert again.get("Location") == first.get("Location") and ("Location" in first) == write.location
    assert WebhookDelivery.objects.count() == 1 and IdempotencyRecord.objects.count() == 1
    # the trail says it was decided once, then asked for again
    actions = AuditEvent.objects.filter(path=write.url).values_list("action", flat=True)
    assert sorted(actions) == sorted([AuditEvent.Action.REVIEW, AuditEvent.Action.VIEW])


def test_the_key_with_another_body_is_409(api_as, doctor_a, write, subscribed):
    api = api_as(doctor_a)
    assert api.post(write.url, write.body, format="json", HTTP_IDEMPOTENCY_KEY="k-1").status_code == 201
    response = api.post(write.url, write.other, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert write.model.objects.count() == 1 and WebhookDelivery.objects.count() == 1


def test_a_whole_number_written_either_way_is_the_same_request(api_as, doctor_a, done_recording):
    # JSON has one number type: a retry whose client writes 5.0 as 5 (JavaScript) is the request it retries
    api = api_as(doctor_a)
    diagnosis = done_recording.diagnosis.pk
    body = {"diagnosis": float(diagnosis), "decision": "confirm"}
    first = api.post("/api/v1/reviews", body, format="json", HTTP_IDEMPOTENCY_KEY="k-5")
    assert first.status_code == 201, first.content
    again = api.post("/api/v1/reviews", {**body, "diagnosis": diagnosis}, format="json", HTTP_IDEMPOTENCY_KEY="k-5")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    # a body that means another thing is still another request
    other = api.post("/api/v1/reviews", {**body, "decision": "reject"}, format="json", HTTP_IDEMPOTENCY_KEY="k-5")
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert Review.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "resent", "same"),
    [
        (
            {"at_s": 5.0, "rows": [[0.0, 1.0, 0.5]], "x": {"n": -0.0}},
            {"at_s": 5, "rows": [[0, 1, 0.5]], "x": {"n": 0}},
            True,
        ),
        ({"n": 1e16}, {"n": 10**16}, True),
        ({"n": 5}, {"n": 5.5}, False),
        ({"n": 5}, {"n": "5"}, False),
        ({"n": "5.0"}, {"n": "5"}, False),  # text is compared as sent
        ({"n": 1}, {"n": True}, False),
        ({"n": 0}, {"n": False}, False),
        ({"n": 0}, {"n": None}, False),
        ({"n": 10**17 + 1}, {"n": float(10**17 + 1)}, False),  # no float holds it: the float is another number
    ],
)
def test_the_fingerprint_holds_numbers_equal_as_numbers_and_nothing_else(body, resent, same):
    def fingerprint(sent):
        return services.idempotency_fingerprint(method="POST", path="/api/v1/reviews", body=sent)

    assert (fingerprint(body) == fingerprint(resent)) is same


def test_the_key_on_another_endpoint_is_409(api_as, doctor_a, staff_a, patient_a, active_models, done_recording):
    api = api_as(doctor_a)
    review = {"diagnosis": done_recording.diagnosis.pk, "decision": "confirm"}
    assert api.post("/api/v1/reviews", review, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    signing = api.post(url_of(done_recording), {"text": FINDINGS}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    upload = {"patient": patient_a.pk, "kind": "beats", "beats": beat_rows(3).tolist()}
    uploading = api.post("/api/v1/recordings", upload, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert (signing.status_code, uploading.status_code) == (409, 409)
    assert signing.json()["error"]["code"] == uploading.json()["error"]["code"] == "idempotency_key_reused"
    # the same text signed on another recording is another request too
    other = submit_beats(staff_a, patient_a)
    classify_by_hand(other, active_models)
    assert api.post(url_of(other), {"text": FINDINGS}, format="json", HTTP_IDEMPOTENCY_KEY="s").status_code == 201
    refused = api.post(url_of(done_recording), {"text": FINDINGS}, format="json", HTTP_IDEMPOTENCY_KEY="s")
    assert refused.status_code == 409
    assert Review.objects.count() == 1 and Interpretation.objects.get().recording_id == other.pk


def url_of(recording) -> str:
    return f"/api/v1/recordings/{recording.pk}/interpretations"


@pytest.mark.parametrize("key", ["", "k" * 256, "schlüssel", "a\tb"])
def test_a_malformed_key_is_400(api_as, doctor_a, write, key):
    response = api_as(doctor_a).post(write.url, write.body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"
    assert not write.model.objects.exists() and not IdempotencyRecord.objects.exists()


def test_a_refused_request_does_not_use_up_the_key(api_as, doctor_a, staff_a, write):
    api = api_as(doctor_a)
    for url, body, status in write.refused:
        assert api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == status
    assert api_as(staff_a).post(write.url, write.body, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 403
    assert not IdempotencyRecord.objects.exists()
    good = api.post(write.url, write.body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert good.status_code == 201 and "Idempotent-Replayed" not in good
    assert write.model.objects.count() == 1


def test_a_409_refusal_does_not_use_up_the_key(api_as, doctor_a, staff_a, patient_a, active_models):
    api = api_as(doctor_a)
    unflagged = submit_beats(staff_a, patient_a)
    classify_by_hand(unflagged, active_models, mi_score=0.1)
    review = {"diagnosis": unflagged.diagnosis.pk, "decision": "confirm"}
    refused = api.post("/api/v1/reviews", review, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "not_flagged")
    queued = submit_beats(staff_a, patient_a)
    not_ready = api.post(url_of(queued), {"text": FINDINGS}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert (not_ready.status_code, not_ready.json()["error"]["code"]) == (409, "not_ready")
    assert api.post(url_of(unflagged), {"text": FINDINGS}, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 201


def test_keys_belong_to_their_user(api_as, doctor_a, admin_a, write):
    a = api_as(doctor_a).post(write.url, write.body, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    b = api_as(admin_a).post(write.url, write.other, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    assert (a.status_code, b.status_code) == (201, 201) and "Idempotent-Replayed" not in b
    assert write.model.objects.count() == 2


def test_an_expired_key_starts_a_new_request(api_as, doctor_a, write, settings):
    assert settings.API_IDEMPOTENCY_KEY_HOURS == 24
    api = api_as(doctor_a)
    first = api.post(write.url, write.body, format="json", HTTP_IDEMPOTENCY_KEY="k-old")
    age("k-old", 23.9)
    assert api.post(write.url, write.body, format="json", HTTP_IDEMPOTENCY_KEY="k-old")["Idempotent-Replayed"] == "true"
    age("k-old", 24.1)
    again = api.post(write.url, write.other, format="json", HTTP_IDEMPOTENCY_KEY="k-old")  # not 409: forgotten
    assert again.status_code == 201 and again.json()["id"] != first.json()["id"]
    assert "Idempotent-Replayed" not in again
    assert write.model.objects.count() == 2
    target = "review_id" if write.model is Review else "interpretation_id"
    assert list(IdempotencyRecord.objects.values_list(target, flat=True)) == [again.json()["id"]]


def test_the_sweep_purges_expired_keys_of_every_write(api_as, doctor_a, write):
    api = api_as(doctor_a)
    assert api.post(write.url, write.body, format="json", HTTP_IDEMPOTENCY_KEY="old").status_code == 201
    assert api.post(write.url, write.other, format="json", HTTP_IDEMPOTENCY_KEY="fresh").status_code == 201
    age("old", 25)
    assert services.idempotency_records_purge() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]
    assert write.model.objects.count() == 2  # what they made stays


def test_a_request_that_loses_the_race_answers_as_the_winner(api_as, doctor_a, write, subscribed, monkeypatch):
    """Two requests with one key at once: both find the key new, the other one commits first. This one's write
    is undone (refused by the unique key, or, signing the same text again, as unchanged) and it replays."""
    real = services.idempotency_replay
    calls = []

    def another_request_commits_first(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            if write.model is Review:
                fields = {"diagnosis_id": write.body["diagnosis"], "decision": "confirm", "note": "STEMI"}
                made = Review.objects.create(clinic=doctor_a.clinic, reviewer=doctor_a, **fields)
            else:
                recording_id = int(write.url.split("/")[-2])
                made = Interpretation.objects.create(
                    recording_id=recording_id, clinic=doctor_a.clinic, author=doctor_a, text=FINDINGS
                )
            target = {"review" if write.model is Review else "interpretation": made}
            IdempotencyRecord.objects.create(user=doctor_a, key="race", fingerprint=kwargs["fingerprint"], **target)
            return None
        return real(**kwargs)

    monkeypatch.setattr(services, "idempotency_replay", another_request_commits_first)
    response = api_as(doctor_a).post(write.url, write.body, format="json", HTTP_IDEMPOTENCY_KEY="race")
    assert response.status_code == 201, response.content
    assert response.json()["id"] == write.model.objects.get().pk and response["Idempotent-Replayed"] == "true"
    assert WebhookDelivery.objects.count() == 1  # the winner's notice only


def test_a_record_names_exactly_one_target(doctor_a, done_recording):
    review = Review.objects.create(
        diagnosis=done_recording.diagnosis, clinic=doctor_a.clinic, reviewer=doctor_a, decision="confirm"
    )
    for targets in ({}, {"recording": done_recording, "review": review}):
        with pytest.raises(IntegrityError), transaction.atomic():
            IdempotencyRecord.objects.create(user=doctor_a, key="k", fingerprint="f", **targets)


def test_the_schema_documents_the_key_on_every_write_that_takes_one(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    taking = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            names = {parameter["name"] for parameter in operation.get("parameters", [])}
            # the write's success: 201 for what it makes, 200 for what it changes (a recording's move), 204 for what
            # it removes
            success = next(code for code in ("201", "204", "200") if code in operation["responses"])
            created = operation["responses"][success].get("headers", {}) if method in ("post", "delete") else {}
            if "Idempotency-Key" in names:
                taking.add((method, path))
                assert "Idempotent-Replayed" in created, (method, path)
            else:
                assert "Idempotent-Replayed" not in created, (method, path)
    assert taking == {
        ("post", "/api/v1/recordings"),
        ("post", "/api/v1/reviews"),
        ("post", "/api/v1/recordings/{id}/interpretations"),
        ("post", "/api/v1/recordings/{id}/move"),
        ("post", "/api/v1/recordings/{id}/diary"),
        ("post", "/api/v1/recordings/{id}/activities"),
        ("delete", "/api/v1/recordings/{id}/diary/{entry_id}"),
        ("delete", "/api/v1/recordings/{id}/activities/{activity_id}"),
        ("post", "/api/v1/recordings/{id}/beat-corrections"),
        ("delete", "/api/v1/recordings/{id}/beat-corrections/{correction_id}"),
    }
    parameter = next(
        p for p in schema["paths"]["/api/v1/reviews"]["post"]["parameters"] if p["name"] == "Idempotency-Key"
    )
    assert parameter["in"] == "header" and "idempotency_key_reused" in parameter["description"]
