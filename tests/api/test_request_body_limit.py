"""A body larger than its route takes is refused by its Content-Length, before anything reads it: a 400 MiB POST
to the login page, with no session or CSRF token, had been written whole to a temporary file."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import AuditEvent
from diagnostics.models import ECGRecording
from ecgsite.middleware import SMALL_BODY_BYTES

pytestmark = pytest.mark.django_db


def test_a_large_body_to_the_login_page_is_refused_unread(client, staff_a, monkeypatch):
    from django.http.request import HttpRequest

    def read(self, *args):
        raise AssertionError("the body was read")

    monkeypatch.setattr(HttpRequest, "_load_post_and_files", read)
    body = {"username": "staff_a", "password": "x", "file": SimpleUploadedFile("a.bin", b"0" * SMALL_BODY_BYTES)}
    response = client.post("/accounts/login/", body)
    assert response.status_code == 413 and response["Connection"] == "close"
    assert f"at most {SMALL_BODY_BYTES}" in response.content.decode()
    assert "Content-Security-Policy" in response  # refused inside the site's headers
    assert not AuditEvent.objects.filter(action="login_failed").exists()


def test_an_upload_route_takes_what_its_own_check_explains_and_no_more(api_as, staff_a, patient_a, settings):
    settings.ECG_MAX_UPLOAD_BYTES = 200_000
    api = api_as(staff_a)

    def post(size):
        csv = SimpleUploadedFile("beats.csv", b"0," * (size // 2), content_type="text/csv")
        return api.post("/api/v1/recordings", {"patient": patient_a.pk, "kind": "beats", "file": csv})

    over = post(300_000)  # over the upload limit, under twice it: the upload's own check says why
    csv = SimpleUploadedFile("beats.csv", b"0," * 600_000, content_type="text/csv")  # past 1 MiB
    slashed = api.post("/api/v1/recordings/", {"patient": patient_a.pk, "kind": "beats", "file": csv})
    assert slashed.status_code == 413 and "the limit is 0.2 MiB" in slashed.json()["error"]["message"]
    assert over.status_code == 413 and "the limit is 0.2 MiB" in over.json()["error"]["message"]
    far = post(2 * 200_000 + SMALL_BODY_BYTES)
    assert far.status_code == 413 and far.json()["error"]["code"] == "payload_too_large"
    assert "this address takes at most" in far.json()["error"]["message"]
    assert ECGRecording.objects.count() == 0


def test_a_model_route_takes_a_model_and_the_rest_a_small_body(api_as, admin_a, settings):
    settings.API_MAX_MODEL_BYTES = 100_000
    api = api_as(admin_a)
    artifact = SimpleUploadedFile("m.keras", b"0" * (100_000 + 2 * SMALL_BODY_BYTES))
    refused = api.post("/api/v1/model-versions", {"task": "heartbeat", "version": "x", "artifact": artifact})
    assert refused.status_code == 413 and "this address takes at most" in refused.json()["error"]["message"]
    patient = api.post("/api/v1/patients", {"mrn": "X" * (2 * SMALL_BODY_BYTES)}, format="json")
    assert patient.status_code == 413 and patient.json()["error"]["code"] == "payload_too_large"
