"""EXPERIMENT: does a second input of RR-interval features reach the inter-patient targets?

Train on MIT-BIH DS1 (validation = DS1 records 116, 124, 201, 223, as for the shipped card), test
on DS2 (de Chazal 2004; paced records excluded). The model (``bench.experiments.rr_model``) takes the
Kaggle-format beat and ``bench.experiments.rr.rr_input`` (RR features + an "RR available" flag); a random
``--mask-share`` of the training beats get the RR part masked (zeros, flag 0) each epoch, so the
same model also serves beat-file uploads, which carry no positions.

DS2 is scored three ways: RR from the reference annotation positions; RR masked; and the product
path - R-peaks from ``ecg.processing.detection.detect_r_peaks`` on the same lead, beats cut at the
detected peaks, RR from the detected peaks, each detected beat labelled by the reference beat
annotation within 150 ms (unmatched detections and missed beats are counted, not scored). The
shipped model (mlmodels/artifacts, newest heartbeat) is scored on the same beats for comparison.

    .venv/bin/python -m bench.experiments.rr_experiment            # all variants, resumable
    .venv/bin/python -m bench.experiments.rr_experiment --variants rr3local

Caches (features, detector peaks, checkpoints) go to training-runs/rr-experiment/ (git-ignored);
rerunning reuses finished runs and continues unfinished ones. Result: bench/results/rr_experiment.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import DATA_DIR, REPO

RUN_DIR = REPO / "training-runs" / "rr-experiment"
CACHE_DIR = REPO / "training-runs" / "cache"
RESULT = REPO / "bench" / "results" / "rr_experiment.json"
MATCH_S = 0.150
SEED = 42

# name -> feature columns used (others zeroed; None = all), class weights, epochs and early-stopping patience
VARIANTS: dict[str, dict] = {
    # all nine features, the shipped recipe's class weights
    "rr9": {"columns": None, "class_weight": "sqrt", "weight_cap": 3.0, "epochs": 20, "patience": 5},
    # local-rhythm ratios only (pre/local, post/local, pre/post): no per-recording median, which a
    # record dominated by S beats (232) drags to the S beats' own interval
    "rr3local": {"columns": [3, 4, 5], "class_weight": "sqrt", "weight_cap": 3.0, "epochs": 12, "patience": 4},
    # full inverse-frequency weights capped at 10x N: rare classes (S) count more
    "rr9bal": {"columns": None, "class_weight": "balanced", "weight_cap": 10.0, "epochs": 12, "patience": 4},
    # ... and dropout 0.5 on the beat trunk's features, so the RR branch must carry more
    "rr9bal_bd": {
        "columns": None,
        "class_weight": "balanced",
        "weight_cap": 10.0,
        "beat_dropout": 0.5,
        "epochs": 12,
        "patience": 4,
    },
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------- data


def annotation_beats(mitdb: Path, records: tuple[str, ...]):
    """Beats at the reference annotations (the training cache) and their RR features from the
    record's beat-annotation positions (cached in RUN_DIR)."""
    import wfdb

    from bench.experiments.rr import features_at
    from ecg.datasets.mitdb import load_mitdb
    from ecg.processing.beats import aami_index

    beats = load_mitdb(mitdb, records, cache_dir=CACHE_DIR)
    tag = hashlib.sha1(",".join(records).encode()).hexdigest()[:8]
    cached = RUN_DIR / f"features-annotations-{tag}.npz"
    if cached.exists():
        with np.load(cached) as z:
            if np.array_equal(z["r_peaks"], beats.r_peaks) and np.array_equal(z["records"], beats.records):
                return beats, z["rr"]
    rr = np.zeros((len(beats), 9), np.float32)
    for record in records:
        ann = wfdb.rdann(str(mitdb / record), "atr")
        fs = float(ann.fs) if ann.fs else 360.0
        positions = np.asarray(ann.sample)[aami_index(ann.symbol) >= 0]
        mine = beats.records == record
        rr[mine] = features_at(positions, fs, beats.r_peaks[mine])
    cached.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cached, rr=rr, r_peaks=beats.r_peaks, records=beats.records)
    return beats, rr


def match_to_reference(detected: np.ndarray, reference: np.ndarray, tolerance: int) -> np.ndarray:
    """Index into ``reference`` of each detected peak's match (nearest within ``tolerance``,
    one-to-one: a reference beat goes to its closest detection), -1 if none."""
    match = np.full(len(detected), -1, np.int64)
    if len(reference) == 0 or len(detected) == 0:
        return match
    pos = np.searchsorted(reference, detected)
    left = np.clip(pos - 1, 0, len(reference) - 1)
    right = np.clip(pos, 0, len(reference) - 1)
    nearest = np.where(np.abs(reference[left] - detected) <= np.abs(reference[right] - detected), left, right)
    dist = np.abs(reference[nearest] - detected)
    ok = dist <= tolerance
    best: dict[int, int] = {}
    for i in np.flatnonzero(ok):
        j = int(nearest[i])
        if j not in best or dist[i] < dist[best[j]]:
            best[j] = int(i)
    for j, i in best.items():
        match[i] = j
    return match


def detector_beats(mitdb: Path, records: tuple[str, ...]) -> dict:
    """The product path on ``records``: detected R-peaks, beats cut there, RR from them, labels
    from the matched reference beat annotations. Cached per record."""
    from bench.experiments.rr import features_at
    from ecg.datasets.mitdb import read_record
    from ecg.processing.beats import aami_index, extract_beats
    from ecg.processing.detection import detect_r_peaks

    out = {k: [] for k in ("beats", "rr", "labels", "records")}
    counts = {
        "reference_beats": 0,
        "detected": 0,
        "matched_beats_scored": 0,
        "unmatched_detections": 0,
        "missed_reference_beats": 0,
    }
    for record in records:
        cached = RUN_DIR / "detector" / f"{record}.npz"
        if not cached.exists():
            signal, fs, _lead, samples, symbols = read_record(mitdb, record)
            labels_all = aami_index(symbols)
            ref = samples[labels_all >= 0]
            ref_labels = labels_all[labels_all >= 0]
            peaks = detect_r_peaks(signal, fs)
            beats, kept = extract_beats(signal, fs, peaks)
            rr = features_at(peaks, fs, kept)
            match = match_to_reference(kept, ref, int(round(MATCH_S * fs)))
            all_match = match_to_reference(peaks, ref, int(round(MATCH_S * fs)))
            cached.parent.mkdir(parents=True, exist_ok=True)
            np.savez(
                cached,
                beats=beats[match >= 0],
                rr=rr[match >= 0],
                labels=ref_labels[match[match >= 0]],
                n_reference=len(ref),
                n_detected=len(peaks),
                n_unmatched=int((all_match < 0).sum()),
                n_missed=len(ref) - int((all_match >= 0).sum()),
            )
        with np.load(cached) as z:
            out["beats"].append(z["beats"])
            out["rr"].append(z["rr"])
            out["labels"].append(z["labels"])
            out["records"].append(np.full(len(z["labels"]), record))
            counts["reference_beats"] += int(z["n_reference"])
            counts["detected"] += int(z["n_detected"])
            counts["matched_beats_scored"] += len(z["labels"])
            counts["unmatched_detections"] += int(z["n_unmatched"])
            counts["missed_reference_beats"] += int(z["n_missed"])
    data = {k: np.concatenate(v) for k, v in out.items()}
    data["counts"] = counts
    return data


# ---------------------------------------------------------------- training


def select_columns(rr: np.ndarray, columns: list[int] | None) -> np.ndarray:
    if columns is None:
        return rr
    kept = np.zeros_like(rr)
    kept[:, columns] = rr[:, columns]
    return kept


def make_dataset(beats, rr, labels, weights, batch_size: int, mask_share: float, seed: int):
    import keras

    from bench.experiments.rr import rr_input

    class MaskedRR(keras.utils.PyDataset):
        """Shuffled batches; a fresh random ``mask_share`` of beats has its RR masked each epoch."""

        def __init__(self):
            super().__init__()
            self.epoch = 0
            self._draw()

        def _draw(self):
            rng = np.random.default_rng(seed + self.epoch)
            self.order = rng.permutation(len(labels))
            self.available = rng.random(len(labels)) >= mask_share

        def __len__(self):
            return math.ceil(len(labels) / batch_size)

        def __getitem__(self, i):
            idx = self.order[i * batch_size : (i + 1) * batch_size]
            x = {"beat": beats[idx][..., None], "rr": rr_input(rr[idx], self.available[idx])}
            return x, labels[idx], weights[idx]

        def on_epoch_end(self):
            self.epoch += 1
            self._draw()

    return MaskedRR()


def predict(model, beats: np.ndarray, rr_in: np.ndarray | None) -> np.ndarray:
    if rr_in is None:  # the shipped single-input model
        return model.predict(beats[..., None], batch_size=1024, verbose=0).argmax(axis=1)
    return model.predict({"beat": beats[..., None], "rr": rr_in}, batch_size=1024, verbose=0).argmax(axis=1)


def train_variant(name: str, spec: dict, train, train_rr, val, val_rr, epochs: int, patience: int, mask_share: float):
    import keras

    from bench.experiments.rr import rr_input
    from bench.experiments.rr_model import residual_rr_cnn
    from ecg.evaluation.metrics import classification_metrics
    from ecg.training.heartbeat import class_weights
    from ecg.training.trainer import set_seed

    run = RUN_DIR / name
    run.mkdir(parents=True, exist_ok=True)
    best, done = run / "best.keras", run / "done.json"
    if best.exists() and done.exists():
        log(f"{name}: already trained ({done.read_text()}), reusing")
        return keras.models.load_model(best), json.loads(done.read_text())
    set_seed(SEED)
    weights = class_weights(train.labels, spec["class_weight"], spec["weight_cap"])
    model = residual_rr_cnn(width=28, beat_dropout=spec.get("beat_dropout", 0.0))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", weighted_metrics=[])
    tr_rr = select_columns(train_rr, spec["columns"])
    va_rr = select_columns(val_rr, spec["columns"])
    data = make_dataset(
        train.beats, tr_rr, train.labels, weights[train.labels].astype(np.float32), 256, mask_share, SEED
    )
    # Validation: every validation beat twice, with its RR and masked, so early stopping weighs both paths.
    vb = np.concatenate([val.beats, val.beats])[..., None]
    vr = np.concatenate([rr_input(va_rr, True), rr_input(va_rr, False)])
    vl = np.concatenate([val.labels, val.labels])
    validation = ({"beat": vb, "rr": vr}, vl, weights[vl].astype(np.float32))

    class Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            parts = []
            for tag, r in (("rr", rr_input(va_rr, True)), ("masked", rr_input(va_rr, False))):
                m = classification_metrics(val.labels, predict(self.model, val.beats, r))
                sens = " ".join(
                    f"{c}={m['per_class'][c]['sensitivity']:.2f}/{(m['per_class'][c]['ppv'] or 0):.2f}" for c in "NSV"
                )
                parts.append(f"{tag}: F1={m['macro_f1_nsvf']:.3f} {sens}")
            log(
                f"{name} epoch {epoch + 1} loss={logs.get('loss', math.nan):.4f} "
                f"val_loss={logs.get('val_loss', math.nan):.4f} | " + " | ".join(parts)
            )

    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(run / "backup"), delete_checkpoint=False),
        keras.callbacks.ModelCheckpoint(str(best), monitor="val_loss", save_best_only=True),
        stopper,
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.3, patience=2, min_lr=1e-5),
        keras.callbacks.CSVLogger(str(run / "history.csv"), append=True),
        Progress(),
    ]
    start = time.time()
    model.fit(data, validation_data=validation, epochs=epochs, verbose=0, callbacks=callbacks)
    info = {
        "epochs_max": epochs,
        "stopped_early": bool(stopper.stopped_epoch > 0),
        "stopped_epoch": int(stopper.stopped_epoch),
        "train_seconds": round(time.time() - start, 1),
        "patience": patience,
        "mask_share": mask_share,
    }
    done.write_text(json.dumps(info))
    return keras.models.load_model(best), info


# ---------------------------------------------------------------- report


def summary(m: dict) -> dict:
    pc = m["per_class"]
    return {
        "accuracy": m["accuracy"],
        "macro_f1_nsvf": m["macro_f1_nsvf"],
        "S_se": pc["S"]["sensitivity"],
        "S_ppv": pc["S"]["ppv"],
        "V_se": pc["V"]["sensitivity"],
        "V_ppv": pc["V"]["ppv"],
        "targets_met": {
            "S_se>=0.80": (pc["S"]["sensitivity"] or 0) >= 0.80,
            "S_ppv>=0.50": (pc["S"]["ppv"] or 0) >= 0.50,
            "V_se>=0.93": (pc["V"]["sensitivity"] or 0) >= 0.93,
            "V_ppv>=0.90": (pc["V"]["ppv"] or 0) >= 0.90,
        },
    }


def s_by_record(labels: np.ndarray, pred: np.ndarray, records: np.ndarray, minimum: int = 20) -> dict:
    """Where each record's S beats went (records with ``minimum`` or more S beats)."""
    out = {}
    for record in np.unique(records[labels == 1]):
        sel = (records == record) & (labels == 1)
        if sel.sum() >= minimum:
            out[str(record)] = {
                "S_beats": int(sel.sum()),
                **{f"called_{c}": int((pred[sel] == i).sum()) for i, c in enumerate("NSVFQ")},
            }
    return out


def fmt(v):
    return "n/a" if v is None else f"{100 * v:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--epochs", type=int, default=None, help="default: the variant's")
    parser.add_argument("--patience", type=int, default=None, help="default: the variant's")
    parser.add_argument("--mask-share", type=float, default=0.3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from ecg.training.trainer import configure_threads

    configure_threads(args.threads)
    import keras

    from bench.experiments.rr import RR_FEATURES, rr_input
    from ecg.datasets.mitdb import DS1, DS2
    from ecg.evaluation.metrics import classification_metrics, false_positive_sources
    from ecg.training.heartbeat import DS1_VALIDATION, inter_patient_split

    mitdb = args.data_dir / "mitdb"
    if not (mitdb / "100.hea").exists():
        sys.exit(f"MIT-BIH not found in {mitdb} (use --data-dir or ECG_DATA_DIR)")

    log("annotation beats + RR features")
    ds1, ds1_rr = annotation_beats(mitdb, DS1)
    ds2, ds2_rr = annotation_beats(mitdb, DS2)
    is_val = np.isin(ds1.records, DS1_VALIDATION)
    train, val = inter_patient_split(ds1, DS1_VALIDATION)
    train_rr, val_rr = ds1_rr[~is_val], ds1_rr[is_val]
    log(f"train {len(train)} beats, validation {len(val)}, DS2 {len(ds2)}")
    log("detector path on DS2")
    det = detector_beats(mitdb, DS2)
    log(f"detector: {det['counts']}")

    results = json.loads(RESULT.read_text()) if RESULT.exists() else {}
    results.update(
        {
            "protocol": "inter-patient: train MIT-BIH DS1 minus validation records "
            f"{', '.join(DS1_VALIDATION)}; test DS2 (de Chazal 2004, paced records excluded)",
            "rr_features": list(RR_FEATURES),
            "mask_share": args.mask_share,
            "seed": SEED,
            "detector_path": {"match_tolerance_s": MATCH_S, **det["counts"]},
            "command": "python -m bench.experiments.rr_experiment",
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }
    )
    results.setdefault("variants", {})

    shipped_path = sorted((REPO / "mlmodels" / "artifacts").glob("heartbeat-*.keras"), key=lambda p: p.stat().st_mtime)[
        -1
    ]
    shipped = keras.models.load_model(shipped_path)
    results["shipped"] = {"model": shipped_path.name}
    for tag, beats, labels in (("annotations", ds2.beats, ds2.labels), ("detector", det["beats"], det["labels"])):
        pred = predict(shipped, beats, None)
        m = classification_metrics(labels, pred)
        records = ds2.records if tag == "annotations" else det["records"]
        results["shipped"][tag] = {
            "summary": summary(m),
            "metrics": m,
            "S_beats_by_record": s_by_record(labels, pred, records),
        }
        log(f"shipped on DS2 ({tag}): {summary(m)}")

    for name in args.variants:
        spec = VARIANTS[name]
        model, info = train_variant(
            name,
            spec,
            train,
            train_rr,
            val,
            val_rr,
            args.epochs or spec["epochs"],
            args.patience or spec["patience"],
            args.mask_share,
        )
        entry = {
            "spec": spec,
            "training": info,
            "parameters": int(model.count_params()),
            "command": f"python -m bench.experiments.rr_experiment --variants {name} --epochs {info['epochs_max']} "
            f"--patience {info['patience']} --mask-share {info['mask_share']}",
        }
        cases = (
            (
                "rr_annotations",
                ds2.beats,
                rr_input(select_columns(ds2_rr, spec["columns"]), True),
                ds2.labels,
                ds2.records,
            ),
            ("rr_masked", ds2.beats, rr_input(ds2_rr, False), ds2.labels, ds2.records),
            (
                "rr_detector",
                det["beats"],
                rr_input(select_columns(det["rr"], spec["columns"]), True),
                det["labels"],
                det["records"],
            ),
        )
        for tag, beats, rr_in, labels, records in cases:
            pred = predict(model, beats, rr_in)
            m = classification_metrics(labels, pred)
            entry[tag] = {
                "summary": summary(m),
                "metrics": m,
                "false_positive_sources": false_positive_sources(labels, pred, records),
                "S_beats_by_record": s_by_record(labels, pred, records),
            }
            s = summary(m)
            log(
                f"{name} DS2 {tag}: acc {fmt(s['accuracy'])} S {fmt(s['S_se'])}/{fmt(s['S_ppv'])} "
                f"V {fmt(s['V_se'])}/{fmt(s['V_ppv'])} macroF1 {s['macro_f1_nsvf']:.3f}"
            )
        results["variants"][name] = entry
        RESULT.parent.mkdir(parents=True, exist_ok=True)
        RESULT.write_text(json.dumps(results, indent=1) + "\n")
    RESULT.write_text(json.dumps(results, indent=1) + "\n")
    log(f"wrote {RESULT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
