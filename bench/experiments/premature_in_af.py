"""EXPERIMENT: the atrial premature beats' rule inside the AF analysis's episodes (issue 11; not kept).

The rule that a beat called N, early against the cycle before it with another P wave, is S
(``ecg.models.decision.premature_atrial_beats``) does not look inside the AF analysis's episodes.
Frequent atrial ectopy reads as irregular, and there (svdb 854, 868: trained on MIT-BIH only, 180
and 93 S beats called N, nine in ten inside such episodes) the rule never looks, although the P
waves repeat (0.5-0.7) where fibrillation's do not (0.2-0.3; the AF rule's veto uses 0.35). Here the
rule is kept out only where the P waves repeat under ``PREMATURE_AF_P_REPETITION_MAX``, over a grid,
on the shipped recipe's kept probabilities: the record-wise CV's out-of-fold ones and the transfer
protocols' test ones.

    .venv/bin/python -m bench.experiments.premature_in_af

Result: bench/results/premature_in_af.json.
"""

from __future__ import annotations

import numpy as np

from bench.common import REPO
from bench.experiments.prior_shift import settings_grid

OUTPUT = REPO / "bench" / "results" / "premature_in_af.json"
BOUNDS = ("PREMATURE_AF_P_REPETITION_MAX",)


def main() -> None:
    variants: list[tuple[str, tuple[float, ...]]] = [("anywhere in an episode (shipped)", (np.inf,))]
    variants += [(f"where the P waves repeat under {b}", (b,)) for b in (0.6, 0.5, 0.35)]
    settings_grid(OUTPUT, BOUNDS, variants)


if __name__ == "__main__":
    main()
