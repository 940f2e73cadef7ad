"""Recordings through the API and a real Celery worker, end to end: a JSON signal to its FHIR export, and a sync
job paging by updated_at seeing the results."""

from datetime import datetime

import pytest

from diagnostics.models import ECGRecording

from ..conftest import wait_for_status
from ..data import mitdb_dir
from .test_fhir import by_code, fetch_valid_bundle, resources

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_json_signal_is_classified_by_the_worker_and_exported_as_fhir(
    api_as, celery_worker, staff_a, patient_a, active_models
):
    import wfdb

    record = wfdb.rdrecord(str(mitdb_dir() / "100"), sampto=360 * 30)
    leads = {name: record.p_signal[:, i].round(3).tolist() for i, name in enumerate(record.sig_name)}
    api = api_as(staff_a)
    response = api.post(
        "/api/v1/recordings", {"patient": patient_a.pk, "kind": "signal", "fs": 360, "leads": leads}, format="json"
    )
    assert response.status_code == 201, response.content
    recording = wait_for_status(ECGRecording.objects.get(pk=response.json()["id"]))
    assert recording.status == "done", recording.error_message
    body = api.get(f"/api/v1/recordings/{recording.pk}").json()
    assert 30 <= body["diagnosis"]["beat_count"] <= 45 and 60 <= body["diagnosis"]["heart_rate_bpm"] <= 90
    assert api.get(f"/api/v1/recordings/{recording.pk}/beats").json()["count"] == body["diagnosis"]["beat_count"]
    data = fetch_valid_bundle(api, recording)
    waveform = by_code(resources(data, "Observation"), "131328")
    assert [c["code"]["text"] for c in waveform["component"]] == ["Lead MLII", "Lead V5"]
    assert len(waveform["component"][0]["valueSampledData"]["data"].split()) == 360 * 30


def test_a_sync_job_sees_the_recording_the_worker_finished(api_as, celery_worker, staff_a, patient_a, active_models):
    api = api_as(staff_a)
    body = {"patient": patient_a.pk, "kind": "beats", "beats": [[0.5] * 187] * 20}
    uploaded = api.post("/api/v1/recordings", body, format="json")
    assert uploaded.status_code == 201, uploaded.content
    recording = wait_for_status(ECGRecording.objects.get(pk=uploaded.json()["id"]))
    assert recording.status == "done", recording.error_message
    # the job's last run saw the upload queued: the results are among the changes since
    since = {"updated_after": uploaded.json()["updated_at"], "ordering": "updated_at"}
    (row,) = api.get("/api/v1/recordings", since).json()["results"]
    assert row["status"] == "done" and row["diagnosis"]["beat_count"] == 20
    when = {name: datetime.fromisoformat(row[name]) for name in ("updated_at", "finished_at")}
    assert when["updated_at"] > datetime.fromisoformat(uploaded.json()["updated_at"])
    assert when["updated_at"] >= when["finished_at"]
