"""EC57's run-by-run comparison of ventricular ectopic runs (the algorithm of PhysioNet's ``rxr``).

ANSI/AAMI EC57 scores couplets (2 beats), short runs (3-5) and long runs (6 or more) by comparing
run lengths, not by overlap alone:

- A run is a sequence of consecutive ventricular ectopic *or fusion* beats (``V`` and ``F`` both
  extend a run); a normal, supraventricular or unclassifiable beat, or unreadable signal, ends it;
  a VF/VFL episode counts as a run of the maximum length (6).
- Sensitivity: for each reference run of length L, the longest test run (up to 6) among the test
  beats from 150 ms before its first beat to 150 ms after its last is found; a reference couplet
  is detected by a test run of 2 or more, a short run by 3 or more, a long run by 6 or more.
- Positive predictivity: the same with the roles swapped: a test couplet is true where the
  reference holds a run of 2 or more in its window, a test short run where it holds 3 or more, a
  test long run where it holds 6 or more.

A stream is a time-ordered list of ``(sample, label)`` with labels ``N``, ``S``, ``V``, ``F``,
``Q``, ``U`` (unreadable signal begins) and ``[`` / ``]`` (VF/VFL begins / ends); `beat_stream`
builds one from beats and classes. The whole stream is compared unless a start is given (EC57's
reports begin 5 minutes in, after a learning period this product does not have).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

MATCH_WINDOW_S = 0.15  # EC57's match window around a run's first and last beat
TEST_PERIOD_START_S = 300.0  # EC57's test period starts 5 minutes into a record (rxr's default)
MAX_LENGTH = 6  # run lengths are counted up to 6 (a long run); a VF/VFL episode counts as 6
RUN_CLASSES = {"couplet": (2, 2), "short_run": (3, 5), "long_run": (6, MAX_LENGTH)}

Stream = Sequence[tuple[int, str]]

_ENDS_RUN = frozenset("NSQU")
_EXTENDS_RUN = frozenset("VF")


def beat_stream(
    r_peaks: Iterable[int], labels: Iterable[str], vf: Iterable[tuple[int, int]] = (), unreadable: Iterable[int] = ()
) -> list[tuple[int, str]]:
    """A time-ordered comparison stream: each beat with its AAMI class (``N``, ``S``, ``V``, ``F``,
    ``Q``), ``[`` and ``]`` at each VF/VFL episode's first and last sample, ``U`` where unreadable
    signal begins. Beats inside a VF/VFL episode are left out (its waves are no beats)."""
    spans = [(int(s), int(e)) for s, e in vf]
    out = [(int(t), str(c)) for t, c in zip(r_peaks, labels, strict=True) if not any(s <= t <= e for s, e in spans)]
    out += [(s, "[") for s, _ in spans] + [(e, "]") for _, e in spans] + [(int(t), "U") for t in unreadable]
    order = {"[": 0, "U": 1, "]": 2}  # at one sample: an episode opens before beats, closes after them
    return sorted(out, key=lambda a: (a[0], order.get(a[1], 1)))


def report_stream(r_peaks: np.ndarray, classes: np.ndarray, events: Iterable[Any]) -> list[tuple[int, str]]:
    """A rhythm report (`ecg.rhythm.analyse_rhythm`'s events over its beats and classes) as EC57's run
    comparison reads a test annotation file: the beats of its V couplets and runs (``v_couplet``,
    ``v_run``, ``vt``) are V, its VF/VFL episodes are episodes, an isolated V or F beat is V; a V or F
    beat beside another that the report holds in no run (across a gap, in noise, fusion beats alone)
    ends runs (Q); every other beat keeps its class."""
    r_peaks = np.asarray(r_peaks)
    labels = np.asarray(classes, dtype="<U1").copy()
    ventricular = np.isin(labels, ["V", "F"])
    beside = np.zeros(len(labels), bool)
    beside[1:] |= ventricular[:-1]
    beside[:-1] |= ventricular[1:]
    labels[ventricular & beside] = "Q"
    labels[ventricular & ~beside] = "V"
    events = list(events)
    for e in events:
        if e.type in ("v_couplet", "v_run", "vt"):
            labels[(r_peaks >= e.start) & (r_peaks <= e.end)] = "V"
    vf_spans = [(e.start, e.end) for e in events if e.type == "vf"]
    return beat_stream(r_peaks, labels, vf_spans)


def _vf_spans(stream: Stream) -> list[tuple[int, int]]:
    """A stream's VF/VFL episodes: from ``[`` to the next ``]`` or ``U`` (or the stream's end)."""
    spans, opened = [], None
    for t, label in stream:
        if label == "[" and opened is None:
            opened = t
        elif label in "]U" and opened is not None:
            spans.append((opened, t))
            opened = None
    if opened is not None:
        spans.append((opened, np.iinfo(np.int64).max))
    return spans


def longest_run(stream: Stream, vf: list[tuple[int, int]], t0: int, t1: int) -> int:
    """The longest run (up to 6) of consecutive V/F beats of ``stream`` from sample ``t0`` to ``t1``;
    6 where one of its VF/VFL episodes ``vf`` overlaps that window."""
    if any(s <= t1 and e > t0 for s, e in vf):
        return MAX_LENGTH
    best = current = 0
    for _, label in stream[bisect.bisect_left(stream, (t0, "")) : bisect.bisect_right(stream, (t1, "~"))]:
        if label in _EXTENDS_RUN:
            current = min(current + 1, MAX_LENGTH)
        elif label in _ENDS_RUN:
            best, current = max(best, current), 0
    return max(best, current)


def _pass(a: Stream, b: Stream, window: int) -> np.ndarray:
    """Runs of stream ``a`` against the longest runs of ``b`` in their windows: ``m[la, lb]`` counts
    the runs of length ``la`` (0-6) in ``a`` whose window in ``b`` holds at most a run of ``lb``."""
    m = np.zeros((MAX_LENGTH + 1, MAX_LENGTH + 1), np.int64)
    b_vf = _vf_spans(b)
    length, start, end, in_vf = 0, 0, 0, False
    # The stream's end ends a run in progress (rxr reads its last annotation again as unclassifiable),
    # and an episode still open there lasts to the end.
    for t, label in [*a, (np.iinfo(np.int64).max, "Q")]:
        if length:
            if label in _ENDS_RUN:
                if in_vf:  # an episode with no `]`: it lasted to here, as `_vf_spans` reads it
                    end = t
                m[length, longest_run(b, b_vf, start, end)] += 1
                length, in_vf = 0, False
            elif label in _EXTENDS_RUN:
                length = min(length + 1, MAX_LENGTH)
                end = t + window
            elif label == "]":
                end, in_vf = t + window, False
        elif label in _EXTENDS_RUN:
            length, start, end = 1, t - window, t + window
        elif label == "[":
            length, start, end, in_vf = MAX_LENGTH, t - window, t + window, True
    return m


def from_sample(stream: Stream, start: int) -> list[tuple[int, str]]:
    """``stream`` from sample ``start`` on, as rxr reads a record from its test period's start: what
    came before is dropped, except a VF/VFL episode in progress, which opens there."""
    in_vf = any(s < start <= e for s, e in _vf_spans(stream))
    kept = [a for a in stream if a[0] >= start]
    return [(start, "["), *kept] if in_vf and not (kept and kept[0] == (start, "[")) else kept


def compare(reference: Stream, test: Stream, fs: float, start_s: float = 0.0) -> dict[str, dict[str, int]]:
    """EC57 run statistics of ``test`` against ``reference``: per length class, the reference runs
    (``ref``), those detected (``ref_detected``), the test runs (``test``) and those true
    (``test_true``); from ``start_s`` seconds on (EC57's test period starts at 5 minutes, rxr's
    default)."""
    if start_s > 0:
        start = int(round(start_s * fs))
        reference, test = from_sample(reference, start), from_sample(test, start)
    window = int(round(MATCH_WINDOW_S * fs))
    se = _pass(reference, test, window)  # [reference length, test length]
    pp = _pass(test, reference, window)  # [test length, reference length]
    out = {}
    for name, (lo, hi) in RUN_CLASSES.items():
        rows = slice(lo, hi + 1)
        out[name] = {
            "ref": int(se[rows].sum()),
            "ref_detected": int(se[rows, lo:].sum()),
            "test": int(pp[rows].sum()),
            "test_true": int(pp[rows, lo:].sum()),
        }
    return out
