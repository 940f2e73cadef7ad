"""EXPERIMENT: runs of atrial beats that are the record's own rhythm (MIT-BIH 232).

The supraventricular-run rule carries an S run on while it is faster than the record's baseline
(``ecg.processing.context.baseline_rr``). In MIT-BIH 232 (sinus bradycardia, 1,382 atrial beats in
runs at 0.73 s, sinus beats after pauses of 1.3-2.8 s) the runs are most of the record, so the
baseline is their own rate: the classifier finds the first atrial beat after a sinus beat (p(S) about
0.5) and the rule cannot carry the run. Here the run may count against the interval before its first
beat instead (``ecg.models.decision.ectopic_onset``) when that beat's P wave is unlike the sinus
beat's before it (correlation under ``ONSET_P_CORRELATION_MAX``), unless that interval is a whole
multiple of the run's first (``ONSET_MULTIPLE_TOLERANCE``: a blocked beat of the same rhythm) or
the beat before it is V (a compensatory pause; a variant drops this guard). Scored on the shipped
recipe's out-of-fold probabilities and the transfer protocols' kept test probabilities, through the
product's decision (``record_class_indices``).

    .venv/bin/python -m bench.experiments.ectopic_onset

Result: bench/results/ectopic_onset.json.
"""

from __future__ import annotations

import functools
import os

from bench.common import REPO, machine, write_result
from bench.experiments.prior_shift import protocol_inputs, s_changes, s_protocol_figures, s_summary
from ecg.models import decision

OUTPUT = REPO / "bench" / "results" / "ectopic_onset.json"


def main() -> None:
    load_before = os.getloadavg()
    ids, records, probs, measures = protocol_inputs()
    shipped = (decision.ONSET_P_CORRELATION_MAX, decision.ONSET_MULTIPLE_TOLERANCE, decision.ectopic_onset)

    variants = [("off", -2.0, 0.05, True)]
    variants += [(f"P-wave correlation < {c}", c, 0.05, True) for c in (0.9, 0.7, 0.5, 0.3)]
    variants += [("P-wave correlation < 0.7, no multiple guard", 0.7, 0.0, True)]
    variants += [("P-wave correlation < 0.7, multiple guard 0.1", 0.7, 0.1, True)]
    variants += [("P-wave correlation < 0.7, no guard after V", 0.7, 0.05, False)]
    results: dict = {}
    before = None
    try:
        for name, corr, tolerance, v_guard in variants:
            decision.ONSET_P_CORRELATION_MAX, decision.ONSET_MULTIPLE_TOLERANCE = corr, tolerance
            decision.ectopic_onset = shipped[2] if v_guard else functools.partial(_without_v_guard, shipped[2])
            out, cv_mats = s_protocol_figures(probs, records, measures)
            before = before or cv_mats
            out["cv_changed_records"] = s_changes(cv_mats, before)
            results[name] = out
            print(
                f"{name:46s} {s_summary(out)} {out['cv_changed_records'][:5]}",
                flush=True,
            )
    finally:
        decision.ONSET_P_CORRELATION_MAX, decision.ONSET_MULTIPLE_TOLERANCE, decision.ectopic_onset = shipped
    write_result(
        OUTPUT,
        {"machine": machine(load_before), "records": len(ids), "shipped": list(shipped[:2]), "results": results},
    )


def _without_v_guard(onset_fn, rr, classes, onset, morphology, *, n, v):
    return onset_fn(rr, classes, onset, morphology, n=n, v=None)


if __name__ == "__main__":
    main()
