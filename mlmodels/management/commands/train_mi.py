"""Train and evaluate the MI screening model (patient-wise repeated k-fold), optionally ship it.

    python manage.py train_mi --ship

Resumable: rerun the same command (same --output) after an interruption; finished folds are kept.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

REPO_ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS_DIR = REPO_ROOT / "mlmodels" / "artifacts"
CACHE_DIR = REPO_ROOT / "training-runs" / "cache"


def _data_dir() -> Path:
    return Path(os.environ.get("ECG_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))


def _seed_dir() -> Path:
    return Path(os.environ.get("ECG_SEED_DIR", REPO_ROOT.parent / "shared" / "seed"))


def _code_version() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _rel(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return Path(path).name


def default_heartbeat_model() -> Path | None:
    """The newest shipped heartbeat artifact (its card names task "heartbeat")."""
    found = []
    for path in sorted(ARTIFACTS_DIR.glob("heartbeat-*.keras")):
        card = path.with_suffix(".json")
        if card.exists() and json.loads(card.read_text()).get("task") == "heartbeat":
            found.append(path)
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


class Command(BaseCommand):
    help = "Train the MI model on PTB + PTB-XL beats: transfer vs random init, patient-wise k-fold, threshold."

    def add_arguments(self, parser):
        parser.add_argument("--heartbeat-model", type=Path, default=None,
                            help="base .keras for transfer (default: newest mlmodels/artifacts/heartbeat-*.keras)")
        parser.add_argument("--data-dir", type=Path, default=None, help="default: $ECG_DATA_DIR or ../shared/data")
        parser.add_argument("--seed-model", type=Path, default=None, help="seed MI .h5 (default: $ECG_SEED_DIR)")
        parser.add_argument("--lead", default="II")
        parser.add_argument("--repeats", type=int, default=3)
        parser.add_argument("--folds", type=int, default=5)
        parser.add_argument("--inits", default="transfer,random")
        parser.add_argument("--ship-init", default="transfer", help="init of the shipped model")
        parser.add_argument("--lr", type=float, default=5e-4)
        parser.add_argument("--batch-size", type=int, default=64)
        parser.add_argument("--max-epochs", type=int, default=40)
        parser.add_argument("--patience", type=int, default=8)
        parser.add_argument("--augment", type=int, default=0, help="extra jittered copies per training beat")
        parser.add_argument("--train-layers", choices=["all", "head"], default="all",
                            help="head = keep the transferred layers frozen (random init always trains all)")
        parser.add_argument("--freeze-epochs", type=int, default=0, help="head-only epochs before fine-tuning all")
        parser.add_argument("--label-smoothing", type=float, default=0.0)
        parser.add_argument("--output", type=Path, default=None, help="run dir (default training-runs/mi-<version>)")
        parser.add_argument("--model-version", dest="model_version", default="2026.11-mi1")
        parser.add_argument("--ship", action="store_true", help="copy the model and card to mlmodels/artifacts")
        parser.add_argument("--threads", type=int, default=1)
        parser.add_argument("--bootstrap", type=int, default=1000)

    def log(self, message: str) -> None:
        self.stdout.write(f"[{dt.datetime.now():%H:%M:%S}] {message}")
        self.stdout.flush()

    def handle(self, *args, **opts):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras
        import numpy as np

        from ecg.training import mi as mt
        from ecg.models.architectures import load_keras2_h5, multiply_adds
        from ecg.datasets.mi import build_mi_dataset
        from ecg.training.heartbeat import configure_threads

        configure_threads(opts["threads"])
        data_dir = opts["data_dir"] or _data_dir()
        mi_dir = data_dir / "mi"
        if not mi_dir.exists():
            raise CommandError(f"MI data not found at {mi_dir}; set ECG_DATA_DIR or --data-dir")
        base_path = opts["heartbeat_model"] or default_heartbeat_model()
        if base_path is None or not Path(base_path).exists():
            raise CommandError("no heartbeat model: ship one to mlmodels/artifacts or give --heartbeat-model")
        run_dir: Path = opts["output"] or REPO_ROOT / "training-runs" / f"mi-{opts['model_version']}"
        run_dir.mkdir(parents=True, exist_ok=True)

        raw_records = sorted((data_dir / "ptbdb").glob("patient*/s*_re.hea"))
        raw_records = [p.with_suffix("") for p in raw_records]
        data, records = build_mi_dataset(mi_dir, opts["lead"], raw_records, cache_dir=CACHE_DIR)
        raw_ptb, _ = build_mi_dataset(mi_dir, opts["lead"], raw_records, cache_dir=CACHE_DIR, filtered=False)
        raw_ptb = raw_ptb.subset(raw_ptb.sources != "ptbxl")
        self.log(f"{len(data)} beats from {sum(r.n_beats > 0 for r in records)} records of "
                 f"{len(set(data.patient_ids))} patients; MI beats {int(data.labels.sum())}, "
                 f"uncertain-MI beats {int(data.uncertain.sum())}")
        base = keras.models.load_model(base_path)
        seed_path = opts["seed_model"] or _seed_dir() / "model_MI_final.h5"
        seed_model = load_keras2_h5(seed_path) if Path(seed_path).exists() else None
        hp = mt.MiHyperParams(init=opts["ship_init"], lr=opts["lr"], batch_size=opts["batch_size"],
                              max_epochs=opts["max_epochs"], patience=opts["patience"],
                              augment_copies=opts["augment"], train_layers=opts["train_layers"],
                              freeze_epochs=opts["freeze_epochs"], label_smoothing=opts["label_smoothing"])
        hp = mt.hp_for(hp, opts["ship_init"])
        inits = tuple(i.strip() for i in opts["inits"].split(",") if i.strip())
        (run_dir / "config.json").write_text(json.dumps({"hp": asdict(hp), "inits": inits, "repeats": opts["repeats"],
                                                          "folds": opts["folds"], "lead": opts["lead"]}, indent=2))
        results = mt.run_cross_validation(data, base, seed_model, inits, run_dir, opts["repeats"], opts["folds"],
                                          hp, raw_ptb=raw_ptb, log=self.log)
        results = [r for r in results if r["repeat"] < opts["repeats"]]

        summaries = {}
        for name in inits + (("seed",) if seed_model is not None else ()):
            summaries[name] = {
                "confident_mi": mt.summarise(results, data, name, False, opts["bootstrap"]),
                "all_mi": mt.summarise(results, data, name, True, opts["bootstrap"]),
                "source_check": source_check(results, data, name),
            }
            rec = summaries[name]["confident_mi"]["recording"]
            self.log(f"{name}: recording roc_auc {rec['roc_auc']:.3f} {rec['roc_auc_ci95']} "
                     f"spec@recall95 {rec['specificity_at_recall_95']:.3f} recall {rec['recall']:.3f} "
                     f"specificity {rec['specificity']:.3f}")

        # Shipped model: all confident patients, epochs = median early-stopping epoch of the folds,
        # threshold = the validation rule applied to all folds' validation recordings pooled.
        ours = [r for r in results if r["model"] == opts["ship_init"]]
        epochs = int(np.median([r["best_epoch"] for r in ours]))
        val_scores = np.concatenate([r["val_scores"] for r in ours])
        val_labels = np.concatenate([r["val_labels"] for r in ours])
        threshold = mt.choose_threshold(val_scores, val_labels)
        train_all = data.subset(~data.uncertain)
        self.log(f"final model: {opts['ship_init']} init, {epochs} epochs on {len(set(train_all.patient_ids))} "
                 f"patients; threshold {threshold:.4f} from {len(val_scores)} pooled validation recordings")
        final_path = run_dir / f"final-{opts['ship_init']}-{epochs}ep.keras"  # a rerun with more repeats may change epochs
        if final_path.exists():
            model = keras.models.load_model(final_path)
        else:
            model, _ = mt.fit_mi(base, hp, train_all, None, seed=7, epochs=epochs)
            model.save(final_path)
        pooled = pooled_threshold_check(results, data, opts["ship_init"], threshold)

        card = self._card(opts, hp, model, seed_model, base_path, data, records, summaries, threshold,
                          epochs, len(val_scores), pooled, multiply_adds)
        self._write(card, model, run_dir, opts["ship"])
        (run_dir / "summaries.json").write_text(json.dumps(summaries, indent=2))
        return None

    def _card(self, opts, hp, model, seed_model, base_path, data, records, summaries, threshold, epochs,
              n_val, pooled, multiply_adds) -> dict:
        from ecg.constants import BEAT_FS, BEAT_LENGTH
        from ecg.training.mi_card import target_checks

        n_pat = {src: {lab: len({p for p, s, l in zip(data.patient_ids, data.sources, data.labels)
                                 if s == src and l == i}) for i, lab in enumerate(("normal", "mi"))}
                 for src in sorted(set(data.sources.tolist()))}
        uncertain = sorted({p for p, u in zip(data.patient_ids.tolist(), data.uncertain.tolist()) if u})
        dropped = [asdict(r) for r in records if r.n_beats == 0]
        base_card = Path(base_path).with_suffix(".json")
        base_version = json.loads(base_card.read_text()).get("version") if base_card.exists() else Path(base_path).stem
        card = {
            "task": "mi",
            "version": opts["model_version"],
            "class_labels": ["normal", "mi"],
            "input": {"length": BEAT_LENGTH, "fs": int(BEAT_FS), "lead": opts["lead"]},
            "threshold": round(float(threshold), 6),
            "aggregation": "recording score = mean of its beats' MI probabilities; flagged when score >= threshold",
            "architecture": {"name": model.name, "base": f"heartbeat model {base_version} ({_rel(base_path)})",
                             "description": "the heartbeat model's layers up to its last hidden layer, then "
                                            "Dense(2, softmax) [normal, mi]"},
            "params": int(model.count_params()),
            "multiply_adds_per_beat": multiply_adds(model),
            "hyperparameters": asdict(hp) | {"final_epochs": epochs, "optimizer": "Adam",
                                             "loss": "class-balanced categorical cross-entropy"},
            "training_data": (
                f"PTB Diagnostic ECG Database 10-s excerpts (xlsx, mV, 1000 Hz) and PTB-XL 10-s records (500 Hz, "
                f"band-passed 0.5-40 Hz, z-scored) and raw PTB records, lead {opts['lead']}; PTB signals band-passed "
                f"0.5-40 Hz (4th-order Butterworth, zero phase) and z-scored like PTB-XL; R-peaks by the product's "
                f"detector, Kaggle-format beats by ecg.processing.beats.extract_beats (120 Hz, 187 values, min-max), "
                f"implausible recordings/beats dropped. {len(data)} beats of {len(set(data.patient_ids))} patients: "
                f"{json.dumps(n_pat)}. Uncertain PTB-XL MI (every MI statement 'possible', likelihood 15; "
                f"{len(uncertain)} patients) never trained on, scored as test only. Shipped model trained on all "
                f"{len(set(data.subset(~data.uncertain).patient_ids))} confident patients after the k-fold evaluation."),
            "split": (
                f"{opts['repeats']} x repeated {opts['folds']}-fold split BY PATIENT, stratified by label x source "
                f"(sklearn StratifiedGroupKFold); in each fold a fifth of the training patients is held out for early "
                f"stopping and the threshold; no patient is in two of train/validation/test."),
            "threshold_rule": (
                f"highest threshold keeping recording-level recall >= {mt_target()} on validation recordings; the "
                f"shipped value is that rule on {n_val} validation recordings pooled over all folds (each scored "
                f"by a model that did not train on it)."),
            "operating_point": pooled,
            "metrics": {name: s for name, s in summaries.items() if name != "seed"},
            "seed_model": {
                "file": "model_MI_final.h5 (seed project, Keras 2.2.5, loaded with load_keras2_h5)",
                "metrics": summaries.get("seed"),
                "multiply_adds_per_beat": multiply_adds(seed_model) if seed_model is not None else None,
                "caveat": "Same test beats of the same test patients. The seed was trained on Kaggle's PTB beats of "
                          "all 290 PTB subjects, which include our PTB patients: its PTB-source figures are on data "
                          "it has seen; its PTB-XL figures are on data it never saw. Its threshold is chosen by the "
                          "same validation rule on the same validation patients.",
            },
            "dropped_records": dropped,
            "command": "python manage.py train_mi " + shlex.join(sys.argv[2:]),
            "created": dt.date.today().isoformat(),
            "code_version": _code_version(),
        }
        card["targets"] = target_checks(card)
        card["notes"] = [
            f"Lead {opts['lead']} is the lead the app analyses by default (MLII, else II); a linear screen of all "
            "12 leads (bench/README.md, MI model) found lead II the most informative single lead here.",
            "Harmonisation: PTB signals get PTB-XL's 0.5-40 Hz band-pass and z-score; per-beat min-max scaling "
            "removes units. Within each class the recording score does not separate PTB from PTB-XL (source_check "
            "ROC AUC near 0.5 for our model). Uploads are not band-passed by the app: the unfiltered-input line "
            "of the source check gives the score change that causes on PTB test recordings.",
            "Uncertain MI: PTB-XL records whose every MI statement has likelihood 15 ('possible') are never "
            "trained on or used for thresholds; they are scored as test patients and reported separately "
            "(all_mi tables).",
            "The PTB excerpt patient248_s0481_re is excluded: its sheet does not start where its header says.",
            "Recording-level ROC AUC pools the five fold models of a repeat; per-fold (single model) figures are "
            "in roc_auc_mean_within_fold.",
        ]
        return card

    def _write(self, card: dict, model, run_dir: Path, ship: bool) -> None:
        from ecg.training.mi_card import render_markdown

        name = f"mi-{card['version']}"
        model.save(run_dir / f"{name}.keras")
        (run_dir / f"{name}.json").write_text(json.dumps(card, indent=2))
        (run_dir / f"{name}.md").write_text(render_markdown(card))
        self.log(f"card written to {_rel(run_dir / (name + '.json'))}")
        if ship:
            ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
            for suffix in (".keras", ".json", ".md"):
                shutil.copyfile(run_dir / f"{name}{suffix}", ARTIFACTS_DIR / f"{name}{suffix}")
            self.log(f"shipped {name} to {_rel(ARTIFACTS_DIR)}")


def mt_target() -> float:
    from ecg.training.mi import TARGET_RECALL

    return TARGET_RECALL


def source_check(results: list[dict], data, model: str) -> dict:
    """Can the model's score tell the sources apart within a class? ROC AUC of score for source
    (PTB vs PTB-XL) among normal recordings and among MI recordings; ~0.5 = no source signal."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    source = dict(zip(data.records.tolist(), data.sources.tolist()))
    label = dict(zip(data.records.tolist(), data.labels.tolist()))
    uncertain = dict(zip(data.records.tolist(), data.uncertain.tolist()))
    out = {}
    for lab, name in ((0, "normal"), (1, "mi")):
        recs, scores = [], []
        for r in results:
            if r["model"] != model:
                continue
            for rec, s in zip(r["test_records"], r["test_scores"]):
                if label[rec] == lab and not uncertain[rec]:
                    recs.append(rec)
                    scores.append(s)
        is_ptb = np.array([source[x] != "ptbxl" for x in recs])
        auc = float(roc_auc_score(is_ptb, scores)) if 0 < is_ptb.sum() < len(is_ptb) else None
        out[name] = {"roc_auc_ptb_vs_ptbxl": auc, "n_recordings_per_source": {
            "ptb": int(is_ptb.sum()), "ptbxl": int((~is_ptb).sum())}}
    raw_pairs = [(r["raw_ptb_scores"][rec], s) for r in results if r["model"] == model
                 for rec, s in zip(r["test_records"], r["test_scores"]) if rec in r.get("raw_ptb_scores", {})]
    if raw_pairs:
        raw, filt = np.array(raw_pairs).T
        out["unfiltered_ptb_input"] = {
            "note": "PTB test recordings scored on unfiltered lead II (what an upload gives) vs band-passed",
            "mean_abs_score_difference": float(np.mean(np.abs(raw - filt))),
            "max_abs_score_difference": float(np.max(np.abs(raw - filt))),
            "n_recording_scores": len(raw_pairs)}
    return out


def pooled_threshold_check(results: list[dict], data, model: str, threshold: float) -> dict:
    """Recording-level recall/specificity on the test folds at the shipped threshold (pooled repeats)."""
    import numpy as np

    from ecg.training.mi import binary_metrics

    label = dict(zip(data.records.tolist(), data.labels.tolist()))
    uncertain = dict(zip(data.records.tolist(), data.uncertain.tolist()))
    y, s = [], []
    for r in results:
        if r["model"] != model:
            continue
        for rec, score in zip(r["test_records"], r["test_scores"]):
            if not uncertain[rec]:
                y.append(label[rec])
                s.append(score)
    y, s = np.array(y), np.array(s)
    m = binary_metrics(y, s >= threshold)
    return {"threshold": threshold, "cv_test_recall": m["recall"], "cv_test_specificity": m["specificity"],
            "cv_test_precision": m["precision"], "note": "test-fold recordings of all repeats at the shipped "
            "threshold (slightly optimistic: the threshold saw validation scores of these patients from other folds)"}
