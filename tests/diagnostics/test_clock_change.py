"""Times of day on the recording's page and printed report where the zone's clocks change: a change of summer time
while the recording ran is said, and every time printed names its zone."""

import re

import pytest
from django.urls import reverse

from diagnostics import holter

from ..conftest import client_for
from .test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)

pytestmark = pytest.mark.django_db


@pytest.fixture
def recording(request):
    """70 s of MIT-BIH 207 at 360 Hz, classified (test_holter_pages.holter_recording)."""
    return request.getfixturevalue("holter_recording")


@pytest.mark.parametrize(
    ("zone", "start", "said"),
    [
        (
            "Europe/Berlin",
            (2026, 3, 28, 22, 0),  # 29 March 2026: forward at 02:00, 4 h in
            "Europe/Berlin's clocks went forward an hour 4:00:00 into the recording, at 02:00:00 on the recorder's "
            "clock. The times of day here stay on the recorder's clock, which did not change: type a diary time "
            "noted after it by a clock that changed an hour earlier.",
        ),
        (
            "America/New_York",
            (2026, 11, 1, 1, 30),  # 1 November 2026: back at 02:00 EDT, 30 min in
            "America/New_York's clocks went back an hour 0:30:00 into the recording, at 02:00:00 on the recorder's "
            "clock. The times of day here stay on the recorder's clock, which did not change: type a diary time "
            "noted after it by a clock that changed an hour later.",
        ),
    ],
)
def test_a_change_of_summer_time_during_the_recording_is_said(settings, zone, start, said):
    """The pages' times of day stay on the recorder's clock across a change of summer time, an hour off the local
    clocks (and the API's and FHIR's times) after it: without a word, a diary time read from a watch that changed
    was placed an hour off its rhythm."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from diagnostics.models import ECGRecording

    settings.TIME_ZONE = zone
    moment = datetime(*start, tzinfo=ZoneInfo(zone)).astimezone(UTC)
    day = ECGRecording(recorded_at=moment, sampling_rate=250, sample_count=250 * 24 * 3600)
    assert holter.clock_change(day) == said
    short = ECGRecording(recorded_at=moment, sampling_rate=250, sample_count=250 * 60 * 10)  # over before it
    assert holter.clock_change(short) == ""
    assert holter.clock_change(ECGRecording(recorded_at=None, sampling_rate=250, sample_count=250 * 86400)) == ""


def test_the_page_and_report_say_the_clocks_changed_during_the_recording(client, staff_a, recording, settings):
    import html
    from datetime import datetime
    from zoneinfo import ZoneInfo

    settings.TIME_ZONE = "Europe/Berlin"
    recording.recorded_at = datetime(2026, 3, 29, 1, 59, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    recording.save(update_fields=["recorded_at"])
    viewer = client_for(client, staff_a)
    said = (
        "Europe/Berlin's clocks went forward an hour 0:00:30 into the recording, at 02:00:00 on the recorder's clock."
    )
    for name in ("recording-detail", "recording-report"):
        page = viewer.get(reverse(name, args=[recording.pk])).content.decode()
        recorded = page[page.index("<dt>Recorded</dt>") : page.index("<dt>Uploaded</dt>")]
        assert said in html.unescape(recorded), name
    page = viewer.get(reverse("recording-detail", args=[recording.pk])).content.decode()
    help_text = page[page.index('id="diary-time-help"') :]
    assert help_text[: help_text.index("</p>")].endswith("The clocks changed while it ran: see Recorded, above.")


def test_every_time_on_the_printed_report_names_its_zone(client, staff_a, recording, settings):
    """A report leaves the clinic on paper, and in the hour the clocks go back a time of day comes twice: "Uploaded
    2026-10-25 02:30" named neither which nor where (its signature's time already said CET or CEST)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    settings.TIME_ZONE = "Europe/Berlin"
    recording.recorded_at = datetime(2026, 10, 25, 1, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    recording.save(update_fields=["recorded_at"])
    report = client_for(client, staff_a).get(reverse("recording-report", args=[recording.pk])).content.decode()
    shown = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d(?::\d\d)?(?: [A-Z]{3,4})?", report)
    assert len(shown) >= 4  # recorded, uploaded, analysed, printed
    assert all(when.endswith((" CET", " CEST")) for when in shown), shown
