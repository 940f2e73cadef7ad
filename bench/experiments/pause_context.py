"""EXPERIMENT: what the interval before the sinus beat says about the next beat (issue 11).

Two guards of the atrial rules look at the interval before the sinus beat that precedes a premature
atrial beat or the first beat of an atrial run:

- **A blocked beat** was any interval within 5 % of twice the next. In MIT-BIH 232 an atrial run ends
  in a pause, a sinus beat follows at the sinus bradycardia's cycle of about 1.4 s, and the next
  atrial run goes at 0.7 s: twice it by coincidence, so 232's runs stopped at their first beat. A
  blocked beat makes a pause; here it also has to be longer than the interval before it.
- **The classifier's S probability bound** (0.02) keeps the beat after an ectopic beat's pause from
  reading as premature against that pause. After two beats called N the cycle before is the sinus
  rhythm's, and the bound is set lower there (a grid of values).
- **Sinus beats resuming after a pause** are faster than the pause. A run counted against the sinus
  beat before it (the atrial runs' onset) went on through them: nstdb 118's 1.4-s pause started a
  false run of 54 beats at 18-24 dB once the bound was lower. Such a run's beats must keep a P wave
  unlike the sinus beat's (a grid of correlation bounds). The sinus arrhythmia rule is on in every
  row (bench.experiments.sinus_arrhythmia).

Scored on the shipped recipe's kept probabilities: the record-wise CV's out-of-fold ones (chosen on)
and the transfer protocols' test ones (checked on).

    .venv/bin/python -m bench.experiments.pause_context

Result: bench/results/pause_context.json.
"""

from __future__ import annotations

import os

import numpy as np

from bench.common import REPO, machine, write_result
from bench.experiments.prior_shift import (
    decision_settings,
    protocol_inputs,
    s_changes,
    s_protocol_figures,
    s_summary,
)
from ecg.models import decision

OUTPUT = REPO / "bench" / "results" / "pause_context.json"
S = 1


def _any_twice(before, first, prior):
    """The blocked-beat test as it was: any interval within 5 % of twice the next."""
    return np.abs(np.asarray(before, np.float64) / np.asarray(first, np.float64) / 2.0 - 1.0) < (
        decision.ONSET_MULTIPLE_TOLERANCE
    )


def nstdb_s(settings: dict[str, tuple]) -> dict:
    """S figures on nstdb 118 and 119 per SNR (the shipped model, as ``bench.heartbeat_protocols``'s nstdb
    step) for each setting of (blocked-beat test, sinus bound, run P bound)."""
    import keras

    from bench import heartbeat_protocols as hp
    from ecg.evaluation import protocols
    from ecg.models import record as record_model
    from ecg.models import trees  # noqa: F401 - registers the tree layers of a blended model
    from ecg.training import record as rt

    model = keras.models.load_model(sorted((REPO / "mlmodels" / "artifacts").glob("heartbeat_record-*.keras"))[-1])
    data = hp.data_dir(None)
    out: dict = {}
    for snr in ("24", "18", "12", "06"):
        mats = {name: np.zeros((5, 5), np.int64) for name in settings}
        for base in ("118", "119"):
            path = data / "nstdb" / f"{base}e{snr}"
            r = rt.build_record(path)
            measured = hp.record_measures(path, r)
            probs = record_model.predict(model, r.morphology, r.features)
            for name, (blocked, sinus, run_p, beats) in settings.items():
                with decision_settings(
                    _blocked_beat=blocked,
                    PREMATURE_S_AFTER_SINUS_MIN=sinus,
                    RUN_P_CORRELATION_MAX=run_p,
                    PREMATURE_SINUS_P_BEATS=beats,
                ):
                    mats[name] += protocols.confusion(r.labels, hp.decide(probs, r, True, measured))
        for name, m in mats.items():
            out.setdefault(name, {})[f"{snr} dB"] = {
                "se": round(float(m[S, S] / max(m[S].sum(), 1)), 4),
                "ppv": round(float(m[S, S] / max(m[:, S].sum(), 1)), 4),
                "false_s": int(m[:, S].sum() - m[S, S]),
            }
        print(snr, {name: out[name][f"{snr} dB"] for name in settings}, flush=True)
    return out


def main() -> None:
    load_before = os.getloadavg()
    ids, records, probs, measures = protocol_inputs()
    shipped_blocked, shipped_sinus = decision._blocked_beat, decision.PREMATURE_S_AFTER_SINUS_MIN
    bound = decision.PREMATURE_S_PROBABILITY_MIN
    run_p = decision.RUN_P_CORRELATION_MAX
    off = 2.0  # no P-wave bound on the beats of a run counted against the sinus beat before it
    sinus_beats = decision.PREMATURE_SINUS_P_BEATS
    variants: list[tuple[str, bool, float, float, int]] = [
        ("before: any interval twice the next is a blocked beat, p(S) >= 0.02 everywhere", False, bound, off, 1),
        ("a blocked beat is longer than the interval before it", True, bound, off, 1),
    ]
    variants += [
        (f"+ after two beats called N, p(S) >= {p}", True, p, off, 1) for p in (0.01, 0.005, 0.002, 0.001, 0.0)
    ]
    variants += [
        (f"+ p(S) >= 0.001 after two N, such runs' beats with P corr < {c} to the sinus beat's", True, 0.001, c, 1)
        for c in (0.8, 0.7, 0.6)
    ]
    variants += [("+ the same at 0.7, under p(S) 0.02 a P wave unlike both beats' before it", True, 0.001, run_p, 2)]
    results: dict = {}
    first = None
    for name, pause_only, sinus_bound, p_bound, beats in variants:
        with decision_settings(
            _blocked_beat=shipped_blocked if pause_only else _any_twice,
            PREMATURE_S_AFTER_SINUS_MIN=sinus_bound,
            RUN_P_CORRELATION_MAX=p_bound,
            PREMATURE_SINUS_P_BEATS=beats,
        ):
            out, cv_mats = s_protocol_figures(probs, records, measures)
        out["after_sinus_s_probability_min"] = sinus_bound
        out["run_p_correlation_max"] = p_bound
        out["premature_sinus_p_beats"] = beats
        if first is None:
            first = cv_mats
        out["cv_changed_records"] = s_changes(cv_mats, first)
        out["mitdb_232_s_found"] = int(cv_mats["mitdb/232"][S, S])
        results[name] = out
        print(f"{name:80s} {s_summary(out)} 232 {out['mitdb_232_s_found']} {out['cv_changed_records'][:5]}")
    noise = nstdb_s(
        {
            "before": (_any_twice, bound, off, 1),
            "blocked beat a pause, p(S) >= 0.001 after two N": (shipped_blocked, 0.001, off, 1),
            "the same, such runs' beats with P corr < 0.7": (shipped_blocked, 0.001, run_p, 1),
            "the same, under p(S) 0.02 a P wave unlike both beats' before it (shipped)": (
                shipped_blocked,
                0.001,
                run_p,
                2,
            ),
        }
    )
    write_result(
        OUTPUT,
        {
            "machine": machine(load_before),
            "records": len(ids),
            "shipped": {
                "PREMATURE_S_PROBABILITY_MIN": bound,
                "PREMATURE_S_AFTER_SINUS_MIN": shipped_sinus,
                "RUN_P_CORRELATION_MAX": run_p,
                "PREMATURE_SINUS_P_BEATS": sinus_beats,
            },
            "results": results,
            "nstdb_s": noise,
            "mitdb_232_s_beats": int(np.sum(records["mitdb/232"].labels == S)),
        },
    )


if __name__ == "__main__":
    main()
