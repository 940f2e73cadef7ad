"""EXPERIMENT: what the interval before the sinus beat says about the next beat (issue 11).

Two guards of the atrial rules look at the interval before the sinus beat that precedes a premature
atrial beat or the first beat of an atrial run:

- **A blocked beat** was any interval within 5 % of twice the next. In MIT-BIH 232 an atrial run ends
  in a pause, a sinus beat follows at the sinus bradycardia's cycle of about 1.4 s, and the next
  atrial run goes at 0.7 s: twice it by coincidence, so 232's runs stopped at their first beat. A
  blocked beat makes a pause; here it also has to be longer than the interval before it.
- **The classifier's S probability bound** (0.02) keeps the beat after an ectopic beat's pause from
  reading as premature against that pause. After two beats called N the cycle before is the sinus
  rhythm's, and the bound is set lower there (a grid of values).

Scored on the shipped recipe's kept probabilities: the record-wise CV's out-of-fold ones (chosen on)
and the transfer protocols' test ones (checked on).

    .venv/bin/python -m bench.experiments.pause_context

Result: bench/results/pause_context.json.
"""

from __future__ import annotations

import os

import numpy as np

from bench.common import REPO, machine, write_result
from bench.experiments.prior_shift import protocol_inputs, s_changes, s_protocol_figures, s_summary
from ecg.models import decision

OUTPUT = REPO / "bench" / "results" / "pause_context.json"
S = 1


def _any_twice(before, first, prior):
    """The blocked-beat test as it was: any interval within 5 % of twice the next."""
    return np.abs(np.asarray(before, np.float64) / np.asarray(first, np.float64) / 2.0 - 1.0) < (
        decision.ONSET_MULTIPLE_TOLERANCE
    )


def main() -> None:
    load_before = os.getloadavg()
    ids, records, probs, measures = protocol_inputs()
    shipped_blocked, shipped_sinus = decision._blocked_beat, decision.PREMATURE_S_AFTER_SINUS_MIN
    bound = decision.PREMATURE_S_PROBABILITY_MIN
    variants: list[tuple[str, bool, float]] = [
        ("before: any interval twice the next is a blocked beat, p(S) >= 0.02 everywhere", False, bound),
        ("a blocked beat is longer than the interval before it", True, bound),
    ]
    variants += [(f"+ after two beats called N, p(S) >= {p}", True, p) for p in (0.01, 0.005, 0.002, 0.001, 0.0)]
    results: dict = {}
    first = None
    try:
        for name, pause_only, sinus_bound in variants:
            decision._blocked_beat = shipped_blocked if pause_only else _any_twice
            decision.PREMATURE_S_AFTER_SINUS_MIN = sinus_bound
            out, cv_mats = s_protocol_figures(probs, records, measures)
            out["after_sinus_s_probability_min"] = sinus_bound
            if first is None:
                first = cv_mats
            out["cv_changed_records"] = s_changes(cv_mats, first)
            out["mitdb_232_s_found"] = int(cv_mats["mitdb/232"][S, S])
            results[name] = out
            print(f"{name:80s} {s_summary(out)} 232 {out['mitdb_232_s_found']} {out['cv_changed_records'][:5]}")
    finally:
        decision._blocked_beat, decision.PREMATURE_S_AFTER_SINUS_MIN = shipped_blocked, shipped_sinus
    write_result(
        OUTPUT,
        {
            "machine": machine(load_before),
            "records": len(ids),
            "shipped": {
                "PREMATURE_S_PROBABILITY_MIN": bound,
                "PREMATURE_S_AFTER_SINUS_MIN": shipped_sinus,
            },
            "results": results,
            "mitdb_232_s_beats": int(np.sum(records["mitdb/232"].labels == S)),
        },
    )


if __name__ == "__main__":
    main()
