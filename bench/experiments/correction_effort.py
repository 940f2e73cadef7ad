"""What a doctor's family corrections would make of the classes on patients the classifier never saw.

    .venv/bin/python -m bench.experiments.correction_effort [--markdown]

The product groups each class's beats by shape (`ecg.processing.families`, as the worker groups them) and lets a
doctor change a whole family's class at once (`diagnostics.corrections`). Here a simulated reader goes through
every family of every record of `bench.rhythm_unseen` (MIT-BIH's 44 non-paced records and svdb's 52; the classes
decided from the shipped recipe's out-of-fold probabilities, as that command decides them, so each record is
classified by a model that never saw it) and, where most of a family's beats that have a reference beat are of
another class, changes the family to that class: one correction. The reader knows the reference, which a doctor
reading the family's mean beat and its strips does not always: the figures are what the families allow at best
with that many corrections, not what a doctor will do. Rarer shapes gathered in one family are corrected by the
same rule (their majority), so a mixed rare family stays as it is.

Reported per record and pooled: the corrections made, the beats changed, V and S sensitivity and positive
predictivity over the beats matched to a reference beat (EC57 style, as `bench.heartbeat_protocols` scores them),
and the V couplets and runs by EC57's run-by-run comparison (`bench.rhythm_unseen.product_runs`' path), before
and after. Result: bench/results/correction_effort.json.
"""

from __future__ import annotations

import os
import time

import numpy as np

from bench import heartbeat_protocols as hp
from bench import rhythm_eval as re_
from bench import rhythm_unseen as ru
from bench.common import REPO, arguments, machine, write_result
from ecg.constants import AAMI_CLASSES
from ecg.processing.context import CONTEXT_FS, WINDOW_BEFORE
from ecg.processing.families import beat_families

OUTPUT = REPO / "bench" / "results" / "correction_effort.json"
MAJORITY = 0.5  # a family is corrected where more than this share of its referenced beats is of one other class


def corrected(classes: np.ndarray, labels: np.ndarray, morphology: np.ndarray) -> tuple[np.ndarray, list[dict]]:
    """``classes`` (letters) after the simulated reader's family corrections, and the corrections made."""
    channels = (0, 2) if bool(np.any(morphology[:, :, 2])) else (0,)
    found = beat_families(morphology, classes, r_index=WINDOW_BEFORE, fs=CONTEXT_FS, channels=channels)
    out, made = classes.copy(), []
    for family in found.families:
        members = found.of_beat == family.number
        referenced = labels[members & (labels >= 0)]
        if not len(referenced):
            continue
        counts = np.bincount(referenced, minlength=len(AAMI_CLASSES))
        top = int(np.argmax(counts))
        if AAMI_CLASSES[top] != family.aami_class and counts[top] > MAJORITY * len(referenced):
            out[members] = AAMI_CLASSES[top]
            made.append(
                {
                    "family": family.number,
                    "from": family.aami_class,
                    "to": AAMI_CLASSES[top],
                    "beats": int(family.beats),
                    "rare": family.rare,
                }
            )
    return out, made


def beat_counts(classes: np.ndarray, labels: np.ndarray) -> dict[str, dict[str, int]]:
    """Per class V and S: reference beats, found, called, called right (over beats with a reference beat)."""
    ref = labels >= 0
    truth = np.where(ref, np.array(AAMI_CLASSES)[np.clip(labels, 0, None)], "")
    return {
        c: {
            "ref": int(np.sum(truth == c)),
            "called": int(np.sum(ref & (classes == c))),
            "right": int(np.sum((truth == c) & (classes == c))),
        }
        for c in ("V", "S")
    }


def runs(record, classes: np.ndarray, context: dict) -> dict:
    """V couplets and runs of ``classes`` by EC57's run-by-run comparison (`rhythm_unseen.product_runs`' path)."""
    from ecg.evaluation import runs as ec57_runs
    from ecg.rhythm import analyse_rhythm

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
    return ec57_runs.compare(
        context["reference_stream"], ec57_runs.report_stream(record.r_peaks, classes, report.events), record.fs
    )


def _pct(a: int, b: int) -> float | None:
    return round(100.0 * a / b, 2) if b else None


def pooled(per_record: list[dict], key: str) -> dict:
    out: dict = {}
    for c in ("V", "S"):
        ref = sum(r[key]["beats"][c]["ref"] for r in per_record)
        called = sum(r[key]["beats"][c]["called"] for r in per_record)
        right = sum(r[key]["beats"][c]["right"] for r in per_record)
        out[c] = {"se": _pct(right, ref), "ppv": _pct(right, called), "ref": ref, "called": called, "right": right}
    for c in re_.RUN_CLASSES:
        m = {k: sum(r[key]["runs"][c][k] for r in per_record) for k in ("ref", "ref_detected", "test", "test_true")}
        out[c] = m | {"se": _pct(m["ref_detected"], m["ref"]), "ppv": _pct(m["test_true"], m["test"])}
    return out


def markdown(result: dict) -> str:
    t = result["totals"]
    lines = [
        f"Corrections: {t['corrections']} over {t['records']} records ({t['records_corrected']} with any; "
        f"median {t['median_per_record']}, at most {t['max_per_record']} in one record), {t['beats_changed']:,} beats changed.",
        "",
        "| classes | V Se / +P | S Se / +P | couplets Se / +P | short runs Se / +P | long runs Se / +P |",
        "|---|---|---|---|---|---|",
    ]
    for key, name in (("before", "as classified (out of fold)"), ("after", "after the family corrections")):
        m = t[key]
        cells = [f"{m[c]['se']} / {m[c]['ppv']} %" for c in ("V", "S", *re_.RUN_CLASSES)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "| record | corrections (from>to beats) | V Se / +P before -> after |", "|---|---|---|"]
    for r in result["records"]:
        if not r["corrections"]:
            continue
        made = ", ".join(f"{c['from']}>{c['to']} {c['beats']}" for c in r["corrections"])

        def v(key: str) -> str:
            b = r[key]["beats"]["V"]
            return f"{_pct(b['right'], b['ref'])} / {_pct(b['right'], b['called'])}"

        lines.append(f"| {r['record']} | {made} | {v('before')} -> {v('after')} |")
    return "\n".join(lines)


def main() -> None:
    if arguments(__doc__, OUTPUT, markdown) is None:
        return
    load_before = os.getloadavg()
    started = time.perf_counter()
    ids, records = hp.all_records()
    probs = ru.out_of_fold(records, ids)
    per_record = []
    for rid in ids:
        record = records[rid]
        context = ru.record_context(rid, record)
        classes = np.array(AAMI_CLASSES)[hp.decide(probs[rid], record)]
        after, made = corrected(classes, record.labels, record.morphology)
        per_record.append(
            {
                "record": rid,
                "corrections": made,
                "before": {"beats": beat_counts(classes, record.labels), "runs": runs(record, classes, context)},
                "after": {"beats": beat_counts(after, record.labels), "runs": runs(record, after, context)},
            }
        )
        print(rid, len(made), flush=True)
    counts = [len(r["corrections"]) for r in per_record]
    result = {
        "command": "python -m bench.experiments.correction_effort",
        "totals": {
            "records": len(per_record),
            "records_corrected": sum(1 for c in counts if c),
            "corrections": sum(counts),
            "median_per_record": float(np.median(counts)),
            "max_per_record": max(counts),
            "beats_changed": sum(c["beats"] for r in per_record for c in r["corrections"]),
            "before": pooled(per_record, "before"),
            "after": pooled(per_record, "after"),
        },
        "records": per_record,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine(load_before),
    }
    write_result(OUTPUT, result)
    print(markdown(result))


if __name__ == "__main__":
    main()
