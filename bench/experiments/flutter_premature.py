"""EXPERIMENT: atrial premature beats where flutter's organisation dips (issue 11).

MIT-BIH 222 held the most S beats the shipped decision missed on patients it never saw (174 of 209
in the record-wise CV). About 120 of them the classifier calls S, but flutter's hold
(``FLUTTER_ORGANISATION_KEEP``) covers 222's stretches of sinus rhythm and atrial bigeminy between its
flutter and makes them N. There the atrial activity left after the average-beat subtraction reads
0.3-0.5 at 3.5-4.5 Hz. The S calls the hold took apart in two groups (CV, out of fold):
- 175 true S (87 in 222, 64 in svdb 867, 21 in 202): premature (0.49 of the interval before at the
  median), after a beat called N, with a P wave unlike its (correlation -0.2 at the median);
- 1,800 false S (1,367 in 867's flutter, 261 in 202, 123 in 222): runs at the regular intervals of
  the flutter's conduction (0.99 of the interval before), the flutter wave before every QRS
  (correlation 0.87).
Here an S call inside the hold is kept when it is an atrial premature beat by the cycle before it
(``ecg.models.decision.flutter_premature_beats``) and the atrial organisation at the beat is under a
bound, over a grid of the cycle share, the P-wave bound and the organisation bound, on the shipped
recipe's kept probabilities: the record-wise CV's out-of-fold ones (chosen on) and the transfer
protocols' test ones (checked on).

    .venv/bin/python -m bench.experiments.flutter_premature

Result: bench/results/flutter_premature.json.
"""

from __future__ import annotations

import numpy as np

from bench.common import REPO
from bench.experiments.prior_shift import settings_grid

OUTPUT = REPO / "bench" / "results" / "flutter_premature.json"
BOUNDS = ("FLUTTER_PREMATURE_ORGANISATION_MAX", "PREMATURE_OF_CYCLE", "PREMATURE_P_CORRELATION_MAX")


def main() -> None:
    # the premature bounds also move the atrial premature beats' own rule (premature_atrial_beats), so
    # rows that change them show both; the organisation bound moves this rule alone
    variants: list[tuple[str, tuple[float, ...]]] = [("off (before)", (0.0, 0.8, 0.7))]
    variants += [
        (f"organisation < {o}, cycle {c}, P corr < {q}", (o, c, q))
        for o, c, q in [
            (0.5, 0.8, 0.7),  # shipped: the premature beats' own bounds, the level that finds flutter
            (0.45, 0.8, 0.7),
            (0.55, 0.8, 0.7),
            (np.inf, 0.8, 0.7),  # no organisation bound
            (0.5, 0.7, 0.7),
        ]
    ]
    settings_grid(OUTPUT, BOUNDS, variants, width=44)


if __name__ == "__main__":
    main()
