"""Loading the project's compiled libraries (``make native``): the trees' walk and the network's kernel.

Each is plain C loaded by ctypes (no Python headers, no compiler at run time). A library that is not
built here is absent; one that cannot be loaded (built for another machine, or damaged) is absent
with a warning that says how to rebuild it. The callers then take their slower paths.
"""

from __future__ import annotations

import ctypes
import logging
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


def array(dtype: Any) -> Any:
    """The ctypes argument type of a C-contiguous numpy array of ``dtype``."""
    return np.ctypeslib.ndpointer(dtype=dtype, flags="C_CONTIGUOUS")


def load(path: Path) -> Any | None:
    """The library at ``path``, or None when it is not built or cannot be loaded (a warning then)."""
    if not path.exists():
        return None
    try:
        return ctypes.CDLL(str(path))  # a CDLL call releases the GIL
    except OSError as exc:
        logger.warning("%s cannot be loaded (%s): rebuild it with make native", path.name, exc)
        return None
