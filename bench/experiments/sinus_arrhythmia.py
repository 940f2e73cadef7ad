"""EXPERIMENT: isolated S calls that are sinus arrhythmia (issue 11).

In svdb 859 the classifier calls S on 454 sinus beats that come a little early, and the close-call
weight between N and S doubles them. An atrial premature beat has a P wave of its own; a sinus beat
in sinus arrhythmia keeps the sinus P wave. Here an S call between two beats called N is made N when
its P wave correlates with the beat before's at least at a bound and it comes at least a share of
the interval before it (``ecg.models.decision.sinus_arrhythmia_beats``), over a grid of both bounds,
on the shipped recipe's kept probabilities: the record-wise CV's out-of-fold ones (chosen on) and
the transfer protocols' test ones (checked on).

    .venv/bin/python -m bench.experiments.sinus_arrhythmia

Result: bench/results/sinus_arrhythmia.json.
"""

from __future__ import annotations

import os

from bench.common import REPO, machine, write_result
from bench.experiments.prior_shift import (
    decision_settings,
    protocol_inputs,
    s_changes,
    s_protocol_figures,
    s_summary,
)
from ecg.models import decision

OUTPUT = REPO / "bench" / "results" / "sinus_arrhythmia.json"
BOUNDS = ("SINUS_P_CORRELATION_MIN", "SINUS_OF_CYCLE_MIN")


def main() -> None:
    load_before = os.getloadavg()
    ids, records, probs, measures = protocol_inputs()
    shipped = tuple(getattr(decision, b) for b in BOUNDS)
    variants: list[tuple[str, tuple[float, float]]] = [("off", (2.0, 0.0))]
    variants += [
        (f"P corr >= {p}, at least {c} of the cycle", (p, c)) for p in (0.8, 0.9, 0.95) for c in (0.0, 0.8, 0.85, 0.9)
    ]
    results: dict = {}
    off = None
    for name, bounds in variants:
        with decision_settings(**dict(zip(BOUNDS, bounds))):
            out, cv_mats = s_protocol_figures(probs, records, measures)
        out["bounds"] = dict(zip(BOUNDS, bounds))
        if off is None:
            off = cv_mats
        out["cv_changed_records"] = s_changes(cv_mats, off)
        results[name] = out
        print(f"{name:40s} {s_summary(out)} {out['cv_changed_records'][:5]}", flush=True)
    write_result(
        OUTPUT,
        {
            "machine": machine(load_before),
            "records": len(ids),
            "shipped": dict(zip(BOUNDS, shipped)),
            "results": results,
        },
    )


if __name__ == "__main__":
    main()
