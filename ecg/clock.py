"""Times into a recording as pages, reports and messages write them."""

import math


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
