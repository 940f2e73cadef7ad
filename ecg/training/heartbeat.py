"""Training the heartbeat classifier: splits, class weighting, resumable fitting."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import keras
import numpy as np
from sklearn.model_selection import train_test_split

from ecg.constants import AAMI_CLASSES, BEAT_FS, BEAT_LENGTH
from ecg.datasets import BeatSet
from ecg.evaluation.metrics import classification_metrics, predict_classes
from ecg.models.architectures import residual_cnn, seed_cnn
from ecg.processing.beats import min_max
from ecg.training.trainer import Log, model_input, set_seed

# DS1 records held out (whole) for early stopping and model selection in the inter-patient
# protocol: together they hold about a quarter of DS1's S and V beats, so validation sees the
# classes that matter, while 209 (S) and 208 (V, F) stay in training.
DS1_VALIDATION: tuple[str, ...] = ("116", "124", "201", "223")


@dataclass(frozen=True)
class HyperParams:
    arch: str = "residual"
    lr: float = 1e-3
    batch_size: int = 250
    width: int = 24
    dropout: float = 0.0
    class_weight: str = "sqrt"  # none | sqrt | balanced
    weight_cap: float = 10.0
    patience: int = 6
    augment: bool = False

    def with_(self, **changes: Any) -> "HyperParams":
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_model(hp: HyperParams, n_outputs: int = len(AAMI_CLASSES)) -> keras.Model:
    if hp.arch == "seed":
        model = seed_cnn(n_outputs)
    elif hp.arch == "residual":
        model = residual_cnn(n_outputs, width=hp.width, dropout=hp.dropout)
    else:
        raise ValueError(f"unknown architecture {hp.arch!r}")
    model.compile(
        optimizer=keras.optimizers.Adam(hp.lr),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        weighted_metrics=[],
    )
    return model


def class_weights(labels: np.ndarray, mode: str, cap: float, n_classes: int = len(AAMI_CLASSES)) -> np.ndarray:
    """Per-class loss weight, normalised so the average beat weighs 1.

    "balanced" = inverse class frequency, "sqrt" = its square root (softer: rare classes count more
    without letting the handful of DS1 Q beats dominate), both capped at ``cap`` x the N weight.
    """
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    if mode == "none":
        weights = np.ones(n_classes)
    else:
        inverse = np.where(counts > 0, counts.sum() / np.maximum(counts, 1), 0.0)
        weights = np.sqrt(inverse) if mode == "sqrt" else inverse
        weights = np.minimum(weights, cap * weights[0])
    weights = weights / (weights[labels].mean() if len(labels) else 1.0)
    return weights


def inter_patient_split(
    train: BeatSet, validation_records: tuple[str, ...] = DS1_VALIDATION
) -> tuple[BeatSet, BeatSet]:
    """Carve validation from the training records BY RECORD (never from the test records)."""
    records = list(dict.fromkeys(train.records.tolist()))
    held = [r for r in validation_records if r in records] or records[-1:]
    if len(held) == len(records):
        raise ValueError("need at least two training records to carve a validation record")
    is_val = np.isin(train.records, held)
    return train.subset(~is_val), train.subset(is_val)


def stratified_split(beats: BeatSet, test_size: float, seed: int) -> tuple[BeatSet, BeatSet]:
    """Random beat-level split, stratified by class where every class has two or more beats."""
    idx = np.arange(len(beats))
    counts = np.bincount(beats.labels)
    stratify = beats.labels if counts[counts > 0].min() >= 2 else None
    first, second = train_test_split(idx, test_size=test_size, random_state=seed, stratify=stratify)
    return beats.subset(np.sort(first)), beats.subset(np.sort(second))


def _window_lengths(beats: np.ndarray) -> np.ndarray:
    """Length of each beat's window: up to its last non-zero value (the zero padding starts after)."""
    nonzero = beats != 0
    return np.where(nonzero.any(axis=1), BEAT_LENGTH - np.argmax(nonzero[:, ::-1], axis=1), 1)


def augment_beats(beats: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Patient-like variation, so the network cannot key on one patient's heart rate or baseline.

    The window is re-cut shorter (as if the recording's median RR were up to 25% shorter), baseline
    wander and noise are added, and the beat is min-max scaled again over its new window.
    """
    n = len(beats)
    lengths = _window_lengths(beats)
    new_lengths = np.maximum(2, (lengths * rng.uniform(0.75, 1.0, n)).astype(int))
    t = np.arange(BEAT_LENGTH)[None, :] / BEAT_FS
    wander = rng.uniform(0, 0.15, (n, 1)) * np.sin(
        2 * np.pi * rng.uniform(0.05, 0.5, (n, 1)) * t + rng.uniform(0, 2 * np.pi, (n, 1))
    )
    noise = rng.normal(0, 1, beats.shape) * rng.uniform(0, 0.02, (n, 1))
    return min_max(beats + wander + noise, new_lengths).astype(np.float32)


class _AugmentedBeats(keras.utils.PyDataset):
    def __init__(self, beats: np.ndarray, labels: np.ndarray, weights: np.ndarray, batch_size: int, seed: int):
        super().__init__()
        self.beats, self.labels, self.weights, self.batch_size = beats, labels, weights, batch_size
        self.seed, self.epoch = seed, 0
        self._shuffle()

    def _shuffle(self) -> None:
        self.rng = np.random.default_rng(self.seed + self.epoch)
        self.order = self.rng.permutation(len(self.labels))

    def __len__(self) -> int:
        return math.ceil(len(self.labels) / self.batch_size)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        idx = self.order[i * self.batch_size : (i + 1) * self.batch_size]
        x = augment_beats(self.beats[idx], self.rng)
        return x[..., None], self.labels[idx], self.weights[idx]

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self._shuffle()


def _best_val_loss(history_csv: Path) -> float | None:
    if not history_csv.exists():
        return None
    with history_csv.open() as f:
        losses = [float(row["val_loss"]) for row in csv.DictReader(f) if row.get("val_loss")]
    return min(losses) if losses else None


class _Progress(keras.callbacks.Callback):
    """One line per epoch with validation macro-F1 (N,S,V,F) and per-class sensitivity."""

    def __init__(self, val: BeatSet, log: Log, total_epochs: int):
        super().__init__()
        self.val, self.log, self.total = val, log, total_epochs

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        m = classification_metrics(self.val.labels, predict_classes(self.model, self.val.beats))
        sens = " ".join(
            f"{c}={m['per_class'][c]['sensitivity']:.2f}"
            for c in AAMI_CLASSES
            if m["per_class"][c]["sensitivity"] is not None
        )
        self.log(
            f"epoch {epoch + 1}/{self.total} loss={logs.get('loss', math.nan):.4f} "
            f"val_loss={logs.get('val_loss', math.nan):.4f} val_macroF1(NSVF)={m['macro_f1_nsvf']:.3f} "
            f"val_sens {sens}"
        )


def fit(
    hp: HyperParams, train: BeatSet, val: BeatSet, run_dir: Path, epochs: int, log: Log = print, seed: int = 42
) -> keras.Model:
    """Train with early stopping on (class-weighted) validation loss; resumable from ``run_dir``.

    Every epoch is backed up (weights, optimizer, epoch) and the best model so far is saved to
    ``run_dir/best.keras``; rerunning with the same ``run_dir`` continues where it stopped.
    Returns the best model.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    best_path = run_dir / "best.keras"
    done_path = run_dir / "done.json"
    if done_path.exists() and best_path.exists():
        done = json.loads(done_path.read_text())
        if done["stopped_early"] or done["epochs"] >= epochs:
            log(f"{run_dir.name}: already trained ({done}), reusing best.keras")
            return keras.models.load_model(best_path)
    set_seed(seed)
    weights = class_weights(train.labels, hp.class_weight, hp.weight_cap)
    model = build_model(hp)
    history_csv = run_dir / "history.csv"
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=hp.patience)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(run_dir / "backup"), delete_checkpoint=False),
        keras.callbacks.ModelCheckpoint(
            str(best_path), monitor="val_loss", save_best_only=True, initial_value_threshold=_best_val_loss(history_csv)
        ),
        stopper,
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=0.3, patience=max(2, hp.patience // 2), min_lr=1e-5
        ),
        keras.callbacks.CSVLogger(str(history_csv), append=True),
        _Progress(val, log, epochs),
    ]
    train_weights = weights[train.labels].astype(np.float32)
    validation = (model_input(val.beats), val.labels, weights[val.labels].astype(np.float32))
    if hp.augment:
        data = _AugmentedBeats(train.beats, train.labels, train_weights, hp.batch_size, seed)
        model.fit(data, validation_data=validation, epochs=epochs, verbose=0, callbacks=callbacks)
    else:
        model.fit(
            model_input(train.beats),
            train.labels,
            sample_weight=train_weights,
            validation_data=validation,
            batch_size=hp.batch_size,
            epochs=epochs,
            shuffle=True,
            verbose=0,
            callbacks=callbacks,
        )
    done_path.write_text(json.dumps({"epochs": epochs, "stopped_early": stopper.stopped_epoch > 0}))
    return keras.models.load_model(best_path) if best_path.exists() else model
