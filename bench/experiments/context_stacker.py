"""EXPERIMENT: a second stage that re-decides each beat's class from the context the first stage lacks.

    .venv/bin/python -m bench.experiments.context_stacker [--models trees,gru] [--markdown]

The record-level classifier (heartbeat_record-2026.12-ctx3 when this was run) sees one beat, two neighbours' timing and
shape and a few rhythm summaries; its largest S errors are about context: N beats called S all
through an atrial fibrillation or sinus arrhythmia record (MIT-BIH 201-203, 219, 222; svdb 804, 859,
867), and S runs whose later beats look like the patient's own. Here a second model reads, per beat,
the first stage's class probabilities of the beat and of its ``K`` neighbours either side (log, zero
padded past the record's edges with a mask flag), those neighbours' RR intervals over the record's
underlying rhythm (``context.baseline_rr``) and over the local median RR, and record-level and
60-s aggregates (share of beats the first stage calls S and V, fraction of successive RR differences
over 50 ms, median RR), and answers the beat's class; the supraventricular-run rule
(``hp.decide``) follows, as in the product, and the figures without it are kept beside.

Inputs are the out-of-fold probabilities of the shipped recipe (three network seeds averaged, then
averaged with trees, per record-wise CV fold; ``bench.rhythm_unseen.out_of_fold``, kept in
training-runs/oof). The stacker is trained and scored by the SAME record-wise folds: for test fold
``k`` it is fitted on the other folds' records only, and its hyperparameters are chosen by inner
record-wise validation inside those training records (mean F1 of N, S and V after the run rule, as
the first stage's model choice), never on fold ``k``. Caveat of stacking on out-of-fold
probabilities without re-training the first stage inside each outer fold: a training record's
first-stage probabilities came from a model fitted on the other four folds, which include fold
``k``'s records, so fold ``k``'s labels reach the stacker's *inputs* (not its targets) at second
hand. The baseline, the shipped decision (argmax then the run rule) on the same probabilities, is
computed here beside it. Intervals: 95 % bootstrap percentiles over records (``protocols.report``).

Per fold the stacker's probabilities are kept (training-runs/oof/context_stacker_<model>.npz and
.json), so an interrupted run resumes. Result: bench/results/context_stacker.json.
"""

from __future__ import annotations

import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from bench import heartbeat_protocols as hp
from bench.common import REPO, arguments, machine, write_result
from ecg.constants import AAMI_CLASSES
from ecg.evaluation import protocols
from ecg.processing.context import MAX_RR_S, baseline_rr
from ecg.training import record as rt

OUTPUT = REPO / "bench" / "results" / "context_stacker.json"
N, S, V = 0, 1, 2
WINDOW_S = 30.0  # aggregates over the 60 s centred on the beat
PNN_S = 0.05  # successive RR differences over 50 ms
N_KEEP = 0.35  # share of N beats each fit draws, as the first stage's trees
INNER_FOLDS = 3  # inner record-wise validation: fitted on two thirds of the training records, scored on the rest
# candidates chosen by inner validation per outer fold (tree regularisation; ``k`` neighbours either
# side). A wider grid (k 16, and three candidates by two inner folds) cost 13 min of this shared machine
# per outer fold and was stopped: k 8 / 16 / 8 small scored 0.831 / 0.830 / 0.826 in outer fold 0.
TREE_GRID = {
    "k8": {"k": 8, "max_iter": 150, "max_leaf_nodes": 31, "min_samples_leaf": 40, "learning_rate": 0.1},
    "k8_small": {"k": 8, "max_iter": 100, "max_leaf_nodes": 15, "min_samples_leaf": 200, "learning_rate": 0.1},
}
GRU_K = 16
GRU_VAL_FOLDS = 4  # the GRU keeps the epoch best on a quarter of the training records, fitted on the rest
SEQ_CHANNELS = 8  # per neighbour: 5 log-probabilities, RR / baseline, RR / local median, mask
N_STATIC = 12


def first_stage(records, ids) -> dict[str, np.ndarray]:
    """The shipped recipe's out-of-fold probabilities (networks' mean + trees, halved to an average)."""
    from bench.rhythm_unseen import out_of_fold

    return {r: p / 2.0 for r, p in out_of_fold(records, ids).items()}


def _windowed_mean(t: np.ndarray, x: np.ndarray, before: float, after: float) -> np.ndarray:
    """Per beat at times ``t``, the mean of ``x`` over the beats within [t - before, t + after]."""
    cs = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    lo = np.searchsorted(t, t - before, side="left")
    hi = np.searchsorted(t, t + after, side="right")
    return (cs[hi] - cs[lo]) / np.maximum(hi - lo, 1)


def context_inputs(record: rt.RecordData, p: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(sequence (n, 2k+1, SEQ_CHANNELS), static (n, N_STATIC)) inputs of every beat of one record."""
    n = len(p)
    t = np.asarray(record.r_peaks, np.float64) / record.fs
    rr = np.clip(np.diff(t), 0.05, MAX_RR_S) if n > 1 else np.ones(0)
    rr_pre = np.concatenate([rr[:1] if len(rr) else [1.0], rr]).astype(np.float64)  # RR into each beat
    base = baseline_rr(record.r_peaks, record.fs) if n > 1 else np.ones(n)
    padded = np.pad(rr_pre, k, mode="edge")
    local = np.median(np.lib.stride_tricks.sliding_window_view(padded, 2 * k + 1), axis=1)
    offsets = np.arange(-k, k + 1)
    idx = np.arange(n)[:, None] + offsets[None, :]
    valid = (idx >= 0) & (idx < n)
    idx = np.clip(idx, 0, n - 1)
    logp = np.log(np.clip(p, 1e-4, 1.0))
    seq = np.zeros((n, 2 * k + 1, SEQ_CHANNELS), np.float32)
    seq[..., :5] = logp[idx]
    seq[..., 5] = rr_pre[idx] / base[:, None]
    seq[..., 6] = rr_pre[idx] / local[:, None]
    seq[..., :7] *= valid[..., None]
    seq[..., 7] = valid
    calls = p.argmax(axis=1)
    decided = hp.decide(p, record)
    jump = np.concatenate([[0.0], (np.abs(np.diff(rr_pre)) > PNN_S).astype(np.float64)])
    static = np.stack(
        [
            np.full(n, (calls == S).mean()),
            np.full(n, (calls == V).mean()),
            _windowed_mean(t, (calls == S).astype(float), WINDOW_S, WINDOW_S),
            _windowed_mean(t, (calls == V).astype(float), WINDOW_S, WINDOW_S),
            np.full(n, jump.mean()),
            _windowed_mean(t, jump, WINDOW_S, WINDOW_S),
            _windowed_mean(t, jump, 2 * WINDOW_S, 0.0),  # the last 60 s
            np.full(n, np.median(rr_pre)),
            base,
            local,
            decided.astype(float),
            (decided != calls).astype(float),
        ],
        axis=1,
    ).astype(np.float32)
    return seq, static


def flat_inputs(record, p, k) -> np.ndarray:
    seq, static = context_inputs(record, p, k)
    return np.concatenate([seq.reshape(len(seq), -1), static], axis=1)


def _training_rows(records, probs, ids, k, seed):
    """Inputs, labels and weights of the labelled beats of ``ids``: ``N_KEEP`` of the N beats drawn
    once, class weights (N count / class count) ^ 0.5 as the first stage's trees."""
    x = np.concatenate([flat_inputs(records[r], probs[r], k) for r in ids])
    y = np.concatenate([records[r].labels for r in ids])
    rng = np.random.default_rng(seed)
    keep = (y >= 0) & ((y != N) | (rng.random(len(y)) < N_KEEP))
    x, y = x[keep], y[keep]
    w = rt.class_weights(y, rt.TREE_ALPHA) * np.where(np.arange(len(AAMI_CLASSES)) == N, 1.0, N_KEEP)
    return x, y, w[y]


MAX_BINS = 255


def quantiles(x: np.ndarray) -> list[np.ndarray]:
    """Per column, the unweighted bin edges HistGradientBoosting would use (at most MAX_BINS bins)."""
    q = np.linspace(0, 100, MAX_BINS + 1)[1:-1]
    return [np.unique(np.percentile(col, q)) for col in x.T]


def quantised(x: np.ndarray, edges: list[np.ndarray]) -> np.ndarray:
    """``x`` as bin indices: scikit-learn 1.9 bins by *weighted* percentiles when given sample
    weights, 112 s per fit of 80,000 beats on this machine against 4 s unweighted; a column with at most
    MAX_BINS distinct values is binned by its values, so quantising first keeps the weights' effect on
    the trees and the unweighted binning's speed."""
    return np.stack([np.searchsorted(e, col, side="right") for e, col in zip(edges, x.T)], axis=1).astype(np.float32)


def fit_trees(records, probs, ids, params: dict, seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y, w = _training_rows(records, probs, ids, params["k"], seed)
    edges = quantiles(x)
    kw = {key: v for key, v in params.items() if key != "k"}
    clf = HistGradientBoostingClassifier(**kw, l2_regularization=1.0, early_stopping=False, random_state=seed)
    clf.fit(quantised(x, edges), y, sample_weight=w)
    return clf, edges


def trees_predict(fitted, record, p, k) -> np.ndarray:
    clf, edges = fitted
    out = np.zeros((len(p), len(AAMI_CLASSES)), np.float32)
    out[:, clf.classes_] = clf.predict_proba(quantised(flat_inputs(record, p, k), edges))
    return out


def score(records, ids, probs_out) -> float:
    """Mean F1 of N, S and V after the run rule, pooled over ``ids`` (the project's model-choice score)."""
    y = np.concatenate([records[r].labels for r in ids])
    pred = np.concatenate([hp.decide(probs_out[r], records[r]) for r in ids])
    return rt.selection_score(y, pred)


def trees_fold(records, probs, k_fold, train, test, log) -> tuple[dict, dict]:
    """Stacker probabilities of ``test``: the grid's candidate with the best score on the inner
    validation records (one of ``INNER_FOLDS`` record-wise folds of ``train``, the candidates fitted on
    the others), refitted on all of ``train``."""
    val = hp.folds(train, INNER_FOLDS, seed=100 + k_fold)[0]
    scores = {}
    for name, params in TREE_GRID.items():
        clf = fit_trees(records, probs, [r for r in train if r not in val], params, seed=k_fold)
        got = {r: trees_predict(clf, records[r], probs[r], params["k"]) for r in val}
        scores[name] = score(records, val, got)
        log(f"fold {k_fold} inner {name}: {scores[name]:.4f}")
    best = max(scores, key=lambda c: scores[c])
    clf = fit_trees(records, probs, train, TREE_GRID[best], seed=k_fold)
    out = {r: trees_predict(clf, records[r], probs[r], TREE_GRID[best]["k"]) for r in test}
    return out, {"inner_scores": scores, "chosen": best, "first_stage_inner_score": score(records, val, probs)}


def _gru_model(k: int):
    import keras
    from keras import layers

    seq = keras.Input((2 * k + 1, SEQ_CHANNELS), name="sequence")
    static = keras.Input((N_STATIC,), name="static")
    h = layers.Conv1D(32, 3, padding="same", activation="relu")(seq)
    h = layers.Bidirectional(layers.GRU(24))(h)
    centre = layers.Flatten()(layers.Cropping1D((k, k))(seq))
    z = layers.Concatenate()([h, centre, layers.BatchNormalization()(static)])
    z = layers.Dense(32, activation="relu")(z)
    out = layers.Dense(len(AAMI_CLASSES), activation="softmax")(z)
    model = keras.Model([seq, static], out)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    return model


def _gru_arrays(records, probs, ids, labelled: bool, seed: int = 0):
    parts = [context_inputs(records[r], probs[r], GRU_K) for r in ids]
    seq = np.concatenate([a for a, _ in parts])
    static = np.concatenate([b for _, b in parts])
    y = np.concatenate([records[r].labels for r in ids])
    if not labelled:
        return seq, static, y
    rng = np.random.default_rng(seed)
    keep = (y >= 0) & ((y != N) | (rng.random(len(y)) < N_KEEP))
    return seq[keep], static[keep], y[keep]


def gru_fold(records, probs, k_fold, train, test, log, epochs: int = 6) -> tuple[dict, dict]:
    """A small 1-D conv + bidirectional GRU over the beat sequence; the epoch kept is the one with the
    best score on inner validation records (one of ``GRU_VAL_FOLDS`` record-wise folds of ``train``)."""
    import keras

    keras.utils.set_random_seed(k_fold)
    val = hp.folds(train, GRU_VAL_FOLDS, seed=100 + k_fold)[0]
    fit_ids = [r for r in train if r not in val]
    seq, static, y = _gru_arrays(records, probs, fit_ids, True, seed=k_fold)
    w = rt.class_weights(y, rt.TREE_ALPHA) * np.where(np.arange(len(AAMI_CLASSES)) == N, 1.0, N_KEEP)
    model = _gru_model(GRU_K)
    val_inputs = {r: context_inputs(records[r], probs[r], GRU_K) for r in val}
    best, best_weights, scores = -1.0, None, []
    for epoch in range(epochs):
        model.fit([seq, static], y, sample_weight=w[y], batch_size=512, epochs=1, verbose=0, shuffle=True)
        got = {r: model.predict(list(val_inputs[r]), batch_size=4096, verbose=0) for r in val}
        s = score(records, val, got)
        scores.append(round(s, 4))
        log(f"fold {k_fold} gru epoch {epoch + 1}: inner {s:.4f}")
        if s > best:
            best, best_weights = s, model.get_weights()
    model.set_weights(best_weights)
    out = {
        r: model.predict(list(context_inputs(records[r], probs[r], GRU_K)), batch_size=4096, verbose=0) for r in test
    }
    return out, {"inner_scores_per_epoch": scores, "chosen_epoch": int(np.argmax(scores)) + 1}


def stacked(name: str, fold_fn, records, probs, ids, log) -> tuple[dict[str, np.ndarray], dict]:
    """Out-of-fold stacker probabilities by the first stage's record-wise folds (kept per fold)."""
    path = hp.TREE_OOF / f"context_stacker_{name}{hp.tree_reading()}.npz"  # its first stage's trees' reading
    meta_path = path.with_suffix(".json")
    out = dict(np.load(path)) if path.exists() else {}
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    for k, test in enumerate(hp.folds(ids)):
        if all(t in out for t in test) and str(k) in meta:
            continue
        t0 = time.time()
        train = [i for i in ids if i not in test]
        got, info = fold_fn(records, probs, k, train, test, log)
        out.update(got)
        meta[str(k)] = {**info, "seconds": round(time.time() - t0)}
        hp.TREE_OOF.mkdir(parents=True, exist_ok=True)
        np.savez(path, **out)
        meta_path.write_text(json.dumps(meta, indent=1))
        log(f"{name} fold {k}: {time.time() - t0:.0f} s {info.get('chosen', '')}")
    return out, meta


def figures(records, ids, probs, run_rule: bool) -> dict:
    mats = {r: protocols.confusion(records[r].labels, hp.decide(probs[r], records[r], run_rule)) for r in ids}
    return hp.summary(mats, records)


def pct(v) -> float | None:
    return None if v is None else round(100 * v, 1)


def compact(rep: dict) -> dict:
    """Pooled Se / +P (%) with intervals of N, S, V, F, and each record's S and V counts."""
    out = {
        "pooled": {
            c: {
                "se": pct(s["se"]),
                "ppv": pct(s["ppv"]),
                "n": s["n"],
                "se_ci95": [pct(v) for v in s["ci95"]["se"]] if s["ci95"] and s["ci95"]["se"] else None,
                "ppv_ci95": [pct(v) for v in s["ci95"]["ppv"]] if s["ci95"] and s["ci95"]["ppv"] else None,
            }
            for c, s in rep["classes"].items()
            if c in ("N", "S", "V", "F")
        },
        "records": {},
    }
    for r, rec in rep["records"].items():
        m = np.array(rec["confusion"])
        out["records"][r] = {
            c: {"n": int(m[i].sum()), "tp": int(m[i, i]), "called": int(m[:, i].sum())} for c, i in (("S", S), ("V", V))
        }
    return out


def changes(base: dict, new: dict, c: str, top: int = 8) -> dict:
    """Records whose errors (missed + false calls) of class ``c`` fell or rose most against the baseline."""
    delta = {}
    for r in base["records"]:
        b, s = base["records"][r][c], new["records"][r][c]
        err_b = (b["n"] - b["tp"]) + (b["called"] - b["tp"])
        err_s = (s["n"] - s["tp"]) + (s["called"] - s["tp"])
        delta[r] = {
            "errors": [err_b, err_s],
            "tp": [b["tp"], s["tp"]],
            "called": [b["called"], s["called"]],
            "n": b["n"],
        }
    order = sorted(delta, key=lambda r: delta[r]["errors"][1] - delta[r]["errors"][0])
    return {
        "improved": {r: delta[r] for r in order[:top] if delta[r]["errors"][1] < delta[r]["errors"][0]},
        "worsened": {r: delta[r] for r in reversed(order[-top:]) if delta[r]["errors"][1] > delta[r]["errors"][0]},
    }


def markdown(result: dict) -> str:
    def cell(p, c):
        s = p[c]
        ci = lambda v: f"[{v[0]}, {v[1]}]" if v else ""  # noqa: E731
        return f"{s['se']} {ci(s['se_ci95'])} / {s['ppv']} {ci(s['ppv_ci95'])}"

    lines = ["| decision | N Se / +P | S Se / +P | V Se / +P | F Se / +P |", "|---|---|---|---|---|"]
    for name, v in result["variants"].items():
        lines.append(f"| {name} | " + " | ".join(cell(v["pooled"], c) for c in ("N", "S", "V", "F")) + " |")
    for name, ch in result.get("changes", {}).items():
        lines += ["", f"{name}:"]
        for c, d in ch.items():
            for kind in ("improved", "worsened"):
                items = ", ".join(
                    f"{r} {v['errors'][0]}->{v['errors'][1]} (tp {v['tp'][0]}->{v['tp'][1]}, called {v['called'][0]}->{v['called'][1]}, n {v['n']})"
                    for r, v in d[kind].items()
                )
                lines.append(f"- {c} {kind}: {items or '-'}")
    return "\n".join(lines)


def main() -> None:
    args = arguments(
        __doc__,
        OUTPUT,
        markdown,
        lambda parser: parser.add_argument("--models", default="trees", help="trees and/or gru, comma-separated"),
    )
    if args is None:
        return
    load_before = os.getloadavg()
    started = time.perf_counter()
    ids, records = hp.all_records()
    probs = first_stage(records, ids)

    def log(m):
        print(f"  {m}", flush=True)

    variants = {
        "baseline: argmax + run rule (shipped)": compact(figures(records, ids, probs, True)),
        "baseline: argmax, no run rule": compact(figures(records, ids, probs, False)),
    }
    folds_meta = {}
    fns = {"trees": trees_fold, "gru": gru_fold}
    for name in args.models.split(","):
        out, meta = stacked(name, fns[name], records, probs, ids, log)
        folds_meta[name] = meta
        variants[f"stacker {name} + run rule"] = compact(figures(records, ids, out, True))
        variants[f"stacker {name}, no run rule"] = compact(figures(records, ids, out, False))
        # added after the figures above were seen, one preset weight, not tuned: does the stacker
        # carry anything the first stage lacks when the two are averaged?
        mean = {r: 0.5 * (out[r] + probs[r]) for r in ids}
        variants[f"stacker {name} and first stage averaged + run rule (post hoc)"] = compact(
            figures(records, ids, mean, True)
        )
    base = variants["baseline: argmax + run rule (shipped)"]
    result = {
        "command": "python -m bench.experiments.context_stacker"
        + (f" --models {args.models}" if args.models != "trees" else ""),
        "first_stage": "bench.rhythm_unseen.out_of_fold: cnn_a05 x3 seeds + trees per record-wise CV fold, averaged",
        "tree_grid": TREE_GRID,
        "inner_folds": INNER_FOLDS,
        "gru": {"k": GRU_K, "validation_folds": GRU_VAL_FOLDS} if "gru" in args.models else None,
        "variants": variants,
        "changes": {
            name: {c: changes(base, v, c) for c in ("S", "V")}
            for name, v in variants.items()
            if name.startswith("stacker") and "+ run rule" in name
        },
        "folds": folds_meta,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine(load_before),
    }
    write_result(OUTPUT, result)
    print(markdown(result))


if __name__ == "__main__":
    main()
