"""Model builders for the heartbeat classifier (and the seed's MI model).

Pure Keras: input is a batch of beats shaped (n, 187, 1), output class probabilities.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import keras
from keras import layers

BEAT_LENGTH = 187


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
        return int(kernels[-1][1])


def load_keras2_h5(path: str | Path) -> keras.Model:
    """Rebuild a Keras 2 seed-architecture model (heartbeat or MI) and load its .h5 weights.

    Keras 3 cannot deserialize these files' configs, but loads their weights topologically
    into an identical layer stack.
    """
    model = seed_cnn(h5_n_outputs(path))
    model.load_weights(str(path))
    return model
