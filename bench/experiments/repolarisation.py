"""EXPERIMENT: S calls whose repolarisation says ventricular (issues 11 and 14).

The V beats the shipped decision missed most on patients it never saw were called S: svdb 868's (its V
beats' QRS is near the N beats', the T wave differs) and svdb 881's (seen in the second lead). A
ventricular beat's abnormal depolarisation brings an abnormal repolarisation; an atrial beat, even
one conducted with an aberrant QRS, mostly keeps the patient's T wave. Here an S call is made V when
its T wave (156-312 ms after the R-peak) differs from the record's dominant beat's by a bound in either
lead, its QRS by another, and the classifier gives V a little probability
(``ecg.models.decision.repolarisation_beats``), with and without a bound on the T wave's difference
against the median of the beats around it (noise changes every beat's), with the V weight after sharing
(``V_WEIGHT``) beside it, on the shipped recipe's kept probabilities: the record-wise CV's out-of-fold
ones (chosen on) and the transfer protocols' test ones (checked on).

    .venv/bin/python -m bench.experiments.repolarisation

Result: bench/results/repolarisation.json.
"""

from __future__ import annotations

import os

from bench import heartbeat_protocols as hp
from bench.common import REPO, machine, write_result
from bench.experiments.prior_shift import class_changes, decided_confusions, decision_settings, protocol_inputs
from ecg.models import decision

OUTPUT = REPO / "bench" / "results" / "repolarisation.json"
SETTINGS = ("V_T_RESIDUAL_MIN", "V_QRS_RESIDUAL_MIN", "V_PROBABILITY_MIN", "V_WEIGHT", "V_T_OF_LOCAL")


def main() -> None:
    load_before = os.getloadavg()
    ids, records, probs, measures = protocol_inputs()
    shipped = {name: getattr(decision, name) for name in SETTINGS}
    off = float("inf")
    variants = [("before: off, V x 1.5", (off, 0.4, 0.05, 1.5, 0.0))]
    variants += [(f"off, V x {w}", (off, 0.4, 0.05, w, 0.0)) for w in (1.0, 1.1, 1.25)]
    variants += [
        (f"T >= {t}, QRS >= {q}, p(V) >= {p}, V x {w}", (t, q, p, w, 0.0))
        for t, q, p, w in [
            (0.8, 0.4, 0.05, 1.5),
            (0.8, 0.8, 0.05, 1.5),
            (0.8, 0.4, 0.1, 1.5),
            (1.2, 0.4, 0.05, 1.5),
            (0.6, 0.4, 0.05, 1.0),
            (0.6, 0.4, 0.05, 1.1),
            (0.8, 0.4, 0.05, 1.0),
            (0.8, 0.4, 0.05, 1.1),
            (0.8, 0.4, 0.05, 1.25),
            (1.0, 0.4, 0.05, 1.0),
            (1.2, 0.4, 0.05, 1.25),
        ]
    ]
    variants += [
        (f"T >= 0.8 and {k} x its neighbours', QRS >= 0.4, p(V) >= 0.05, V x {w}", (0.8, 0.4, 0.05, w, k))
        for k, w in [(3.0, 1.1), (5.0, 1.1), (3.0, 1.25), (5.0, 1.25), (5.0, 1.4)]
    ]
    results: dict = {}
    before = None
    for name, values in variants:
        with decision_settings(**dict(zip(SETTINGS, values))):
            cv = decided_confusions(probs["cv"], records, measures)
            out = {"settings": dict(zip(SETTINGS, values)), "cv": hp.figures_by_database(cv)}
            for t in ("ds1_ds2", "mitdb_svdb"):
                out[t] = hp.figures_by_database(decided_confusions(probs[t], records, measures), ("all",))["all"]
        before = before or cv
        out["cv_changed_records"] = class_changes(cv, before, "V", top=8)
        results[name] = out
        c, s = out["cv"]["all"], out["cv"]["svdb"]
        print(
            f"{name:60s} CV S {c['S']['se']:.3f}/{c['S']['ppv']:.3f} V {c['V']['se']:.3f}/{c['V']['ppv']:.3f}"
            f" svdb V {s['V']['se']:.3f}/{s['V']['ppv']:.3f}"
            f" ds2 V {out['ds1_ds2']['V']['se']:.3f}/{out['ds1_ds2']['V']['ppv']:.3f}"
            f" m->s V {out['mitdb_svdb']['V']['se']:.3f}/{out['mitdb_svdb']['V']['ppv']:.3f}",
            flush=True,
        )
    write_result(OUTPUT, {"machine": machine(load_before), "records": len(ids), "shipped": shipped, "results": results})


if __name__ == "__main__":
    main()
