"""EXPERIMENT: a V call on time with the QRS of the N beat before it is N (issue 14).

On patients the classifier never saw, MIT-BIH 108's sinus beats at 57 /min were called V for
stretches of 2 to 19 beats: 3 of the 19 long runs `bench.rhythm_unseen` finds, 4 of its false short
runs and false couplets. A ventricular beat has another QRS than the patient's conducted one; a beat
called V whose interval is at least ``CONDUCTED_OF_CYCLE_MIN`` of the interval into the beat called N
just before its run of V calls, with that N beat's QRS in both leads (correlation ``CONDUCTED_QRS_CORRELATION_MIN`` or more) is made N
(``ecg.models.decision.conducted_v_calls``). Over a grid of the two bounds, and with the first lead alone
(why a one-lead recording is left as it is), on the shipped
recipe's kept probabilities: beat figures of the record-wise CV's out-of-fold ones (chosen on) and the
transfer protocols' test ones (checked on), and the V couplets and runs of the CV's out-of-fold classes
through the worker's rhythm logic at the product's own R-peaks (`bench.experiments.v_pairs.run_figures`,
as `bench.rhythm_unseen` matches them).

    .venv/bin/python -m bench.experiments.conducted_v

Result: bench/results/conducted_v.json.
"""

from __future__ import annotations

import os

import numpy as np

from bench import rhythm_unseen
from bench.common import REPO, machine, write_result
from bench.experiments.prior_shift import protocol_inputs
from bench.experiments.v_pairs import score_variants
from ecg.models import decision

OUTPUT = REPO / "bench" / "results" / "conducted_v.json"
SETTINGS = ("CONDUCTED_QRS_CORRELATION_MIN", "CONDUCTED_OF_CYCLE_MIN")
_shipped_rule = decision.conducted_v_calls  # kept before a variant replaces it


def first_lead_only(r_peaks, fs, classes, morphology, *, n, v):
    """The rule with the first lead's QRS alone (the first lead stands in for the second): what one-lead
    recordings would get were the rule applied to them."""
    first = np.asarray(morphology[..., :2])
    return _shipped_rule(r_peaks, fs, classes, np.concatenate([first, first], axis=-1), n=n, v=v)


def main() -> None:
    load_before = os.getloadavg()
    ids, records, probs, measures = protocol_inputs()
    contexts = {rid: rhythm_unseen.record_context(rid, records[rid]) for rid in ids}
    shipped = {name: getattr(decision, name) for name in SETTINGS}
    variants: list[tuple[str, dict]] = [("off (before)", {"CONDUCTED_OF_CYCLE_MIN": float("inf")})]
    variants += [
        (f"QRS corr >= {c} in both leads, on time >= {t} of the N beat's interval", dict(zip(SETTINGS, (c, t))))
        for c, t in [(0.9, 0.95), (0.9, 0.9), (0.9, 0.92), (0.92, 0.92), (0.85, 0.95), (0.95, 0.9)]
    ]
    variants += [("shipped bounds, the first lead alone", {"conducted_v_calls": first_lead_only})]
    results = score_variants(variants, ids, records, probs, measures, contexts)
    write_result(OUTPUT, {"machine": machine(load_before), "records": len(ids), "shipped": shipped, "results": results})


if __name__ == "__main__":
    main()
