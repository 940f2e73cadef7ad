"""The Holter panel, event list, trend data, event reviews and the printed report (server side)."""

import re

import numpy as np
import pytest
import wfdb
from django.urls import reverse

from accounts.models import AuditEvent
from diagnostics import holter, services
from diagnostics.models import EventReview
from diagnostics.signal_uploads import parse_signal_upload
from ecgsite.errors import Invalid

from ..conftest import client_for
from ..data import mitdb_dir
from ..helpers import beat_recording

pytestmark = pytest.mark.django_db


@pytest.fixture
def holter_recording(staff_a, patient_a, active_models):
    """70 s of MIT-BIH 207 (a 10-s run of ventricular flutter), classified by the worker's service."""
    values = wfdb.rdrecord(str(mitdb_dir() / "207"), sampto=25200).p_signal[:, 0]
    data = "\n".join(f"{v:.3f}" for v in values).encode()
    parsed, stored, filename = parse_signal_upload({"ecg.csv": data}, fs=360.0, lead=None)
    recording = services.recording_submit(
        user=staff_a, patient=patient_a, parsed=parsed, data=stored, filename=filename
    )
    if services.recording_classify(recording_id=recording.pk, claim_token="t") == "not-claimed":
        # under a transactional test the upload is queued on commit, and a running Celery worker may take it first
        import time

        deadline = time.monotonic() + 120
        while recording.status != "done" and time.monotonic() < deadline:
            time.sleep(0.2)
            recording.refresh_from_db()
    recording.refresh_from_db()
    assert recording.status == "done"
    return recording


def test_the_recording_page_leads_with_vf_and_lists_events_with_strips(client, staff_a, holter_recording):
    html = client_for(client, staff_a).get(reverse("recording-detail", args=[holter_recording.pk])).content.decode()
    assert "Holter summary" in html and "Life-threatening rhythm" in html
    assert html.index("Life-threatening rhythm") < html.index("Heartbeat classes")
    events = list(holter_recording.events.all()[:10])
    assert len(re.findall(r'<li id="event-\d+"', html)) == len(events)
    assert html.count("<svg viewBox") >= len(events)  # one strip per listed event
    assert f'data-goto-sample="{events[0].start}"' in html
    assert "data-hr-trend" in html and 'data-act="next-event"' in html
    assert "Per minute, in bpm, the lowest to highest rate" in html  # the unit, as the printed report's caption
    panel = html[html.index('id="holter"') : html.index("</section>", html.index('id="events"'))]
    assert "<script" not in panel and " style=" not in panel and " on" not in panel.replace(" one", "")
    assert 'name="decision"' not in html  # staff see decisions, only doctors make them


def test_the_summary_and_the_report_give_the_ventricular_burden_beside_its_count(client, staff_a, holter_recording):
    rhythm = holter_recording.diagnosis.rhythm
    v = rhythm["ventricular"]
    assert v["total"] and v["burden_pct"] == round(100 * v["total"] / rhythm["beats_analysed"], 2)
    share = f"{v['total']} beats ({v['burden_pct']:.1f} % of the {rhythm['beats_analysed']} beats analysed):"
    staff = client_for(client, staff_a)
    for name in ("recording-detail", "recording-report"):
        assert share in staff.get(reverse(name, args=[holter_recording.pk])).content.decode()


def test_the_page_says_why_hrv_is_blank(client, staff_a, holter_recording):
    # 70 s of MIT-BIH 207: flutter, bundle-branch and ectopic beats leave no steady normal-to-normal run
    url = reverse("recording-detail", args=[holter_recording.pk])
    diagnosis = holter_recording.diagnosis
    hrv = diagnosis.rhythm["hrv"]
    assert hrv["sdnn_ms"] is None and hrv["reason"].startswith(f"{hrv['nn_count']} normal-to-normal interval")
    html = client_for(client, staff_a).get(url).content.decode()
    assert f"Not computed: {hrv['nn_count']} normal-to-normal" in html and "SDNN" not in html
    diagnosis.rhythm["hrv"] = {"sdnn_ms": 41.5, "sdann_ms": None, "rmssd_ms": 30.2, "pnn50_pct": 0.0, "nn_count": 90}
    diagnosis.rhythm["hrv"]["reason"] = None
    diagnosis.save(update_fields=["rhythm"])
    html = client_for(client, staff_a).get(url).content.decode()
    assert "SDNN 41.5 ms" in html and "Not computed" not in html
    assert "pNN50 0.0 %" in html  # a real 0 is no blank
    assert "SDANN — (needs an hour of 5-minute segments)" in html


def test_the_rhythm_data_has_the_minute_trend_and_every_event(client, staff_a, staff_b, holter_recording):
    url = reverse("recording-rhythm", args=[holter_recording.pk])
    data = client_for(client, staff_a).get(url).json()
    assert data["fs"] == 360.0 and len(data["trend"]["hr_mean"]) == 2
    assert [e["start"] for e in data["events"]] == list(holter_recording.events.values_list("start", flat=True))
    assert any(e["type"] == "vf" and e["label"] == "Ventricular flutter / fibrillation" for e in data["events"])
    assert (
        AuditEvent.objects.filter(
            action="view", object_type="recording", object_id=str(holter_recording.pk), path=url, username="staff_a"
        ).count()
        == 1
    )
    assert client_for(client, staff_b).get(url).status_code == 404


def test_a_doctor_confirms_then_rejects_an_event_and_both_are_kept(client, doctor_a, holter_recording):
    event = holter_recording.events.get(type="vf")
    doctor = client_for(client, doctor_a)
    page = doctor.get(reverse("recording-detail", args=[holter_recording.pk])).content.decode()
    assert f'action="{reverse("event-review", args=[event.pk])}"' in page
    url = reverse("event-review", args=[event.pk])
    response = doctor.post(url, {"decision": "confirm"})
    assert response.status_code == 302 and response["Location"].endswith(f"#event-{event.pk}")
    doctor.post(url, {"decision": "reject", "note": "electrode noise"})
    assert list(EventReview.objects.filter(event=event).values_list("decision", flat=True)) == ["reject", "confirm"]
    assert (
        list(AuditEvent.objects.filter(action="review").values_list("object_type", "object_id", "username"))
        == [("event", str(event.pk), "doctor_a")] * 2
    )
    page = doctor.get(reverse("recording-detail", args=[holter_recording.pk])).content.decode()
    assert "Rejected" in page and "Earlier: Confirmed" in page
    # Enter in the note submits by the form's first button, which is disabled: Enter decides nothing
    form = page[page.index(f'action="{url}"') :]
    form = form[: form.index("</form>")]
    assert form.index("disabled hidden") < form.index('value="confirm"')
    # a review from a later page of events goes back to that page; a page that is no number is dropped
    response = doctor.post(url, {"decision": "confirm", "events_page": "3"})
    assert response["Location"].endswith(f"?events_page=3#event-{event.pk}")
    response = doctor.post(url, {"decision": "confirm", "events_page": "x"})
    assert response["Location"] == reverse("recording-detail", args=[holter_recording.pk]) + f"#event-{event.pk}"


def test_rejecting_vf_needs_a_reason_in_the_note(client, doctor_a, holter_recording):
    # one click beside Confirm had cleared the life-threatening alarm, saying nothing of why
    event = holter_recording.events.get(type="vf")
    doctor = client_for(client, doctor_a)
    page = doctor.post(reverse("event-review", args=[event.pk]), {"decision": "reject", "note": " "}, follow=True)
    assert not EventReview.objects.exists()
    html = page.content.decode()
    row = html[html.index(f'<li id="event-{event.pk}"') :]
    row = row[: row.index("</form>")]  # the event's heading, its messages, its strip and its form
    assert "rejecting a VF/VFL or asystole episode needs a reason" in row and "(needed to reject)" in row
    doctor.post(reverse("event-review", args=[event.pk]), {"decision": "reject", "note": "electrode artefact"})
    assert EventReview.objects.get().note == "electrode artefact"
    other = holter_recording.events.exclude(type__in=["vf", "asystole"]).first()
    if other is not None:  # other events are rejected without one
        doctor.post(reverse("event-review", args=[other.pk]), {"decision": "reject"})
        assert EventReview.objects.filter(event=other, decision="reject").exists()


@pytest.mark.parametrize(
    ("note", "says"),
    [
        # no reason a reader sees: the alarm had been cleared by a note of a zero-width space or a control character
        ("\u200b", "rejecting a VF/VFL or asystole episode needs a reason"),
        ("\x07", "holds a control character (U+0007)"),
        ("artefact\x1b[2J", "holds a control character (U+001B)"),
        ("artefact \u202e", "holds an invisible direction character (U+202E RIGHT-TO-LEFT OVERRIDE)"),
    ],
)
def test_rejecting_vf_needs_a_reason_a_reader_can_see(client, doctor_a, holter_recording, note, says):
    event = holter_recording.events.get(type="vf")
    page = client_for(client, doctor_a).post(
        reverse("event-review", args=[event.pk]), {"decision": "reject", "note": note}, follow=True
    )
    html = page.content.decode()
    row = html[html.index(f'<li id="event-{event.pk}"') :]
    assert says in row[: row.index("</form>")] and not EventReview.objects.exists()


def test_a_decision_note_keeps_its_lines_and_refuses_other_control_characters(doctor_a, holter_recording):
    event = holter_recording.events.exclude(type__in=["vf", "asystole"]).first() or holter_recording.events.first()
    with pytest.raises(Invalid) as refused:
        services.event_review_create(user=doctor_a, event=event, decision="confirm", note="seen\x00")
    assert refused.value.field == "note" and not EventReview.objects.exists()
    made = services.event_review_create(user=doctor_a, event=event, decision="confirm", note=" two\r\nlines\t ok ")
    assert made.note == "two\r\nlines\t ok"


def test_a_bad_decision_stores_nothing(client, doctor_a, holter_recording):
    event = holter_recording.events.get(type="vf")
    client_for(client, doctor_a).post(reverse("event-review", args=[event.pk]), {"decision": "maybe"})
    assert not EventReview.objects.exists()


@pytest.mark.parametrize(
    ("note", "says"),
    [("x" * 4001, "at most 4000 characters (it has 4001)"), ("artefact\x00", "Null characters are not allowed")],
)
def test_a_refused_note_is_said_to_be_the_note_at_fault_not_the_decision(
    client, doctor_a, holter_recording, note, says
):
    # a decision chosen with a note too long had been told to "choose confirm or reject"
    event = holter_recording.events.get(type="vf")
    page = client_for(client, doctor_a).post(
        reverse("event-review", args=[event.pk]), {"decision": "reject", "note": note}, follow=True
    )
    html = page.content.decode()
    row = html[html.index(f'<li id="event-{event.pk}"') :]
    row = row[: row.index("</form>")]
    assert "The note was not accepted" in row and says in row and "Choose confirm or reject" not in row
    assert not EventReview.objects.exists()


def test_a_reviews_message_is_beside_its_event_where_the_page_scrolls_not_at_the_top(
    client, doctor_a, holter_recording
):
    event = holter_recording.events.get(type="vf")
    doctor = client_for(client, doctor_a)
    page = doctor.post(reverse("event-review", args=[event.pk]), {"decision": "confirm"}, follow=True)
    html = page.content.decode()
    item = html[html.index(f'<li id="event-{event.pk}"') :]
    item = item[: item.index('<form method="post"')]
    assert "confirmed." in item and 'role="status"' in item
    main = html[html.index('<main id="main"') :]
    assert "confirmed." not in main[: main.index('<li id="event-')], "shown at the top too"
    html = doctor.post(reverse("event-review", args=[event.pk]), {"decision": ""}, follow=True).content.decode()
    item = html[html.index(f'<li id="event-{event.pk}"') :]
    assert "Choose confirm or reject for the event." in item[: item.index("</li>")]
    assert "Choose confirm" not in doctor.get(reverse("recording-detail", args=[holter_recording.pk])).content.decode()


def test_the_report_carries_the_summary_trend_hourly_table_and_significant_strips(client, staff_a, holter_recording):
    html = client_for(client, staff_a).get(reverse("recording-report", args=[holter_recording.pk])).content.decode()
    assert "Holter summary" in html and "Heart rate per minute" in html and 'class="trend"' in html
    assert "Hourly table" in html and "Significant events" in html and "VF/VFL onset" in html
    # the hourly extremes are over 8 beats, as the summary's: the table says so
    assert "HR min (8 beats)" in html and "HR max (8 beats)" in html and "as the summary's" in html
    assert "% of the time whose rhythm could be read: no signal, noise and VF/VFL left out</dd>" in html
    # a report stored before (its hourly extremes over 4 beats, VF time in its AF burden) keeps its labels
    diagnosis = holter_recording.diagnosis
    del diagnosis.rhythm["hourly_extreme_beats"]
    del diagnosis.rhythm["af"]["burden_of"]
    diagnosis.save(update_fields=["rhythm"])
    html = client_for(client, staff_a).get(reverse("recording-report", args=[holter_recording.pk])).content.decode()
    assert "HR min (4 beats)" in html and "reach further than the summary's 8-beat extremes" in html
    assert "% of the time with signal, VF/VFL included</dd>" in html and "VF/VFL left out" not in html
    assert "<dt>Analysed</dt><dd>0:01:10 (70 s)</dd>" in html  # as the event list writes times
    # the seconds cut as the clock beside them is (70.6 s had read "0:01:10 (71 s)")
    diagnosis.rhythm["duration_s"] = 70.6
    diagnosis.save(update_fields=["rhythm"])
    html = client_for(client, staff_a).get(reverse("recording-detail", args=[holter_recording.pk])).content.decode()
    assert "<dt>Analysed</dt><dd>0:01:10 (70 s)</dd>" in html


def test_the_longest_pause_is_the_same_on_page_and_report_and_no_pause_reads_as_asystole(holter_recording):
    # the report's "Longest pause" took pauses only while the page's took asystole too; a 3.997-s pause
    # (asystole starts at 4 s) read "4.0 s"
    from diagnostics.holter import significant_events
    from diagnostics.models import Event

    def silence(kind: str, start: int, seconds: float) -> Event:
        end = start + int(seconds * holter_recording.sampling_rate)
        return Event.objects.create(
            recording=holter_recording, clinic=holter_recording.clinic, type=kind, start=start, end=end, beats=2
        )

    pause, asystole = silence("pause", 1000, 3.997), silence("asystole", 9000, 6.0)
    rows = {row["label"]: row for row in significant_events(holter_recording)}
    assert rows["Asystole · longest pause"]["event"] == asystole and "Longest pause" not in rows
    asystole.delete()
    rows = {row["label"]: row for row in significant_events(holter_recording)}
    assert rows["Longest pause"]["event"] == pause and rows["Longest pause"]["duration_s"] == 3.9


def test_a_beat_file_page_has_no_holter_panel(client, staff_a, patient_a, active_models):

    recording = beat_recording(staff_a, patient_a, beats=4)
    html = client_for(client, staff_a).get(reverse("recording-detail", args=[recording.pk])).content.decode()
    assert "Holter summary" not in html and np.isscalar(recording.pk)


def test_where_the_start_is_known_the_pages_give_times_of_day_beside_the_offsets(
    client, staff_a, holter_recording, settings
):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from ecg.clock import clock

    settings.TIME_ZONE = "Europe/Berlin"
    vf = holter_recording.events.get(type="vf")
    offset = int(vf.start / holter_recording.sampling_rate)  # the second it falls in (ecg.clock.clock)
    detail = reverse("recording-detail", args=[holter_recording.pk])
    report = reverse("recording-report", args=[holter_recording.pk])
    viewer = client_for(client, staff_a)
    before = viewer.get(detail).content.decode()
    # not known is said, so that the upload's date is not taken for the recording's
    unknown = (
        "<dt>Recorded</dt><dd>Not known: the file does not say when it started (times are counted from its start)</dd>"
    )
    assert unknown in before and f"at {clock(offset)}<" in before and " in)" not in before
    assert "; recorded: not known</dd>" in viewer.get(report).content.decode()  # beside its upload: no page longer
    assert '<th scope="col">Hour</th>' in viewer.get(report).content.decode()

    start = datetime(2026, 12, 4, 23, 59, 30)  # 70 s: the hourly table's one row runs past midnight
    holter_recording.recorded_at = start.replace(tzinfo=ZoneInfo("Europe/Berlin"))
    holter_recording.save(update_fields=["recorded_at"])
    wall = f"{start + timedelta(seconds=offset):%H:%M:%S} ({clock(offset)} in)"
    page = viewer.get(detail).content.decode()
    assert '<dt>Recorded</dt><dd><time datetime="2026-12-04T23:59:30+01:00">2026-12-04 23:59:30 CET</time></dd>' in page
    assert f"at {wall}<" in page  # the event list
    assert f"Ventricular flutter / fibrillation</a></strong> at {wall}" in page  # the life-threatening alarm
    printed = viewer.get(report).content.decode()
    assert "<dt>Recorded</dt>" in printed
    assert '<th scope="col">Time of day</th>' in printed and "<td>23:59–00:00</td>" in printed


@pytest.mark.parametrize(
    ("start", "rows"),
    [
        # 26/27 October 2024: Berlin's clocks go back at 03:00; the recorder's do not
        ((2024, 10, 26, 23, 0), ["23:00–00:00", "00:00–01:00", "01:00–02:00", "02:00–03:00", "03:00–04:00"]),
        # 30/31 March 2024: forward at 02:00
        ((2024, 3, 30, 23, 0), ["23:00–00:00", "00:00–01:00", "01:00–02:00", "02:00–03:00", "03:00–04:00"]),
    ],
)
def test_times_of_day_follow_the_recorders_clock_across_a_change_of_summer_time(settings, start, rows):
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from diagnostics import holter
    from diagnostics.models import ECGRecording

    settings.TIME_ZONE = "Europe/Berlin"
    # in UTC, as the database gives it back (Python adds a timedelta to a zoned time on its wall clock)
    moment = datetime(*start, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
    recording = ECGRecording(recorded_at=moment, sampling_rate=250, sample_count=250 * 5 * 3600)
    hourly = holter.hourly_rows(recording, {"hourly": [{"hour": h} for h in range(5)]})
    assert [row["label"] for row in hourly] == rows
    assert holter.at(recording, 4 * 3600 + 30) == "03:00:30 (4:00:30 in)"


def test_the_hourly_table_of_a_recording_over_a_day_long_says_which_day_each_hour_is_of():
    """A 48-hour Holter started at 09:00: its hours 0 and 24 both ran from 09:00 to 10:00, and a doctor must be able
    to tell the first morning from the second (the trend chart marks each midnight "Day 2", "Day 3")."""
    from datetime import UTC, datetime

    from diagnostics import holter
    from diagnostics.models import ECGRecording

    recording = ECGRecording(
        recorded_at=datetime(2026, 12, 1, 9, 0, tzinfo=UTC), sampling_rate=250, sample_count=250 * 48 * 3600
    )
    labels = [row["label"] for row in holter.hourly_rows(recording, {"hourly": [{"hour": h} for h in range(48)]})]
    assert len(set(labels)) == 48
    assert labels[0] == "09:00–10:00"
    assert labels[15] == "Day 2 00:00–01:00" and labels[24] == "Day 2 09:00–10:00"
    assert labels[39] == "Day 3 00:00–01:00" and labels[47] == "Day 3 08:00–09:00"


def test_the_printed_trend_breaks_where_a_minute_has_no_rate():
    # minute 2 lies in VF: no rate, so neither the band nor the mean may join minute 1 to minute 3
    from diagnostics.holter import trend_svg

    nan = None
    trend = {
        "minute": [0, 1, 2, 3, 4, 5],
        "hr_min": [60, 62, nan, 70, 71, nan],
        "hr_mean": [65, 66, nan, 75, 76, nan],
        "hr_max": [70, 72, nan, 80, 82, nan],
    }
    svg = trend_svg(trend)
    assert svg.count("<polygon") == 2 and svg.count("<polyline") == 2
    assert ">bpm</text>" in svg  # the axis says its unit
    polylines = re.findall(r'<polyline points="([^"]+)"', svg)
    assert [len(p.split()) for p in polylines] == [2, 2]
    # a lone minute with a rate between gaps is drawn as a short bar, not dropped
    trend["hr_min"][4] = trend["hr_mean"][4] = trend["hr_max"][4] = None
    svg = trend_svg(trend)
    assert svg.count("<polygon") == 1 and svg.count("<rect") == 1


def test_the_dashboard_lists_unreviewed_vf_until_a_doctor_decides(client, doctor_a, staff_b, holter_recording):
    dashboard = reverse("dashboard")
    doctor = client_for(client, doctor_a)
    page = doctor.get(dashboard).content.decode()
    assert "<strong>1</strong> VF or asystole awaiting review" in page
    event = holter_recording.events.get(type="vf")
    before = holter_recording.events.filter(start__lt=event.start).count()
    # the VF event itself, on the event list's page that holds it (the list had opened on its first event)
    place = f"?events_page={before // 10 + 1}#event-{event.pk}"
    assert f'href="{reverse("recording-detail", args=[holter_recording.pk])}{place}"' in page
    recording_page = doctor.get(reverse("recording-detail", args=[holter_recording.pk])).content.decode()
    alarm = recording_page[
        recording_page.index('class="alarm"') : recording_page.index("</div>", recording_page.index('class="alarm"'))
    ]
    assert f'<a href="{place}">Ventricular flutter / fibrillation</a>' in alarm  # the alarm box links to it too
    assert f'id="event-{event.pk}"' in recording_page
    report = doctor.get(reverse("recording-report", args=[holter_recording.pk])).content.decode()
    assert "<strong>Ventricular flutter / fibrillation</strong>" in report  # paper: no link
    review = doctor.get(reverse("recording-review", args=[holter_recording.pk])).content.decode()
    # the doctor's review page says the VF is decided in the event list, and links to it
    assert "1 VF/VFL or asystole episode of this recording awaits your decision" in review
    assert f'href="{reverse("recording-detail", args=[holter_recording.pk])}{place}"' in review
    doctor.post(reverse("event-review", args=[event.pk]), {"decision": "reject", "note": "artefact"})
    page = doctor.get(dashboard).content.decode()
    assert "<strong>0</strong> VF or asystole awaiting review" in page
    other = client_for(client, staff_b).get(dashboard).content.decode()  # another clinic sees none of it
    assert "<strong>0</strong> VF or asystole awaiting review" in other


def test_an_events_place_is_the_list_page_that_holds_it():
    from diagnostics.holter import event_place

    assert [event_place(i, 7) for i in (0, 9, 10, 25)] == [
        "?events_page=1#event-7",
        "?events_page=1#event-7",
        "?events_page=2#event-7",
        "?events_page=3#event-7",
    ]


def test_the_event_list_narrows_to_one_type_and_a_review_returns_to_it(client, doctor_a, holter_recording):
    # a 24-hour recording's 527 events came in pages of 10, with no way to see its VT alone
    detail = reverse("recording-detail", args=[holter_recording.pk])
    doctor = client_for(client, doctor_a)
    kinds = list(holter_recording.events.order_by().values_list("type", flat=True).distinct())
    assert "vf" in kinds and len(kinds) > 1
    html = doctor.get(detail).content.decode()
    nav = html[html.index('class="event-types"') : html.index("</nav>", html.index('class="event-types"'))]
    vf_count = holter_recording.events.filter(type="vf").count()
    assert (
        f'href="?events_type=vf#events">Ventricular flutter / fibrillation <span class="muted">({vf_count})</span>'
        in nav
    )
    narrowed = doctor.get(detail, {"events_type": "vf"}).content.decode()
    listed = re.findall(r'<li id="event-(\d+)" class="event event-(\w+)"', narrowed)
    assert listed and {kind for _pk, kind in listed} == {"vf"}
    assert 'href="?events_type=vf#events" aria-current="true"' in narrowed
    everything = doctor.get(detail, {"events_type": "nonsense"}).content.decode()  # an unknown type: every event
    assert len(re.findall(r'<li id="event-\d+"', everything)) == min(10, holter_recording.events.count())
    event = holter_recording.events.filter(type="vf").first()
    response = doctor.post(
        reverse("event-review", args=[event.pk]), {"decision": "confirm", "events_page": "1", "events_type": "vf"}
    )
    assert response["Location"] == f"{detail}?events_type=vf#event-{event.pk}"


def test_the_printed_trend_marks_rates_past_its_top_and_says_how_far():
    from diagnostics.holter import trend_over, trend_svg

    trend = {"minute": [0, 1, 2, 3], "hr_min": [60, 90, 150, 70], "hr_mean": [65, 150, 190, 75]}
    trend["hr_max"] = [70, 210.4, 236.6, 80]  # minutes 1 and 2 went past the 200-bpm top
    svg = trend_svg(trend)
    assert svg.count('class="over"') == 2
    assert trend_over(trend) == (
        "Rates above 200 bpm over 4 beats, past the top of the chart, are marked at its top edge: 2 minutes, "
        "the highest 237 bpm in the minute from 0:02:00."
    )
    trend["hr_max"] = [70, 200, 199, 80]  # at the top is not past it
    assert 'class="over"' not in trend_svg(trend) and trend_over(trend) == ""
    assert trend_over(None) == ""


def test_the_printed_report_notes_rates_past_the_trends_top(client, staff_a, holter_recording):
    url = reverse("recording-report", args=[holter_recording.pk])
    assert "past the top of the chart" not in client_for(client, staff_a).get(url).content.decode()
    diagnosis = holter_recording.diagnosis
    diagnosis.rhythm["trend"]["hr_max"][0] = 231.0
    diagnosis.save(update_fields=["rhythm"])
    html = client_for(client, staff_a).get(url).content.decode()
    figure = html[html.index('<figure class="trend-figure">') :]
    figure = figure[: figure.index("</figure>")]
    assert figure.count('class="over"') == 1
    assert "1 minute, the highest 231 bpm in the minute from 0:00:00." in figure


def test_the_patient_page_sums_each_recordings_rhythm_and_drops_a_rejected_vf(client, doctor_a, holter_recording):
    doctor = client_for(client, doctor_a)
    url = reverse("patient-detail", args=[holter_recording.patient_id])
    rhythm = holter_recording.diagnosis.rhythm
    rate = rhythm["heart_rate"]
    row = doctor.get(url).content.decode()
    row = row[row.index(f'href="{reverse("recording-detail", args=[holter_recording.pk])}"') :]
    row = row[: row.index("</tr>")]
    assert '<a class="rhythm-item danger"' in row and "VF/VFL or asystole: 1" in row
    assert f"HR {rate['mean_bpm']:.0f} ({rate['hr_min']['bpm']:.0f}–{rate['hr_max']['bpm']:.0f}) bpm" in row
    assert f"V ectopy {rhythm['ventricular']['total']}" in row and "1:10 long" in row
    event = holter_recording.events.get(type="vf")
    doctor.post(reverse("event-review", args=[event.pk]), {"decision": "confirm", "note": ""})
    assert "VF/VFL or asystole: 1" in doctor.get(url).content.decode()  # confirmed: it stands
    doctor.post(reverse("event-review", args=[event.pk]), {"decision": "reject", "note": "artefact"})
    page = doctor.get(url).content.decode()
    assert "VF/VFL or asystole" not in page and "HR " in page  # the latest decision rejects it


def test_a_rhythm_brief_says_only_what_there_is():
    from diagnostics.holter import brief

    assert brief(None) == [] and brief({}) == []
    rhythm = {
        "heart_rate": {"mean_bpm": 71.6, "hr_min": {"bpm": 48.2}, "hr_max": {"bpm": 131.0}},
        "af": {"burden_pct": 0.04},
        "event_counts": {"vt": 2, "pause": 1},
        "ventricular": {"total": 1234, "burden_pct": 1.234},
        "supraventricular": {"total": 0, "burden_pct": 0.0},
        "pauses": {"count": 1},
    }
    assert [(i["text"], i["tone"]) for i in brief(rhythm, alarms_standing=2)] == [
        ("VF/VFL or asystole: 2", "danger"),
        ("HR 72 (48–131) bpm", ""),
        ("AF < 0.1 %", "warn"),
        ("VT 2", "warn"),
        ("V ectopy 1234 (1.2 %)", ""),
        ("1 pause", "warn"),
    ]


def test_an_ectopic_burden_is_written_beside_its_count_even_for_a_report_stored_before_it():
    from diagnostics.holter import ectopic_share

    assert ectopic_share({"ventricular": {"total": 3, "burden_pct": 0.04}}, "ventricular") == "< 0.1 %"
    assert ectopic_share({"ventricular": {"total": 0, "burden_pct": 0.0}}, "ventricular") == ""
    # stored before the burden was kept: from the total and the beats the figures were over
    old = {"beats_analysed": 2000, "supraventricular": {"total": 250}}
    assert ectopic_share(old, "supraventricular") == "12.5 %"
    assert ectopic_share({"supraventricular": {"total": 250}}, "supraventricular") == ""  # nothing to take it from


@pytest.mark.parametrize(
    ("minutes", "labels"),
    [
        (30, "0 min 5 min 10 min 15 min 20 min 25 min 30 min"),
        # 1-3 hours: every 10 or 15 minutes (every 5 had run into each other), the last label's neighbour dropped
        # where the last, pulled inside the edge, came onto it
        (120, "0 min 10 min 20 min 30 min 40 min 50 min 60 min 70 min 80 min 90 min 100 min 120 min"),
        (180, "0 min 15 min 30 min 45 min 60 min 75 min 90 min 105 min 120 min 135 min 150 min 180 min"),
        (360, "0 h 1 h 2 h 3 h 4 h 5 h 6 h"),
        (1440, "0 h 2 h 4 h 6 h 8 h 10 h 12 h 14 h 16 h 18 h 20 h 22 h 24 h"),
        (2880, "0 h 4 h 8 h 12 h 16 h 20 h 24 h 28 h 32 h 36 h 40 h 44 h 48 h"),
    ],
)
def test_the_printed_trends_time_labels_leave_room_between_them(minutes, labels):
    from diagnostics.holter import trend_svg

    trend = {
        "minute": list(range(minutes)),
        "hr_min": [60] * minutes,
        "hr_mean": [70] * minutes,
        "hr_max": [80] * minutes,
    }
    svg = trend_svg(trend)
    assert " ".join(re.findall(r'class="note">([^<]*(?:min|h))</text>', svg)) == labels
    last = " ".join(labels.split()[-2:])
    # the last label ends at the chart's right edge (it had run past it), and the 200 line is on the scale
    assert re.search(rf'x="690\.0" y="172\.0" text-anchor="end" class="note">{last}', svg) and '">200</text>' in svg


@pytest.mark.parametrize(
    ("minutes", "start", "labels"),
    [
        # half an hour: every 5 minutes of the clock
        (30, (22, 52, 30), "22:55 23:00 23:05 23:10 23:15 23:20"),
        # a night: every whole hour, through midnight
        (360, (21, 15, 0), "22:00 23:00 00:00 01:00 02:00 03:00"),
        # a day: every other hour, on the clock's even hours
        (1440, (22, 50, 0), "00:00 02:00 04:00 06:00 08:00 10:00 12:00 14:00 16:00 18:00 20:00 22:00"),
        # two days: the clock's times repeat, so each midnight says which day (the start's is day 1)
        (2880, (22, 50, 0), "Day 2 04:00 08:00 12:00 16:00 20:00 Day 3 04:00 08:00 12:00 16:00 20:00"),
    ],
)
def test_the_printed_trends_time_axis_is_in_time_of_day_where_the_start_is_known(minutes, start, labels):
    # the diary is noted in times of day: a symptom at 03:10 had been read off an axis of hours into the recording
    trend = {
        "minute": list(range(minutes)),
        "hr_min": [60] * minutes,
        "hr_mean": [70] * minutes,
        "hr_max": [80] * minutes,
    }
    day_start = start[0] * 3600 + start[1] * 60 + start[2]
    svg = holter.trend_svg(trend, day_start=day_start)
    ticks = re.findall(r'<text x="([\d.]+)" y="172\.0" text-anchor="\w+" class="note">(\d\d:\d\d|Day \d)</text>', svg)
    assert " ".join(said for _, said in ticks) == labels
    # each at its moment: x(m) = 30 + 660 * m / (minutes - 1), m the minutes from the start to that time of day
    clock = "00:00" if labels.startswith("Day") else labels
    first = (int(clock[:2]) * 3600 + int(clock[3:5]) * 60 - day_start) % 86400 / 60
    assert float(ticks[0][0]) == pytest.approx(30 + 660 * first / (minutes - 1), abs=0.06)
    assert " min<" not in svg and " h<" not in svg
    assert 'aria-label="Heart rate per minute: minimum to maximum band and mean, against the time of day"' in svg
    assert "time of day" not in holter.trend_svg(trend)  # the start unknown: into the recording, as before


def test_a_recordings_start_of_day_is_on_the_recorders_clock(settings):
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from diagnostics.models import ECGRecording

    settings.TIME_ZONE = "Europe/Berlin"
    moment = datetime(2024, 10, 26, 22, 50, 30, 250000, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
    assert holter.start_of_day(ECGRecording(recorded_at=moment)) == 22 * 3600 + 50 * 60 + 30.25
    assert holter.start_of_day(ECGRecording(recorded_at=None)) is None
    ticks = holter.clock_ticks(span_s=3 * 3600, day_start=22 * 3600 + 50 * 60 + 30.25, every_min=60)
    assert ticks == [(569.75, "23:00"), (4169.75, "00:00"), (7769.75, "01:00")]


def test_the_rhythm_data_and_the_report_give_the_trend_times_of_day_where_the_start_is_known(
    client, staff_a, holter_recording
):
    from datetime import datetime

    from django.utils import timezone

    staff = client_for(client, staff_a)
    rhythm_url = reverse("recording-rhythm", args=[holter_recording.pk])
    report_url = reverse("recording-report", args=[holter_recording.pk])
    assert staff.get(rhythm_url).json()["start_of_day"] is None

    def trend_labels() -> list[str]:
        report = staff.get(report_url).content.decode()
        figure = report[report.index('<figure class="trend-figure">') :]
        return re.findall(r'class="note">([^<]*(?:min|h|\d\d:\d\d))</text>', figure[: figure.index("</figure>")])

    assert trend_labels() == ["0 min"]
    holter_recording.recorded_at = timezone.make_aware(datetime(2026, 3, 1, 22, 50, 0))
    holter_recording.save(update_fields=["recorded_at"])
    assert staff.get(rhythm_url).json()["start_of_day"] == 22 * 3600 + 50 * 60
    # 70 s: the minutes of the clock
    assert trend_labels() == ["22:50", "22:51"]
    page = staff.get(reverse("recording-detail", args=[holter_recording.pk])).content.decode()
    assert "and the mean, against the time of day;" in page


def test_the_recording_page_says_what_is_on_it_and_links_each_part(client, staff_a, holter_recording):
    html = client_for(client, staff_a).get(reverse("recording-detail", args=[holter_recording.pk])).content.decode()
    nav = html[html.index('<nav class="page-nav') : html.index("</nav>", html.index('<nav class="page-nav'))]
    targets = re.findall(r'href="#([a-z-]+)"', nav)
    # the doctor's interpretation first, the beat table ends a long page
    assert targets == ["interpretation", "results", "viewer", "holter", "events", "diary", "beat-table"]
    assert all(html.count(f'id="{t}"') == 1 for t in targets)


def _item(html: str, event) -> str:
    """The event list's item of ``event``, up to its review form or its end."""
    item = html[html.index(f'<li id="event-{event.pk}"') :]
    return item[: item.index("</li>")]


def test_vf_asystole_and_a_pause_are_written_by_their_duration_alone(client, staff_a, holter_recording):
    # "Ventricular flutter / fibrillation at 0:03:33 — 292.9 s · 15 beats", "Pause 3.7 s · 2 beats · 16.1 bpm":
    # VF/VFL has no beats to count, asystole none, and a pause is one R-R interval
    from diagnostics.models import Event

    fs = holter_recording.sampling_rate
    vf = holter_recording.events.get(type="vf")
    vf.beats, vf.rate_bpm = 15, 212.0
    vf.save(update_fields=["beats", "rate_bpm"])
    silences = {
        kind: Event.objects.create(
            recording=holter_recording,
            clinic=holter_recording.clinic,
            type=kind,
            start=start,
            end=start + int(seconds * fs),
            beats=2,
            rate_bpm=60 / seconds,
        )
        for kind, start, seconds in (("pause", 1000, 3.7), ("asystole", 9000, 6.0))
    }
    html = client_for(client, staff_a).get(reverse("recording-detail", args=[holter_recording.pk])).content.decode()
    for event in (vf, *silences.values()):
        facts = re.search(r'<p class="event-facts">(.*?)</p>', _item(html, event), re.S).group(1)
        assert re.fullmatch(r"\d+\.\d s", facts.strip()), (event.type, facts)
    # the other events keep their beats and rate
    run = holter_recording.events.exclude(type__in=["vf", "pause", "asystole"]).exclude(beats=0).first()
    assert f"{run.beats} beats" in _item(html, run)
    report = client.get(reverse("recording-report", args=[holter_recording.pk])).content.decode()
    captions = re.findall(r"<figcaption><strong>.*?</figcaption>", report, re.S)
    assert len(captions) >= 2 and not [c for c in captions if "beats" in c or "bpm" in c], captions


def test_no_beat_inside_vf_is_labelled_on_a_strip_the_episode_is_marked_instead(client, staff_a, holter_recording):
    fs = holter_recording.sampling_rate
    vf = holter_recording.events.get(type="vf")
    inside = holter_recording.beats.filter(position__gte=vf.start, position__lte=vf.end).count()
    assert inside > 5  # the detector found the flutter's waves and the classifier gave them classes
    html = client_for(client, staff_a).get(reverse("recording-detail", args=[holter_recording.pk])).content.decode()
    strip = _item(html, vf)
    a = max(0, int(vf.start - 2.0 * fs))
    x0, x1 = (vf.start - a) / fs * 100, (min(vf.end, a + 10 * fs) - a) / fs * 100
    letters = [float(x) for x in re.findall(r'<text x="([\d.]+)"[^>]*class="mark ', strip)]
    assert letters and all(x < x0 or x > x1 for x in letters), (x0, x1, letters)  # the beats before it keep theirs
    assert 'class="episode-label">VF/VFL</text>' in strip and f'<rect x="{x0:.1f}" y="0"' in strip


def test_beat_letters_too_close_to_read_on_a_strip_are_ticks_not_overprinted():
    from diagnostics.plots import paper_svg

    svg = paper_svg(np.zeros(3600), fs=360.0, title="t", marks=[(1.0, "N"), (1.05, "V"), (1.5, "N")])
    assert re.findall(r'class="mark cls-fill-(\w)">', svg) == ["N", "N"]  # 1.0 s and 1.5 s
    assert '<rect x="104.0" y="4.8" width="2" height="9.2" class="cls-fill-V"/>' in svg  # 1.05 s: a tick


@pytest.mark.parametrize(
    ("runs", "fast", "phrase"),
    [
        (16, 16, " (all ventricular tachycardia, at 100 bpm or faster)"),
        (5, 2, " (2 of them ventricular tachycardia, at 100 bpm or faster)"),
        (3, 0, " (none at 100 bpm or faster)"),
        (0, 0, ""),
        (4, None, ""),  # a report stored before the count was kept
    ],
)
def test_the_summary_says_how_many_runs_are_tachycardia(runs, fast, phrase):
    # "16 runs" in the summary beside "Ventricular tachycardia (16)" in the event list had left it to the reader
    ectopy = {"runs": runs} | ({} if fast is None else {"fast_runs": fast})
    assert holter.fast_runs_phrase(ectopy, "ventricular") == phrase


def test_the_page_writes_the_runs_tachycardia_beside_their_count(client, staff_a, holter_recording):
    diagnosis = holter_recording.diagnosis
    diagnosis.rhythm["ventricular"] |= {"runs": 3, "fast_runs": 1}
    diagnosis.save(update_fields=["rhythm"])
    html = client_for(client, staff_a).get(reverse("recording-detail", args=[holter_recording.pk])).content.decode()
    assert "3 runs (1 of them ventricular tachycardia, at 100 bpm or faster), bigeminy" in html


def test_an_events_decision_sent_twice_is_recorded_once(client, doctor_a, holter_recording):
    # only the browser's submit-once script had kept a double click (or a resent page) from recording it twice
    event = holter_recording.events.get(type="vf")
    doctor = client_for(client, doctor_a)
    page = doctor.get(reverse("recording-detail", args=[holter_recording.pk])).content.decode()
    form = page[page.index(f'action="{reverse("event-review", args=[event.pk])}"') :]
    (key,) = re.findall(r'name="submission" value="([0-9a-f]{32})"', form[: form.index("</form>")])
    url = reverse("event-review", args=[event.pk])
    for _ in range(2):
        assert doctor.post(url, {"decision": "confirm", "submission": key}).status_code == 302
    assert EventReview.objects.filter(event=event).count() == 1
    # the page's form reused, back in the browser, for another decision: a new one, once too
    for _ in range(2):
        assert doctor.post(url, {"decision": "reject", "note": "artefact", "submission": key}).status_code == 302
    assert list(EventReview.objects.filter(event=event).values_list("decision", flat=True)) == ["reject", "confirm"]
    assert AuditEvent.objects.filter(action="review", object_type="event").count() == 2


def test_the_page_and_the_report_leave_a_rejected_vt_out_of_the_summary_and_say_so(
    client, staff_a, doctor_a, holter_recording
):
    """FHIR and the API leave out every rhythm event a doctor rejected; the page's and the printed report's Holter
    summary had still counted a rejected VT among the runs and its tachycardia."""
    from diagnostics.models import Event

    diagnosis = holter_recording.diagnosis
    rhythm = diagnosis.rhythm
    v = rhythm["ventricular"]
    runs, fast = v["runs"], v["fast_runs"]
    v["runs"], v["fast_runs"] = runs + 1, fast + 1
    rhythm["event_counts"]["vt"] = rhythm["event_counts"].get("vt", 0) + 1
    diagnosis.save(update_fields=["rhythm"])
    vt = Event.objects.create(
        recording=holter_recording, clinic_id=holter_recording.clinic_id, type="vt", start=1000, end=1600, beats=4,
        rate_bpm=160.0,
    )  # fmt: skip
    client_for(client, staff_a)
    pages = [reverse(name, args=[holter_recording.pk]) for name in ("recording-detail", "recording-report")]
    said = f"{runs + 1} run{'s' if runs + 1 != 1 else ''}"
    assert all(said in client.get(page).content.decode() for page in pages)
    services.event_review_create(user=doctor_a, event=vt, decision="reject", note="artefact")
    for page in pages:
        html = client.get(page).content.decode()
        assert f"{runs} run{'s' if runs != 1 else ''}" in html and said not in html
        assert "Rejected on review" in html and "ventricular tachycardia 1" in html


def test_a_printed_trend_with_no_rate_in_any_minute_is_said_not_drawn_empty(client, staff_a, holter_recording):
    """A strip in VF throughout has no minute with a rate: the report says there is none to chart, not an empty
    grid captioned with a band and a mean that are not there."""
    diagnosis = holter_recording.diagnosis
    trend = diagnosis.rhythm["trend"]
    for key in ("hr_min", "hr_mean", "hr_max"):
        trend[key] = [None] * len(trend["minute"])
    diagnosis.save(update_fields=["rhythm"])
    html = client_for(client, staff_a).get(reverse("recording-report", args=[holter_recording.pk])).content.decode()
    assert 'class="trend-figure"' not in html
    assert "No heart rate to chart: no minute of the recording had heartbeats to give one." in html


def test_each_events_show_in_viewer_button_and_note_field_name_their_event(client, doctor_a, holter_recording):
    """A screen reader lists a page's buttons and fields by name: the event list gave every event's the same "Show in
    viewer" and "Note", where its Confirm and Reject name the event."""
    html = client_for(client, doctor_a).get(reverse("recording-detail", args=[holter_recording.pk])).content.decode()
    events = holter_recording.events.all()
    assert events
    for event in events:
        item = html[html.index(f'<li id="event-{event.pk}"') :]
        item = item[: item.index("</li>")]
        button = re.search(r'<button[^>]*data-event-id="\d+">(.*?)</button>', item, re.S)
        label = re.search(rf'<label[^>]*for="note-{event.pk}">(.*?)</label>', item, re.S)
        for named in (button, label):
            assert named and event.get_type_display() in re.sub(r"<[^>]+>", "", named.group(1)), item[:600]


def test_a_10_s_ecg_gives_its_mean_rate_alone_on_every_surface(client, staff_a, patient_a, active_models):
    """10 s of MIT-BIH 222 had a mean of 74.8 bpm beside an 8-beat maximum of 74.6 on the page, the report, the patient
    page, the API and FHIR: the extremes are a Holter's, given over 30 s of R-R intervals; such a strip says its mean
    alone, and why the extremes are blank."""
    from ..api.test_fhir import fetch_valid_bundle, resources

    values = wfdb.rdrecord(str(mitdb_dir() / "222"), sampfrom=10800, sampto=14400).p_signal[:, 0]
    data = "\n".join(f"{v:.3f}" for v in values).encode()
    parsed, stored, filename = parse_signal_upload({"ecg.csv": data}, fs=360.0, lead=None)
    strip = services.recording_submit(user=staff_a, patient=patient_a, parsed=parsed, data=stored, filename=filename)
    services.recording_classify(recording_id=strip.pk, claim_token="t")
    strip.refresh_from_db()
    rate = strip.diagnosis.rhythm["heart_rate"]
    mean = rate["mean_bpm"]
    assert mean is not None and rate["hr_min"] is None and rate["hr_max"] is None
    staff = client_for(client, staff_a)
    served = staff.get(f"/api/v1/recordings/{strip.pk}").json()["diagnosis"]["rhythm"]
    assert served["heart_rate"] == rate and served["hourly"][0]["hr_max"] is None
    codes = {c["code"] for o in resources(fetch_valid_bundle(staff, strip), "Observation") for c in o["code"]["coding"]}
    assert "heart-rate-max" not in codes and "heart-rate-min" not in codes and "8867-4" in codes
    for name in ("recording-detail", "recording-report"):
        html = staff.get(reverse(name, args=[strip.pk])).content.decode()
        assert f"{mean} bpm" in html and "8-beat extremes are given over 30 s of R-R intervals" in html, name
    patient = staff.get(reverse("patient-detail", args=[patient_a.pk])).content.decode()
    assert f"HR {mean:.0f} bpm" in patient
