"""GET /recordings/{id}/fhir: a FHIR R4 Bundle that validates with fhir.resources (its R4B models, R4's technical correction)."""

import numpy as np
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.diagnosticreport import DiagnosticReport
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.practitioner import Practitioner

from diagnostics.models import ECGRecording

from .conftest import classify_by_hand
from .test_recordings import ecg_like

pytestmark = pytest.mark.django_db
MDC = "urn:oid:2.16.840.1.113883.6.24"
MODELS = {
    "Bundle": Bundle,
    "DiagnosticReport": DiagnosticReport,
    "Observation": Observation,
    "Patient": FhirPatient,
    "Practitioner": Practitioner,
}


def fetch_valid_bundle(api, recording) -> dict:
    response = api.get(f"/api/v1/recordings/{recording.pk}/fhir")
    assert response.status_code == 200, response.content[:500]
    data = response.json()
    Bundle.model_validate(data)
    full_urls = [entry["fullUrl"] for entry in data["entry"]]
    assert len(set(full_urls)) == len(full_urls), "two entries of one fullUrl"
    for entry in data["entry"]:
        MODELS[entry["resource"]["resourceType"]].model_validate(entry["resource"])
    return data


def resources(data, kind):
    return [e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == kind]


def by_code(observations, code):
    return next(o for o in observations if any(c["code"] == code for c in o["code"]["coding"]))


def test_a_beat_recording_exports_report_counts_mi_and_the_beat_windows(api_as, staff_a, done_recording):
    data = fetch_valid_bundle(api_as(staff_a), done_recording)
    assert data["type"] == "collection"
    (report,) = resources(data, "DiagnosticReport")
    observations = resources(data, "Observation")
    assert report["status"] == "final" and report["code"]["coding"][0]["code"] == "11524-6"
    full_urls = {e["fullUrl"] for e in data["entry"]}
    assert all(r["reference"] in full_urls for r in report["result"]) and len(report["result"]) == len(observations)
    assert by_code(observations, "beat-count-N")["valueQuantity"]["value"] == 2
    assert by_code(observations, "beat-count-V")["valueQuantity"]["value"] == 1
    assert by_code(observations, "mi-score")["valueQuantity"]["value"] == pytest.approx(0.9)
    assert by_code(observations, "mi-flag")["valueBoolean"] is True
    waveform = by_code(observations, "131328")
    sampled = waveform["component"][0]["valueSampledData"]
    assert sampled["dimensions"] == 1 and len(sampled["data"].split()) == 6 * 187
    (patient,) = resources(data, "Patient")
    assert patient["identifier"][0]["value"] == "A-0001"


def test_a_signal_recording_exports_each_lead_as_sampled_data(api_as, staff_a, patient_a, active_models):
    api = api_as(staff_a)
    leads = {"MLII": ecg_like(10), "V5": ecg_like(10)}
    created = api.post(
        "/api/v1/recordings", {"patient": patient_a.pk, "kind": "signal", "fs": 360, "leads": leads}, format="json"
    )
    recording = ECGRecording.objects.get(pk=created.json()["id"])
    classify_by_hand(
        recording, active_models, beats=np.zeros((4, 187), dtype=np.float32), mi_score=0.2, heart_rate=75.0
    )
    data = fetch_valid_bundle(api, recording)
    observations = resources(data, "Observation")
    waveform = by_code(observations, "131328")
    assert [c["code"]["coding"][0]["code"] for c in waveform["component"]] == ["131330", "131335"]
    sampled = waveform["component"][0]["valueSampledData"]
    assert sampled["period"] == pytest.approx(1000 / 360) and sampled["origin"]["unit"] == "mV"
    values = np.array(sampled["data"].split(), dtype=float) * sampled["factor"]
    assert np.allclose(values, leads["MLII"], atol=1e-3)
    assert by_code(observations, "8867-4")["valueQuantity"]["value"] == 75.0
    assert by_code(observations, "mi-flag")["valueBoolean"] is False


def test_the_export_bound_holds_over_every_lead_together(api_as, staff_a, patient_a, active_models, settings):
    # per lead, a small upload of many long leads was exported whole on each (122 MiB from a 114 KiB file)
    api = api_as(staff_a)
    leads = {name: ecg_like(10) for name in ("I", "II", "V1", "V2", "V5")}
    created = api.post(
        "/api/v1/recordings", {"patient": patient_a.pk, "kind": "signal", "fs": 360, "leads": leads}, format="json"
    )
    recording = ECGRecording.objects.get(pk=created.json()["id"])
    classify_by_hand(recording, active_models, beats=np.zeros((4, 187), dtype=np.float32), mi_score=0.2)
    settings.API_FHIR_MAX_SAMPLES = 5000
    waveform = by_code(resources(fetch_valid_bundle(api, recording), "Observation"), "131328")
    counts = [len(c["valueSampledData"]["data"].split()) for c in waveform["component"]]
    assert counts == [1000] * 5, counts
    assert "1000 of 3600 samples (5000 samples over its 5 leads)" in waveform["note"][0]["text"]


def test_a_file_without_units_is_exported_uncalibrated_and_no_value_wraps(api_as, staff_a, patient_a, active_models):
    # a JSON file stating no units, its second lead in a converter's counts: FHIR said mV with factor 0.001,
    # and values past 9.2e15 wrapped to -9223372036854775808
    import json

    from django.core.files.uploadedfile import SimpleUploadedFile

    api = api_as(staff_a)
    mlii = np.asarray(ecg_like(10), dtype=float)
    counts = np.round(mlii * 4e6)  # up to about 5e6: thousandths would not fit in 32 bits
    body = json.dumps({"fs": 360, "leads": {"MLII": mlii.tolist(), "raw": counts.tolist()}}).encode()
    upload = SimpleUploadedFile("ecg.json", body, content_type="application/json")
    created = api.post("/api/v1/recordings", {"patient": patient_a.pk, "kind": "signal", "file": upload})
    assert created.status_code == 201, created.content[:300]
    recording = ECGRecording.objects.get(pk=created.json()["id"])
    classify_by_hand(recording, active_models, beats=np.zeros((4, 187), dtype=np.float32), mi_score=0.2)
    waveform = by_code(resources(fetch_valid_bundle(api, recording), "Observation"), "131328")
    assert "not millivolts" in waveform["code"]["text"]
    for component, lead in zip(waveform["component"], (mlii, counts)):
        sampled = component["valueSampledData"]
        assert sampled["origin"]["code"] == "1" and "not stated" in sampled["origin"]["unit"]
        data = np.array(sampled["data"].split(), dtype=np.int64)
        assert np.abs(data).max() <= 2**31 - 1
        assert np.allclose(data * sampled["factor"], lead, atol=sampled["factor"])


def test_the_bundle_is_the_same_on_every_request_so_its_etag_holds(api_as, staff_a, done_recording):
    api = api_as(staff_a)
    first = api.get(f"/api/v1/recordings/{done_recording.pk}/fhir")
    assert api.get(f"/api/v1/recordings/{done_recording.pk}/fhir", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304


def test_it_answers_as_fhir_json_when_asked(api_as, staff_a, done_recording):
    response = api_as(staff_a).get(f"/api/v1/recordings/{done_recording.pk}/fhir", HTTP_ACCEPT="application/fhir+json")
    assert response.status_code == 200 and response["Content-Type"] == "application/fhir+json"


def test_a_recording_the_mi_screen_did_not_speak_on_has_its_status_and_no_mi_score(api_as, staff_a, done_recording):
    from diagnostics.models import Diagnosis

    reason = "the MI model is validated on lead II only; this recording has no lead II or I and III (leads: ECG1, ECG2)"
    Diagnosis.objects.filter(recording=done_recording).update(
        mi_status="not_applicable", mi_reason=reason, mi_score=None, mi_threshold=None, mi_flag=False, mi_beats_used=0
    )
    api = api_as(staff_a)
    data = fetch_valid_bundle(api, done_recording)
    observations = resources(data, "Observation")
    screen = by_code(observations, "mi-screen")
    assert screen["valueCodeableConcept"]["coding"][0]["code"] == "not_applicable"
    assert screen["note"][0]["text"] == reason
    codes = {c["code"] for o in observations for c in o["code"]["coding"]}
    assert "mi-score" not in codes and "mi-flag" not in codes
    assert "not applicable" in resources(data, "DiagnosticReport")[0]["conclusion"]
    diagnosis = api.get(f"/api/v1/diagnoses/{done_recording.diagnosis.pk}").json()
    assert diagnosis["mi_screen"] == {
        "status": "not_applicable",
        "reason": reason,
        "lead": None,
        "beats_used": 0,
        "score": None,
        "threshold": None,
        "flag": False,
    }
    assert diagnosis["mi_score"] is None and not diagnosis["mi_flag"]


def test_a_screened_recording_exports_its_screen_score_and_flag(api_as, staff_a, done_recording):
    data = fetch_valid_bundle(api_as(staff_a), done_recording)
    observations = resources(data, "Observation")
    assert by_code(observations, "mi-screen")["valueCodeableConcept"]["coding"][0]["code"] == "screened"
    assert by_code(observations, "mi-flag")["valueBoolean"] is True
    assert by_code(observations, "mi-score")["valueQuantity"]["value"] == pytest.approx(
        done_recording.diagnosis.mi_score
    )


@pytest.mark.parametrize(("score", "code"), [(0.9, "H"), (0.5, "H"), (0.49, "N")])
def test_the_mi_score_is_interpreted_against_its_threshold(api_as, staff_a, done_recording, score, code):
    """As the flag's Observation is: a receiver reading interpretations sees a score at or above its threshold."""
    from diagnostics.models import Diagnosis

    Diagnosis.objects.filter(pk=done_recording.diagnosis.pk).update(mi_score=score, mi_threshold=0.5)
    observations = resources(fetch_valid_bundle(api_as(staff_a), done_recording), "Observation")
    interpretation = by_code(observations, "mi-score")["interpretation"]
    assert [c["code"] for i in interpretation for c in i["coding"]] == [code]


@pytest.mark.parametrize("fmt", ["dicom", "aecg"])
def test_a_twelve_lead_cart_file_keeps_and_exports_every_lead(api_as, staff_a, patient_a, active_models, fmt):
    from ecg.datasets.carts import STANDARD_LEADS, aecg_twelve_lead, dicom_twelve_lead, synthetic_twelve_lead
    from tests.helpers import upload

    api = api_as(staff_a)
    leads = synthetic_twelve_lead(seconds=10.0, fs=500.0)
    data, name = (
        (dicom_twelve_lead(leads, 500.0), "ecg.dcm") if fmt == "dicom" else (aecg_twelve_lead(leads, 500.0), "ecg.xml")
    )
    created = api.post("/api/v1/recordings", {"patient": patient_a.pk, "kind": "signal", "file": upload(name, data)})
    assert created.status_code == 201, created.content[:500]
    body = created.json()
    assert (body["input_format"], body["lead"], body["leads"]) == (fmt, "II", list(STANDARD_LEADS))
    recording = ECGRecording.objects.get(pk=body["id"])
    classify_by_hand(recording, active_models, beats=np.zeros((4, 187), dtype=np.float32), mi_score=0.2)
    waveform = by_code(resources(fetch_valid_bundle(api, recording), "Observation"), "131328")
    codes = [c["code"]["coding"][0]["code"] for c in waveform["component"]]
    assert codes == ["131329", "131330", "131389", "131390", "131391", "131392", *map(str, range(131331, 131337))]
    v4 = np.array(waveform["component"][9]["valueSampledData"]["data"].split(), dtype=float) * 0.001
    assert np.allclose(v4, leads["V4"], atol=0.003)


def test_lost_samples_are_exported_as_sampled_datas_no_value(api_as, staff_a, patient_a, active_models):
    from tests.helpers import upload

    api = api_as(staff_a)
    values = np.array(ecg_like(10), dtype=float)
    values[1000:1100] = np.nan  # a CSV's "nan": samples the recorder lost
    csv = "\n".join("nan" if np.isnan(v) else f"{v:.4f}" for v in values).encode()
    created = api.post(
        "/api/v1/recordings",
        {"patient": patient_a.pk, "kind": "signal", "fs": "360", "file": upload("s.csv", csv)},
        format="multipart",
    )
    assert created.status_code == 201, created.content[:300]
    recording = ECGRecording.objects.get(pk=created.json()["id"])
    classify_by_hand(
        recording, active_models, beats=np.zeros((4, 187), dtype=np.float32), mi_score=0.2, heart_rate=75.0
    )
    data = fetch_valid_bundle(api, recording)  # "E" is SampledData's own token: the bundle still validates
    tokens = by_code(resources(data, "Observation"), "131328")["component"][0]["valueSampledData"]["data"].split()
    assert len(tokens) == len(values)
    assert tokens[1000:1100] == ["E"] * 100 and "E" not in tokens[:1000] + tokens[1100:]
    kept = ~np.isnan(values)
    assert np.allclose(np.array([t for t in tokens if t != "E"], float) * 0.001, values[kept], atol=1e-3)


def test_the_results_are_effective_when_the_recording_started_as_its_file_states(
    api_as, staff_a, patient_a, active_models, tmp_path, settings
):
    from .test_recordings import wfdb_stating

    settings.TIME_ZONE = "Europe/Berlin"
    api = api_as(staff_a)
    files = wfdb_stating(tmp_path, "23:59:55 04/12/2026")  # ten seconds, over midnight
    created = api.post("/api/v1/recordings", {"patient": patient_a.pk, "kind": "signal", "file": files})
    assert created.status_code == 201, created.content
    recording = ECGRecording.objects.get(pk=created.json()["id"])
    classify_by_hand(recording, active_models, beats=np.zeros((4, 187), dtype=np.float32), heart_rate=75.0)
    data = fetch_valid_bundle(api, recording)
    (report,) = resources(data, "DiagnosticReport")
    assert "effectiveDateTime" not in report
    assert report["effectivePeriod"] == {"start": "2026-12-04T23:59:55+01:00", "end": "2026-12-05T00:00:05+01:00"}
    observations = resources(data, "Observation")
    assert len(observations) > 5
    # the figures summarise the recording: over its period; the waveform's samples start at its start
    waveform = [o for o in observations if "valueSampledData" in str(o)]
    summaries = [o for o in observations if o not in waveform]
    assert len(waveform) == 1 and waveform[0]["effectiveDateTime"] == "2026-12-04T23:59:55+01:00"
    assert all(o["effectivePeriod"] == report["effectivePeriod"] and "effectiveDateTime" not in o for o in summaries)
    assert report["issued"] == recording.diagnosis.created_at.isoformat()  # when the result was made, as before


@pytest.mark.parametrize(
    ("fmt", "stated", "start", "end"),
    [  # the site is in Berlin: +01:00 in December, +02:00 in July
        (
            "dicom",
            {"AcquisitionDateTime": "20261204225955.5+0000"},
            "2026-12-04T23:59:55.500000+01:00",
            "2026-12-05T00:00:05.500000+01:00",
        ),
        (
            "dicom",
            {"AcquisitionDate": "20261204", "AcquisitionTime": "235955"},
            "2026-12-04T23:59:55+01:00",
            "2026-12-05T00:00:05+01:00",
        ),
        (
            "aecg",
            {"series": "20260704101500-0400", "document": "20260703090000"},
            "2026-07-04T16:15:00+02:00",
            "2026-07-04T16:15:10+02:00",
        ),
    ],
)
def test_a_cart_file_is_effective_when_it_states_it_was_acquired_at_its_utc_offset_or_the_sites(
    api_as, staff_a, patient_a, active_models, settings, fmt, stated, start, end
):
    from ecg.datasets.carts import synthetic_twelve_lead
    from tests.helpers import aecg_stating, dicom_stating, upload

    settings.TIME_ZONE = "Europe/Berlin"
    api = api_as(staff_a)
    leads = synthetic_twelve_lead(seconds=10.0, fs=500.0)
    data, name = (
        (dicom_stating(leads, 500.0, **stated), "ecg.dcm")
        if fmt == "dicom"
        else (aecg_stating(leads, 500.0, **stated), "ecg.xml")
    )
    created = api.post("/api/v1/recordings", {"patient": patient_a.pk, "kind": "signal", "file": upload(name, data)})
    assert created.status_code == 201, created.content[:500]
    assert created.json()["input_format"] == fmt and created.json()["recorded_at"] == start
    recording = ECGRecording.objects.get(pk=created.json()["id"])
    assert api.get(f"/api/v1/recordings/{recording.pk}").json()["recorded_at"] == start
    classify_by_hand(recording, active_models, beats=np.zeros((4, 187), dtype=np.float32), heart_rate=75.0)
    data = fetch_valid_bundle(api, recording)
    (report,) = resources(data, "DiagnosticReport")
    assert report["effectivePeriod"] == {"start": start, "end": end} and "effectiveDateTime" not in report
    observations = resources(data, "Observation")
    waveform = [o for o in observations if "valueSampledData" in str(o)]
    assert len(waveform) == 1 and waveform[0]["effectiveDateTime"] == start  # its first sample's time
    summaries = [o for o in observations if o not in waveform]
    assert summaries and all(o.get("effectivePeriod") == {"start": start, "end": end} for o in summaries)


@pytest.mark.parametrize(
    "stated",
    [
        {"AcquisitionDateTime": "00010101000000+0100"},  # year 1 at an offset: overflows the site's zone
        {"AcquisitionDateTime": "99991231235959-0100"},
        {"AcquisitionDate": "99991231", "AcquisitionTime": "235959"},  # naive, far in the future
        {"AcquisitionDate": "19000101", "AcquisitionTime": "000000"},  # a clock never set
    ],
)
def test_a_start_no_recorder_could_have_made_is_unknown_not_a_server_error(
    api_as, staff_a, patient_a, active_models, settings, stated
):
    from diagnostics import services
    from ecg.datasets.carts import synthetic_twelve_lead
    from tests.helpers import dicom_stating, upload

    settings.TIME_ZONE = "Europe/Berlin"
    api = api_as(staff_a)
    data = dicom_stating(synthetic_twelve_lead(seconds=10.0, fs=500.0), 500.0, **stated)
    created = api.post("/api/v1/recordings", {"patient": patient_a.pk, "kind": "signal", "file": upload("e.dcm", data)})
    assert created.status_code == 201, created.content[:500]
    assert created.json()["recorded_at"] is None
    recording = ECGRecording.objects.get(pk=created.json()["id"])
    classify_by_hand(recording, active_models, beats=np.zeros((4, 187), dtype=np.float32), heart_rate=75.0)
    services.diary_entry_add(recording=recording, by=staff_a, sample=100, symptom="fatigue")
    data = fetch_valid_bundle(api, recording)
    # unknown, as without a stated start: no time made up for it, the waveform's and the diary's either
    for resource in resources(data, "DiagnosticReport") + resources(data, "Observation"):
        assert not {"effectiveDateTime", "effectivePeriod"} & set(resource), resource["code"]
        assert resource["_effectiveDateTime"] == UNKNOWN_TIME, resource["code"]
    assert {"75325-1", "131328"} <= {o["code"]["coding"][0]["code"] for o in resources(data, "Observation")}


UNKNOWN_TIME = {
    "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]
}


def test_without_a_stated_start_the_results_say_their_time_is_unknown(api_as, staff_a, done_recording):
    # the upload's time was given as the time the results are about: a receiver charted the ECG on the day it was
    # uploaded, which may be months after it was recorded
    data = fetch_valid_bundle(api_as(staff_a), done_recording)
    (report,) = resources(data, "DiagnosticReport")
    assert done_recording.recorded_at is None
    assert report["issued"] == data["timestamp"]  # when the result was made (here: amended by the diary)
    observations = resources(data, "Observation")
    for resource in [report, *observations]:
        assert not {"effectiveDateTime", "effectivePeriod", "effectiveInstant"} & set(resource), resource["code"]
        assert resource["_effectiveDateTime"] == UNKNOWN_TIME, resource["code"]
    assert "131328" in {o["code"]["coding"][0]["code"] for o in observations}  # the beat windows' too


def test_bundle_ids_are_this_installations_own_and_survive_a_new_secret_key(api_as, staff_a, done_recording, settings):
    """Two installations' recording 7 are two resources to a hospital receiving from both; a rotated key
    changes nothing a receiver matches on."""
    import uuid

    from accounts.models import Installation

    def full_urls():
        path = f"/api/v1/recordings/{done_recording.pk}/fhir"
        return [entry["fullUrl"] for entry in api_as(staff_a).get(path).json()["entry"]]

    here = full_urls()
    assert all(url.startswith("urn:uuid:") for url in here) and len(set(here)) == len(here)
    settings.SECRET_KEY = "another secret key after a rotation, fifty characters or more long"
    assert full_urls() == here
    Installation.objects.filter(pk=1).update(uuid=uuid.uuid4())  # another installation
    assert not set(here) & set(full_urls())


def test_the_patient_carries_the_clinics_mrn_system_so_the_hospital_can_match_it(api_as, staff_a, done_recording):
    from api.fhir import installation

    def identifiers():
        entries = api_as(staff_a).get(f"/api/v1/recordings/{done_recording.pk}/fhir").json()["entry"]
        kinds = {e["resource"]["resourceType"]: e["resource"]["identifier"][0] for e in entries[:2]}
        return kinds["Patient"], kinds["DiagnosticReport"]

    patient, report = identifiers()
    clinic = done_recording.clinic
    mrn = done_recording.patient.mrn
    mr = {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                "code": "MR",
                "display": "Medical record number",
            }
        ],
        "text": "Medical record number",
    }
    assert patient == {
        "use": "usual",
        "type": mr,
        "system": f"urn:ecg-analyzer:{installation()}:clinic:{clinic.pk}:mrn",
        "value": mrn,
    }
    assert report["system"] == f"urn:ecg-analyzer:{installation()}:recording"
    clinic.mrn_system = "urn:oid:1.2.36.146.595.217.0.1"
    clinic.save()
    patient, _ = identifiers()
    assert patient == {"use": "usual", "type": mr, "system": "urn:oid:1.2.36.146.595.217.0.1", "value": mrn}


@pytest.mark.parametrize("value", ["urn:oid:1.2.3", "https://hospital.example/mrn", ""])
def test_a_clinics_mrn_system_is_a_uri_or_blank(value):
    from accounts.models import Clinic

    Clinic(name="X", mrn_system=value).full_clean()


@pytest.mark.parametrize("value", ["1.2.3", "MRN", "urn:", "ftp://x", "https://with space"])
def test_a_clinics_mrn_system_that_is_no_uri_is_refused(value):
    from django.core.exceptions import ValidationError

    from accounts.models import Clinic

    with pytest.raises(ValidationError, match="Enter a URI"):
        Clinic(name="X", mrn_system=value).full_clean()


def test_a_unit_ucum_does_not_have_is_not_sent_as_a_ucum_code(api_as, staff_a, patient_a, active_models):
    # a JSON file's "units": "adu" (a converter's counts) went out as UCUM code "adu", which UCUM has not: a
    # receiver converting the SampledData by its UCUM code failed or, worse, guessed
    import json

    from django.core.files.uploadedfile import SimpleUploadedFile

    api = api_as(staff_a)
    counts = np.round(np.asarray(ecg_like(10), dtype=float) * 200)
    body = json.dumps({"fs": 360, "units": "adu", "leads": {"MLII": counts.tolist()}}).encode()
    upload = SimpleUploadedFile("ecg.json", body, content_type="application/json")
    created = api.post("/api/v1/recordings", {"patient": patient_a.pk, "kind": "signal", "file": upload})
    assert created.status_code == 201, created.content[:300]
    recording = ECGRecording.objects.get(pk=created.json()["id"])
    classify_by_hand(recording, active_models, beats=np.zeros((4, 187), dtype=np.float32), mi_score=0.2)
    waveform = by_code(resources(fetch_valid_bundle(api, recording), "Observation"), "131328")
    origin = waveform["component"][0]["valueSampledData"]["origin"]
    assert origin["system"] == "http://unitsofmeasure.org" and origin["code"] == "1", origin
    assert "adu" in origin["unit"]
    assert "not millivolts" in waveform["code"]["text"]


def test_an_observation_keeps_its_id_when_another_leaves_the_report(api_as, staff_a, done_recording):
    # the ids went by place in the list: a beat correction that leaves the MI screen not assessable takes the MI
    # score and flag out, and the waveform took the MI score's id, so a receiver updating by id overwrote its MI
    # score with the ECG
    from diagnostics.models import Diagnosis

    def ids(bundle: dict) -> dict[str, str]:
        return {
            o["code"]["coding"][0]["code"]: e["fullUrl"]
            for e in bundle["entry"]
            if (o := e["resource"])["resourceType"] == "Observation"
        }

    api = api_as(staff_a)
    before = ids(fetch_valid_bundle(api, done_recording))
    assert {"mi-score", "mi-flag", "131328"} <= set(before)
    Diagnosis.objects.filter(recording=done_recording).update(
        mi_status="not_assessable", mi_reason="Too few clean beats.", mi_flag=False, mi_score=None
    )
    after = ids(fetch_valid_bundle(api, done_recording))
    assert set(after) == set(before) - {"mi-score", "mi-flag"}
    assert after == {code: url for code, url in before.items() if code in after}
    assert not set(after.values()) & {before["mi-score"], before["mi-flag"]}


def test_a_stored_signal_the_server_cannot_read_is_exported_without_its_waveform_saying_why(
    api_as, client, staff_a, patient_a, active_models, tmp_path, settings
):
    # a WFDB record stored when the limit was higher: the viewer's signal answered 422 and FHIR 500
    from ..helpers import wfdb_files

    api = api_as(staff_a)
    files = wfdb_files(tmp_path, np.asarray(ecg_like(10)))
    created = api.post("/api/v1/recordings", {"patient": patient_a.pk, "kind": "signal", "file": files})
    assert created.status_code == 201, created.content[:300]
    recording = ECGRecording.objects.get(pk=created.json()["id"])
    classify_by_hand(recording, active_models, beats=np.zeros((4, 187), dtype=np.float32), mi_score=0.2)
    settings.ECG_MAX_UPLOAD_BYTES = 256
    data = fetch_valid_bundle(api, recording)
    observations = resources(data, "Observation")
    waveform = by_code(observations, "131328")
    assert "component" not in waveform and "valueSampledData" not in str(waveform)
    assert waveform["dataAbsentReason"]["coding"][0]["code"] == "error"
    assert waveform["note"][0]["text"].startswith("The stored signal could not be read: ")
    assert by_code(observations, "mi-flag")["valueBoolean"] is False  # the results are all there
    (report,) = resources(data, "DiagnosticReport")
    assert "waveform" in report["conclusion"] and "could not be read" in report["conclusion"]
    from ..conftest import client_for

    viewer = client_for(client, staff_a).get(f"/recordings/{recording.pk}/signal/")
    assert viewer.status_code == 422 and "could not be read" in viewer.json()["error"]
