"""Model builders for the heartbeat classifier (and the seed's MI model).

Pure Keras: input is a batch of beats shaped (n, 187, 1), output class probabilities.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import keras
from keras import layers

from ecg.constants import BEAT_LENGTH


def seed_cnn(n_outputs: int = 5, activation: str = "softmax") -> keras.Model:
    """The seed project's CNN, layer for layer, so its Keras 2 .h5 weights load in Keras 3.

    Conv1D(100,10) -> MaxPool(2) -> Conv1D(160,10) -> MaxPool(2) -> Dropout(0.5) -> Flatten(6400)
    -> Dense(n_outputs). 193,265 params with 5 outputs, 174,062 with 2.
    """
    inputs = keras.Input(shape=(BEAT_LENGTH, 1), name="beat")
    x = layers.Conv1D(100, 10, activation="relu", name="conv1d_1")(inputs)
    x = layers.MaxPooling1D(2, name="max_pooling1d_1")(x)
    x = layers.Conv1D(160, 10, activation="relu", name="conv1d_2")(x)
    x = layers.MaxPooling1D(2, name="max_pooling1d_2")(x)
    x = layers.Dropout(0.5, name="dropout_1")(x)
    x = layers.Flatten(name="flatten_1")(x)
    outputs = layers.Dense(n_outputs, activation=activation, name="dense_1")(x)
    return keras.Model(inputs, outputs, name="seed_cnn")


def _h5_weights_group(h5: h5py.File) -> h5py.Group:
    # Full-model saves keep weights under "model_weights"; save_weights() files hold them at the root.
    return h5["model_weights"] if "model_weights" in h5 else h5


# A seed-architecture model's outputs: five AAMI classes, or an MI score (one or two). A file declaring many more
# had the import build a model of its declared size (13 KB declaring 40,000 outputs: 4.6 GB, a 1 GB .keras).
MAX_OUTPUTS = 16


def h5_n_outputs(path: str | Path) -> int:
    """Number of outputs of a seed-architecture .h5: columns of the last Dense kernel."""
    with h5py.File(path, "r") as h5:
        group = _h5_weights_group(h5)
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs["layer_names"]]
        kernels: list[tuple[int, ...]] = []

        def visit(name: str, obj: object) -> None:
            if isinstance(obj, h5py.Dataset) and name.split("/")[-1].startswith("kernel"):
                kernels.append(obj.shape)

        for name in reversed(names):
            group[name].visititems(visit)
            if kernels:
                break
        if not kernels or len(kernels[-1]) != 2:
            raise ValueError(f"{Path(path).name}: no Dense kernel found in its last weighted layer")
        outputs = int(kernels[-1][1])
        if not 1 <= outputs <= MAX_OUTPUTS:  # the model is built from it before a weight is read
            raise ValueError(f"{Path(path).name}: its last layer declares {outputs} outputs; at most {MAX_OUTPUTS}")
        return outputs


def load_keras2_h5(path: str | Path) -> keras.Model:
    """Rebuild a Keras 2 seed-architecture model (heartbeat or MI) and load its .h5 weights.

    Keras 3 cannot deserialize these files' configs, but loads their weights topologically
    into an identical layer stack.
    """
    model = seed_cnn(h5_n_outputs(path))
    model.load_weights(str(path))
    return model


def residual_trunk(inputs: keras.KerasTensor, *, width: int, n_blocks: int, kernel_size: int) -> keras.KerasTensor:
    """The residual CNN's feature extractor, flattened: stem, then ``n_blocks`` residual blocks."""
    x = layers.Conv1D(width, kernel_size, padding="same", name="stem")(inputs)
    for i in range(1, n_blocks + 1):
        y = layers.Conv1D(width, kernel_size, padding="same", activation="relu", name=f"block{i}_conv1")(x)
        y = layers.Conv1D(width, kernel_size, padding="same", name=f"block{i}_conv2")(y)
        x = layers.Add(name=f"block{i}_add")([x, y])
        x = layers.ReLU(name=f"block{i}_relu")(x)
        x = layers.MaxPooling1D(5, strides=2, name=f"block{i}_pool")(x)
    return layers.Flatten(name="flatten")(x)


def residual_cnn(
    n_outputs: int = 5,
    width: int = 32,
    n_blocks: int = 5,
    kernel_size: int = 5,
    dense_units: int = 32,
    dropout: float = 0.0,
) -> keras.Model:
    """Kachuee et al. 2018 residual CNN (arXiv:1805.00794), width configurable to bound its cost.

    Conv1D(width, 5) then ``n_blocks`` x [Conv-ReLU-Conv + skip, ReLU, MaxPool(5, stride 2)],
    Flatten, Dense(32)-ReLU, Dense(32), Dense(n_outputs, softmax). Only stock Keras layers, so the
    saved .keras file loads without custom objects.
    """
    inputs = keras.Input(shape=(BEAT_LENGTH, 1), name="beat")
    x = residual_trunk(inputs, width=width, n_blocks=n_blocks, kernel_size=kernel_size)
    x = layers.Dense(dense_units, activation="relu", name="dense1")(x)
    if dropout > 0:
        x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Dense(dense_units, name="dense2")(x)
    outputs = layers.Dense(n_outputs, activation="softmax", name="classes")(x)
    return keras.Model(inputs, outputs, name=f"residual_cnn_w{width}")


def multiply_adds(model: keras.Model) -> int:
    """Multiply-accumulate operations for one beat through Conv1D and Dense layers (the bulk)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv1D):
            out_len = layer.output.shape[1]
            in_ch = layer.input.shape[-1]
            total += out_len * layer.kernel_size[0] * (in_ch // layer.groups) * layer.filters
        elif isinstance(layer, layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return int(total)
