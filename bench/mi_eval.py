"""Bench the shipped MI model: cross-validated figures (from its card or a run), cost, and MI scores
on uploads through the product's own path.

    .venv/bin/python -m bench.mi_eval [--artifact mlmodels/artifacts/mi-<version>.keras] [--run-dir DIR]
                                      [--lead-screen]

Writes bench/results/mi.json. The patient-wise figures come from `manage.py train_mi` (the card
holds them); --run-dir re-summarises a run's folds.jsonl instead.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import DATA_DIR, REPO, SEED_DIR

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecgsite.settings")

RESULTS = REPO / "bench" / "results" / "mi.json"


def _newest_artifact() -> Path:
    found = sorted((REPO / "mlmodels" / "artifacts").glob("mi-*.keras"), key=lambda p: p.stat().st_mtime)
    if not found:
        sys.exit("no mlmodels/artifacts/mi-*.keras; train one with manage.py train_mi --ship")
    return found[-1]


def upload_scores(model, threshold: float) -> dict:
    """MI scores the app would compute: beats CSV parsed by the upload code, a PTB record through
    the reader, the product's R-peak detector and beat cut (lead II, unfiltered), mean over beats."""
    import django

    django.setup()
    from diagnostics import ingestion
    from ecg.io.readers import read_wfdb
    from ecg.models import inference
    from ecg.processing.segmenting import segment

    out = {}
    csv = SEED_DIR / "ECG_Analyzer_test.csv"
    if csv.exists():
        beats = ingestion.parse_beats(filename=csv.name, data=csv.read_bytes()).beats
        p = inference.mi_probability(inference.predict(model, beats))
        out["ECG_Analyzer_test.csv"] = {
            "beats": len(beats),
            "mi_score": float(p.mean()),
            "flagged": bool(p.mean() >= threshold),
        }
    record = DATA_DIR / "ptbdb" / "patient001" / "s0010_re"
    if record.with_suffix(".hea").exists():
        signal = read_wfdb(record)
        lead = signal.lead_name(None)
        beats, _ = segment(signal.validated(lead), signal.fs)
        p = inference.mi_probability(inference.predict(model, beats))
        out["ptbdb/patient001/s0010_re (MI patient, whole record)"] = {
            "lead": lead,
            "beats": len(beats),
            "mi_score": float(p.mean()),
            "flagged": bool(p.mean() >= threshold),
        }
    return out


def lead_screen(repeats: int = 3) -> dict:
    """Which single lead carries most MI information here? A cheap, model-independent screen:
    logistic regression on 20 principal components of the beats, the same patient-wise 5-fold
    splits, recording score = mean beat probability (confident MI vs normal)."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline

    from ecg.datasets.mi import build_mi_dataset
    from ecg.datasets.ptb import LEADS_12
    from ecg.training.mi import patient_folds, recording_scores, specificity_at_recall

    out = {}
    for lead in LEADS_12:
        data, _ = build_mi_dataset(DATA_DIR / "mi", lead=lead, cache_dir=REPO / "training-runs" / "cache")
        data = data.subset(~data.uncertain)
        label = dict(zip(data.records.tolist(), data.labels.tolist()))
        aucs, specs = [], []
        for repeat in range(repeats):
            scores: dict[str, float] = {}
            for test in patient_folds(data, 5, seed=1000 + repeat):
                is_test = np.isin(data.patient_ids, test)
                clf = make_pipeline(
                    PCA(20, random_state=0), LogisticRegression(C=0.1, max_iter=2000, class_weight="balanced")
                )
                clf.fit(data.beats[~is_test], data.labels[~is_test])
                scores.update(recording_scores(data.records[is_test], clf.predict_proba(data.beats[is_test])[:, 1]))
            y, s = np.array([label[r] for r in scores]), np.array(list(scores.values()))
            aucs.append(roc_auc_score(y, s))
            specs.append(specificity_at_recall(s, y))
        out[lead] = {
            "roc_auc": round(float(np.mean(aucs)), 4),
            "specificity_at_recall_95": round(float(np.mean(specs)), 4),
            "n_patients": len(set(data.patient_ids.tolist())),
        }
        print(f"lead {lead}: {out[lead]}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifact", type=Path, default=None)
    parser.add_argument("--run-dir", type=Path, default=None)
    parser.add_argument("--lead-screen", action="store_true", help="also screen all 12 leads (a few minutes)")
    args = parser.parse_args()

    import keras

    from ecg.evaluation.metrics import beats_per_second
    from ecg.models.architectures import load_keras2_h5, multiply_adds

    artifact = args.artifact or _newest_artifact()
    card = json.loads(artifact.with_suffix(".json").read_text())
    model = keras.models.load_model(artifact, compile=False)
    seed_path = SEED_DIR / "model_MI_final.h5"
    seed = load_keras2_h5(seed_path) if seed_path.exists() else None

    metrics = {k: v for k, v in card["metrics"].items()}
    seed_metrics = card["seed_model"].get("metrics")
    if args.run_dir:
        from ecg.datasets.mi import build_mi_dataset
        from ecg.training import mi as mt

        data, _ = build_mi_dataset(
            DATA_DIR / "mi",
            card["input"].get("lead", "II"),
            sorted(p.with_suffix("") for p in (DATA_DIR / "ptbdb").glob("patient*/s*_re.hea")),
            cache_dir=REPO / "training-runs" / "cache",
        )
        results = [json.loads(line) for line in (args.run_dir / "folds.jsonl").read_text().splitlines()]
        models = sorted({r["model"] for r in results})
        summary = {
            m: {"confident_mi": mt.summarise(results, data, m, False), "all_mi": mt.summarise(results, data, m, True)}
            for m in models
        }
        seed_metrics = summary.pop("seed", seed_metrics)
        metrics = summary

    started = time.perf_counter()
    uploads = upload_scores(model, card["threshold"])
    result = {
        "artifact": str(artifact.relative_to(REPO)),
        "version": card["version"],
        "threshold": card["threshold"],
        "operating_point": card.get("operating_point"),
        "params": int(model.count_params()),
        "multiply_adds_per_beat": multiply_adds(model),
        "beats_per_second": round(beats_per_second(model), 1),
        "seed_model": {
            "params": int(seed.count_params()) if seed else None,
            "multiply_adds_per_beat": multiply_adds(seed) if seed else None,
            "beats_per_second": round(beats_per_second(seed), 1) if seed else None,
            "metrics": seed_metrics,
        },
        "metrics": metrics,
        "uploads": uploads,
        "uploads_seconds": round(time.perf_counter() - started, 2),
        "lead_screen": lead_screen()
        if args.lead_screen
        else (json.loads(RESULTS.read_text()).get("lead_screen") if RESULTS.exists() else None),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    for name, m in [(f"ours ({k})", v) for k, v in metrics.items()] + [("seed", seed_metrics or {})]:
        rec = m.get("confident_mi", {}).get("recording") if m else None
        if rec:
            print(
                f"{name:16s} recording roc_auc {rec['roc_auc']:.3f} {_ci(rec, 'roc_auc')} "
                f"spec@recall>=0.95 {rec['specificity_at_recall_95']:.3f} {_ci(rec, 'specificity_at_recall_95')} "
                f"recall {rec['recall']:.3f} specificity {rec['specificity']:.3f} patients {rec['n_patients']}"
            )
    for name, u in uploads.items():
        print(f"upload {name}: {u['beats']} beats, MI score {u['mi_score']:.3f}, flagged {u['flagged']}")
    print(
        f"{result['multiply_adds_per_beat']:,} multiply-adds/beat, {result['beats_per_second']:,.0f} beats/s; "
        f"written {RESULTS.relative_to(REPO)}"
    )


def _ci(m: dict, key: str) -> str:
    lo, hi = m.get(f"{key}_ci95", [None, None])
    return "[n/a]" if lo is None else f"[{lo:.3f}, {hi:.3f}]"


if __name__ == "__main__":
    main()
