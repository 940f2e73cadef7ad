"""The diary's activities (sleep, exercise, medication): read from what the clinic types, kept as the rules allow,
and the heart rate awake and asleep in the Holter summary and the printed report."""

import re
from datetime import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from diagnostics import diary, services
from diagnostics.models import DiaryActivity, ECGRecording
from ecgsite.errors import Conflict, Invalid, NotFound

from ..conftest import client_for
from ..factories import signal_recording
from ..helpers import beat_recording
from .test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)

pytestmark = pytest.mark.django_db
FS = 360.0


@pytest.fixture
def holter(request):
    """70 s of MIT-BIH 207 (VF from 41.5 s to 61.5 s), classified."""
    return request.getfixturevalue("holter_recording")


def add(recording, user, kind: str, start_s: float, end_s: float | None = None, note: str = "") -> DiaryActivity:
    fs = recording.sampling_rate or 1.0  # (a beat file has none)
    return services.diary_activity_add(
        recording=recording,
        by=user,
        kind=kind,
        start=int(start_s * fs),
        end=None if end_s is None else int(end_s * fs),
        note=note,
    )


def evening_recording(patient, user) -> ECGRecording:
    """12 hours at 250 Hz from 20:15 on the clinic's wall clock, waiting for its analysis."""
    return signal_recording(
        patient=patient,
        uploaded_by=user,
        status="queued",
        sampling_rate=250.0,
        sample_count=250 * 12 * 3600,
        recorded_at=timezone.make_aware(datetime(2026, 11, 30, 20, 15)),
    )


# --- times --------------------------------------------------------------------------------------------------------


def test_a_night_written_across_midnight_ends_the_next_morning(staff_a, patient_a):
    recording = evening_recording(patient_a, staff_a)
    assert diary.span_of(recording, "23:10", "06:45") == (250 * (2 * 3600 + 55 * 60), 250 * (10 * 3600 + 30 * 60))
    assert diary.span_of(recording, "21:00", "22:30") == (250 * 45 * 60, 250 * (2 * 3600 + 15 * 60))
    assert diary.span_of(recording, "22:00", "") == (250 * 105 * 60, None)  # a moment
    with pytest.raises(
        Invalid, match=r"09:00 is outside the recording: it ran from 20:15:00 to 08:15:00 the next"
    ) as refused:
        diary.span_of(recording, "23:10", "09:00")  # the next morning's 09:00 is past its end
    assert refused.value.field == "end"
    with pytest.raises(Invalid, match=r"23:00 is before the beginning, and 23:00 the next day is outside") as refused:
        diary.span_of(recording, "23:10", "23:00")
    assert refused.value.field == "end"
    with pytest.raises(Invalid, match="is not a time of day") as refused:
        diary.span_of(recording, "late", "06:45")
    assert refused.value.field == "start"


def test_a_to_before_its_from_is_refused_naming_it(holter):
    assert not diary.reads_time_of_day(holter)
    assert diary.span_of(holter, "0:10", "0:50") == (10 * 360, 50 * 360)
    with pytest.raises(Invalid, match="“0:05” is not after “0:10”: the end comes after the beginning") as refused:
        diary.span_of(holter, "0:10", "0:05")
    assert refused.value.field == "end"
    with pytest.raises(Invalid, match="past the end of the recording") as refused:
        diary.span_of(holter, "0:10", "5:00")
    assert refused.value.field == "end"
    # a period may end where the recording ends (its last sample), a moment may not lie there
    assert diary.span_of(holter, "0:10", "1:10") == (10 * 360, holter.sample_count - 1)
    with pytest.raises(Invalid, match="1:11 is past the end of the recording, which is 0:01:10 long"):
        diary.span_of(holter, "0:10", "1:11")
    with pytest.raises(Invalid, match="past the end"):
        diary.sample_of(holter, "1:10")


def test_a_period_written_in_times_of_day_may_end_in_the_minute_the_recording_ended(holter):
    from datetime import datetime

    from django.utils import timezone

    holter.recorded_at = timezone.make_aware(datetime(2026, 3, 1, 23, 59, 40))  # to 00:00:50, the next day
    holter.save(update_fields=["recorded_at"])
    assert diary.reads_time_of_day(holter)
    # a diary writes times to the minute: "to 00:01" is the recording's end, 10 s after it
    assert diary.span_of(holter, "23:59:50", "00:01") == (10 * 360, holter.sample_count - 1)
    assert diary.span_of(holter, "23:59:50", "00:00:50") == (10 * 360, holter.sample_count - 1)
    with pytest.raises(Invalid, match="00:02 is outside the recording") as refused:
        diary.span_of(holter, "23:59:50", "00:02")
    assert refused.value.field == "end"
    with pytest.raises(Invalid, match="00:01 is outside the recording"):
        diary.sample_of(holter, "00:01")  # a moment is not a period's end


# --- the service ---------------------------------------------------------------------------------------------------


def test_an_activity_is_kept_only_as_the_rules_allow(holter, staff_a, staff_b, patient_a):
    night = add(holter, staff_a, "sleep", 10, 50)
    tablets = add(holter, staff_a, "medication", 5, note="  bisoprolol \n 5 mg ")
    assert (night.kind, night.start, night.end, night.clinic_id, night.entered_by) == (
        "sleep",
        3600,
        18000,
        holter.clinic_id,
        staff_a,
    )
    assert (tablets.end, tablets.note) == (None, "bisoprolol 5 mg")
    refusals = [
        (dict(kind="exercise", start_s=10), "end", "Give when it ended: exercise or exertion is a period"),
        (dict(kind="medication", start_s=10, end_s=20), "end", "A medicine taken is a moment"),
        (dict(kind="other", start_s=10), "note", "Say what the activity was in the note"),
        (dict(kind="exercise", start_s=20, end_s=20), "end", "The end is not after the beginning"),
        (dict(kind="nap", start_s=20, end_s=30), "kind", "Choose the activity"),
        (dict(kind="exercise", start_s=20, end_s=70), "end", "outside the recording"),
    ]
    for given, field, says in refusals:
        with pytest.raises(Invalid, match=says) as refused:
            add(holter, staff_a, **given)
        assert refused.value.field == field, given
    with pytest.raises(NotFound):  # another clinic's recording is not found, as an unknown one
        add(holter, staff_b, "medication", 5)
    with pytest.raises(Invalid, match="holds beat rows, not a signal"):
        add(beat_recording(staff_a, patient_a, classify=False), staff_a, "medication", 0)
    assert add(holter, staff_a, "other", 30, note="argument on the phone").end is None  # other: a moment or a period
    assert DiaryActivity.objects.count() == 3


def test_a_sleep_period_over_another_is_refused_and_a_removed_one_makes_room(holter, staff_a):
    night = add(holter, staff_a, "sleep", 10, 30)
    with pytest.raises(Conflict, match=r"overlaps the one entered from 0:00:10 to 0:00:30") as refused:
        add(holter, staff_a, "sleep", 25, 40)
    assert (refused.value.code, refused.value.field) == ("sleep_overlap", "start")
    add(holter, staff_a, "sleep", 31, 40)  # the next nap, after the first
    add(holter, staff_a, "exercise", 20, 35)  # exertion and sleep are not both a minute's state
    assert services.diary_activity_remove(activity=night, by=staff_a)
    add(holter, staff_a, "sleep", 5, 30)  # entered again, as it should have been
    assert DiaryActivity.objects.filter(kind="sleep", removed_at__isnull=True).count() == 2


def test_activities_are_bounded_and_counted_under_the_recordings_lock(holter, staff_a):
    DiaryActivity.objects.bulk_create(
        DiaryActivity(recording=holter, clinic_id=holter.clinic_id, kind="medication", start=i, entered_by=staff_a)
        for i in range(DiaryActivity.MAX_PER_RECORDING - 1)
    )
    with CaptureQueriesContext(connection) as queries:
        add(holter, staff_a, "medication", 30)
    statements = [q["sql"] for q in queries.captured_queries]
    locked = next(i for i, sql in enumerate(statements) if "FOR UPDATE" in sql and "ecgrecording" in sql)
    counted = next(i for i, sql in enumerate(statements) if "COUNT(*)" in sql and "diaryactivity" in sql)
    assert locked < counted  # two at once wait for each other: the second counts the first
    with pytest.raises(Conflict, match="holds 30 activities, as many as one can") as refused:
        add(holter, staff_a, "medication", 31)
    assert refused.value.code == "activities_full"


def test_an_activity_is_entered_once_per_key_and_removed_once_each_stamping_the_recording(holter, staff_a, staff_b):
    before = ECGRecording.objects.get(pk=holter.pk).updated_at
    key = {"idempotency_key": "night-1", "fingerprint": "f1"}
    first = services.diary_activity_add(recording=holter, by=staff_a, kind="sleep", start=360, end=7200, **key)
    again = services.diary_activity_add(recording=holter, by=staff_a, kind="sleep", start=360, end=7200, **key)
    assert (first.replayed, again.replayed, again.pk) == (False, True, first.pk)
    assert DiaryActivity.objects.count() == 1
    stamped = ECGRecording.objects.get(pk=holter.pk).updated_at
    assert stamped > before
    with pytest.raises(NotFound):
        services.diary_activity_remove(activity=first, by=staff_b)
    assert services.diary_activity_remove(activity=first, by=staff_a)
    first.refresh_from_db()
    assert first.removed_by == staff_a and first.removed_at is not None  # kept, marked removed
    assert ECGRecording.objects.get(pk=holter.pk).updated_at > stamped
    assert not services.diary_activity_remove(activity=first, by=staff_a)  # a second click writes nothing


# --- the page ------------------------------------------------------------------------------------------------------


def submission_of(page: str) -> str:
    return re.search(r'name="activity-submission" value="([0-9a-f]{32})"[^>]*>\s*<h3>Enter an activity', page)[1]


def test_a_night_across_midnight_is_entered_on_the_page_and_the_summary_gives_the_rate_awake_and_asleep(
    client, staff_a, holter
):
    holter.recorded_at = timezone.make_aware(datetime(2026, 12, 1, 23, 59, 30))
    holter.save(update_fields=["recorded_at"])
    staff = client_for(client, staff_a)
    page_url = reverse("recording-detail", args=[holter.pk])
    page = staff.get(page_url).content.decode()
    assert "No activities." in page and 'id="awake-asleep"' not in page  # no sleep entered: no table
    sent = {
        "activity-kind": "sleep",
        "activity-start": "23:59:40",
        "activity-end": "00:00:20",
        "activity-note": "",
        "activity-submission": submission_of(page),
    }
    response = staff.post(reverse("recording-activity", args=[holter.pk]), sent)
    assert response.status_code == 302 and response["Location"] == f"{page_url}#activity-form"
    night = DiaryActivity.objects.get()
    assert (night.kind, night.start, night.end) == ("sleep", 10 * 360, 50 * 360)
    again = staff.post(reverse("recording-activity", args=[holter.pk]), sent)  # a double click
    assert again["Idempotent-Replayed"] == "true" and DiaryActivity.objects.count() == 1
    page = staff.get(page_url).content.decode()
    item = page[page.index(f'id="diary-activity-{night.pk}"') :]
    assert 'Asleep <span class="muted small">from 23:59:40 (0:00:10 in) to 00:00:20 (0:00:50 in)' in item
    assert "40 s · entered by" in item and "Heart rate over it: mean" in item
    assert "Asleep from 23:59:40 (0:00:10 in) to 00:00:20 (0:00:50 in) entered." in page
    # the Holter summary: minute 0 (its middle at midnight) asleep, minute 1 awake
    summary = page[page.index('id="holter"') : page.index('id="trend-title"')]
    table = summary[summary.index('id="awake-asleep"') :]
    figures = diary.awake_asleep(holter, holter.diagnosis.rhythm, [night])
    assert (figures["asleep"]["minutes"], figures["awake"]["minutes"]) == (1, 1)
    assert f"<td>{figures['asleep']['mean_bpm']} bpm</td>" in table
    assert "in the sleep period of the patient's diary" in table
    assert "the summary's minimum and maximum are over 8 beats" in table
    assert (
        AuditEvent.objects.filter(action="update", object_type="recording", path__endswith="/activities/").count() == 1
    )
    report = staff.get(reverse("recording-report", args=[holter.pk])).content.decode()
    assert report.count('id="awake-asleep"') == 1 and "<h3>Activities</h3>" in report
    assert "<td>00:00:20 (0:00:50 in) (40 s)</td>" in report


def test_the_rhythm_events_of_the_night_are_counted_apart(client, staff_a, doctor_a, holter):
    add(holter, staff_a, "sleep", 0, 40)  # 207's supraventricular runs before its VF
    figures = diary.awake_asleep(holter, holter.diagnosis.rhythm, list(DiaryActivity.objects.all()))
    counts = {e["type"]: (e["asleep"], e["total"]) for e in figures["events"]}
    assert counts["vf"] == (0, 1)  # at 0:00:41, awake
    assert counts["s_run"][0] >= 1
    assert [e["type"] for e in figures["events"]][0] == "vf"  # the most serious first
    vf = holter.events.get(type="vf")
    client_for(client, doctor_a).post(reverse("event-review", args=[vf.pk]), {"decision": "reject", "note": "noise"})
    figures = diary.awake_asleep(holter, holter.diagnosis.rhythm, list(DiaryActivity.objects.all()))
    assert "vf" not in {e["type"] for e in figures["events"]} and figures["rejected"] == 1


def test_an_episode_that_began_awake_and_ran_on_into_sleep_is_said_beside_the_asleep_count(client, staff_a, holter):
    # 207's VF from 0:00:41 to 0:01:01, a sleep noted from 0:00:45: the VF began awake, and the asleep column had
    # said 0 beside it, as if the night had been free of it (an evening's AF running through the night likewise)
    add(holter, staff_a, "sleep", 45, 60)
    vf = holter.events.get(type="vf")
    assert vf.start < 45 * FS <= vf.end
    page = client_for(client, staff_a).get(reverse("recording-detail", args=[holter.pk])).content.decode()
    table = page[page.index('id="awake-asleep"') : page.index('id="awake-asleep-note"')]
    assert '<th scope="colgroup" colspan="3">Rhythm events, by where each began</th>' in table
    row = re.search(r'<th scope="row">Ventricular flutter / fibrillation</th><td>1</td><td>(.*?)</td>', table)
    assert row, table
    assert row[1].startswith("0 ") and "and 1 that began awake ran on into sleep" in row[1]
    figures = diary.awake_asleep(holter, holter.diagnosis.rhythm, list(DiaryActivity.objects.all()))
    assert {e["type"]: e["ran_into_sleep"] for e in figures["events"]}["vf"] == 1


@pytest.mark.parametrize(
    ("typed", "field", "says"),
    [
        ({"kind": "exercise", "start": "0:40", "end": "0:20"}, "end", "“0:20” is not after “0:40”"),
        ({"kind": "medication", "start": "0:40", "end": "0:50"}, "end", "A medicine taken is a moment"),
        ({"kind": "", "start": "0:40", "end": ""}, "kind", "Choose the activity the diary names."),
        ({"kind": "sleep", "start": "ten", "end": "0:50"}, "start", "is not a time into the recording"),
        ({"kind": "sleep", "start": "0:15", "end": "0:25"}, "start", "overlaps the one entered from 0:00:10"),
    ],
)
def test_a_refused_activity_goes_back_to_the_form_as_typed_with_the_reason_beside_the_field(
    client, staff_a, holter, typed, field, says
):
    add(holter, staff_a, "sleep", 10, 30)
    staff = client_for(client, staff_a)
    sent = {f"activity-{name}": value for name, value in typed.items()} | {"activity-note": "after lunch"}
    response = staff.post(reverse("recording-activity", args=[holter.pk]), sent)
    assert response["Location"].endswith("#activity-form") and DiaryActivity.objects.count() == 1
    page = staff.get(response["Location"]).content.decode()
    form = page[page.index('id="activity-form"') : page.index("</form>", page.index('id="activity-form"'))]
    error = re.search(rf'<p class="error" id="activity-{field}-error" role="alert">([^<]*)</p>', form)
    assert error and says in error[1]
    assert f'aria-describedby="activity-time-help activity-{field}-error"' in form or field in ("kind", "note")
    assert 'value="after lunch"' in form  # the draft kept
    if typed["start"]:
        assert f'value="{typed["start"]}"' in form
    assert form.count('aria-invalid="true"') == 1
    assert "has-error" not in staff.get(response["Location"]).content.decode()  # said once
    assert not AuditEvent.objects.filter(path__endswith="/activities/", action="update").exists()


def test_an_activity_entered_by_mistake_is_removed_by_the_clinic_alone(client, staff_a, staff_b, holter):
    made = add(holter, staff_a, "exercise", 20, 40, note="stairs")
    url = reverse("recording-activity-remove", args=[holter.pk, made.pk])
    assert client_for(client, staff_b).post(url).status_code == 404
    client.logout()
    staff = client_for(client, staff_a)
    assert staff.get(url).status_code == 405
    response = staff.post(url)
    assert response["Location"].endswith("#activities")
    page = staff.get(response["Location"]).content.decode()
    assert "The activity “Exercise or exertion from 0:00:20” was removed." in page and "No activities." in page
    assert AuditEvent.objects.filter(action="update", object_type="diary_activity", object_id=str(made.pk)).count() == 1
    assert "had been removed already" in staff.get(staff.post(url)["Location"]).content.decode()


def test_a_recording_in_analysis_takes_activities_and_shows_no_rate_yet(client, staff_a, patient_a):
    recording = evening_recording(patient_a, staff_a)
    services.diary_activity_add(recording=recording, by=staff_a, kind="sleep", start=250 * 3 * 3600, end=250 * 36000)
    page = client_for(client, staff_a).get(reverse("recording-detail", args=[recording.pk])).content.decode()
    assert 'Asleep <span class="muted small">from 23:15:00 (3:00:00 in) to 06:15:00 (10:00:00 in)' in page
    assert "7 h 0 min" in page and "The heart rate over it is shown once the analysis has finished." in page
    assert 'id="awake-asleep"' not in page


def test_the_diarys_entries_and_activities_are_headed_under_their_lists_headings(client, staff_a, holter):
    # each entry and activity had an h3 as its list's heading had ("Entries", "Activities"): a screen reader's list
    # of headings gave them side by side, the lists' headings lost among them
    add(holter, staff_a, "sleep", 10, 30)
    services.diary_entry_add(recording=holter, by=staff_a, sample=int(12 * FS), symptom="palpitations", note="")
    page = client_for(client, staff_a).get(reverse("recording-detail", args=[holter.pk])).content.decode()
    section = page[page.index('id="diary"') : page.index("</section>", page.index('id="diary"'))]
    assert re.findall(r"<h3[^>]*>([^<]*)", section) == [
        "Enter a symptom from the diary",
        "Entries",
        "Enter an activity",
        "Activities",
    ]
    assert re.findall(r"<h4>([^<]*)", section) == ["Palpitations ", "Asleep "]


def test_removed_activities_count_toward_the_bound_as_they_are_kept(staff_a, patient_a):
    recording = signal_recording(
        patient=patient_a, uploaded_by=staff_a, status="queued", sampling_rate=250.0, sample_count=250 * 3600
    )
    most = DiaryActivity.MAX_PER_RECORDING
    for i in range(most):  # one entered and removed over and over
        services.diary_activity_remove(activity=add(recording, staff_a, "medication", 10), by=staff_a)
    with pytest.raises(Conflict) as refused:
        add(recording, staff_a, "medication", 10)
    said = f"holds {most} activities, as many as one can ({most} of them removed: a removed one is kept"
    assert refused.value.code == "activities_full" and said in refused.value.message
    assert recording.activities.count() == most
