"""Times into a recording as pages, reports and messages write them."""

import math


def clock(seconds: float | None) -> str:
    """``h:mm:ss``, rounded to the nearest second ("—" for no time)."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
