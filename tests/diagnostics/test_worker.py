"""Uploads processed by a separately started Celery worker over Redis and PostgreSQL."""

import pytest
from django.urls import reverse

from diagnostics.models import ECGRecording

from ..conftest import client_for, wait_for_status
from ..helpers import beat_csv, upload

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_an_upload_is_processed_by_a_separate_worker(client, celery_worker, staff_a, patient_a, active_models):
    client_for(client, staff_a)
    response = client.post(
        reverse("recording-upload", args=[patient_a.pk]), {"kind": "beats", "files": upload("b.csv", beat_csv(40))}
    )
    assert response.status_code == 302
    recording = wait_for_status(ECGRecording.objects.get())
    assert recording.status == "done", recording.error_message
    assert recording.beats.count() == 40
    assert recording.claim_token and recording.attempts == 1  # claimed by the worker's task


def test_the_seed_example_is_classified_whole(client, celery_worker, staff_a, patient_a, active_models, seed_csv):
    client_for(client, staff_a)
    client.post(
        reverse("recording-upload", args=[patient_a.pk]),
        {"kind": "beats", "files": upload("seed.csv", seed_csv.read_bytes())},
    )
    recording = wait_for_status(ECGRecording.objects.get())
    assert recording.status == "done", recording.error_message
    assert recording.beats.count() == recording.diagnosis.beat_count == 100
    page = client.get(reverse("recording-detail", args=[recording.pk])).content.decode()
    assert "MI score" in page and "flagged for a doctor" in page


def test_uploads_wait_for_a_model_and_run_once_one_is_activated(
    client, celery_worker, staff_a, patient_a, tiny_model_dir
):
    from mlmodels.services import model_version_activate

    from ..conftest import model_version_from

    client_for(client, staff_a)
    client.post(
        reverse("recording-upload", args=[patient_a.pk]), {"kind": "beats", "files": upload("b.csv", beat_csv(8))}
    )
    recording = ECGRecording.objects.get()
    page = client.get(reverse("recording-detail", args=[recording.pk])).content.decode()
    assert "Waiting: no active model" in page
    model_version_from(tiny_model_dir / "heartbeat.keras", task="heartbeat", version="w-1")
    mi = model_version_from(tiny_model_dir / "mi-high.keras", task="mi", version="w-1", active=False)
    import time

    time.sleep(2)
    recording.refresh_from_db()
    assert recording.status == "queued"  # still waiting for the MI model
    model_version_activate(model_version=mi)
    recording = wait_for_status(recording)
    assert recording.status == "done" and recording.beats.count() == 8


def _wfdb_upload(tmp_path, names: list[str], seconds: int = 60) -> list:
    import numpy as np
    import wfdb

    from ..data import mitdb_dir

    values = wfdb.rdrecord(str(mitdb_dir() / "100"), sampto=360 * seconds).p_signal  # a minute, two leads
    wfdb.wrsamp("rec", fs=360, units=["mV", "mV"], sig_name=names, p_signal=np.asarray(values), write_dir=str(tmp_path))
    return [upload(f"rec{ext}", (tmp_path / f"rec{ext}").read_bytes()) for ext in (".hea", ".dat")]


def test_an_upload_with_unnamed_leads_is_not_applicable_and_never_queued(
    client, celery_worker, staff_a, doctor_a, patient_a, active_models, tmp_path
):
    from diagnostics import selectors

    client_for(client, staff_a)
    response = client.post(
        reverse("recording-upload", args=[patient_a.pk]),
        {"kind": "signal", "files": _wfdb_upload(tmp_path, ["ECG1", "ECG2"])},
    )
    assert response.status_code == 302, response.content.decode()[-800:]
    recording = wait_for_status(ECGRecording.objects.get())
    assert recording.status == "done", recording.error_message
    diagnosis = recording.diagnosis
    assert diagnosis.mi_status == "not_applicable" and not diagnosis.mi_flag  # the MI model here flags everything
    assert diagnosis.mi_score is None and diagnosis.mi_threshold is None and diagnosis.mi_beats_used == 0
    assert "ECG1, ECG2" in diagnosis.mi_reason
    assert not recording.beats.exclude(mi_probability=None).exists()  # no MI probability on a lead it is not valid for
    assert not selectors.review_queue(user=doctor_a).exists()
    page = client.get(reverse("recording-detail", args=[recording.pk])).content.decode()
    assert 'data-mi-status="not_applicable"' in page and "not applicable" in page


def test_a_lead_ii_longer_than_a_resting_ecg_is_not_screened_and_never_queued(
    client, celery_worker, staff_a, doctor_a, patient_a, active_models, tmp_path
):
    from diagnostics import selectors

    client_for(client, staff_a)
    response = client.post(
        reverse("recording-upload", args=[patient_a.pk]),
        {"kind": "signal", "files": _wfdb_upload(tmp_path, ["II", "V5"], seconds=360)},
    )
    assert response.status_code == 302, response.content.decode()[-800:]
    recording = wait_for_status(ECGRecording.objects.get())
    assert recording.status == "done", recording.error_message
    diagnosis = recording.diagnosis
    assert diagnosis.mi_status == "not_applicable" and not diagnosis.mi_flag  # the MI model here flags everything
    assert "lasts 6 minutes" in diagnosis.mi_reason and "resting ECGs" in diagnosis.mi_reason
    assert not selectors.review_queue(user=doctor_a).exists()
