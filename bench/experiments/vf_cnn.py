"""EXPERIMENT: does a small convolutional network reading the 4-s window itself tell VF/VFL from VT?

The VF/VFL detector (`ecg.rhythm.vf`) is a logistic combination of twelve hand-made inputs of each
4-s window (125 Hz, band-passed 1-30 Hz, one window a second). On records it was not fitted on it
reads about 94 / 83 % duration Se / +P on cudb: the false time is monomorphic and polymorphic VT
and wide-complex rhythm the annotators did not bracket as VF. Hand-made complex inputs, logistic and
boosted second stages did not reach 90 / 90 % (`vf_organisation`, `vf_regularisation`,
`vf_complexes`). This lets a small 1-D convolutional network (four convolutions, about 10k weights)
learn its own inputs from the window the product reads (`vf._resampled`: the product's resampling
and band-pass), each window divided by its standard deviation with the log of that deviation beside
it; the ``hybrid`` network also reads the twelve shipped inputs (standardised) in its dense head; the
``second`` network (as ``waveform``) learns only from the windows a logistic fitted on the same
records reads 0.5 or more, and is scored only as a veto.

Scored as `bench.experiments.vf_regularisation` and `vf_complexes` score the window model: 24
record-wise folds, each holding out one cudb record and every 24th MIT-BIH record. In each fold the
network is trained on the other records less an inner validation set (the cudb records of the next
``VALIDATION_CUDB`` folds and the MIT-BIH records of the next two, ``inner_split``), which alone decides
early stopping and the threshold (or veto cut) of the rows "chosen on inner validation"; the
held-out records' windows are never seen. Training windows are those wholly inside or outside the
marked VF, with a random quarter of MIT-BIH's non-VF windows each epoch, class-weighted, augmented
by sign flip, amplitude scale and, for a fifth of them, noise from the Noise Stress Test Database's
noise records (``em``, ``ma``, ``bw``) at 6-18 dB; at most 12 epochs (Adam, the rate falling by a
fifth each epoch; the second stage, with about a fifth as many windows, at most 60 epochs, the rate
falling by 5 % each epoch), the weights of the best inner validation loss kept. Windows across 2 s or
more without signal and muscle windows (``vf.HIGH_FRACTION_MAX``) read 0 as in the product. Decisions as the product's
(the mean of ``vf.DECISION_WINDOWS`` windows against a threshold, episodes as `vf.episodes` forms
them); counts as `bench.rhythm_eval` (`vf_organisation.counts`). Variants: the baseline (shipped
inputs, logistic C = 0.001 refitted per fold on every training record, as in `vf_complexes`); the
network alone; the mean of the network's and a logistic's probabilities (the logistic fitted on the
same inner training records as the network); the network as a veto of the logistic's windows it
reads >= 0.5 (their probability set to 0 where the network's 5-window running median is under a
cut, then decided at 0.88), and the same veto only after a decided stretch's first 4 windows. Each
has a threshold (or cut) grid pooled over the folds; a value picked from a grid is picked on the
records scored, the "inner validation" rows are not.

    .venv/bin/python -m bench.experiments.vf_cnn [--kinds waveform,hybrid,second] [--folds N]

Each fold's probabilities are cached under bench/_work/vf_cnn/ (an interrupted run resumes; `--folds N`
trains only the first N folds, to time them). Needs the per-record product beats cached by
`python -m bench.rhythm_eval`. Result: bench/results/vf_cnn.json; what it showed: bench/README.md
(rhythm analysis, VF/VFL). `--seed N` trains the networks again from other random weights and draws
(cached apart) and prints the same figures without storing them: how much retraining alone moves them.
"""

import argparse
import os

for _name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
    os.environ.setdefault(_name, "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pickle  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy.ndimage import median_filter  # noqa: E402

from bench import rhythm_eval as rhythm  # noqa: E402
from bench.common import DATA_DIR, REPO, machine, write_result  # noqa: E402
from bench.experiments.vf_complexes import out_of_fold as logistic_out_of_fold  # noqa: E402
from bench.experiments.vf_organisation import counts, pooled, summary  # noqa: E402
from bench.experiments.vf_organisation import episodes as decided_episodes  # noqa: E402
from bench.experiments.vf_regularisation import folds  # noqa: E402
from ecg.rhythm import signal_loss, vf  # noqa: E402

OUTPUT = REPO / "bench" / "results" / "vf_cnn.json"
WORK = REPO / "bench" / "_work" / "vf_cnn"
WIN = vf.WINDOW_S * vf.FS
KINDS = ("waveform", "hybrid", "second")
VALIDATION_CUDB = 4
VALIDATION_MITDB = 4
MITDB_NEGATIVE_SHARE = 0.25  # of MIT-BIH's non-VF windows, drawn again each epoch
EPOCHS, PATIENCE, BATCH = 12, 3, 128
LEARNING_RATE, LR_DECAY = 1e-3, 0.8  # Adam, the rate times LR_DECAY each epoch
# the second stage learns from about a fifth as many windows: more, slower epochs
SECOND_EPOCHS, SECOND_PATIENCE, SECOND_DECAY = 60, 8, 0.95
NOISE_SHARE, SNR_DB, SCALE_RANGE = 0.2, (6.0, 18.0), (0.7, 1.4)
EPS = 0.01  # mV, under a window's standard deviation
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.88, 0.9, 0.92, 0.94, 0.96, 0.98)
CUTS = (0.1, 0.2, 0.3, 0.5, 0.7)
GRACE = vf.DECISION_WINDOWS
SEED = 0


def load() -> dict:
    cached = WORK / "data.pkl"
    if cached.exists():
        with cached.open("rb") as f:
            return pickle.load(f)
    out = {}
    for db, record, ref, prod, feats, starts, label in rhythm.vf_windows():
        span = int(vf.WINDOW_S * prod["fs"])
        lost = signal_loss.long_enough(prod["no_signal"], prod["fs"])
        x = vf._resampled(prod["values"], prod["fs"]).astype(np.float32)
        x = np.pad(x, (0, max(0, (len(starts) - 1) * vf.FS + WIN - len(x))))
        out[(db, record)] = {
            "inputs": vf.model_inputs(feats),
            "x": x,
            "starts": starts,
            "label": label,
            "silent": signal_loss.overlapping(lost, starts, starts + span - 1),
            "muscle": feats[:, vf.FEATURES.index("high_fraction")] > vf.HIGH_FRACTION_MAX,
            "ref": ref,
            "n": len(prod["values"]),
        }
        print(db, record, flush=True)
    WORK.mkdir(parents=True, exist_ok=True)
    with cached.open("wb") as f:
        pickle.dump(out, f)
    return out


def noise_records() -> list[np.ndarray]:
    """The Noise Stress Test Database's noise records, as the product prepares a signal."""
    import wfdb

    out = []
    for name in ("em", "ma", "bw"):
        rec = wfdb.rdrecord(str(DATA_DIR / "nstdb" / "noise_only" / name))
        out.append(vf._resampled(rec.p_signal[:, 0], rec.fs).astype(np.float32))
    return out


def windows(rec: dict, index: np.ndarray) -> np.ndarray:
    return rec["x"][index[:, None] * vf.FS + np.arange(WIN)]


def prepared(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each window over its standard deviation, and the log of that deviation."""
    sd = w.std(axis=1, keepdims=True)
    return (w / (sd + EPS))[..., None].astype(np.float32), np.log(sd + EPS).astype(np.float32)


def build(n_extra: int):
    import keras
    from keras import layers

    wave, extra = keras.Input((WIN, 1)), keras.Input((n_extra,))
    h = wave
    for filters, kernel, stride in ((8, 7, 2), (16, 7, 1), (32, 5, 1), (32, 5, 1)):
        h = layers.Conv1D(filters, kernel, strides=stride, padding="same", use_bias=False)(h)
        h = layers.Activation("relu")(layers.BatchNormalization()(h))
        h = layers.MaxPooling1D(2)(h)
    h = layers.Concatenate()([layers.GlobalAveragePooling1D()(h), layers.GlobalMaxPooling1D()(h), extra])
    h = layers.Dense(16, activation="relu")(layers.Dropout(0.2)(h))
    model = keras.Model([wave, extra], layers.Dense(1, activation="sigmoid")(h))
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="binary_crossentropy")
    return model


def eligible(rec: dict) -> np.ndarray:
    """Windows a network learns from: wholly inside or outside marked VF, with signal, not muscle."""
    clean = (rec["label"] > 0.99) | (rec["label"] == 0)
    return np.flatnonzero(clean & ~rec["silent"] & ~rec["muscle"])


def logistic(data: dict, keys: list):
    """The baseline logistic (shipped inputs, C as shipped) fitted on ``keys``: record -> probabilities."""
    from sklearn.linear_model import LogisticRegression

    keep = [(data[k]["label"] > 0.99) | (data[k]["label"] == 0) for k in keys]
    x = np.concatenate([data[k]["inputs"][m] for k, m in zip(keys, keep)])
    y = np.concatenate([data[k]["label"][m] > 0.5 for k, m in zip(keys, keep)])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    clf = LogisticRegression(C=rhythm.VF_C, class_weight="balanced", max_iter=3000).fit((x - mean) / scale, y)

    def predict(rec: dict) -> np.ndarray:
        p = clf.predict_proba((rec["inputs"] - mean) / scale)[:, 1]
        p[rec["silent"] | rec["muscle"]] = 0.0
        return p

    return predict


def inner_split(data: dict, index: int) -> tuple[list, list]:
    """(inner training, inner validation) records of fold ``index``: the validation records are the
    cudb records of the next ``VALIDATION_CUDB`` folds and the MIT-BIH records of the next two."""
    every = folds(list(data))
    cudb = [f[0] for f in every]
    validation = [cudb[(index + j) % len(cudb)] for j in range(1, VALIDATION_CUDB + 1)]
    for j in range(1, 3):
        validation += every[(index + j) % len(every)][1:]
    validation = validation[: VALIDATION_CUDB + VALIDATION_MITDB]
    train = [k for k in data if k not in every[index] and k not in validation]
    return train, validation


def train_fold(data: dict, kind: str, index: int, held: list, noise: list, seed: int = SEED) -> dict:
    """Train one fold's network; its probabilities on the held-out and inner validation records."""
    import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    keras.utils.set_random_seed(seed + index)
    rng = np.random.default_rng(seed + index)
    started = time.perf_counter()
    inner, validation = inner_split(data, index)
    baseline = logistic(data, inner)
    # the second stage learns only from the windows the logistic reads 0.5 or more (in sample for
    # the inner training records, as `vf_complexes` fits its second stages)
    hard = {k: baseline(data[k]) >= 0.5 for k in inner + validation}
    inputs = np.concatenate([data[k]["inputs"][eligible(data[k])] for k in inner])
    mean, scale = inputs.mean(axis=0), inputs.std(axis=0) + 1e-9

    def extra(rec: dict, index: np.ndarray, log_sd: np.ndarray) -> np.ndarray:
        if kind != "hybrid":
            return log_sd
        return np.column_stack([log_sd, (rec["inputs"][index] - mean) / scale]).astype(np.float32)

    def batch(keys: list, augment: bool) -> tuple[list, np.ndarray]:
        waves, extras, labels = [], [], []
        for k in keys:
            rec = data[k]
            index = eligible(rec)
            vf_window = rec["label"][index] > 0.5
            if kind == "second":
                index = index[hard[k][index]]
            elif k[0] == "mitdb":
                if augment:
                    index = index[vf_window | (rng.random(len(index)) < MITDB_NEGATIVE_SHARE)]
                else:
                    index = index[vf_window | (index % round(1 / MITDB_NEGATIVE_SHARE) == 0)]
            w = windows(rec, index)
            if augment:
                w = w * rng.choice([-1.0, 1.0], len(w))[:, None] * rng.uniform(*SCALE_RANGE, len(w))[:, None]
                noisy = np.flatnonzero(rng.random(len(w)) < NOISE_SHARE)
                for i in noisy:
                    source = noise[rng.integers(len(noise))]
                    at = rng.integers(len(source) - WIN)
                    segment = source[at : at + WIN]
                    gain = w[i].std() * 10 ** (-rng.uniform(*SNR_DB) / 20) / max(segment.std(), 1e-9)
                    w[i] = w[i] + gain * segment
            wave, log_sd = prepared(w)
            waves.append(wave)
            extras.append(extra(rec, index, log_sd))
            labels.append(rec["label"][index] > 0.5)
        y = np.concatenate(labels).astype(np.float32)
        return [np.concatenate(waves), np.concatenate(extras)], y

    def weights(y: np.ndarray) -> np.ndarray:
        share = min(max(float(y.mean()), 1e-3), 1 - 1e-3)
        return np.where(y > 0.5, 0.5 / share, 0.5 / (1 - share)).astype(np.float32)

    model = build(1 + len(vf.INPUTS) if kind == "hybrid" else 1)
    x_val, y_val = batch(validation, augment=False)
    w_val = weights(y_val)
    best, best_loss, since, history = None, np.inf, 0, []
    epochs, patience, decay = (
        (SECOND_EPOCHS, SECOND_PATIENCE, SECOND_DECAY) if kind == "second" else (EPOCHS, PATIENCE, LR_DECAY)
    )
    for epoch in range(epochs):
        model.optimizer.learning_rate.assign(LEARNING_RATE * decay**epoch)
        x, y = batch(inner, augment=True)
        model.fit(x, y, sample_weight=weights(y), batch_size=BATCH, epochs=1, shuffle=True, verbose=0)
        loss = float(model.evaluate(x_val, y_val, sample_weight=w_val, batch_size=1024, verbose=0))
        history.append(round(loss, 4))
        if loss < best_loss:
            best, best_loss, since = model.get_weights(), loss, 0
        else:
            since += 1
            if since >= patience:
                break
    model.set_weights(best)
    out: dict = {}
    for k in held + validation:
        rec = data[k]
        index = np.arange(len(rec["starts"]))
        wave, log_sd = prepared(windows(rec, index))
        p = model.predict([wave, extra(rec, index, log_sd)], batch_size=1024, verbose=0)[:, 0]
        p[rec["silent"] | rec["muscle"]] = 0.0
        out[f"cnn {k[0]}/{k[1]}"] = p
        out[f"logistic {k[0]}/{k[1]}"] = baseline(rec)
    out["validation"] = np.array([f"{db}/{r}" for db, r in validation])
    out["history"] = np.array(history)
    out["epochs"] = np.array(len(history))
    out["parameters"] = np.array(model.count_params())
    out["train_windows"] = np.array(len(batch(inner, augment=False)[1]))
    out["seconds"] = np.array(round(time.perf_counter() - started, 1))
    return out


def fold_results(data: dict, kind: str, limit: int | None, seed: int = SEED) -> list[dict]:
    WORK.mkdir(parents=True, exist_ok=True)
    noise: list = []
    out = []
    for i, held in enumerate(folds(list(data))):
        path = WORK / (f"{kind}-fold{i:02d}.npz" if seed == SEED else f"{kind}-seed{seed}-fold{i:02d}.npz")
        if not path.exists():
            if limit is not None and i >= limit:
                continue
            noise = noise or noise_records()
            result = train_fold(data, kind, i, held, noise, seed)
            np.savez(path, **result)
            print(
                f"{kind} fold {i} ({held[0][1]}): {float(result['seconds'])} s, "
                f"{int(result['epochs'])} epochs, val loss {result['history'].tolist()}",
                flush=True,
            )
        out.append({"held": held} | dict(np.load(path)))
    return out


def decide(data: dict, keys: list, probability, threshold: float, veto=None, grace: int = 0) -> dict:
    """Counts over ``keys`` with the product's rule at ``threshold``; ``veto`` leaves windows out."""
    return counts(
        data,
        keys,
        lambda k: decided_episodes(
            data[k], probability(k), None if veto is None else veto(k), grace, threshold=threshold
        ),
    )


def choice_score(s: dict) -> tuple:
    """How a setting reads on inner validation: every episode, every onset within 10 s and no VF in
    clean sinus first, then the lower of duration Se and +P, then the higher setting."""
    found, total = s["episodes_found"].split("/")
    ok = found == total and s["later_than_10_s_or_missed"] == 0 and s["mitdb_other_clean_sinus"] == 0
    return (ok, min(s["duration_se"] or 0.0, s["duration_ppv"] or 0.0))


def variants_of(kind: str, runs: list[dict], data: dict) -> dict:
    """Per variant: (grid, detector(fold run, setting) -> key -> counts arguments)."""

    def p(run, source):
        return lambda k: run[f"{source} {k[0]}/{k[1]}"]

    def mean(run):
        return lambda k: 0.5 * (run[f"cnn {k[0]}/{k[1]}"] + run[f"logistic {k[0]}/{k[1]}"])

    def vetoed(run, cut):
        def probability(k):
            base, cnn = run[f"logistic {k[0]}/{k[1]}"], run[f"cnn {k[0]}/{k[1]}"]
            return np.where((base >= 0.5) & (median_filter(cnn, size=5, mode="nearest") < cut), 0.0, base)

        return probability

    def late_veto(run, cut):
        return lambda k: median_filter(run[f"cnn {k[0]}/{k[1]}"], size=5, mode="nearest") < cut

    return {
        f"CNN ({kind})": (THRESHOLDS, lambda run, keys, t: decide(data, keys, p(run, "cnn"), t)),
        f"mean of CNN ({kind}) and logistic": (THRESHOLDS, lambda run, keys, t: decide(data, keys, mean(run), t)),
        f"CNN ({kind}) veto on logistic windows >= 0.5, 5-window median < cut, at 0.88": (
            CUTS,
            lambda run, keys, c: decide(data, keys, vetoed(run, c), vf.THRESHOLD),
        ),
        f"CNN ({kind}) veto after a decided stretch's first {GRACE} windows, 5-window median < cut, at 0.88": (
            CUTS,
            lambda run, keys, c: decide(
                data, keys, p(run, "logistic"), vf.THRESHOLD, veto=late_veto(run, c), grace=GRACE
            ),
        ),
    }


def score(kind: str, runs: list[dict], data: dict) -> dict:
    out = {}
    for name, (grid, detect) in variants_of(kind, runs, data).items():
        if kind == "second" and "veto" not in name:
            continue  # the second stage has not learnt the windows the logistic reads under 0.5
        chosen, parts = [], []
        for run in runs:
            validation = [tuple(v.split("/")) for v in run["validation"]]
            best = max(grid, key=lambda g: (choice_score(summary(detect(run, validation, g))), g))
            chosen.append(best)
            parts.append(detect(run, run["held"], best))
        out[name] = {
            "chosen on inner validation": summary(pooled(*parts)),
            "settings chosen per fold": chosen,
            "grid (a setting picked here is picked on the records scored)": {
                str(g): summary(pooled(*(detect(run, run["held"], g) for run in runs))) for g in grid
            },
        }
        print(name, out[name]["chosen on inner validation"], chosen, flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--folds", type=int, default=None, help="train at most this many folds (timing)")
    parser.add_argument("--seed", type=int, default=SEED, help="another seed: printed, not stored (noise check)")
    args = parser.parse_args()
    load_before = os.getloadavg()
    started = time.perf_counter()
    data = load()
    n_folds = len(folds(list(data)))
    baseline = logistic_out_of_fold(data, lambda r: r["inputs"], rhythm.VF_C)
    result: dict = {
        "baseline: shipped inputs, logistic C = 0.001 refitted per fold on every training record": {
            "at the shipped 0.88": summary(pooled(decide(data, list(data), lambda k: baseline[k], vf.THRESHOLD))),
            "grid (a setting picked here is picked on the records scored)": {
                str(t): summary(pooled(decide(data, list(data), lambda k: baseline[k], t))) for t in THRESHOLDS
            },
        }
    }
    print("baseline", result[next(iter(result))]["at the shipped 0.88"], flush=True)
    training: dict = {}
    for kind in args.kinds.split(","):
        runs = fold_results(data, kind, args.folds, args.seed)
        training[kind] = {
            "folds trained": len(runs),
            "seconds per fold": [float(r["seconds"]) for r in runs],
            "epochs": [int(r["epochs"]) for r in runs],
            "parameters": int(runs[0]["parameters"]) if runs else None,
            "training windows per fold (MIT-BIH's non-VF windows every 4th)": [int(r["train_windows"]) for r in runs],
        }
        print(kind, training[kind], flush=True)
        if len(runs) == n_folds:
            result |= score(kind, runs, data)
    if args.folds is not None or args.seed != SEED:
        return
    write_result(
        OUTPUT,
        {
            "command": "python -m bench.experiments.vf_cnn",
            "threshold": vf.THRESHOLD,
            "decision_windows": vf.DECISION_WINDOWS,
            "folds": [[f"{db}/{r}" for db, r in f] for f in folds(list(data))],
            "network": {
                "convolutions (filters, kernel, stride; each with batch norm, ReLU, max-pool 2)": [
                    (8, 7, 2),
                    (16, 7, 1),
                    (32, 5, 1),
                    (32, 5, 1),
                ],
                "head": "global mean and max pool, log window SD (hybrid: + 12 shipped inputs), dropout 0.2, dense 16",
                "epochs max / patience / batch": [EPOCHS, PATIENCE, BATCH],
                "Adam learning rate, decay per epoch": [LEARNING_RATE, LR_DECAY],
                "second stage: epochs max / patience / decay per epoch": [SECOND_EPOCHS, SECOND_PATIENCE, SECOND_DECAY],
                "validation records per fold (cudb, MIT-BIH)": [VALIDATION_CUDB, VALIDATION_MITDB],
                "mitdb negative share per epoch": MITDB_NEGATIVE_SHARE,
                "noise share, SNR dB, amplitude scale": [NOISE_SHARE, SNR_DB, SCALE_RANGE],
            },
            "training": training,
            "variants": result,
            "seconds": round(time.perf_counter() - started, 1),
            "machine": machine(load_before),
        },
    )


if __name__ == "__main__":
    main()
