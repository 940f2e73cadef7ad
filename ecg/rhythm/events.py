"""The rhythm events a recording can carry, in the order a summary lists them."""

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# Life-threatening first: a summary and an event list lead with these.
EVENT_TYPES = (
    "vf",
    "asystole",
    "vt",
    "af",
    "afl",
    "svt",
    "pause",
    "v_run",
    "s_run",
    "bigeminy",
    "trigeminy",
    "v_couplet",
    "s_couplet",
    "tachy",
    "brady",
)
PRIORITY = {t: i for i, t in enumerate(EVENT_TYPES)}


@dataclass(frozen=True)
class Event:
    """One episode: ``start`` and ``end`` are samples of the original signal, ``end`` inclusive; ``beats`` None for
    VF/VFL, whose detections are waves, not beats (asystole has 0, a pause its 2 bounding beats)."""

    type: str
    start: int
    end: int
    beats: int | None
    rate_bpm: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def duration_s(self, fs: float) -> float:
        return (self.end - self.start) / fs


def sort_events(events: list[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.start, PRIORITY[e.type]))


def run_rate(r_peaks: np.ndarray, first: int, last: int, fs: float) -> float | None:
    """Mean rate (bpm) over the R-R intervals between beats ``first`` and ``last``: a run's own rate, as
    Holter reports give it. The coupling interval before its first beat is that beat's prematurity, not
    the run's rate (a couplet's rate is its one interval)."""
    if last <= first:
        return None
    return round(60.0 * fs * (last - first) / float(r_peaks[last] - r_peaks[first]), 1)


def episode_rate(r_peaks: np.ndarray, first: int, last: int, fs: float, gaps: np.ndarray | None = None) -> float | None:
    """Mean rate (bpm) over the R-R intervals from beat ``first`` to beat ``last``, none of the ``gaps``
    (per interval: True where it is no R-R interval of a rhythm, e.g. across noise an episode goes on
    through): the time there holds no beat of the episode."""
    intervals = np.diff(np.asarray(r_peaks[first : last + 1], np.float64))
    if gaps is not None:
        intervals = intervals[~np.asarray(gaps[first:last], bool)]
    seconds = float(intervals.sum()) / fs
    return round(60.0 * len(intervals) / seconds, 1) if len(intervals) and seconds > 0 else None
