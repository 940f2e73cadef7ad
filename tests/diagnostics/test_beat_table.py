"""The recording page's beat table narrowed to one class and opened at a time into the recording."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from diagnostics.models import Beat, Diagnosis, ECGRecording

from ..conftest import client_for
from ..helpers import beat_recording

pytestmark = pytest.mark.django_db

FS = 250.0
SECONDS = 600  # ten minutes, a beat a second: beat i (from 0) has its R-peak at i s


def aami_class_of(i: int) -> str:
    if i % 10 == 3:
        return "V"  # 60: 3, 13, …, 593
    if i % 20 == 7:
        return "S"  # 30
    return "F" if i in (100, 400) else "N"


def known_beats_recording(clinic, staff, patient, models) -> ECGRecording:
    """A classified signal recording whose beats have known places and classes (no stored file)."""
    recording = ECGRecording.objects.create(
        clinic=clinic,
        patient=patient,
        uploaded_by=staff,
        file="recordings/holter.csv",
        input_format="csv",
        kind="signal",
        sampling_rate=FS,
        lead="II",
        leads=["II"],
        sample_count=int(SECONDS * FS),
        sha256="1" * 64,
        status="done",
    )
    classes = [aami_class_of(i) for i in range(SECONDS)]
    Beat.objects.bulk_create(
        Beat(
            recording=recording,
            index=i,
            position=int(i * FS),
            aami_class=c,
            **{f"p_{k.lower()}": 0.96 if k == c else 0.01 for k in "NSVFQ"},
        )
        for i, c in enumerate(classes)
    )
    Diagnosis.objects.create(
        recording=recording,
        clinic=clinic,
        beat_count=SECONDS,
        **{f"count_{k.lower()}": classes.count(k) for k in "NSVFQ"},
        mi_score=0.2,
        mi_threshold=0.5,
        mi_flag=False,
        heartbeat_model=models["heartbeat"],
        mi_model=models["mi"],
    )
    return recording


@pytest.fixture
def holter(clinic_a, staff_a, patient_a, active_models):
    return known_beats_recording(clinic_a, staff_a, patient_a, active_models)


def page(client, recording, **params) -> str:
    response = client.get(reverse("recording-detail", args=[recording.pk]), params)
    assert response.status_code == 200
    return response.content.decode()


def fragment(client, recording, **params) -> str:
    response = client.get(reverse("recording-beats", args=[recording.pk]), params, headers={"HX-Request": "true"})
    assert response.status_code == 200  # never a 4xx: htmx would leave the table as it was, unsaid
    return response.content.decode()


def table_classes(html: str) -> list[str]:
    table = html[html.index('<div id="beats">') :]
    return re.findall(r'<td><span class="cls cls-(\w)">', table)


def status_line(html: str) -> str:
    return re.sub(r"<[^>]+>", "", re.search(r'<p id="beats-status"[^>]*>(.*?)</p>', html, re.S).group(1))


def test_the_filter_offers_each_class_with_its_count(client, staff_a, holter):
    html = page(client_for(client, staff_a), holter)
    for value, count in [("all", 600), ("N", 508), ("S", 30), ("V", 60), ("F", 2), ("Q", 0)]:
        label = re.search(rf'<label for="beats-class-{value}">(.*?)</label>', html, re.S).group(1)
        assert label.endswith(f"({count})")
    assert re.search(r'id="beats-class-all" value="" checked', html)
    assert 'name="beats_at"' in html and '<label for="beats-at">' in html


def test_a_class_shows_only_its_beats_and_their_count(client, staff_a, holter):
    html = page(client_for(client, staff_a), holter, beats_class="V")
    assert table_classes(html) == ["V"] * 50
    assert status_line(html) == "V beats 1–50 of 60."
    assert re.search(r'id="beats-class-V" value="V" checked', html)
    html = fragment(client, holter, beats_class="f")  # as a class is written on the page or not
    assert table_classes(html) == ["F", "F"] and status_line(html) == "F beats 1–2 of 2."
    assert "No Q beats." == status_line(fragment(client, holter, beats_class="Q"))


def test_the_pager_keeps_the_class_and_the_pages_other_parameters(client, staff_a, holter):
    html = page(client_for(client, staff_a), holter, beats_class="V", events_type="vf", events_page="2")
    assert 'href="?events_type=vf&amp;events_page=2&amp;beats_class=V&amp;page=2#beats"' in html
    url = reverse("recording-beats", args=[holter.pk])
    assert f'hx-get="{url}?events_type=vf&amp;events_page=2&amp;beats_class=V&amp;page=2"' in html
    # the form sends them back with its own: the page's other lists stay where they were
    assert '<input type="hidden" name="events_type" value="vf">' in html
    assert '<input type="hidden" name="events_page" value="2">' in html
    second = fragment(client, holter, beats_class="V", events_type="vf", events_page="2", page="2")
    assert table_classes(second) == ["V"] * 10 and status_line(second) == "V beats 51–60 of 60."
    assert 'href="?events_type=vf&amp;events_page=2&amp;beats_class=V&amp;page=1#beats"' in second


def test_the_fragment_puts_the_recording_page_at_the_table_s_page_into_the_address_bar(client, staff_a, holter):
    """A reload then shows the page of the table that was turned to (and the beats ticked on it), not the first."""
    url = reverse("recording-beats", args=[holter.pk])
    client_for(client, staff_a)
    response = client.get(
        url, {"events_page": "2", "beats_class": "V", "beats_at": "9:50"}, headers={"HX-Request": "true"}
    )
    assert response["HX-Push-Url"] == f"/recordings/{holter.pk}/?events_page=2&beats_class=V&page=2#beats"
    assert "HX-Push-Url" not in client.get(url, {"page": "2"})  # a request not htmx's has no address bar to set
    restored = client.get(url, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    assert "HX-Push-Url" not in restored


def test_the_fragment_swaps_the_table_and_the_line_above_it_out_of_band(client, staff_a, holter):
    html = fragment(client_for(client, staff_a), holter, beats_class="S", page="1")
    assert html.index('<p id="beats-status" hx-swap-oob="innerHTML">') < html.index('<div id="beats">')
    assert "<form" not in html  # the form stays on the page: its inputs keep what was typed and the focus
    full = page(client, holter)
    assert '<p id="beats-status" class="beats-status" role="status">' in full and "hx-swap-oob" not in full


@pytest.mark.parametrize("at", ["2:30", "0:02:30", "150", "150.7", " 0:2:30 "])
def test_a_time_opens_the_page_holding_the_first_beat_at_or_after_it(client, staff_a, holter, at):
    html = fragment(client_for(client, staff_a), holter, beats_at=at)
    assert status_line(html) == "Beat 151 at 0:02:30 is the first beat at or after 0:02:30. Beats 151–200 of 600."
    assert '<tr class="landed">\n    <td><button type="button" class="link"' in html
    landed = html[html.index('<tr class="landed">') :]
    assert "Plot beat 151" in landed[: landed.index("</tr>")]
    assert "<td>37500</td><td>0:02:30</td>" in landed  # its sample and time, as the page writes times


def test_a_time_within_a_second_goes_to_that_second_as_the_page_writes_it(client, staff_a, holter):
    html = fragment(client_for(client, staff_a), holter, beats_at="149.5")
    assert status_line(html) == "Beat 150 at 0:02:29 is the first beat at or after 0:02:29. Beats 101–150 of 600."


def test_a_time_and_a_class_open_the_page_of_that_class(client, staff_a, holter):
    html = page(client_for(client, staff_a), holter, beats_class="V", beats_at="8:30")
    assert status_line(html) == "Beat 514 at 0:08:33 is the first V beat at or after 0:08:30. V beats 51–60 of 60."
    assert table_classes(html) == ["V"] * 10
    assert 'value="8:30"' in html  # the time stays in its input
    assert 'href="?beats_class=V&amp;page=1#beats"' in html  # the pager pages from there, the time done with


def test_a_time_is_written_as_the_time_of_day_where_the_file_stated_its_start(client, staff_a, holter):
    from datetime import datetime

    from django.utils import timezone

    holter.recorded_at = timezone.make_aware(datetime(2026, 3, 2, 23, 58, 0))
    holter.save(update_fields=["recorded_at"])
    html = fragment(client_for(client, staff_a), holter, beats_at="2:30")
    assert status_line(html).startswith(
        "Beat 151 at 00:00:30 (0:02:30 in) is the first beat at or after 00:00:30 (0:02:30 in)."
    )


@pytest.mark.parametrize("at", ["abc", "1:75", "-5", "1:2:3:4", "1,5", "١٢"])
def test_a_time_that_does_not_parse_is_said_beside_the_form(client, staff_a, holter, at):
    client_for(client, staff_a)
    said = f"“{at}” is not a time into the recording: write h:mm:ss, m:ss or seconds (1:23:45, 83:45 or 5025)."
    html = fragment(client, holter, beats_at=at, page="3")
    assert status_line(html) == f"{said} Beats 101–150 of 600."  # the page it was on
    html = page(client, holter, beats_at=at)
    assert status_line(html) == f"{said} Beats 1–50 of 600."
    assert 'aria-describedby="beats-at-hint beats-status" aria-invalid="true"' in html


def test_a_time_past_the_end_is_said_and_the_last_beats_shown(client, staff_a, holter):
    client_for(client, staff_a)
    html = fragment(client, holter, beats_at="10:00")
    assert status_line(html) == (
        "0:10:00 is past the end of the recording, which is 0:10:00 long. Beats 551–600 of 600."
    )
    html = fragment(client, holter, beats_at="99999999:00:00")
    assert "is past the end of the recording" in status_line(html)
    # within the recording, after its last V beat
    html = fragment(client, holter, beats_class="V", beats_at="9:55")
    assert status_line(html) == "No V beat at or after 0:09:55. V beats 51–60 of 60."


def test_an_unknown_class_is_said_and_every_beat_shown(client, staff_a, holter):
    client_for(client, staff_a)
    html = page(client, holter, beats_class="X<b>")
    assert status_line(html) == (
        "There is no beat class “X&lt;b&gt;”: choose N, S, V, F or Q. Every beat is shown. Beats 1–50 of 600."
    )
    assert re.search(r'id="beats-class-all" value="" checked', html)
    assert set(table_classes(html)) == {"N", "V", "S"}
    assert "There is no beat class “X”" in fragment(client, holter, beats_class="X")


def test_the_filter_counts_cost_no_query_per_class(client, staff_a, holter):
    client_for(client, staff_a)
    url = reverse("recording-detail", args=[holter.pk])
    client.get(url)  # the session's first request settles its own writes
    with CaptureQueriesContext(connection) as all_beats:
        client.get(url)
    with CaptureQueriesContext(connection) as one_class:
        client.get(url, {"beats_class": "S"})
    with CaptureQueriesContext(connection) as jump:
        client.get(url, {"beats_class": "S", "beats_at": "5:00"})
    assert len(one_class) == len(all_beats)
    assert len(jump) == len(all_beats) + 2  # the beat gone to, and how many come before it


def test_another_clinics_recording_is_still_not_found(client, staff_b, holter):
    client_for(client, staff_b)
    params = {"beats_class": "V", "beats_at": "1:00"}
    assert client.get(reverse("recording-detail", args=[holter.pk]), params).status_code == 404
    assert client.get(reverse("recording-beats", args=[holter.pk]), params).status_code == 404


def test_a_beat_file_recording_has_the_class_filter_but_no_time(client, staff_a, patient_a, active_models):
    recording = beat_recording(staff_a, patient_a, beats=60)
    client_for(client, staff_a)
    html = page(client, recording)
    assert 'name="beats_class"' in html and 'name="beats_at"' not in html and "Go to time" not in html
    assert '<th scope="col">Time</th>' not in html
    html = fragment(client, recording, beats_at="0:30")
    assert status_line(html) == (
        "This recording holds beat rows, not a signal: its beats have no time to go to. Beats 1–50 of 60."
    )


@pytest.mark.parametrize("length_known", [True, False])
def test_a_time_past_every_calendar_is_said_where_the_file_stated_its_start(client, staff_a, holter, length_known):
    # a time of day 99,999,999 hours after the start overflows the calendar: it had been a 500
    from datetime import datetime

    from django.utils import timezone

    holter.recorded_at = timezone.make_aware(datetime(2026, 3, 2, 23, 58, 0))
    holter.sample_count = holter.sample_count if length_known else None
    holter.save(update_fields=["recorded_at", "sample_count"])
    client_for(client, staff_a)
    said = "99999999:00:00 is past the end of the recording" if length_known else "No beat at or after 99999999:00:00."
    if length_known:  # the time of day it started, for one who typed a time of day
        said += ", which is 0:10:00 long. It started at 23:58:00: the time is counted from there (0:00:00)."
    assert said in status_line(fragment(client, holter, beats_at="99999999:00:00"))
    assert said in status_line(page(client, holter, beats_at="99999999:00:00"))


def test_the_mi_probability_column_shows_only_where_the_mi_screen_scored_the_recording(client, staff_a, holter):
    client_for(client, staff_a)
    diagnosis = holter.diagnosis
    diagnosis.mi_status = Diagnosis.MiStatus.NOT_APPLICABLE
    diagnosis.save(update_fields=["mi_status"])
    assert "P(MI)" not in page(client, holter) and "P(MI)" not in fragment(client, holter, page="2")
    for status in (Diagnosis.MiStatus.SCREENED, Diagnosis.MiStatus.NOT_ASSESSABLE):  # scored, or read and not judged
        diagnosis.mi_status = status
        diagnosis.save(update_fields=["mi_status"])
        assert '<th scope="col">P(MI)</th>' in page(client, holter) and "P(MI)" in fragment(client, holter, page="2")
