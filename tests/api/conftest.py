import pytest
from rest_framework.test import APIClient

from api.services import api_token_create


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The cast's passwords are hashed for every test; the API never checks them.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def token_for():
    def _token(user, **kwargs) -> str:
        return api_token_create(user=user, **kwargs)[1]

    return _token


@pytest.fixture
def api_as(token_for):
    """An API client authenticated with a fresh token of ``user``."""

    def _client(user, **kwargs) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user, **kwargs)}")
        return client

    return _client


@pytest.fixture
def doctor_b(clinic_b):
    from accounts.models import User

    from ..factories import UserFactory

    return UserFactory(username="doctor_b", clinic=clinic_b, role=User.Role.DOCTOR)


def submit_beats(user, patient, n: int = 6):
    from diagnostics import ingestion
    from diagnostics.services import recording_submit

    from ..helpers import beat_csv

    data = beat_csv(n)
    parsed = ingestion.parse_beats(filename="beats.csv", data=data)
    return recording_submit(user=user, patient=patient, parsed=parsed, data=data, filename="beats.csv")


def classify_by_hand(recording, models, *, beats=None, mi_score: float = 0.9, heart_rate=None):
    """Results as the worker writes them, without running the models (for tests about the API's output)."""
    import io

    import numpy as np
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from diagnostics.models import Beat, Diagnosis

    n = recording.input_beat_count or 4
    classes = ["N", "N", "V", "S", "F", "Q"] * (n // 6 + 1)
    Beat.objects.bulk_create(
        Beat(
            recording=recording,
            index=i,
            position=None if recording.kind == "beats" else 100 + 300 * i,
            aami_class=classes[i],
            p_n=0.6,
            p_s=0.1,
            p_v=0.1,
            p_f=0.1,
            p_q=0.1,
            mi_probability=mi_score,
        )
        for i in range(n)
    )
    counts = {f"count_{c.lower()}": classes[:n].count(c) for c in "NSVFQ"}
    diagnosis = Diagnosis.objects.create(
        recording=recording,
        clinic_id=recording.clinic_id,
        beat_count=n,
        **counts,
        heart_rate_bpm=heart_rate,
        mi_score=mi_score,
        mi_threshold=0.5,
        mi_flag=mi_score >= 0.5,
        heartbeat_model=models["heartbeat"],
        mi_model=models["mi"],
    )
    if beats is None:
        beats = np.linspace(0, 1, n * 187, dtype=np.float32).reshape(n, 187)
    buffer = io.BytesIO()
    np.save(buffer, beats)
    recording.beats_file.name = default_storage.save("recordings/test.beats.npy", ContentFile(buffer.getvalue()))
    recording.status = "done"
    recording.progress_done = recording.progress_total = n
    recording.save()
    return diagnosis


@pytest.fixture
def done_recording(staff_a, patient_a, active_models):
    """A classified, MI-flagged recording of patient_a."""
    recording = submit_beats(staff_a, patient_a)
    classify_by_hand(recording, active_models)
    recording.refresh_from_db()
    return recording


@pytest.fixture
def receiver():
    """An HTTP server on this machine answering 204 to every notice: (its URL, the (headers, body) received)."""
    from ..helpers import http_receiver

    received: list = []

    def answer(headers, body):
        received.append((headers, body))
        return 204

    with http_receiver(answer) as url:
        yield url, received


@pytest.fixture
def deliver_here(monkeypatch, settings):
    """Webhook deliveries run in this process as soon as they are sent (no worker), to receivers on this machine."""
    from api.tasks import deliver_webhook

    settings.API_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]  # the receiver runs on this machine
    monkeypatch.setattr(deliver_webhook, "delay", lambda *args: deliver_webhook.apply(args=args))


@pytest.fixture
def delivered(receiver, deliver_here):
    """The shared receiver, with notices delivered in this process as soon as they are sent."""
    return receiver
