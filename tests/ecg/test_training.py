"""Seed .h5 import, model cost, class weights, splits, metrics and a short end-to-end training run."""

import json

import h5py
import numpy as np
import pytest

from ecg.datasets import BeatSet
from ecg.evaluation.metrics import classification_metrics
from ecg.models.architectures import load_keras2_h5, multiply_adds, residual_cnn, seed_cnn
from ecg.training.heartbeat import class_weights, inter_patient_split, stratified_split
from tests.data import seed_dir


def _seed_beats() -> np.ndarray:
    return np.loadtxt(seed_dir() / "ECG_Analyzer_test.csv", delimiter=",", dtype=np.float32)


def _numpy_forward(h5_path, beats: np.ndarray) -> np.ndarray:
    """The seed CNN computed by hand from the .h5 weights (independent of Keras' loader)."""
    with h5py.File(h5_path, "r") as h5:
        group = h5["model_weights"]
        names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["layer_names"]]
        weights = {}
        for name in names:
            for key in group[name].attrs["weight_names"]:
                key = key.decode() if isinstance(key, bytes) else key
                weights[(name, key.split("/")[-1].split(":")[0])] = group[name][key][()]
    convs = [n for n in names if n.startswith("conv1d")]
    dense = [n for n in names if n.startswith("dense")][0]

    def conv_relu_pool(x, name):
        kernel, bias = weights[(name, "kernel")], weights[(name, "bias")]
        k = kernel.shape[0]
        windows = np.stack([x[:, i : x.shape[1] - k + 1 + i] for i in range(k)], axis=2)  # (n, t, k, c)
        y = np.maximum(np.einsum("ntkc,kcf->ntf", windows, kernel) + bias, 0)
        t = y.shape[1] // 2 * 2
        return y[:, :t].reshape(len(y), t // 2, 2, -1).max(axis=2)

    x = beats[:, :, None].astype(np.float64)
    for name in convs:
        x = conv_relu_pool(x, name)
    logits = x.reshape(len(x), -1) @ weights[(dense, "kernel")] + weights[(dense, "bias")]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize(
    "name, outputs, params", [("model_ECG_final.h5", 5, 193_265), ("model_MI_final.h5", 2, 174_062)]
)
def test_seed_h5_import_matches_a_hand_computed_forward_pass(name, outputs, params):
    path = seed_dir() / name
    model = load_keras2_h5(path)
    assert model.output_shape == (None, outputs) and model.count_params() == params
    beats = _seed_beats()[:10]
    keras_out = model.predict(beats[:, :, None], verbose=0)
    assert np.allclose(keras_out, _numpy_forward(path, beats), atol=1e-4)


def test_seed_models_on_the_seed_example_input():
    # The example holds 10 distinct beats repeated 10 times; they are not MIT-BIH beats (no
    # match among the 109,446 extracted beats) but PTB-style beats: the seed's MI model calls the
    # first five of each ten normal and the last five abnormal, and the heartbeat model calls all N.
    beats = _seed_beats()[:, :, None]
    assert len(np.unique(beats, axis=0)) == 10
    heartbeat = load_keras2_h5(seed_dir() / "model_ECG_final.h5").predict(beats, verbose=0).argmax(axis=1)
    assert np.bincount(heartbeat, minlength=5).tolist() == [100, 0, 0, 0, 0]
    mi = load_keras2_h5(seed_dir() / "model_MI_final.h5").predict(beats, verbose=0).argmax(axis=1)
    assert mi.tolist() == [0] * 5 * 1 + [1] * 5 + ([0] * 5 + [1] * 5) * 9


def test_model_cost():
    assert multiply_adds(seed_cnn()) == 13_010_000
    assert seed_cnn(2).count_params() == 174_062
    cheap = residual_cnn(width=24)
    assert multiply_adds(cheap) <= 13_010_000 / 3 and multiply_adds(cheap) < 3_000_000


def test_class_weights():
    labels = np.array([0] * 900 + [1] * 90 + [2] * 10)
    sqrt = class_weights(labels, "sqrt", cap=10)
    assert sqrt[0] < sqrt[1] < sqrt[2]
    assert np.isclose(sqrt[labels].mean(), 1.0)
    assert np.isclose(sqrt[1] / sqrt[0], np.sqrt(10))
    capped = class_weights(labels, "balanced", cap=5)
    assert np.isclose(capped[2] / capped[0], 5)
    assert np.allclose(class_weights(labels, "none", cap=5)[:3], 1.0)


def _toy(records: list[str], per_record: int = 20) -> BeatSet:
    n = len(records) * per_record
    labels = np.tile(np.arange(per_record) % 5, len(records))
    return BeatSet(np.zeros((n, 187), np.float32), labels, np.repeat(records, per_record), np.arange(n))


def test_inter_patient_validation_is_carved_by_record():
    train, val = inter_patient_split(_toy(["101", "106", "124", "201"]), ("124", "201", "999"))
    assert set(val.records) == {"124", "201"} and set(train.records) == {"101", "106"}
    train, val = inter_patient_split(_toy(["101", "106"]), ("124",))
    assert set(val.records) == {"106"}
    with pytest.raises(ValueError):
        inter_patient_split(_toy(["124"]), ("124",))


def test_stratified_split():
    beats = _toy(["100", "101", "102", "103", "104"])
    train, test = stratified_split(beats, 0.2, seed=1)
    assert len(train) == 80 and len(test) == 20
    assert test.class_counts().tolist() == [4, 4, 4, 4, 4]
    assert not set(train.r_peaks) & set(test.r_peaks)


def test_metrics():
    y_true = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 0, 0, 1, 1, 0, 2, 2])
    m = classification_metrics(y_true, y_pred)
    assert m["accuracy"] == 6 / 8
    assert m["per_class"]["N"]["sensitivity"] == 3 / 4 and m["per_class"]["N"]["ppv"] == 3 / 4
    assert m["per_class"]["S"]["sensitivity"] == 1 / 2 and m["per_class"]["S"]["ppv"] == 1 / 2
    assert m["per_class"]["F"]["f1"] is None  # no reference F beats and none predicted
    assert m["macro_f1"] == pytest.approx((0.75 + 0.5 + 1.0) / 3)
    assert m["confusion_matrix"]["counts"][0] == [3, 1, 0, 0, 0]


def test_short_training_run_gives_a_loadable_model_and_card(tmp_path):
    import keras
    from django.core.management import call_command

    from tests.data import mitdb_dir

    mitdb_dir()
    out = tmp_path / "run"
    call_command(
        "train_heartbeat",
        "--records",
        "100,101,106,103",
        "--epochs",
        "1",
        "--output",
        str(out),
        "--model-version",
        "test-1",
        "--threads",
        "1",
        "--width",
        "16",
        "--throughput-batches",
        "1",
        "--throughput-repeats",
        "1",
    )
    model = keras.models.load_model(out / "heartbeat-test-1.keras", compile=False)
    assert model.input_shape == (None, 187, 1) and model.output_shape == (None, 5)
    card = json.loads((out / "heartbeat-test-1.json").read_text())
    assert card["task"] == "heartbeat" and card["class_labels"] == ["N", "S", "V", "F", "Q"]
    assert card["input"] == {"length": 187, "fs": 120} and card["threshold"] is None
    assert card["params"] == model.count_params() and card["multiply_adds_per_beat"] == multiply_adds(model)
    for protocol in ("inter_patient", "intra_patient"):
        assert 0 <= card["metrics"][protocol]["accuracy"] <= 1
        assert protocol in card["metrics"]["seed_model"]
    assert card["command"].startswith("python manage.py train_heartbeat")
    assert (out / "heartbeat-test-1.md").read_text().startswith("# Heartbeat model test-1")


def _shipped_cards():
    from pathlib import Path

    artifacts = Path(__file__).resolve().parents[2] / "mlmodels" / "artifacts"
    return sorted(artifacts.glob("heartbeat-*.json"))


@pytest.mark.parametrize("card_path", _shipped_cards(), ids=lambda p: p.stem)
def test_shipped_artifact_matches_its_card(card_path):
    import keras

    card = json.loads(card_path.read_text())
    model = keras.models.load_model(card_path.with_suffix(".keras"), compile=False)
    assert card["task"] == "heartbeat" and card["class_labels"] == ["N", "S", "V", "F", "Q"]
    assert card["input"] == {"length": 187, "fs": 120} and card["threshold"] is None
    assert model.input_shape == (None, 187, 1) and model.output_shape == (None, 5)
    assert card["params"] == model.count_params()
    assert card["multiply_adds_per_beat"] == multiply_adds(model) <= 13_010_000 / 3
    for protocol in ("inter_patient", "intra_patient"):
        assert set(card["metrics"][protocol]["per_class"]) == {"N", "S", "V", "F", "Q"}
        assert protocol in card["metrics"]["seed_model"]
    assert card_path.with_suffix(".md").exists()
    for key in ("version", "architecture", "training_data", "split", "command", "created", "code_version"):
        assert card[key]
