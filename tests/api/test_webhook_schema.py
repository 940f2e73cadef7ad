"""The webhook notices are in the OpenAPI schema (OpenAPI 3.1's webhooks section) as they are sent: a receiver
generates its models from it, as a client does from the paths."""

import json

import pytest
from django.utils import timezone

from api.services import api_token_create
from api.webhook_schema import NOTICES
from diagnostics import corrections, services
from diagnostics.models import Diagnosis, Event

from ..factories import PatientFactory
from ..helpers import strict_validator
from .conftest import classify_by_hand, submit_beats

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client):
    return client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def test_every_notice_is_in_the_schemas_webhooks_with_its_signature_headers(schema):
    assert set(schema["webhooks"]) == set(NOTICES)
    for name, item in schema["webhooks"].items():
        post = item["post"]
        body = post["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
        assert schema["components"]["schemas"][body]["properties"]["event"]["enum"] == [name]
        headers = {p["name"] for p in post["parameters"] if p["in"] == "header"}
        assert headers == {"X-ECG-Signature", "X-ECG-Timestamp", "X-ECG-Signature-Timed", "X-ECG-Delivery"}
        assert set(post["responses"]) == {"2XX"}  # the receiver's answer: no API error bodies


def test_each_notice_sent_is_the_shape_its_schema_documents(
    schema, delivered, staff_a, doctor_a, patient_a, active_models, django_capture_on_commit_callbacks
):
    url, received = delivered
    api_token_create(user=staff_a, webhook_url=url)
    recording = submit_beats(staff_a, patient_a)
    with django_capture_on_commit_callbacks(execute=True):
        diagnosis = classify_by_hand(recording, active_models)
    with django_capture_on_commit_callbacks(execute=True):
        services.review_create(user=doctor_a, diagnosis=diagnosis, decision="confirm", note="")
    event = Event.objects.create(recording=recording, clinic=recording.clinic, type="vt", start=10, end=900, beats=4)
    with django_capture_on_commit_callbacks(execute=True):
        services.event_review_create(user=doctor_a, event=event, decision="confirm")
    with django_capture_on_commit_callbacks(execute=True):
        services.interpretation_sign(user=doctor_a, recording=recording, text="Sinus rhythm; a 4-beat VT.")
    with django_capture_on_commit_callbacks(execute=True):
        services.recording_move(
            recording=recording, patient=PatientFactory(clinic=patient_a.clinic), by=doctor_a, reason="Wrong patient."
        )
    with django_capture_on_commit_callbacks(execute=True):
        made = corrections.beat_correction_make(recording=recording, by=doctor_a, to_class="V", beats=[0])
    with django_capture_on_commit_callbacks(execute=True):
        corrections.beat_correction_undo(correction=made, by=doctor_a)
    # a beat file has no rhythm to recompute: one analysed from a signal would, and might fail to
    Diagnosis.objects.filter(pk=diagnosis.pk).update(rhythm={"heart_rate": {}}, rhythm_outdated_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        corrections.rhythm_recompute_failed(recording_id=recording.pk, reason="The signal could not be read again.")
    failing = submit_beats(staff_a, patient_a)
    with django_capture_on_commit_callbacks(execute=True):
        services.recording_fail(recording_id=failing.pk, reason="Internal error while classifying (KeyError).")

    sent = {}
    for headers, body in received:
        notice = json.loads(body)
        sent[notice["event"]] = notice
        ref = schema["webhooks"][notice["event"]]["post"]["requestBody"]["content"]["application/json"]["schema"]
        validator = strict_validator(schema, ref["$ref"].rsplit("/", 1)[-1])
        validator.validate(notice)  # raises naming the first key more, fewer or of another type
        assert not validator.is_valid(notice | {"unexpected": 1})
        assert {"x-ecg-signature", "x-ecg-timestamp", "x-ecg-signature-timed", "x-ecg-delivery"} <= set(headers)
    assert set(sent) == set(NOTICES)  # every kind of notice was sent and checked
