"""EXPERIMENT: the beat beside a V beat with its shape and a ventricular pair's timing (issue 14).

On patients the classifier never saw, V couplets with the product's own beats were found 81 % of the
time (`bench.rhythm_unseen`): a couplet needs both its beats called V, and the classifier called one
beat of a couplet N or S where the other was V (MIT-BIH 208, svdb 881). A beat called N or
S beside a beat called V is made V (``ecg.models.decision.ventricular_pair_beats``) when its QRS
correlates with that V beat's, the V probability after sharing reaches a bound, and its timing is a
ventricular pair's: after the V beat, no later than the V beat came, then a pause or another V beat at
its rate; before it, premature, with the V beat at its rate or faster. Over a grid of the bounds, on
the shipped recipe's kept probabilities: beat figures of the record-wise CV's out-of-fold ones
(chosen on) and the transfer protocols' test ones (checked on), and the V couplets and runs of the
CV's out-of-fold classes through the worker's rhythm logic at the product's own R-peaks, matched as
`bench.rhythm_unseen` matches them (its VF, stretches without signal and noise computed once per
record here; the first two rows reproduce its totals).

    .venv/bin/python -m bench.experiments.v_pairs

Result: bench/results/v_pairs.json.
"""

from __future__ import annotations

import os

import numpy as np

from bench import heartbeat_protocols as hp
from bench import rhythm_eval as re_
from bench import rhythm_unseen
from bench.common import REPO, machine, write_result
from bench.experiments.prior_shift import class_changes, decided_confusions, decision_settings, protocol_inputs
from ecg.models import decision

OUTPUT = REPO / "bench" / "results" / "v_pairs.json"
SETTINGS = (
    "V_PAIR_QRS_CORRELATION_MIN",
    "V_PAIR_PROBABILITY_MIN",
    "V_PAIR_PAUSE",
    "V_PAIR_RUN_TOLERANCE",
    "V_PAIR_PREMATURE",
)


def run_figures(ids, records, probs, contexts) -> dict:
    """V couplets and runs of the CV's classes through the worker's rhythm logic
    (`bench.rhythm_unseen.product_runs`), pooled over every record: by EC57's run-by-run comparison
    (``ec57``) and by overlap alone (``overlap``, the comparison of the results before session 26)."""
    per = [
        {"db": rid.split("/")[0], **rhythm_unseen.product_runs(records[rid], probs[rid], contexts[rid])} for rid in ids
    ]
    return {
        "ec57": re_.run_totals(per, "runs_product_ec57", lambda x: True),
        "overlap": re_.run_totals(per, "runs_product", lambda x: True),
    }


def _setting(value):
    """A decision setting as the results file writes it: a function by its name, a bound (or each of a
    tuple of bounds) as a number, an infinite one as text."""
    if callable(value):
        return value.__name__
    if isinstance(value, tuple):
        return [_setting(v) for v in value]
    return value if np.isfinite(value) else str(value)


def score_variants(variants: list[tuple[str, dict]], ids, records, probs, measures, contexts) -> dict:
    """Each named variant of the decision's settings (`prior_shift.decision_settings`) scored as this
    experiment scores it: the CV's out-of-fold beat figures, the transfer protocols' V and S, the V runs
    on unseen patients (`run_figures`; EC57's comparison printed) and the records whose V calls changed
    against the first variant; a line printed per variant."""
    results: dict = {}
    before = None
    for name, values in variants:
        with decision_settings(**values):
            cv = decided_confusions(probs["cv"], records, measures)
            out = {
                "settings": {k: _setting(v) for k, v in values.items()},
                "cv": hp.figures_by_database(cv),
            }
            for t in ("ds1_ds2", "mitdb_svdb"):
                out[t] = hp.figures_by_database(decided_confusions(probs[t], records, measures), ("all",))["all"]
            out["runs_unseen"] = run_figures(ids, records, probs["cv"], contexts)
        before = before or cv
        out["cv_changed_records"] = class_changes(cv, before, "V", top=10)
        results[name] = out
        print(summary_line(name, out), flush=True)
    return results


def summary_line(name: str, out: dict, *, width: int = 62, classes: tuple[str, ...] = ("V",)) -> str:
    """One variant's figures on a line: the CV's S and V, then ``classes`` on the svdb records and the
    transfer protocols, then the V runs on unseen patients by EC57's comparison."""

    def pair(m: dict, k: str) -> str:
        return f"{k} {m[k]['se']:.4f}/{m[k]['ppv']:.4f}"

    c, s, runs = out["cv"]["all"], out["cv"]["svdb"], out["runs_unseen"]["ec57"]
    return (
        f"{name:{width}s} CV {pair(c, 'S')} {pair(c, 'V')}"
        + "".join(
            f" {label} " + " ".join(pair(m, k) for k in classes)
            for label, m in (("svdb", s), ("ds2", out["ds1_ds2"]), ("m->s", out["mitdb_svdb"]))
        )
        + " | "
        + " ".join(f"{k} {runs[k]['se']}/{runs[k]['ppv']}" for k in re_.RUN_CLASSES)
    )


_lead_correlation = decision._qrs_correlation  # the shipped one, kept before a variant replaces it


def either_lead(morphology: np.ndarray, a: np.ndarray, b: np.ndarray, channel: int = 0) -> np.ndarray:
    """The QRS correlation of whichever lead has it higher (the first alone on one lead). A rule that asks
    for another channel by name (the later rules read the second lead themselves) gets that channel's."""
    if channel:
        return _lead_correlation(morphology, a, b, channel=channel)
    first = _lead_correlation(morphology, a, b)
    if morphology.shape[-1] < 3:
        return first
    return np.maximum(first, _lead_correlation(morphology, a, b, channel=2))


def both_leads(morphology: np.ndarray, a: np.ndarray, b: np.ndarray, channel: int = 0) -> np.ndarray:
    """The QRS correlation of whichever lead has it lower (the first alone on one lead); another channel
    asked for by name as `either_lead`."""
    if channel:
        return _lead_correlation(morphology, a, b, channel=channel)
    first = _lead_correlation(morphology, a, b)
    if morphology.shape[-1] < 3:
        return first
    return np.minimum(first, _lead_correlation(morphology, a, b, channel=2))


def main() -> None:
    load_before = os.getloadavg()
    ids, records, probs, measures = protocol_inputs()
    contexts = {rid: rhythm_unseen.record_context(rid, records[rid]) for rid in ids}
    shipped = {name: getattr(decision, name) for name in SETTINGS}
    off = float("inf")
    variants: list[tuple[str, dict]] = [("off (before)", {"V_PAIR_QRS_CORRELATION_MIN": off})]
    variants += [
        (
            f"QRS corr >= {c}, p(V) >= {p}, pause {pause}, run {run}, premature {pre}",
            dict(zip(SETTINGS, (c, p, pause, run, pre))),
        )
        for c, p, pause, run, pre in [
            (0.9, 0.05, 1.3, 1.15, 0.9),  # shipped
            (0.8, 0.05, 1.3, 1.15, 0.9),
            (0.85, 0.05, 1.3, 1.15, 0.9),
            (0.95, 0.05, 1.3, 1.15, 0.9),
            (0.9, 0.1, 1.3, 1.15, 0.9),
            (0.9, 0.2, 1.3, 1.15, 0.9),
            (0.9, 0.05, 1.2, 1.15, 0.9),
            (0.9, 0.05, 1.5, 1.15, 0.9),
            (0.9, 0.05, 1.3, 0.0, 0.9),  # no run continuation after the beat
            (0.9, 0.05, 1.3, 1.15, 0.0),  # no beat before a V beat
            (0.9, 0.05, 1.3, 1.15, 1.0),
        ]
    ]
    shipped_values = dict(zip(SETTINGS, (0.9, 0.05, 1.3, 1.15, 0.9)))
    variants += [
        # the decision's one QRS correlation replaced: the later rules' first-lead readings change with it
        ("shipped bounds, the QRS of either lead", shipped_values | {"_qrs_correlation": either_lead}),
        ("shipped bounds, the QRS of both leads", shipped_values | {"_qrs_correlation": both_leads}),
        # timing alone, after a V beat: no shape bound, no pause needed, nothing before a V beat
        (
            "after a V beat no later than it came, p(V) >= 0.1, no shape bound",
            dict(zip(SETTINGS, (-1.0, 0.1, 0.0, 1.15, 0.0))),
        ),
    ]
    results = score_variants(variants, ids, records, probs, measures, contexts)
    write_result(OUTPUT, {"machine": machine(load_before), "records": len(ids), "shipped": shipped, "results": results})


if __name__ == "__main__":
    main()
