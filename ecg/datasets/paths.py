"""Where the PhysioNet databases and the seed project's files are.

``$ECG_DATA_DIR`` and ``$ECG_SEED_DIR``; by default ``shared/data`` and ``shared/seed`` beside the
checkout. Training commands, benches and tests all look here.
"""

from __future__ import annotations

import os
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    return Path(os.environ.get("ECG_DATA_DIR", _CHECKOUT.parent / "shared" / "data")).resolve()


def seed_dir() -> Path:
    return Path(os.environ.get("ECG_SEED_DIR", _CHECKOUT.parent / "shared" / "seed")).resolve()
