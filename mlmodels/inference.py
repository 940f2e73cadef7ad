"""Running Keras models on beats: arrays in, arrays out.

Models are loaded once per process and kept, keyed by the artifact's sha256,
so a worker reuses them across tasks and picks up a newly activated version
(a new key) without a restart.

Execution path: each model is called through one ``tf.function`` traced once with a fixed
input signature (any batch size, 187 x 1 float32), so TensorFlow runs it as an optimised graph
(oneDNN fuses convolution, bias and ReLU) instead of layer by layer in eager mode. Measured in one
run (``bench/inference.py``, ``bench/README.md``): about 5x eager ``model(x)`` at batch 1024 and
10x at batch 1; XLA (``jit_compile=True``) and ONNX Runtime were slower on these small
convolutions at batch 1024, so neither is used.
"""

import os
import threading
import weakref
from pathlib import Path

import numpy as np

_lock = threading.Lock()
_models: dict[str, object] = {}
_graphs: "weakref.WeakKeyDictionary[object, object]" = weakref.WeakKeyDictionary()


def load_model(path: Path, key: str):
    """The Keras model stored at ``path``, loaded (and its graph traced) once per process for ``key``."""
    with _lock:
        model = _models.get(key)
        if model is None:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            import keras

            model = keras.models.load_model(path, compile=False)
            _graph(model)(np.zeros((1, *model.input_shape[1:]), dtype=np.float32))  # trace now, not on the first upload
            # Keep only the most recent few versions in memory.
            while len(_models) >= 4:
                _models.pop(next(iter(_models)))
            _models[key] = model
        return model


def _graph(model):
    """The model's inference call as a graph function, traced once for any batch size."""
    fn = _graphs.get(model)
    if fn is None:
        import tensorflow as tf

        spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
        ref = weakref.ref(model)  # the cache must not keep an evicted model alive
        fn = tf.function(lambda x: ref()(x, training=False), input_signature=[spec])
        _graphs[model] = fn
    return fn


def predict(model, beats: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
    """Class scores for ``beats`` (n, 187), computed in batches."""
    x = np.asarray(beats, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected beats of shape (n, length), got {x.shape}")
    if len(x) == 0:
        return np.zeros((0, int(model.output_shape[-1])), dtype=np.float32)
    x = np.ascontiguousarray(x[..., np.newaxis])
    fn = _graph(model)
    outputs = [fn(x[start : start + batch_size]).numpy() for start in range(0, len(x), batch_size)]
    return np.concatenate(outputs).astype(np.float32, copy=False)


def mi_probability(scores: np.ndarray) -> np.ndarray:
    """The MI probability per beat: the last column of a softmax, or the single sigmoid output."""
    return scores[:, -1]
