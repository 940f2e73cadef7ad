import hashlib
import hmac
import json

import pytest

from api.services import api_token_create

from ..helpers import http_receiver
from .conftest import classify_by_hand, submit_beats

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    received = []

    def answer(headers, body):
        received.append((headers, body))
        return 204

    with http_receiver(answer) as url:
        yield url, received


def test_a_token_with_a_webhook_is_told_when_a_diagnosis_is_written(
    receiver, staff_a, patient_a, staff_b, active_models, monkeypatch, django_capture_on_commit_callbacks, settings
):
    from api.tasks import deliver_webhook
    from api.webhooks import signing_secret

    settings.API_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]  # the receiver runs on this machine

    monkeypatch.setattr(deliver_webhook, "delay", lambda *args: deliver_webhook.apply(args=args))
    url, received = receiver
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
        "url": f"/api/v1/recordings/{recording.pk}",
    }
    key = signing_secret(token).encode()
    assert headers["x-ecg-signature"] == "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
