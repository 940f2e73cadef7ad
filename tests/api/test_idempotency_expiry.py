"""Idempotency keys are remembered for API_IDEMPOTENCY_KEY_HOURS, then forgotten and deleted by the
periodic sweep."""

from datetime import timedelta

import pytest
from django.utils import timezone

from diagnostics.models import ECGRecording, IdempotencyRecord
from diagnostics.tasks import requeue_stale_recordings

from ..helpers import beat_rows

pytestmark = pytest.mark.django_db
URL = "/api/v1/recordings"


def age(key: str, hours: float) -> None:
    IdempotencyRecord.objects.filter(key=key).update(created_at=timezone.now() - timedelta(hours=hours))


def test_an_expired_key_starts_a_new_request(api_as, staff_a, patient_a, settings):
    assert settings.API_IDEMPOTENCY_KEY_HOURS == 24
    api = api_as(staff_a)
    body = {"patient": patient_a.pk, "kind": "beats", "beats": beat_rows(3).tolist()}
    first = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-old")
    age("k-old", 23.9)
    assert api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-old")["Idempotent-Replayed"] == "true"
    age("k-old", 24.1)
    other = {**body, "beats": beat_rows(4).tolist()}
    again = api.post(URL, other, format="json", HTTP_IDEMPOTENCY_KEY="k-old")  # not 409: the key is forgotten
    assert again.status_code == 201 and again.json()["id"] != first.json()["id"]
    assert "Idempotent-Replayed" not in again
    assert ECGRecording.objects.count() == 2
    assert list(IdempotencyRecord.objects.values_list("recording_id", flat=True)) == [again.json()["id"]]


def test_the_periodic_task_purges_expired_keys_only(api_as, staff_a, patient_a, monkeypatch, own_sweep_lock):
    from diagnostics import services

    monkeypatch.setattr(services, "enqueue_classification", lambda rid: True)  # no worker here
    api = api_as(staff_a)
    for key in ("old", "fresh"):
        body = {"patient": patient_a.pk, "kind": "beats", "beats": beat_rows(3).tolist()}
        assert api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key).status_code == 201
    age("old", 25)
    result = requeue_stale_recordings.apply().get()
    assert result["idempotency_keys_purged"] == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]
    assert ECGRecording.objects.count() == 2  # the recordings stay
