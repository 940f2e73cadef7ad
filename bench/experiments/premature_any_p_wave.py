"""EXPERIMENT: clearly premature beats followed by a pause, whatever their P wave (issue 11).

With the tachycardia onset rule (``bench.experiments.tachycardia_onset``), trained on MIT-BIH only
and tested on svdb, many of the S beats still called N were isolated atrial premature beats that
come well early (svdb 861: 0.68 of the interval before at the median, 885: 0.78) and are followed by
a pause (1.5 times their own), but whose P wave in the first lead correlates 0.8 with the sinus beat
before's, so that neither the atrial premature beats' rule nor the pause rule (both need a P wave
unlike the beat before's) takes them. The P-wave bound guards against sinus arrhythmia, which does
not shorten one interval that much and lengthen the next. Here the pause rule
(``ecg.models.decision.paused_premature_beats``) takes a beat at most ``PAUSED_ANY_P_OF_CYCLE`` of
its steady cycle without the P-wave bound, over a grid, on the shipped recipe's kept probabilities:
the record-wise CV's out-of-fold ones and the transfer protocols' test ones.

    .venv/bin/python -m bench.experiments.premature_any_p_wave

Result: bench/results/premature_any_p_wave.json.
"""

from __future__ import annotations

from bench.common import REPO
from bench.experiments.prior_shift import settings_grid

OUTPUT = REPO / "bench" / "results" / "premature_any_p_wave.json"
BOUNDS = ("PAUSED_ANY_P_OF_CYCLE", "PAUSED_S_PROBABILITY_MIN")


def main() -> None:
    variants: list[tuple[str, tuple[float, ...]]] = [("off (before)", (0.0, 0.1))]
    variants += [
        (f"at most {c} of the cycle, p(S) >= {p}", (c, p))
        for c, p in [
            (0.8, 0.1),  # shipped: the atrial premature beats' own bound
            (0.7, 0.1),
            (0.75, 0.1),
            (0.85, 0.1),
            (0.8, 0.2),
        ]
    ]
    settings_grid(OUTPUT, BOUNDS, variants)


if __name__ == "__main__":
    main()
