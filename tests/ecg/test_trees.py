"""Gradient-boosted trees as a Keras layer: the same probabilities as scikit-learn, saved and loaded
as a Keras artifact, and blended with the record-level network."""

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from ecg.models import trees

from ..helpers import damaged_library


def _fitted(classes=(0, 1, 2, 3, 4), n=3000, n_features=12, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, n_features)).astype(np.float32)
    y = np.array(classes)[(np.abs(x[:, 0] * 2 + x[:, 1]) * 1.3).astype(int) % len(classes)]
    clf = HistGradientBoostingClassifier(max_iter=25, max_leaf_nodes=15, random_state=seed).fit(x, y)
    return clf, rng.standard_normal((500, n_features)).astype(np.float32)


def test_the_layer_gives_the_classifiers_probabilities():
    clf, x = _fitted()
    layer = trees.TreeEnsemble.from_export(trees.export(clf))
    np.testing.assert_allclose(np.asarray(layer(x)), clf.predict_proba(x), atol=1e-5)


def test_a_class_the_trees_never_saw_gets_probability_zero():
    clf, x = _fitted(classes=(0, 1, 2, 3))  # no Q beats in the training rows
    p = np.asarray(trees.TreeEnsemble.from_export(trees.export(clf))(x))
    assert p.shape == (500, 5) and np.allclose(p[:, 4], 0.0)
    np.testing.assert_allclose(p[:, :4], clf.predict_proba(x), atol=1e-5)


def test_missing_values_follow_the_learnt_branch():
    clf, x = _fitted()
    x[::3, 0] = np.nan
    layer = trees.TreeEnsemble.from_export(trees.export(clf))
    np.testing.assert_allclose(np.asarray(layer(x)), clf.predict_proba(x), atol=1e-5)


def test_a_blend_saves_and_loads_as_one_keras_artifact(tmp_path):
    import keras

    from ecg.models import record as record_model
    from ecg.processing.context import MORPH_CHANNELS, N_FEATURES, WINDOW

    rng = np.random.default_rng(1)
    morph = rng.standard_normal((800, WINDOW, MORPH_CHANNELS)).astype(np.float32)
    feats = rng.standard_normal((800, N_FEATURES)).astype(np.float32)
    rows = trees.tree_inputs(morph, feats)
    y = (np.abs(rows[:, 0]) * 3).astype(int) % 5
    clf = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(rows, y)
    network = record_model.build(feats, seed=0, width=8)
    model = trees.blend(network, trees.TreeEnsemble.from_export(trees.export(clf), name="trees"))
    expected = (network.predict([morph, feats], verbose=0) + clf.predict_proba(rows)) / 2
    path = tmp_path / "blend.keras"
    model.save(path)
    loaded = keras.models.load_model(path, compile=False)  # safe mode: registered layers only
    got = record_model.predict(loaded, morph, feats)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_only_multi_class_classifiers_are_exported():
    clf, _ = _fitted(classes=(0, 1))
    with pytest.raises(ValueError, match="multi-class"):
        trees.export(clf)


def test_the_products_loader_reads_a_blend(tmp_path):
    from ecg.models import inference
    from ecg.models import record as record_model
    from ecg.processing.context import MORPH_CHANNELS, N_FEATURES, WINDOW

    rng = np.random.default_rng(2)
    morph = rng.standard_normal((300, WINDOW, MORPH_CHANNELS)).astype(np.float32)
    feats = rng.standard_normal((300, N_FEATURES)).astype(np.float32)
    rows = trees.tree_inputs(morph, feats)
    clf = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(rows, (np.abs(rows[:, 1]) * 3).astype(int) % 5)
    model = trees.blend(record_model.build(feats, width=8), trees.TreeEnsemble.from_export(trees.export(clf)))
    model.save(tmp_path / "blend.keras")
    loaded = inference.load_model(tmp_path / "blend.keras", key=f"blend-{tmp_path}")
    np.testing.assert_allclose(
        record_model.predict(loaded, morph, feats), model.predict([morph, feats], verbose=0), atol=1e-5
    )


def test_a_blend_of_an_ensemble_runs_through_the_fast_graph():
    """The shipped blend (several network members averaged, then trees) gets the fused inference
    graph of its network plus the trees, equal to the model's own call, not the slower fallback."""
    from ecg.models import record as record_model
    from ecg.models import record_graph
    from ecg.processing.context import MORPH_CHANNELS, N_FEATURES, WINDOW
    from ecg.training.record import ensemble

    rng = np.random.default_rng(3)
    morph = rng.standard_normal((400, WINDOW, MORPH_CHANNELS)).astype(np.float32)
    feats = rng.standard_normal((400, N_FEATURES)).astype(np.float32)
    rows = trees.tree_inputs(morph, feats)
    clf = HistGradientBoostingClassifier(max_iter=8, random_state=0).fit(rows, (np.abs(rows[:, 2]) * 3).astype(int) % 5)
    network = ensemble([record_model.build(feats, seed=s, width=8) for s in range(2)])
    model = trees.blend(network, trees.TreeEnsemble.from_export(trees.export(clf)))
    fn = record_graph.fast_graph(model)
    assert fn is not None
    expected = np.asarray(model([morph, feats], training=False))
    np.testing.assert_allclose(np.asarray(fn(morph, feats)), expected, rtol=1e-4, atol=1e-5)
    # a plain ensemble is not mistaken for a blend
    assert record_graph.blend_parts(network) is None


def test_the_compiled_walk_gives_the_layers_probabilities():
    """The product evaluates a blend's trees by its compiled walk of the layer's own arrays: the same
    probabilities as the layer and scikit-learn, with and without missing values, for any number of
    rows (eight at a time, then the rest one by one)."""
    from ecg.models import tree_walk

    assert tree_walk.available(), f"{tree_walk.LIBRARY.name} is not built: make test builds it (make native)"
    clf, x = _fitted(n_features=20)
    layer = trees.TreeEnsemble.from_export(trees.export(clf))
    walk = trees.fast_predictor(layer)
    assert walk is not None
    for rows in (x, x[:13], x[:7], x[:1]):  # whole groups of eight and a remainder, a remainder only
        np.testing.assert_allclose(walk(rows), clf.predict_proba(rows), atol=1e-6)
    np.testing.assert_allclose(walk(x), np.asarray(layer(x)), atol=1e-5)
    missing = x.copy()
    missing[::7, 3] = np.nan
    missing[::5, 0] = np.nan
    np.testing.assert_allclose(walk(missing), np.asarray(layer(missing)), atol=1e-5)
    np.testing.assert_allclose(walk(missing), clf.predict_proba(missing), atol=1e-6)
    # rows without a missing value: both walks agree (the branching one is the other's reference)
    arrays = trees.packed(layer)
    np.testing.assert_allclose(tree_walk.walk(x, arrays), tree_walk.walk_with_missing(x, arrays), atol=1e-12)
    assert walk(x[:0]).shape == (0, 5)
    with pytest.raises(ValueError, match="2-D"):
        walk(x[0])
    with pytest.raises(ValueError, match="inputs per row"):  # never a read past the row
        walk(x[:, :3])


def test_without_the_compiled_walk_the_trees_take_scikit_learns(monkeypatch, caplog):
    from ecg.models import tree_walk

    clf, x = _fitted(n_features=20)
    layer = trees.TreeEnsemble.from_export(trees.export(clf))
    monkeypatch.setattr(tree_walk, "available", lambda: False)
    walk = trees.fast_predictor(layer)
    assert walk is not None and "make native" in caplog.text
    x[::7, 3] = np.nan
    np.testing.assert_allclose(walk(x), clf.predict_proba(x), atol=1e-6)


def test_a_damaged_library_is_not_loaded(tmp_path, monkeypatch, caplog):
    from ecg.models import tree_walk

    with damaged_library(tree_walk, tmp_path, monkeypatch):
        assert tree_walk.library() is None and "make native" in caplog.text
        with pytest.raises(RuntimeError, match="make native"):
            tree_walk.walk(np.zeros((2, 3), np.float32), {})


def test_the_packed_trees_keep_each_trees_nodes_and_leaves():
    """The walk's layout: children side by side, a leaf its own child, every node kept, each tree's
    depth its deepest leaf's."""
    clf, _ = _fitted(n_features=20)
    arrays = trees.packed(trees.TreeEnsemble.from_export(trees.export(clf)))
    child, n = arrays["child"], len(arrays["child"])
    leaf = child == np.arange(n)
    assert leaf.sum() == sum(p.get_n_leaf_nodes() for it in clf._predictors for p in it)
    assert np.isinf(arrays["threshold"][leaf]).all() and (arrays["go_right_if_missing"][leaf] == 0).all()
    assert (child[~leaf] > np.arange(n)[~leaf]).all()  # breadth first: children after their parent
    assert arrays["depth"].tolist() == [p.get_max_depth() for it in clf._predictors for p in it]
    # where the eight-row walk finds a node's feature among its interleaved rows
    np.testing.assert_array_equal(arrays["lane_offset"], 8 * arrays["feature"])


def test_a_configuration_sets_the_blends_trees():
    from dataclasses import replace

    from ecg.processing.context import MORPH_CHANNELS, N_FEATURES, WINDOW
    from ecg.training import record as rt

    shipped = rt.CONFIGS["cnn_a05"]
    assert rt.tree_settings(shipped) == rt.TREE_PARAMS
    fewer = replace(shipped, tree_params=(("max_iter", 4), ("learning_rate", 0.3)))
    assert rt.tree_settings(fewer) == {**rt.TREE_PARAMS, "max_iter": 4, "learning_rate": 0.3}
    rng = np.random.default_rng(2)
    labels = np.tile(np.array([0, 0, 0, 1, 2]), 160)
    record = rt.RecordData(
        rng.standard_normal((len(labels), WINDOW, MORPH_CHANNELS)).astype(np.float32) + labels[:, None, None],
        rng.standard_normal((len(labels), N_FEATURES)).astype(np.float32),
        labels,
        np.arange(len(labels)) * 300,
        360.0,
        np.zeros(5, np.int64),
    )
    clf = rt.fit_trees({"a": record}, ["a"], params=dict(fewer.tree_params), n_keep=1.0)
    assert clf.n_iter_ == 4 and len(trees.export(clf)["roots"]) == 4 * 3  # three classes seen
    assert rt.fit_trees({"a": record}, ["a"], n_keep=1.0).n_iter_ == rt.TREE_PARAMS["max_iter"]


def test_a_blend_keeps_which_channels_its_trees_read(tmp_path):
    """Trees fitted on the first lead's channels only (the versions shipped before the trees read
    both leads) keep reading those after saving and loading, by Keras and by the product's path."""
    import keras

    from ecg.models import record as record_model
    from ecg.processing.context import MORPH_CHANNELS, N_FEATURES, WINDOW

    rng = np.random.default_rng(4)
    morph = rng.standard_normal((400, WINDOW, MORPH_CHANNELS)).astype(np.float32)
    feats = rng.standard_normal((400, N_FEATURES)).astype(np.float32)
    first = trees.tree_inputs(morph, feats, trees.FIRST_LEAD_CHANNELS)
    both = trees.tree_inputs(morph, feats)
    assert both.shape[1] - N_FEATURES == 2 * (first.shape[1] - N_FEATURES)  # the default reads the second lead too
    y = (np.abs(first[:, -1]) * 3).astype(int) % 5  # depends on a channel of the first lead only
    clf = HistGradientBoostingClassifier(max_iter=8, random_state=0).fit(first, y)
    network = record_model.build(feats, seed=0, width=8)
    model = trees.blend(network, trees.TreeEnsemble.from_export(trees.export(clf)), channels=trees.FIRST_LEAD_CHANNELS)
    model.save(tmp_path / "blend.keras")
    loaded = keras.models.load_model(tmp_path / "blend.keras", compile=False)
    (rows,) = [layer for layer in loaded.layers if isinstance(layer, trees.TreeInputs)]
    assert rows.channels == trees.FIRST_LEAD_CHANNELS
    expected = (network.predict([morph, feats], verbose=0) + clf.predict_proba(first)) / 2
    np.testing.assert_allclose(record_model.predict(loaded, morph, feats), expected, atol=1e-5)


def test_a_tree_input_layer_saved_without_its_channels_reads_the_first_lead():
    """Artifacts saved before the layer kept its channel count (heartbeat_record-2026.12-ctx3)."""
    config = trees.TreeInputs(name="tree_inputs").get_config()
    assert config["channels"] == trees.MORPH_CHANNELS
    del config["channels"]
    assert trees.TreeInputs.from_config(config).channels == trees.FIRST_LEAD_CHANNELS
