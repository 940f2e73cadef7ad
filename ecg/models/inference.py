"""Running Keras models on beats: arrays in, arrays out.

Models are loaded once per process and kept, keyed by the artifact's sha256,
so a worker reuses them across tasks and picks up a newly activated version
(a new key) without a restart.

Execution path: each model is called through one ``tf.function`` traced once at load with a fixed
input signature (any batch size, 187 x 1 float32), so TensorFlow runs it as an optimised graph
instead of layer by layer in eager mode; networks made of the usual layers (Conv1D, pooling, Add,
ReLU, Dropout, Flatten, Dense) are written as 2-D ops so the convolutions fuse with their bias,
residual add and ReLU, checked against the Keras graph on a probe batch at load. Measured in one
run (``bench/inference.py``, ``bench/README.md``): 1.8-3x eager ``model(x)`` at batch 1024 and
~15x at batch 1; XLA (``jit_compile=True``) and ONNX Runtime were slower on these small convolutions at
batch 1024, so neither is used.
"""

import os
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

_lock = threading.Lock()
_models: dict[str, Any] = {}
_graphs: "weakref.WeakKeyDictionary[object, object]" = weakref.WeakKeyDictionary()


def load_model(path: Path, key: str, check: Callable[[Path], Any] | None = None) -> Any:
    """The Keras model stored at ``path``, loaded (and its graph traced) once per process for ``key``;
    ``check(path)``, if given, runs before it is loaded (and raises to refuse it)."""
    with _lock:
        model = _models.get(key)
        if model is None:
            if check is not None:
                check(path)
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
            import keras

            from ecg.models import trees  # noqa: F401 - registers the tree layers a blended model holds

            model = keras.models.load_model(path, compile=False)
            if len(model.inputs) == 1:  # trace now, not on the first upload
                _graph(model)(np.zeros((1, *model.input_shape[1:]), dtype=np.float32))
            else:
                from ecg.models import record

                record.warm_up(model)
            # Keep only the most recent few versions in memory.
            while len(_models) >= 4:
                _models.pop(next(iter(_models)))
            _models[key] = model
        return model


def _graph(model: Any) -> Any:
    """The model's inference call as a graph function, traced once for any batch size."""
    fn = _graphs.get(model)
    if fn is None:
        import tensorflow as tf

        spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
        ref: Callable[[], Any] = weakref.ref(model)  # the cache must not keep an evicted model alive
        fn = tf.function(lambda x: ref()(x, training=False), input_signature=[spec])
        conv2d = _conv2d_graph(model, spec)
        if conv2d is not None:
            probe = np.random.default_rng(0).random((16, *model.input_shape[1:]), dtype=np.float32)
            if np.allclose(conv2d(probe).numpy(), fn(probe).numpy(), rtol=1e-4, atol=1e-5):
                fn = conv2d
        _graphs[model] = fn
    return fn


class _Unsupported(Exception):
    pass


def _conv2d_graph(model: Any, spec: Any) -> Any:
    """The same network written as 2-D ops on (n, 1, length, channels), or None if it has other layers.

    Keras runs each Conv1D as ExpandDims -> Conv2D -> Squeeze; staying in 4-D removes those and
    lets TensorFlow's remapper fuse Conv2D with its bias, the residual Add and the ReLU (oneDNN):
    5-15 % more beats per CPU-second on the residual CNNs (bench/inference.py).
    """
    import keras
    import tensorflow as tf

    L = keras.layers

    def activation(layer: Any, y: Any) -> Any:
        name = getattr(layer.activation, "__name__", "")
        if name == "linear":
            return y
        if name == "relu":
            return tf.nn.relu(y)
        if name == "softmax" and y.shape.rank == 2:
            return tf.nn.softmax(y)
        if name == "sigmoid":
            return tf.nn.sigmoid(y)
        raise _Unsupported(f"activation {name}")

    def apply(layer: Any, inputs: list[Any]) -> Any:
        x = inputs[0]
        if isinstance(layer, L.Conv1D):
            if (
                layer.data_format != "channels_last"
                or layer.padding not in ("valid", "same")
                or layer.groups != 1
                or tuple(layer.dilation_rate) != (1,)
                or x.shape.rank != 4
            ):
                raise _Unsupported("Conv1D options")
            y = tf.nn.conv2d(
                x, tf.expand_dims(layer.kernel, 0), strides=[1, 1, layer.strides[0], 1], padding=layer.padding.upper()
            )
            return activation(layer, tf.nn.bias_add(y, layer.bias) if layer.use_bias else y)
        if isinstance(layer, L.MaxPooling1D) and x.shape.rank == 4 and layer.data_format == "channels_last":
            return tf.nn.max_pool2d(x, [1, layer.pool_size[0]], [1, layer.strides[0]], layer.padding.upper())
        if isinstance(layer, L.Add):
            return tf.add_n(inputs)
        if isinstance(layer, L.ReLU) and layer.max_value is None and not layer.negative_slope and not layer.threshold:
            return tf.nn.relu(x)
        if isinstance(layer, L.Activation):
            return activation(layer, x)
        if isinstance(layer, L.Dropout):
            return x
        if isinstance(layer, L.Flatten):
            return tf.reshape(x, (tf.shape(x)[0], -1))
        if isinstance(layer, L.Dense) and x.shape.rank == 2:
            y = tf.matmul(x, layer.kernel)
            return activation(layer, y + layer.bias if layer.use_bias else y)
        raise _Unsupported(type(layer).__name__)

    ref: Callable[[], Any] = weakref.ref(model)

    def run(x: Any) -> Any:
        m = ref()
        values = {id(m.inputs[0]): tf.expand_dims(x, 1)}
        for layer in m.layers:
            if isinstance(layer, L.InputLayer):
                continue
            if len(layer._inbound_nodes) != 1:
                raise _Unsupported("shared layer")
            node = layer._inbound_nodes[0]
            values[id(node.output_tensors[0])] = apply(layer, [values[id(t)] for t in node.input_tensors])
        return values[id(m.outputs[0])]

    try:
        if len(model.inputs) != 1 or len(model.outputs) != 1 or len(model.input_shape) != 3:
            return None
        fn = tf.function(run, input_signature=[spec])
        fn.get_concrete_function()  # traces now: an unsupported layer shows here
        return fn
    except (_Unsupported, AttributeError, KeyError, ValueError, TypeError):
        return None


def predict(model: Any, beats: np.ndarray, *, batch_size: int = 1024) -> np.ndarray:
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
