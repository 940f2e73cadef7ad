"""Two-input heartbeat classifier: beat shape + RR-interval features (EXPERIMENT, not shipped).

Inputs: ``beat`` (n, 187, 1), the Kaggle-format beat as for the shipped model, and ``rr``
(n, N_RR_FEATURES + 1), :func:`bench.experiments.rr.rr_input`: the RR features followed by an "RR available"
flag. The beat goes through the same residual trunk as :func:`ecg.models.architectures.residual_cnn`
(stem, residual blocks, Flatten), the RR vector through a small dense branch; the two are
concatenated before the classifier head. Trained with the RR part masked (zeros, flag 0) for a
random share of the beats each epoch, the same model also classifies beats whose positions are
unknown (beat-file uploads). Only stock Keras layers: the .keras file loads without custom objects.
"""

from __future__ import annotations

import keras
from keras import layers

from bench.experiments.rr import N_RR_FEATURES
from ecg.constants import BEAT_LENGTH
from ecg.models.architectures import residual_trunk

RR_INPUT = N_RR_FEATURES + 1


def residual_rr_cnn(
    n_outputs: int = 5,
    width: int = 28,
    n_blocks: int = 5,
    kernel_size: int = 5,
    rr_units: int = 16,
    dense_units: int = 32,
    dropout: float = 0.0,
    beat_dropout: float = 0.0,
    rr_dim: int = RR_INPUT,
) -> keras.Model:
    """``beat_dropout`` drops the beat trunk's features in training, so the classifier cannot lean
    on beat shape alone (which, across patients, it learns per patient) and must use the RR branch."""
    beat_in = keras.Input(shape=(BEAT_LENGTH, 1), name="beat")
    rr_in = keras.Input(shape=(rr_dim,), name="rr")
    x = residual_trunk(beat_in, width=width, n_blocks=n_blocks, kernel_size=kernel_size)
    if beat_dropout > 0:
        x = layers.Dropout(beat_dropout, name="beat_dropout")(x)
    r = layers.Dense(rr_units, activation="relu", name="rr_dense1")(rr_in)
    r = layers.Dense(rr_units, activation="relu", name="rr_dense2")(r)
    h = layers.Concatenate(name="beat_rr")([x, r])
    h = layers.Dense(dense_units, activation="relu", name="dense1")(h)
    if dropout > 0:
        h = layers.Dropout(dropout, name="dropout")(h)
    h = layers.Dense(dense_units, activation="relu", name="dense2")(h)
    outputs = layers.Dense(n_outputs, activation="softmax", name="classes")(h)
    return keras.Model({"beat": beat_in, "rr": rr_in}, outputs, name=f"residual_rr_cnn_w{width}")
