"""Ventricular and supraventricular ectopy from beat classes: isolated beats, couplets, runs, bigeminy, trigeminy."""

import re
from typing import Any

import numpy as np

from .events import Event, run_rate

VT_RATE_BPM = 100.0
# A pattern counts as bigeminy / trigeminy from three cycles on, as Holter systems report it.
MIN_CYCLES = 3


def _class_string(classes: np.ndarray) -> str:
    return "".join(str(c)[:1].upper() for c in classes)


def runs(classes: np.ndarray, target: str) -> list[tuple[int, int]]:
    """(first, last) beat indices of every maximal run of ``target`` beats."""
    return [(m.start(), m.end() - 1) for m in re.finditer(f"{target}+", _class_string(classes))]


def ectopic_events(
    r_peaks: np.ndarray, classes: np.ndarray, fs: float, *, kind: str
) -> tuple[list[Event], dict[str, Any]]:
    """Couplets and runs of V (``kind="V"``) or S beats, with counts, the longest and fastest run."""
    prefix = kind.lower()
    fast, slow = ("vt", "v_run") if kind == "V" else ("svt", "s_run")
    events: list[Event] = []
    isolated = 0
    for first, last in runs(classes, kind):
        n = last - first + 1
        if n == 1:
            isolated += 1
            continue
        rate = run_rate(r_peaks, first, last, fs)
        if n == 2:
            events.append(Event(f"{prefix}_couplet", int(r_peaks[first]), int(r_peaks[last]), 2, rate))
            continue
        kind_name = fast if rate is not None and rate >= VT_RATE_BPM else slow
        events.append(Event(kind_name, int(r_peaks[first]), int(r_peaks[last]), n, rate))
    summary = {
        "total": int(sum(1 for c in _class_string(classes) if c == kind)),
        "isolated": isolated,
        **run_summary(events),
    }
    return events, summary


def run_summary(events: list[Event]) -> dict[str, Any]:
    """Couplets, runs, the longest and the fastest run among ``events`` (of ``ectopic_events``), so a
    summary says what an event list holds after events are left out of it."""
    runs_ = [e for e in events if not e.type.endswith("_couplet")]
    longest = max(runs_, key=lambda e: e.beats, default=None)  # the first of the longest
    timed = [e for e in runs_ if e.rate_bpm is not None]
    fastest = max(timed, key=lambda e: e.rate_bpm or 0.0, default=None)
    return {
        "couplets": sum(1 for e in events if e.type.endswith("_couplet")),
        "runs": len(runs_),
        "longest_run": longest.as_dict() if longest else None,
        "fastest_run": fastest.as_dict() if fastest else None,
    }


def pattern_events(r_peaks: np.ndarray, classes: np.ndarray, fs: float) -> list[Event]:
    """Ventricular bigeminy (N V N V ...) and trigeminy (N N V N N V ...) episodes."""
    text = _class_string(classes)
    events = []
    for name, cycle in (("bigeminy", "NV"), ("trigeminy", "NNV")):
        for m in re.finditer(f"(?:{cycle}){{{MIN_CYCLES},}}", text):
            first, last = m.start(), m.end() - 1
            events.append(
                Event(
                    name,
                    int(r_peaks[first]),
                    int(r_peaks[last]),
                    last - first + 1,
                    run_rate(r_peaks, first + 1, last, fs),
                )
            )
    return events
