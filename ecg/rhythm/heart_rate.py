"""Heart rate over time: per-minute trend, overall extremes over 8 beats, HRV, the hourly table."""

from typing import Any

import numpy as np

EXTREME_BEATS = 8  # Holter systems quote the minimum and maximum rate over 8 consecutive beats
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


def extremes(
    r_peaks: np.ndarray, fs: float, excluded: np.ndarray | None = None, gaps: np.ndarray | None = None
) -> dict[str, Any]:
    """The lowest and highest 8-beat rate with the samples where they start and end.

    ``excluded`` marks beats (e.g. inside VF) whose windows do not count, ``gaps`` intervals (e.g.
    across VF) that no window may hold.
    """
    rate = rolling_rate(r_peaks, fs, gaps=gaps)
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


MIN_NN = 30  # normal-to-normal intervals HRV is computed from at the least


def hrv_time(nn_ms: np.ndarray, nn_time_s: np.ndarray) -> dict[str, Any]:
    """SDNN, SDANN (5-minute means), rMSSD and pNN50 over NN intervals, gaps respected (NeuroKit2)."""
    keys = {"sdnn_ms": "HRV_SDNN", "sdann_ms": "HRV_SDANN5", "rmssd_ms": "HRV_RMSSD", "pnn50_pct": "HRV_pNN50"}
    if len(nn_ms) < MIN_NN:
        # ``reason``: why the figures are blank, for the page and the API (None where they are computed)
        reason = f"{len(nn_ms)} normal-to-normal interval{'' if len(nn_ms) == 1 else 's'}; HRV needs {MIN_NN}"
        return {k: None for k in keys} | {"nn_count": len(nn_ms), "reason": reason}
    import warnings

    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = nk.hrv_time({"RRI": nn_ms, "RRI_Time": nn_time_s})
    out = {}
    for key, column in keys.items():
        value = float(table[column].iloc[0]) if column in table else float("nan")
        out[key] = None if not np.isfinite(value) else round(value, 1)
    out["nn_count"] = len(nn_ms)
    out["reason"] = None
    return out


def per_hour(
    r_peaks: np.ndarray, classes: np.ndarray, fs: float, n_samples: int, minutes: dict[str, np.ndarray]
) -> list[dict[str, Any]]:
    """Per hour: beats, HR min / mean / max (from the minute trend), V and S counts."""
    classes = np.asarray([str(c)[:1].upper() for c in classes])
    hours = max(1, int(np.ceil(n_samples / (3600.0 * fs))))
    which = np.minimum((r_peaks / (3600.0 * fs)).astype(int), hours - 1)
    rows = []
    for h in range(hours):
        in_hour = which == h
        span = slice(60 * h, 60 * (h + 1))
        beats = minutes["beats"][span]
        hr_mean = minutes["hr_mean"][span]
        have = ~np.isnan(hr_mean)
        rows.append(
            {
                "hour": h,
                "beats": int(in_hour.sum()),
                "hr_min": _round(np.nanmin(minutes["hr_min"][span])) if have.any() else None,
                "hr_mean": _round(np.average(hr_mean[have], weights=beats[have]))
                if have.any() and beats[have].sum()
                else None,
                "hr_max": _round(np.nanmax(minutes["hr_max"][span])) if have.any() else None,
                "v": int(np.sum(classes[in_hour] == "V")),
                "s": int(np.sum(classes[in_hour] == "S")),
            }
        )
    return rows


def _round(value: float) -> float:
    return round(float(value), 1)
