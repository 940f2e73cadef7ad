"""A 12-lead resting ECG from a cart: every beat counted, and the standard 12-lead page on the
recording page, the review page and the printed report."""

import re

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from diagnostics import ingestion, services
from diagnostics.models import ECGRecording
from diagnostics.twelve_lead import is_twelve_lead, twelve_lead_svg
from ecg.datasets.carts import STANDARD_LEADS, dicom_twelve_lead, synthetic_twelve_lead
from ecg.io.readers import Signal, read_wfdb
from ecg.processing.detection import detect_r_peaks

from ..conftest import client_for, model_version_from
from ..data import DATA_DIR, require

TRACE = re.compile(r'<polyline class="trace"')


def _ptb_ten_seconds() -> tuple[dict[str, np.ndarray], float]:
    record = require(DATA_DIR / "ptbdb" / "patient001" / "s0010_re.hea", "PTB record patient001")
    signal = read_wfdb(record.with_suffix(""))
    names = {"i": "I", "ii": "II", "iii": "III", "avr": "aVR", "avl": "aVL", "avf": "aVF"}
    n = int(10 * signal.fs)
    return {names.get(k, k.upper()): v[:n] for k, v in list(signal.leads.items())[:12]}, signal.fs


@pytest.fixture
def record_model(db, tiny_model_dir):
    return model_version_from(tiny_model_dir / "heartbeat-record.keras", task="heartbeat_record", version="tiny-record")


@pytest.fixture
def ptb_dicom_recording(staff_a, patient_a, active_models, record_model):
    leads, fs = _ptb_ten_seconds()
    data = dicom_twelve_lead(leads, fs)
    parsed, stored, name = ingestion.upload_parse(kind="signal", uploads=[SimpleUploadedFile("patient001.dcm", data)])
    recording = services.recording_submit(user=staff_a, patient=patient_a, parsed=parsed, data=stored, filename=name)
    assert services.recording_classify(recording_id=recording.pk, claim_token="t") == "done"
    recording.refresh_from_db()
    return recording, leads, fs


@pytest.mark.django_db
def test_a_ten_second_ptb_ecg_from_a_dicom_cart_counts_every_complete_beat(ptb_dicom_recording):
    recording, leads, fs = ptb_dicom_recording
    assert recording.leads == list(STANDARD_LEADS) and recording.lead == "II"
    reference = detect_r_peaks(leads["II"], fs)
    complete = reference[(reference >= 0.08 * fs) & (reference < len(leads["II"]) - 0.08 * fs)]
    diagnosis = recording.diagnosis
    assert diagnosis.beat_count == len(complete) == 13
    rr_rate = 60.0 * fs / np.mean(np.diff(complete))
    assert abs(diagnosis.heart_rate_bpm - rr_rate) < 2.0


@pytest.mark.django_db
def test_the_twelve_lead_page_is_on_the_recording_review_and_report_pages(
    client, staff_a, doctor_a, ptb_dicom_recording
):
    recording, _, _ = ptb_dicom_recording
    for user, route in ((staff_a, "recording-detail"), (doctor_a, "recording-review"), (staff_a, "recording-report")):
        client_for(client, user)
        page = client.get(reverse(route, args=[recording.pk])).content.decode()
        assert "12-lead ECG" in page, route
        svg = page[page.index('class="paper twelve-lead"') :]
        svg = svg[: svg.index("</svg>")]
        assert len(TRACE.findall(svg)) == 4 + 13  # four calibration pulses, twelve leads and the rhythm strip
        labels = re.findall(r'class="lead">([^<]+)<', svg)
        assert labels == ["I", "aVR", "V1", "V4", "II", "aVL", "V2", "V5", "III", "aVF", "V3", "V6", "II · rhythm"]


def test_the_layout_puts_each_lead_in_its_column_at_25_mm_per_second_and_10_mm_per_mv():
    fs = 500.0
    leads = synthetic_twelve_lead(seconds=10.0, fs=fs)
    leads["V4"] = np.zeros(int(10 * fs))
    leads["V4"][int(8.0 * fs)] = 1.0  # a 1-mV spike at 8.0 s: V4's column holds 7.5-10 s
    svg = twelve_lead_svg(Signal(fs=fs, leads=leads, units=dict.fromkeys(STANDARD_LEADS, "mV")), title="t")
    traces = re.findall(r'<polyline class="trace" points="([^"]+)"', svg)
    v4 = np.array([[float(v) for v in p.split(",")] for p in traces[1 + 3].split()])  # row 1: pulse, I, aVR, V1, V4
    x_mm, y_mm = v4[:, 0] / 4.0, v4[:, 1] / 4.0
    peak = int(np.argmin(y_mm))
    assert x_mm[peak] == pytest.approx(5.0 + 25.0 * 8.0, abs=0.2)  # after the 5-mm calibration pulse
    assert np.median(y_mm) - y_mm[peak] == pytest.approx(10.0, abs=1.5)  # the high-pass takes a little of it


def test_limb_leads_missing_from_the_file_are_derived_and_marked():
    fs = 500.0
    leads = {k: v for k, v in synthetic_twelve_lead(fs=fs).items() if k not in ("III", "aVR", "aVL", "aVF")}
    svg = twelve_lead_svg(Signal(fs=fs, leads=leads), title="t")
    assert "III (derived)" in svg and "aVF (derived)" in svg and "V1 (derived)" not in svg
    assert is_twelve_lead(list(leads)) and not is_twelve_lead(["MLII", "V5"])
    assert twelve_lead_svg(Signal(fs=fs, leads={"MLII": leads["II"], "V5": leads["V5"]}), title="t") == ""


@pytest.mark.django_db
def test_a_two_lead_recording_has_no_twelve_lead_page(client, staff_a, patient_a, active_models):
    from ..api.conftest import classify_by_hand
    from ..api.test_recordings import ecg_like

    parsed, data, name = ingestion.upload_parse(
        kind="signal",
        uploads=[SimpleUploadedFile("s.json", ('{"fs": 360, "leads": {"MLII": %s}}' % list(ecg_like(10))).encode())],
    )
    recording = services.recording_submit(user=staff_a, patient=patient_a, parsed=parsed, data=data, filename=name)
    classify_by_hand(ECGRecording.objects.get(pk=recording.pk), active_models, beats=np.zeros((4, 187), np.float32))
    client_for(client, staff_a)
    assert "12-lead ECG" not in client.get(reverse("recording-detail", args=[recording.pk])).content.decode()


@pytest.mark.django_db
def test_the_viewer_serves_any_lead_of_the_file_and_names_the_leads_there_are(client, staff_a, ptb_dicom_recording):
    recording, leads, fs = ptb_dicom_recording
    client_for(client, staff_a)
    url = reverse("recording-signal", args=[recording.pk])
    analysed = client.get(url, {"start": 0, "end": 2000, "px": 4000}).json()
    v5 = client.get(url, {"start": 0, "end": 2000, "px": 4000, "lead": "V5"}).json()
    assert (analysed["lead"], v5["lead"]) == ("II", "V5")
    assert np.allclose(v5["min"], leads["V5"][:2000], atol=0.003)
    assert v5["beats"] == analysed["beats"]  # the beats found on the record, drawn on whichever lead
    unknown = client.get(url, {"lead": "V7"})
    assert unknown.status_code == 400 and "available leads: I, II, III, aVR" in unknown.json()["error"]
    page = client.get(reverse("recording-detail", args=[recording.pk])).content.decode()
    assert page.count('<option value="V') == 6 and '<option value="II" selected>' in page


def test_leads_of_unknown_units_are_scaled_to_fit_and_say_so():
    fs = 500.0
    microvolts = {name: 1000.0 * values for name, values in synthetic_twelve_lead(fs=fs).items()}
    svg = twelve_lead_svg(Signal(fs=fs, leads=microvolts), title="t")
    assert "units unknown" in svg and "10 mm/mV" not in svg
    traces = re.findall(r'<polyline class="trace" points="([^"]+)"', svg)
    assert len(traces) == 13 and 'data-in-mv="false"' in svg  # no 1-mV pulse beside traces scaled to fit
    ys = np.array([float(p.split(",")[1]) for p in traces[1].split()])
    assert 0 < np.ptp(ys) < 25 * 4  # lead II stays inside its 25-mm row
    assert "10 mm/mV" in twelve_lead_svg(
        Signal(fs=fs, leads=synthetic_twelve_lead(fs=fs), units=dict.fromkeys(STANDARD_LEADS, "mV")), title="t"
    )
