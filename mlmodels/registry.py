"""From ModelVersion rows to loaded models, for workers and commands."""

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from django.core.files.storage import default_storage

from ecg.models import inference
from ecg.models import record as record_model
from ecg.processing.context import BeatContext

from .models import ModelVersion
from .services import sha256_of

_CACHE_DIR = Path(tempfile.gettempdir()) / "ecg-analyzer-models"


class ArtifactMismatch(Exception):
    """The stored artifact is not the file the version was registered with (its sha256 differs)."""


def _local_path(mv: ModelVersion) -> Path:
    assert mv.artifact.name is not None  # the artifact is required
    try:
        return Path(default_storage.path(mv.artifact.name))
    except NotImplementedError:  # an object store: keep one local copy per artifact, named by its digest
        _CACHE_DIR.mkdir(parents=True, exist_ok=True)
        local = _CACHE_DIR / f"{mv.sha256}.keras"
        # a copy there that is not those bytes (another local user's, in a shared temporary directory) is replaced
        if not local.exists() or sha256_of(local) != mv.sha256:
            # Written beside and renamed, so a pool process never loads another's half-written copy.
            with tempfile.NamedTemporaryFile(dir=_CACHE_DIR, suffix=".part", delete=False) as dst:
                with default_storage.open(mv.artifact.name, "rb") as src:
                    shutil.copyfileobj(src, dst, 1 << 20)
            os.replace(dst.name, local)
        return local


def _checked(path: Path, mv: ModelVersion) -> Path:
    """``path``, once its content is the artifact ``mv`` was registered with: another file in the store (written
    over it, restored from elsewhere) would diagnose under a version that did not make the diagnosis."""
    digest = sha256_of(path)
    if digest != mv.sha256:
        raise ArtifactMismatch(
            f"the stored artifact of {mv} has sha256 {digest}, not the {mv.sha256} it was registered with: not loaded"
        )
    return path


def model_for(mv: ModelVersion):
    # a model loaded already was checked when it was loaded: its bytes are in memory, keyed by the digest
    return inference.load_model(_local_path(mv), key=mv.sha256, check=lambda path: _checked(path, mv))


def mi_probabilities(beats: np.ndarray, *, mi: ModelVersion, batch_size: int) -> np.ndarray:
    """MI probability per beat (n,) of Kaggle-format ``beats``."""
    return inference.mi_probability(inference.predict(model_for(mi), beats, batch_size=batch_size))


def classify_beats(beats: np.ndarray, *, heartbeat: ModelVersion, batch_size: int) -> np.ndarray:
    """Heartbeat class probabilities (n, 5) of Kaggle-format ``beats`` by the beat-format model."""
    return inference.predict(model_for(heartbeat), beats, batch_size=batch_size)


def classify_in_context(
    context: BeatContext, part: slice, *, model_version: ModelVersion, batch_size: int
) -> np.ndarray:
    """Class probabilities (n, 5) of the beats ``part`` of a recording, by its record-level model."""
    return record_model.predict(
        model_for(model_version), context.morphology[part], context.features[part], batch_size=batch_size
    )
