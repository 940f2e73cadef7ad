"""The record-level network computed by the project's own kernel (``net_forward.c``, built beside
this file by ``make`` as ``libnet_forward.so.1``), for processors with AVX2 and FMA, with 16-wide
vectors where the processor has AVX-512 (its matrix multiply then runs at twice the 8-wide rate).

TensorFlow runs the network's narrow convolutions (16 and 32 channels over 108 samples) at about
half the processor's matrix-multiply rate and max-pools in separate passes over memory
(bench/README.md, Gaps). The kernel computes each layer as rows times a kernel with the products
held in registers, pools the few outputs it keeps, and skips the outputs pooling drops: the same
probabilities from the same weights (float32, summed in another order), built from the plan
:mod:`ecg.models.record_graph` reads off the Keras model. Without the library, on another processor,
or for a model of other shapes, :func:`network` returns None and the caller keeps TensorFlow's graph.
"""

from __future__ import annotations

import ctypes
import logging
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ecg.models import native

logger = logging.getLogger(__name__)

# not net_forward.so nor lib*.so: Python and pkgutil take a file ending in .so for a module of this package
LIBRARY = Path(__file__).with_name("libnet_forward.so.1")
ACTIVATIONS = {"linear": 0, "relu": 1, "softmax": 2}


@cache
def library() -> Any | None:
    """The compiled library when it is built here and this processor runs it, else None."""
    lib = native.load(LIBRARY)
    if lib is None:
        return None
    lib.net_supported.argtypes = []
    lib.net_supported.restype = ctypes.c_int
    if not lib.net_supported():
        logger.info("this processor has no AVX2/FMA: the record-level network runs in TensorFlow")
        return None
    f32 = native.array(np.float32)
    if not hasattr(lib, "forward_lanes"):  # built from an older source: the network runs in TensorFlow
        logger.warning("%s predates this version's kernel: run make native", LIBRARY.name)
        return None
    lib.net_lanes.argtypes = []
    lib.net_lanes.restype = ctypes.c_int
    lib.forward_lanes.argtypes = [f32, f32, ctypes.c_int64, native.array(np.int64), f32, f32, ctypes.c_int]
    lib.forward_lanes.restype = ctypes.c_int
    return lib


def available() -> bool:
    return library() is not None


def lane_widths() -> tuple[int, ...]:
    """The vector widths (floats) the kernel can run here, narrowest first; () without the library."""
    lib = library()
    if lib is None:
        return ()
    return (8, 16) if lib.net_lanes() == 16 else (8,)


def _padded(a: np.ndarray, rows: int, cols: int) -> np.ndarray:
    out = np.zeros((rows, cols), np.float32)
    out[: a.shape[0], : a.shape[1]] = a
    return out


def pack(plan: Any, window: int, channels: int, n_features: int, first: tuple[np.ndarray, np.ndarray]) -> Any:
    """(shape, weights) for ``forward`` from a ``record_graph`` plan, or None for shapes it cannot take.

    ``first``: the first dense layer's (kernel, bias) per member with the feature scaling folded in
    (members x (flat + n_features) x units, members x units)."""
    if (
        any(c.kernel.shape[-1] % 8 for c in plan.convs)
        or plan.convs[0].kernel.shape[1] != plan.convs[0].size * channels
    ):
        return None
    shape = [plan.members, window, channels, n_features, len(plan.convs), len(plan.dense)]
    for conv in plan.convs:
        k_c_in, c_out = conv.kernel.shape[1:]
        shape += [conv.size, k_c_in // conv.size, c_out, conv.pool, int(conv.relu)]
    widths = []
    n_in = first[0].shape[1]
    for dense in plan.dense:
        n_out = dense.kernel.shape[-1]
        padded = -(-n_out // 8) * 8
        shape += [n_in, padded, n_out, ACTIVATIONS[dense.activation]]
        widths.append((n_in, padded))
        n_in = padded
    parts = []
    for m in range(plan.members):
        for conv in plan.convs:
            parts += [conv.kernel[m].ravel(), conv.bias[m]]
        for i, (dense, (rows, cols)) in enumerate(zip(plan.dense, widths)):
            kernel, bias = (first[0][m], first[1][m]) if i == 0 else (dense.kernel[m], dense.bias[m])
            parts += [_padded(kernel, rows, cols).ravel(), _padded(bias[None], 1, cols).ravel()]
    weights = np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)
    return np.asarray(shape, np.int64), weights


def network(
    plan: Any, window: int, channels: int, n_features: int, first: tuple[np.ndarray, np.ndarray], lanes: int = 0
) -> Any:
    """``(morphology, features) -> probabilities`` (numpy) by the kernel, or None (see the module);
    ``lanes``: the vector width (one of :func:`lane_widths`), 0 for the widest."""
    lib = library()
    if lib is None:
        return None
    if lanes and lanes not in lane_widths():
        raise ValueError(f"this processor runs the kernel with {lane_widths()} floats per vector, not {lanes}")
    packed = pack(plan, window, channels, n_features, first)
    if packed is None:
        return None
    shape, weights = packed
    classes = int(plan.dense[-1].kernel.shape[-1])

    def run(morph: Any, feats: Any) -> np.ndarray:
        m = np.ascontiguousarray(morph, dtype=np.float32)
        f = np.ascontiguousarray(feats, dtype=np.float32)
        if m.shape[1:] != (window, channels) or f.shape != (len(m), n_features):
            raise ValueError(f"expected ({window}, {channels}) morphology and {n_features} features per beat")
        if not (np.isfinite(m).all() and np.isfinite(f).all()):  # the kernel's max-pooling and ReLU drop NaN
            raise ValueError("the network's inputs must be finite (the beat context replaces missing values)")
        out = np.empty((len(m), classes), np.float32)
        if len(m) and lib.forward_lanes(m, f, len(m), shape, weights, out, lanes) != 0:
            raise MemoryError("the record-level network's kernel could not allocate its buffers")
        return out

    return run
