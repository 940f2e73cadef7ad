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
