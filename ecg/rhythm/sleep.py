"""The heart rate awake and asleep, as a Holter report gives it: the per-minute trend (``heart_rate.per_minute``)
split by the periods the patient's diary says were sleep, and the rhythm events that began in them. A slow rate or a
pause at night is read otherwise than one by day.

The figures come from the trend, not from the beats: the mean is over the minutes' R-R intervals, and the lowest and
highest are the minutes' extremes over TREND_BEATS beats, not the summary's 8-beat extremes (over 4 beats a rate
swings further)."""

from collections.abc import Sequence
from typing import Any

import numpy as np

TREND_BEATS = 4  # the window of the trend's per-minute extremes (heart_rate.per_minute)
AF_TYPES = ("af", "afl")  # the events whose time makes the AF burden
# A column of the trend as stored (None where a minute has no rate) or as an array (NaN there).
Column = Sequence[float | None] | np.ndarray


def minutes_in(spans: Sequence[tuple[int, int]], *, fs: float, n_samples: int, minutes: int) -> np.ndarray:
    """Per minute of the trend: whether its middle lies in one of ``spans`` (start and end in samples, end
    inclusive), so that each minute is awake or asleep, never both; the last minute's middle is that of the part
    of it the recording holds."""
    first = np.arange(minutes, dtype=float) * 60.0 * fs
    last = np.minimum(first + 60.0 * fs, float(n_samples)) - 1.0
    middle = (first + last) / 2.0
    inside = np.zeros(minutes, bool)
    for start, end in spans:
        inside |= (middle >= start) & (middle <= end)
    return inside


def rate_over(chosen: np.ndarray, *, beats: Column, hr_min: Column, hr_mean: Column, hr_max: Column) -> dict[str, Any]:
    """The heart rate over the ``chosen`` minutes of a trend: ``minutes`` with a rate among them (a minute of VF,
    without signal or in noise has none), the ``mean_bpm`` over their R-R intervals (each minute's mean weighted by
    the time its intervals cover, beats over time as the recording's mean is, not a mean of minute rates), and the
    ``lowest`` and ``highest`` of their TREND_BEATS-beat extremes, each with its ``minute`` (from 0); None where no
    minute has a rate."""
    mean = np.asarray(hr_mean, dtype=float)
    low, high = np.asarray(hr_min, dtype=float), np.asarray(hr_max, dtype=float)
    count = np.asarray(beats, dtype=float)
    rated = np.asarray(chosen, bool) & np.isfinite(mean) & (mean > 0) & (count > 0)
    out: dict[str, Any] = {"minutes": int(rated.sum()), "mean_bpm": None, "lowest": None, "highest": None}
    if not rated.any():
        return out
    # a minute's intervals cover count / mean minutes: the rate over all of them is beats over that time
    out["mean_bpm"] = round(float(count[rated].sum() / (count[rated] / mean[rated]).sum()), 1)
    for key, values, pick in (("lowest", low, np.nanargmin), ("highest", high, np.nanargmax)):
        masked = np.where(rated & np.isfinite(values), values, np.nan)
        if np.all(np.isnan(masked)):
            continue
        minute = int(pick(masked))
        out[key] = {"bpm": round(float(masked[minute]), 1), "minute": minute}
    return out


def seconds_in_minutes(spans: Sequence[tuple[int, int]], *, fs: float, n_samples: int, minutes: int) -> np.ndarray:
    """Per minute of the trend, the seconds of it that ``spans`` (start and end in samples, end inclusive) cover."""
    covered = np.zeros(minutes)
    per_minute = 60.0 * fs
    for start, end in spans:
        start, end = max(0, int(start)), min(int(end) + 1, int(n_samples))  # end exclusive from here
        if end <= start:
            continue
        first, last = int(start // per_minute), min(int((end - 1) // per_minute), minutes - 1)
        for minute in range(first, last + 1):
            lo, hi = max(start, minute * per_minute), min(end, (minute + 1) * per_minute)
            covered[minute] += max(0.0, hi - lo) / fs
    return covered


def af_burden_over(
    chosen: np.ndarray, *, af_seconds: np.ndarray, beats: Column, fs: float, n_samples: int
) -> float | None:
    """The share (%) of the ``chosen`` minutes with a rate that atrial fibrillation or flutter covers (``af_seconds``
    per minute, `seconds_in_minutes`), over those minutes' time (the last minute's as much as the recording holds);
    None where no chosen minute has a rate."""
    count = np.asarray(beats, dtype=float)
    rated = np.asarray(chosen, bool) & np.isfinite(count) & (count > 0)
    if not rated.any():
        return None
    minutes = len(rated)
    length = np.minimum(60.0, n_samples / fs - 60.0 * np.arange(minutes))
    total = float(length[rated].sum())
    # to two places, as the summary's burden: to a tenth, a short AF over a long night read 0.0 %, as none
    return round(100.0 * float(np.minimum(af_seconds[rated], length[rated]).sum()) / total, 2) if total > 0 else None


def awake_asleep(
    *,
    trend: dict[str, Column],
    fs: float,
    n_samples: int,
    sleep: Sequence[tuple[int, int]],
    event_types: Sequence[str] = (),
    event_starts: Sequence[int] = (),
    event_ends: Sequence[int] | None = None,
) -> dict[str, Any]:
    """The heart rate awake and asleep over a recording's per-minute ``trend`` (``minute``, ``beats``, ``hr_min``,
    ``hr_mean``, ``hr_max``, None or NaN where a minute has no rate), ``sleep`` the periods the diary says were
    sleep (samples, end inclusive; midnight is no boundary: samples run on): ``awake`` and ``asleep`` as
    ``rate_over`` gives them, each with its ``af_burden_pct`` (`af_burden_over`: the share of its minutes in atrial
    fibrillation or flutter, from the ``af`` and ``afl`` events' spans, given ``event_ends``), and ``events`` by type,
    how many began asleep of how many in all (``asleep``, ``total``), from the events' types and start samples."""
    minutes = len(trend.get("minute", []))
    asleep = minutes_in(sleep, fs=fs, n_samples=n_samples, minutes=minutes)

    def column(name: str) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in trend.get(name, [])], dtype=float)

    beats, hr_min, hr_mean, hr_max = (column(name) for name in ("beats", "hr_min", "hr_mean", "hr_max"))
    starts = np.asarray(event_starts, dtype=np.int64)
    began_asleep = np.zeros(len(starts), bool)
    for start, end in sleep:
        began_asleep |= (starts >= start) & (starts <= end)
    events: dict[str, dict[str, int]] = {}
    for kind, in_sleep in zip(event_types, began_asleep, strict=True):
        counted = events.setdefault(str(kind), {"asleep": 0, "total": 0})
        counted["total"] += 1
        counted["asleep"] += int(in_sleep)
    sides = {
        "awake": rate_over(~asleep, beats=beats, hr_min=hr_min, hr_mean=hr_mean, hr_max=hr_max),
        "asleep": rate_over(asleep, beats=beats, hr_min=hr_min, hr_mean=hr_mean, hr_max=hr_max),
    }
    if event_ends is not None:
        af_spans = [
            (int(start), int(end))
            for kind, start, end in zip(event_types, event_starts, event_ends, strict=True)
            if kind in AF_TYPES
        ]
        af_seconds = seconds_in_minutes(af_spans, fs=fs, n_samples=n_samples, minutes=minutes)
        for chosen, side in ((~asleep, "awake"), (asleep, "asleep")):
            sides[side]["af_burden_pct"] = af_burden_over(
                chosen, af_seconds=af_seconds, beats=beats, fs=fs, n_samples=n_samples
            )
    return {**sides, "events": events, "extreme_beats": TREND_BEATS}
