"""An integration whose upload failed is told so (``recording.failed``), once per failure, through the
same signed, logged and retried delivery as the diagnosis notices."""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from api.models import WebhookDelivery
from api.services import api_token_create
from diagnostics import services
from diagnostics.models import ECGRecording

from ..helpers import http_receiver
from .conftest import submit_beats

pytestmark = pytest.mark.django_db


def test_a_failed_recording_is_told_signed_to_its_clinics_webhooks(
    delivered, staff_a, staff_b, patient_a, django_capture_on_commit_callbacks
):
    url, received = delivered
    token, _secret = api_token_create(user=staff_a, webhook_url=url)
    api_token_create(user=staff_b, webhook_url=url + "/b")  # another clinic: not told
    recording = submit_beats(staff_a, patient_a)
    with django_capture_on_commit_callbacks(execute=True):
        services.recording_fail(recording_id=recording.pk, reason="Internal error while classifying (KeyError).")
    assert len(received) == 1
    headers, body = received[0]
    assert json.loads(body) == {
        "event": "recording.failed",
        "recording": recording.pk,
        "error": "Internal error while classifying (KeyError).",
        "url": f"http://127.0.0.1:8000/api/v1/recordings/{recording.pk}",  # at SITE_URL's default
    }
    from api.webhooks import signing_secret

    key = signing_secret(token).encode()
    assert headers["x-ecg-signature"] == "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.event, delivery.status, delivery.recording_id, delivery.diagnosis_id) == (
        "recording.failed",
        "sent",
        recording.pk,
        None,
    )


def test_nothing_is_sent_before_the_failure_commits(delivered, staff_a, patient_a, django_capture_on_commit_callbacks):
    url, received = delivered
    api_token_create(user=staff_a, webhook_url=url)
    recording = submit_beats(staff_a, patient_a)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.recording_fail(recording_id=recording.pk, reason="boom")
    assert received == [] and len(callbacks) == 1
    callbacks[0]()
    assert len(received) == 1


def test_a_recording_that_fails_twice_is_told_once(delivered, staff_a, patient_a, django_capture_on_commit_callbacks):
    # the worker marks it failed (an unreadable file), then the task's error handler marks it failed again
    url, received = delivered
    api_token_create(user=staff_a, webhook_url=url)
    recording = submit_beats(staff_a, patient_a)
    with django_capture_on_commit_callbacks(execute=True):
        assert services._claim(recording.pk, "task-1")
        services._fail(recording.pk, "task-1", "the file has no readable lead")
        services.recording_fail(recording_id=recording.pk, reason="Internal error while classifying (KeyError).")
    assert [json.loads(body)["error"] for _headers, body in received] == ["the file has no readable lead"]
    recording.refresh_from_db()
    assert (recording.status, recording.error_message) == ("failed", "the file has no readable lead")


def test_a_recording_given_up_after_its_retries_is_told_once(
    delivered, staff_a, patient_a, django_capture_on_commit_callbacks, settings
):
    # each attempt crashed the worker; the redelivered task gives up, and a further redelivery changes nothing
    url, received = delivered
    api_token_create(user=staff_a, webhook_url=url)
    recording = submit_beats(staff_a, patient_a)
    stale = timezone.now() - timedelta(seconds=settings.ECG_PROCESSING_LEASE_SECONDS + 1)  # the crash's lease
    ECGRecording.objects.filter(pk=recording.pk).update(status="processing", attempts=3, claimed_at=stale)
    ECGRecording.objects.filter(pk=recording.pk).update(claim_token="dead-worker")
    with django_capture_on_commit_callbacks(execute=True):
        assert not services._claim(recording.pk, "dead-worker", max_attempts=3)
        assert not services._claim(recording.pk, "dead-worker", max_attempts=3)
        services.recording_fail(recording_id=recording.pk, reason="later")
    assert len(received) == 1
    body = json.loads(received[0][1])
    assert body["event"] == "recording.failed" and body["error"].startswith("Gave up after 3 attempts")


def test_a_done_recording_is_not_told_failed(delivered, done_recording, django_capture_on_commit_callbacks):
    url, received = delivered
    api_token_create(user=done_recording.uploaded_by, webhook_url=url)
    with django_capture_on_commit_callbacks(execute=True):
        services.recording_fail(recording_id=done_recording.pk, reason="late")
    assert received == [] and not WebhookDelivery.objects.filter(event="recording.failed").exists()


def test_a_failure_notice_is_retried_like_the_others(
    monkeypatch, settings, staff_a, patient_a, django_capture_on_commit_callbacks
):
    from api.services import webhook_deliveries_due
    from api.tasks import deliver_webhook

    settings.API_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.API_WEBHOOK_RETRY_SECONDS = 1
    monkeypatch.setattr(deliver_webhook, "delay", lambda *args: deliver_webhook.apply(args=args))
    answers = [503, 204]
    bodies = []

    def answer(headers, body):
        bodies.append(json.loads(body))
        return answers.pop(0)

    with http_receiver(answer) as url:
        api_token_create(user=staff_a, webhook_url=url)
        recording = submit_beats(staff_a, patient_a)
        with django_capture_on_commit_callbacks(execute=True):
            services.recording_fail(recording_id=recording.pk, reason="boom")
        delivery = WebhookDelivery.objects.get(event="recording.failed")
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("retrying", 1, 503)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_retry_at=delivery.created_at)
        assert webhook_deliveries_due() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    assert [body["error"] for body in bodies] == ["boom", "boom"]


def test_a_fault_writing_the_notices_never_keeps_a_recording_from_failing(staff_a, patient_a, monkeypatch):
    # the notices are written in a savepoint: a receiver that raises (a database fault) is logged
    def broken(**kwargs):
        raise RuntimeError("notices table unavailable")

    services.recording_failed.connect(broken, dispatch_uid="broken-receiver")
    try:
        recording = submit_beats(staff_a, patient_a)
        services.recording_fail(recording_id=recording.pk, reason="the analysis crashed")
    finally:
        services.recording_failed.disconnect(dispatch_uid="broken-receiver")
    recording.refresh_from_db()
    assert recording.status == ECGRecording.Status.FAILED and recording.error_message == "the analysis crashed"
