"""Locating the shared PhysioNet data that some tests need.

Tests find it through ``ECG_DATA_DIR`` (default ``../shared/data`` beside the
repository).  Where it is absent they skip with a clear reason; under CI
(``CI=true``), where it is always present, its absence is a failure.
"""

import os
from pathlib import Path

import pytest

from ecg.datasets import paths

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = paths.data_dir()
SEED_DIR = paths.seed_dir()


def require(path: Path, what: str) -> Path:
    """Return ``path`` if it exists, else skip (or fail under CI) naming what is missing."""
    if path.exists():
        return path
    reason = f"{what} not found at {path} (set ECG_DATA_DIR / ECG_SEED_DIR)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; it must be present under CI")
    pytest.skip(reason)


def mitdb_dir() -> Path:
    return require(DATA_DIR / "mitdb", "MIT-BIH Arrhythmia Database")


def ptbdb_dir() -> Path:
    return require(DATA_DIR / "ptbdb", "PTB Diagnostic ECG Database (patient001)")


def mi_dir() -> Path:
    return require(DATA_DIR / "mi", "MI data (PTB / PTB-XL)")


def seed_dir() -> Path:
    return require(SEED_DIR, "the seed project's models and example input")


def svdb_dir() -> Path:
    return require(DATA_DIR / "svdb", "MIT-BIH Supraventricular Arrhythmia Database")


def cudb_dir() -> Path:
    return require(DATA_DIR / "cudb", "Creighton University VT database")


def cudb_vf_episode(record: str, index: int = 0):
    """The first lead of cudb ``record`` between its ``index``-th VF marks ('[' … ']'), lost samples dropped,
    and its sampling rate: a strip recorded in ventricular fibrillation, as a monitor would export it."""
    import numpy as np
    import wfdb

    path = str(cudb_dir() / record)
    ann = wfdb.rdann(path, "atr")
    opens = [s for s, sym in zip(ann.sample, ann.symbol) if sym == "["]
    closes = [s for s, sym in zip(ann.sample, ann.symbol) if sym == "]"]
    values, fields = wfdb.rdsamp(path, sampfrom=int(opens[index]), sampto=int(closes[index]), channels=[0])
    values = values[:, 0]
    return values[~np.isnan(values)], float(fields["fs"])
