"""A strip recorded in ventricular fibrillation (a monitor's or defibrillator's export): no heartbeat to find,
VF to report. It is accepted, analysed to done by either model path, and every page and API answer reads it."""

import time

import pytest
from django.urls import reverse

from diagnostics import services
from diagnostics.models import ECGRecording
from diagnostics.signal_uploads import parse_signal_upload

from ..api.test_fhir import fetch_valid_bundle
from ..conftest import client_for, model_version_from
from ..data import cudb_vf_episode

pytestmark = pytest.mark.django_db


def _classified(recording: ECGRecording) -> ECGRecording:
    if services.recording_classify(recording_id=recording.pk, claim_token="t") == "not-claimed":
        deadline = time.monotonic() + 120  # a running Celery worker may take the upload first
        while recording.status not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(0.2)
            recording.refresh_from_db()
    recording.refresh_from_db()
    return recording


@pytest.fixture(
    params=[("cu03", "beat-format"), ("cu03", "record-level"), ("cu16", "beat-format"), ("cu16", "record-level")],
    ids=lambda p: "-".join(p),
)
def vf_recording(request, staff_a, patient_a, active_models, tiny_model_dir):
    """A cudb VF episode as a one-column CSV (cu03's 43 s, no beat to detect; cu16's 95 s, one), through the
    upload's checks and the worker's service, with the beat-format model alone and with a record-level model."""
    return _vf_recording(*request.param, staff_a, patient_a, tiny_model_dir)


def _vf_recording(record, path, staff_a, patient_a, tiny_model_dir) -> ECGRecording:
    if path == "record-level":
        model_version_from(tiny_model_dir / "heartbeat-record.keras", task="heartbeat_record", version="tiny-record")
    values, fs = cudb_vf_episode(record)
    data = "\n".join(f"{v:.3f}" for v in values).encode()
    parsed, stored, filename = parse_signal_upload({"vf.csv": data}, fs=fs, lead=None)
    recording = services.recording_submit(
        user=staff_a, patient=patient_a, parsed=parsed, data=stored, filename=filename
    )
    recording = _classified(recording)
    assert recording.status == "done", recording.error_message
    return recording


def test_a_vf_strip_is_done_with_no_beats_and_vf_throughout(vf_recording):
    diagnosis = vf_recording.diagnosis
    assert vf_recording.beats.count() == diagnosis.beat_count <= 1
    counts = (diagnosis.count_n, diagnosis.count_s, diagnosis.count_v, diagnosis.count_f, diagnosis.count_q)
    assert sum(counts) == diagnosis.beat_count
    assert diagnosis.heart_rate_bpm is None
    assert diagnosis.mi_status == "not_assessable" and "beat" in diagnosis.mi_reason and not diagnosis.mi_flag
    first = vf_recording.events.order_by("start").first()
    assert first is not None and first.type == "vf"
    assert (first.end - first.start) >= 0.8 * vf_recording.sample_count
    assert diagnosis.rhythm["vf"] and diagnosis.rhythm["beats_analysed"] <= diagnosis.beat_count


def test_the_pages_of_a_vf_strip_answer_and_say_there_are_no_beats(client, staff_a, vf_recording):
    staff = client_for(client, staff_a)
    for name in ("recording-detail", "recording-report", "recording-beats", "recording-shapes", "recording-rhythm"):
        response = staff.get(reverse(name, args=[vf_recording.pk]))
        assert response.status_code == 200, (name, response.content.decode()[-800:])
    html = staff.get(reverse("recording-detail", args=[vf_recording.pk])).content.decode()
    assert "Life-threatening rhythm" in html and "ventricular fibrillation throughout" in html
    assert html.count("<svg viewBox") >= 1  # the event's strip
    shapes = staff.get(reverse("recording-shapes", args=[vf_recording.pk])).content.decode()
    if not vf_recording.diagnosis.beat_count:
        assert "no beats to group by shape" in shapes
    report = staff.get(reverse("recording-report", args=[vf_recording.pk])).content.decode()
    assert "ventricular fibrillation throughout" in report
    for url in (reverse("dashboard"), reverse("patient-detail", args=[vf_recording.patient_id])):
        response = staff.get(url)
        assert response.status_code == 200 and "VF/VFL" in response.content.decode()


def test_a_doctor_reviews_a_vf_strip(client, doctor_a, vf_recording):
    doctor = client_for(client, doctor_a)
    response = doctor.get(reverse("recording-review", args=[vf_recording.pk]))
    assert response.status_code == 200 and "too few beats" in response.content.decode().lower()


def test_the_api_answers_for_a_vf_strip(client, staff_a, vf_recording):
    api = client_for(client, staff_a)  # the API takes a signed-in session as it takes a token
    base = f"/api/v1/recordings/{vf_recording.pk}"
    recording = api.get(base)
    assert recording.status_code == 200 and recording.json()["status"] == "done"
    beats = api.get(f"{base}/beats")
    assert beats.status_code == 200 and len(beats.json()["results"]) == vf_recording.diagnosis.beat_count
    events = api.get(f"{base}/events")
    assert events.status_code == 200 and events.json()["results"][0]["type"] == "vf"
    assert api.get(f"{base}/beat-families").status_code == 200
    fetch_valid_bundle(api, vf_recording)
    export = api.get(f"{base}/export.csv")
    assert export.status_code == 200
    csv = b"".join(export.streaming_content) if export.streaming else export.content
    assert b"vf" in csv


def test_a_vf_strips_one_beat_corrected_recomputes_its_rhythm_with_vf_first(
    staff_a, patient_a, active_models, tiny_model_dir, doctor_a
):
    from diagnostics import corrections

    # cu16's strip with the record-level model: the one of the four that has a beat to correct
    vf_recording = _vf_recording("cu16", "record-level", staff_a, patient_a, tiny_model_dir)
    beat = vf_recording.beats.first()
    assert beat is not None
    to = "V" if beat.aami_class != "V" else "N"
    corrections.beat_correction_make(recording=vf_recording, by=doctor_a, to_class=to, beats=[beat.index])
    assert corrections.recording_rhythm_recompute(recording_id=vf_recording.pk) == "done"
    vf_recording.refresh_from_db()
    assert vf_recording.diagnosis.rhythm_recompute_error == "" and vf_recording.diagnosis.rhythm["vf"]
    assert vf_recording.events.order_by("start").first().type == "vf"
    assert vf_recording.diagnosis.mi_status == "not_assessable"


def test_a_strip_with_no_beat_found_has_no_class_shares_of_nothing(
    client, doctor_a, staff_a, patient_a, active_models, tiny_model_dir
):
    """Five rows of "0 · 0.0 %" are no summary of no beats: the recording, report and review pages say there was none
    to class instead."""
    strip = _vf_recording("cu03", "beat-format", staff_a, patient_a, tiny_model_dir)
    assert strip.diagnosis.beat_count == 0
    doctor = client_for(client, doctor_a)
    for name in ("recording-detail", "recording-report", "recording-review"):
        html = doctor.get(reverse(name, args=[strip.pk])).content.decode()
        assert 'class="counts"' not in html and "Share as a bar" not in html, name
        assert "No beat to class: no heartbeat was found in this recording." in html, name
    # the patient's list: its result cell says as much, not blank beside a done recording
    html = doctor.get(reverse("patient-detail", args=[strip.patient_id])).content.decode()
    row = html[html.index(f"Recording {strip.pk}</span>") :]
    assert "No heartbeat found" in row[: row.index("</tr>")]


def test_a_vf_strip_has_no_af_or_ectopic_burden_on_any_surface(
    client, doctor_a, staff_a, patient_a, active_models, tiny_model_dir
):
    """A strip in VF throughout leaves no rhythm to read AF from and no beat to share ectopy among: its burdens are not
    measured, said so on every surface (null in the API, dataAbsentReason in FHIR, words on the pages), not 0.0 % of
    nothing read as "no AF" beside the other recording's figure."""
    from ..api.test_activities import schema
    from ..api.test_fhir import by_code, resources
    from ..helpers import strict_validator

    strip = _vf_recording("cu03", "beat-format", staff_a, patient_a, tiny_model_dir)
    rhythm = strip.diagnosis.rhythm
    assert rhythm["af"]["burden_pct"] is None
    assert rhythm["ventricular"]["burden_pct"] is None and rhythm["supraventricular"]["burden_pct"] is None
    api = client_for(client, doctor_a)
    served = api.get(f"/api/v1/recordings/{strip.pk}").json()["diagnosis"]["rhythm"]
    assert served["af"]["burden_pct"] is None and served["ventricular"]["burden_pct"] is None
    strict_validator(schema(client), "RhythmSummary").validate(served)
    observations = resources(fetch_valid_bundle(api, strip), "Observation")
    burden = by_code(observations, "af-burden")
    assert "valueQuantity" not in burden and burden["dataAbsentReason"]["text"].startswith("Not measured")
    ectopy = by_code(observations, "ventricular-ectopic-beats")
    share = next(c for c in ectopy["component"] if c["code"]["coding"][0]["code"] == "ventricular-ectopic-burden")
    assert "valueQuantity" not in share and "dataAbsentReason" in share
    for name in ("recording-detail", "recording-report"):
        html = api.get(reverse(name, args=[strip.pk])).content.decode()
        assert "burden not measured" in html and "burden 0.0" not in html and "None %" not in html, name
    patient = api.get(reverse("patient-detail", args=[strip.patient_id])).content.decode()
    assert "AF 0" not in patient
