"""EXPERIMENT: adapt the beat classes' priors to each record (label shift, Saerens et al. 2002).

Every patient has their own mix of beats: one record holds 600 S beats, the next none. The model's
probabilities carry the class mix it was trained at (class-weighted), the same for every record.
Here each record's own class mix is estimated by expectation-maximisation over the model's
probabilities on that record, and the probabilities are reweighted by how the record's estimated mix
departs from the training population's (``strength`` 1: fully; 0.5: the square root of that ratio;
0: the shipped decision). Scored on the out-of-fold probabilities of the shipped recipe (three
network seeds and trees per record-wise CV fold, as `bench.rhythm_unseen` keeps them), with the
supraventricular-run rule after, as the product decides.

    .venv/bin/python -m bench.experiments.prior_shift

Result: bench/results/prior_shift.json.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from bench import heartbeat_protocols as hp
from bench.common import REPO, machine, write_result
from ecg.constants import AAMI_CLASSES
from ecg.evaluation import protocols
from ecg.training import record as rt

OUTPUT = REPO / "bench" / "results" / "prior_shift.json"
CONFIG = "cnn_a05"


def oof_probabilities(ids) -> dict[str, np.ndarray]:
    parts = [hp.seed_oof_name(CONFIG, seed) for seed in range(hp.SEEDS)]
    seeds = [dict(np.load(hp.TREE_OOF / f"{p}.npz")) for p in parts if (hp.TREE_OOF / f"{p}.npz").exists()]
    trees = dict(np.load(hp.TREE_OOF / f"{hp.tree_oof_name(hp.SHIPPED)}.npz"))
    return {r: (np.mean([s[r] for s in seeds], axis=0) + trees[r]) / 2 for r in ids}


def oof_inputs() -> tuple[list[str], dict, dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
    """(record ids, records, out-of-fold probabilities, waveform measures): what the experiments that
    re-decide the shipped recipe's out-of-fold calls start from."""
    ids, records = hp.all_records()
    return ids, records, oof_probabilities(ids), hp.all_measures(hp.data_dir(None), records, ids)


def protocol_probabilities(ids) -> dict[str, dict[str, np.ndarray]]:
    """The shipped recipe's kept probabilities by protocol: ``cv`` (out of fold, every record), and the
    transfer protocols' test records (``ds1_ds2``, ``mitdb_svdb``)."""
    out = {"cv": oof_probabilities(ids)}
    for name in ("ds1_ds2", "mitdb_svdb"):
        out[name] = dict(np.load(hp.TREE_OOF / f"transfer_{name}_blend{hp.tree_reading()}.npz"))
    return out


def protocol_inputs() -> tuple[list[str], dict, dict[str, dict[str, np.ndarray]], dict[str, dict[str, np.ndarray]]]:
    """(record ids, records, the kept probabilities by protocol, waveform measures): what the
    experiments that re-decide every protocol's calls start from."""
    ids, records = hp.all_records()
    return ids, records, protocol_probabilities(ids), hp.all_measures(hp.data_dir(None), records, ids)


def decided_confusions(probs: dict, records: dict, measures: dict) -> dict[str, np.ndarray]:
    """Each record's confusion matrix with the product's whole decision on the given probabilities."""
    return {
        r: protocols.confusion(records[r].labels, hp.decide(probs[r], records[r], True, measures[r])) for r in probs
    }


def s_changes(mats: dict[str, np.ndarray], before: dict[str, np.ndarray], top: int = 10) -> list:
    """[record, S found, false S] gained per record against ``before``, the largest changes first."""
    return class_changes(mats, before, "S", top)


def class_changes(mats: dict[str, np.ndarray], before: dict[str, np.ndarray], label: str, top: int = 10) -> list:
    """[record, beats of class ``label`` found, false ones] gained per record against ``before``, the
    largest changes first."""
    s = AAMI_CLASSES.index(label)
    out = []
    for r in mats:
        tp = int(mats[r][s, s] - before[r][s, s])
        fp = int((mats[r][:, s].sum() - mats[r][s, s]) - (before[r][:, s].sum() - before[r][s, s]))
        if tp or fp:
            out.append([r, tp, fp])
    return sorted(out, key=lambda x: -(abs(x[1]) + abs(x[2])))[:top]


def s_protocol_figures(probs: dict, records: dict, measures: dict) -> tuple[dict, dict[str, np.ndarray]]:
    """The pooled figures by protocol (``cv`` by database, the transfers pooled) with the product's whole
    decision on ``protocol_probabilities``, and the CV's confusion matrices by record."""
    cv = decided_confusions(probs["cv"], records, measures)
    out = {"cv": hp.figures_by_database(cv)}
    for t in ("ds1_ds2", "mitdb_svdb"):
        out[t] = hp.figures_by_database(decided_confusions(probs[t], records, measures), ("all",))
    return out, cv


@contextmanager
def decision_settings(**values: Any) -> Iterator[None]:
    """The decision's module-level settings (bounds, or a function such as ``_blocked_beat``) set to
    ``values`` inside the block and restored after it."""
    from ecg.models import decision

    saved = {name: getattr(decision, name) for name in values}
    try:
        for name, value in values.items():
            setattr(decision, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(decision, name, value)


def settings_grid(
    output, bounds: tuple[str, ...], variants: list[tuple[str, tuple[float, ...]]], width: int = 58
) -> None:
    """The product's whole decision on every protocol's kept probabilities (``protocol_inputs``) with
    the decision's module-level ``bounds`` set to each of ``variants`` (name, values), the first of them
    the one the changed records are counted against: a line of S figures printed for each, and every
    protocol's figures written to ``output`` with the settings and the CV records whose S beats changed."""
    from ecg.models import decision

    load_before = os.getloadavg()
    ids, records, probs, measures = protocol_inputs()
    shipped = {b: getattr(decision, b) for b in bounds}
    results: dict = {}
    before = None
    for name, values in variants:
        with decision_settings(**dict(zip(bounds, values))):
            out, cv = s_protocol_figures(probs, records, measures)
        before = before or cv
        out["settings"] = {b: (v if np.isfinite(v) else str(v)) for b, v in zip(bounds, values)}
        out["cv_s_changed_records"] = s_changes(cv, before, top=12)
        results[name] = out
        print(f"{name:{width}s} {s_summary(out)}", flush=True)
    write_result(output, {"machine": machine(load_before), "records": len(ids), "shipped": shipped, "results": results})


def s_summary(out: dict) -> str:
    """One line of S Se / +P by protocol from ``s_protocol_figures``."""
    c, d, m = out["cv"], out["ds1_ds2"]["all"]["S"], out["mitdb_svdb"]["all"]["S"]
    return (
        f"CV S {c['all']['S']['se']:.3f}/{c['all']['S']['ppv']:.3f}"
        f" svdb {c['svdb']['S']['se']:.3f}/{c['svdb']['S']['ppv']:.3f}"
        f" mitdb {c['mitdb']['S']['se']:.3f}/{c['mitdb']['S']['ppv']:.3f}"
        f" ds2 {d['se']:.3f}/{d['ppv']:.3f} m->s {m['se']:.3f}/{m['ppv']:.3f}"
    )


def training_prior(records, ids) -> tuple[np.ndarray, np.ndarray]:
    """(the class mix the weighted training saw, the population's actual class mix)."""
    y = np.concatenate([records[i].labels for i in ids])
    y = y[y >= 0]
    counts = np.bincount(y, minlength=len(AAMI_CLASSES)).astype(float)
    actual = counts / counts.sum()
    weighted = counts * rt.class_weights(y, 0.5)
    return weighted / weighted.sum(), actual


def em_prior(p: np.ndarray, start: np.ndarray, iterations: int = 100, floor: float = 1e-4) -> np.ndarray:
    """The class mix of one record by EM over calibrated probabilities ``p`` (at prior ``start``)."""
    prior = start.copy()
    for _ in range(iterations):
        q = p * (prior / start)
        q /= q.sum(axis=1, keepdims=True)
        new = np.maximum(q.mean(axis=0), floor)
        new /= new.sum()
        if np.abs(new - prior).max() < 1e-6:
            return new
        prior = new
    return prior


def adapted(p: np.ndarray, trained: np.ndarray, actual: np.ndarray, strength: float) -> np.ndarray:
    """``p`` reweighted by the record's estimated class mix over the population's, to ``strength``."""
    if strength == 0:
        return p
    calibrated = p * (actual / trained)
    calibrated /= calibrated.sum(axis=1, keepdims=True)
    mix = em_prior(calibrated, actual)
    return p * (mix / actual) ** strength


def main() -> None:
    load_before = os.getloadavg()
    ids, records = hp.all_records()
    probs = oof_probabilities(ids)
    trained, actual = training_prior(records, ids)
    out: dict = {"trained_prior": trained.round(4).tolist(), "actual_prior": actual.round(4).tolist(), "variants": {}}
    for strength in (0.0, 0.25, 0.5, 0.75, 1.0):
        mats = {
            r: protocols.confusion(
                records[r].labels, hp.decide(adapted(probs[r], trained, actual, strength), records[r])
            )
            for r in ids
        }
        figures = {}
        for scope, keep in (
            ("all", lambda r: True),
            ("mitdb", lambda r: r.startswith("mitdb")),
            ("svdb", lambda r: r.startswith("svdb")),
        ):
            stats = protocols.class_stats(np.sum([m for r, m in mats.items() if keep(r)], axis=0))
            figures[scope] = {
                c: (round(100 * (stats[c]["se"] or 0), 1), round(100 * (stats[c]["ppv"] or 0), 1)) for c in ("S", "V")
            }
        out["variants"][str(strength)] = figures
        print(strength, figures, flush=True)
    out["machine"] = machine(load_before)
    write_result(OUTPUT, out)


if __name__ == "__main__":
    main()
