"""recordings/{id}/activities and recordings/{id}/sleep: the diary's activities over the API, each period with the
heart rate over it, and the heart rate awake and asleep; their schema, audit rows, Idempotency-Key, preconditions and
clinic scope."""

import re
from datetime import datetime, timedelta

import pytest

from accounts.models import AuditEvent
from diagnostics import services
from diagnostics.models import DiaryActivity

from ..conftest import client_for
from ..diagnostics.test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)
from ..factories import signal_recording
from ..helpers import strict_validator
from .conftest import submit_beats

pytestmark = pytest.mark.django_db


@pytest.fixture
def holter(request):
    """70 s of MIT-BIH 207 at 360 Hz (VF from 41.5 s to 61.5 s), classified."""
    return request.getfixturevalue("holter_recording")


def url(recording, tail: str = "activities") -> str:
    return f"/api/v1/recordings/{recording.pk}/{tail}"


def schema(client) -> dict:
    return client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def test_an_activity_is_sent_and_read_back_with_the_heart_rate_over_it(api_as, staff_a, client, holter):
    api = api_as(staff_a)
    sent = {"kind": "sleep", "start_s": 1.5, "end_s": 40, "note": "dozed off"}
    response = api.post(url(holter), sent, format="json", HTTP_IDEMPOTENCY_KEY="night-1")
    assert response.status_code == 201, response.content
    made = response.json()
    night = DiaryActivity.objects.get()
    assert (made["id"], made["start_sample"], made["end_sample"]) == (night.pk, 540, 40 * 360)
    assert (made["start_s"], made["end_s"], made["start"], made["end"]) == (1.5, 40.0, None, None)
    assert made["entered_by"] == {"id": staff_a.pk, "name": staff_a.display_name} and made["note"] == "dozed off"
    assert made["heart_rate"]["minutes"] == 1 and made["heart_rate"]["mean_bpm"] > 0  # minute 0's middle is in it
    assert made["heart_rate"]["lowest"]["minute"] == 0
    replay = api.post(url(holter), sent, format="json", HTTP_IDEMPOTENCY_KEY="night-1")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true" and replay.json() == made
    pills = api.post(url(holter), {"kind": "medication", "start_s": 5}, format="json").json()
    assert pills["end_sample"] is None and pills["heart_rate"] is None  # a moment has no rate over it
    listed = api.get(url(holter)).json()["results"]
    assert [a["id"] for a in listed] == [made["id"], pills["id"]]  # in the order they began
    openapi = schema(client)
    for activity in listed:
        strict_validator(openapi, "DiaryActivity").validate(activity)  # what is served is what the schema says
    writes = AuditEvent.objects.filter(action="update", object_type="recording", object_id=str(holter.pk))
    assert writes.count() == 2  # the replay is no second write
    assert api.delete(f"{url(holter)}/{pills['id']}").status_code == 204
    assert AuditEvent.objects.filter(action="update", object_type="diary_activity", object_id=str(pills["id"])).exists()
    gone = api.delete(f"{url(holter)}/{pills['id']}")
    assert gone.status_code == 404 and "removed at " in gone.json()["error"]["message"]
    assert [a["id"] for a in api.get(url(holter)).json()["results"]] == [made["id"]]
    kept = api.get(url(holter), {"removed": "true"}).json()["results"]
    assert kept[1]["removed_by"]["id"] == staff_a.pk and kept[1]["removed_at"]


def test_the_heart_rate_awake_and_asleep_follows_the_diarys_sleep(api_as, staff_a, client, holter):
    api = api_as(staff_a)
    none = api.get(url(holter, "sleep"))
    assert none.status_code == 200 and none.json()["awake"] is None and none.json()["sleep_periods"] == 0
    holter.recorded_at = datetime.fromisoformat("2026-12-01T23:59:30+01:00")
    holter.save(update_fields=["recorded_at"])
    # a night across midnight, as date-times with their offset
    night = {"kind": "sleep", "start": "2026-12-01T23:59:35+01:00", "end": "2026-12-02T00:00:20+01:00"}
    made = api.post(url(holter), night, format="json")
    assert made.status_code == 201, made.content
    assert (made.json()["start_s"], made.json()["end_s"]) == (5.0, 50.0)
    assert datetime.fromisoformat(made.json()["end"]) == datetime.fromisoformat(night["end"])
    figures = api.get(url(holter, "sleep"))
    assert figures.status_code == 200
    found = figures.json()
    strict_validator(schema(client), "AwakeAsleep").validate(found)
    assert found["sleep_periods"] == 1 and found["extreme_beats"] == 4
    assert (found["asleep"]["minutes"], found["awake"]["minutes"]) == (1, 1)
    events = {e["type"]: (e["asleep"], e["total"]) for e in found["events"]}
    assert events["vf"] == (1, 1) and found["events"][0]["type"] == "vf"  # at 0:00:41, asleep; the most serious first
    # each extreme says when its minute began, in seconds and as a date-time (a minute's number alone had not)
    lowest = found["awake"]["lowest"]
    assert lowest["at_s"] == 60.0 * lowest["minute"]
    assert datetime.fromisoformat(lowest["at"]) == holter.recorded_at + timedelta(seconds=lowest["at_s"])
    activity = api.get(url(holter)).json()["results"][0]
    strict_validator(schema(client), "DiaryActivity").validate(activity)
    assert activity["heart_rate"]["lowest"]["at_s"] == 60.0 * activity["heart_rate"]["lowest"]["minute"]


def test_the_af_burden_awake_and_asleep_is_given_beside_the_heart_rate(api_as, staff_a, doctor_a, client, holter):
    # nocturnal AF is read against the night: the burden had been the recording's alone
    from diagnostics.models import Event

    api = api_as(staff_a)
    assert api.post(url(holter), {"kind": "sleep", "start_s": 0, "end_s": 59}, format="json").status_code == 201
    fs = holter.sampling_rate
    af = Event.objects.create(
        recording=holter, clinic=holter.clinic, type="af", start=int(10 * fs), end=int(40 * fs) - 1, beats=30
    )
    found = api.get(url(holter, "sleep")).json()
    strict_validator(schema(client), "AwakeAsleep").validate(found)
    assert (found["asleep"]["af_burden_pct"], found["awake"]["af_burden_pct"]) == (50.0, 0.0)  # 30 s of minute 0
    page = client_for(client, staff_a).get(f"/recordings/{holter.pk}/").content.decode()
    assert re.search(r"AF / flutter burden</th><td>0\.0 %</td><td>50\.0 %</td>", page)
    # an episode a doctor rejected is not counted
    services.event_review_create(user=doctor_a, event=af, decision="reject", note="artefact")
    assert api.get(url(holter, "sleep")).json()["asleep"]["af_burden_pct"] == 0.0


def test_an_activitys_removal_retried_with_its_idempotency_key_is_answered_as_the_first_time(
    api_as, staff_a, patient_a
):
    # as a diary entry's: the retry of a DELETE whose 204 was lost had been 404
    recording = signal_recording(
        patient=patient_a, uploaded_by=staff_a, status="queued", sampling_rate=250.0, sample_count=250 * 3600
    )
    api = api_as(staff_a)
    made = api.post(url(recording), {"kind": "exercise", "start_s": 60, "end_s": 600}, format="json").json()
    activity_url = f"{url(recording)}/{made['id']}"
    assert api.delete(activity_url, HTTP_IDEMPOTENCY_KEY="walk-gone").status_code == 204
    removed_at = DiaryActivity.objects.get().removed_at
    retry = api.delete(activity_url, HTTP_IDEMPOTENCY_KEY="walk-gone")
    assert retry.status_code == 204 and retry["Idempotent-Replayed"] == "true"
    assert DiaryActivity.objects.get().removed_at == removed_at
    for again in (api.delete(activity_url), api.delete(activity_url, HTTP_IDEMPOTENCY_KEY="walk-gone-2")):
        assert again.status_code == 404 and "removed at " in again.json()["error"]["message"]
    # the key of the POST that made it is another request's
    pills = api.post(url(recording), {"kind": "medication", "start_s": 5}, format="json", HTTP_IDEMPOTENCY_KEY="pills")
    reused = api.delete(f"{url(recording)}/{pills.json()['id']}", HTTP_IDEMPOTENCY_KEY="pills")
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "idempotency_key_reused"
    assert DiaryActivity.objects.get(pk=pills.json()["id"]).removed_at is None


def test_the_heart_rate_awake_and_asleep_waits_for_the_analysis(api_as, staff_a, patient_a):
    pending = signal_recording(
        patient=patient_a, uploaded_by=staff_a, status="queued", sampling_rate=250.0, sample_count=250 * 3600
    )
    response = api_as(staff_a).get(url(pending, "sleep"))
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_ready"
    made = api_as(staff_a).post(url(pending), {"kind": "exercise", "start_s": 60, "end_s": 600}, format="json")
    assert made.status_code == 201 and made.json()["heart_rate"] is None  # entered while it is analysed


def test_a_period_under_a_minute_between_two_minutes_middles_has_the_rate_of_the_minute_it_lies_in(
    api_as, staff_a, holter
):
    # 0:35-0:50 holds neither minute 0's middle (0:30) nor minute 1's (1:05 of the 70 s): it had null rates
    made = api_as(staff_a).post(url(holter), {"kind": "exercise", "start_s": 35, "end_s": 50}, format="json")
    assert made.status_code == 201, made.content
    rate = made.json()["heart_rate"]
    assert rate["minutes"] == 1 and rate["mean_bpm"] > 0 and rate["lowest"]["minute"] == 0


def test_a_period_may_end_where_the_recording_ends(api_as, staff_a, holter):
    # "slept to the end of the recording" had been refused as outside it: the last sample is its end
    made = api_as(staff_a).post(url(holter), {"kind": "sleep", "start_s": 10, "end_s": 70}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["end_sample"] == holter.sample_count - 1


@pytest.mark.parametrize(
    ("sent", "field", "says"),
    [
        ({"kind": "sleep", "end_s": 20}, "start_s", "one of them"),
        ({"kind": "sleep", "start_s": 1, "start": "2026-12-01T14:00:30+01:00", "end_s": 20}, "start_s", "one of them"),
        ({"kind": "sleep", "start_s": 1, "end_s": 2, "end": "2026-12-01T14:00:30+01:00"}, "end_s", "not both"),
        ({"kind": "sleep", "start_s": 10}, "end_s", "Give when it ended"),
        ({"kind": "sleep", "start_s": 10, "end_s": 5}, "end_s", "not after the beginning"),
        ({"kind": "sleep", "start_s": 10, "end_s": 70.01}, "end_s", "outside the recording, which is 70.00 s long"),
        ({"kind": "sleep", "start_s": 70, "end_s": 70}, "start_s", "outside the recording, which is 70.00 s long"),
        ({"kind": "medication", "start_s": 10, "end_s": 20}, "end_s", "A medicine taken is a moment"),
        ({"kind": "other", "start_s": 10}, "note", "Say what the activity was in the note."),
        ({"kind": "nap", "start_s": 10}, "kind", ""),
        (
            {"kind": "other", "start_s": 10, "note": "walk \u2067up\u2069"},
            "note",
            "The note holds an invisible direction character (U+2067 RIGHT-TO-LEFT ISOLATE)",
        ),
        ({"kind": "sleep", "start": "2026-12-01T14:00:30+01:00", "end_s": 20}, "start", "did not say when it started"),
        ({"kind": "sleep", "start_s": "10", "end_s": 20}, "start_s", "not str"),
        ({"kind": "medication", "at_s": 10}, "at_s", "unknown field"),
        ({"kind": "sleep", "start_s": None, "start": None, "end_s": 20}, "start_s", "neither was given"),
        # a date-time's form with no such date or offset (had been a 500)
        ({"kind": "sleep", "start": "2026-02-30T14:00:30Z", "end_s": 20}, "start", "Datetime has wrong format"),
        ({"kind": "sleep", "start_s": 1, "end": "2026-12-01T14:00:30-25:00"}, "end", "Datetime has wrong format"),
    ],
)
def test_a_refused_activity_says_which_field_and_keeps_nothing(api_as, staff_a, holter, sent, field, says):
    response = api_as(staff_a).post(url(holter), sent, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["field"] == field and says in error["message"]
    assert not DiaryActivity.objects.exists()


@pytest.mark.parametrize(
    ("sent", "field"),
    [
        ({"kind": "medication", "start_s": 10, "end_s": 20}, "end_s"),
        ({"kind": "medication", "start": "2026-12-01T23:59:40+01:00", "end": "2026-12-01T23:59:50+01:00"}, "end"),
        ({"kind": "exercise", "start_s": 10}, "end_s"),
        ({"kind": "exercise", "start": "2026-12-01T23:59:40+01:00"}, "end"),
        ({"kind": "sleep", "start_s": 20, "end_s": 40}, "start_s"),
        ({"kind": "sleep", "start": "2026-12-01T23:59:50+01:00", "end_s": 40}, "start"),
    ],
)
def test_a_refusal_names_the_beginning_or_end_as_sent(api_as, staff_a, holter, sent, field):
    """The service names them "start" and "end": a client that sent end_s marks the field it filled, not another."""
    holter.recorded_at = datetime.fromisoformat("2026-12-01T23:59:30+01:00")
    holter.save(update_fields=["recorded_at"])
    services.diary_activity_add(recording=holter, by=staff_a, kind="sleep", start=5 * 360, end=30 * 360)
    response = api_as(staff_a).post(url(holter), sent, format="json")
    assert response.status_code in (400, 409), response.content
    assert response.json()["error"]["field"] == field
    assert DiaryActivity.objects.count() == 1


def test_a_sleep_period_over_another_is_a_conflict(api_as, staff_a, holter):
    api = api_as(staff_a)
    assert api.post(url(holter), {"kind": "sleep", "start_s": 5, "end_s": 30}, format="json").status_code == 201
    clash = api.post(url(holter), {"kind": "sleep", "start_s": 20, "end_s": 40}, format="json")
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "sleep_overlap"
    assert "overlaps the one entered from 0:00:05 to 0:00:30" in clash.json()["error"]["message"]
    assert clash.json()["error"]["field"] == "start_s"  # as sent


def test_another_clinics_recording_and_a_beat_file_take_no_activity(api_as, staff_a, staff_b, patient_a, holter):
    mine = services.diary_activity_add(recording=holter, by=staff_a, kind="medication", start=0)
    other = api_as(staff_b)
    assert other.post(url(holter), {"kind": "medication", "start_s": 1}, format="json").status_code == 404
    assert other.get(url(holter)).status_code == 404 and other.get(url(holter, "sleep")).status_code == 404
    assert other.delete(f"{url(holter)}/{mine.pk}").status_code == 404
    beats = submit_beats(staff_a, patient_a)
    refused = api_as(staff_a).post(url(beats), {"kind": "medication", "start_s": 0}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["field"] == "recording"
    assert DiaryActivity.objects.count() == 1


def test_an_activity_moves_the_recordings_updated_at_and_honours_if_match(api_as, staff_a, holter):
    api = api_as(staff_a)
    read = api.get(f"/api/v1/recordings/{holter.pk}")
    etag, before = read["ETag"], read.json()["updated_at"]
    services.diary_activity_add(recording=holter, by=staff_a, kind="medication", start=360)  # a colleague's, since
    assert api.get(f"/api/v1/recordings/{holter.pk}").json()["updated_at"] > before
    sent = {"kind": "exercise", "start_s": 10, "end_s": 20}
    stale = api.post(url(holter), sent, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412 and stale.json()["error"]["code"] == "precondition_failed"
    assert DiaryActivity.objects.count() == 1
    current = api.get(f"/api/v1/recordings/{holter.pk}")["ETag"]
    made = api.post(url(holter), sent, format="json", HTTP_IF_MATCH=current)
    assert made.status_code == 201 and DiaryActivity.objects.count() == 2
    assert api.delete(f"{url(holter)}/{made.json()['id']}", HTTP_IF_MATCH=etag).status_code == 412
    assert api.delete(f"{url(holter)}/{made.json()['id']}", HTTP_IF_MATCH=current).status_code == 412  # moved on
    assert api.delete(f"{url(holter)}/{made.json()['id']}").status_code == 204


def test_the_beginning_or_end_not_used_may_be_sent_as_null(api_as, staff_a, holter):
    """As for a diary entry's moment: a client writing every field of its model sends the one it does not use."""
    sent = {"kind": "sleep", "start_s": 10, "start": None, "end_s": 20, "end": None, "note": ""}
    made = api_as(staff_a).post(url(holter), sent, format="json")
    assert made.status_code == 201, made.content
    assert (made.json()["start_s"], made.json()["end_s"]) == (10.0, 20.0)
    pill = {"kind": "medication", "start_s": 30, "end_s": None, "end": None}
    assert api_as(staff_a).post(url(holter), pill, format="json").json()["end_s"] is None


def test_a_note_sent_as_null_is_no_note(api_as, staff_a, holter):
    sent = {"kind": "medication", "start_s": 30, "end_s": None, "end": None, "note": None}
    made = api_as(staff_a).post(url(holter), sent, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["note"] == ""
    other = api_as(staff_a).post(url(holter), {"kind": "other", "start_s": 3, "note": None}, format="json")
    assert other.status_code == 400 and other.json()["error"]["field"] == "note"  # "other" needs one
    assert DiaryActivity.objects.count() == 1
