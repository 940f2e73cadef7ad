"""EXPERIMENT: mildly premature beats followed by a pause (issue 11).

Most of the S beats the shipped decision still missed on patients it never saw were isolated atrial
premature beats called N that come only a little early (svdb 854, 823, 881, 869: 0.83-0.85 of the
cycle before them at the median, where ``premature_atrial_beats`` needs 0.8). The classifier gives
them S at 0.07-0.20 (median; 0.00-0.01 for the N beats around them), under what the S weight needs.
What tells them from sinus arrhythmia is what follows: an atrial premature beat resets the sinus node,
so a pause follows it (the next interval 1.07-1.26 times its own at the median, the N beats' 0.81-0.99),
while sinus arrhythmia speeds and slows gradually. Here a beat called N between beats called N is made S when it comes at most
``PAUSED_OF_CYCLE`` of a steady cycle, is followed by a pause, has S at a bound and a P wave unlike
the beat before's (``ecg.models.decision.paused_premature_beats``), over a grid of the bounds, on the
shipped recipe's kept probabilities: the record-wise CV's out-of-fold ones (chosen on) and the
transfer protocols' test ones (checked on).

    .venv/bin/python -m bench.experiments.paused_premature

The last rows raise the P-wave bound of ``premature_atrial_beats`` (0.5) to the runs' onset bound (0.7).

Result: bench/results/paused_premature.json.
"""

from __future__ import annotations

from bench.common import REPO
from bench.experiments.prior_shift import settings_grid

OUTPUT = REPO / "bench" / "results" / "paused_premature.json"
BOUNDS = (
    "PAUSED_OF_CYCLE",
    "PAUSED_PAUSE",
    "PAUSED_S_PROBABILITY_MIN",
    "PAUSED_P_CORRELATION_MAX",
    "PAUSED_STEADY",
    "PREMATURE_P_CORRELATION_MAX",
)


def main() -> None:
    variants: list[tuple[str, tuple[float, ...]]] = [("off (before)", (0.0, 1.2, 0.1, 0.7, 0.1, 0.5))]
    variants += [
        (f"cycle {c}, pause {b}, p(S) >= {p}, P corr < {pc}, steady {st}", (c, b, p, pc, st, 0.5))
        for c, b, p, pc, st in [
            (0.92, 1.2, 0.1, 0.7, 0.1),  # shipped
            (0.92, 1.2, 0.05, 0.5, 0.1),
            (0.92, 1.2, 0.1, 0.5, 0.1),
            (0.9, 1.2, 0.1, 0.7, 0.1),
            (0.95, 1.2, 0.1, 0.7, 0.1),
            (0.92, 1.1, 0.1, 0.7, 0.1),
            (0.92, 1.2, 0.05, 0.7, 0.1),
            (0.92, 1.2, 0.2, 0.7, 0.1),
            (0.92, 1.2, 0.1, 1.01, 0.1),  # no P-wave bound
            (0.92, 1.2, 0.1, 0.7, 0.15),
            (0.92, 1.2, 0.1, 0.7, 10.0),  # no steadiness bound
            (0.92, 0.0, 0.1, 0.7, 0.1),  # no pause (the next interval no shorter than the cycle only)
        ]
    ]
    # then the atrial premature beats' own P-wave bound (``premature_atrial_beats``, 0.5 before) at the
    # runs' onset bound: one meaning of "another P wave" across the atrial rules
    variants += [
        (f"shipped pause rule, atrial premature beats' P corr < {q}", (0.92, 1.2, 0.1, 0.7, 0.1, q)) for q in (0.6, 0.7)
    ]
    settings_grid(OUTPUT, BOUNDS, variants)


if __name__ == "__main__":
    main()
