"""EXPERIMENT: atrial bigeminy the classifier called N (issue 11).

After the pause rule (``bench.experiments.paused_premature``) and flutter's premature beats
(``bench.experiments.flutter_premature``), svdb 881 held the most S beats the shipped decision still
missed in the record-wise CV (168 called N). Most of them are atrial bigeminy called N whole: the
reference reads S N S N where the decision reads N N N N, the S beats at 0.85 of the interval
before them (median), the next interval 1.18 times their own, S at 0.07 and a P wave correlating
-0.16 with the beat before's. The pause rule needs a steady cycle before the beat, which a bigeminy
never has. Here a beat called N after a beat called N is made S when it is premature against the
interval before it, a pause follows, the beat two before came at the same short interval (the
pattern alternates), the classifier gives S at a bound and its P wave is unlike the beat before's
(``ecg.models.decision.atrial_bigeminy_beats``), over a grid of the bounds, on the shipped recipe's
kept probabilities: the record-wise CV's out-of-fold ones (chosen on) and the transfer protocols'
test ones (checked on).

    .venv/bin/python -m bench.experiments.atrial_bigeminy

Result: bench/results/atrial_bigeminy.json.
"""

from __future__ import annotations

from bench.common import REPO
from bench.experiments.prior_shift import settings_grid

OUTPUT = REPO / "bench" / "results" / "atrial_bigeminy.json"
BOUNDS = (
    "BIGEMINY_OF_CYCLE",
    "BIGEMINY_PAUSE",
    "BIGEMINY_ALTERNATION",
    "BIGEMINY_S_PROBABILITY_MIN",
    "BIGEMINY_P_CORRELATION_MAX",
)


def main() -> None:
    variants: list[tuple[str, tuple[float, ...]]] = [("off (before)", (0.9, 1.15, 0.1, 0.02, 0.0))]
    variants += [
        (f"cycle {c}, pause {b}, alternation {a}, p(S) >= {p}, P corr < {q}", (c, b, a, p, q))
        for c, b, a, p, q in [
            (0.9, 1.15, 0.1, 0.02, 0.7),  # shipped
            (0.92, 1.1, 0.1, 0.02, 0.7),
            (0.92, 1.2, 0.1, 0.02, 0.7),  # the pause rule's cycle share and pause
            (0.9, 1.15, 0.05, 0.02, 0.7),
            (0.9, 1.15, 0.15, 0.02, 0.7),
            (0.9, 1.15, 0.1, 0.05, 0.7),
            (0.9, 1.15, 0.1, 0.1, 0.7),  # the pause rule's S bound
            (0.9, 1.15, 0.1, 0.02, 0.5),
            (0.95, 1.05, 0.1, 0.02, 0.7),
        ]
    ]
    settings_grid(OUTPUT, BOUNDS, variants, width=60)


if __name__ == "__main__":
    main()
