import hashlib
import hmac
import json
import time

import pytest

from api.models import WebhookDelivery
from api.services import api_token_create

from .conftest import classify_by_hand, submit_beats

pytestmark = pytest.mark.django_db


def test_a_token_with_a_webhook_is_told_when_a_diagnosis_is_written(
    delivered, staff_a, patient_a, staff_b, active_models, django_capture_on_commit_callbacks
):
    from api.webhooks import signing_secret

    url, received = delivered
    token, _secret = api_token_create(user=staff_a, webhook_url=url)
    api_token_create(user=staff_b, webhook_url=url + "/b")  # another clinic: not told
    recording = submit_beats(staff_a, patient_a)
    with django_capture_on_commit_callbacks(execute=True):
        diagnosis = classify_by_hand(recording, active_models)
    assert len(received) == 1
    headers, body = received[0]
    assert json.loads(body) == {
        "event": "diagnosis.created",
        "recording": recording.pk,
        "diagnosis": diagnosis.pk,
        "mi_status": "screened",
        "mi_flag": True,
        "url": f"http://127.0.0.1:8000/api/v1/recordings/{recording.pk}",  # at SITE_URL's default
    }
    key = signing_secret(token).encode()
    assert headers["x-ecg-signature"] == "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    # the timed signature covers when it was sent, so a receiver can refuse a notice replayed later, and
    # the delivery's id (the same on every attempt) lets it drop one it already has
    timestamp = headers["x-ecg-timestamp"]
    assert abs(int(timestamp) - time.time()) < 60
    timed = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["x-ecg-signature-timed"] == "sha256=" + timed
    assert headers["x-ecg-delivery"] == str(WebhookDelivery.objects.get(token=token).pk)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        # left the clinic: the API refuses the token from now on
        ({"is_active": False}, "user deactivated"),
        # the token now acts for clinic B (the API scopes it so): clinic A's notice still went to its receiver
        ({"clinic": "clinic_b"}, "another clinic"),
    ],
    ids=["deactivated", "moved-to-another-clinic"],
)
def test_a_notice_waiting_for_its_retry_is_not_sent_once_its_tokens_user_is_deactivated_or_moved(
    deliver_here, staff_a, patient_a, active_models, django_capture_on_commit_callbacks, request, change, said
):
    from api.services import webhook_deliver

    from ..helpers import http_receiver

    received: list = []
    answers = iter([503, 204])

    def answer(headers, body):
        received.append(body)
        return next(answers)

    with http_receiver(answer) as url:
        api_token_create(user=staff_a, webhook_url=url)
        with django_capture_on_commit_callbacks(execute=True):
            classify_by_hand(submit_beats(staff_a, patient_a), active_models)
        delivery = WebhookDelivery.objects.get()
        assert len(received) == 1 and delivery.status == WebhookDelivery.Status.RETRYING
        for field, value in change.items():
            setattr(staff_a, field, request.getfixturevalue(value) if field == "clinic" else value)
        staff_a.save(update_fields=list(change))
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_retry_at=None)
        assert webhook_deliver(delivery_id=delivery.pk) == "skipped"
    assert len(received) == 1
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED and said in delivery.last_error


def test_a_doctors_review_is_told_too(
    delivered, staff_a, doctor_a, patient_a, active_models, django_capture_on_commit_callbacks
):
    # a hospital system heard of a flagged diagnosis but never of the doctor's decision on it
    from diagnostics import services
    from diagnostics.models import Event

    url, received = delivered
    api_token_create(user=staff_a, webhook_url=url)
    recording = submit_beats(staff_a, patient_a)
    with django_capture_on_commit_callbacks(execute=True):
        diagnosis = classify_by_hand(recording, active_models)
    with django_capture_on_commit_callbacks(execute=True):
        services.review_create(user=doctor_a, diagnosis=diagnosis, decision="reject", note="second look")
    event = Event.objects.create(recording=recording, clinic=recording.clinic, type="pause", start=10, end=900, beats=2)
    with django_capture_on_commit_callbacks(execute=True):
        services.event_review_create(user=doctor_a, event=event, decision="confirm")
    events = [json.loads(body)["event"] for _headers, body in received]
    assert events == ["diagnosis.created", "diagnosis.reviewed", "event.reviewed"]
    assert {json.loads(body)["diagnosis"] for _headers, body in received} == {diagnosis.pk}
    # each decision's notice says which decision it tells of (two decisions on one flag had sent identical
    # bodies, and mi_flag stays true after a rejection), fixed when it was logged
    created, reviewed, event_reviewed = (json.loads(body) for _headers, body in received)
    review = diagnosis.reviews.get()
    assert "review" not in created and "decision" not in created
    assert {k: reviewed[k] for k in ("review", "decision", "reviewed_at", "review_url")} == {
        "review": review.pk,
        "decision": "reject",
        "reviewed_at": review.created_at.isoformat().replace("+00:00", "Z"),  # as the API writes times
        "review_url": f"http://127.0.0.1:8000/api/v1/reviews/{review.pk}",
    }
    assert {k: event_reviewed[k] for k in ("rhythm_event", "rhythm_event_type", "decision", "events_url")} == {
        "rhythm_event": event.pk,
        "rhythm_event_type": "pause",
        "decision": "confirm",
        "events_url": f"http://127.0.0.1:8000/api/v1/recordings/{recording.pk}/events",
    }


@pytest.mark.parametrize("site", ["https://ecg.example.org", "https://hospital.example.org/ecg/"])
def test_every_link_a_notice_gives_is_absolute_at_the_sites_address(
    delivered, settings, site, staff_a, doctor_a, patient_a, active_models, django_capture_on_commit_callbacks
):
    # url and the *_url had been paths (/api/v1/recordings/5): a notice is written by a worker, without a request
    # whose host a receiver could take them from; SITE_URL is the address the API is reached at
    from diagnostics import services
    from diagnostics.models import Event

    settings.SITE_URL = site.rstrip("/")  # as the settings keep it
    address, received = delivered
    api_token_create(user=staff_a, webhook_url=address)
    recording = submit_beats(staff_a, patient_a)
    with django_capture_on_commit_callbacks(execute=True):
        diagnosis = classify_by_hand(recording, active_models)
    with django_capture_on_commit_callbacks(execute=True):
        review = services.review_create(user=doctor_a, diagnosis=diagnosis, decision="confirm", note="")
    event = Event.objects.create(recording=recording, clinic=recording.clinic, type="vt", start=10, end=900, beats=4)
    with django_capture_on_commit_callbacks(execute=True):
        services.event_review_create(user=doctor_a, event=event, decision="confirm")
    with django_capture_on_commit_callbacks(execute=True):
        services.interpretation_sign(user=doctor_a, recording=recording, text="Sinus rhythm.")
    failing = submit_beats(staff_a, patient_a)
    with django_capture_on_commit_callbacks(execute=True):
        services.recording_fail(recording_id=failing.pk, reason="Internal error.")
    links = {}
    for _headers, body in received:
        notice = json.loads(body)
        links.update({(notice["event"], k): v for k, v in notice.items() if k == "url" or k.endswith("_url")})
    api = f"{site.rstrip('/')}/api/v1"
    assert links == {
        ("diagnosis.created", "url"): f"{api}/recordings/{recording.pk}",
        ("diagnosis.reviewed", "url"): f"{api}/recordings/{recording.pk}",
        ("diagnosis.reviewed", "review_url"): f"{api}/reviews/{review.pk}",
        ("event.reviewed", "url"): f"{api}/recordings/{recording.pk}",
        ("event.reviewed", "events_url"): f"{api}/recordings/{recording.pk}/events",
        ("recording.interpreted", "url"): f"{api}/recordings/{recording.pk}",
        ("recording.interpreted", "interpretations_url"): f"{api}/recordings/{recording.pk}/interpretations",
        ("recording.failed", "url"): f"{api}/recordings/{failing.pk}",
    }
