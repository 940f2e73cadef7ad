"""Times into a recording as pages, reports and messages write them, and as a person types them."""

import math
import re


def clock(seconds: float | None) -> str:
    """``h:mm:ss`` of the second the moment falls in ("—" for no time): 42.5 s is 0:00:42 on every page,
    the report and the viewer alike (Python's round took it to 42 and the viewer's to 43)."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    whole = math.floor(seconds + 1e-9)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def seconds_cut(seconds: float, places: int = 1) -> float:
    """A duration to ``places`` decimals, cut rather than rounded: a 3.997-s pause, under asystole's
    4 s, reads 3.9 (3.99), not the 4.0 that asystole starts at; no duration reads longer than it is."""
    scale = 10**places
    return float(math.floor(float(seconds) * scale + 1e-9) / scale)


# Durations and times in seconds where systems read them (the API's events, FHIR's episode durations and onsets
# and heart-rate extremes' edges, the CSV export): cut, never rounded up (a 3.997-s pause, under asystole's 4 s,
# reads 3.99), to hundredths. The pages, for people, show tenths.
DATA_PLACES = 2


def data_seconds(seconds: float) -> float:
    """``seconds`` as the API, FHIR and the CSV export give them: cut to DATA_PLACES decimals."""
    return seconds_cut(seconds, DATA_PLACES)


_CLOCK_PART = re.compile(r"[0-9]{1,9}")
_CLOCK_SECONDS = re.compile(r"[0-9]{1,9}(\.[0-9]{1,6})?")


def seconds_from_clock(text: str) -> float | None:
    """Seconds into a recording written as h:mm:ss, m:ss or seconds ("1:23:45", "83:45", "5025"; the last part
    with decimals or not), as `clock` writes them; None for anything else (minutes or seconds of 60 or more after
    a colon, a negative number, a word)."""
    *whole, last = text.split(":")
    if len(whole) > 2 or not all(_CLOCK_PART.fullmatch(p) for p in whole) or not _CLOCK_SECONDS.fullmatch(last):
        return None
    parts = [int(p) for p in whole] + [float(last)]
    if any(p >= 60 for p in parts[1:]):
        return None
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds
