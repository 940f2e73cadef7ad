"""Stretches where a recording carries no signal: a lead off, samples a file marks as lost, or samples
it filled with one value.

A connected ECG lead never holds one value for seconds: the converter's last bit flickers and the
baseline wanders, even in asystole. A lead that came off, or a gap an exporting system filled with a
constant (zero, the last value, the rail), holds it exactly. Read as ECG such a stretch is asystole
(no beat for seconds) or, after band-pass filtering leaves a scale-free residue, VF: the rhythm
analysis leaves it out of both and of every heart-rate figure, and reports it as signal loss. Samples
the file itself marks as lost (``Signal.lost_spans``; the reader bridges them) join those stretches
through :func:`stretches`, however short: no beat can be told there either.
"""

import numpy as np

FLAT_OF_MEDIAN = 1e-3  # a second whose peak-to-peak is at most this share of the record's median second's ...
FLAT_SECONDS = 2  # ... is flat; this many flat seconds in a row carry no signal


def no_signal(values: np.ndarray, fs: float) -> list[tuple[int, int]]:
    """(start, end) samples, ``end`` inclusive, of every stretch of ``FLAT_SECONDS`` or more whole
    seconds whose peak-to-peak stays within ``FLAT_OF_MEDIAN`` of the record's median second's.

    Seconds are taken as blocks of the signal itself (no copy), so a 24-hour recording costs two
    numbers per second."""
    x = np.asarray(values)
    block = max(1, int(round(fs)))
    n = len(x) // block
    if n < FLAT_SECONDS:
        return []
    seconds = x[: n * block].reshape(n, block)
    spread = seconds.max(axis=1) - seconds.min(axis=1)
    flat = spread <= FLAT_OF_MEDIAN * float(np.median(spread))
    edges = np.diff(np.concatenate([[0], flat.astype(np.int8), [0]]))
    out = []
    for first, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        if stop - first >= FLAT_SECONDS:
            out.append((int(first) * block, int(stop) * block - 1))
    return out


def stretches(values: np.ndarray, fs: float, lost: list[tuple[int, int]] | None = None) -> list[tuple[int, int]]:
    """Every stretch without signal, sorted and disjoint: :func:`no_signal` of ``values`` and the
    ``lost`` samples (``Signal.lost_spans`` of the lead), overlapping or touching ones merged."""
    spans = sorted(no_signal(values, fs) + list(lost or []))
    out: list[tuple[int, int]] = []
    for start, end in spans:
        if out and start <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def long_enough(spans: list[tuple[int, int]], fs: float) -> list[tuple[int, int]]:
    """The ``spans`` of ``FLAT_SECONDS`` or more: a shorter gap, bridged, is read through by a
    measure over seconds of signal (VF's windows), as a moment of VF lost is still VF."""
    return [(s, e) for s, e in spans if e - s + 1 >= FLAT_SECONDS * fs]


def overlapping(spans: list[tuple[int, int]], start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Per [``start``, ``end``] (inclusive): whether it overlaps any of the sorted, disjoint ``spans``."""
    start, end = np.asarray(start), np.asarray(end)
    if not spans:
        return np.zeros(len(start), bool)
    first = np.array([s for s, _ in spans])
    last = np.array([e for _, e in spans])
    k = np.searchsorted(first, end, side="right") - 1  # the last span starting at or before each end
    return (k >= 0) & (last[np.maximum(k, 0)] >= start)
