"""Ventricular and supraventricular ectopy from beat classes: isolated beats, couplets, runs, bigeminy, trigeminy."""

import re
from typing import Any

import numpy as np

from .events import Event, run_rate

VT_RATE_BPM = 100.0
# A pattern counts as bigeminy / trigeminy from three cycles on, as Holter systems report it.
MIN_CYCLES = 3
# The classes whose consecutive beats make a run of each kind: a ventricular run is consecutive
# ventricular ectopic or fusion beats holding at least one ventricular beat, as AAMI EC57 and EC38 count
# runs (a fusion beat is a ventricular discharge meeting a conducted one: F V is two ventricular beats
# in a row), except that fusion beats alone make no run (EC57 counts them: 4 of MIT-BIH's 883 runs).
RUN_MEMBERS = {"V": "VF", "S": "S"}


def _class_string(classes: np.ndarray) -> str:
    return "".join(str(c)[:1].upper() for c in classes)


def runs(classes: np.ndarray, target: str, holding: str = "") -> list[tuple[int, int]]:
    """(first, last) beat indices of every maximal run of beats whose class is one of ``target``'s
    letters ("V"; "VF" for V and F beats in any order), given ``holding``, those that hold a beat of
    that class."""
    return [
        (m.start(), m.end() - 1)
        for m in re.finditer(f"[{target}]+", _class_string(classes))
        if not holding or holding in m.group()
    ]


def segments(n_beats: int, gaps: np.ndarray | None) -> list[slice]:
    """The stretches of consecutive beats between ``gaps`` (per interval between beats k and k + 1:
    True where it is no R-R interval of a rhythm, e.g. across VF/VFL or a stretch without signal)."""
    if gaps is None or not np.any(gaps):
        return [slice(0, n_beats)]
    cuts = [0, *(np.flatnonzero(np.asarray(gaps, bool)) + 1).tolist(), n_beats]
    return [slice(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


def ectopic_events(
    r_peaks: np.ndarray, classes: np.ndarray, fs: float, *, kind: str, gaps: np.ndarray | None = None
) -> tuple[list[Event], dict[str, Any]]:
    """Couplets and runs of V (``kind="V"``, fusion beats among them: `RUN_MEMBERS`) or S beats, with
    counts, the longest and fastest run.

    No run, couplet or rate reaches across one of the ``gaps``: the beats either side of a VF/VFL
    episode are not neighbours (MIT-BIH 207's idioventricular rhythm after VF read as an 88-beat run at
    27 /min, its first interval the 147 s of VF before it).
    """
    prefix = kind.lower()
    fast, slow = ("vt", "v_run") if kind == "V" else ("svt", "s_run")
    events: list[Event] = []
    isolated = 0
    for part in segments(len(r_peaks), gaps):
        peaks = r_peaks[part]
        for first, last in runs(classes[part], RUN_MEMBERS[kind], holding=kind):
            n = last - first + 1
            if n == 1:
                isolated += 1
                continue
            rate = run_rate(peaks, first, last, fs)
            if n == 2:
                events.append(Event(f"{prefix}_couplet", int(peaks[first]), int(peaks[last]), 2, rate))
                continue
            kind_name = fast if rate is not None and rate >= VT_RATE_BPM else slow
            events.append(Event(kind_name, int(peaks[first]), int(peaks[last]), n, rate))
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
    longest = max(runs_, key=lambda e: e.beats or 0, default=None)  # the first of the longest (runs count beats)
    timed = [e for e in runs_ if e.rate_bpm is not None]
    fastest = max(timed, key=lambda e: e.rate_bpm or 0.0, default=None)
    return {
        "couplets": sum(1 for e in events if e.type.endswith("_couplet")),
        "runs": len(runs_),
        # of them, those at 100 /min or faster: ventricular or supraventricular tachycardia (vt, svt events)
        "fast_runs": sum(1 for e in runs_ if e.type in ("vt", "svt")),
        "longest_run": longest.as_dict() if longest else None,
        "fastest_run": fastest.as_dict() if fastest else None,
    }


def pattern_events(
    r_peaks: np.ndarray, classes: np.ndarray, fs: float, *, gaps: np.ndarray | None = None
) -> list[Event]:
    """Ventricular bigeminy (N V N V ...) and trigeminy (N N V N N V ...) episodes, none across ``gaps``.

    An episode ends with the last V beat that is not the first of a couplet or run: that beat is the
    run's, and one beat is not reported in two events. Where a trigeminy turns into a bigeminy (or
    back) the later episode starts after the earlier one's last beat, and needs its three cycles
    without it (MIT-BIH 119: the trigeminy's last N V was the bigeminy's first cycle); where it has
    them only with the earlier one's last cycles, and the earlier one keeps three cycles without those,
    the earlier one gives them up instead (MIT-BIH 119 at 12:45, 16:05, 21:22 and 24:36: a trigeminy of
    four cycles then three bigeminal ones, which the annotators mark as both, read as the trigeminy alone)."""
    found: list[tuple[int, int, str, int]] = []  # (first, last) beat indices in r_peaks, name, cycle length
    for part in segments(len(r_peaks), gaps):
        text = _class_string(classes[part])
        for name, cycle in (("bigeminy", "NV"), ("trigeminy", "NNV")):
            for m in re.finditer(f"(?:{cycle}){{{MIN_CYCLES},}}(?![{RUN_MEMBERS['V']}])", text):
                found.append((part.start + m.start(), part.start + m.end() - 1, name, len(cycle)))
    kept: list[tuple[int, int, str, int]] = []  # (first, last, name, cycle length) of those kept, in time order
    for first, last, name, size in sorted(found):
        if kept and first <= kept[-1][1]:
            later = first + -(-(kept[-1][1] + 1 - first) // size) * size  # whole cycles after the earlier episode
            if (last - later + 1) // size >= MIN_CYCLES:
                first = later
            else:
                # the earlier episode's whole cycles that end before this one's first beat
                before, own = kept[-1][0], kept[-1][3]
                cycles = (first - before) // own
                if cycles < MIN_CYCLES:
                    continue
                kept[-1] = (before, before + cycles * own - 1, kept[-1][2], own)
        kept.append((first, last, name, size))
    events = [
        Event(name, int(r_peaks[first]), int(r_peaks[last]), last - first + 1, run_rate(r_peaks, first, last, fs))
        for first, last, name, _ in kept
    ]
    return sorted(events, key=lambda e: e.start)
