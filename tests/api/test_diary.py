"""recordings/{id}/diary: the patient's diary over the API (a hospital's electronic diary sends it), each entry with the
rhythm at its moment; its audit rows, Idempotency-Key and clinic scope."""

import math
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from diagnostics import services
from diagnostics.models import DiaryEntry

from ..diagnostics.test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)
from ..factories import signal_recording
from ..helpers import strict_validator
from .conftest import submit_beats

pytestmark = pytest.mark.django_db


@pytest.fixture
def holter(request):
    """70 s of MIT-BIH 207 at 360 Hz (VF from 41.5 s to 61.5 s), classified."""
    return request.getfixturevalue("holter_recording")


def diary_url(recording) -> str:
    return f"/api/v1/recordings/{recording.pk}/diary"


def test_an_entry_is_sent_and_read_back_with_the_rhythm_at_its_moment(api_as, staff_a, client, holter):
    api = api_as(staff_a)
    sent = {"at_s": 50.5, "symptom": "syncope", "note": "found on the floor"}
    response = api.post(diary_url(holter), sent, format="json", HTTP_IDEMPOTENCY_KEY="diary-1")
    assert response.status_code == 201, response.content
    body = response.json()
    entry = DiaryEntry.objects.get()
    assert (body["id"], body["sample"], body["at_s"], body["at"]) == (entry.pk, int(50.5 * 360), 50.5, None)
    assert body["entered_by"] == {"id": staff_a.pk, "name": staff_a.display_name}
    vf = holter.events.get(type="vf")
    assert body["rhythm"]["during"] == [{"event": vf.pk, "type": "vf", "rejected": False}]
    assert (
        body["rhythm"]["finding"] == "During ventricular flutter / fibrillation." and body["rhythm"]["rate_bpm"] is None
    )
    replay = api.post(diary_url(holter), sent, format="json", HTTP_IDEMPOTENCY_KEY="diary-1")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true" and replay.json() == body
    assert DiaryEntry.objects.count() == 1
    listed = api.get(diary_url(holter))
    assert listed.status_code == 200 and listed.json()["results"] == [body]
    openapi = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    strict_validator(openapi, "DiaryEntry").validate(body)  # what is served is what the schema documents
    writes = AuditEvent.objects.filter(action="update", object_type="recording", object_id=str(holter.pk))
    assert writes.count() == 1  # the replay is no second write
    removed = api.delete(f"{diary_url(holter)}/{entry.pk}")
    assert removed.status_code == 204 and api.get(diary_url(holter)).json()["results"] == []
    assert AuditEvent.objects.filter(action="update", object_type="diary_entry", object_id=str(entry.pk)).exists()
    gone = api.delete(f"{diary_url(holter)}/{entry.pk}")
    assert gone.status_code == 404 and "removed at " in gone.json()["error"]["message"]
    # kept, marked removed: a system that copied it learns of it, and a retry of the POST that made it is its answer
    (kept,) = api.get(diary_url(holter), {"removed": "true"}).json()["results"]
    assert kept["id"] == entry.pk and kept["removed_at"] and kept["removed_by"]["id"] == staff_a.pk
    retry = api.post(diary_url(holter), sent, format="json", HTTP_IDEMPOTENCY_KEY="diary-1")
    assert retry.status_code == 201 and retry["Idempotent-Replayed"] == "true" and retry.json()["removed_at"]
    assert DiaryEntry.objects.count() == 1


def test_a_moment_as_a_date_time_needs_the_recordings_start(api_as, staff_a, holter):
    api = api_as(staff_a)
    at = "2026-12-01T14:00:30+01:00"
    refused = api.post(diary_url(holter), {"at": at, "symptom": "palpitations"}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "at"
    assert "did not say when it started: give the moment as at_s" in refused.json()["error"]["message"]
    holter.recorded_at = datetime.fromisoformat("2026-12-01T14:00:00+01:00")
    holter.save(update_fields=["recorded_at"])
    made = api.post(diary_url(holter), {"at": at, "symptom": "palpitations"}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["at_s"] == 30.0
    assert datetime.fromisoformat(made.json()["at"]) == datetime.fromisoformat(at)
    late = holter.recorded_at + timedelta(seconds=70)
    outside = api.post(diary_url(holter), {"at": late.isoformat(), "symptom": "dizziness"}, format="json")
    assert outside.status_code == 400 and outside.json()["error"]["field"] == "at"
    assert timezone.is_aware(holter.recorded_at)


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"symptom": "dizziness"}, "at_s", "one of them"),
        ({"at_s": 1, "at": "2026-12-01T14:00:30+01:00", "symptom": "dizziness"}, "at_s", "both were given"),
        ({"at_s": None, "at": None, "symptom": "dizziness"}, "at_s", "at_s or as at, one of them: neither was given"),
        ({"at": None, "symptom": "dizziness"}, "at_s", "neither was given"),
        ({"at_s": 70, "symptom": "dizziness"}, "at_s", "outside the recording, which is 70.00 s long"),
        ({"at_s": -1, "symptom": "dizziness"}, "at_s", ""),
        ({"at_s": 10, "symptom": "hiccups"}, "symptom", ""),
        ({"at_s": 10, "symptom": "other"}, "note", "Say what the symptom was in the note."),
        ({"at_s": 10, "symptom": "other", "note": 5}, "note", "Expected text"),
        ({"at_s": 10, "symptom": "fatigue", "when": "now"}, "when", "unknown field"),
        # an invisible direction character reorders the note after it in a spreadsheet or another system
        (
            {"at_s": 10, "symptom": "other", "note": "racing \u202e01:41"},
            "note",
            "The note holds an invisible direction character (U+202E RIGHT-TO-LEFT OVERRIDE): remove it",
        ),
        (
            {"at_s": 10, "symptom": "other", "note": "pills \u200f5 10"},
            "note",
            "invisible direction character (U+200F RIGHT-TO-LEFT MARK)",
        ),
    ],
)
def test_a_refused_entry_says_which_field_and_keeps_nothing(api_as, staff_a, holter, body, field, says):
    response = api_as(staff_a).post(diary_url(holter), body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["field"] == field and says in error["message"]
    assert not DiaryEntry.objects.exists()


def test_another_clinics_recording_and_a_beat_file_take_no_diary(api_as, staff_a, staff_b, patient_a, holter):
    assert api_as(staff_b).post(diary_url(holter), {"at_s": 1, "symptom": "fatigue"}, format="json").status_code == 404
    assert api_as(staff_b).get(diary_url(holter)).status_code == 404
    beats = submit_beats(staff_a, patient_a)
    refused = api_as(staff_a).post(diary_url(beats), {"at_s": 0, "symptom": "fatigue"}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "recording"
    assert not DiaryEntry.objects.exists()


def test_a_diary_entry_moves_the_recordings_updated_at_and_honours_if_match(api_as, staff_a, holter):
    api = api_as(staff_a)
    read = api.get(f"/api/v1/recordings/{holter.pk}")
    etag, before = read["ETag"], read.json()["updated_at"]
    services.diary_entry_add(recording=holter, by=staff_a, sample=360, symptom="fatigue")  # a colleague's, since
    after = api.get(f"/api/v1/recordings/{holter.pk}").json()["updated_at"]
    assert after > before
    stale = api.post(diary_url(holter), {"at_s": 20, "symptom": "dizziness"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "precondition_failed"
    assert DiaryEntry.objects.count() == 1
    current = api.get(f"/api/v1/recordings/{holter.pk}")["ETag"]
    made = api.post(diary_url(holter), {"at_s": 20, "symptom": "dizziness"}, format="json", HTTP_IF_MATCH=current)
    assert made.status_code == 201 and DiaryEntry.objects.count() == 2
    stamped = api.get(f"/api/v1/recordings/{holter.pk}").json()["updated_at"]
    assert api.delete(f"{diary_url(holter)}/{made.json()['id']}", HTTP_IF_MATCH=etag).status_code == 412
    assert api.delete(f"{diary_url(holter)}/{made.json()['id']}").status_code == 204
    assert api.get(f"/api/v1/recordings/{holter.pk}").json()["updated_at"] > stamped


def test_a_removal_retried_with_its_idempotency_key_is_answered_as_the_first_time(api_as, staff_a, doctor_a, patient_a):
    # a DELETE whose 204 was lost on the way: its retry had been 404 "removed at …", which the client took for a
    # removal that had failed
    recording = signal_recording(
        patient=patient_a, uploaded_by=staff_a, status="queued", sampling_rate=250.0, sample_count=250 * 3600
    )
    api = api_as(staff_a)
    made = api.post(diary_url(recording), {"at_s": 20, "symptom": "dizziness"}, format="json").json()
    entry_url = f"{diary_url(recording)}/{made['id']}"
    first = api.delete(entry_url, HTTP_IDEMPOTENCY_KEY="remove-1")
    assert first.status_code == 204 and "Idempotent-Replayed" not in first
    removed_at = DiaryEntry.objects.get().removed_at
    read = api.get(f"/api/v1/recordings/{recording.pk}")
    retry = api.delete(entry_url, HTTP_IDEMPOTENCY_KEY="remove-1", HTTP_IF_MATCH='"read-before-the-first"')
    assert retry.status_code == 204 and retry["Idempotent-Replayed"] == "true" and retry.content == b""
    # nothing written again: the removal, the recording's updated_at and the audit trail as they were
    assert DiaryEntry.objects.get().removed_at == removed_at
    assert api.get(f"/api/v1/recordings/{recording.pk}")["ETag"] == read["ETag"]
    audited = AuditEvent.objects.filter(object_type="diary_entry", object_id=str(made["id"]))
    assert list(audited.order_by("id").values_list("action", flat=True)) == ["update", "view"]
    # without the key, with another, or the same key by a colleague: removed already, said as before
    for again in (
        api.delete(entry_url),
        api.delete(entry_url, HTTP_IDEMPOTENCY_KEY="remove-2"),
        api_as(doctor_a).delete(entry_url, HTTP_IDEMPOTENCY_KEY="remove-1"),
    ):
        assert again.status_code == 404 and "removed at " in again.json()["error"]["message"], again.content
    # the key is held to the request it came with: another entry's removal with it is refused, and keeps the entry
    other = api.post(diary_url(recording), {"at_s": 30, "symptom": "fatigue"}, format="json").json()
    reused = api.delete(f"{diary_url(recording)}/{other['id']}", HTTP_IDEMPOTENCY_KEY="remove-1")
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "idempotency_key_reused"
    assert DiaryEntry.objects.get(pk=other["id"]).removed_at is None
    # a key unused by a removal refused (404 above) removes the next time
    assert api.delete(f"{diary_url(recording)}/{other['id']}", HTTP_IDEMPOTENCY_KEY="remove-2").status_code == 204


def test_two_removals_with_one_key_at_once_are_both_answered_204(staff_a, patient_a):
    from diagnostics.models import IdempotencyRecord

    recording = signal_recording(
        patient=patient_a, uploaded_by=staff_a, status="queued", sampling_rate=250.0, sample_count=250 * 3600
    )
    entry = services.diary_entry_add(recording=recording, by=staff_a, sample=2500, symptom="fatigue")
    sent = services.idempotency_fingerprint(method="DELETE", path=f"{diary_url(recording)}/{entry.pk}", body=None)
    removed = dict(idempotency_key="gone-1", fingerprint=sent)
    assert services.diary_entry_remove(entry=entry, by=staff_a, **removed) and not entry.replayed
    # the other request, which read the entry before this one removed it, waits for the lock and finds the key
    stale = DiaryEntry.objects.get(pk=entry.pk)
    stale.removed_at = None
    assert services.diary_entry_remove(entry=stale, by=staff_a, **removed) and stale.replayed
    assert IdempotencyRecord.objects.get(key="gone-1").diary_entry_id == entry.pk
    assert not services.diary_entry_remove(entry=stale, by=staff_a)  # without the key: removed already


def test_the_moment_not_used_may_be_sent_as_null(api_as, staff_a, holter):
    # a client that writes every field of its model sends the one it does not use as null
    api = api_as(staff_a)
    made = api.post(diary_url(holter), {"at_s": 12.5, "at": None, "symptom": "fatigue"}, format="json")
    assert made.status_code == 201, made.content
    assert (made.json()["at_s"], made.json()["sample"]) == (12.5, 12.5 * 360)
    holter.recorded_at = datetime.fromisoformat("2026-12-01T14:00:00+01:00")
    holter.save(update_fields=["recorded_at"])
    at = "2026-12-01T14:00:30+01:00"
    made = api.post(diary_url(holter), {"at_s": None, "at": at, "symptom": "fatigue"}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["at_s"] == 30.0 and datetime.fromisoformat(made.json()["at"]) == datetime.fromisoformat(at)
    assert DiaryEntry.objects.count() == 2


def test_a_retry_with_the_moment_written_as_another_form_of_its_number_is_the_same_entry(api_as, staff_a, holter):
    api = api_as(staff_a)
    first = api.post(diary_url(holter), {"at_s": 12.0, "symptom": "fatigue"}, format="json", HTTP_IDEMPOTENCY_KEY="d")
    again = api.post(diary_url(holter), {"at_s": 12, "symptom": "fatigue"}, format="json", HTTP_IDEMPOTENCY_KEY="d")
    assert (first.status_code, again.status_code) == (201, 201) and again["Idempotent-Replayed"] == "true"
    later = api.post(diary_url(holter), {"at_s": 12.5, "symptom": "fatigue"}, format="json", HTTP_IDEMPOTENCY_KEY="d")
    assert later.status_code == 409 and later.json()["error"]["code"] == "idempotency_key_reused"
    assert DiaryEntry.objects.count() == 1


@pytest.mark.parametrize("sent", [1.15, 4.35, 0.29, 33.33, 69.99])
def test_a_moment_sent_reads_back_as_sent(api_as, staff_a, holter, sent):
    made = api_as(staff_a).post(diary_url(holter), {"at_s": sent, "symptom": "fatigue"}, format="json").json()
    assert made["at_s"] == sent and made["sample"] == math.ceil(sent * 360 - 1e-6)  # the first sample at or after it


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"at_s": True, "symptom": "fatigue"}, "at_s", "not true or false"),
        ({"at_s": "12.5", "symptom": "fatigue"}, "at_s", "not str"),
        ({"at": "2026-12-01T14:00:30", "symptom": "fatigue"}, "at", "with its offset from UTC"),
        # written as a date-time but no date or offset there is (had been a 500)
        ({"at": "2026-13-01T14:00:30Z", "symptom": "fatigue"}, "at", "Datetime has wrong format"),
        ({"at": "2026-12-01T14:00:30+99:00", "symptom": "fatigue"}, "at", "Datetime has wrong format"),
    ],
)
def test_a_moment_is_a_number_or_a_date_time_with_its_offset(api_as, staff_a, holter, body, field, says):
    response = api_as(staff_a).post(diary_url(holter), body, format="json")
    assert response.status_code == 400 and response.json()["error"]["field"] == field
    assert says in response.json()["error"]["message"] and not DiaryEntry.objects.exists()


def test_a_note_sent_as_null_is_no_note(api_as, staff_a, holter):
    # a client that writes every field of its model sends an empty note as null, as it does the moment it does not use
    api = api_as(staff_a)
    made = api.post(diary_url(holter), {"at_s": 3, "at": None, "symptom": "fatigue", "note": None}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["note"] == ""
    other = api.post(diary_url(holter), {"at_s": 4, "symptom": "other", "note": None}, format="json")
    assert other.status_code == 400 and other.json()["error"]["field"] == "note"  # "other" needs one
    assert DiaryEntry.objects.count() == 1


@pytest.mark.parametrize("route", ["diary", "activities"])
def test_a_form_is_415_naming_json_as_its_times_are_json_numbers(api_as, staff_a, client, holter, route):
    """A form's fields are all text, and a time is refused as text: the diary's and activities' writes take JSON
    alone, say so, and the schema lists JSON alone."""
    fields = {"at_s": "10", "symptom": "fatigue"} if route == "diary" else {"kind": "medication", "start_s": "10"}
    response = api_as(staff_a).post(f"/api/v1/recordings/{holter.pk}/{route}", fields, format="multipart")
    assert response.status_code == 415, response.content
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert "multipart/form-data" in response.json()["error"]["message"]
    assert not DiaryEntry.objects.exists() and not holter.activities.exists()
    openapi = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    body = openapi["paths"][f"/api/v1/recordings/{{id}}/{route}"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json"}


def test_a_moments_date_time_is_written_as_every_other_time_of_the_api(api_as, staff_a, patient_a):
    # a diary entry's `at` and an activity's `start` and `end` went out as 2026-12-01T13:00:30+00:00 where its
    # `entered_at` beside it, and every other time of the API, reads ...Z: a receiver parses one form
    recording = signal_recording(
        patient=patient_a,
        uploaded_by=staff_a,
        status="queued",
        sampling_rate=360.0,
        sample_count=360 * 120,
        recorded_at=datetime.fromisoformat("2026-12-01T14:00:00+01:00"),
    )
    api = api_as(staff_a)
    made = api.post(diary_url(recording), {"at_s": 30.5, "symptom": "palpitations"}, format="json")
    assert made.status_code == 201, made.content
    activity = api.post(
        f"/api/v1/recordings/{recording.pk}/activities", {"kind": "sleep", "start_s": 10, "end_s": 70}, format="json"
    )
    assert activity.status_code == 201, activity.content
    entry, period = made.json(), activity.json()
    assert entry["entered_at"].endswith("Z")
    assert (entry["at"], period["start"], period["end"]) == (
        "2026-12-01T13:00:30.500000Z",
        "2026-12-01T13:00:10Z",
        "2026-12-01T13:01:10Z",
    )


def test_a_date_time_outside_the_recording_is_refused_with_the_times_it_ran(api_as, staff_a, holter, settings):
    """A client that wrote the clinic's wall clock with ``Z`` (an hour off in Berlin) was told only the recording's
    length in seconds: it now reads when the recording ran, in the form it sends."""
    settings.TIME_ZONE = "Europe/Berlin"
    holter.recorded_at = datetime.fromisoformat("2026-12-01T14:00:00+01:00")
    holter.save(update_fields=["recorded_at"])
    refused = api_as(staff_a).post(
        diary_url(holter), {"at": "2026-12-01T14:00:30Z", "symptom": "fatigue"}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == {
        "code": "validation_error",
        "field": "at",
        "message": "The moment is outside the recording, which ran from 2026-12-01T14:00:00+01:00 to "
        "2026-12-01T14:01:10+01:00 (70.00 s).",
        "details": {"at": [refused.json()["error"]["message"]]},
    }
    assert not DiaryEntry.objects.exists()
