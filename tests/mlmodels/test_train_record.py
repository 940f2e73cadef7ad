"""The record-level model's training command: trains, averages seeds, writes the model and its card."""

import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ecg.training import record as rt

from ..data import mitdb_dir, svdb_dir


@pytest.mark.slow
def test_it_trains_on_a_few_records_and_writes_a_card(tmp_path, monkeypatch):
    mitdb_dir(), svdb_dir()
    monkeypatch.setenv("ECG_DATA_DIR", str(mitdb_dir().parent))
    out = StringIO()
    call_command(
        "train_heartbeat_record",
        "--config",
        "cnn_a05",
        "--seeds",
        "2",
        "--epochs",
        "1",
        "--records",
        "mitdb/119+mitdb/209+mitdb/100+mitdb/106+svdb/800+svdb/820",
        "--model-version",
        "test-1",
        "--output",
        str(tmp_path),
        stdout=out,
    )
    card = json.loads((tmp_path / "heartbeat_record-test-1.json").read_text())
    assert card["task"] == "heartbeat_record" and card["input"]["kind"] == "record"
    assert card["hyperparameters"]["seeds"] == 2 and card["multiply_adds_per_beat"] > 0
    assert {t["target"] for t in card["targets"]} >= {"record-wise CV (all patients) S sensitivity"}
    assert "## Targets" in (tmp_path / "heartbeat_record-test-1.md").read_text()
    assert re.fullmatch(r"[0-9a-f]{40}", card["code_version"])  # the command reproduces the model at this code
    assert f"at code version {card['code_version']}" in (tmp_path / "heartbeat_record-test-1.md").read_text()
    assert (tmp_path / "member-0.keras").exists() and (tmp_path / "member-1.keras").exists()
    held_out = card["split"].split("(e.g. ")[1].split(" ...")[0].split(", ")
    assert len(held_out) == 1 and held_out[0] in {"mitdb/119", "mitdb/209", "mitdb/100", "mitdb/106"}


def test_an_unknown_record_set_is_refused(tmp_path):
    mitdb_dir()
    with pytest.raises(CommandError, match="unknown record set 'nope'"):
        call_command("train_heartbeat_record", "--config", "cnn_a05", "--records", "nope", "--output", str(tmp_path))


def test_class_weights_and_the_patient_wise_split():
    import numpy as np

    weights = rt.class_weights(np.array([0] * 100 + [1] * 4 + [2] * 25), alpha=0.5)
    assert weights[0] == 1.0 and weights[1] == pytest.approx(5.0) and weights[2] == pytest.approx(2.0)
    ids = [f"mitdb/{i}" for i in range(20)] + [f"svdb/{i}" for i in range(20)]
    train, val = rt.split_validation(ids, 0.15, seed=0)
    assert not set(train) & set(val) and set(train) | set(val) == set(ids)
    assert {v.split("/")[0] for v in val} == {"mitdb", "svdb"}


def test_card_only_writes_the_shipped_card_again_from_the_evaluation_results(tmp_path, monkeypatch):
    """A change after the model (the decision rule) re-scores the kept probabilities; the card follows
    without training, and the model file is not touched."""
    from mlmodels.management.commands import train_heartbeat_record as cmd

    shipped = cmd.ARTIFACTS_DIR / "heartbeat_record-2026.12-ctx4.json"
    card = json.loads(shipped.read_text())
    card["metrics"]["cv_all"]["classes"]["S"]["se"] = 0.01  # a stale figure
    card["targets"] = []
    (tmp_path / shipped.name).write_text(json.dumps(card))
    monkeypatch.setattr(cmd, "ARTIFACTS_DIR", tmp_path)
    call_command("train_heartbeat_record", "--card-only", "--model-version", "2026.12-ctx4", stdout=StringIO())
    fresh = json.loads((tmp_path / shipped.name).read_text())
    results = json.loads((cmd.RESULTS_DIR / "cv_blend.json").read_text())
    assert fresh["metrics"]["cv_all"]["classes"]["S"]["se"] == results["classes"]["S"]["se"]
    assert {t["target"] for t in fresh["targets"]} >= {"record-wise CV (all patients) S sensitivity"}
    assert fresh["hyperparameters"] == card["hyperparameters"] and fresh["card_updated"]
    assert "## Targets" in (tmp_path / "heartbeat_record-2026.12-ctx4.md").read_text()
    assert not list(tmp_path.glob("*.keras"))


def test_card_only_without_a_shipped_card_is_refused(tmp_path, monkeypatch):
    from mlmodels.management.commands import train_heartbeat_record as cmd

    monkeypatch.setattr(cmd, "ARTIFACTS_DIR", tmp_path)
    with pytest.raises(CommandError, match="no shipped card"):
        call_command("train_heartbeat_record", "--card-only", "--model-version", "nope")


def test_swapping_leads_exchanges_both_leads_inputs_of_two_lead_beats_only():
    import numpy as np

    from ecg.processing import context

    rng = np.random.default_rng(0)
    morph = rng.random((40, context.WINDOW, context.MORPH_CHANNELS)).astype(np.float32)
    feats = rng.random((40, context.N_FEATURES)).astype(np.float32)
    second = context.FEATURES.index("second_lead")
    feats[:, second] = 1.0
    feats[:10, second] = 0.0  # single-lead beats: nothing to swap
    m0, f0 = morph.copy(), feats.copy()
    rt.swap_leads(morph, feats, 1.0, rng)
    one = slice(context.N_RHYTHM, context.N_RHYTHM + context.N_LEAD_FEATURES)
    two = slice(context.N_RHYTHM + context.N_LEAD_FEATURES, context.N_RHYTHM + 2 * context.N_LEAD_FEATURES)
    assert np.array_equal(morph[:10], m0[:10]) and np.array_equal(feats[:10], f0[:10])
    assert np.array_equal(morph[10:], m0[10:][:, :, [2, 3, 0, 1]])
    assert np.array_equal(feats[10:, one], f0[10:, two]) and np.array_equal(feats[10:, two], f0[10:, one])
    assert np.array_equal(feats[10:, : context.N_RHYTHM], f0[10:, : context.N_RHYTHM])
    morph, feats = m0.copy(), f0.copy()
    rt.swap_leads(morph, feats, 0.5, np.random.default_rng(1))
    swapped = ~np.all(morph == m0, axis=(1, 2))
    assert 5 < swapped[10:].sum() < 25 and not swapped[:10].any()
