"""Compiled walks of gradient-boosted trees laid out by :func:`ecg.models.trees.packed`.

scikit-learn's walk takes one tree at a time over the rows and branches at every node, so about
half its comparisons are branches the processor guesses wrong. :func:`walk` instead takes eight rows
at once through every tree, each row a plain variable, and never branches on the data: a step is
``child[i] + (x > threshold[i])``, repeated to the tree's depth (a leaf is its own child), so the
eight rows' loads overlap. That needs rows without missing values; :func:`walk_with_missing` takes
any rows, one at a time, stopping at each leaf (bench/README.md, Performance, has the timings).

Both return the raw scores (rows x classes): the baseline plus each tree's leaf value in its class's
column. Compiled by numba on first use and cached beside this file, or in ``NUMBA_CACHE_DIR`` (the image
sets one: its code is read-only to the worker).
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np

LANES = 8  # rows walked side by side in :func:`walk`


def _compiled(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    try:
        return numba.njit(cache=True, nogil=True, boundscheck=False)(fn)  # type: ignore[no-any-return]
    except RuntimeError:  # no writable cache location: each process compiles on its first call (about 1 s)
        return numba.njit(nogil=True, boundscheck=False)(fn)  # type: ignore[no-any-return]


@_compiled
def walk(
    x: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    child: np.ndarray,
    go_right_if_missing: np.ndarray,
    value: np.ndarray,
    roots: np.ndarray,
    depth: np.ndarray,
    output: np.ndarray,
    baseline: np.ndarray,
) -> np.ndarray:
    n = x.shape[0]
    raw = np.empty((n, baseline.shape[0]), np.float64)
    for r in range(n):
        raw[r, :] = baseline
    whole = n - n % LANES
    for r in range(0, whole, LANES):
        for t in range(roots.shape[0]):
            i0 = i1 = i2 = i3 = i4 = i5 = i6 = i7 = roots[t]
            for _ in range(depth[t]):
                i0 = child[i0] + np.int32(x[r, feature[i0]] > threshold[i0])
                i1 = child[i1] + np.int32(x[r + 1, feature[i1]] > threshold[i1])
                i2 = child[i2] + np.int32(x[r + 2, feature[i2]] > threshold[i2])
                i3 = child[i3] + np.int32(x[r + 3, feature[i3]] > threshold[i3])
                i4 = child[i4] + np.int32(x[r + 4, feature[i4]] > threshold[i4])
                i5 = child[i5] + np.int32(x[r + 5, feature[i5]] > threshold[i5])
                i6 = child[i6] + np.int32(x[r + 6, feature[i6]] > threshold[i6])
                i7 = child[i7] + np.int32(x[r + 7, feature[i7]] > threshold[i7])
            c = output[t]
            raw[r, c] += value[i0]
            raw[r + 1, c] += value[i1]
            raw[r + 2, c] += value[i2]
            raw[r + 3, c] += value[i3]
            raw[r + 4, c] += value[i4]
            raw[r + 5, c] += value[i5]
            raw[r + 6, c] += value[i6]
            raw[r + 7, c] += value[i7]
    for r in range(whole, n):
        for t in range(roots.shape[0]):
            i = roots[t]
            for _ in range(depth[t]):
                i = child[i] + np.int32(x[r, feature[i]] > threshold[i])
            raw[r, output[t]] += value[i]
    return raw


@_compiled
def walk_with_missing(
    x: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    child: np.ndarray,
    go_right_if_missing: np.ndarray,
    value: np.ndarray,
    roots: np.ndarray,
    depth: np.ndarray,
    output: np.ndarray,
    baseline: np.ndarray,
) -> np.ndarray:
    n = x.shape[0]
    raw = np.empty((n, baseline.shape[0]), np.float64)
    for r in range(n):
        raw[r, :] = baseline
    for t in range(roots.shape[0]):
        c = output[t]
        for r in range(n):
            i = roots[t]
            while child[i] != i:
                v = x[r, feature[i]]
                if v > threshold[i] or (v != v and go_right_if_missing[i]):
                    i = child[i] + 1
                else:
                    i = child[i]
            raw[r, c] += value[i]
    return raw
