"""The patient's diary marked where the rhythm is read: in the rhythm data the trend chart and the viewer draw from,
and on the printed report's trend."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from diagnostics import diary, holter, services
from diagnostics.models import DiaryEntry

from ..conftest import client_for
from .test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)

pytestmark = pytest.mark.django_db

FS = 360.0


def entry(recording, user, seconds: float, symptom: str = "palpitations", note: str = "") -> DiaryEntry:
    return services.diary_entry_add(recording=recording, by=user, sample=int(seconds * FS), symptom=symptom, note=note)


def test_the_rhythm_data_carries_the_diary_entries_not_removed(client, staff_a, holter_recording):  # noqa: F811
    late = entry(holter_recording, staff_a, 50, "dizziness", note="standing up")
    early = entry(holter_recording, staff_a, 12.5, "other", note="heart racing")
    gone = entry(holter_recording, staff_a, 30, "fatigue")
    services.diary_entry_remove(entry=gone, by=staff_a)
    data = client_for(client, staff_a).get(reverse("recording-rhythm", args=[holter_recording.pk])).json()
    assert data["diary"] == [
        {
            "id": early.pk,
            "sample": 4500,
            "symptom": "other",
            "label": "Other: heart racing",
            "said": "Other: heart racing",
            "at": "0:00:12",
        },
        {
            "id": late.pk,
            "sample": 18000,
            "symptom": "dizziness",
            "label": "Dizziness",
            "said": "Dizziness",
            "at": "0:00:50",
        },
    ]


def test_another_clinics_rhythm_data_is_404_diary_and_all(client, staff_a, staff_b, holter_recording):  # noqa: F811
    entry(holter_recording, staff_a, 50)
    response = client_for(client, staff_b).get(reverse("recording-rhythm", args=[holter_recording.pk]))
    assert response.status_code == 404 and b"diary" not in response.content


def test_a_full_diary_costs_the_rhythm_data_no_more_queries_than_one_entry(
    client,
    staff_a,
    holter_recording,  # noqa: F811
):
    url = reverse("recording-rhythm", args=[holter_recording.pk])
    staff = client_for(client, staff_a)
    entry(holter_recording, staff_a, 1)
    staff.get(url)  # the session and the user read once
    with CaptureQueriesContext(connection) as one:
        assert len(staff.get(url).json()["diary"]) == 1
    DiaryEntry.objects.bulk_create(
        DiaryEntry(
            recording=holter_recording,
            clinic_id=holter_recording.clinic_id,
            sample=i * 360,
            symptom="fatigue",
            entered_by=staff_a,
        )
        for i in range(2, DiaryEntry.MAX_PER_RECORDING + 1)
    )
    with CaptureQueriesContext(connection) as full:
        assert len(staff.get(url).json()["diary"]) == DiaryEntry.MAX_PER_RECORDING
    assert len(full.captured_queries) == len(one.captured_queries)


def test_a_long_note_is_shortened_on_its_mark_and_said_in_full(staff_a, holter_recording):  # noqa: F811
    note = "a flutter in the chest while climbing the stairs to the second floor"
    entry(holter_recording, staff_a, 20, "other", note=note)
    (mark,) = diary.marks(holter_recording)
    assert mark["said"] == f"Other: {note}"
    assert len(mark["label"]) == diary.MARK_LABEL_MAX and mark["label"].endswith("…")
    assert mark["said"].startswith(mark["label"][:-1])


def test_the_printed_trend_marks_each_entry_at_its_moment():
    trend = {"minute": [0, 1, 2, 3, 4], "hr_min": [60] * 5, "hr_mean": [70] * 5, "hr_max": [80] * 5}
    svg = holter.trend_svg(trend, [(90.0, "Palpitations at 0:01:30"), (240.0, "Other: <faint> at 0:04:00")])
    diamonds = re.findall(r'<path d="M([\d.]+),[\d.]+ [^"]*" class="diary"><title>([^<]*)</title></path>', svg)
    # x(m) = 30 + 660 * m / 4 on the 720-unit width: 1.5 minutes in, and the last minute's start
    assert diamonds == [("277.5", "Palpitations at 0:01:30"), ("690.0", "Other: &lt;faint&gt; at 0:04:00")]
    assert svg.count('class="diary-line"') == 2 and "the patient's diary marked" in svg
    # nothing to mark: the chart as it was
    assert 'class="diary' not in holter.trend_svg(trend) and holter.trend_diary(0) == ""


def test_the_printed_report_marks_the_diary_on_its_trend_with_a_note(client, staff_a, holter_recording):  # noqa: F811
    entry(holter_recording, staff_a, 50, "dizziness")
    entry(holter_recording, staff_a, 20, "chest_pain")
    services.diary_entry_remove(entry=entry(holter_recording, staff_a, 30, "fatigue"), by=staff_a)
    report = client_for(client, staff_a).get(reverse("recording-report", args=[holter_recording.pk])).content.decode()
    figure = report[report.index('<figure class="trend-figure">') :]
    figure = figure[: figure.index("</figure>")]
    assert re.findall(r'class="diary"><title>([^<]*)</title>', figure) == [
        "Chest pain at 0:00:20",
        "Dizziness at 0:00:50",
    ]
    assert (
        '<span class="trend-diary"><span aria-hidden="true">◆</span> The patient&#x27;s diary: 2 symptoms marked at '
        "the moments noted, each listed under Patient diary below.</span>" in figure
    )


def test_the_rhythm_data_carries_the_sleep_periods_to_shade(client, staff_a, holter_recording):  # noqa: F811
    fs = holter_recording.sampling_rate
    slept = services.diary_activity_add(
        recording=holter_recording, by=staff_a, kind="sleep", start=int(10 * fs), end=int(40 * fs)
    )
    services.diary_activity_add(
        recording=holter_recording, by=staff_a, kind="exercise", start=int(45 * fs), end=int(55 * fs)
    )
    gone = services.diary_activity_add(
        recording=holter_recording, by=staff_a, kind="sleep", start=int(50 * fs), end=int(60 * fs)
    )
    services.diary_activity_remove(activity=gone, by=staff_a)
    data = client_for(client, staff_a).get(reverse("recording-rhythm", args=[holter_recording.pk])).json()
    # sleep alone (exercise is no night), none removed
    assert data["sleep"] == [{"start": slept.start, "end": slept.end, "said": "Asleep 0:00:10 to 0:00:40"}]


def test_the_printed_trend_shades_sleep_behind_the_band():
    trend = {"minute": [0, 1, 2, 3, 4], "hr_min": [60] * 5, "hr_mean": [70] * 5, "hr_max": [80] * 5}
    svg = holter.trend_svg(trend, sleep=[(60.0, 180.0, "Asleep <night> 0:01:00 to 0:03:00")])
    shaded = re.findall(
        r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="[\d.]+" class="sleep"><title>([^<]*)', svg
    )
    # x(m) = 30 + 660 * m / 4: from minute 1 to minute 3
    assert shaded == [("195.0", "330.0", "Asleep &lt;night&gt; 0:01:00 to 0:03:00")]
    assert svg.index('class="sleep"') < svg.index('class="band"')  # behind the band
    assert "sleep shaded" in svg and 'class="sleep"' not in holter.trend_svg(trend)


def test_the_printed_report_shades_sleep_on_its_trend_with_a_note(client, staff_a, holter_recording):  # noqa: F811
    fs = holter_recording.sampling_rate
    services.diary_activity_add(
        recording=holter_recording, by=staff_a, kind="sleep", start=int(5 * fs), end=int(65 * fs)
    )
    report = client_for(client, staff_a).get(reverse("recording-report", args=[holter_recording.pk])).content.decode()
    figure = report[report.index('<figure class="trend-figure">') :]
    figure = figure[: figure.index("</figure>")]
    assert figure.count('class="sleep"') == 1 and "Shaded: asleep, as the patient's diary gives it." in figure
