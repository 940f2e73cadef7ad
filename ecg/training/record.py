"""Training data for the record-level beat model: whole annotated records through the product's path.

Each record is read, its R-peaks found by the product's own detector, and every detected beat
given the reference label of the annotated beat it matches (EC57, 0.15 s); detections with no
reference beat are kept with label -1 (the model still sees them at run time, they are not scored).
The per-record arrays are cached as .npz so protocols and searches reuse them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import wfdb

from ecg.constants import AAMI_CLASSES, SYMBOL_TO_AAMI
from ecg.datasets.mitdb import DS1, DS2
from ecg.evaluation.protocols import match_beats
from ecg.processing import context
from ecg.processing.context import record_context

LEAD_PREFERENCE = ("MLII", "II")
CACHE_VERSION = "ctx1"


def svdb_records(data_dir: Path) -> tuple[str, ...]:
    return tuple((data_dir / "svdb" / "RECORDS").read_text().split())


def record_ids(data_dir: Path, sets: str) -> list[str]:
    """``mitdb/NNN`` and ``svdb/NNN`` ids for named sets joined by ``+`` (ds1, ds2, mitdb, svdb, all)
    or single records (``mitdb/119``)."""
    mit = {"ds1": DS1, "ds2": DS2, "mitdb": tuple(sorted(DS1 + DS2))}
    out: list[str] = []
    for part in sets.split("+"):
        if part in mit:
            out += [f"mitdb/{r}" for r in mit[part]]
        elif part == "svdb":
            out += [f"svdb/{r}" for r in svdb_records(data_dir)]
        elif part == "all":
            out += record_ids(data_dir, "mitdb+svdb")
        elif part.split("/")[0] in ("mitdb", "svdb") and (data_dir / f"{part}.hea").exists():
            out.append(part)
        else:
            raise ValueError(f"unknown record set {part!r}")
    return out


def lead_order(names: list[str]) -> list[int]:
    """Indices of the analysed leads: the preferred lead (MLII, II, else the first), then one other."""
    plain = [n.strip().upper() for n in names]
    first = next((plain.index(p) for p in LEAD_PREFERENCE if p in plain), 0)
    others = [i for i in range(len(names)) if i != first]
    return [first] + others[:1]


@dataclass
class RecordData:
    morphology: np.ndarray
    features: np.ndarray
    labels: np.ndarray  # AAMI index per detected beat, -1 where no reference beat matches
    r_peaks: np.ndarray
    fs: float
    missed: np.ndarray  # per class, reference beats no detection matched


def read_annotated(path: Path) -> tuple[np.ndarray, float, list[str], np.ndarray, np.ndarray]:
    rec = wfdb.rdrecord(str(path))
    ann = wfdb.rdann(str(path), "atr")
    lookup = {s: AAMI_CLASSES.index(c) for s, c in SYMBOL_TO_AAMI.items()}
    cls = np.array([lookup.get(s, -1) for s in ann.symbol], dtype=np.int64)
    beat = cls >= 0
    samples = np.clip(np.asarray(ann.sample)[beat], 0, rec.sig_len - 1)
    return rec.p_signal, float(rec.fs), list(rec.sig_name), samples, cls[beat]


def build_record(path: Path, *, variant: str = "clean") -> RecordData:
    """Inputs and reference labels of every detected beat of one annotated WFDB record, found as the
    product finds them (both leads). ``variant`` names an augmented copy (see :data:`VARIANTS`)."""
    signal, fs, names, ref, ref_cls = read_annotated(path)
    signal = np.nan_to_num(signal)
    if variant != "clean":
        signal, fs, ref = augment(signal, fs, ref, variant, seed=_variant_seed(path, variant))
    order = lead_order(names)
    leads = [signal[:, i] for i in order]
    peaks = context.detect_beats(leads, fs)
    ctx = record_context(leads, fs, peaks)
    matched = match_beats(peaks, ref, fs)
    labels = np.where(matched >= 0, ref_cls[np.maximum(matched, 0)], -1)
    found = np.zeros(len(ref), bool)
    found[matched[matched >= 0]] = True
    missed = np.bincount(ref_cls[~found], minlength=len(AAMI_CLASSES))
    return RecordData(ctx.morphology, ctx.features, labels, peaks, fs, missed)


# Augmented copies of a training record: what a clinic's recorders do to the same heart.
# ``noise``: real electrode-motion, muscle and baseline noise of the Noise Stress Test Database at
# 6 to 18 dB, each lead's gain changed by 0.6 to 1.6; ``rate``: the record resampled to another of the
# rates clinics send (128, 250, 360, 500 Hz), so detection and the 128 Hz inputs see it as they would.
VARIANTS = ("clean", "noise", "rate")
NOISE_RECORDS = ("em", "ma", "bw")
SNR_DB = (6.0, 18.0)
GAIN = (0.6, 1.6)
RATES = (128.0, 250.0, 360.0, 500.0)


def _variant_seed(path: Path, variant: str) -> int:
    return int(hashlib.sha256(f"{path.parent.name}/{path.name}/{variant}".encode()).hexdigest()[:8], 16)


def _noise(n: int, fs: float, channels: int, rng: np.random.Generator, noise_dir: Path) -> np.ndarray:
    """``n`` samples of a real noise record (random choice and offset) at ``fs``, unit RMS per channel."""
    rec = wfdb.rdrecord(str(noise_dir / str(rng.choice(NOISE_RECORDS))))
    out = np.zeros((n, channels))
    for c in range(channels):
        x = context.resample(np.nan_to_num(rec.p_signal[:, c % rec.p_signal.shape[1]]), float(rec.fs), fs)
        x = np.tile(x, int(np.ceil((n + len(x)) / len(x))))
        start = int(rng.integers(0, len(x) - n))
        seg = x[start : start + n] - np.mean(x[start : start + n])
        out[:, c] = seg / max(float(np.sqrt(np.mean(seg**2))), 1e-9)
    return out


def augment(
    signal: np.ndarray, fs: float, ref: np.ndarray, variant: str, *, seed: int, noise_dir: Path | None = None
) -> tuple[np.ndarray, float, np.ndarray]:
    """(signal, fs, reference beat samples) of the augmented copy ``variant`` of a record."""
    rng = np.random.default_rng(seed)
    if variant == "rate":
        target = float(rng.choice([r for r in RATES if abs(r - fs) > 1.0]))
        out = np.stack([context.resample(signal[:, c], fs, target) for c in range(signal.shape[1])], axis=1)
        ref = np.clip(np.round(ref * target / fs).astype(np.int64), 0, len(out) - 1)
        return out.astype(np.float64), target, ref
    if variant == "noise":
        if noise_dir is None:
            from ecg.datasets import paths

            noise_dir = paths.data_dir() / "nstdb" / "noise_only"
        out = signal.astype(np.float64).copy()
        noise = _noise(len(out), fs, out.shape[1], rng, noise_dir)
        qrs = np.clip(ref, 0, len(out) - 1)
        for c in range(out.shape[1]):
            lead = context.clean(out[:, c], fs)
            half = max(1, int(0.06 * fs))
            ptp = np.median([np.ptp(lead[max(0, q - half) : q + half + 1]) for q in qrs[:: max(1, len(qrs) // 200)]])
            snr = rng.uniform(*SNR_DB)
            # The Noise Stress Test Database's SNR: QRS power (peak-to-peak squared over 8) over noise power.
            out[:, c] = out[:, c] * rng.uniform(*GAIN)
            out[:, c] += noise[:, c] * np.sqrt(float(ptp) ** 2 / 8.0 / 10 ** (snr / 10.0))
        return out, fs, ref
    raise ValueError(f"unknown variant {variant!r}")


def _cache_key() -> str:
    from ecg.processing import detection

    src = (
        Path(context.__file__).read_bytes() + Path(detection.__file__).read_bytes()
    )  # beats and inputs come from there
    return f"{CACHE_VERSION}-{hashlib.sha256(src).hexdigest()[:10]}"


def load_records(
    data_dir: Path, ids: list[str], cache_dir: Path | None, variant: str = "clean"
) -> dict[str, RecordData]:
    out = {}
    for rid in ids:
        stem = rid.replace("/", "-") + ("" if variant == "clean" else f"-{variant}")
        cached = cache_dir / _cache_key() / f"{stem}.npz" if cache_dir else None
        if cached is not None and cached.exists():
            with np.load(cached) as z:
                out[rid] = RecordData(
                    z["morphology"], z["features"], z["labels"], z["r_peaks"], float(z["fs"]), z["missed"]
                )
            continue
        data = build_record(data_dir / rid, variant=variant)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez(
                tmp,
                morphology=data.morphology,
                features=data.features,
                labels=data.labels,
                r_peaks=data.r_peaks,
                fs=data.fs,
                missed=data.missed,
            )
            tmp.replace(cached)
        out[rid] = data
    return out


def stack(
    records: dict[str, RecordData], ids: list[str], *, labelled: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Concatenated inputs, labels and record ids of ``ids`` (only matched beats if ``labelled``)."""
    morph = np.concatenate([records[i].morphology for i in ids])
    feats = np.concatenate([records[i].features for i in ids])
    labels = np.concatenate([records[i].labels for i in ids])
    rec = np.concatenate([np.full(len(records[i].labels), n) for n, i in enumerate(ids)])
    if labelled:
        keep = labels >= 0
        return morph[keep], feats[keep], labels[keep], rec[keep]
    return morph, feats, labels, rec


def class_weights(labels: np.ndarray, alpha: float, cap: float = 50.0) -> np.ndarray:
    """Per-class weights (N = 1): inverse class frequency to the power ``alpha``, capped."""
    counts = np.bincount(labels, minlength=len(AAMI_CLASSES)).astype(np.float64)
    w = (counts[0] / np.maximum(counts, 1.0)) ** alpha
    return cast(np.ndarray, np.minimum(w, cap))


def drop_second_lead(morph: np.ndarray, feats: np.ndarray, fraction: float, rng: np.random.Generator) -> None:
    """Hide the second lead of a random ``fraction`` of beats (in place): single-lead uploads look so."""
    hit = rng.random(len(feats)) < fraction
    morph[hit, :, 2:] = 0.0
    first = context.N_RHYTHM + context.N_LEAD_FEATURES
    feats[hit, first : first + context.N_LEAD_FEATURES] = 0.0
    feats[hit, context.FEATURES.index("second_lead")] = 0.0


def swap_leads(morph: np.ndarray, feats: np.ndarray, fraction: float, rng: np.random.Generator) -> None:
    """Swap the two leads of a random ``fraction`` of the beats that have a second lead (in place): which
    lead shows a patient's ectopic beats best depends on the patient and the recorder, not on its place."""
    two = feats[:, context.FEATURES.index("second_lead")] > 0
    hit = two & (rng.random(len(feats)) < fraction)
    morph[hit] = morph[hit][:, :, [2, 3, 0, 1]]
    first, n = context.N_RHYTHM, context.N_LEAD_FEATURES
    one, other = slice(first, first + n), slice(first + n, first + 2 * n)
    lead_one = feats[hit, one].copy()
    feats[hit, one] = feats[hit, other]
    feats[hit, other] = lead_one


def split_validation(ids: list[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Patient-wise split of ``ids`` into training and validation records (both databases in each)."""
    rng = np.random.default_rng(seed)
    val = []
    for db in sorted({i.split("/")[0] for i in ids}):
        part = [i for i in ids if i.startswith(db + "/")]
        k = max(1, int(round(fraction * len(part)))) if len(part) > 3 else 0
        val += list(rng.choice(part, size=k, replace=False))
    return [i for i in ids if i not in val], val


def selection_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean F1 of the N, S and V classes: the model-selection score on validation patients."""
    from ecg.evaluation.protocols import class_stats, confusion

    stats = class_stats(confusion(y_true, y_pred))
    f1 = []
    for c in ("N", "S", "V"):
        se, ppv = stats[c]["se"] or 0.0, stats[c]["ppv"] or 0.0
        f1.append(2 * se * ppv / (se + ppv) if se + ppv else 0.0)
    return float(np.mean(f1))


@dataclass
class TrainConfig:
    alpha: float = 1.0
    epochs: int = 12
    batch_size: int = 256
    learning_rate: float = 1e-3
    lead_dropout: float = 0.2
    width: int = 32
    kind: str = "cnn"
    dropout: float = 0.3
    seed: int = 0
    val_fraction: float = 0.15
    n_keep: float = 0.35  # share of N beats drawn afresh each epoch (all others kept): 3x faster epochs
    augment: tuple[str, ...] = ()  # augmented copies of the training records added (VARIANTS)
    lead_swap: float = 0.0  # share of two-lead beats whose leads are swapped in training
    tree_params: tuple[tuple[str, Any], ...] = ()  # the blend's trees: settings replacing TREE_PARAMS


def train(
    records: dict[str, RecordData],
    ids: list[str],
    config: TrainConfig,
    log: Callable[[str], None] = print,
    augmented: list[dict[str, RecordData]] | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Train on ``ids``, early-stopped on held-out patients of ``ids``; returns (model, history).

    ``augmented`` holds augmented copies of the records (same ids): those of the training patients
    are added to the training set; validation patients are judged on their clean records only."""
    import keras

    from ecg.models import record as record_model

    train_ids, val_ids = split_validation(ids, config.val_fraction, config.seed)
    parts = [stack(records, train_ids)] + [stack(copy, train_ids) for copy in augmented or []]
    m, f, y = (np.concatenate([part[k] for part in parts]) for k in range(3))
    vm, vf, vy, _ = stack(records, val_ids) if val_ids else (m[:0], f[:0], y[:0], None)
    rng = np.random.default_rng(config.seed)
    if config.lead_swap:
        swap_leads(m, f, config.lead_swap, rng)
    drop_second_lead(m, f, config.lead_dropout, rng)
    weights = class_weights(y, config.alpha) * np.where(np.arange(len(AAMI_CLASSES)) == 0, 1.0, config.n_keep)
    model = record_model.build(
        f[rng.choice(len(f), min(len(f), 50000), replace=False)],
        seed=config.seed,
        width=config.width,
        kind=config.kind,
        dropout=config.dropout,
    )
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss="sparse_categorical_crossentropy")
    best, best_weights, history = -1.0, None, []
    is_n = y == 0
    for epoch in range(config.epochs):
        order = rng.permutation(np.flatnonzero(~is_n | (rng.random(len(y)) < config.n_keep)))
        model.fit(
            [m[order], f[order]],
            y[order],
            sample_weight=weights[y[order]].astype(np.float32),
            batch_size=config.batch_size,
            epochs=1,
            verbose=0,
        )
        if len(vy):
            score = selection_score(vy, record_model.predict(model, vm, vf, fast=False).argmax(axis=1))
        else:
            score = float(epoch)
        history.append({"epoch": epoch + 1, "val_score": round(score, 4)})
        log(f"epoch {epoch + 1}: validation mean F1 (N,S,V) {score:.4f}")
        if score > best:
            best, best_weights = score, model.get_weights()
    model.set_weights(best_weights)
    return model, {
        "train_records": train_ids,
        "val_records": val_ids,
        "history": history,
        "class_weights": weights.round(3).tolist(),
        "best_val_score": round(best, 4),
    }


def augmented_copies(
    data_dir: Path, ids: list[str], cache_dir: Path | None, config: TrainConfig
) -> list[dict[str, RecordData]]:
    """The augmented copies ``config`` asks for, of records ``ids`` (cached like the clean ones)."""
    return [load_records(data_dir, ids, cache_dir, variant) for variant in config.augment]


# Gradient-boosted trees over the same inputs (bench.heartbeat_protocols step ``trees``): chosen by
# record-wise CV, then fixed; no early stopping, so no patient needs to be held out.
TREE_PARAMS = {
    "max_iter": 150,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "early_stopping": False,
}
TREE_ALPHA = 0.5  # class weights (N count / class count) ^ alpha, as the network's cnn_a05
TREE_LEAD_DROPOUT = 0.2  # the shipped trees see the second lead hidden on a fifth of the beats, as the network


def tree_settings(config: TrainConfig) -> dict[str, Any]:
    """The settings of the trees blended with ``config``'s network."""
    return {**TREE_PARAMS, **dict(config.tree_params)}


def fit_trees(
    records: dict[str, RecordData],
    ids: list[str],
    seed: int = 0,
    *,
    n_keep: float = 0.35,
    lead_dropout: float = 0.0,
    params: dict[str, Any] | None = None,
) -> Any:
    """scikit-learn's histogram gradient boosting on the matched beats of ``ids``: ``n_keep`` of
    the N beats drawn once (as the network draws them each epoch), class weights as the network's,
    the second lead hidden on ``lead_dropout`` of the beats as single-lead uploads look; ``params``
    replace settings of :data:`TREE_PARAMS`."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from ecg.models.trees import tree_inputs

    m, f, y, _ = stack(records, ids)
    rng = np.random.default_rng(seed)
    if lead_dropout:
        m, f = m.copy(), f.copy()
        drop_second_lead(m, f, lead_dropout, rng)
    keep = (y != 0) | (rng.random(len(y)) < n_keep)
    x, y = tree_inputs(m[keep], f[keep]), y[keep]
    w = class_weights(y, TREE_ALPHA) * np.where(np.arange(len(AAMI_CLASSES)) == 0, 1.0, n_keep)
    clf = HistGradientBoostingClassifier(**{**TREE_PARAMS, **(params or {})}, random_state=seed)
    clf.fit(x, y, sample_weight=w[y])
    return clf


def tree_probabilities(clf: Any, record: RecordData) -> np.ndarray:
    """Class probabilities (n, 5) of the fitted trees for every beat of ``record``."""
    from ecg.models.trees import tree_inputs

    p = np.zeros((len(record.labels), len(AAMI_CLASSES)), np.float32)
    p[:, clf.classes_] = clf.predict_proba(tree_inputs(record.morphology, record.features))
    return p


def ensemble(models: list[Any], name: str = "record_beat_classifier") -> Any:
    """One model averaging the class probabilities of ``models`` (same inputs)."""
    import keras

    if len(models) == 1:
        return models[0]
    morph = keras.Input((context.WINDOW, context.MORPH_CHANNELS), name="morphology")
    feats = keras.Input((context.N_FEATURES,), name="features")
    outs = []
    for k, m in enumerate(models):
        m.name = f"member_{k}"
        outs.append(m([morph, feats]))
    return keras.Model([morph, feats], keras.layers.Average(name="aami")(outs), name=name)


def multiply_adds(model: Any) -> int:
    """Multiply-adds per beat of the convolution and dense layers (the model's arithmetic)."""
    import keras

    total = 0
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.Conv1D):
            steps = layer.output.shape[1]
            total += steps * layer.kernel.shape[0] * layer.kernel.shape[1] * layer.kernel.shape[2]
        elif isinstance(layer, keras.layers.Dense):
            total += layer.kernel.shape[0] * layer.kernel.shape[1]
    return int(total)


# Candidate configurations, compared by record-wise cross-validation (bench/heartbeat_protocols.py).
CONFIGS = {
    "cnn_a1": TrainConfig(kind="cnn", alpha=1.0, epochs=6),
    "mlp_a1": TrainConfig(kind="mlp", alpha=1.0, epochs=6),
    "cnn_a05": TrainConfig(kind="cnn", alpha=0.5, epochs=6),
    "cnn_a05_aug": TrainConfig(kind="cnn", alpha=0.5, epochs=6, augment=("noise", "rate")),
    # issue 11's roofline: the shipped recipe with a wider network (bench/README.md, Gaps)
    "cnn_a05_w48": TrainConfig(kind="cnn", alpha=0.5, epochs=6, width=48),
    "cnn_a05_w64": TrainConfig(kind="cnn", alpha=0.5, epochs=6, width=64),
}


def chosen_config(results_dir: Path, names: list[str]) -> str | None:
    """The configuration whose pooled cross-validation figures have the best mean F1 of N, S and V."""
    from ecg.evaluation.protocols import result_load

    scores: dict[str, float] = {}
    for name in names:
        res = result_load(results_dir, f"cv_{name}")
        if res is not None:
            m = np.array(res["confusion"])
            y_true = np.repeat(np.arange(len(m)), m.sum(axis=1))
            y_pred = np.concatenate([np.repeat(np.arange(len(m)), row) for row in m])
            scores[name] = selection_score(y_true, y_pred)
    return max(scores, key=scores.__getitem__) if scores else None
