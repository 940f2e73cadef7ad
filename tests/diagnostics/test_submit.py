"""recording_submit owns idempotent replay, the duplicate-key race and the clean-up of stored files."""

import pytest
from django.core.files.storage import default_storage

from diagnostics import ingestion, services
from diagnostics.models import ECGRecording, IdempotencyRecord
from ecgsite.errors import IdempotencyKeyReused

from ..helpers import beat_csv


def submit(user, patient, *, key=None, fingerprint="a", seed=0):
    data = beat_csv(3, seed=seed)
    parsed = ingestion.parse_beats(filename="b.csv", data=data)
    return services.recording_submit(
        user=user,
        patient=patient,
        parsed=parsed,
        data=data,
        filename="b.csv",
        idempotency_key=key,
        fingerprint=fingerprint,
    )


def stored_files() -> set[str]:
    return set(default_storage.listdir("recordings")[1]) if default_storage.exists("recordings") else set()


@pytest.mark.django_db
def test_the_same_key_and_request_return_the_first_recording(staff_a, patient_a):
    first = submit(staff_a, patient_a, key="k1")
    again = submit(staff_a, patient_a, key="k1")
    assert again.pk == first.pk and again.replayed and not first.replayed
    assert ECGRecording.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_request_is_refused(staff_a, patient_a):
    submit(staff_a, patient_a, key="k1", fingerprint="a")
    with pytest.raises(IdempotencyKeyReused):
        submit(staff_a, patient_a, key="k1", fingerprint="b", seed=1)
    assert ECGRecording.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_losing_a_race_on_the_key_returns_the_winner_and_deletes_the_losers_file(staff_a, patient_a, monkeypatch):
    winner = submit(staff_a, patient_a)
    files_before = stored_files()
    real = services.recording_submission_replay
    calls = []

    def another_request_commits_first(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            IdempotencyRecord.objects.create(user=staff_a, key="race", fingerprint="a", recording=winner)
            return None
        return real(**kwargs)

    monkeypatch.setattr(services, "recording_submission_replay", another_request_commits_first)
    result = submit(staff_a, patient_a, key="race", seed=2)
    assert result.pk == winner.pk and result.replayed
    assert ECGRecording.objects.count() == 1 and stored_files() == files_before
