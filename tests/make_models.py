"""Build tiny deterministic Keras models with the product's input and output shapes.

Run as ``python -m tests.make_models DIR``: writes ``heartbeat.keras`` (5 classes),
``mi-high.keras`` / ``mi-low.keras`` (constant MI probability ≈ 0.88 / 0.12) and
``heartbeat-record.keras`` (a small record-level model, fixed random weights).
The heartbeat model's class follows the beat's mean value, so tests can steer it.
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def build(directory: Path) -> None:
    import keras
    import numpy as np

    def dense_model(weights: np.ndarray, bias: np.ndarray) -> keras.Model:
        inputs = keras.Input(shape=(187, 1))
        x = keras.layers.Flatten()(inputs)
        outputs = keras.layers.Dense(len(bias), activation="softmax")(x)
        model = keras.Model(inputs, outputs)
        model.layers[-1].set_weights([weights.astype("float32"), bias.astype("float32")])
        return model

    # Heartbeat: score_k = 40 * k * mean(beat) - 20 * k^2 * c, so the argmax moves with the mean.
    k = np.arange(5, dtype=np.float64)
    weights = np.tile(40.0 * k / 187.0, (187, 1))
    bias = -20.0 * k**2 * 0.25
    dense_model(weights, bias).save(directory / "heartbeat.keras")
    zeros = np.zeros((187, 2))
    dense_model(zeros, np.array([0.0, 2.0])).save(directory / "mi-high.keras")
    dense_model(zeros, np.array([2.0, 0.0])).save(directory / "mi-low.keras")

    from ecg.models import record
    from ecg.processing.context import N_FEATURES

    sample = np.random.default_rng(0).normal(1.0, 0.3, (64, N_FEATURES)).astype("float32")
    record.build(sample, seed=0, width=4).save(directory / "heartbeat-record.keras")


if __name__ == "__main__":
    build(Path(sys.argv[1]))
