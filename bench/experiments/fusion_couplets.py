"""EXPERIMENT: fusion beats in ventricular runs, as EC57 counts them (issue 14).

EC57's run-by-run comparison (`ecg.evaluation.runs`) makes a run of consecutive ventricular *or
fusion* beats, and so does the product's run logic since session 26 (`ecg.rhythm.ectopy`). Two rules
of the decision follow from that, both scored here on the shipped recipe's kept probabilities (beat
figures of the record-wise CV's out-of-fold ones, chosen on, and the transfer protocols' test ones,
checked on; the V couplets and runs of the CV's out-of-fold classes through the worker's rhythm logic,
as `bench.rhythm_unseen` compares them):

- ``fusion_in_run_calls``: the classifier's F calls beside a V call are made N. On patients it
  never saw, 27 of its 28 such calls were normal beats (26 in MIT-BIH 203), each making a false
  couplet or run once fusion beats join runs (fusion beats alone make no run).
- ``fusion_couplet_beats``: a beat called N between an N beat and a V call, premature
  (``FUSION_OF_CYCLE``), with a QRS unlike the N beat's and like the V beat's
  (``FUSION_SINUS_CORRELATION_MAX``, ``FUSION_V_CORRELATION_MIN``) is made F: the fusion beat
  that opens a couplet (MIT-BIH 208: 236 of its 461 reference couplets are a fusion beat then a V
  beat, which the classifier calls N then V). The bounds come from a scan of the 8,394 beats called N
  between an N beat and a V call over the 96 records (`scan`: reference class against prematurity
  and the QRS correlations with the beats either side). Session 29: a fusion beat need not be
  premature (the sinus impulse and the ventricular focus meet at about the sinus beat's time), so
  such a beat up to 1.1 of the cycle is F as well where its QRS is unlike the N beat's and like the
  V beat's by looser bounds and the classifier gives V and F together some probability
  (``FUSION_ON_TIME_*``; the variants "on time", each with the premature bounds as shipped). Each
  variant's V runs are also read on the svdb records by the classifier trained on MIT-BIH alone
  (``runs_mitdb_svdb``: the transfer protocol's kept probabilities), patients of another database:
  there the on-time fusion beats are all false, so they are not shipped (``FUSION_ON_TIME_OF_CYCLE``
  0).

    .venv/bin/python -m bench.experiments.fusion_couplets

Result: bench/results/fusion_couplets.json.
"""

from __future__ import annotations

import collections
import os

import numpy as np

from bench import heartbeat_protocols as hp
from bench import rhythm_unseen
from bench.common import REPO, machine, write_result
from bench.experiments.prior_shift import decision_settings, protocol_inputs
from bench.experiments.v_pairs import run_figures, score_variants
from ecg.constants import AAMI_CLASSES
from ecg.models import decision

OUTPUT = REPO / "bench" / "results" / "fusion_couplets.json"
SETTINGS = ("FUSION_OF_CYCLE", "FUSION_SINUS_CORRELATION_MAX", "FUSION_V_CORRELATION_MIN")
ON_TIME = (
    "FUSION_ON_TIME_OF_CYCLE",
    "FUSION_ON_TIME_SINUS_CORRELATION_MAX",
    "FUSION_ON_TIME_V_CORRELATION_MIN",
    "FUSION_ON_TIME_PROBABILITY_MIN",
)
OFF = {"FUSION_V_CORRELATION_MIN": float("inf")}
PREMATURE_ONLY = {"FUSION_ON_TIME_OF_CYCLE": 0.0}  # session 26's rule: premature fusion beats alone


def _unchanged(classes, **_):
    return classes


def scan(ids, records, probs) -> dict:
    """The beats called N between an N beat and a V call (fusion-couplet rule off): how many of each
    reference class a bound on prematurity and the QRS correlations takes, per setting."""
    labels = np.array([*AAMI_CLASSES, "-"])
    ref, where, of_cycle, sinus, ventricular = [], [], [], [], []
    with decision_settings(**OFF):
        for rid in ids:
            rec = records[rid]
            idx = hp.decide(probs[rid], rec)
            k, cyc, sin, ven = decision.fusion_couplet_measures(
                rec.r_peaks, rec.fs, idx, rec.morphology, n=AAMI_CLASSES.index("N"), v=AAMI_CLASSES.index("V")
            )
            ref.append(labels[rec.labels[k]])
            where += [rid] * len(k)
            of_cycle.append(cyc)
            sinus.append(sin)
            ventricular.append(ven)
    ref_a, where_a = np.concatenate(ref), np.array(where)
    cyc, sin, ven = np.concatenate(of_cycle), np.concatenate(sinus), np.concatenate(ventricular)
    ventricular_ref = np.isin(ref_a, ["V", "F"])
    rows = []
    for oc, s1, s2, vmin in [
        (0.8, 0.95, 0.9, 0.7),
        (0.85, 0.95, 0.9, 0.7),
        (0.85, 0.95, 0.9, 0.5),
        (0.9, 0.95, 0.9, 0.5),
        (0.8, 1.01, 0.9, 0.7),
        (0.8, 0.95, 0.8, 0.7),
        (1.0, 0.95, 0.9, 0.7),
    ]:
        taken = (cyc <= oc) & (sin[:, 0] < s1) & (sin[:, 1] < s2) & (ven.min(axis=1) > vmin)
        rows.append(
            {
                "of_cycle_max": oc,
                "sinus_correlation_max": [s1, s2],
                "v_correlation_min": vmin,
                "reference_v_or_f": int((taken & ventricular_ref).sum()),
                "reference_other": int((taken & ~ventricular_ref).sum()),
                "other_by_record": dict(collections.Counter(where_a[taken & ~ventricular_ref]).most_common(6)),
                "v_or_f_by_record": dict(collections.Counter(where_a[taken & ventricular_ref]).most_common(6)),
            }
        )
    medians = {
        name: {
            "v_or_f": round(float(np.nanmedian(x[ventricular_ref])), 3),
            "other": round(float(np.nanmedian(x[~ventricular_ref])), 3),
        }
        for name, x in (
            ("of_cycle", cyc),
            ("sinus_correlation_first_lead", sin[:, 0]),
            ("sinus_correlation_second_lead", sin[:, 1]),
            ("v_correlation_first_lead", ven[:, 0]),
            ("v_correlation_second_lead", ven[:, 1]),
        )
    }
    return {
        "candidates": int(len(ref_a)),
        "reference_classes": dict(collections.Counter(ref_a.tolist())),
        "medians": medians,
        "bounds": rows,
    }


def main() -> None:
    load_before = os.getloadavg()
    ids, records, probs, measures = protocol_inputs()
    contexts = {rid: rhythm_unseen.record_context(rid, records[rid]) for rid in ids}
    shipped = {name: getattr(decision, name) for name in SETTINGS + ON_TIME}
    found = scan(ids, records, probs["cv"])
    variants: list[tuple[str, dict]] = [
        ("neither rule (before)", {"fusion_in_run_calls": _unchanged, **OFF}),
        ("F calls beside V made N", dict(OFF)),
    ]
    variants += [
        (
            f"... and N before V F: at most {oc} of the cycle, sinus QRS corr < {s}, V QRS corr > {v}",
            {**dict(zip(SETTINGS, (oc, s, v))), **PREMATURE_ONLY},
        )
        for oc, s, v in [
            (0.8, (0.95, 0.9), 0.7),
            (0.85, (0.95, 0.9), 0.7),
            (0.85, (0.95, 0.9), 0.5),
            (0.8, (1.01, 0.9), 0.7),
        ]
    ]
    variants += [
        (
            f"... and on time (the premature bounds as shipped): up to 1.1 of the cycle, sinus QRS corr < {s}, "
            f"V QRS corr > {v}, V + F probability >= {pvf}",
            dict(zip(ON_TIME, (1.1, s, v, pvf))),
        )
        for s, v, pvf in [
            ((0.97, 0.95), 0.6, 0.05),
            ((0.97, 0.95), 0.6, 0.02),
            ((0.97, 0.95), 0.6, 0.1),
            ((0.97, 0.95), 0.5, 0.05),
            ((0.95, 0.9), 0.7, 0.05),
        ]
    ]
    results = score_variants(variants, ids, records, probs, measures, contexts)
    svdb = sorted(probs["mitdb_svdb"])  # trained on MIT-BIH alone: patients of another database
    for name, values in variants:
        with decision_settings(**values):
            results[name]["runs_mitdb_svdb"] = run_figures(svdb, records, probs["mitdb_svdb"], contexts)
        runs = results[name]["runs_mitdb_svdb"]["ec57"]
        print(f"{name[:62]:62s} MIT-BIH -> svdb " + " ".join(f"{k} {runs[k]['se']}/{runs[k]['ppv']}" for k in runs))
    write_result(
        OUTPUT,
        {"machine": machine(load_before), "records": len(ids), "shipped": shipped, "scan": found, "results": results},
    )


if __name__ == "__main__":
    main()
