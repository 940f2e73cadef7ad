"""The record-level model's fast inference graph gives the Keras model's probabilities."""

import numpy as np
import pytest
import wfdb

from ecg.models import record, record_graph
from ecg.processing.context import MORPH_CHANNELS, N_FEATURES, WINDOW, record_context
from ecg.processing.detection import detect_r_peaks
from ecg.training.record import ensemble

from ..data import REPO_ROOT, mitdb_dir
from ..helpers import damaged_library

TOL = {"rtol": 1e-5, "atol": 1e-5}


def _model(seed: int, width: int, kind: str = "cnn"):
    """A member as training builds it, its weights (biases too) drawn at random so every term counts.

    Kernels are scaled by their fan-in, as training keeps them: activations stay near 1 however wide
    the layer, so float32 rounding, summed in another order, stays within TOL of the Keras call."""
    rng = np.random.default_rng(seed)
    sample = rng.normal(rng.normal(size=N_FEATURES), rng.uniform(0.5, 3.0, N_FEATURES), (200, N_FEATURES))
    model = record.build(sample.astype(np.float32), seed=seed, width=width, kind=kind)
    for layer in model.layers:
        if layer.name != "feature_scale" and layer.weights:  # the scaling stays as fitted
            layer.set_weights(
                [
                    rng.normal(0, 0.3 if w.ndim == 1 else 1.5 / np.sqrt(np.prod(w.shape[:-1])), w.shape).astype(
                        np.float32
                    )
                    for w in layer.get_weights()
                ]
            )
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


@pytest.fixture(scope="module")
def native_member():
    """Widths the compiled kernel takes (channels in multiples of 8): 8, then 16."""
    return _model(21, width=16)


@pytest.fixture(scope="module")
def native_members():
    """Three members of the shipped architecture (16, then 32 channels)."""
    return ensemble([_model(30 + k, width=32) for k in range(3)])


def _native():
    from ecg.models import net_forward

    assert net_forward.LIBRARY.exists(), f"{net_forward.LIBRARY.name} is not built: make test builds it (make native)"
    if not net_forward.available():
        pytest.skip("this processor has no AVX2/FMA: the compiled network kernel does not run here")
    return net_forward


@pytest.mark.parametrize("n", [0, 1, 7, 1100])
@pytest.mark.parametrize("members", ["one_member", "three_members", "native_members"])
def test_the_product_path_gives_the_keras_models_probabilities(request, members, n):
    model = request.getfixturevalue(members)
    morph, feats = _inputs(n)
    got = record.predict(model, morph, feats, batch_size=512)
    assert got.shape == (n, 5) and got.dtype == np.float32
    if n:
        np.testing.assert_allclose(got, model([morph, feats], training=False).numpy(), **TOL)
        np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("members", ["native_member", "native_members"])
def test_every_layout_is_recognised_and_equal(request, members):
    _native()
    model = request.getfixturevalue(members)
    morph, feats = _inputs(33, seed=2)
    expected = model([morph, feats], training=False).numpy()
    for layout in record_graph.LAYOUTS:
        fn = record_graph.fast_graph(model, layout=layout)
        assert fn is not None, layout
        np.testing.assert_allclose(np.asarray(fn(morph, feats)), expected, err_msg=layout, **TOL)


@pytest.mark.parametrize("n", [0, 1, 47, 48, 49, 97, 1100])
@pytest.mark.parametrize("members", ["native_member", "native_members"])
def test_the_compiled_network_gives_the_keras_models_probabilities(request, members, n):
    """Any number of beats (the kernel takes blocks of 48, the last one partly empty)."""
    _native()
    model = request.getfixturevalue(members)
    morph, feats = _inputs(n, seed=n)
    fn = record_graph.fast_graph(model, layout="native")
    got = fn(morph, feats)
    assert got.shape == (n, 5) and got.dtype == np.float32
    if n:
        np.testing.assert_allclose(got, model([morph, feats], training=False).numpy(), **TOL)
        np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="morphology"):
        fn(morph[:, :-1], feats)
    if n:
        feats[0, 3] = np.nan  # TensorFlow would carry it to the probabilities; the kernel refuses it
        with pytest.raises(ValueError, match="finite"):
            fn(morph, feats)


def _native_at(lanes: int, monkeypatch) -> None:
    """The kernel's fast graphs built with vectors of ``lanes`` floats (skipped where it has none)."""
    import functools

    net_forward = _native()
    if lanes not in net_forward.lane_widths():
        pytest.skip(
            f"this processor has no {lanes}-float vectors (AVX-512): the kernel runs {net_forward.lane_widths()}"
        )
    monkeypatch.setattr(net_forward, "network", functools.partial(net_forward.network, lanes=lanes))


@pytest.mark.parametrize("lanes", [8, 16])
@pytest.mark.parametrize("members", ["native_member", "native_members"])
def test_every_vector_width_of_the_kernel_gives_the_keras_models_probabilities(request, monkeypatch, members, lanes):
    """The 8-wide tiles (AVX2) and the 16-wide ones (AVX-512), whichever the processor would pick."""
    _native_at(lanes, monkeypatch)
    model = request.getfixturevalue(members)
    fn = record_graph.fast_graph(model, layout="native")
    for n in (1, 12, 49, 1100):
        morph, feats = _inputs(n, seed=40 + n)
        np.testing.assert_allclose(fn(morph, feats), model([morph, feats], training=False).numpy(), **TOL)


@pytest.mark.parametrize("width", [32, 48])
@pytest.mark.parametrize("window", [50, 60])
def test_the_16_wide_tiles_fit_any_count_of_rows(monkeypatch, window, width):
    """Their height follows a layer's rows (tiles of 12, 9 or 6): other windows give the convolutions
    rows the shipped one does not (60: 60, 30 and 14 rows; 50: 50, 24 and 12); width 48 gives 24 and 48
    channels, a 16-wide part and an 8-wide rest."""
    from ecg.processing import context

    _native_at(16, monkeypatch)
    monkeypatch.setattr(record, "WINDOW", window)
    monkeypatch.setattr(context, "WINDOW", window)  # the ensemble's input
    model = ensemble([_model(50 + k, width=width) for k in range(2)])
    fn = record_graph.fast_graph(model, layout="native")
    rng = np.random.default_rng(window)
    morph = rng.normal(size=(49, window, MORPH_CHANNELS)).astype(np.float32)
    feats = rng.normal(size=(49, N_FEATURES)).astype(np.float32)
    np.testing.assert_allclose(fn(morph, feats), model([morph, feats], training=False).numpy(), **TOL)


def test_the_product_path_uses_the_compiled_network_where_it_runs(native_members, three_members):
    _native()
    assert record._graph(native_members).__module__ == "ecg.models.net_forward"
    # widths that are not multiples of 8 take TensorFlow's fused graph
    assert record_graph.fast_graph(three_members, layout="native") is None
    assert record._graph(three_members).python_function.__module__ == "ecg.models.record_graph"
    assert record.keras_graph(three_members).python_function.__module__ == "ecg.models.record"


def test_without_the_compiled_kernel_the_network_runs_in_tensorflow(monkeypatch, native_members):
    """A processor without AVX2/FMA, or a library not built: the library reads as absent."""
    from ecg.models import net_forward

    monkeypatch.setattr(net_forward, "library", lambda: None)
    assert record_graph.fast_graph(native_members, layout="native") is None
    fn = record_graph.fast_graph(native_members)
    assert fn.python_function.__module__ == "ecg.models.record_graph"
    morph, feats = _inputs(20, seed=4)
    np.testing.assert_allclose(fn(morph, feats).numpy(), native_members([morph, feats], training=False).numpy(), **TOL)


def test_a_damaged_network_library_is_not_loaded(tmp_path, monkeypatch, caplog, native_members):
    from ecg.models import net_forward

    with damaged_library(net_forward, tmp_path, monkeypatch):
        assert net_forward.library() is None and "make native" in caplog.text
        assert record_graph.fast_graph(native_members, layout="native") is None
        assert record_graph.fast_graph(native_members).python_function.__module__ == "ecg.models.record_graph"


def test_a_network_library_built_from_an_older_source_is_not_used(tmp_path, monkeypatch, caplog, native_members):
    """One that loads but lacks this version's entry points (built before it, not rebuilt)."""
    import subprocess

    from ecg.models import net_forward

    source = tmp_path / "old.c"
    source.write_text("int net_supported(void) { return 1; }\nint forward(void) { return -1; }\n")
    old = tmp_path / net_forward.LIBRARY.name
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(old), str(source)], check=True)
    monkeypatch.setattr(net_forward, "LIBRARY", old)
    net_forward.library.cache_clear()
    try:
        assert net_forward.library() is None and "make native" in caplog.text
        assert record_graph.fast_graph(native_members, layout="native") is None
    finally:
        net_forward.library.cache_clear()


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


def test_a_real_records_beats_get_the_shipped_models_probabilities(three_members, native_members):
    import keras

    rec = wfdb.rdrecord(str(mitdb_dir() / "208"), sampto=360 * 300)
    leads = [np.nan_to_num(rec.p_signal[:, 0]), np.nan_to_num(rec.p_signal[:, 1])]
    ctx = record_context(leads, rec.fs, detect_r_peaks(leads[0], rec.fs))
    assert len(ctx.features) > 300
    shipped = sorted((REPO_ROOT / "mlmodels" / "artifacts").glob("heartbeat_record-*.keras"))
    # every bundled version: the trees of ctx3 read the first lead only (its artifact predates the layer's
    # channel count), ctx4's both leads
    bundled = {p.stem: keras.models.load_model(p, compile=False) for p in shipped}
    parts = {name: record_graph.blend_parts(m) for name, m in bundled.items()}
    reading = {name: p[1].channels for name, p in parts.items() if p is not None}
    assert reading["heartbeat_record-2026.12-ctx3"] == 2 and reading["heartbeat_record-2026.12-ctx4"] == 4
    models = [three_members, native_members, *bundled.values()]
    for model in models:
        expected = model([ctx.morphology, ctx.features], training=False).numpy()
        np.testing.assert_allclose(record.predict(model, ctx.morphology, ctx.features), expected, **TOL)
