"""An MI training run: patient-wise repeated k-fold of transfer vs random init, threshold, card, shipping.

``manage.py train_mi`` parses its options and calls ``MiRun.run``; finished folds are kept, so a rerun
with the same run folder goes on after an interruption.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecg.datasets import paths
from ecg.processing import mi_screen
from ecg.training import mi as mt
from ecg.training.card import card_write, code_version, target_checks
from ecg.training.trainer import Log, TrainingError

if TYPE_CHECKING:
    import keras

    from ecg.datasets.mi import MiBeats, MiRecord


def default_heartbeat_model(artifacts_dir: Path) -> Path | None:
    """The newest shipped heartbeat artifact (its card names task "heartbeat")."""
    found = []
    for path in sorted(artifacts_dir.glob("heartbeat-*.keras")):
        card = path.with_suffix(".json")
        if card.exists() and json.loads(card.read_text()).get("task") == "heartbeat":
            found.append(path)
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


class MiRun:
    def __init__(self, *, log: Log, checkout: Path, cache_dir: Path, artifacts_dir: Path, ship: bool = False):
        self.log, self.checkout, self.cache_dir = log, checkout, cache_dir
        self.artifacts_dir, self.ship = artifacts_dir, ship

    def run(self, opts: dict[str, Any], run_dir: Path) -> dict[str, Any]:
        """Cross-validate, train the shipped model and write its card in ``run_dir``; the card."""
        import keras
        import numpy as np

        from ecg.datasets.mi import build_mi_dataset
        from ecg.models.architectures import load_keras2_h5, multiply_adds
        from ecg.training.trainer import configure_threads

        configure_threads(opts["threads"])
        data_dir = opts["data_dir"] or paths.data_dir()
        mi_dir = data_dir / "mi"
        if not mi_dir.exists():
            raise TrainingError(f"MI data not found at {mi_dir}; set ECG_DATA_DIR or --data-dir")
        base_path = opts["heartbeat_model"] or default_heartbeat_model(self.artifacts_dir)
        if base_path is None or not Path(base_path).exists():
            raise TrainingError("no heartbeat model: ship one to mlmodels/artifacts or give --heartbeat-model")
        run_dir.mkdir(parents=True, exist_ok=True)

        raw_records = sorted((data_dir / "ptbdb").glob("patient*/s*_re.hea"))
        raw_records = [p.with_suffix("") for p in raw_records]
        data, records = build_mi_dataset(mi_dir, opts["lead"], raw_records, cache_dir=self.cache_dir)
        raw_ptb, _ = build_mi_dataset(mi_dir, opts["lead"], raw_records, cache_dir=self.cache_dir, filtered=False)
        raw_ptb = raw_ptb.subset(raw_ptb.sources != "ptbxl")
        self.log(
            f"{len(data)} beats from {sum(r.n_beats > 0 for r in records)} records of "
            f"{len(set(data.patient_ids))} patients; MI beats {int(data.labels.sum())}, "
            f"uncertain-MI beats {int(data.uncertain.sum())}"
        )
        base = keras.models.load_model(base_path)
        seed_path = opts["seed_model"] or paths.seed_dir() / "model_MI_final.h5"
        seed_model = load_keras2_h5(seed_path) if Path(seed_path).exists() else None
        hp = mt.MiHyperParams(
            init=opts["ship_init"],
            lr=opts["lr"],
            batch_size=opts["batch_size"],
            max_epochs=opts["max_epochs"],
            patience=opts["patience"],
            augment_copies=opts["augment"],
            train_layers=opts["train_layers"],
            freeze_epochs=opts["freeze_epochs"],
            label_smoothing=opts["label_smoothing"],
        )
        hp = mt.hp_for(hp, opts["ship_init"])
        inits = tuple(i.strip() for i in opts["inits"].split(",") if i.strip())
        (run_dir / "config.json").write_text(
            json.dumps(
                {
                    "hp": asdict(hp),
                    "inits": inits,
                    "repeats": opts["repeats"],
                    "folds": opts["folds"],
                    "lead": opts["lead"],
                },
                indent=2,
            )
        )
        results = mt.run_cross_validation(
            data, base, seed_model, inits, run_dir, opts["repeats"], opts["folds"], hp, raw_ptb=raw_ptb, log=self.log
        )
        results = [r for r in results if r["repeat"] < opts["repeats"]]

        summaries = {}
        for name in inits + (("seed",) if seed_model is not None else ()):
            summaries[name] = {
                "confident_mi": mt.summarise(results, data, name, False, opts["bootstrap"]),
                "all_mi": mt.summarise(results, data, name, True, opts["bootstrap"]),
                "source_check": source_check(results, data, name),
            }
            rec = summaries[name]["confident_mi"]["recording"]
            self.log(
                f"{name}: recording roc_auc {rec['roc_auc']:.3f} {rec['roc_auc_ci95']} "
                f"spec@recall95 {rec['specificity_at_recall_95']:.3f} recall {rec['recall']:.3f} "
                f"specificity {rec['specificity']:.3f}"
            )

        # Shipped model: all confident patients, epochs = median early-stopping epoch of the folds,
        # threshold = the validation rule applied to all folds' validation recordings pooled; the
        # repeats score each patient several times, so the bound's sample size is the MI patients.
        ours = [r for r in results if r["model"] == opts["ship_init"]]
        epochs = int(np.median([r["best_epoch"] for r in ours]))
        val_scores = np.concatenate([r["val_scores"] for r in ours])
        val_labels = np.concatenate([r["val_labels"] for r in ours])
        patient_of = dict(zip(data.records.tolist(), data.patient_ids.tolist()))
        val_mi_patients = {patient_of[x] for r in ours for x, y in zip(r["val_records"], r["val_labels"]) if y == 1}
        threshold = mt.recall_bound_threshold(val_scores, val_labels, n_independent=len(val_mi_patients))
        train_all = data.subset(~data.uncertain)
        self.log(
            f"final model: {opts['ship_init']} init, {epochs} epochs on {len(set(train_all.patient_ids))} "
            f"patients; threshold {threshold:.4f} from {len(val_scores)} pooled validation recordings"
        )
        final_path = (
            run_dir / f"final-{opts['ship_init']}-{epochs}ep.keras"
        )  # a rerun with more repeats may change epochs
        if final_path.exists():
            model = keras.models.load_model(final_path)
        else:
            model, _ = mt.fit_mi(base, hp, train_all, None, seed=7, epochs=epochs)
            model.save(final_path)
        pooled = pooled_threshold_check(results, data, opts["ship_init"], threshold)

        card = self._card(
            opts,
            hp,
            model,
            seed_model,
            base_path,
            data,
            records,
            summaries,
            threshold,
            epochs,
            len(val_scores),
            pooled,
            multiply_adds,
        )
        self._write(card, model, run_dir)
        (run_dir / "summaries.json").write_text(json.dumps(summaries, indent=2))
        return card

    def _card(
        self,
        opts: dict[str, Any],
        hp: mt.MiHyperParams,
        model: keras.Model,
        seed_model: keras.Model | None,
        base_path: Path,
        data: MiBeats,
        records: list[MiRecord],
        summaries: dict[str, Any],
        threshold: float,
        epochs: int,
        n_val: int,
        pooled: dict[str, Any],
        multiply_adds: Callable[[keras.Model], int],
    ) -> dict[str, Any]:
        from ecg.constants import BEAT_FS, BEAT_LENGTH

        n_pat = {
            src: {
                lab: len({p for p, s, l in zip(data.patient_ids, data.sources, data.labels) if s == src and l == i})
                for i, lab in enumerate(("normal", "mi"))
            }
            for src in sorted(set(data.sources.tolist()))
        }
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
            "aggregation": (
                "recording score = median of the MI probabilities of its dominant, normally conducted, clean "
                "beats of lead II (ecg.processing.mi_screen); flagged when score >= threshold; not_applicable / "
                "not_assessable otherwise"
            ),
            "architecture": {
                "name": model.name,
                "base": f"heartbeat model {base_version} ({self._rel(base_path)})",
                "description": "the heartbeat model's layers up to its last hidden layer, then "
                "Dense(2, softmax) [normal, mi]",
            },
            "params": int(model.count_params()),
            "multiply_adds_per_beat": multiply_adds(model),
            "hyperparameters": asdict(hp)
            | {"final_epochs": epochs, "optimizer": "Adam", "loss": "class-balanced categorical cross-entropy"},
            "training_data": (
                f"PTB Diagnostic ECG Database 10-s excerpts (xlsx, mV, 1000 Hz) and PTB-XL 10-s records (500 Hz, "
                f"band-passed 0.5-40 Hz, z-scored) and raw PTB records, lead {opts['lead']}; PTB signals band-passed "
                f"0.5-40 Hz (4th-order Butterworth, zero phase) and z-scored like PTB-XL; R-peaks by the product's "
                f"detector, Kaggle-format beats by ecg.processing.beats.extract_beats (120 Hz, 187 values, min-max), "
                f"implausible recordings/beats dropped. {len(data)} beats of {len(set(data.patient_ids))} patients: "
                f"{json.dumps(n_pat)}. Uncertain PTB-XL MI (every MI statement 'possible', likelihood 15; "
                f"{len(uncertain)} patients) never trained on, scored as test only. Shipped model trained on all "
                f"{len(set(data.subset(~data.uncertain).patient_ids))} confident patients after the k-fold evaluation."
            ),
            "split": (
                f"{opts['repeats']} x repeated {opts['folds']}-fold split BY PATIENT, stratified by label x source "
                f"(sklearn StratifiedGroupKFold); in each fold a fifth of the training patients is held out for early "
                f"stopping and the threshold; no patient is in two of train/validation/test."
            ),
            "threshold_rule": (
                f"lower {mt.TARGET_CONFIDENCE:.0%}-confidence bound of the {1 - mt.TARGET_RECALL:.0%} quantile of the MI "
                f"validation recordings' scores (logit-normal fit, one-sided normal tolerance bound; never above the "
                f"highest threshold keeping validation recall >= {mt.TARGET_RECALL}; ecg.training.mi."
                f"recall_bound_threshold), per fold for the cross-validated figures; the shipped value is that rule on "
                f"{n_val} validation recordings pooled over all folds (each scored by a model that did not train on "
                f"it; sample size = distinct MI patients)."
            ),
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
            "command": opts["command"],
            "created": dt.date.today().isoformat(),
            "code_version": code_version(self.checkout),
        }
        card["targets"] = target_checks(card)
        card["applicability"] = [
            "Valid for lead II of resting ECGs, or lead II derived from I and III when II is absent; other leads, "
            "MLII of ambulatory recordings, leads without a standard name and recordings longer than "
            f"{mi_screen.MAX_RESTING_S / 60:.0f} minutes are not_applicable; fewer than "
            f"{mi_screen.MIN_BEATS} dominant, normally conducted, clean beats is not_assessable "
            "(ecg/processing/mi_screen.py). Measure this model with `python -m bench.mi_applicability` "
            "and add its figures here.",
        ]
        card["notes"] = [
            f"Lead {opts['lead']} is the lead the MI screen reads (derived from I and III when absent); a linear "
            "screen of all 12 leads (bench/README.md, MI model) found lead II the most informative single lead here.",
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

    def _write(self, card: dict[str, Any], model: keras.Model, run_dir: Path) -> None:
        written = card_write(card, model, run_dir, ship_to=self.artifacts_dir if self.ship else None)
        self.log(f"card written to {self._rel(written)}")
        if self.ship:
            self.log(f"shipped mi-{card['version']} to {self._rel(self.artifacts_dir)}")

    def _rel(self, path: Path) -> str:
        try:
            return str(Path(path).resolve().relative_to(self.checkout))
        except ValueError:
            return Path(path).name


def source_check(results: list[dict[str, Any]], data: MiBeats, model: str) -> dict[str, Any]:
    """Can the model's score tell the sources apart within a class? ROC AUC of score for source
    (PTB vs PTB-XL) among normal recordings and among MI recordings; ~0.5 = no source signal."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    source = dict(zip(data.records.tolist(), data.sources.tolist()))
    label = dict(zip(data.records.tolist(), data.labels.tolist()))
    uncertain = dict(zip(data.records.tolist(), data.uncertain.tolist()))
    out: dict[str, Any] = {}
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
        out[name] = {
            "roc_auc_ptb_vs_ptbxl": auc,
            "n_recordings_per_source": {"ptb": int(is_ptb.sum()), "ptbxl": int((~is_ptb).sum())},
        }
    raw_pairs = [
        (r["raw_ptb_scores"][rec], s)
        for r in results
        if r["model"] == model
        for rec, s in zip(r["test_records"], r["test_scores"])
        if rec in r.get("raw_ptb_scores", {})
    ]
    if raw_pairs:
        raw, filt = np.array(raw_pairs).T
        out["unfiltered_ptb_input"] = {
            "note": "PTB test recordings scored on unfiltered lead II (what an upload gives) vs band-passed",
            "mean_abs_score_difference": float(np.mean(np.abs(raw - filt))),
            "max_abs_score_difference": float(np.max(np.abs(raw - filt))),
            "n_recording_scores": len(raw_pairs),
        }
    return out


def pooled_threshold_check(
    results: list[dict[str, Any]], data: MiBeats, model: str, threshold: float
) -> dict[str, Any]:
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
    labels, scores = np.array(y), np.array(s)
    m = binary_metrics(labels, scores >= threshold)
    return {
        "threshold": threshold,
        "cv_test_recall": m["recall"],
        "cv_test_specificity": m["specificity"],
        "cv_test_precision": m["precision"],
        "note": "test-fold recordings of all repeats at the shipped "
        "threshold (slightly optimistic: the threshold saw validation scores of these patients from other folds)",
    }
