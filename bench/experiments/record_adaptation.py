"""Adapting to each record's own confident beats: does a per-record V-against-N model help V runs on unseen patients?

    .venv/bin/python -m bench.experiments.record_adaptation

DESIGN.md names "adapting to each record's own confident beats" as a next step the inter-patient literature reports.
Per record, from the shipped recipe's out-of-fold probabilities (`bench.rhythm_unseen`'s folds and caches): the
beats the classifier calls V with probability >= ``V_CONFIDENT`` and N with >= ``N_CONFIDENT`` are the record's own
labelled examples; a regularised logistic regression on that record's inputs (its context features and the QRS of
both leads and their differences from the template) learns V against N there, and each beat's V-and-N mass is then
shared between V and N as ``(1 - alpha)`` the classifier's split and ``alpha`` the record's own model's. Records
with fewer than ``MIN_EXAMPLES`` confident beats of either class are left as they are. Scored as
`bench.rhythm_unseen` scores (EC57's run-by-run comparison) and beat by beat (V and S, pooled over the 96 records,
against the reference labels of the matched beats). Result: bench/results/record_adaptation.json.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from bench import heartbeat_protocols as hp
from bench import rhythm_eval as re_
from bench import rhythm_unseen as ru
from bench.common import REPO, write_result
from ecg.constants import AAMI_CLASSES
from ecg.models.decision import SHAPE_QRS

OUTPUT = REPO / "bench" / "results" / "record_adaptation.json"
V_CONFIDENT = 0.9
N_CONFIDENT = 0.95
MIN_EXAMPLES = 10
ALPHAS = (0.0, 0.25, 0.5, 0.75)
N, S, V = (AAMI_CLASSES.index(c) for c in "NSV")


def inputs(record) -> np.ndarray:
    """One row per beat: the context features and the QRS of every morphology channel, standardised in the record."""
    qrs = record.morphology[:, SHAPE_QRS, :].reshape(len(record.r_peaks), -1)
    x = np.concatenate([record.features, qrs], axis=1).astype(np.float64)
    sd = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(sd > 1e-9, sd, 1.0)


def record_v(record, probs: np.ndarray) -> np.ndarray | None:
    """The record's own model's V probability (V against N) of every beat, or None where too few examples."""
    p = probs / probs.sum(axis=1, keepdims=True)
    v = p[:, V] >= V_CONFIDENT
    n = p[:, N] >= N_CONFIDENT
    if v.sum() < MIN_EXAMPLES or n.sum() < MIN_EXAMPLES:
        return None
    x = inputs(record)
    train = v | n
    model = LogisticRegression(C=0.05, class_weight="balanced", max_iter=500)
    model.fit(x[train], v[train].astype(int))
    return model.predict_proba(x)[:, 1]


def adapted(probs: np.ndarray, q: np.ndarray | None, alpha: float) -> np.ndarray:
    if q is None or alpha == 0:
        return probs
    out = probs.copy()
    mass = probs[:, N] + probs[:, V]
    share_v = np.where(mass > 0, probs[:, V] / np.where(mass > 0, mass, 1), 0)
    new_v = (1 - alpha) * share_v + alpha * q
    out[:, V] = mass * new_v
    out[:, N] = mass * (1 - new_v)
    return out


def beat_counts(record, classes: np.ndarray) -> dict[str, int]:
    ref = record.labels
    keep = ref >= 0
    out = {}
    for name, k in (("V", V), ("S", S)):
        out[f"{name}_ref"] = int(((ref == k) & keep).sum())
        out[f"{name}_found"] = int(((ref == k) & (classes == k)).sum())
        out[f"{name}_called"] = int(((classes == k) & keep).sum())
    return out


def pct(a: int, b: int) -> float:
    return round(100.0 * a / b, 2) if b else 0.0


def main() -> None:
    ids, records = hp.all_records()
    probs = ru.out_of_fold(records, ids)
    contexts = {}
    per_alpha: dict[float, list[dict]] = {a: [] for a in ALPHAS}
    adapted_records = 0
    for rid in ids:
        record = records[rid]
        q = record_v(record, probs[rid])
        adapted_records += q is not None
        if rid not in contexts:
            contexts[rid] = ru.record_context(rid, record)
        for alpha in ALPHAS:
            p = adapted(probs[rid], q, alpha)
            classes = hp.decide(p, record)
            db, name = rid.split("/")
            per_alpha[alpha].append(
                {
                    "db": db,
                    "record": name,
                    "adapted": q is not None,
                    **beat_counts(record, classes),
                    **ru.product_runs(record, p, contexts[rid]),
                }
            )
        print(rid, "adapted" if q is not None else "as it was", flush=True)
    result: dict = {"command": "python -m bench.experiments.record_adaptation", "adapted_records": adapted_records}
    for alpha, rows in per_alpha.items():
        beats = {k: sum(r[k] for r in rows) for k in rows[0] if k.endswith(("_ref", "_found", "_called"))}
        result[str(alpha)] = {
            "runs_ec57_all": re_.run_totals(rows, "runs_product_ec57", lambda r: True),
            "beats": {
                c: {
                    "se": pct(beats[f"{c}_found"], beats[f"{c}_ref"]),
                    "ppv": pct(beats[f"{c}_found"], beats[f"{c}_called"]),
                }
                for c in "VS"
            },
            # the records whose beats or runs moved from the classifier's own (alpha 0)
            "records_moved": [
                {k: r[k] for k in ("db", "record", "V_ref", "V_found", "V_called", "runs_product_ec57")}
                for r, r0 in zip(rows, per_alpha[ALPHAS[0]])
                if (r["V_found"], r["V_called"], r["runs_product_ec57"])
                != (r0["V_found"], r0["V_called"], r0["runs_product_ec57"])
            ],
        }
        t = result[str(alpha)]["runs_ec57_all"]
        print(
            f"alpha {alpha}: "
            + "; ".join(f"{c} {t[c]['se']} / {t[c]['ppv']}" for c in re_.RUN_CLASSES)
            + f"; beats V {result[str(alpha)]['beats']['V']}, S {result[str(alpha)]['beats']['S']}",
            flush=True,
        )
    write_result(OUTPUT, result)


if __name__ == "__main__":
    main()
