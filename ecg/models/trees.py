"""Gradient-boosted trees inside a Keras model, so a blend of network and trees is one artifact.

Record-wise cross-validation (bench/heartbeat_protocols.py, step ``trees``) found scikit-learn's
histogram gradient boosting over the record-level inputs as good as the network on S and V and
better on +P, and the two averaged better than either. The product loads models as Keras
artifacts (safe mode, no pickles), so the fitted trees are exported as arrays and evaluated by
:class:`TreeEnsemble`, a Keras layer that walks every tree at once with gathers; it reproduces the
classifier's ``predict_proba``. :class:`TreeInputs` builds, inside the model, what the trees see of
a beat from the network's two inputs.
"""

from __future__ import annotations

import logging
from typing import Any

import keras
import numpy as np
from keras import ops

from ecg.constants import AAMI_CLASSES

logger = logging.getLogger(__name__)

# What the trees see: the record-level features and both leads' beat and beat - template at a
# quarter of the 128 Hz rate. Trees shipped before heartbeat_record-2026.12-ctx4 read the first
# lead's two channels only (FIRST_LEAD_CHANNELS; their artifacts say nothing of it): the V beats
# narrow in the first lead and wide in the second were theirs to miss
# (bench.experiments.tree_leads, bench/README.md).
MORPH_STEP = 4
MORPH_CHANNELS = 4
FIRST_LEAD_CHANNELS = 2


def tree_inputs(morphology: np.ndarray, features: np.ndarray, channels: int | None = None) -> np.ndarray:
    """The trees' input rows, as :class:`TreeInputs` builds them in the model (numpy, for training):
    the features, then the first ``channels`` morphology channels (default :data:`MORPH_CHANNELS`)."""
    channels = MORPH_CHANNELS if channels is None else channels
    morph = morphology[:, ::MORPH_STEP, :channels].reshape(len(morphology), -1)
    return np.concatenate([features, morph], axis=1).astype(np.float32)


def export(clf: Any, n_outputs: int = len(AAMI_CLASSES)) -> dict[str, np.ndarray]:
    """A fitted multi-class ``HistGradientBoostingClassifier`` as flat arrays: every tree's nodes
    one after another, each tree's root and output column, and the per-class baseline."""
    classes = [int(c) for c in clf.classes_]
    if clf.n_trees_per_iteration_ != len(classes) or len(classes) < 3:
        raise ValueError("only multi-class classifiers (three classes or more) are exported")
    if any(p.nodes["is_categorical"].any() for trees in clf._predictors for p in trees):
        raise ValueError("categorical splits are not supported")
    parts, roots, outputs, offset = [], [], [], 0
    for trees in clf._predictors:
        for k, predictor in enumerate(trees):
            nodes = predictor.nodes
            parts.append(nodes)
            roots.append(offset)
            outputs.append(classes[k])
            offset += len(nodes)
    nodes = np.concatenate(parts)
    starts = np.repeat(np.asarray(roots), [len(p) for p in parts])  # each node's tree offset
    leaf = nodes["is_leaf"].astype(bool)
    baseline = np.full(n_outputs, -1e9, np.float32)  # a class the trees never saw: probability 0
    baseline[classes] = np.asarray(clf._baseline_prediction, np.float64).ravel()
    depth = int(nodes["depth"].max())
    return {
        "feature": np.where(leaf, 0, nodes["feature_idx"]).astype(np.int32),
        "threshold": nodes["num_threshold"].astype(np.float32),
        "missing_left": nodes["missing_go_to_left"].astype(np.int32),
        "left": np.where(leaf, np.arange(len(nodes)), nodes["left"] + starts).astype(np.int32),
        "right": np.where(leaf, np.arange(len(nodes)), nodes["right"] + starts).astype(np.int32),
        "value": np.where(leaf, nodes["value"], 0.0).astype(np.float32),
        "roots": np.asarray(roots, np.int32),
        "output": np.asarray(outputs, np.int32),
        "baseline": baseline,
        "depth": np.asarray(depth, np.int32),
    }


@keras.saving.register_keras_serializable(package="ecg")
class TreeEnsemble(keras.layers.Layer):
    """Class probabilities of exported gradient-boosted trees (:func:`export`) for input rows.

    A leaf points to itself, so walking every tree ``depth`` steps lands each row on its leaf in
    every tree; leaf values summed per class over the trees, plus the baseline, are the raw scores.
    """

    def __init__(self, n_nodes: int, n_trees: int, n_outputs: int, depth: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n_nodes, self.n_trees, self.n_outputs, self.depth = n_nodes, n_trees, n_outputs, depth
        self.feature = self.add_weight(shape=(n_nodes,), dtype="int32", trainable=False, name="feature")
        self.threshold = self.add_weight(shape=(n_nodes,), dtype="float32", trainable=False, name="threshold")
        self.missing_left = self.add_weight(shape=(n_nodes,), dtype="int32", trainable=False, name="missing_left")
        self.left = self.add_weight(shape=(n_nodes,), dtype="int32", trainable=False, name="left")
        self.right = self.add_weight(shape=(n_nodes,), dtype="int32", trainable=False, name="right")
        self.value = self.add_weight(shape=(n_nodes,), dtype="float32", trainable=False, name="value")
        self.roots = self.add_weight(shape=(n_trees,), dtype="int32", trainable=False, name="roots")
        self.output_of_tree = self.add_weight(
            shape=(n_trees, n_outputs), dtype="float32", trainable=False, name="output_of_tree"
        )
        self.baseline = self.add_weight(shape=(n_outputs,), dtype="float32", trainable=False, name="baseline")

    @classmethod
    def from_export(cls, arrays: dict[str, np.ndarray], **kwargs: Any) -> TreeEnsemble:
        n_outputs = len(arrays["baseline"])
        layer = cls(
            n_nodes=len(arrays["feature"]),
            n_trees=len(arrays["roots"]),
            n_outputs=n_outputs,
            depth=int(arrays["depth"]),
            **kwargs,
        )
        layer.feature.assign(arrays["feature"])
        layer.threshold.assign(arrays["threshold"])
        layer.missing_left.assign(arrays["missing_left"])
        layer.left.assign(arrays["left"])
        layer.right.assign(arrays["right"])
        layer.value.assign(arrays["value"])
        layer.roots.assign(arrays["roots"])
        layer.output_of_tree.assign(np.eye(n_outputs, dtype=np.float32)[arrays["output"]])
        layer.baseline.assign(arrays["baseline"])
        return layer

    def call(self, x: Any) -> Any:
        x = ops.convert_to_tensor(x, dtype="float32")
        # One row per node (feature, threshold, missing goes left, left child, right child), so each step
        # of the walk is one gather of rows instead of five; node and feature numbers stay far below
        # 2^24, exact in float32.
        table = ops.stack(
            [
                ops.cast(self.feature, "float32"),
                self.threshold,
                ops.cast(self.missing_left, "float32"),
                ops.cast(self.left, "float32"),
                ops.cast(self.right, "float32"),
            ],
            axis=1,
        )
        idx = ops.broadcast_to(ops.expand_dims(self.roots, 0), (ops.shape(x)[0], self.n_trees))
        for _ in range(self.depth):
            node = ops.take(table, idx, axis=0)  # (rows, trees, 5)
            value = ops.take_along_axis(x, ops.cast(node[..., 0], "int32"), axis=1)
            missing = ops.isnan(value)
            go_left = ops.where(missing, node[..., 2] > 0, value <= node[..., 1])
            idx = ops.cast(ops.where(go_left, node[..., 3], node[..., 4]), "int32")
        raw = ops.matmul(ops.take(self.value, idx), self.output_of_tree) + self.baseline
        return ops.softmax(raw, axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "n_nodes": self.n_nodes,
            "n_trees": self.n_trees,
            "n_outputs": self.n_outputs,
            "depth": self.depth,
        }


@keras.saving.register_keras_serializable(package="ecg")
class TreeInputs(keras.layers.Layer):
    """The trees' input rows from the network's inputs ``[morphology, features]`` (see tree_inputs),
    reading the first ``channels`` morphology channels."""

    def __init__(self, channels: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.channels = MORPH_CHANNELS if channels is None else int(channels)

    def call(self, inputs: Any) -> Any:
        morphology, features = inputs
        morph = morphology[:, ::MORPH_STEP, : self.channels]
        flat = ops.reshape(morph, (ops.shape(morph)[0], -1))
        return ops.concatenate([features, flat], axis=1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "channels": self.channels}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TreeInputs:
        # an artifact saved before the layer kept its channel count read the first lead only
        return cls(**{"channels": FIRST_LEAD_CHANNELS, **config})


def blend(network: Any, trees: TreeEnsemble, name: str = "record_beat_classifier", channels: int | None = None) -> Any:
    """One model averaging the network's class probabilities and the trees' (equal weights); the
    trees read the first ``channels`` morphology channels, as they were fitted (default
    :data:`MORPH_CHANNELS`)."""
    morph = keras.Input(network.inputs[0].shape[1:], name="morphology")
    feats = keras.Input(network.inputs[1].shape[1:], name="features")
    network.name = "network"
    rows = TreeInputs(channels=channels, name="tree_inputs")([morph, feats])
    out = keras.layers.Average(name="blend")([network([morph, feats]), trees(rows)])
    return keras.Model([morph, feats], out, name=name)


def packed(layer: TreeEnsemble) -> dict[str, np.ndarray]:
    """The layer's trees laid out for :func:`fast_predictor`: each tree's nodes breadth first with a
    node's two children side by side (``child`` the left one, ``child + 1`` the right), so one step of
    a walk is ``child[i] + (x > threshold[i])``. A leaf is its own child with threshold +inf on
    feature 0, so a walk that goes on past a leaf stays on it; ``lane_offset`` is 8 x ``feature`` (where the
    walk finds a feature among eight interleaved rows); ``go_right_if_missing`` is the learnt
    branch of a missing value (NaN), ``depth`` each tree's depth and ``n_inputs`` how many inputs of
    a row the trees read."""
    feature = np.asarray(layer.feature.numpy(), np.int64)
    threshold = np.asarray(layer.threshold.numpy(), np.float32)
    missing_left = np.asarray(layer.missing_left.numpy()).astype(bool)
    left, right = np.asarray(layer.left.numpy(), np.int64), np.asarray(layer.right.numpy(), np.int64)
    value = np.asarray(layer.value.numpy(), np.float32)
    roots = np.asarray(layer.roots.numpy(), np.int64)
    n = len(feature)
    order = np.empty(n, np.int64)  # order[new position] = old node
    position = np.empty(n, np.int64)  # position[old node] = new position
    depth_of = np.zeros(n, np.int64)
    tree_depth = np.zeros(len(roots), np.int32)
    filled = 0
    for t, root in enumerate(roots):
        first = filled
        order[filled], position[root] = root, filled
        filled += 1
        k = first
        while k < filled:
            node = order[k]
            k += 1
            if left[node] != node:
                for child in (left[node], right[node]):
                    order[filled], position[child] = child, filled
                    depth_of[child] = depth_of[node] + 1
                    filled += 1
        tree_depth[t] = depth_of[order[first:filled]].max()
    if filled != n:
        raise ValueError("the trees' nodes do not form one tree per root")
    leaf = left[order] == order
    node_feature = np.where(leaf, 0, feature[order]).astype(np.int32)
    return {
        "feature": node_feature,
        "lane_offset": 8 * node_feature,  # where the walk finds the feature among its eight interleaved rows
        "threshold": np.where(leaf, np.inf, threshold[order]).astype(np.float32),
        "child": np.where(leaf, np.arange(n), position[left[order]]).astype(np.int32),
        "go_right_if_missing": (~leaf & ~missing_left[order]).astype(np.uint8),
        "value": np.where(leaf, value[order], 0.0).astype(np.float64),
        "roots": position[roots].astype(np.int32),
        "depth": tree_depth,
        "output": np.asarray(layer.output_of_tree.numpy()).argmax(axis=1).astype(np.int32),
        "baseline": np.asarray(layer.baseline.numpy(), np.float64),
        "n_inputs": np.asarray(int(feature.max()) + 1 if n else 0),  # inputs per row the trees read
    }


def fast_predictor(layer: TreeEnsemble) -> Any | None:
    """``rows -> probabilities`` computing exactly what ``layer`` computes, by a compiled walk instead
    of the layer's gathers over every tree at once (about 0.5 ms of CPU per beat for the shipped trees):
    the project's own (:mod:`ecg.models.tree_walk`, built by ``make``), else scikit-learn's, about five
    times slower. None when neither can be built here (the caller keeps the layer).

    Thresholds and rows stay float32 (scikit-learn's walk widens both to float64), so every comparison
    is the layer's own; ``ecg.models.record`` still checks the result against the model's call on load.
    """
    from ecg.models import tree_walk

    if not tree_walk.available():
        logger.warning(
            "%s is not built (make native): the trees take scikit-learn's slower walk", tree_walk.LIBRARY.name
        )
        return sklearn_predictor(layer)
    arrays = packed(layer)

    def predict(rows: np.ndarray) -> np.ndarray:
        x = np.asarray(rows, dtype=np.float32)
        walk = tree_walk.walk_with_missing if np.isnan(x).any() else tree_walk.walk
        return probabilities(walk(x, arrays))

    return predict


def probabilities(raw: np.ndarray) -> np.ndarray:
    """Class probabilities (softmax over each row) of raw scores."""
    raw = raw - raw.max(axis=1, keepdims=True, initial=-np.inf)
    e = np.exp(raw)
    out: np.ndarray = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return out


def sklearn_predictor(layer: TreeEnsemble) -> Any | None:
    """``rows -> probabilities`` by scikit-learn's compiled walk (one tree at a time over the rows,
    stopping at each leaf), rebuilt from the layer's arrays; None without scikit-learn's private
    predictor module."""
    try:
        from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE
        from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    except ImportError:  # pragma: no cover - a scikit-learn without the private module
        return None
    feature = np.asarray(layer.feature.numpy(), np.int64)
    threshold = np.asarray(layer.threshold.numpy(), np.float32).astype(np.float64)
    missing_left = np.asarray(layer.missing_left.numpy())
    left, right = np.asarray(layer.left.numpy(), np.int64), np.asarray(layer.right.numpy(), np.int64)
    value = np.asarray(layer.value.numpy(), np.float32).astype(np.float64)
    roots = np.asarray(layer.roots.numpy(), np.int64)
    output = np.asarray(layer.output_of_tree.numpy()).argmax(axis=1)
    baseline = np.asarray(layer.baseline.numpy(), np.float64)
    ends = np.append(roots[1:], len(feature))
    predictors = []
    empty_bitsets = np.zeros((0, 8), np.uint32)
    for start, end in zip(roots, ends, strict=True):
        own = np.arange(start, end)
        nodes = np.zeros(end - start, PREDICTOR_RECORD_DTYPE)
        leaf = left[start:end] == own
        nodes["is_leaf"] = leaf
        nodes["value"] = np.where(leaf, value[start:end], 0.0)
        nodes["feature_idx"] = feature[start:end]
        nodes["num_threshold"] = threshold[start:end]
        nodes["missing_go_to_left"] = missing_left[start:end]
        nodes["left"] = np.where(leaf, 0, left[start:end] - start)
        nodes["right"] = np.where(leaf, 0, right[start:end] - start)
        predictors.append(TreePredictor(nodes, empty_bitsets, empty_bitsets))

    def predict(rows: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(np.asarray(rows, np.float32), dtype=np.float64)
        if x.ndim != 2:
            raise ValueError("the trees' input rows must be a 2-D array")
        raw = np.tile(baseline, (len(x), 1))
        f_idx_map = np.zeros(x.shape[1], np.uint32)
        for tree, column in zip(predictors, output, strict=True):
            raw[:, column] += tree.predict(x, empty_bitsets, f_idx_map, 1)
        return probabilities(raw)

    return predict
