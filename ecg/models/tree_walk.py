"""The compiled walks of gradient-boosted trees (``tree_walk.c``, built beside this file by ``make``
as ``libtree_walk.so.1``).

scikit-learn's walk takes one tree at a time over the rows and branches at every node, so about
half its comparisons are branches the processor guesses wrong. :func:`walk` takes eight rows at once
through every tree without branching on the data (rows with a missing value go through
:func:`walk_with_missing`, which follows each node's learnt branch); bench/README.md (Performance,
Gaps) has the timings. The library is plain C loaded by ctypes: no compiler at run time, a few
kilobytes of memory (a JIT compiler such as numba costs the worker about 100 MB).

Both functions return raw scores (rows x classes): the baseline plus each tree's leaf value in its
class's column, for the arrays of :func:`ecg.models.trees.packed`.
"""

from __future__ import annotations

import ctypes
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ecg.models import native

# not tree_walk.so nor lib*.so: Python and pkgutil take a file ending in .so for a module of this package
LIBRARY = Path(__file__).with_name("libtree_walk.so.1")


@cache
def library() -> Any | None:
    """The compiled library, or None when it has not been built here (``make native``)."""
    lib = native.load(LIBRARY)
    if lib is None:
        return None
    i64, i32, u8 = ctypes.c_int64, native.array(np.int32), native.array(np.uint8)
    f32, f64 = native.array(np.float32), native.array(np.float64)
    lib.walk.argtypes = [f32, i64, i64, i32, i32, f32, i32, f64, i32, i32, i32, i64, i64, f64]
    lib.walk.restype = None
    lib.walk_with_missing.argtypes = [f32, i64, i64, i32, f32, i32, u8, f64, i32, i32, i64, i64, f64]
    lib.walk_with_missing.restype = None
    return lib


def available() -> bool:
    return library() is not None


def _prepared(x: np.ndarray, arrays: dict[str, np.ndarray]) -> tuple[Any, np.ndarray, np.ndarray]:
    """(the library, the rows as contiguous float32, the raw scores holding the baseline)."""
    lib = library()
    if lib is None:
        raise RuntimeError(f"{LIBRARY.name} is not built: run make native")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError("the trees' input rows must be a 2-D array")
    if x.shape[1] < int(arrays["n_inputs"]):
        raise ValueError(f"the trees read {int(arrays['n_inputs'])} inputs per row, the rows have {x.shape[1]}")
    return lib, x, np.tile(arrays["baseline"], (len(x), 1))


def walk(x: np.ndarray, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Raw scores of rows without missing values (eight at a time, no branch on the data)."""
    lib, x, raw = _prepared(x, arrays)
    keys = ("feature", "lane_offset", "threshold", "child", "value", "roots", "depth", "output")
    nodes = (arrays[k] for k in keys)
    lib.walk(x, len(x), x.shape[1], *nodes, len(arrays["roots"]), raw.shape[1], raw)
    return raw


def walk_with_missing(x: np.ndarray, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """Raw scores of any rows (one at a time; a missing value takes the node's learnt branch)."""
    lib, x, raw = _prepared(x, arrays)
    keys = ("feature", "threshold", "child", "go_right_if_missing", "value", "roots", "output")
    lib.walk_with_missing(x, len(x), x.shape[1], *(arrays[k] for k in keys), len(arrays["roots"]), raw.shape[1], raw)
    return raw
