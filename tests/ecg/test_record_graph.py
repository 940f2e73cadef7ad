"""The record-level model's fast inference graph gives the Keras model's probabilities."""

import numpy as np
import pytest
import wfdb

from ecg.models import record, record_graph
from ecg.processing.context import MORPH_CHANNELS, N_FEATURES, WINDOW, record_context
from ecg.processing.detection import detect_r_peaks
from ecg.training.record import ensemble

from ..data import REPO_ROOT, mitdb_dir

TOL = {"rtol": 1e-5, "atol": 1e-5}


def _model(seed: int, width: int, kind: str = "cnn"):
    """A member as training builds it, its weights (biases too) drawn at random so every term counts."""
    rng = np.random.default_rng(seed)
    sample = rng.normal(rng.normal(size=N_FEATURES), rng.uniform(0.5, 3.0, N_FEATURES), (200, N_FEATURES))
    model = record.build(sample.astype(np.float32), seed=seed, width=width, kind=kind)
    for layer in model.layers:
        if layer.name != "feature_scale" and layer.weights:  # the scaling stays as fitted
            layer.set_weights([rng.normal(0, 0.3, w.shape).astype(np.float32) for w in layer.get_weights()])
    return model


def _inputs(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(size=(n, WINDOW, MORPH_CHANNELS)).astype(np.float32),
        rng.normal(size=(n, N_FEATURES)).astype(np.float32),
    )


@pytest.fixture(scope="module")
def one_member():
    return _model(1, width=4)


@pytest.fixture(scope="module")
def three_members():
    return ensemble([_model(10 + k, width=6) for k in range(3)])


@pytest.mark.parametrize("n", [0, 1, 7, 1100])
@pytest.mark.parametrize("members", ["one_member", "three_members"])
def test_the_product_path_gives_the_keras_models_probabilities(request, members, n):
    model = request.getfixturevalue(members)
    morph, feats = _inputs(n)
    got = record.predict(model, morph, feats, batch_size=512)
    assert got.shape == (n, 5) and got.dtype == np.float32
    if n:
        np.testing.assert_allclose(got, model([morph, feats], training=False).numpy(), **TOL)
        np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("members", ["one_member", "three_members"])
def test_every_layout_is_recognised_and_equal(request, members):
    model = request.getfixturevalue(members)
    morph, feats = _inputs(33, seed=2)
    expected = model([morph, feats], training=False).numpy()
    for layout in record_graph.LAYOUTS:
        fn = record_graph.fast_graph(model, layout=layout)
        assert fn is not None, layout
        np.testing.assert_allclose(fn(morph, feats).numpy(), expected, err_msg=layout, **TOL)


def test_the_product_path_uses_the_fast_graph(three_members):
    assert record._graph(three_members).python_function.__module__ == "ecg.models.record_graph"
    assert record.keras_graph(three_members).python_function.__module__ == "ecg.models.record"


def test_a_fast_graph_that_differs_from_the_model_is_not_used(monkeypatch, caplog):
    model, other = _model(5, width=4), _model(6, width=4)
    real = record_graph.fast_graph
    monkeypatch.setattr(record_graph, "fast_graph", lambda m: real(other))  # a real graph, of other weights
    morph, feats = _inputs(6)
    got = record.predict(model, morph, feats)
    np.testing.assert_allclose(got, model([morph, feats], training=False).numpy(), **TOL)
    assert record._graph(model).python_function.__module__ == "ecg.models.record"
    assert "differs from the model's own call" in caplog.text


def test_a_model_it_does_not_know_falls_back_to_its_own_call():
    model = _model(3, width=8, kind="mlp")
    assert record_graph.fast_graph(model) is None
    morph, feats = _inputs(5)
    np.testing.assert_allclose(
        record.predict(model, morph, feats), model([morph, feats], training=False).numpy(), **TOL
    )


def test_a_model_in_training_is_predicted_with_its_current_weights():
    model = _model(4, width=4)
    morph, feats = _inputs(9)
    before = record.predict(model, morph, feats, fast=False)
    model.set_weights([w * 1.5 for w in model.get_weights()])
    after = record.predict(model, morph, feats, fast=False)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, model([morph, feats], training=False).numpy(), **TOL)


def test_a_real_records_beats_get_the_shipped_models_probabilities(three_members):
    import keras

    rec = wfdb.rdrecord(str(mitdb_dir() / "208"), sampto=360 * 300)
    leads = [np.nan_to_num(rec.p_signal[:, 0]), np.nan_to_num(rec.p_signal[:, 1])]
    ctx = record_context(leads, rec.fs, detect_r_peaks(leads[0], rec.fs))
    assert len(ctx.features) > 300
    shipped = sorted((REPO_ROOT / "mlmodels" / "artifacts").glob("heartbeat_record-*.keras"))
    models = [three_members] + ([keras.models.load_model(shipped[-1], compile=False)] if shipped else [])
    for model in models:
        expected = model([ctx.morphology, ctx.features], training=False).numpy()
        np.testing.assert_allclose(record.predict(model, ctx.morphology, ctx.features), expected, **TOL)
