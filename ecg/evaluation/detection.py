"""Scoring an R-peak detector against reference beat annotations (AAMI EC57 style).

A detection within ``TOLERANCE_S`` of a reference beat matches it, one to one, closest pairs first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

TOLERANCE_S = 0.150


def match_beats(detected: np.ndarray, reference: np.ndarray, tolerance: int) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching, closest pairs first. Returns matched (detected, reference) index arrays."""
    detected = np.asarray(detected, dtype=np.int64)
    reference = np.asarray(reference, dtype=np.int64)
    if len(detected) == 0 or len(reference) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pairs = []
    lo = np.searchsorted(detected, reference - tolerance, side="left")
    hi = np.searchsorted(detected, reference + tolerance, side="right")
    for r, (a, b) in enumerate(zip(lo, hi)):
        for d in range(a, b):
            pairs.append((abs(int(detected[d]) - int(reference[r])), d, r))
    pairs.sort()
    used_d, used_r = set(), set()
    md, mr = [], []
    for _, d, r in pairs:
        if d in used_d or r in used_r:
            continue
        used_d.add(d)
        used_r.add(r)
        md.append(d)
        mr.append(r)
    order = np.argsort(mr)
    return np.asarray(md, np.int64)[order], np.asarray(mr, np.int64)[order]


def score(detected: np.ndarray, reference: np.ndarray, fs: float) -> dict[str, Any]:
    md, mr = match_beats(detected, reference, int(round(TOLERANCE_S * fs)))
    tp = len(md)
    fp = len(detected) - tp
    fn = len(reference) - tp
    offsets_ms = (detected[md] - reference[mr]) * 1000.0 / fs
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "sensitivity": tp / (tp + fn) if tp + fn else 1.0,
        "ppv": tp / (tp + fp) if tp + fp else 1.0,
        "_offsets_ms": offsets_ms,
    }
