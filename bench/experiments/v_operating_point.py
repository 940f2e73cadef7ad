"""EXPERIMENT: the V operating point, with and without the V probability shared among beats of one shape.

`bench.experiments.shape_neighbours` found that averaging each beat's V probability with its nearest
beats in shape raises V +P by 1.5 points at the same sensitivity; weighting the V probability moves
along one curve. Together they may move the operating point to more V beats found at the same +P.
Here, on the shipped recipe's out-of-fold probabilities (as `bench.rhythm_unseen` keeps them), the V
probability is multiplied by ``w`` (the others left as they are) after optional sharing among the
``k`` beats nearest in QRS shape (``ecg.models.decision.share_v_by_shape`` as the product does it:
neighbours among the 1,024 beats either side, a share of 0.5 or 0.7 taken from them), then the rest
of the product's decision follows (most probable class, the run rules, the atrial rules). Pooled beat figures and the V couplets and runs (the product's run
logic, matched as `bench.rhythm_eval` does) per database.

    .venv/bin/python -m bench.experiments.v_operating_point

Result: bench/results/v_operating_point.json.
"""

from __future__ import annotations

import os

import numpy as np

from bench import heartbeat_protocols as hp
from bench import rhythm_eval as re_
from bench.common import REPO, machine, write_result
from bench.experiments.prior_shift import oof_inputs
from ecg.constants import AAMI_CLASSES
from ecg.evaluation import protocols
from ecg.models import decision
from ecg.rhythm import ectopy

OUTPUT = REPO / "bench" / "results" / "v_operating_point.json"
V = AAMI_CLASSES.index("V")


def weighted(p: np.ndarray, w: float) -> np.ndarray:
    q = p.copy()
    q[:, V] *= w
    return q


def main() -> None:
    load_before = os.getloadavg()
    ids, records, probs, measures = oof_inputs()
    reference = {rid: re_.reference_runs(rid) for rid in ids}

    def score(fn) -> dict:
        per, mats = [], {}
        for rid in ids:
            r = records[rid]
            decided = hp.decide(fn(rid), r, True, measures[rid], shape_rule=False)  # the sharing is done here
            mats[rid] = protocols.confusion(r.labels, decided)
            events, _ = ectopy.ectopic_events(r.r_peaks, np.array(AAMI_CLASSES)[decided], r.fs, kind="V")
            per.append(
                {"db": rid.split("/")[0], "runs_product": re_.run_match(reference[rid], re_._runs_from_events(events))}
            )
        out = hp.figures_by_database(mats)
        out["runs"] = re_.run_totals(per, "runs_product", lambda x: True)
        out["per_record_V"] = {
            rid: [int(m[V, V]), int(m[V].sum()), int(m[:, V].sum())]
            for rid, m in mats.items()
            if m[V].sum() or m[:, V].sum()
        }
        return out

    results = {}
    variants: list[tuple[int, float] | None] = [None, (8, 0.5), (8, 0.7), (16, 0.5), (16, 0.7)]
    for variant in variants:
        if variant is None:
            src, weights, label = probs, (1.0, 1.25, 1.5, 1.75, 2.0, 2.5), ""
        else:
            k, share = variant
            src = {
                rid: decision.share_v_by_shape(
                    probs[rid],
                    records[rid].morphology,
                    weight=share,
                    neighbours=decision.shape_neighbours(records[rid].morphology, k=k),
                )
                for rid in ids
            }
            weights, label = (1.0, 1.5, 1.75, 2.0), f", shared by shape (k={k}, {share})"
        for w in weights:
            name = f"V x {w}{label}"
            results[name] = score(lambda rid, src=src, w=w: weighted(src[rid], w))
            a, s, runs = results[name]["all"], results[name]["svdb"], results[name]["runs"]
            print(
                f"{name:40s} S {a['S']['se']:.3f}/{a['S']['ppv']:.3f} V {a['V']['se']:.3f}/{a['V']['ppv']:.3f}"
                f" svdb V {s['V']['se']:.3f}/{s['V']['ppv']:.3f} S {s['S']['se']:.3f}/{s['S']['ppv']:.3f}"
                f" couplets {runs['couplet']['se']:.1f}/{runs['couplet']['ppv']:.1f}",
                flush=True,
            )
    write_result(OUTPUT, {"machine": machine(load_before), "records": len(ids), "results": results})


if __name__ == "__main__":
    main()
