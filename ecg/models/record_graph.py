"""An equivalent, faster inference graph of a trained record-level model (``record.build`` members,
averaged by ``ecg.training.record.ensemble`` or alone).

The Keras model stays the artifact; this reads its weights once and computes the same
probabilities (within float32 rounding) in fewer operations. The product runs the network by the
project's compiled kernel (``net_forward``) where the processor has AVX2 and FMA; otherwise by
TensorFlow in the layout "members", which runs
each Conv1D as a Conv2D that oneDNN fuses with its bias and ReLU (the Keras graph ran the ReLU as
a separate pass over every activation) and folds the feature scaling into the first dense layer
((f - mean) / std @ W + b == f @ (W / std) + (b - mean / std @ W)). Two other layouts are kept for
the bench's comparison (``bench.record_inference --candidates``): one chain with grouped
convolutions, and im2col with batched matmuls over a member axis; both were slower here.

The graph is a snapshot: weights changed after it is built are not seen. ``fast_graph`` returns
``None`` for a model it does not recognise layer for layer; the caller then runs the Keras model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class _Conv:
    kernel: np.ndarray  # (members, k * c_in, c_out), im2col order: tap-major
    bias: np.ndarray  # (members, c_out)
    size: int  # kernel taps
    pool: int  # max-pool size that follows (1: none)
    relu: bool


@dataclass
class _Dense:
    kernel: np.ndarray  # (members, n_in, n_out)
    bias: np.ndarray  # (members, n_out)
    activation: str  # "relu", "linear" or "softmax"


@dataclass
class _Plan:
    convs: list[_Conv]
    scale_mean: np.ndarray  # (members, n_features): each member adapted its own scaling
    scale_std: np.ndarray  # (members, n_features)
    dense: list[_Dense]
    members: int


def _activation(layer: Any) -> str | None:
    name = getattr(getattr(layer, "activation", None), "__name__", None)
    return name if name in ("relu", "linear", "softmax") else None


def _member_plan(member: Any) -> tuple[list[Any], tuple[np.ndarray, np.ndarray], list[Any]] | None:
    """(convolution steps, feature scaling, dense steps) of one member, or None if not recognised."""
    import keras
    from keras import layers

    convs: list[Any] = []
    dense: list[Any] = []
    scale = None
    seen_flatten = seen_concat = False
    inputs = [t.name for t in member.inputs]
    if len(inputs) != 2:
        return None
    for layer in member.layers:
        if isinstance(layer, layers.InputLayer) or isinstance(layer, layers.Dropout):
            continue
        if isinstance(layer, layers.Conv1D) and not seen_flatten:
            ok = (
                layer.strides == (1,)
                and layer.dilation_rate == (1,)
                and layer.padding == "same"
                and layer.groups == 1
                and layer.use_bias
                and _activation(layer) in ("relu", "linear")
                and layer.data_format == "channels_last"
            )
            if not ok:
                return None
            kernel, bias = (np.asarray(w, np.float32) for w in layer.get_weights())
            convs.append([kernel, bias, 1, _activation(layer) == "relu"])
        elif isinstance(layer, layers.MaxPooling1D) and convs and convs[-1][2] == 1:
            if layer.strides != layer.pool_size or layer.padding != "valid" or layer.data_format != "channels_last":
                return None
            convs[-1][2] = int(layer.pool_size[0])
        elif isinstance(layer, layers.Flatten) and convs and not seen_flatten:
            seen_flatten = True
        elif isinstance(layer, layers.Normalization) and scale is None and not layer.invert:
            mean, var = (np.asarray(w, np.float64) for w in (layer.mean, layer.variance))
            if mean.ndim != 1:
                mean, var = mean.reshape(-1), var.reshape(-1)
            std = np.maximum(np.sqrt(var), keras.config.epsilon())
            scale = (mean, std)
        elif isinstance(layer, layers.Concatenate) and seen_flatten and scale is not None and not seen_concat:
            if layer.axis not in (-1, 1):
                return None
            # the order must be [morphology branch, scaled features]
            parents = [t._keras_history[0] for t in layer.input]
            if not (isinstance(parents[0], layers.Flatten) and isinstance(parents[1], layers.Normalization)):
                return None
            seen_concat = True
        elif isinstance(layer, layers.Dense) and seen_concat:
            if not layer.use_bias or _activation(layer) is None:
                return None
            kernel, bias = (np.asarray(w, np.float32) for w in layer.get_weights())
            dense.append((kernel, bias, _activation(layer)))
        else:
            return None
    if not convs or scale is None or not dense or not seen_concat:
        return None
    return convs, scale, dense


def blend_parts(model: Any) -> tuple[Any, Any, Any] | None:
    """(network, tree-input layer, tree layer) of a ``trees.blend`` model, or None for any other model."""
    import keras

    from ecg.models.trees import TreeEnsemble, TreeInputs

    kinds = {
        "network": [layer for layer in model.layers if isinstance(layer, keras.Model)],
        "rows": [layer for layer in model.layers if isinstance(layer, TreeInputs)],
        "trees": [layer for layer in model.layers if isinstance(layer, TreeEnsemble)],
        "average": [layer for layer in model.layers if isinstance(layer, keras.layers.Average)],
    }
    known = sum(len(v) for v in kinds.values())
    inputs = [layer for layer in model.layers if isinstance(layer, keras.layers.InputLayer)]
    if not kinds["trees"] or any(len(v) != 1 for v in kinds.values()) or known + len(inputs) != len(model.layers):
        return None
    if model.outputs[0]._keras_history[0] is not kinds["average"][0]:
        return None
    return kinds["network"][0], kinds["rows"][0], kinds["trees"][0]


def _plan(model: Any) -> _Plan | None:
    import keras

    members = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if members:
        others = [
            layer
            for layer in model.layers
            if not isinstance(layer, (keras.Model, keras.layers.InputLayer, keras.layers.Average))
        ]
        averages = [layer for layer in model.layers if isinstance(layer, keras.layers.Average)]
        if others or len(averages) != 1 or model.outputs[0]._keras_history[0] is not averages[0]:
            return None
    else:
        members = [model]
    plans = [_member_plan(m) for m in members]
    if any(p is None for p in plans):
        return None
    first = plans[0]
    assert first is not None
    shapes = [
        ([c[0].shape for c in p[0]], [c[2] for c in p[0]], [d[0].shape for d in p[2]], [d[2] for d in p[2]])
        for p in plans
        if p is not None
    ]
    if any(s != shapes[0] for s in shapes):
        return None
    convs = []
    for i, (kernel, _, pool, relu) in enumerate(first[0]):
        stacked = np.stack([p[0][i][0] for p in plans if p])  # (members, k, c_in, c_out)
        m, k, c_in, c_out = stacked.shape
        convs.append(
            _Conv(
                kernel=stacked.reshape(m, k * c_in, c_out),
                bias=np.stack([p[0][i][1] for p in plans if p]),
                size=k,
                pool=pool,
                relu=relu,
            )
        )
    dense = [
        _Dense(
            kernel=np.stack([p[2][i][0] for p in plans if p]),
            bias=np.stack([p[2][i][1] for p in plans if p]),
            activation=first[2][i][2],
        )
        for i in range(len(first[2]))
    ]
    if dense[-1].activation != "softmax" or any(d.activation == "softmax" for d in dense[:-1]):
        return None
    means = np.stack([p[1][0] for p in plans if p])
    stds = np.stack([p[1][1] for p in plans if p])
    return _Plan(convs, means, stds, dense, len(members))


LAYOUTS = ("native", "members", "grouped", "im2col")


def fast_graph(model: Any, *, layout: str = "auto", jit_compile: bool = False) -> Any | None:
    """A function ``(morphology, features) -> probabilities`` equal to ``model``'s call, or None.

    ``layout`` (the candidates measured by ``bench.record_inference --candidates``):
    "auto" (the product's): "native" where it runs, else "members";
    "native": the project's compiled kernel (:mod:`ecg.models.net_forward`, numpy in and out; None
    where the library is not built or the processor lacks AVX2/FMA; ``jit_compile`` does not apply);
    "members": one branch per member, each convolution fused with its bias and ReLU (one oneDNN
    call), the feature scaling folded into the first dense layer;
    "grouped": one chain for all members: the first convolution with the members' kernels side by
    side, the later ones as grouped convolutions (one group per member), the dense layers as
    grouped 1-step convolutions;
    "im2col": patches and batched matmuls with a member axis, pooling before bias and ReLU.
    """
    import tensorflow as tf

    if layout not in LAYOUTS + ("auto",):
        raise ValueError(f"unknown layout {layout!r}")
    parts = blend_parts(model)
    if parts is not None:  # network and trees averaged (``trees.blend``): the network's fast graph + the trees
        from ecg.models.trees import fast_predictor, tree_inputs

        network, rows, trees = parts
        walk = fast_predictor(trees)
        if walk is None and layout in ("auto", "native"):  # the graph below needs TensorFlow's network
            layout = "members" if layout == "auto" else "none"
        inner = fast_graph(network, layout=layout, jit_compile=jit_compile) if layout != "none" else None
        if inner is None:
            return None
        if walk is not None:  # the network (kernel or TensorFlow's graph), then the trees' compiled walk (numpy out)

            def blended_walk(morph: Any, feats: Any) -> np.ndarray:
                net = np.asarray(inner(morph, feats))
                rows_in = tree_inputs(np.asarray(morph), np.asarray(feats), rows.channels)
                out: np.ndarray = (net + walk(rows_in)) * 0.5
                return out

            return blended_walk

        def blended(morph: Any, feats: Any) -> Any:
            return (inner(morph, feats) + trees(rows([morph, feats]))) * 0.5

        shape = model.inputs[0].shape
        specs = [
            tf.TensorSpec((None, int(shape[1]), int(shape[2])), tf.float32),
            tf.TensorSpec((None, int(model.inputs[1].shape[1])), tf.float32),
        ]
        return tf.function(blended, input_signature=specs)
    plan = _plan(model)
    if plan is None:
        return None
    morph_shape = model.inputs[0].shape
    window, channels = int(morph_shape[1]), int(morph_shape[2])
    n_features = int(model.inputs[1].shape[1])
    length = window
    for conv in plan.convs:
        length //= conv.pool
    last = plan.convs[-1].kernel.shape[-1]
    flat = length * last
    d0 = plan.dense[0]
    if d0.kernel.shape[1] != flat + n_features:
        return None
    # (f - mean) / std @ W + b  ==  f @ (W / std) + (b - (mean / std) @ W): the scaling costs nothing.
    w_feat = d0.kernel[:, flat:, :].astype(np.float64) / plan.scale_std[:, :, None]
    b0 = (d0.bias.astype(np.float64) - np.einsum("mf,mfo->mo", plan.scale_mean, w_feat)).astype(np.float32)
    w_feat32 = w_feat.astype(np.float32)
    if layout in ("native", "auto"):
        from ecg.models import net_forward

        first = (np.concatenate([d0.kernel[:, :flat], w_feat32], axis=1), b0)
        native = net_forward.network(plan, window, channels, n_features, first)
        if native is not None or layout == "native":
            return native
        layout = "members"
    build = {"members": _members, "grouped": _grouped, "im2col": _im2col}[layout]
    body = build(plan, window, flat, w_feat32, b0)
    specs = [tf.TensorSpec((None, window, channels), tf.float32), tf.TensorSpec((None, n_features), tf.float32)]
    return tf.function(body, input_signature=specs, jit_compile=jit_compile)


def _taps(conv: _Conv, member: int) -> np.ndarray:
    """The member's kernel as Keras holds it: (taps, c_in, c_out)."""
    m, kc, c_out = conv.kernel.shape
    taps: np.ndarray = conv.kernel[member].reshape(conv.size, kc // conv.size, c_out)
    return taps


def _head(h: Any, dense: list[tuple[Any, Any, str]]) -> Any:
    import tensorflow as tf

    for kernel, bias, activation in dense:
        h = tf.nn.bias_add(tf.matmul(h, kernel), bias)
        h = tf.nn.relu(h) if activation == "relu" else tf.nn.softmax(h) if activation == "softmax" else h
    return h


def _members(plan: _Plan, window: int, flat: int, w_feat: np.ndarray, b0: np.ndarray) -> Any:
    import tensorflow as tf

    branches = []
    for i in range(plan.members):
        convs = [(tf.constant(_taps(c, i)[None]), tf.constant(c.bias[i]), c) for c in plan.convs]
        first = tf.constant(np.concatenate([plan.dense[0].kernel[i, :flat], w_feat[i]]))
        dense = [(first, tf.constant(b0[i]), plan.dense[0].activation)]
        dense += [(tf.constant(d.kernel[i]), tf.constant(d.bias[i]), d.activation) for d in plan.dense[1:]]
        branches.append((convs, dense))

    def run(morph: Any, feats: Any) -> Any:
        n = tf.shape(morph)[0]
        x0 = morph[:, None]  # (n, 1, steps, channels): Conv2D, which oneDNN fuses with bias and ReLU
        outs = []
        for convs, dense in branches:
            x = x0
            for kernel, bias, conv in convs:
                x = tf.nn.bias_add(tf.nn.conv2d(x, kernel, 1, "SAME"), bias)
                x = tf.nn.relu(x) if conv.relu else x
                if conv.pool > 1:
                    x = tf.nn.max_pool2d(x, (1, conv.pool), (1, conv.pool), "VALID")
            outs.append(_head(tf.concat([tf.reshape(x, [n, flat]), feats], axis=1), dense))
        return tf.add_n(outs) / len(outs) if len(outs) > 1 else outs[0]

    return run


def _grouped(plan: _Plan, window: int, flat: int, w_feat: np.ndarray, b0: np.ndarray) -> Any:
    import tensorflow as tf

    members = plan.members
    kernels = [tf.constant(np.concatenate([_taps(c, i) for i in range(members)], axis=-1)[None]) for c in plan.convs]
    biases = [tf.constant(c.bias.reshape(-1)) for c in plan.convs]
    last = plan.convs[-1].kernel.shape[-1]
    d0 = plan.dense[0]
    # the first dense layer over (steps x channels) of its member: a grouped convolution as wide as the steps
    wide = np.concatenate([d0.kernel[i, :flat].reshape(flat // last, last, -1) for i in range(members)], axis=-1)
    dense = [(tf.constant(wide[None]), tf.constant(b0.reshape(-1)), d0.activation)]
    dense += [
        (
            tf.constant(np.concatenate(list(d.kernel), axis=-1)[None, None]),
            tf.constant(d.bias.reshape(-1)),
            d.activation,
        )
        for d in plan.dense[1:]
    ]
    feat_kernel = tf.constant(np.concatenate(list(w_feat), axis=-1))  # (features, members * units)

    def run(morph: Any, feats: Any) -> Any:
        n = tf.shape(morph)[0]
        x = morph[:, None]
        for kernel, bias, conv in zip(kernels, biases, plan.convs):
            # x + bias and max(x, 0), not bias_add and relu: TensorFlow's CPU build without oneDNN fuses
            # conv + bias_add (+ relu) into one kernel that refuses grouped convolutions ("Fused conv
            # implementation does not support grouped convolutions"); the unfused ops run everywhere.
            x = tf.nn.conv2d(x, kernel, 1, "SAME") + bias
            x = tf.maximum(x, 0.0) if conv.relu else x
            if conv.pool > 1:
                x = tf.nn.max_pool2d(x, (1, conv.pool), (1, conv.pool), "VALID")
        f = tf.matmul(feats, feat_kernel)[:, None, None, :]
        for i, (kernel, bias, activation) in enumerate(dense):
            x = tf.nn.conv2d(x, kernel, 1, "VALID") + bias
            x = x + f if i == 0 else x
            x = tf.maximum(x, 0.0) if activation == "relu" else x
        p = tf.reshape(x, [n, members, -1])
        p = tf.nn.softmax(p) if dense[-1][2] == "softmax" else p
        return tf.reduce_mean(p, axis=1)

    return run


def _im2col(plan: _Plan, window: int, flat: int, w_feat: np.ndarray, b0: np.ndarray) -> Any:
    import tensorflow as tf

    members = plan.members
    first_kernel = tf.constant(np.concatenate(list(plan.convs[0].kernel), axis=-1))  # (taps * c_in, members * c_out)
    kernels = [tf.constant(c.kernel) for c in plan.convs]
    biases = [tf.constant(c.bias[:, None, None, :]) for c in plan.convs]
    feat_kernel = tf.constant(np.concatenate(list(w_feat), axis=-1))
    dense_kernels = [tf.constant(plan.dense[0].kernel[:, :flat])] + [tf.constant(d.kernel) for d in plan.dense[1:]]
    dense_biases = [tf.constant(b0[:, None, :])] + [tf.constant(d.bias[:, None, :]) for d in plan.dense[1:]]

    def patches(x: Any, size: int, steps: int) -> Any:
        """(..., L, C) -> (..., steps, size * C): 'same' padding, tap-major like the Keras kernel."""
        left = (size - 1) // 2
        x = tf.pad(x, [[0, 0]] * (len(x.shape) - 2) + [[left, size - 1 - left], [0, 0]])
        return tf.concat([x[..., t : t + steps, :] for t in range(size)], axis=-1)

    def pool_bias_relu(y: Any, conv: _Conv, bias: Any) -> Any:
        """Max-pool first: bias and ReLU are monotone per channel, so the result is the same."""
        if conv.pool > 1:
            s = tf.shape(y)
            y = tf.reduce_max(tf.reshape(y, [s[0], s[1], -1, conv.pool, s[3]]), axis=3)
        return tf.nn.relu(y + bias) if conv.relu else y + bias

    def run(morph: Any, feats: Any) -> Any:
        n = tf.shape(morph)[0]
        x, length = morph, window
        for i, (conv, kernel, bias) in enumerate(zip(plan.convs, kernels, biases)):
            steps = length // conv.pool * conv.pool  # outputs the pooling drops are not computed
            length = steps // conv.pool
            cols = patches(x, conv.size, steps)
            if i == 0:  # one matmul for every member, then a member axis
                y = tf.matmul(tf.reshape(cols, [-1, cols.shape[-1]]), first_kernel)
                y = tf.transpose(tf.reshape(y, [n, steps, members, -1]), [2, 0, 1, 3])
            else:
                y = tf.reshape(
                    tf.matmul(tf.reshape(cols, [members, -1, cols.shape[-1]]), kernel), [members, n, steps, -1]
                )
            x = pool_bias_relu(y, conv, bias)
        h = tf.reshape(x, [members, n, flat])
        f = tf.transpose(tf.reshape(tf.matmul(feats, feat_kernel), [n, members, -1]), [1, 0, 2])
        for i, (kernel, bias, layer) in enumerate(zip(dense_kernels, dense_biases, plan.dense)):
            h = tf.matmul(h, kernel) + bias + (f if i == 0 else 0.0)
            h = (
                tf.nn.relu(h)
                if layer.activation == "relu"
                else tf.nn.softmax(h)
                if layer.activation == "softmax"
                else h
            )
        return tf.reduce_mean(h, axis=0)

    return run
