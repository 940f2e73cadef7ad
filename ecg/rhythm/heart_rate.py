"""Heart rate over time: per-minute trend, overall extremes over 8 beats, HRV, the hourly table."""

from typing import Any, cast

import numpy as np

EXTREME_BEATS = 8  # Holter systems quote the minimum and maximum rate over 8 consecutive beats
# ... over this much R-R time at the least (the intervals counted, gaps left out): over a shorter ECG (a 10-s strip) the
# few windows weigh its first and last intervals less than the mean does, which then read above the maximum (MIT-BIH
# 222: 74.8 bpm beside 74.6); such a strip's rate is its mean alone. The hourly table's extremes hold to it too.
EXTREMES_MIN_S = 30.0
NN_RANGE_S = (0.3, 2.0)
NN_MAX_CHANGE = 0.2  # an interval differing >20 % from the previous one is not normal-to-normal


def rolling_rate(
    r_peaks: np.ndarray, fs: float, beats: int = EXTREME_BEATS, gaps: np.ndarray | None = None
) -> np.ndarray:
    """Rate (bpm) over the ``beats`` intervals ending at each beat; NaN before the first full window
    and for windows holding one of the ``gaps`` (per interval: True where the interval from a beat to
    the next is no R-R interval of a rhythm, e.g. it spans an episode of VF)."""
    rate = np.full(len(r_peaks), np.nan)
    if len(r_peaks) > beats:
        span = (r_peaks[beats:] - r_peaks[:-beats]).astype(float)
        rate[beats:] = 60.0 * fs * beats / span
        if gaps is not None and np.any(gaps):
            held = np.concatenate([[0], np.cumsum(np.asarray(gaps, np.int64))])  # gaps among the first k intervals
            rate[beats:][(held[beats:] - held[:-beats]) > 0] = np.nan
    return rate


def mean_rate(r_peaks: np.ndarray, fs: float, gaps: np.ndarray | None = None) -> float | None:
    """Mean heart rate (bpm) over the R-R intervals between ``r_peaks``, the ``gaps`` left out (an
    episode of VF has no heart rate: counted in, it would read as a rate of a few beats per minute)."""
    rr = np.diff(np.asarray(r_peaks, np.float64))
    if gaps is not None:
        rr = rr[~np.asarray(gaps, bool)]
    if not len(rr) or rr.sum() <= 0:
        return None
    return float(60.0 * fs * len(rr) / rr.sum())


def per_minute(r_peaks: np.ndarray, fs: float, n_samples: int, gaps: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per minute of the recording: beats, and the min / mean / max rate (NaN in a minute without beats;
    the ``gaps`` left out of the rates)."""
    minutes = max(1, int(np.ceil(n_samples / (60.0 * fs))))
    out = {"minute": np.arange(minutes), "beats": np.zeros(minutes, int)}
    for key in ("hr_min", "hr_mean", "hr_max"):
        out[key] = np.full(minutes, np.nan)
    if len(r_peaks) < 2:
        return out
    which = np.minimum((r_peaks / (60.0 * fs)).astype(int), minutes - 1)
    out["beats"] = np.bincount(which, minlength=minutes)
    rr = np.diff(r_peaks) / fs
    rr_minute = which[1:]
    counted = np.ones(len(rr), bool) if gaps is None else ~np.asarray(gaps, bool)
    total = np.bincount(rr_minute[counted], weights=rr[counted], minlength=minutes)
    count = np.bincount(rr_minute[counted], minlength=minutes)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["hr_mean"] = np.where(count > 0, 60.0 * count / total, np.nan)
    # Minute extremes use the 4-beat rate so a single ectopic interval does not set them.
    rate = rolling_rate(r_peaks, fs, 4, gaps=gaps)
    valid = ~np.isnan(rate)
    lo = np.full(minutes, np.inf)
    hi = np.full(minutes, -np.inf)
    np.minimum.at(lo, which[valid], rate[valid])
    np.maximum.at(hi, which[valid], rate[valid])
    out["hr_min"] = np.where(np.isfinite(lo), lo, out["hr_mean"])
    out["hr_max"] = np.where(np.isfinite(hi), hi, out["hr_mean"])
    return out


def in_short_hours(r_peaks: np.ndarray, fs: float, gaps: np.ndarray | None = None) -> np.ndarray:
    """Per beat: whether it lies in an hour of the recording (from its start) whose R-R intervals (those closing in
    it, the ``gaps`` left out) cover under EXTREMES_MIN_S, so that no 8-beat window closing there is an extreme of
    the summary or of the hourly table (a 10-s strip is such an hour; a recording's last few seconds may be)."""
    r_peaks = np.asarray(r_peaks, np.int64)
    which = (r_peaks / (3600.0 * fs)).astype(int)
    if len(r_peaks) < 2:
        return np.ones(len(r_peaks), bool)
    rr = np.diff(r_peaks).astype(float)
    if gaps is not None:
        rr = np.where(np.asarray(gaps, bool), 0.0, rr)
    covered = np.bincount(which[1:], weights=rr, minlength=int(which[-1]) + 1)
    return cast(np.ndarray, covered[which] < EXTREMES_MIN_S * fs)


def extremes(
    r_peaks: np.ndarray, fs: float, excluded: np.ndarray | None = None, gaps: np.ndarray | None = None
) -> dict[str, Any]:
    """The lowest and highest 8-beat rate with the samples where they start and end, over the windows closing in
    hours whose intervals cover EXTREMES_MIN_S (`in_short_hours`): None for both over a 10-s strip.

    ``excluded`` marks beats (e.g. inside VF) whose windows do not count, ``gaps`` intervals (e.g.
    across VF) that no window may hold.
    """
    rate = rolling_rate(r_peaks, fs, gaps=gaps)
    rate[in_short_hours(r_peaks, fs, gaps)] = np.nan
    if excluded is not None and len(rate) > EXTREME_BEATS:
        window_hit = np.convolve(excluded.astype(int), np.ones(EXTREME_BEATS + 1, int))[: len(rate)] > 0
        rate[window_hit] = np.nan
    if np.all(np.isnan(rate)):
        return {"hr_min": None, "hr_max": None}
    out = {}
    for key, pick in (("hr_min", np.nanargmin), ("hr_max", np.nanargmax)):
        i = int(pick(rate))
        out[key] = {"bpm": round(float(rate[i]), 1), "start": int(r_peaks[i - EXTREME_BEATS]), "end": int(r_peaks[i])}
    return out


def nn_intervals(
    r_peaks: np.ndarray, classes: np.ndarray, fs: float, excluded: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Normal-to-normal intervals (ms) and the time (s) of the beat closing each."""
    classes = np.asarray([str(c)[:1].upper() for c in classes])
    rr = np.diff(r_peaks) / fs
    ok = (classes[1:] == "N") & (classes[:-1] == "N") & (rr >= NN_RANGE_S[0]) & (rr <= NN_RANGE_S[1])
    if excluded is not None:
        ok &= ~excluded[1:] & ~excluded[:-1]
    previous = np.concatenate([[np.nan], rr[:-1]])
    with np.errstate(invalid="ignore"):
        ok &= ~(np.abs(rr - previous) > NN_MAX_CHANGE * previous)
    return 1000.0 * rr[ok], r_peaks[1:][ok] / fs


MIN_NN_S = 240.0  # the time the NN intervals HRV is computed from cover at the least: short-term HRV is
# read from a 5-minute recording, 4 of its minutes (NN intervals are at most 2 s: 120 of them or more)
SDANN_SEGMENT_S = 300.0  # SDANN: the standard deviation of the mean NN interval of 5-minute segments ...
SDANN_COVER = 0.5  # ... each counted where its NN intervals cover at least this share of it ...
SDANN_SEGMENTS = 12  # ... over at least this many such segments (an hour; the measure is meant for 24 hours)


def sdann(nn_ms: np.ndarray, nn_time_s: np.ndarray) -> float | None:
    """SDANN (ms) over 5-minute segments from the first NN interval on, only those its NN intervals cover well
    (a segment of a few NN intervals between atrial fibrillation or ectopic beats has a mean that says
    nothing of the autonomic trend; with such segments it can read above SDNN); None with too few."""
    nn_ms, nn_time_s = np.asarray(nn_ms, float), np.asarray(nn_time_s, float)
    if not len(nn_ms):
        return None
    segment = ((nn_time_s - nn_time_s[0]) // SDANN_SEGMENT_S).astype(np.int64)
    covered = np.bincount(segment, weights=nn_ms / 1000.0)
    total = np.bincount(segment, weights=nn_ms)
    count = np.bincount(segment)
    good = covered >= SDANN_COVER * SDANN_SEGMENT_S
    if good.sum() < SDANN_SEGMENTS:
        return None
    return round(float(np.std(total[good] / count[good], ddof=1)), 1)


def hrv_time(nn_ms: np.ndarray, nn_time_s: np.ndarray) -> dict[str, Any]:
    """SDNN, SDANN (5-minute means, ``sdann``), rMSSD and pNN50 over NN intervals, gaps respected (NeuroKit2)."""
    keys = {"sdnn_ms": "HRV_SDNN", "rmssd_ms": "HRV_RMSSD", "pnn50_pct": "HRV_pNN50"}
    covered_s = float(np.sum(nn_ms)) / 1000.0
    if covered_s < MIN_NN_S:
        # ``reason``: why the figures are blank, for the page and the API (None where they are computed)
        reason = (
            f"{len(nn_ms)} normal-to-normal interval{'' if len(nn_ms) == 1 else 's'} over {covered_s / 60.0:.1f} min;"
            f" HRV needs {MIN_NN_S / 60.0:.0f} min of them"
        )
        return {k: None for k in keys} | {"sdann_ms": None, "nn_count": len(nn_ms), "reason": reason}
    import warnings

    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = nk.hrv_time({"RRI": nn_ms, "RRI_Time": nn_time_s})
    out: dict[str, Any] = {}
    for key, column in keys.items():
        value = float(table[column].iloc[0]) if column in table else float("nan")
        out[key] = None if not np.isfinite(value) else round(value, 1)
    out = {"sdnn_ms": out["sdnn_ms"], "sdann_ms": sdann(nn_ms, nn_time_s), **out}
    out["nn_count"] = len(nn_ms)
    out["reason"] = None
    return out


def per_hour(
    r_peaks: np.ndarray, classes: np.ndarray, fs: float, n_samples: int, gaps: np.ndarray | None = None
) -> list[dict[str, Any]]:
    """Per hour: beats, HR min / mean / max, V and S counts, by the summary's own definitions so the
    table and the summary agree: the mean over the hour's R-R intervals (beats per minute of time, as
    the recording's mean; an average of minute rates weighted by beats leans to the fast minutes), the
    extremes over 8 beats (the overall minimum is the lowest hour's), where the hour's intervals cover
    EXTREMES_MIN_S. An interval or window belongs to
    the hour of the beat that closes it; the ``gaps`` are left out of every rate."""
    r_peaks = np.asarray(r_peaks, np.int64)
    classes = np.asarray([str(c)[:1].upper() for c in classes])
    hours = max(1, int(np.ceil(n_samples / (3600.0 * fs))))
    which = np.minimum((r_peaks / (3600.0 * fs)).astype(int), hours - 1)
    rr = np.diff(r_peaks).astype(float)
    counted = np.ones(len(rr), bool) if gaps is None else ~np.asarray(gaps, bool)
    rr_hour = which[1:]
    total = np.bincount(rr_hour[counted], weights=rr[counted], minlength=hours)
    count = np.bincount(rr_hour[counted], minlength=hours)
    rate = rolling_rate(r_peaks, fs, gaps=gaps)
    rate[in_short_hours(r_peaks, fs, gaps)] = np.nan  # as the summary's extremes leave them
    valid = ~np.isnan(rate)
    rows = []
    for h in range(hours):
        in_hour = which == h
        windows = rate[in_hour & valid]
        rows.append(
            {
                "hour": h,
                "beats": int(in_hour.sum()),
                "hr_min": _round(windows.min()) if len(windows) else None,
                "hr_mean": _round(60.0 * fs * count[h] / total[h]) if count[h] and total[h] > 0 else None,
                "hr_max": _round(windows.max()) if len(windows) else None,
                "v": int(np.sum(classes[in_hour] == "V")),
                "s": int(np.sum(classes[in_hour] == "S")),
            }
        )
    return rows


def _round(value: float) -> float:
    return round(float(value), 1)
