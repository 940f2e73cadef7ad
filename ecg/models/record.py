"""The record-level beat classifier: a small CNN over the beat's morphology beside the patient's
dominant beat, joined with its rhythm and template-difference features (``ecg.processing.context``).

Two inputs, ``morphology`` (n, WINDOW, 4) and ``features`` (n, N_FEATURES); five softmax outputs in
AAMI order. Feature standardisation is a layer of the model (fitted on the training beats), so the
artifact is self-contained.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from ecg.constants import AAMI_CLASSES
from ecg.models import record_graph
from ecg.processing.context import MORPH_CHANNELS, N_FEATURES, WINDOW


def build(
    feature_sample: np.ndarray, *, seed: int = 0, width: int = 32, dropout: float = 0.3, kind: str = "cnn"
) -> Any:
    """``kind`` "cnn": convolutions over the morphology; "mlp": the morphology only coarsely (31 ms steps)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    morph = keras.Input((WINDOW, MORPH_CHANNELS), name="morphology")
    feats = keras.Input((N_FEATURES,), name="features")
    if kind == "cnn":
        x = layers.Conv1D(width // 2, 7, padding="same", activation="relu")(morph)
        x = layers.MaxPooling1D(2)(x)
        x = layers.Conv1D(width, 5, padding="same", activation="relu")(x)
        x = layers.MaxPooling1D(2)(x)
        x = layers.Conv1D(width, 5, padding="same", activation="relu")(x)
        x = layers.MaxPooling1D(2)(x)
        x = layers.Flatten()(x)
    elif kind == "mlp":
        x = layers.Flatten()(layers.AveragePooling1D(4)(morph))
        x = layers.Dense(width, activation="relu")(x)
    else:
        raise ValueError(f"unknown model kind {kind!r}")
    norm = layers.Normalization(name="feature_scale")
    norm.adapt(feature_sample)
    f = norm(feats)
    h = layers.Concatenate()([x, f])
    h = layers.Dense(64, activation="relu")(h)
    h = layers.Dropout(dropout)(h)
    h = layers.Dense(32, activation="relu")(h)
    out = layers.Dense(len(AAMI_CLASSES), activation="softmax", name="aami")(h)
    return keras.Model([morph, feats], out, name="record_beat_classifier")


def predict(
    model: Any, morphology: np.ndarray, features: np.ndarray, *, batch_size: int = 1024, fast: bool = True
) -> np.ndarray:
    """Class probabilities (n, 5) for the beats of one or more records.

    ``fast``: through ``record_graph.fast_graph``, built from the weights the model has at its first
    fast prediction; a model still being trained is predicted with ``fast=False`` (its own call).
    """
    n = len(features)
    if n == 0:
        return np.zeros((0, len(AAMI_CLASSES)), np.float32)
    fn = _graph(model) if fast else _cached(_keras_graphs, model, keras_graph)
    parts = [
        np.asarray(
            fn(morphology[i : i + batch_size].astype(np.float32), features[i : i + batch_size].astype(np.float32))
        )
        for i in range(0, n, batch_size)
    ]
    return np.concatenate(parts).astype(np.float32, copy=False)


def warm_up(model: Any) -> None:
    """Trace the model's graph now, so the first recording does not pay for it."""
    predict(model, np.zeros((1, WINDOW, MORPH_CHANNELS), np.float32), np.zeros((1, N_FEATURES), np.float32))


logger = logging.getLogger(__name__)

_graphs: "weakref.WeakKeyDictionary[object, object]" = weakref.WeakKeyDictionary()
_keras_graphs: "weakref.WeakKeyDictionary[object, object]" = weakref.WeakKeyDictionary()


def _cached(cache: "weakref.WeakKeyDictionary[object, object]", model: Any, make: Callable[[Any], Any]) -> Any:
    fn = cache.get(model)
    if fn is None:
        fn = cache[model] = make(model)
    return fn


def _graph(model: Any) -> Any:
    """The model's inference graph, built once per model: ``record_graph.fast_graph`` (the same
    probabilities from the same weights, in fewer and fused operations) when it recognises the
    model, else the model's own call as one graph function (any batch size)."""
    return _cached(_graphs, model, _checked_fast_graph)


def _checked_fast_graph(model: Any) -> Any:
    """The fast graph if it reproduces the model's own call on a few random beats, else the model's call.

    ``fast_graph`` recognises the layers; this also catches wiring it cannot see (a check of a few
    milliseconds, once per loaded model)."""
    fn = record_graph.fast_graph(model)
    if fn is not None:
        rng = np.random.default_rng(0)
        morph = rng.normal(size=(8, WINDOW, MORPH_CHANNELS)).astype(np.float32)
        feats = rng.normal(size=(8, N_FEATURES)).astype(np.float32)
        expected = np.asarray(model([morph, feats], training=False))
        if np.allclose(np.asarray(fn(morph, feats)), expected, rtol=1e-4, atol=1e-5):
            return fn
        logger.warning("the fast graph of %s differs from the model's own call; using the model's call", model.name)
    return keras_graph(model)


def keras_graph(model: Any) -> Any:
    """The Keras model's own call as one graph function (the reference the fast graph must equal)."""
    import tensorflow as tf

    specs = [
        tf.TensorSpec((None, WINDOW, MORPH_CHANNELS), tf.float32),
        tf.TensorSpec((None, N_FEATURES), tf.float32),
    ]
    ref: Callable[[], Any] = weakref.ref(model)  # the cache must not keep the model alive
    return tf.function(lambda m, f: ref()([m, f], training=False), input_signature=specs)
