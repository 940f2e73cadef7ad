"""Ventricular runs end to end on patients the beat classifier never saw, by one resumable command.

    .venv/bin/python -m bench.rhythm_unseen [--markdown]

`bench.rhythm_eval` scores the product's V couplets and runs on MIT-BIH with the shipped record-level
model, which was trained on the 44 non-paced MIT-BIH records: for those records its end-to-end
figures are in-sample. Here every record's beats are classified by a model that never saw that
patient: the shipped recipe (three network seeds averaged, then averaged with gradient-boosted
trees, then the supraventricular-run rule) trained by the record-wise 5-fold cross-validation of
`bench.heartbeat_protocols` (the same folds and the same out-of-fold probabilities, kept in
training-runs/oof, so an interrupted run resumes). The R-peaks are the product's own (both leads,
`ecg.processing.context.detect_beats`), the run logic is the worker's (`ecg.rhythm.analyse_rhythm`),
and the reference is the `.atr` files, compared as in `bench.rhythm_eval`: by EC57's run-by-run
comparison (`ecg.evaluation.runs`: V and fusion beats make runs, lengths must agree) and by overlap
alone, on MIT-BIH's 44 non-paced records and the 52 svdb records. The paced records are in neither
the training nor this set (EC57 leaves them out of arrhythmia evaluation). Results: bench/results/rhythm_unseen.json.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from bench import heartbeat_protocols as hp
from bench import rhythm_eval as re_
from bench.common import REPO, arguments, machine, write_result
from ecg.constants import AAMI_CLASSES
from ecg.training import record as rt

OUTPUT = REPO / "bench" / "results" / "rhythm_unseen.json"
CONFIG = "cnn_a05"  # the shipped configuration (heartbeat_record-2026.12-ctx4)


def out_of_fold(records, ids) -> dict[str, np.ndarray]:
    """Each record's blended class probabilities from the CV fold that held it out."""
    seeds = [
        hp._oof(
            hp.seed_oof_name(CONFIG, seed),
            records,
            ids,
            hp.network_fold(records, CONFIG, seed, lambda m, s=seed: print(f"  seed {s} {m}", flush=True)),
        )
        for seed in range(hp.SEEDS)
    ]
    params = dict(rt.CONFIGS[CONFIG].tree_params)
    trees = hp._oof(hp.tree_oof_name(CONFIG), records, ids, hp.tree_fold(records, rt.TREE_LEAD_DROPOUT, params))
    return {r: np.mean([p[r] for p in seeds], axis=0) + trees[r] for r in ids}


def signal_inputs(rid: str, record: rt.RecordData) -> tuple[np.ndarray, list, list]:
    """Record ``rid``'s analysed lead as an upload reads it (lost samples bridged and listed), its
    stretches without signal and its noise, as the worker marks them."""
    from ecg.io import readers
    from ecg.processing.context import other_lead
    from ecg.processing.detection import detect_r_peaks
    from ecg.rhythm import noise, signal_loss

    db, name = rid.split("/")
    signal = readers.read_wfdb(re_.DATA_DIR / db / name)
    lead = signal.lead_name(None)
    values = signal.validated(lead)
    second = other_lead(signal.leads, lead)
    # as the worker marks noise: each lead's own beats compared (BeatContext.lead_peaks)
    lead_peaks = (detect_r_peaks(values, record.fs), detect_r_peaks(second, record.fs)) if second is not None else ()
    no_signal = signal_loss.stretches(values, record.fs, signal.lost_spans(lead))
    return values, no_signal, noise.noisy(values, record.fs, record.r_peaks, lead_peaks)


def record_context(rid: str, record: rt.RecordData) -> dict:
    """What the rhythm logic reads from record ``rid``'s signal for V runs: VF/VFL, stretches without
    signal and noise (`signal_inputs`), found once per record, and the reference runs (as spans, and
    as the stream EC57's run comparison reads)."""
    from ecg.rhythm import vf

    values, no_signal, noisy = signal_inputs(rid, record)
    reference = re_.reference(*rid.split("/"))
    return {
        "n_samples": len(values),
        "no_signal": no_signal,
        "noisy": noisy,
        "vf_found": vf.vf_events(values, record.fs, record.r_peaks, no_signal),
        "reference": re_._run_spans(reference["r_peaks"], reference["classes"]),
        "reference_stream": re_.reference_stream(reference),
    }


def product_runs(record: rt.RecordData, probs: np.ndarray, context: dict) -> dict:
    """The V couplets and runs of ``record``'s classes (decided from ``probs`` as the worker decides
    them, without the waveform measures) through the worker's rhythm logic, against the reference
    runs of its ``context`` (`record_context`): by EC57's run-by-run comparison (``runs_product_ec57``,
    `ecg.evaluation.runs`; ``runs_product_ec57_from_5_min`` over EC57's test period, from 5 minutes in,
    as rxr compares by default) and by overlap alone (``runs_product``)."""
    from ecg.evaluation import runs as ec57_runs
    from ecg.rhythm import analyse_rhythm

    classes = np.array(AAMI_CLASSES)[hp.decide(probs, record)]
    report = analyse_rhythm(
        signal=None,
        fs=record.fs,
        r_peaks=record.r_peaks,
        classes=classes,
        n_samples=context["n_samples"],
        vf_found=context["vf_found"],
        no_signal=context["no_signal"],
        noisy=context["noisy"],
    )
    test = ec57_runs.report_stream(record.r_peaks, classes, report.events)
    return {
        "runs_product_ec57": ec57_runs.compare(context["reference_stream"], test, record.fs),
        "runs_product_ec57_from_5_min": ec57_runs.compare(
            context["reference_stream"], test, record.fs, start_s=ec57_runs.TEST_PERIOD_START_S
        ),
        "runs_product": re_.run_match(context["reference"], re_._runs_from_events(report.events)),
    }


def evaluate(rid: str, record: rt.RecordData, probs: np.ndarray) -> dict:
    db, name = rid.split("/")
    return {"db": db, "record": name, **product_runs(record, probs, record_context(rid, record))}


def totals(per_record: list[dict]) -> dict:
    out: dict = {}
    for key, name in (
        ("runs_product_ec57", "ec57"),
        ("runs_product_ec57_from_5_min", "ec57_from_5_min"),
        ("runs_product", "overlap"),
    ):
        for scope, keep in (
            ("mitdb", lambda r: r["db"] == "mitdb"),
            ("svdb", lambda r: r["db"] == "svdb"),
            ("all", lambda r: True),
        ):
            out.setdefault(name, {})[scope] = re_.run_totals(per_record, key, keep)
    return out


def markdown(result: dict) -> str:
    lines = [
        "| comparison | scope | couplets Se / +P | short runs 3-5 Se / +P | long runs >= 6 Se / +P |",
        "|---|---|---|---|---|",
    ]
    for name, scopes in result["totals"].items():
        for scope, m in scopes.items():
            cells = [
                f"{m[c]['se']} % ({m[c]['ref_detected']}/{m[c]['ref']}) / {m[c]['ppv']} % ({m[c]['test_true']}/{m[c]['test']})"
                for c in re_.RUN_CLASSES
            ]
            lines.append(f"| {name} | {scope} | " + " | ".join(cells) + " |")
    for key in ("runs_product_ec57", "runs_product"):
        lines += ["", f"`{key}`:", ""]
        lines += ["| record | " + " | ".join(f"{c} ref / found / detected / true" for c in re_.RUN_CLASSES) + " |"]
        lines.append("|---|" + "---|" * len(re_.RUN_CLASSES))
        for r in result["records"]:
            runs = r[key]
            if not any(runs[c]["ref"] or runs[c]["test"] for c in runs):
                continue
            cells = [
                f"{runs[c]['ref']} / {runs[c]['ref_detected']} / {runs[c]['test']} / {runs[c]['test_true']}"
                for c in re_.RUN_CLASSES
            ]
            lines.append(f"| {r['db']}/{r['record']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    if arguments(__doc__, OUTPUT, markdown) is None:
        return
    load_before = os.getloadavg()
    started = time.perf_counter()
    ids, records = hp.all_records()
    probs = out_of_fold(records, ids)
    per_record = [evaluate(rid, records[rid], probs[rid]) for rid in ids]
    result = {
        "command": "python -m bench.rhythm_unseen",
        "classifier": f"{CONFIG}: 3 seeds + trees per record-wise CV fold (heartbeat_record-2026.12-ctx4's recipe, the trees reading both leads)",
        "totals": totals(per_record),
        "records": per_record,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine(load_before),
    }
    write_result(OUTPUT, result)
    print(markdown(result))


if __name__ == "__main__":
    main()
