"""When a recording began, as its uploader gives it with the upload: for the files that state no start (beat
files, CSV and JSON signals) or whose stated start could not be read, so that the pages, the diary and the exports
can give times of day.

The start is an ISO 8601 date-time: with its offset from UTC (``…+01:00``, ``…Z``) the moment it names; without
one a wall-clock time in TIME_ZONE, as a file's own start is read (diagnostics.signal_uploads.recorded_at) and as
the API's time filters read one: a time the zone skips (the hour its clocks go forward) is refused, since no
moment had it; one it repeats (the hour they go back) is read as the first. A start in the future, or before
EARLIEST_GIVEN_YEAR, is refused. A file that states its own start keeps it: a start given that names another
moment is refused, naming both (a device's clock is not overruled by a typed time unseen, nor a
typed time dropped unsaid).
"""

import re
from datetime import UTC, datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ecgsite.errors import UploadRefused

FIELD = "recorded_at"
EARLIEST_GIVEN_YEAR = 1900
_TIME_OF_DAY = re.compile(r"\d[T ]\d\d:\d\d")
FORMAT_HELP = "an ISO 8601 date-time, e.g. 2026-12-04T23:50:00+01:00, or without an offset a time in {zone}"


def _refused(message: str) -> UploadRefused:
    return UploadRefused(message, field=FIELD)


def given_start(raw: str | None) -> datetime | None:
    """The start given, as a moment in TIME_ZONE; None when none was given (empty). Raises UploadRefused naming
    ``recorded_at`` for one that is malformed, skipped by the zone's clocks, in the future or before 1900."""
    text = (raw or "").strip()
    if not text:
        return None
    zone = timezone.get_default_timezone()
    expected = FORMAT_HELP.format(zone=zone)
    try:
        # a day alone (which Python reads as its midnight) is no start: the time of day is what was not known
        value = parse_datetime(text) if _TIME_OF_DAY.search(text) else None
    except ValueError:  # well formed, but no date (31 February, hour 25)
        value = None
    if value is None:
        raise _refused(f"{text!r} is not a date-time: expected {expected}.")
    if value.year < EARLIEST_GIVEN_YEAR:
        raise _refused(f"{text} is before {EARLIEST_GIVEN_YEAR}: give the date the recording began.")
    try:
        if timezone.is_naive(value):
            moment = value.replace(tzinfo=zone, fold=0)  # a repeated hour: the first (summer time)
            if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != value:
                raise _refused(
                    f"{text} is no time in {zone} (its clocks skip it): give the date-time with its offset from "
                    "UTC (…+01:00 or …Z)."
                )
        else:
            moment = value
        moment = moment.astimezone(zone)
    except OverflowError:  # year 9999 at an offset: past any date that can be held
        raise _refused(f"{text} is in the future: give the date the recording began.") from None
    if moment.year < EARLIEST_GIVEN_YEAR:
        raise _refused(f"{text} is before {EARLIEST_GIVEN_YEAR}: give the date the recording began.")
    if moment > timezone.now():
        raise _refused(f"{text} is in the future: give the date the recording began.")
    return moment


def with_given_start(parsed, given: datetime | None) -> None:
    """Give ``parsed`` (an ingestion.ParsedUpload) the start its uploader gave, where its file stated none; one
    its file states and the start given disagree on is refused, naming both."""
    if given is None:
        return
    stated = parsed.recorded_at
    if stated is not None and stated != given:
        zone = timezone.get_default_timezone()
        raise _refused(
            f"the file states that the recording began at {stated.astimezone(zone).isoformat()}, not at "
            f"{given.isoformat()}: leave the start empty to keep the file's."
        )
    parsed.recorded_at = given
