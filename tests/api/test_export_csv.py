"""The recording's CSV export through the API: a hospital system holding a token gets the very bytes the
page's export gives a signed-in user, scoped, refused until done and audited as an export."""

import pytest

from accounts.models import AuditEvent
from diagnostics.models import Event

from .conftest import submit_beats

pytestmark = pytest.mark.django_db


def url(recording_id) -> str:
    return f"/api/v1/recordings/{recording_id}/export.csv"


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_a_token_gets_the_same_csv_as_the_page(api_as, client, staff_a, done_recording):
    Event.objects.create(
        recording=done_recording, clinic=done_recording.clinic, type="pause", start=10, end=900, beats=2
    )
    response = api_as(staff_a).get(url(done_recording.pk))
    assert response.status_code == 200, body(response)[:300]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="recording-{done_recording.pk}-beats.csv"'
    client.force_login(staff_a)
    page = client.get(f"/recordings/{done_recording.pk}/export.csv")
    assert page.status_code == 200
    csv = body(response)
    # the page's starts with a UTF-8 byte-order mark, so a spreadsheet reads names in UTF-8; a program's does not
    assert body(page) == "\ufeff".encode() + csv
    assert csv.startswith(b"patient_mrn,patient_name,recording,beat,") and b"event_id" in csv


def test_the_session_works_too(client, doctor_a, done_recording):
    client.force_login(doctor_a)
    response = client.get(url(done_recording.pk), HTTP_ACCEPT="text/csv")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"


def test_it_is_audited_as_an_export(api_as, staff_a, done_recording):
    assert api_as(staff_a).get(url(done_recording.pk)).status_code == 200
    event = AuditEvent.objects.get(action="export", object_type="recording", object_id=str(done_recording.pk))
    assert (event.user, event.channel, event.status_code) == (staff_a, "token", 200)


def test_another_clinics_recording_is_404_and_audited_as_refused(api_as, doctor_b, done_recording):
    response = api_as(doctor_b).get(url(done_recording.pk))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"
    assert AuditEvent.objects.filter(action="denied", object_id=str(done_recording.pk)).exists()


@pytest.mark.parametrize("accept", [None, "text/csv"])
def test_it_is_409_not_ready_in_json_until_done(api_as, staff_a, patient_a, accept):
    recording = submit_beats(staff_a, patient_a)
    extra = {} if accept is None else {"HTTP_ACCEPT": accept}
    response = api_as(staff_a).get(url(recording.pk), **extra)
    assert response.status_code == 409
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_ready"


def test_without_credentials_it_is_401_json_not_a_login_redirect(client, done_recording):
    response = client.get(url(done_recording.pk), HTTP_ACCEPT="text/csv")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_the_schema_documents_it_as_csv(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/v1/recordings/{id}/export.csv"]["get"]
    assert "text/csv" in operation["responses"]["200"]["content"]
    assert "application/json" in operation["responses"]["409"]["content"]


def test_drfs_format_parameter_names_it_and_a_type_it_does_not_write_is_406_json(api_as, staff_a, done_recording):
    api = api_as(staff_a)
    assert api.get(url(done_recording.pk), {"format": "csv"})["Content-Type"] == "text/csv; charset=utf-8"
    refused = api.get(url(done_recording.pk), HTTP_ACCEPT="text/html")
    assert refused.status_code == 406 and refused["Content-Type"] == "application/json"
    assert refused.json()["error"]["code"] == "not_acceptable"


@pytest.mark.parametrize("accept", ["application/json", "application/fhir+json"])
def test_a_client_accepting_only_json_is_told_406_not_sent_csv(api_as, staff_a, done_recording, accept):
    response = api_as(staff_a).get(url(done_recording.pk), HTTP_ACCEPT=accept)
    assert response.status_code == 406
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_acceptable" and "text/csv" in response.json()["error"]["message"]
    assert not AuditEvent.objects.filter(action="export").exists()


@pytest.mark.parametrize(
    "accept",
    [
        "text/html,application/xhtml+xml,*/*;q=0.8",  # a browser
        "application/json, text/plain, */*",  # axios's and Angular's default
        "application/json, */*;q=0.1",
        "text/*",
    ],
)
def test_a_client_accepting_csv_among_others_gets_the_csv(api_as, staff_a, done_recording, accept):
    response = api_as(staff_a).get(url(done_recording.pk), HTTP_ACCEPT=accept)
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"


def test_csv_refused_with_q_0_is_406(api_as, staff_a, done_recording):
    response = api_as(staff_a).get(url(done_recording.pk), HTTP_ACCEPT="application/json, text/csv;q=0")
    assert response.status_code == 406


def test_an_events_start_is_cut_to_hundredths_as_every_other_time_of_the_export(
    api_as, staff_a, patient_a, active_models
):
    # an episode beginning at 3.997 s read 4.00 (rounded) in the events table, where the diary's and the activities'
    # times, the events' durations and FHIR's first onset (3.99) are cut: one moment, two times in one export
    import csv
    import io

    import numpy as np

    from diagnostics.models import ECGRecording

    from .conftest import classify_by_hand
    from .test_recordings import ecg_like

    api = api_as(staff_a)
    created = api.post(
        "/api/v1/recordings",
        {"patient": patient_a.pk, "kind": "signal", "fs": 360, "signal": ecg_like(10)},
        format="json",
    )
    recording = ECGRecording.objects.get(pk=created.json()["id"])
    classify_by_hand(recording, active_models, beats=np.zeros((4, 187), dtype=np.float32), mi_score=0.2)
    Event.objects.create(recording=recording, clinic=recording.clinic, type="pause", start=1439, end=2999, beats=2)
    text = body(api.get(url(recording.pk))).decode()
    table = text[text.index("patient_mrn,recording,event,") :].split("\r\n\r\n")[0]
    (row,) = list(csv.DictReader(io.StringIO(table)))
    assert (row["start_sample"], row["start_s"], row["duration_s"]) == ("1439", "3.99", "4.33")


def _exported_recording(api, patient, models):
    """A 10-s signal uploaded through the API, its results written by hand, with a pause from sample 1439 to 2999."""
    import numpy as np

    from diagnostics.models import ECGRecording

    from .conftest import classify_by_hand
    from .test_recordings import ecg_like

    created = api.post(
        "/api/v1/recordings",
        {"patient": patient.pk, "kind": "signal", "fs": 360, "signal": ecg_like(10)},
        format="json",
    )
    recording = ECGRecording.objects.get(pk=created.json()["id"])
    classify_by_hand(recording, models, beats=np.zeros((4, 187), dtype=np.float32), mi_score=0.2)
    Event.objects.create(recording=recording, clinic=recording.clinic, type="pause", start=1439, end=2999, beats=2)
    return recording


def _tables(text: str) -> list[list[dict]]:
    import csv
    import io

    return [list(csv.DictReader(io.StringIO(table))) for table in text.split("\r\n\r\n")]


def test_the_export_states_the_recordings_start_and_each_events_moments_in_the_sites_time_zone(
    api_as, staff_a, patient_a, active_models, settings
):
    # the export gave an event in seconds alone and never said when the recording began: a receiver charting the
    # episodes against the diary's clock times could not place them
    from datetime import datetime, timedelta

    settings.TIME_ZONE = "Europe/Berlin"
    api = api_as(staff_a)
    recording = _exported_recording(api, patient_a, active_models)
    recording.recorded_at = datetime.fromisoformat("2026-03-29T01:59:58+01:00")  # Berlin's clocks go forward at 2:00
    recording.save(update_fields=["recorded_at"])
    beats, events, *_ = _tables(body(api.get(url(recording.pk))).decode())
    assert list(beats[0])[-1] == "recorded_at"  # last, so that a reader taking columns by position is not moved
    assert {b["recorded_at"] for b in beats} == {"2026-03-29T01:59:58+01:00"}
    (pause,) = events
    assert list(pause)[-2:] == ["start_at", "end_at"]
    start, end = (recording.recorded_at + timedelta(seconds=s / 360) for s in (1439, 2999))
    assert (pause["start_at"], pause["end_at"]) == (
        "2026-03-29T03:00:01.997222+02:00",  # after the change: the moment at the zone's offset then
        "2026-03-29T03:00:06.330556+02:00",
    )
    assert (datetime.fromisoformat(pause["start_at"]), datetime.fromisoformat(pause["end_at"])) == (start, end)


def test_where_the_start_is_not_known_the_exports_date_time_columns_are_empty(
    api_as, staff_a, patient_a, active_models
):
    api = api_as(staff_a)
    recording = _exported_recording(api, patient_a, active_models)
    beats, events, *_ = _tables(body(api.get(url(recording.pk))).decode())
    assert {b["recorded_at"] for b in beats} == {""}
    assert [(e["start_s"], e["start_at"], e["end_at"]) for e in events] == [("3.99", "", "")]
