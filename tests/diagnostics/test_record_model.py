"""Continuous signals go to the record-level model when one is active; beat files never do."""

import numpy as np
import pytest
import wfdb
from django.urls import reverse

from diagnostics import ingestion, services
from diagnostics.models import ECGRecording
from ecg.processing.detection import QRS_AFTER_S, QRS_BEFORE_S, detect_r_peaks

from ..conftest import client_for, model_version_from
from ..data import mitdb_dir
from ..helpers import beat_csv, beat_recording, upload, wfdb_files


@pytest.fixture
def record_model(db, tiny_model_dir):
    return model_version_from(tiny_model_dir / "heartbeat-record.keras", task="heartbeat_record", version="tiny-record")


def _upload_record(client, user, patient, record: str) -> ECGRecording:
    client_for(client, user)
    root = mitdb_dir()
    files = [upload(f"{record}.{ext}", (root / f"{record}.{ext}").read_bytes()) for ext in ("hea", "dat")]
    response = client.post(reverse("recording-upload", args=[patient.pk]), {"kind": "signal", "files": files})
    assert response.status_code == 302, response.content.decode()[-800:]
    return ECGRecording.objects.get()


@pytest.mark.django_db
def test_a_signal_is_classified_in_context_with_every_detected_beat(
    client, staff_a, patient_a, active_models, record_model
):
    recording = _upload_record(client, staff_a, patient_a, "119")
    assert services.recording_classify(recording_id=recording.pk, claim_token="t") == "done"
    diagnosis = ECGRecording.objects.get(pk=recording.pk).diagnosis
    assert diagnosis.heartbeat_model == record_model and diagnosis.mi_model == active_models["mi"]
    lead = np.nan_to_num(wfdb.rdrecord(str(mitdb_dir() / "119"), channels=[0]).p_signal[:, 0])
    peaks = detect_r_peaks(lead, 360.0)
    complete = peaks[(peaks >= QRS_BEFORE_S * 360.0) & (peaks + QRS_AFTER_S * 360.0 < len(lead))]
    assert len(complete) == len(peaks) - 1  # 119's last R peak lies 42 ms before the end: its QRS is cut
    positions = list(recording.beats.order_by("index").values_list("position", flat=True))
    assert positions == complete.tolist()  # the last complete beat too: its window closes one median RR later
    beats = list(recording.beats.all())
    for beat in beats[:50]:
        assert sum(beat.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
        assert beat.mi_probability is None  # MLII: the MI model is not run on a lead it is not valid for
    # the class is decided from the probabilities and the beat's context (ecg.models.decision) as
    # classify_record decides it: the worker and the command-line path give every beat the same class
    from ecg.io import readers
    from ecg.models.classify import classify_signal
    from mlmodels.registry import model_for

    signal = readers.read_wfdb(mitdb_dir() / "119")
    expected = classify_signal(
        signal,
        signal.lead_name(None),
        heartbeat_model=model_for(record_model),
        labels=list(record_model.class_labels),
        mi_model=None,
        mi_threshold=0.5,
    )
    assert [b.aami_class for b in beats] == [str(c).upper() for c in expected.predicted]
    differs = sum(b.aami_class != max(b.probabilities, key=b.probabilities.get) for b in beats)
    assert differs < 0.2 * len(beats)  # the rules change some beats, not the classifier's verdict
    assert diagnosis.mi_status == "not_applicable" and not diagnosis.mi_flag and diagnosis.mi_score is None


@pytest.mark.django_db
def test_a_redelivered_signal_task_keeps_one_set_of_beats_and_events(
    client, staff_a, patient_a, active_models, record_model, settings
):
    from datetime import timedelta

    from django.utils import timezone

    recording = _upload_record(client, staff_a, patient_a, "119")
    assert services.recording_classify(recording_id=recording.pk, claim_token="t1") == "done"
    first, first_events = recording.beats.count(), recording.events.count()
    # the message again after its worker died mid-write: its lease has run out (a live one is another copy's)
    stale = timezone.now() - timedelta(seconds=settings.ECG_PROCESSING_LEASE_SECONDS + 1)
    ECGRecording.objects.filter(pk=recording.pk).update(status="processing", claim_token="t2", claimed_at=stale)
    assert services.recording_classify(recording_id=recording.pk, claim_token="t2") == "done"
    assert recording.beats.count() == first
    assert recording.events.count() == first_events


@pytest.mark.django_db
def test_rhythm_comes_from_every_beat_the_record_level_model_classified(
    client, staff_a, patient_a, active_models, record_model
):
    recording = _upload_record(client, staff_a, patient_a, "119")
    assert services.recording_classify(recording_id=recording.pk, claim_token="t") == "done"
    recording.refresh_from_db()
    diagnosis = recording.diagnosis
    rhythm = diagnosis.rhythm
    assert rhythm["vf"] == []  # no flutter in 119, so no beat is set aside
    assert sum(hour["beats"] for hour in rhythm["hourly"]) == recording.beats.count()  # the last beat too
    assert rhythm["ventricular"]["total"] == diagnosis.count_v == recording.beats.filter(aami_class="V").count()
    events = list(recording.events.all())
    assert all(0 <= e.start <= e.end < recording.sample_count for e in events)
    assert sum(rhythm["event_counts"].values()) == len(events)


@pytest.mark.django_db
def test_beat_files_stay_with_the_beat_format_model(patient_a, staff_a, active_models, record_model):
    data = beat_csv(12)
    parsed = ingestion.parse_beats(filename="beats.csv", data=data)
    recording = services.recording_submit(
        user=staff_a, patient=patient_a, parsed=parsed, data=data, filename="beats.csv"
    )
    assert services.recording_classify(recording_id=recording.pk, claim_token="t") == "done"
    assert ECGRecording.objects.get(pk=recording.pk).diagnosis.heartbeat_model == active_models["heartbeat"]


@pytest.mark.django_db
def test_the_page_says_which_model_classified_and_what_a_beat_file_lacks(
    client, staff_a, patient_a, active_models, record_model
):
    signal = _upload_record(client, staff_a, patient_a, "119")
    services.recording_classify(recording_id=signal.pk, claim_token="t")
    beats = beat_recording(staff_a, patient_a, beats=5)
    signal_page = client.get(reverse("recording-detail", args=[signal.pk])).content.decode()
    beats_page = client.get(reverse("recording-detail", args=[beats.pk])).content.decode()
    assert "classified in context by tiny-record" in signal_page and "carries no timing" not in signal_page
    assert "carries no timing" in beats_page and "classified in context" not in beats_page


@pytest.mark.django_db
def test_a_signal_classified_beat_by_beat_is_not_called_a_beat_file(client, staff_a, patient_a, active_models):
    """No record-level model active: the signal's beats are classified one at a time, but the clinician uploaded the
    continuous recording, and the page and the report must not tell them to."""
    signal = _upload_record(client, staff_a, patient_a, "119")
    services.recording_classify(recording_id=signal.pk, claim_token="t")
    for name in ("recording-detail", "recording-report"):
        html = client.get(reverse(name, args=[signal.pk])).content.decode()
        assert "Beats classified one at a time by" in html
        assert "beat file" not in html and "Upload the continuous recording" not in html


@pytest.mark.django_db
def test_a_one_lead_signal_classified_in_context_is_not_said_to_be_read_in_both_leads(
    client, tmp_path, staff_a, patient_a, active_models, record_model
):
    lead = wfdb.rdrecord(str(mitdb_dir() / "119"), channels=[0], sampto=360 * 120).p_signal[:, 0]
    client_for(client, staff_a)
    files = wfdb_files(tmp_path, {"MLII": lead})
    response = client.post(reverse("recording-upload", args=[patient_a.pk]), {"kind": "signal", "files": files})
    assert response.status_code == 302
    signal = ECGRecording.objects.get()
    assert services.recording_classify(recording_id=signal.pk, claim_token="t") == "done"
    for name in ("recording-detail", "recording-report", "recording-shapes"):
        html = client.get(reverse(name, args=[signal.pk])).content.decode()
        assert "both leads" not in html, name
    page = client.get(reverse("recording-detail", args=[signal.pk])).content.decode()
    assert "classified in context by tiny-record: each beat's shape in its one lead beside" in page


@pytest.mark.django_db
def test_the_api_says_whether_a_result_had_rhythm_context(client, staff_a, patient_a, active_models, record_model):
    from rest_framework.test import APIClient

    signal = _upload_record(client, staff_a, patient_a, "119")
    services.recording_classify(recording_id=signal.pk, claim_token="t")
    beats = beat_recording(staff_a, patient_a, beats=5)
    api = APIClient()
    api.force_authenticate(staff_a)
    signal_diagnosis = api.get(f"/api/v1/recordings/{signal.pk}").json()["diagnosis"]
    beats_diagnosis = api.get(f"/api/v1/recordings/{beats.pk}").json()["diagnosis"]
    assert (signal_diagnosis["classification_context"], signal_diagnosis["heartbeat_model"]["task"]) == (
        "record",
        "heartbeat_record",
    )
    assert (beats_diagnosis["classification_context"], beats_diagnosis["heartbeat_model"]["task"]) == (
        "single_beat",
        "heartbeat",
    )
