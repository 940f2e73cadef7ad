import io
import json
from datetime import datetime
from datetime import timezone as dt_timezone

import numpy as np
import pytest
from django.urls import reverse

from diagnostics.models import ECGRecording, IdempotencyRecord

from ..conftest import client_for
from ..helpers import beat_csv, beat_rows, edf_bytes, upload, wfdb_files
from .conftest import classify_by_hand, submit_beats

pytestmark = pytest.mark.django_db
URL = "/api/v1/recordings"


@pytest.fixture
def api(api_as, staff_a):
    return api_as(staff_a)


def assert_refused(response, status: int, code: str, *fragments: str, field: str | None = None):
    assert response.status_code == status, response.content[:500]
    error = response.json()["error"]
    assert error["code"] == code
    for fragment in fragments:
        assert fragment in error["message"]
    if field:
        assert error["field"] == field
    assert ECGRecording.objects.count() == 0


def ecg_like(seconds: float = 20, fs: float = 360) -> list[float]:
    """A crude ECG: a sharp R wave every 0.8 s on a flat baseline (mV)."""
    t = np.arange(int(seconds * fs)) / fs
    phase = (t % 0.8) / 0.8
    return (1.2 * np.exp(-((phase - 0.3) ** 2) / 0.0004) - 0.1).round(4).tolist()


def test_it_accepts_json_beats_and_queues_them(api, patient_a):
    response = api.post(URL, {"patient": patient_a.pk, "kind": "beats", "beats": beat_rows(7).tolist()}, format="json")
    assert response.status_code == 201, response.content
    recording = ECGRecording.objects.get()
    assert response["Location"] == f"http://testserver/api/v1/recordings/{recording.pk}"
    assert (recording.status, recording.kind, recording.input_beat_count, recording.input_format) == (
        "queued",
        "beats",
        7,
        "json",
    )
    assert response.json()["status"] == "queued" and response.json()["diagnosis"] is None


def test_it_names_row_and_column_of_a_bad_json_beat(api, patient_a):
    rows = beat_rows(5).tolist()
    rows[3] = rows[3][:186]
    response = api.post(URL, {"patient": patient_a.pk, "kind": "beats", "beats": rows}, format="json")
    assert_refused(response, 400, "invalid_upload", "row 4 has 186 values", field="beats")


def test_it_refuses_a_json_beat_value_that_is_not_a_number(api, patient_a):
    rows = beat_rows(3).tolist()
    rows[1][9] = "0.5"
    response = api.post(URL, {"patient": patient_a.pk, "kind": "beats", "beats": rows}, format="json")
    assert_refused(response, 400, "invalid_upload", "row 2, column 10")


def test_it_refuses_beats_outside_0_1(api, patient_a):
    rows = beat_rows(3).tolist()
    rows[2][0] = 7.5
    response = api.post(URL, {"patient": patient_a.pk, "kind": "beats", "beats": rows}, format="json")
    assert_refused(response, 400, "invalid_upload", "row 3, column 1", "outside 0–1")


def test_it_refuses_too_many_beats_with_413(api, patient_a, settings):
    settings.ECG_MAX_BEAT_ROWS = 5
    response = api.post(URL, {"patient": patient_a.pk, "kind": "beats", "beats": beat_rows(6).tolist()}, format="json")
    assert_refused(response, 413, "payload_too_large", "at most 5")


def test_a_json_body_of_an_unclosed_string_of_escaped_quotes_is_refused_at_once(api, patient_a):
    # the nesting check blanked strings with a pattern that began again at every escaped quote of an unclosed one:
    # 80 KB held a web process 46 s, the 1 MiB a small route takes some two hours
    import time

    body = b'{"patient": ' + str(patient_a.pk).encode() + b', "kind": "beats", "beats": "' + b'\\"' * 40_000
    started = time.monotonic()
    response = api.generic("POST", URL, body, content_type="application/json")
    assert time.monotonic() - started < 5
    assert response.status_code == 400, response.content[:300]
    assert ECGRecording.objects.count() == 0


def test_it_refuses_a_body_over_the_upload_limit_with_413(api, patient_a, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = api.post(URL, {"patient": patient_a.pk, "kind": "beats", "beats": beat_rows(20).tolist()}, format="json")
    assert_refused(response, 413, "payload_too_large")


def test_it_accepts_a_json_signal(api, patient_a):
    response = api.post(
        URL, {"patient": patient_a.pk, "kind": "signal", "fs": 360, "signal": ecg_like()}, format="json"
    )
    assert response.status_code == 201, response.content
    recording = ECGRecording.objects.get()
    assert (recording.kind, recording.sampling_rate, recording.sample_count, recording.input_format) == (
        "signal",
        360.0,
        7200,
        "json",
    )


def test_it_accepts_several_named_leads_and_analyses_the_one_named(api, patient_a):
    leads = {"V5": ecg_like(), "MLII": ecg_like(), "V1": ecg_like()}
    response = api.post(
        URL, {"patient": patient_a.pk, "kind": "signal", "fs": 360, "leads": leads, "lead": "v1"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert ECGRecording.objects.get().lead == "V1"


def test_a_json_signal_needs_its_sampling_rate(api, patient_a):
    response = api.post(URL, {"patient": patient_a.pk, "kind": "signal", "signal": ecg_like()}, format="json")
    assert_refused(response, 400, "validation_error", "sampling rate", field="fs")


@pytest.mark.parametrize(
    "fs, message",
    [
        (0, "sampling rate 0 Hz is below the minimum of 100 Hz"),
        (50, "sampling rate 50 Hz is below the minimum of 100 Hz"),
        (300000, "sampling rate 300000 Hz is above the maximum of 10000 Hz"),
    ],
)
def test_a_sampling_rate_out_of_range_gets_the_readers_limits_and_message(api, patient_a, fs, message):
    from ecg.io.readers import MAX_FS, MIN_FS

    assert (MIN_FS, MAX_FS) == (100, 10_000)  # the limits the messages below name
    response = api.post(URL, {"patient": patient_a.pk, "kind": "signal", "fs": fs, "signal": ecg_like()}, format="json")
    assert_refused(response, 400, "validation_error", message, field="fs")
    csv = ("MLII\n" + "\n".join(str(v) for v in ecg_like())).encode()
    response = api.post(
        URL,
        {"patient": patient_a.pk, "kind": "signal", "fs": str(fs), "file": upload("s.csv", csv)},
        format="multipart",
    )
    assert_refused(response, 400, "validation_error", message, field="fs")


def test_it_refuses_leads_of_different_lengths(api, patient_a):
    leads = {"I": ecg_like(), "II": ecg_like()[:-10]}
    response = api.post(URL, {"patient": patient_a.pk, "kind": "signal", "fs": 360, "leads": leads}, format="json")
    assert_refused(response, 400, "invalid_upload", "different lengths")


def test_a_signal_sent_as_beats_or_a_bad_sample_is_refused_in_the_clients_own_terms(api, patient_a):
    # a long two-column signal sent as beats was "more than 20000 rows" (413); its rows are what is wrong
    csv = "\n".join(f"{v:.3f},{v:.3f}" for v in np.tile(np.asarray(ecg_like(), dtype=float), 10)[:25000]).encode()
    response = api.post(
        URL, {"patient": patient_a.pk, "kind": "beats", "file": upload("s.csv", csv)}, format="multipart"
    )
    assert_refused(response, 400, "invalid_upload", "row 1 has 2 values")
    files = [upload("100.hea", b"100 1 360 3600\n"), upload("100.dat", b"\0" * 16)]
    response = api.post(URL, {"patient": patient_a.pk, "kind": "beats", "file": files}, format="multipart")
    assert_refused(response, 400, "invalid_upload", "a WFDB record (.hea + .dat) is a continuous signal")
    # a JSON "signal" names the field the client sent, not the leads object it is stored as
    response = api.post(
        URL, {"patient": patient_a.pk, "kind": "signal", "fs": 360, "signal": ["-0.1", *ecg_like()]}, format="json"
    )
    assert response.status_code == 400 and response.json()["error"]["message"].startswith("field signal: element 0")


def test_it_accepts_a_multipart_beat_csv(api, patient_a):
    response = api.post(
        URL,
        {"patient": patient_a.pk, "kind": "beats", "file": upload("b.csv", beat_csv(9, header=True))},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert ECGRecording.objects.get().input_beat_count == 9


@pytest.mark.parametrize(
    "field, value, said",
    [("fs", "360", "a beat file carries no sampling rate"), ("lead", "II", "a beat file carries no lead")],
)
@pytest.mark.parametrize("sent", ["file", "text"])
def test_a_multipart_beat_file_sent_with_a_sampling_rate_or_lead_is_400_naming_the_field(
    api, patient_a, field, value, said, sent
):
    content = {"file": upload("b.csv", beat_csv(3))} if sent == "file" else {"text": beat_csv(3).decode()}
    response = api.post(URL, {"patient": patient_a.pk, "kind": "beats", **content, field: value}, format="multipart")
    assert_refused(response, 400, "invalid_upload", said, field=field)


@pytest.mark.parametrize(
    "field, value, said",
    [("fs", 360, "a beat file carries no sampling rate"), ("lead", "II", "a beat file carries no lead")],
)
def test_json_beats_sent_with_a_sampling_rate_or_lead_are_400_naming_the_field(api, patient_a, field, value, said):
    body = {"patient": patient_a.pk, "kind": "beats", "beats": beat_rows(2).tolist(), field: value}
    response = api.post(URL, body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["field"] == field and said in error["message"]
    assert ECGRecording.objects.count() == 0


def test_it_accepts_a_multipart_csv_signal_with_its_rate(api, patient_a):
    csv = ("MLII\n" + "\n".join(str(v) for v in ecg_like())).encode()
    response = api.post(
        URL, {"patient": patient_a.pk, "kind": "signal", "fs": "360", "file": upload("s.csv", csv)}, format="multipart"
    )
    assert response.status_code == 201, response.content
    assert ECGRecording.objects.get().lead == "MLII"


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "read-whole"])
@pytest.mark.parametrize("fmt", ["wfdb", "edf"])
def test_a_wfdb_or_edf_upload_lists_every_lead_and_the_viewer_shows_each(
    api, patient_a, client, staff_a, settings, tmp_path, monkeypatch, fmt, streamed
):
    # Above ECG_FULL_CHECK_MAX_BYTES (checked in bounded memory) an upload listed no leads: the viewer
    # refused its second lead, and even the analysed one ("lead 'MLII' not found; available leads: MLII").
    from ecg.io import readers

    settings.ECG_FULL_CHECK_MAX_BYTES = 0 if streamed else 1 << 30
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # uploads spooled to temporary files, as a large one is
    scan, scanned = getattr(readers, f"scan_{fmt}"), []
    monkeypatch.setattr(readers, f"scan_{fmt}", lambda *a, **k: scanned.append(1) or scan(*a, **k))
    leads = {"MLII": np.asarray(ecg_like()), "V5": -0.5 * np.asarray(ecg_like())}
    files = wfdb_files(tmp_path, leads) if fmt == "wfdb" else [upload("two.edf", edf_bytes(leads, fs=360))]
    response = api.post(URL, {"patient": patient_a.pk, "kind": "signal", "file": files}, format="multipart")
    assert response.status_code == 201, response.content
    assert bool(scanned) == streamed  # the bounded check in chunks, or the whole read
    body = response.json()
    assert (body["input_format"], body["lead"], body["leads"]) == (fmt, "MLII", ["MLII", "V5"])
    assert api.get(body["links"]["self"]).json()["leads"] == ["MLII", "V5"]
    url = reverse("recording-signal", args=[body["id"]])
    client_for(client, staff_a)
    for name, values in leads.items():
        window = client.get(url, {"start": 0, "end": 200, "lead": name})
        assert window.status_code == 200, window.content
        assert window.json()["lead"] == name
        assert window.json()["min"] == pytest.approx(values[:200], abs=2e-3)
    refused = client.get(url, {"lead": "V1"})
    assert (refused.status_code, refused.json()["error"]) == (400, "lead 'V1' not found; available leads: MLII, V5")


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "read-whole"])
@pytest.mark.parametrize("fmt", ["wfdb", "edf"])
def test_a_rate_given_with_a_wfdb_or_edf_file_must_be_the_files_own(api, patient_a, settings, tmp_path, fmt, streamed):
    # fs=500 with a 360 Hz record was accepted and silently stored at 360 Hz
    settings.ECG_FULL_CHECK_MAX_BYTES = 0 if streamed else 1 << 30
    file_fs = 173.611 if fmt == "wfdb" else 250.0  # an EDF file's rate is samples per record / its seconds
    values = np.asarray(ecg_like(fs=file_fs))

    def post(fs):
        files = wfdb_files(tmp_path, values, fs=file_fs) if fmt == "wfdb" else [upload("x.edf", edf_bytes(values))]
        return api.post(URL, {"patient": patient_a.pk, "kind": "signal", "fs": fs, "file": files}, format="multipart")

    what = "WFDB record" if fmt == "wfdb" else "EDF file"
    message = f"{what}: the file says {file_fs:g} Hz and the sampling rate given {2 * file_fs:g} Hz"
    assert_refused(post(str(2 * file_fs)), 400, "invalid_upload", message, field="fs")
    response = post(f"{file_fs:.2f}")  # the file's rate as rounded for the form
    assert response.status_code == 201, response.content
    assert response.json()["sampling_rate"] == pytest.approx(file_fs)


def test_a_rate_given_with_a_json_file_that_states_another_is_refused_on_fs_as_for_every_format(api, patient_a):
    data = json.dumps({"fs": 360, "leads": {"II": ecg_like()}}).encode()
    response = api.post(
        URL,
        {"patient": patient_a.pk, "kind": "signal", "fs": "500", "file": upload("s.json", data)},
        format="multipart",
    )
    assert_refused(response, 400, "invalid_upload", "the file says 360 Hz", field="fs")


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "read-whole"])
def test_a_lead_the_file_does_not_hold_is_refused_on_the_lead_field(api, patient_a, settings, tmp_path, streamed):
    settings.ECG_FULL_CHECK_MAX_BYTES = 0 if streamed else 1 << 30
    files = wfdb_files(tmp_path, {"MLII": np.asarray(ecg_like()), "V5": np.asarray(ecg_like())})
    response = api.post(
        URL, {"patient": patient_a.pk, "kind": "signal", "lead": "X9", "file": files}, format="multipart"
    )
    assert_refused(response, 400, "invalid_upload", "'X9'", field="lead")


def test_recordings_stored_without_their_lead_names_get_them_from_their_files(api, patient_a, tmp_path):
    from django.core.files.storage import default_storage
    from django.core.management import call_command

    files = wfdb_files(tmp_path, {"MLII": np.asarray(ecg_like()), "V5": np.asarray(ecg_like())})
    response = api.post(URL, {"patient": patient_a.pk, "kind": "signal", "file": files}, format="multipart")
    assert response.status_code == 201, response.content
    good = ECGRecording.objects.get(pk=response.json()["id"])
    broken = ECGRecording.objects.get(pk=good.pk)
    broken.pk, broken.sha256 = None, "0" * 64
    broken.file.name = default_storage.save("recordings/broken.zip", io.BytesIO(b"not a zip"))
    broken.save()
    ECGRecording.objects.update(leads=[])  # as large uploads were stored before their names were kept
    out, err = io.StringIO(), io.StringIO()
    call_command("fill_lead_names", stdout=out, stderr=err)
    good.refresh_from_db()
    broken.refresh_from_db()
    assert good.leads == ["MLII", "V5"] and broken.leads == []
    assert "Named the leads of 1 recording(s); 1 could not be read." in out.getvalue()
    assert f"Recording {broken.pk}:" in err.getvalue()
    assert api.get(f"{URL}/{good.pk}").json()["leads"] == ["MLII", "V5"]


def test_the_viewer_accepts_the_analysed_lead_of_a_recording_whose_leads_were_not_listed(
    api, patient_a, client, staff_a
):
    response = api.post(
        URL, {"patient": patient_a.pk, "kind": "signal", "fs": 360, "signal": ecg_like()}, format="json"
    )
    assert response.status_code == 201, response.content
    recording = ECGRecording.objects.get()
    ECGRecording.objects.filter(pk=recording.pk).update(leads=[])  # as large uploads were stored
    url = reverse("recording-signal", args=[recording.pk])
    client_for(client, staff_a)
    assert client.get(url, {"lead": recording.lead}).json()["lead"] == recording.lead == "ECG"
    refused = client.get(url, {"lead": "V5"})
    assert (refused.status_code, refused.json()["error"]) == (400, "lead 'V5' not found; available leads: ECG")


def test_it_refuses_a_beat_file_with_the_wrong_extension_with_415(api, patient_a):
    response = api.post(
        URL, {"patient": patient_a.pk, "kind": "beats", "file": upload("b.pdf", b"%PDF-1.4")}, format="multipart"
    )
    assert_refused(response, 415, "unsupported_media_type", ".pdf")


def test_it_refuses_an_xlsx_that_is_not_one_with_415(api, patient_a):
    response = api.post(
        URL, {"patient": patient_a.pk, "kind": "beats", "file": upload("b.xlsx", beat_csv(2))}, format="multipart"
    )
    assert_refused(response, 415, "unsupported_media_type")


def test_it_refuses_a_request_body_in_an_unknown_format_with_415(api, patient_a):
    response = api.post(URL, "patient=1", content_type="text/plain")
    assert_refused(response, 415, "unsupported_media_type")


def test_it_refuses_malformed_json_with_400(api):
    response = api.post(URL, '{"patient": 1,', content_type="application/json")
    assert_refused(response, 400, "parse_error")


def test_a_patient_of_another_clinic_is_404(api, patient_b):
    response = api.post(URL, {"patient": patient_b.pk, "kind": "beats", "beats": beat_rows(2).tolist()}, format="json")
    assert_refused(response, 404, "not_found")


def test_the_same_idempotency_key_and_body_return_the_same_recording(api, patient_a):
    body = {"patient": patient_a.pk, "kind": "beats", "beats": beat_rows(3).tolist()}
    first = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-123")
    again = api.post(URL, json.dumps(body, indent=2), content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-123")
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert ECGRecording.objects.count() == 1 and IdempotencyRecord.objects.count() == 1
    # the trail says it was created once and then asked for again (it had two "create" rows)
    from accounts.models import AuditEvent

    actions = AuditEvent.objects.filter(object_type="recording", object_id=str(first.json()["id"]))
    assert sorted(actions.values_list("action", flat=True)) == ["create", "view"]


def test_the_same_idempotency_key_with_another_body_is_409(api, patient_a):
    api.post(
        URL,
        {"patient": patient_a.pk, "kind": "beats", "beats": beat_rows(3).tolist()},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    response = api.post(
        URL,
        {"patient": patient_a.pk, "kind": "beats", "beats": beat_rows(4).tolist()},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert ECGRecording.objects.count() == 1


def test_an_upload_resent_with_its_whole_numbers_written_otherwise_is_the_same_request(api, patient_a):
    # a retry through a client that writes 360.0 as 360 (JavaScript) is the upload it retries
    signal = [round(v, 3) for v in ecg_like()]
    body = {"patient": patient_a.pk, "kind": "signal", "fs": 360.0, "signal": [*signal, 0.0]}
    first = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-n")
    assert first.status_code == 201, first.content
    resent = {**body, "fs": 360, "signal": [*signal, 0]}
    again = api.post(URL, resent, format="json", HTTP_IDEMPOTENCY_KEY="k-n")
    assert (
        again.status_code == 201 and again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    )
    other = api.post(URL, {**body, "fs": 360.5}, format="json", HTTP_IDEMPOTENCY_KEY="k-n")
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert ECGRecording.objects.count() == 1


def test_idempotency_holds_for_multipart_uploads(api, patient_a):
    def send():
        return api.post(
            URL,
            {"patient": patient_a.pk, "kind": "beats", "file": upload("b.csv", beat_csv(4))},
            format="multipart",
            HTTP_IDEMPOTENCY_KEY="m-1",
        )

    assert send().json()["id"] == send().json()["id"]
    assert ECGRecording.objects.count() == 1


def test_idempotency_keys_belong_to_their_user(api, api_as, doctor_a, patient_a):
    body = {"patient": patient_a.pk, "kind": "beats", "beats": beat_rows(3).tolist()}
    a = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    b = api_as(doctor_a).post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    assert a.json()["id"] != b.json()["id"]


def test_a_refused_upload_does_not_use_up_its_idempotency_key(api, patient_a):
    bad = api.post(
        URL, {"patient": patient_a.pk, "kind": "beats", "beats": [[0.1] * 5]}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    good = api.post(
        URL,
        {"patient": patient_a.pk, "kind": "beats", "beats": beat_rows(2).tolist()},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert (bad.status_code, good.status_code) == (400, 201)


def test_the_list_filters_by_patient_status_and_date(api, staff_a, patient_a, active_models):
    from ..factories import PatientFactory

    other = PatientFactory(clinic=patient_a.clinic)
    done = submit_beats(staff_a, patient_a)
    classify_by_hand(done, active_models)
    submit_beats(staff_a, other)
    assert api.get(URL).json()["count"] == 2
    assert [r["id"] for r in api.get(URL, {"patient": patient_a.pk}).json()["results"]] == [done.pk]
    assert [r["id"] for r in api.get(URL, {"status": "done"}).json()["results"]] == [done.pk]
    assert api.get(URL, {"created_after": "2000-01-01", "created_before": "2999-12-31"}).json()["count"] == 2
    assert api.get(URL, {"created_before": "2000-01-01T00:00:00Z"}).json()["count"] == 0
    assert api.get(URL, {"created_after": "yesterday"}).status_code == 400
    assert api.get(URL, {"status": "finished"}).status_code == 400


PARTS = {
    "self": "",
    "beats": "/beats",
    "events": "/events",
    "fhir": "/fhir",
    "interpretations": "/interpretations",
    "moves": "/moves",
    "diary": "/diary",
    "activities": "/activities",
    "sleep": "/sleep",
    "beat_families": "/beat-families",
    "beat_corrections": "/beat-corrections",
}


@pytest.mark.parametrize("host", ["testserver", "ecg.example.org:8443"])
def test_a_recordings_links_are_absolute_as_its_lists_next_page_is(
    api, staff_a, patient_a, active_models, settings, host
):
    # links had been paths while next and previous were URLs: a client followed the two differently
    settings.ALLOWED_HOSTS = ["testserver", "ecg.example.org"]
    done = submit_beats(staff_a, patient_a)
    classify_by_hand(done, active_models)  # a done row is written in Python, a queued one by PostgreSQL
    queued = submit_beats(staff_a, patient_a)
    base = f"http://{host}/api/v1/recordings"
    page = api.get(URL, {"page_size": 1}, HTTP_HOST=host).json()
    assert page["next"] == f"{base}?page=2&page_size=1"
    listed = page["results"] + api.get(page["next"], HTTP_HOST=host).json()["results"]
    listed += api.get(URL, HTTP_HOST=host).json()["results"]  # the first page without a query string
    for body in (*listed, api.get(f"{URL}/{done.pk}", HTTP_HOST=host).json()):
        expected = {name: f"{base}/{body['id']}{tail}" for name, tail in PARTS.items()}
        assert body["links"] == {**expected, "export": f"{base}/{body['id']}/export.csv"}
    assert {body["id"] for body in listed} == {done.pk, queued.pk}
    created = api.post(URL, {"patient": patient_a.pk, "kind": "beats", "beats": beat_rows(2).tolist()}, format="json")
    assert created["Location"] == created.json()["links"]["self"] == f"http://testserver{URL}/{created.json()['id']}"
    assert api.get(created.json()["links"]["self"]).json()["id"] == created.json()["id"]


def test_a_done_recording_shows_its_diagnosis(api, done_recording):
    body = api.get(f"{URL}/{done_recording.pk}").json()
    assert body["status"] == "done"
    diagnosis = body["diagnosis"]
    assert diagnosis["beat_count"] == 6 and diagnosis["classes"]["N"]["count"] == 2 and diagnosis["mi_flag"] is True
    assert diagnosis["mi_model"]["version"] == "tiny-high"


def test_polling_with_the_etag_answers_304_until_something_changes(api, done_recording, doctor_a):
    from diagnostics.services import review_create

    first = api.get(f"{URL}/{done_recording.pk}")
    etag = first["ETag"]
    unchanged = api.get(f"{URL}/{done_recording.pk}", HTTP_IF_NONE_MATCH=etag)
    assert unchanged.status_code == 304 and unchanged["ETag"] == etag and not unchanged.content
    # a proxy that compresses the body sends the tag back weak; If-None-Match compares weakly
    assert api.get(f"{URL}/{done_recording.pk}", HTTP_IF_NONE_MATCH=f"W/{etag}").status_code == 304
    assert api.get(f"{URL}/{done_recording.pk}", HTTP_IF_NONE_MATCH=f'"x", W/{etag}').status_code == 304
    review_create(user=doctor_a, diagnosis=done_recording.diagnosis, decision="confirm")
    changed = api.get(f"{URL}/{done_recording.pk}", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert changed.json()["diagnosis"]["latest_review"]["decision"] == "confirm"


def test_beats_are_paginated(api, done_recording):
    page = api.get(f"{URL}/{done_recording.pk}/beats", {"page_size": 4}).json()
    assert page["count"] == 6 and len(page["results"]) == 4 and page["next"]
    beat = page["results"][0]
    assert beat["index"] == 0 and beat["aami_class"] == "N" and set(beat["probabilities"]) == set("NSVFQ")
    assert api.get(f"{URL}/{done_recording.pk}/beats", {"page": 99}).status_code == 404


@pytest.mark.parametrize(
    "part, what", [("fhir", "FHIR report and its parts"), ("beats", "beats"), ("events", "events")]
)
def test_the_results_of_a_recording_not_yet_done_or_failed_are_409(api, staff_a, patient_a, part, what):
    # an empty list of beats or events would read as "analysed, nothing found"
    recording = submit_beats(staff_a, patient_a)
    response = api.get(f"{URL}/{recording.pk}/{part}")
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_ready"
    assert "queued" in response.json()["error"]["message"]
    recording.status, recording.error_message = ECGRecording.Status.FAILED, "the file has no readable lead"
    recording.save(update_fields=["status", "error_message"])
    response = api.get(f"{URL}/{recording.pk}/{part}")
    # a code of its own, with the reason: a failed recording is never done, and a client waiting out
    # not_ready had polled it for ever
    assert response.status_code == 409 and response.json()["error"] == {
        "code": "recording_failed",
        "message": f"The analysis of this recording failed, so it has no {what}: the file has no readable lead",
    }


def test_an_id_too_large_for_the_database_is_404(api):
    assert api.get(f"{URL}/99999999999999999999").status_code == 404
    assert api.get(URL, {"patient": "99999999999999999999"}).status_code == 400


def test_a_file_over_the_upload_limit_is_413(api, patient_a, settings):
    settings.ECG_MAX_UPLOAD_BYTES = 2048
    response = api.post(
        URL, {"patient": patient_a.pk, "kind": "beats", "file": upload("b.csv", beat_csv(5))}, format="multipart"
    )
    assert_refused(response, 413, "payload_too_large", "the limit is")


def test_it_accepts_a_wfdb_record_as_its_two_files(api, patient_a):
    from ..data import mitdb_dir

    record = mitdb_dir() / "100"
    files = [
        upload("100.hea", record.with_suffix(".hea").read_bytes()),
        upload("100.dat", record.with_suffix(".dat").read_bytes()),
    ]
    response = api.post(URL, {"patient": patient_a.pk, "kind": "signal", "file": files}, format="multipart")
    assert response.status_code == 201, response.content
    recording = ECGRecording.objects.get()
    assert (recording.input_format, recording.lead, recording.sampling_rate) == ("wfdb", "MLII", 360.0)


def wfdb_stating(tmp_path, fields: str) -> list:
    """A made-up one-lead WFDB record's two files, its header's record line ending in ``fields``."""
    import wfdb

    wfdb.wrsamp(
        "rec", fs=360, units=["mV"], sig_name=["II"], p_signal=np.array(ecg_like(10))[:, None], write_dir=str(tmp_path)
    )
    lines = (tmp_path / "rec.hea").read_text().splitlines(keepends=True)
    header = f"{lines[0].rstrip()} {fields}\n{''.join(lines[1:])}"
    return [upload("rec.hea", header.encode()), upload("rec.dat", (tmp_path / "rec.dat").read_bytes())]


def test_a_recording_gives_the_start_its_file_states_in_the_sites_time_zone(api, patient_a, tmp_path, settings):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    settings.TIME_ZONE = "Europe/Berlin"
    files = wfdb_stating(tmp_path, "23:50:00 04/12/2026")  # WFDB's DD/MM/YYYY: 4 December
    response = api.post(URL, {"patient": patient_a.pk, "kind": "signal", "file": files}, format="multipart")
    assert response.status_code == 201, response.content
    recording = ECGRecording.objects.get()
    assert recording.recorded_at == datetime(2026, 12, 4, 23, 50, tzinfo=ZoneInfo("Europe/Berlin"))
    assert response.json()["recorded_at"] == "2026-12-04T23:50:00+01:00"
    assert api.get(f"{URL}/{recording.pk}").json()["recorded_at"] == "2026-12-04T23:50:00+01:00"
    assert api.get(URL).json()["results"][0]["recorded_at"] == "2026-12-04T23:50:00+01:00"
    settings.TIME_ZONE = "UTC"  # the list as PostgreSQL writes it
    assert api.get(URL).json()["results"][0]["recorded_at"] == "2026-12-04T22:50:00Z"


@pytest.mark.parametrize("fields", ["31/02/2026 23:50:00", "23:50:00 31/02/2026", "23:50:00", ""])
def test_a_recording_whose_file_states_no_valid_start_has_none(api, patient_a, tmp_path, fields):
    files = wfdb_stating(tmp_path, fields)
    response = api.post(URL, {"patient": patient_a.pk, "kind": "signal", "file": files}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["recorded_at"] is None and ECGRecording.objects.get().recorded_at is None
    assert response.json()["sample_count"] == 3600


def test_a_beat_file_has_no_recorded_start(api, patient_a):
    response = api.post(URL, {"patient": patient_a.pk, "kind": "beats", "beats": beat_rows(3).tolist()}, format="json")
    assert response.status_code == 201 and response.json()["recorded_at"] is None


def test_a_wfdb_header_without_its_data_file_is_400(api, patient_a):
    from ..data import mitdb_dir

    hea = (mitdb_dir() / "100.hea").read_bytes()
    response = api.post(
        URL, {"patient": patient_a.pk, "kind": "signal", "file": upload("100.hea", hea)}, format="multipart"
    )
    # Nothing is stored; the message comes from the signal reader, which reads a lone .hea as CSV text.
    assert_refused(response, 400, "invalid_upload")


def test_a_request_that_loses_an_idempotency_race_returns_the_winners_recording(api, staff_a, patient_a, monkeypatch):
    from api import uploads

    body = {"patient": patient_a.pk, "kind": "beats", "beats": beat_rows(3).tolist()}
    winner = submit_beats(staff_a, patient_a)
    real = uploads.beats_from_json

    def parse_while_another_request_commits(rows):
        digest = uploads.fingerprint(body)
        IdempotencyRecord.objects.create(user=staff_a, key="race", fingerprint=digest, recording=winner)
        return real(rows)

    monkeypatch.setattr(uploads, "beats_from_json", parse_while_another_request_commits)
    response = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="race")
    assert response.status_code == 201 and response.json()["id"] == winner.pk
    assert ECGRecording.objects.count() == 1


def test_it_accepts_pasted_beat_values_as_multipart_text(api, patient_a):
    text = beat_csv(3).decode()
    response = api.post(URL, {"patient": patient_a.pk, "kind": "beats", "text": text}, format="multipart")
    assert response.status_code == 201, response.content
    assert ECGRecording.objects.get().input_beat_count == 3


def test_a_file_and_pasted_text_together_are_400(api, patient_a):
    response = api.post(
        URL,
        {"patient": patient_a.pk, "kind": "beats", "text": "0.1", "file": upload("b.csv", beat_csv(2))},
        format="multipart",
    )
    assert_refused(response, 400, "invalid_upload", "not both")


@pytest.mark.parametrize("value", ["²", "-1", "1.5", "١"])
def test_a_filter_id_that_is_not_an_ascii_number_is_400(api, value):
    assert api.get(URL, {"patient": value}).status_code == 400


@pytest.mark.parametrize(
    "value", ["2020-13-01", "2020-02-30T10:00", "0001-01-01T00:00+01:00", "9999-12-31T23:59-01:00"]
)
def test_an_impossible_date_filter_is_400(api, value):
    assert api.get(URL, {"created_after": value}).status_code == 400


def test_a_date_filter_with_an_offset_the_database_does_not_take_is_compared_in_utc(api, staff_a, patient_a):
    # PostgreSQL refuses offsets beyond 15:59: the filter was handed over with its own and answered 500
    recording = submit_beats(staff_a, patient_a)
    ECGRecording.objects.filter(pk=recording.pk).update(created_at=datetime(2020, 1, 2, 12, 0, tzinfo=dt_timezone.utc))

    def ids(**query):
        response = api.get(URL, query)
        assert response.status_code == 200, response.content
        return [r["id"] for r in response.json()["results"]]

    # 2020-01-01T13:00-23:59 is 2020-01-02T12:59 UTC, after it; 2020-01-02T12:00+23:59 is 2020-01-01T12:01 UTC
    assert ids(created_after="2020-01-01T13:00:00-23:59") == []
    assert ids(created_after="2020-01-01T12:00:00-23:59") == [recording.pk]  # 11:59 UTC on the 2nd
    assert ids(created_before="2020-01-02T12:00:00+23:59") == []
    assert ids(created_after="0001-01-01T00:00:00-23:59") == [recording.pk]


def test_a_signal_value_too_large_for_a_float_is_400(api, patient_a):
    body = '{"patient": %d, "kind": "signal", "fs": 360, "signal": [0.1, 1e400, 0.2]}' % patient_a.pk
    assert_refused(api.post(URL, body, content_type="application/json"), 400, "validation_error", field="signal")


def test_a_beat_value_too_large_for_a_float_is_400(api, patient_a):
    rows = beat_rows(2).tolist()
    body = json.dumps({"patient": patient_a.pk, "kind": "beats", "beats": rows}).replace(str(rows[1][5]), "1e400", 1)
    assert_refused(api.post(URL, body, content_type="application/json"), 400, "validation_error", field="beats")


@pytest.fixture
def audit_inserts_fail():
    """The audit table refuses new rows (a lock timeout, a restart between the write and its audit row)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_refuse_audit() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$"
            " LANGUAGE plpgsql; CREATE TRIGGER test_refuse_audit BEFORE INSERT ON accounts_auditevent"
            " FOR EACH ROW EXECUTE FUNCTION test_refuse_audit();"
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER test_refuse_audit ON accounts_auditevent; DROP FUNCTION test_refuse_audit();")


@pytest.mark.django_db(transaction=True)  # as served: the audit row written in autocommit, after the upload's
def test_an_upload_committed_is_answered_201_though_its_audit_row_could_not_be_written(
    api_as, staff_a, patient_a, audit_inserts_fail, caplog
):
    api = api_as(staff_a)
    response = api.post(URL, {"patient": patient_a.pk, "kind": "beats", "beats": beat_rows(7).tolist()}, format="json")
    assert response.status_code == 201, response.content  # a 500 had the client send it again: two recordings
    assert ECGRecording.objects.count() == 1
    assert "audit row not written for a committed POST" in caplog.text and "'action': 'create'" in caplog.text
    # a read whose audit row cannot be written is refused, as before
    with pytest.raises(Exception, match="audit refused"):
        api.get(f"/api/v1/recordings/{response.json()['id']}")


def test_an_upload_the_storage_cannot_hold_is_503_and_leaves_nothing(api_as, staff_a, patient_a, file_size_limit):
    from pathlib import Path

    from django.conf import settings

    stored = Path(settings.MEDIA_ROOT) / "recordings"
    stored.mkdir(parents=True, exist_ok=True)
    before = set(stored.iterdir())
    data = beat_csv(600)  # stored as sent
    assert len(data) > 100_000
    file_size_limit(len(data) // 3)
    response = api_as(staff_a).post(
        URL, {"patient": patient_a.pk, "kind": "beats", "file": upload("beats.csv", data)}, format="multipart"
    )
    assert response.status_code == 503, response.content
    assert response.json()["error"]["code"] == "storage_unavailable"
    assert response["Retry-After"] == "60"  # a client's retry waits a minute, not at once
    assert "nothing was kept" in response.json()["error"]["message"]
    assert set(stored.iterdir()) == before, "a part of the file stayed behind"
    assert not ECGRecording.objects.exists()


@pytest.mark.parametrize("zone", ["Europe/Berlin", "UTC"])  # rows written in Python, and by PostgreSQL in UTC
def test_a_recording_names_who_uploaded_it_as_other_writes_name_their_author(
    api, api_as, staff_a, doctor_a, patient_a, active_models, settings, zone
):
    settings.TIME_ZONE = zone
    staff_a.first_name, staff_a.last_name = "Ada", "Byron"
    staff_a.save(update_fields=["first_name", "last_name"])
    done = submit_beats(staff_a, patient_a)
    classify_by_hand(done, active_models)
    created = api_as(doctor_a).post(
        URL, {"patient": patient_a.pk, "kind": "beats", "beats": beat_rows(2).tolist()}, format="json"
    )
    assert created.json()["uploaded_by"] == {"id": doctor_a.pk, "name": doctor_a.display_name}
    listed = {r["id"]: r["uploaded_by"] for r in api.get(URL).json()["results"]}
    assert listed == {
        done.pk: {"id": staff_a.pk, "name": "Ada Byron"},
        created.json()["id"]: {"id": doctor_a.pk, "name": doctor_a.display_name},
    }
    assert api.get(f"{URL}/{done.pk}").json()["uploaded_by"] == {"id": staff_a.pk, "name": "Ada Byron"}


def test_a_recording_whose_uploader_was_deleted_names_none(api, api_as, doctor_a, patient_a):
    created = api_as(doctor_a).post(
        URL, {"patient": patient_a.pk, "kind": "beats", "beats": beat_rows(2).tolist()}, format="json"
    )
    ECGRecording.objects.filter(pk=created.json()["id"]).update(uploaded_by=None)
    assert api.get(f"{URL}/{created.json()['id']}").json()["uploaded_by"] is None
    assert api.get(URL).json()["results"][0]["uploaded_by"] is None
