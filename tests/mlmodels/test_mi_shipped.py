"""The shipped MI artifact: its card, registration by the run command, and MI scores for uploads."""

import json
from pathlib import Path

import pytest

from tests.data import DATA_DIR, require, seed_dir

ARTIFACTS = Path(__file__).resolve().parents[2] / "mlmodels" / "artifacts"


def _cards() -> list[Path]:
    return sorted(ARTIFACTS.glob("mi-*.json"))


@pytest.mark.parametrize("card_path", _cards(), ids=lambda p: p.stem)
def test_shipped_mi_artifact_matches_its_card(card_path):
    import keras

    from ecg.models.architectures import multiply_adds

    card = json.loads(card_path.read_text())
    model = keras.models.load_model(card_path.with_suffix(".keras"), compile=False)
    assert card["task"] == "mi" and card["class_labels"] == ["normal", "mi"]
    assert card["input"]["length"] == 187 and card["input"]["fs"] == 120
    assert model.input_shape == (None, 187, 1) and model.output_shape == (None, 2)
    assert 0 < card["threshold"] < 1
    assert card["params"] == model.count_params() and card["multiply_adds_per_beat"] == multiply_adds(model)
    rec = card["metrics"]["transfer"]["confident_mi"]["recording"]
    for key in ("recall", "specificity", "precision", "roc_auc"):
        assert 0 <= rec[key] <= 1 and len(rec[f"{key}_ci95"]) == 2
    assert rec["n_patients"]["mi"] > 0 and rec["n_patients"]["normal"] > 0
    assert card["seed_model"]["metrics"]["confident_mi"]["recording"]["n_patients"] == rec["n_patients"]
    assert card["command"].startswith("python manage.py train_mi")
    assert card_path.with_suffix(".md").read_text().startswith(f"# MI model {card['version']}")


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.skipif(not _cards(), reason="no MI model shipped yet")
def test_uploads_get_mi_scores_from_the_shipped_model(patient_a, staff_a):
    from django.core.management import call_command

    from diagnostics import ingestion, services
    from diagnostics.signal_uploads import parse_signal_upload
    from mlmodels.models import ModelVersion

    call_command("register_bundled_models")
    mi = ModelVersion.objects.get(task="mi", is_active=True)
    card = json.loads(_cards()[-1].read_text()) if len(_cards()) == 1 else None
    if card:
        assert mi.version == card["version"] and mi.threshold == pytest.approx(card["threshold"])

    csv = seed_dir() / "ECG_Analyzer_test.csv"
    data = csv.read_bytes()
    parsed = ingestion.parse_beats(filename=csv.name, data=data)
    beats_upload = services.recording_submit(
        user=staff_a, patient=patient_a, parsed=parsed, data=data, filename=csv.name
    )
    record = require(DATA_DIR / "ptbdb" / "patient001" / "s0010_re.hea", "raw PTB record patient001")
    files = {p.name: p.read_bytes() for p in (record, record.with_suffix(".dat"), record.with_suffix(".xyz"))}
    parsed, data, name = parse_signal_upload(files, fs=None, lead=None)
    assert parsed.lead.lower() == "ii"
    signal_upload = services.recording_submit(user=staff_a, patient=patient_a, parsed=parsed, data=data, filename=name)
    for recording, n_beats in ((beats_upload, 100), (signal_upload, None)):
        assert services.recording_classify(recording_id=recording.pk, claim_token="t") == "done"
        recording.refresh_from_db()
        diagnosis = recording.diagnosis
        assert diagnosis.mi_model == mi and diagnosis.mi_threshold == pytest.approx(mi.threshold)
        assert 0 <= diagnosis.mi_score <= 1 and diagnosis.mi_flag == (diagnosis.mi_score >= mi.threshold)
        assert diagnosis.beat_count == (n_beats or diagnosis.beat_count) > 10
    screen = signal_upload.diagnosis  # patient001: MI, twelve leads, screened in lead ii and flagged
    assert (screen.mi_status, screen.mi_lead, screen.mi_flag) == ("screened", "ii", True), screen.mi_reason
    assert screen.mi_beats_used >= 40 and len(screen.mi_scored_beats) == screen.mi_beats_used
