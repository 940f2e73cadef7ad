"""Running Keras models on beats: arrays in, arrays out.

Models are loaded once per process and kept, keyed by the artifact's sha256,
so a worker reuses them across tasks and picks up a newly activated version
(a new key) without a restart.
"""

import os
import threading
from pathlib import Path

import numpy as np

_lock = threading.Lock()
_models: dict[str, object] = {}


def load_model(path: Path, key: str):
    """The Keras model stored at ``path``, loaded once per process for ``key``."""
    with _lock:
        model = _models.get(key)
        if model is None:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            import keras

            model = keras.models.load_model(path, compile=False)
            # Keep only the most recent few versions in memory.
            while len(_models) >= 4:
                _models.pop(next(iter(_models)))
            _models[key] = model
        return model


def predict(model, beats: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
    """Class scores for ``beats`` (n, 187), computed in batches."""
    x = np.asarray(beats, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected beats of shape (n, length), got {x.shape}")
    x = x[..., np.newaxis]
    outputs = []
    for start in range(0, len(x), batch_size):
        outputs.append(np.asarray(model(x[start : start + batch_size], training=False)))
    if not outputs:
        return np.zeros((0, int(model.output_shape[-1])), dtype=np.float32)
    return np.concatenate(outputs).astype(np.float32)


def mi_probability(scores: np.ndarray) -> np.ndarray:
    """The MI probability per beat: the last column of a softmax, or the single sigmoid output."""
    return scores[:, -1]
