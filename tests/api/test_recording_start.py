"""A recording's start given with its upload, for the files that state none (beat files, CSV and JSON signals):
its pages, diary and exports then give times of day, as for a file that states its start."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from diagnostics.models import ECGRecording

from ..helpers import beat_csv, beat_rows, upload
from .test_recordings import URL, assert_refused, ecg_like, wfdb_stating

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def api(api_as, staff_a, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    return api_as(staff_a)


def signal(patient, **extra) -> dict:
    return {"patient": patient.pk, "kind": "signal", "fs": 360, "signal": ecg_like(10), **extra}


def csv_signal(patient, **extra) -> dict:
    lines = "MLII\n" + "\n".join(f"{v:.4f}" for v in ecg_like(10)) + "\n"
    return {"patient": patient.pk, "kind": "signal", "fs": "360", "file": [upload("ecg.csv", lines.encode())], **extra}


@pytest.mark.parametrize(
    "given, kept",
    [
        ("2026-12-04T23:50:00+01:00", datetime(2026, 12, 4, 23, 50, tzinfo=BERLIN)),
        ("2026-12-04T22:50:00Z", datetime(2026, 12, 4, 23, 50, tzinfo=BERLIN)),  # the moment, shown in TIME_ZONE
        ("2026-12-04T23:50:00", datetime(2026, 12, 4, 23, 50, tzinfo=BERLIN)),  # read in TIME_ZONE
        ("2026-12-04 23:50", datetime(2026, 12, 4, 23, 50, tzinfo=BERLIN)),
        # the hour Berlin's clocks repeat: the first (summer time), as a file's stated start is read
        ("2026-10-25T02:30:00", datetime(2026, 10, 25, 0, 30, tzinfo=ZoneInfo("UTC"))),
        ("2026-10-25T02:30:00+01:00", datetime(2026, 10, 25, 1, 30, tzinfo=ZoneInfo("UTC"))),  # the second, so said
    ],
)
def test_a_json_signal_keeps_the_start_it_was_sent_with(api, patient_a, given, kept):
    created = api.post(URL, signal(patient_a, recorded_at=given), format="json")
    assert created.status_code == 201, created.content
    recording = ECGRecording.objects.get()
    assert recording.recorded_at == kept
    assert created.json()["recorded_at"] == timezone.localtime(kept).isoformat()
    assert api.get(f"{URL}/{recording.pk}").json()["recorded_at"] == created.json()["recorded_at"]


def test_json_beats_and_multipart_uploads_take_it_too(api, patient_a):
    given = "2026-12-04T23:50:00+01:00"
    beats = api.post(
        URL,
        {"patient": patient_a.pk, "kind": "beats", "beats": beat_rows(3).tolist(), "recorded_at": given},
        format="json",
    )
    csv = api.post(URL, csv_signal(patient_a, recorded_at=given), format="multipart")
    beat_file = api.post(
        URL,
        {"patient": patient_a.pk, "kind": "beats", "file": [upload("b.csv", beat_csv(3))], "recorded_at": given},
        format="multipart",
    )
    for response in (beats, csv, beat_file):
        assert response.status_code == 201, response.content
        assert response.json()["recorded_at"] == given
    assert ECGRecording.objects.filter(recorded_at=datetime.fromisoformat(given)).count() == 3


def test_an_empty_start_is_none_given(api, patient_a):
    created = api.post(URL, csv_signal(patient_a, recorded_at=""), format="multipart")
    assert created.status_code == 201 and created.json()["recorded_at"] is None
    created = api.post(URL, signal(patient_a, recorded_at=None), format="json")
    assert created.status_code == 201 and created.json()["recorded_at"] is None


@pytest.mark.parametrize(
    "given, said",
    [
        ("yesterday", "is not a date-time: expected an ISO 8601 date-time"),
        ("2026-02-31T10:00:00", "is not a date-time"),
        ("2026-12-04", "is not a date-time"),  # a day is no start
        ("2026-03-29T02:30:00", "is no time in Europe/Berlin (its clocks skip it)"),
        ("1899-12-31T23:59:59+00:00", "is before 1900"),
        ("0001-01-01T00:00:00+01:00", "is before 1900"),
        ("9999-12-31T23:59:59-12:00", "is in the future"),
        ("2999-01-01T00:00:00Z", "is in the future"),
    ],
)
@pytest.mark.parametrize("how", ["json", "multipart"])
def test_a_start_that_is_no_moment_or_could_not_be_the_recordings_is_400_naming_it(api, patient_a, given, said, how):
    sent = signal(patient_a, recorded_at=given) if how == "json" else csv_signal(patient_a, recorded_at=given)
    response = api.post(URL, sent, format=how)
    assert_refused(response, 400, "validation_error", said, field="recorded_at")


def test_a_start_a_moment_from_now_is_in_the_future(api, patient_a):
    soon = (timezone.now() + timedelta(minutes=5)).isoformat()
    assert_refused(api.post(URL, signal(patient_a, recorded_at=soon), format="json"), 400, "validation_error", "future")


def test_a_start_must_be_text(api, patient_a):
    response = api.post(URL, signal(patient_a, recorded_at=1733352600), format="json")
    assert_refused(response, 400, "validation_error", field="recorded_at")


def test_a_file_that_states_its_start_keeps_it_and_one_given_that_differs_is_refused_naming_both(
    api, patient_a, tmp_path
):
    files = wfdb_stating(tmp_path, "23:50:00 04/12/2026")
    sent = {"patient": patient_a.pk, "kind": "signal", "file": files, "recorded_at": "2026-12-04T23:00:00+01:00"}
    assert_refused(
        api.post(URL, sent, format="multipart"),
        400,
        "invalid_upload",
        "the file states that the recording began at 2026-12-04T23:50:00+01:00, not at 2026-12-04T23:00:00+01:00",
        field="recorded_at",
    )
    for f in files:
        f.seek(0)
    same = {**sent, "recorded_at": "2026-12-04T22:50:00Z"}  # the same moment, written otherwise
    created = api.post(URL, same, format="multipart")
    assert created.status_code == 201, created.content
    assert created.json()["recorded_at"] == "2026-12-04T23:50:00+01:00"


def test_a_file_whose_stated_start_could_not_be_read_takes_the_one_given(api, patient_a, tmp_path):
    files = wfdb_stating(tmp_path, "23:50:00 31/02/2026")  # no such day: the file's start is unknown
    sent = {"patient": patient_a.pk, "kind": "signal", "file": files, "recorded_at": "2026-12-04T23:50:00"}
    created = api.post(URL, sent, format="multipart")
    assert created.status_code == 201, created.content
    assert created.json()["recorded_at"] == "2026-12-04T23:50:00+01:00"


def test_the_start_is_part_of_an_idempotent_request(api, patient_a):
    first = api.post(
        URL, signal(patient_a, recorded_at="2026-12-04T23:50:00+01:00"), format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert first.status_code == 201
    other = api.post(
        URL, signal(patient_a, recorded_at="2026-12-04T23:51:00+01:00"), format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert other.status_code == 409


def test_a_diary_takes_times_of_day_for_a_recording_whose_start_was_given(api, patient_a):
    created = api.post(URL, signal(patient_a, recorded_at="2026-12-04T23:59:55"), format="json")
    assert created.status_code == 201, created.content
    diary = created.json()["links"]["diary"]
    made = api.post(diary, {"at": "2026-12-05T00:00:02+01:00", "symptom": "palpitations"}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["at_s"] == 7.0 and made.json()["at"] == "2026-12-05T00:00:02+01:00"


def test_the_schema_documents_the_start_on_both_bodies(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    content = schema["paths"]["/api/v1/recordings"]["post"]["requestBody"]["content"]
    for media in ("application/json", "multipart/form-data"):
        ref = content[media]["schema"]["$ref"].rsplit("/", 1)[-1]
        field = schema["components"]["schemas"][ref]["properties"]["recorded_at"]
        assert "string" in field["type"] and "TIME_ZONE" in field["description"]
    recording = schema["components"]["schemas"]["Recording"]["properties"]
    assert recording["uploaded_by"]
