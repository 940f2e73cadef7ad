"""MI training: transfer from a heartbeat network, threshold rule, patient-wise splits."""

import json

import numpy as np
import pytest

from ecg.datasets import ptbxl
from ecg.datasets.mi import MiBeats, MiRecord, _part, plausible_beats
from ecg.training import mi as mt
from tests.data import mi_dir


def _toy(n_patients: int = 24, beats_per_patient: int = 4, seed: int = 0) -> MiBeats:
    """Patients whose MI beats carry a wider bump: learnable in a couple of epochs."""
    rng = np.random.default_rng(seed)
    t = np.linspace(-1, 1, 187)
    beats, labels, pids, sources = [], [], [], []
    for p in range(n_patients):
        y = p % 2
        for _ in range(beats_per_patient):
            width = 0.25 if y else 0.08
            beats.append(np.exp(-((t / width) ** 2)) + rng.normal(0, 0.02, 187))
            labels.append(y)
            pids.append(f"p{p}")
            sources.append("ptbxl" if p % 3 else "ptb")
    beats = np.clip(np.array(beats, np.float32), 0, 1)
    pids = np.array(pids)
    return MiBeats(
        beats, np.array(labels), np.char.add(pids, "_r"), pids, np.array(sources), np.zeros(len(labels), bool)
    )


@pytest.fixture(scope="module")
def base():
    from ecg.models.architectures import residual_cnn

    return residual_cnn(5, width=4, n_blocks=2, dense_units=8)


def test_transfer_keeps_the_heartbeat_layers_and_random_does_not(base):
    transfer = mt.mi_model_from(base, "transfer")
    random = mt.mi_model_from(base, "random", seed=1)
    assert transfer.output_shape == (None, 2) and transfer.layers[-1].name == "mi"
    for layer in base.layers[1:-1]:
        for a, b in zip(layer.get_weights(), transfer.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(a, b)
    stem = base.get_layer("stem").get_weights()[0]
    assert not np.allclose(stem, random.get_layer("stem").get_weights()[0])
    with pytest.raises(ValueError):
        mt.mi_model_from(base, "imagenet")


def _ptbxl_subset(n_per_class: int) -> MiBeats:
    """Beats of the first ``n_per_class`` confident MI and NORM PTB-XL records."""
    directory = mi_dir() / "ptbxl_500hz_preprocessed_npy"
    labels = ptbxl.read_labels(directory)
    labels = labels[~labels.uncertain_mi]
    rows = list(labels[labels.label == "MI"].head(n_per_class).itertuples())
    rows += list(labels[labels.label == "NORM"].head(n_per_class).itertuples())
    parts = []
    for row in rows:
        signal = ptbxl.read_npy(directory / row.file)
        beats, _, _ = plausible_beats(signal.leads["II"], signal.fs)
        parts.append(_part(beats, MiRecord(row.record, row.patient_id, "ptbxl", int(row.label == "MI"))))
    return MiBeats.concat(parts)


def test_short_transfer_run_on_a_small_real_subset(base):
    data = _ptbxl_subset(6)
    patients = sorted(set(data.patient_ids.tolist()))
    held = [p for i, p in enumerate(patients) if i % 4 == 0]
    train, val = data.subset(~np.isin(data.patient_ids, held)), data.subset(np.isin(data.patient_ids, held))
    assert not set(train.patient_ids) & set(val.patient_ids)
    model, epochs = mt.fit_mi(
        base, mt.MiHyperParams(lr=3e-3, max_epochs=3, patience=2, augment_copies=1), train, val, seed=0
    )
    assert 1 <= epochs <= 3
    p = mt.beat_probabilities(model, val.beats)
    assert p.shape == (len(val),) and ((p >= 0) & (p <= 1)).all()
    scores = mt.recording_scores(val.records, p)
    assert set(scores) == set(val.records.tolist())
    record = val.records[0]
    assert scores[record] == pytest.approx(float(np.mean(p[val.records == record])), abs=1e-6)


def test_augment_keeps_the_beat_format():
    beats = _toy(2, 3).beats
    beats[:, 150:] = 0  # a beat shorter than 187 values, zero-padded
    out = mt.augment(beats, np.random.default_rng(0))
    assert out.shape == beats.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1 and np.allclose(out.max(axis=1), 1)


def test_threshold_keeps_recall_and_is_the_most_specific():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.3, 0.2, 0.65, 0.1])
    labels = np.array([1, 1, 1, 1, 1, 0, 0, 0])
    t = mt.choose_threshold(scores, labels, 0.95)  # 5 MI: none may be missed
    assert t == pytest.approx(0.3)
    assert mt.specificity_at_recall(scores, labels, 0.95) == pytest.approx(2 / 3)
    assert mt.choose_threshold(scores, labels, 0.8) == pytest.approx(0.6)  # one of five may be missed
    many = np.linspace(0, 1, 40)
    t = mt.choose_threshold(many, np.ones(40, int), 0.95)  # 40 MI: two may be missed
    assert np.mean(many >= t) >= 0.95 and np.mean(many >= np.nextafter(t, 2)) < 0.95
    m = mt.binary_metrics(labels, scores >= 0.3, scores)
    assert (m["recall"], m["specificity"], m["tp"], m["fp"]) == (1.0, pytest.approx(2 / 3), 5, 1)
    with pytest.raises(ValueError):
        mt.choose_threshold(scores, np.zeros(8, int))


def test_tolerance_factor_matches_the_published_table():
    # One-sided normal tolerance factors, coverage 0.95 at confidence 0.90 (NIST/SEMATECH table).
    assert mt.tolerance_factor(10) == pytest.approx(2.568, abs=1e-3)
    assert mt.tolerance_factor(20) == pytest.approx(2.208, abs=1e-3)
    with pytest.raises(ValueError):
        mt.tolerance_factor(1)


def test_recall_bound_threshold_is_the_lower_bound_of_the_logit_normal_5th_percentile():
    from scipy.special import expit

    z = np.array([-1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0])  # MI logits
    scores = np.concatenate([expit(z), [0.05, 0.5]])
    labels = np.array([1] * 10 + [0, 0])
    expected = expit(z.mean() - 2.568 * z.std(ddof=1))
    t = mt.recall_bound_threshold(scores, labels)
    assert t == pytest.approx(expected, rel=1e-3)
    assert t < mt.choose_threshold(scores, labels)  # below the lowest MI validation score here
    # Pooled repeats: fewer independent patients than scores widen the bound.
    assert mt.recall_bound_threshold(scores, labels, n_independent=5) < t
    # Never above the validation-recall rule: one far-off MI score stays caught.
    tight = np.concatenate([expit(np.r_[np.full(9, 2.0) + np.linspace(0, 0.01, 9), -3.0]), [0.1]])
    assert mt.recall_bound_threshold(tight, np.array([1] * 10 + [0])) <= expit(-3.0) + 1e-12
    # Under three MI scores there is nothing to fit: the validation-recall rule.
    few = np.array([0.7, 0.9, 0.2])
    assert mt.recall_bound_threshold(few, np.array([1, 1, 0])) == mt.choose_threshold(few, np.array([1, 1, 0]))


def test_recall_bound_keeps_recall_95_in_90_percent_of_folds_of_10_mi_patients():
    from scipy.special import expit
    from scipy.stats import norm

    rng = np.random.default_rng(0)
    mu, sigma, n, folds = 1.5, 1.0, 10, 2000
    kept_bound, kept_lowest, recall_lowest = 0, 0, []
    for _ in range(folds):
        scores = expit(rng.normal(mu, sigma, n))
        labels = np.ones(n, int)
        for rule in ("bound", "lowest"):
            t = mt.recall_bound_threshold(scores, labels) if rule == "bound" else mt.choose_threshold(scores, labels)
            recall = norm.sf((np.log(t / (1 - t)) - mu) / sigma)  # on all future MI patients
            if rule == "bound":
                kept_bound += recall >= 0.95
            else:
                kept_lowest += recall >= 0.95
                recall_lowest.append(recall)
    assert 0.87 <= kept_bound / folds <= 0.94
    # The old per-fold rule: the lowest of 10 MI scores, recall 0.95 in 1 - 0.95**10 = 40 % of folds.
    assert 0.36 <= kept_lowest / folds <= 0.44
    assert np.mean(recall_lowest) == pytest.approx(10 / 11, abs=0.01)


def test_no_patient_on_both_sides_of_any_split():
    data = _toy(40)
    for repeat in range(3):
        folds = mt.patient_folds(data, 5, seed=repeat)
        flat = np.concatenate(folds)
        assert len(flat) == len(set(flat)) == 40  # every patient tested exactly once
        for test in folds:
            rest = data.subset(~np.isin(data.patient_ids, test))
            val = mt.validation_patients(rest, 5, seed=repeat)
            assert not set(val) & set(test)
            assert set(rest.patient_ids) & set(test.tolist()) == set()
            assert len(set(val)) >= 4


def test_cross_validation_is_patient_wise_and_resumable(base, tmp_path):
    data = _toy(60, 2)
    hp = mt.MiHyperParams(max_epochs=1, patience=1, batch_size=128)
    results = mt.run_cross_validation(
        data, base, None, ("transfer",), tmp_path, n_repeats=1, n_splits=2, hp=hp, log=lambda _: None
    )
    assert len(results) == 2
    patient = dict(zip(data.records.tolist(), data.patient_ids.tolist()))
    tested = []
    for r in results:
        test_patients = {patient[x] for x in r["test_records"]}
        val_patients = {patient[x] for x in r["val_records"]}
        assert not test_patients & val_patients
        tested += sorted(test_patients)
        assert r["n_train_patients"] + r["n_val_patients"] + r["n_test_patients"] <= 60
        # Each fold's threshold is the bound rule on its own validation scores (>= 3 MI patients here).
        val_s, val_y = np.array(r["val_scores"]), np.array(r["val_labels"])
        n_mi = len({patient[x] for x, y in zip(r["val_records"], r["val_labels"]) if y == 1})
        assert n_mi >= 3
        assert r["threshold"] == pytest.approx(mt.recall_bound_threshold(val_s, val_y, n_independent=n_mi))
        assert r["threshold"] <= r["threshold_validation_recall"] == mt.choose_threshold(val_s, val_y)
    assert sorted(tested) == sorted(set(data.patient_ids.tolist()))
    # resumable: a rerun trains nothing new
    again = mt.run_cross_validation(
        data, base, None, ("transfer",), tmp_path, n_repeats=1, n_splits=2, hp=hp, log=lambda _: None
    )
    assert [json.dumps(a, sort_keys=True) for a in again] == [json.dumps(r, sort_keys=True) for r in results]
    summary = mt.summarise(results, data, "transfer", n_boot=20)
    assert set(summary["recording"]["n_patients"]) == {"mi", "normal"}
    assert summary["recording"]["roc_auc_ci95"][0] is not None


@pytest.mark.parametrize(("recall", "met"), [(0.960, True), (0.909, False)])
def test_the_card_checks_recall_at_the_out_of_fold_thresholds(recall, met):
    from ecg.training.card import target_checks

    recording = {"roc_auc": 0.987, "specificity_at_recall_95": 0.936, "recall": recall, "specificity": 0.73}
    card = {
        "task": "mi",
        "hyperparameters": {"init": "transfer"},
        "metrics": {"transfer": {"confident_mi": {"recording": recording}}},
        "seed_model": {"metrics": None},
    }
    (check,) = [c for c in target_checks(card) if c["target"].startswith("recording-level recall at the out-of-fold")]
    assert (check["required"], check["measured"], check["met"]) == (">= 0.93", recall, met)
    assert (check["cause_if_missed"] is None) == met
