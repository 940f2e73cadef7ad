"""MI screening model: transfer from the heartbeat model, patient-wise repeated k-fold, threshold.

A recording's MI score is the mean of its beats' MI probabilities (as in the app); it is flagged
when score >= threshold. The threshold is chosen on validation patients (never the test fold):
``recall_bound_threshold``, a lower confidence bound of the MI scores' 5th percentile.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, cast

import keras
import numpy as np
import numpy.typing as npt
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold

from ecg.datasets.mi import MiBeats
from ecg.training.trainer import Log, model_input

TARGET_RECALL = 0.95
TARGET_CONFIDENCE = 0.90  # of the threshold keeping recall >= TARGET_RECALL on new patients
RANDOM_INIT_LR = 5e-4


@dataclass(frozen=True)
class MiHyperParams:
    init: str = "transfer"  # transfer | random
    lr: float = 5e-4
    batch_size: int = 64
    max_epochs: int = 60
    patience: int = 10  # early stopping on validation loss; 0 = train max_epochs (validation sets the threshold only)
    freeze_epochs: int = 0  # epochs training only the new head before fine-tuning everything
    augment_copies: int = 0  # extra jittered copies of every training beat (see augment)
    train_layers: str = "all"  # all | head (the transferred layers stay frozen: a linear probe)
    label_smoothing: float = 0.0  # softer targets: less over-confident scores, steadier thresholds


# --- model -----------------------------------------------------------------------------------


def mi_model_from(base: keras.Model, init: str, seed: int = 0) -> keras.Model:
    """The base (heartbeat) network with its last layer replaced by Dense(2, softmax) [normal, mi].

    ``init="transfer"`` keeps the base's learned weights; ``"random"`` re-initialises the same
    architecture, for comparison.
    """
    keras.utils.set_random_seed(seed)
    if init == "random":
        base = keras.models.clone_model(base)  # same layers, fresh initial weights
    elif init != "transfer":
        raise ValueError(f"unknown init {init!r}")
    features = base.layers[-2].output
    outputs = keras.layers.Dense(2, activation="softmax", name="mi")(features)
    model = keras.Model(base.inputs, outputs, name="mi_" + base.name)
    if init == "transfer":
        for layer in model.layers[:-1]:
            source = base.get_layer(layer.name)
            layer.set_weights(source.get_weights())
    return model


def _compile(model: keras.Model, lr: float, label_smoothing: float = 0.0) -> None:
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss, weighted_metrics=[])


def _onehot(labels: np.ndarray) -> np.ndarray:
    return cast(np.ndarray, np.eye(2, dtype=np.float32)[labels])


def augment(beats: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Jittered copies in the same format: time stretch +-10% (heart-rate and fs variation), a
    baseline tilt and white noise, re-scaled to [0, 1] over the beat's own length."""
    from ecg.processing.beats import min_max

    n, width = beats.shape
    nonzero = beats > 0
    lengths = np.where(nonzero.any(axis=1), width - np.argmax(nonzero[:, ::-1], axis=1), width)
    out = np.zeros_like(beats, dtype=np.float64)
    new_lengths = np.zeros(n, dtype=np.int64)
    for i in range(n):
        length = int(lengths[i])
        factor = rng.uniform(0.9, 1.1)
        new_len = int(min(width, max(2, round(length * factor))))
        positions = np.linspace(0, length - 1, new_len)
        y = np.interp(positions, np.arange(length), beats[i, :length])
        y = y + rng.uniform(-0.1, 0.1) * np.linspace(-1, 1, new_len) + rng.normal(0, 0.01, new_len)
        out[i, :new_len] = y
        new_lengths[i] = new_len
    return min_max(out, new_lengths).astype(np.float32)


def balanced_weights(labels: np.ndarray) -> np.ndarray:
    """Per-beat loss weights so both classes weigh the same in total."""
    counts = np.bincount(labels, minlength=2).astype(np.float64)
    per_class = np.where(counts > 0, len(labels) / (2 * np.maximum(counts, 1)), 0.0)
    return cast(np.ndarray, per_class[labels].astype(np.float32))


def fit_mi(
    base: keras.Model, hp: MiHyperParams, train: MiBeats, val: MiBeats | None, seed: int = 0, epochs: int | None = None
) -> tuple[keras.Model, int]:
    """Train with class-balanced loss; early stopping on validation loss when ``val`` is given
    (else ``epochs`` epochs). Returns the model and the number of epochs that gave it."""
    model = mi_model_from(base, hp.init, seed)
    beats, y = train.beats, train.labels
    if hp.augment_copies:
        rng = np.random.default_rng(seed)
        beats = np.concatenate([beats] + [augment(train.beats, rng) for _ in range(hp.augment_copies)])
        y = np.tile(train.labels, hp.augment_copies + 1)
    x, w, y = model_input(beats), balanced_weights(y), _onehot(y)
    validation = (
        (model_input(val.beats), _onehot(val.labels), balanced_weights(val.labels)) if val is not None else None
    )
    if hp.freeze_epochs and hp.init == "transfer":
        for layer in model.layers[:-1]:
            layer.trainable = False
        _compile(model, 1e-3)
        model.fit(x, y, sample_weight=w, batch_size=hp.batch_size, epochs=hp.freeze_epochs, verbose=0, shuffle=True)
        for layer in model.layers:
            layer.trainable = True
    if hp.train_layers == "head":
        for layer in model.layers[:-1]:
            layer.trainable = False
    elif hp.train_layers != "all":
        raise ValueError(f"unknown train_layers {hp.train_layers!r}")
    _compile(model, hp.lr, hp.label_smoothing)
    callbacks = []
    if validation is not None and hp.patience > 0:
        callbacks.append(
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=hp.patience, restore_best_weights=True)
        )
    history = model.fit(
        x,
        y,
        sample_weight=w,
        validation_data=validation,
        batch_size=hp.batch_size,
        epochs=epochs or hp.max_epochs,
        verbose=0,
        shuffle=True,
        callbacks=callbacks,
    )
    if validation is None or hp.patience <= 0:
        return model, len(history.history["loss"])
    return model, int(np.argmin(history.history["val_loss"])) + 1


def beat_probabilities(model: keras.Model, beats: np.ndarray) -> np.ndarray:
    """MI probability per beat: the last softmax column (or the single sigmoid output)."""
    if not len(beats):
        return np.zeros(0, np.float32)
    import warnings

    x = model_input(beats)
    # Direct calls: predict() traces a new function per model, slow for the many small folds.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The structure of `inputs`")
        out = np.concatenate([np.asarray(model(x[i : i + 1024], training=False)) for i in range(0, len(x), 1024)])
    return out[:, -1].astype(np.float32)


# --- recording-level aggregation and threshold ---------------------------------------------------


def recording_scores(records: np.ndarray, beat_scores: np.ndarray) -> dict[str, float]:
    """Mean beat MI probability per recording (the app's aggregation)."""
    out: dict[str, list[float]] = {}
    for r, s in zip(records.tolist(), beat_scores.tolist()):
        out.setdefault(r, []).append(s)
    return {r: float(np.mean(v)) for r, v in out.items()}


def choose_threshold(scores: np.ndarray, labels: np.ndarray, min_recall: float = TARGET_RECALL) -> float:
    """The highest threshold t with recall(score >= t) >= min_recall (most specific such t)."""
    positives = np.sort(np.asarray(scores, dtype=np.float64)[np.asarray(labels) == 1])
    if not len(positives):
        raise ValueError("no positive (MI) recordings to set a threshold on")
    misses = int(np.floor(len(positives) * (1 - min_recall) + 1e-9))
    return float(positives[misses])


def tolerance_factor(n: int, coverage: float = TARGET_RECALL, confidence: float = TARGET_CONFIDENCE) -> float:
    """One-sided normal tolerance factor k: with probability ``confidence`` the bound mean - k * sd of
    ``n`` normal samples lies below the distribution's (1 - ``coverage``) quantile (noncentral t)."""
    from scipy.stats import nct, norm

    if n < 2:
        raise ValueError("a tolerance bound needs at least two samples")
    return float(nct.ppf(confidence, n - 1, norm.ppf(coverage) * np.sqrt(n)) / np.sqrt(n))


def recall_bound_threshold(
    scores: np.ndarray,
    labels: np.ndarray,
    min_recall: float = TARGET_RECALL,
    confidence: float = TARGET_CONFIDENCE,
    n_independent: int | None = None,
) -> float:
    """A threshold that keeps recall >= ``min_recall`` on new patients with probability ``confidence``.

    With n MI validation scores, the most specific threshold keeping validation recall >= 0.95 is the
    lowest MI score while n < 20, and the lowest of n scores sits on average at the 1/(n+1) quantile
    of MI scores: recall ~0.91 for n = 10, and below 0.95 in 60 % of folds (1 - 0.95**10 = 0.40).
    No order statistic reaches 90 % confidence below n = 45, so the bound is parametric: the MI
    scores' logits are taken as normal (mean m, sample sd s) and the threshold is
    expit(m - k * s), the one-sided lower tolerance bound of their 5th percentile (k from
    ``tolerance_factor``; 2.57 for n = 10). Never above ``choose_threshold`` on the same scores.
    ``n_independent`` is the sample size for k when scores repeat patients (pooled repeats): the
    number of distinct MI patients; by default the number of MI scores. Fewer than three MI scores:
    ``choose_threshold``.
    """
    from scipy.special import expit, logit

    empirical = choose_threshold(scores, labels, min_recall)
    positives = np.asarray(scores, dtype=np.float64)[np.asarray(labels) == 1]
    n = len(positives) if n_independent is None else int(n_independent)
    if len(positives) < 3 or n < 3:
        return empirical
    z = logit(np.clip(positives, 1e-6, 1 - 1e-6))
    bound = float(expit(np.mean(z) - tolerance_factor(n, min_recall, confidence) * np.std(z, ddof=1)))
    return min(bound, empirical)


def specificity_at_recall(scores: np.ndarray, labels: np.ndarray, min_recall: float = TARGET_RECALL) -> float:
    """Specificity at the threshold chosen on these same scores (an oracle operating point)."""
    t = choose_threshold(scores, labels, min_recall)
    negatives = np.asarray(scores)[np.asarray(labels) == 0]
    return float(np.mean(negatives < t)) if len(negatives) else float("nan")


def binary_metrics(labels: npt.ArrayLike, flags: npt.ArrayLike, scores: np.ndarray | None = None) -> dict[str, Any]:
    labels, flags = np.asarray(labels).astype(bool), np.asarray(flags).astype(bool)
    tp, fn = int(np.sum(labels & flags)), int(np.sum(labels & ~flags))
    tn, fp = int(np.sum(~labels & ~flags)), int(np.sum(~labels & flags))
    out = {
        "recall": tp / (tp + fn) if tp + fn else None,
        "specificity": tn / (tn + fp) if tn + fp else None,
        "precision": tp / (tp + fp) if tp + fp else None,
        "tp": tp,
        "fn": fn,
        "tn": tn,
        "fp": fp,
    }
    if scores is not None:
        out["roc_auc"] = float(roc_auc_score(labels, scores)) if 0 < labels.sum() < len(labels) else None
    return out


# --- patient-wise splits -------------------------------------------------------------------------


def patient_folds(data: MiBeats, n_splits: int, seed: int) -> list[np.ndarray]:
    """Test-patient sets of a stratified (label x source) k-fold by patient."""
    patients = sorted(set(data.patient_ids.tolist()))
    first = {p: i for i, p in reversed(list(enumerate(data.patient_ids.tolist())))}
    strata = [f"{data.labels[first[p]]}-{data.sources[first[p]]}-{int(data.uncertain[first[p]])}" for p in patients]
    labels = [str(data.labels[first[p]]) for p in patients]
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for y in (strata, labels):  # label x source x uncertain where every stratum is big enough, else label
        try:
            return [
                np.array([patients[i] for i in test_idx])
                for _, test_idx in splitter.split(np.zeros(len(patients)), y, groups=patients)
            ]
        except ValueError:
            continue
    raise ValueError(f"{len(patients)} patients cannot be split into {n_splits} stratified folds")


def validation_patients(data: MiBeats, fraction_folds: int, seed: int) -> np.ndarray:
    """About 1/``fraction_folds`` of ``data``'s patients, stratified, for early stopping and threshold."""
    return patient_folds(data, fraction_folds, seed)[0]


# --- the cross-validated experiment --------------------------------------------------------------


@dataclass(frozen=True)
class FoldResult:
    repeat: int
    fold: int
    model: str  # transfer | random | seed
    threshold: float
    test_records: list[str]
    test_scores: list[float]
    test_beat_scores: list[float]
    test_beat_records: list[str]
    raw_ptb_scores: dict[str, float]


def run_cross_validation(
    data: MiBeats,
    base: keras.Model,
    seed_model: keras.Model | None,
    inits: tuple[str, ...],
    run_dir: Path,
    n_repeats: int = 5,
    n_splits: int = 5,
    hp: MiHyperParams = MiHyperParams(),
    raw_ptb: MiBeats | None = None,
    extra_train: MiBeats | None = None,
    log: Log = print,
) -> list[dict[str, Any]]:
    """Repeated patient-wise k-fold. Uncertain-MI patients are test-only (never trained on).

    Per fold: validation patients carved from the training patients (early stopping, threshold),
    test fold scored by every model (ours per init, the seed's) on the same beats. ``extra_train``
    (e.g. other leads' beats) is added to training for the training patients only. Each finished
    (repeat, fold, model) is saved to ``run_dir/folds.jsonl`` and skipped on rerun.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    done_path = run_dir / "folds.jsonl"
    done = [json.loads(line) for line in done_path.read_text().splitlines()] if done_path.exists() else []
    have = {(d["repeat"], d["fold"], d["model"]) for d in done}
    for repeat in range(n_repeats):
        for fold, test_patients in enumerate(patient_folds(data, n_splits, seed=1000 + repeat)):
            is_test = np.isin(data.patient_ids, test_patients)
            rest = data.subset(~is_test & ~data.uncertain)
            val_patients = validation_patients(rest, 5, seed=2000 + 10 * repeat + fold)
            is_val = np.isin(rest.patient_ids, val_patients)
            train, val, test = rest.subset(~is_val), rest.subset(is_val), data.subset(is_test)
            if extra_train is not None:
                more = extra_train.subset(np.isin(extra_train.patient_ids, np.unique(train.patient_ids)))
                train = MiBeats.concat([train, more])
            assert not set(train.patient_ids) & set(test.patient_ids) and not set(val.patient_ids) & set(
                test.patient_ids
            )
            models = list(inits) + (["seed"] if seed_model is not None else [])
            for name in models:
                if (repeat, fold, name) in have:
                    continue
                best_epoch = 0
                if name == "seed":
                    model = seed_model
                else:
                    model, best_epoch = fit_mi(base, hp_for(hp, name), train, val, seed=repeat * 100 + fold)
                val_scores = recording_scores(val.records, beat_probabilities(model, val.beats))
                val_labels = _record_labels(val)
                val_s, val_y = np.array(list(val_scores.values())), np.array([val_labels[r] for r in val_scores])
                threshold = recall_bound_threshold(val_s, val_y, n_independent=_n_mi_patients(val))
                beat_scores = beat_probabilities(model, test.beats)
                test_scores = recording_scores(test.records, beat_scores)
                raw_scores = {}
                if raw_ptb is not None:
                    raw_test = raw_ptb.subset(np.isin(raw_ptb.patient_ids, test_patients))
                    raw_scores = recording_scores(raw_test.records, beat_probabilities(model, raw_test.beats))
                result = FoldResult(
                    repeat,
                    fold,
                    name,
                    threshold,
                    list(test_scores),
                    list(test_scores.values()),
                    beat_scores.tolist(),
                    test.records.tolist(),
                    raw_scores,
                )
                with done_path.open("a") as f:
                    f.write(
                        json.dumps(
                            asdict(result)
                            | {
                                "best_epoch": best_epoch,
                                "val_records": list(val_scores),
                                "val_scores": list(val_scores.values()),
                                "val_labels": [val_labels[r] for r in val_scores],
                                "threshold_validation_recall": choose_threshold(val_s, val_y),
                                "n_train_patients": len(set(train.patient_ids)),
                                "n_val_patients": len(set(val.patient_ids)),
                                "n_test_patients": len(set(test.patient_ids)),
                            }
                        )
                        + "\n"
                    )
                m = binary_metrics(
                    [_record_labels(test)[r] for r in test_scores],
                    np.array(list(test_scores.values())) >= threshold,
                    np.array(list(test_scores.values())),
                )
                log(
                    f"repeat {repeat} fold {fold} {name}: threshold {threshold:.3f} test recall {m['recall']:.3f} "
                    f"specificity {m['specificity']:.3f} roc_auc {m['roc_auc']:.3f} "
                    f"({len(set(train.patient_ids))}/{len(set(val.patient_ids))}/{len(set(test.patient_ids))} patients)"
                )
                if name != "seed":
                    keras.backend.clear_session()
    return [json.loads(line) for line in done_path.read_text().splitlines()]


def hp_for(hp: MiHyperParams, init: str) -> MiHyperParams:
    """The recipe for one init; a random network has nothing to freeze, so it trains all layers."""
    changes: dict[str, Any] = {"init": init}
    if init == "random" and hp.train_layers != "all":
        changes.update(train_layers="all", lr=RANDOM_INIT_LR)
    return MiHyperParams(**{**asdict(hp), **changes})


def _n_mi_patients(data: MiBeats) -> int:
    return len(set(data.patient_ids[data.labels == 1].tolist()))


def _record_labels(data: MiBeats) -> dict[str, int]:
    return dict(zip(data.records.tolist(), data.labels.tolist()))


# --- summaries with patient-bootstrap intervals -------------------------------------------------


def _bootstrap(
    patients: np.ndarray, stat: Callable[[np.ndarray], float | None], n: int = 1000, seed: int = 0
) -> tuple[float | None, float | None]:
    """95% percentile interval of ``stat(index array)`` resampling patients with replacement."""
    rng = np.random.default_rng(seed)
    unique, inverse = np.unique(patients, return_inverse=True)
    members = [np.flatnonzero(inverse == i) for i in range(len(unique))]
    values = []
    for _ in range(n):
        pick = rng.integers(0, len(unique), len(unique))
        idx = np.concatenate([members[i] for i in pick])
        v = stat(idx)
        if v is not None and np.isfinite(v):
            values.append(v)
    if not values:
        return None, None
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def summarise(
    results: list[dict[str, Any]], data: MiBeats, model: str, include_uncertain: bool = False, n_boot: int = 1000
) -> dict[str, Any]:
    """Recording- and beat-level recall, specificity, precision, ROC AUC over all repeats' test folds.

    Flags use each fold's validation threshold; intervals are patient-bootstrap 95% intervals over
    the pooled repeats (a patient is drawn with all its test predictions). ``spec_at_recall_95`` is
    the oracle operating point on the pooled scores (what the issue's seed target describes).
    """
    rec_label = _record_labels(data)
    rec_patient = dict(zip(data.records.tolist(), data.patient_ids.tolist()))
    rec_source = dict(zip(data.records.tolist(), data.sources.tolist()))
    rec_uncertain = dict(zip(data.records.tolist(), data.uncertain.tolist()))
    rows = []  # (repeat, record, score, flag)
    beat_rows = []  # (repeat, record, beat score, flag)
    fold_aucs = []  # within one fold's model: what a single shipped model's ranking looks like
    for r in results:
        if r["model"] != model:
            continue
        kept = [
            (rec_label[x], s)
            for x, s in zip(r["test_records"], r["test_scores"])
            if include_uncertain or not rec_uncertain[x]
        ]
        if kept and 0 < sum(y for y, _ in kept) < len(kept):
            fold_aucs.append(roc_auc_score([y for y, _ in kept], [s for _, s in kept]))
        for rec, s in zip(r["test_records"], r["test_scores"]):
            rows.append((r["repeat"], rec, s, s >= r["threshold"]))
        for rec, s in zip(r["test_beat_records"], r["test_beat_scores"]):
            beat_rows.append((r["repeat"], rec, s, s >= r["threshold"]))
    keep: Callable[[str], bool] = lambda rec: include_uncertain or not rec_uncertain[rec]  # noqa: E731
    rows = [x for x in rows if keep(x[1])]
    beat_rows = [x for x in beat_rows if keep(x[1])]
    out = {"model": model, "include_uncertain_mi": include_uncertain}
    for level, table in (("recording", rows), ("beat", beat_rows)):
        records = np.array([x[1] for x in table])
        y = np.array([rec_label[x] for x in records])
        s = np.array([x[2] for x in table])
        f = np.array([x[3] for x in table])
        reps = np.array([x[0] for x in table])
        patients = np.array([rec_patient[x] for x in records])
        m = binary_metrics(y, f, s)
        # AUC per repeat (pooled folds), averaged: pooling repeats would mix folds' calibrations more.
        aucs = [roc_auc_score(y[reps == k], s[reps == k]) for k in np.unique(reps)]
        m["roc_auc"] = float(np.mean(aucs))
        m["roc_auc_per_repeat"] = [round(float(a), 4) for a in aucs]
        stats = {
            "recall": lambda i: _safe(lambda: binary_metrics(y[i], f[i])["recall"]),
            "specificity": lambda i: _safe(lambda: binary_metrics(y[i], f[i])["specificity"]),
            "precision": lambda i: _safe(lambda: binary_metrics(y[i], f[i])["precision"]),
            "roc_auc": lambda i: _safe(
                lambda: float(
                    np.mean([roc_auc_score(y[i][reps[i] == k], s[i][reps[i] == k]) for k in np.unique(reps[i])])
                )
            ),
        }
        if level == "recording":
            m["roc_auc_mean_within_fold"] = float(np.mean(fold_aucs)) if fold_aucs else None
            m["roc_auc_within_fold_range"] = [float(np.min(fold_aucs)), float(np.max(fold_aucs))] if fold_aucs else None
            spec = [specificity_at_recall(s[reps == k], y[reps == k]) for k in np.unique(reps)]
            m["specificity_at_recall_95"] = float(np.mean(spec))
            stats["specificity_at_recall_95"] = lambda i: _safe(
                lambda: float(
                    np.mean([specificity_at_recall(s[i][reps[i] == k], y[i][reps[i] == k]) for k in np.unique(reps[i])])
                )
            )
        for name, stat in stats.items():
            lo, hi = _bootstrap(patients, stat, n=n_boot)
            m[f"{name}_ci95"] = [lo, hi]
        n_rep = max(len(np.unique(reps)), 1)
        m["n_repeats"] = int(n_rep)
        m["n_patients"] = {
            "mi": int(len({p for p, l in zip(patients, y) if l == 1})),
            "normal": int(len({p for p, l in zip(patients, y) if l == 0})),
        }
        m["n_" + ("recordings" if level == "recording" else "beats") + "_per_repeat"] = int(len(table) / n_rep)
        if level == "recording":
            per_source = {}
            for src in sorted(set(rec_source[x] for x in records)):
                sel = np.array([rec_source[x] == src for x in records])
                ys, ss, fs_, rs = y[sel], s[sel], f[sel], reps[sel]
                entry = binary_metrics(ys, fs_)
                entry["roc_auc"] = _safe(
                    lambda: float(np.mean([roc_auc_score(ys[rs == k], ss[rs == k]) for k in np.unique(rs)]))
                )
                entry["n_patients"] = {
                    "mi": int(len({p for p, l in zip(patients[sel], ys) if l == 1})),
                    "normal": int(len({p for p, l in zip(patients[sel], ys) if l == 0})),
                }
                entry["mean_score"] = {"mi": _mean(ss[ys == 1]), "normal": _mean(ss[ys == 0])}
                per_source[src] = entry
            m["per_source"] = per_source
        out[level] = m
    return out


def _mean(x: np.ndarray) -> float | None:
    return float(np.mean(x)) if len(x) else None


def _safe(fn: Callable[[], float | None]) -> float | None:
    """The figure, or None where it is undefined (one class only, empty)."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = fn()
    except (ValueError, ZeroDivisionError):
        return None
    return None if value is None or not np.isfinite(value) else value
