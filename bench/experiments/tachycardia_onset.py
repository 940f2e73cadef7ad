"""EXPERIMENT: the first beat of an abrupt regular tachycardia the classifier called N (issue 11).

Trained on MIT-BIH only and tested on svdb, the S beats missed most were svdb 865's second SVT:
eleven minutes at 0.41-0.46 s, broken by V beats, about 600 of its beats called N. The run rule
(``continue_supraventricular_runs``) carries an SVT through its V beats once it has started, but
nothing started it: it begins out of ventricular bigeminy, its first beat follows the beat after a
V beat (where the atrial premature beats' rule does not look, a compensatory pause being no cycle
to be premature against), and the classifier gives that beat S at 0.30 (N 0.67). Here a beat called
N is made S when it starts a regular tachycardia abruptly: its interval is at most 0.8 of the N-to-N
intervals just before it and at most 0.7 of the record's baseline, the next beats keep its rate and
are called N, the classifier gives S at a bound and its P wave is unlike the beat before's
(``ecg.models.decision.tachycardia_onset_beats``), over a grid of the bounds, on the shipped
recipe's kept probabilities: the record-wise CV's out-of-fold ones (chosen on) and the transfer
protocols' test ones.

    .venv/bin/python -m bench.experiments.tachycardia_onset

Result: bench/results/tachycardia_onset.json.
"""

from __future__ import annotations

import numpy as np

from bench.common import REPO
from bench.experiments.prior_shift import settings_grid

OUTPUT = REPO / "bench" / "results" / "tachycardia_onset.json"
BOUNDS = (
    "TACHYCARDIA_ONSET_BEATS",
    "TACHYCARDIA_SINUS_BEATS",
    "TACHYCARDIA_S_PROBABILITY_MIN",
    "TACHYCARDIA_RR_MAX",
)


def main() -> None:
    variants: list[tuple[str, tuple[float, ...]]] = [("off (before)", (0, 8, 0.02, 0.6))]
    variants += [
        (f"{k} beats at its rate, N-to-N over {m} beats before, p(S) >= {p}, RR <= {r} s", (k, m, p, r))
        for k, m, p, r in [
            (6, 8, 0.02, 0.6),  # shipped
            (6, 8, 0.02, np.inf),  # no bound on the rate itself
            (4, 8, 0.02, 0.6),
            (10, 8, 0.02, 0.6),
            (6, 4, 0.02, 0.6),
            (6, 16, 0.02, 0.6),
            (6, 8, 0.001, 0.6),
            (6, 8, 0.1, 0.6),
            (6, 8, 0.001, np.inf),
            (6, 8, 0.1, np.inf),
        ]
    ]
    settings_grid(OUTPUT, BOUNDS, variants)


if __name__ == "__main__":
    main()
