"""Pauses and asystole with the analysed lead alone, as for a one-lead upload, on MIT-BIH's 48 records.

    .venv/bin/python -m bench.pauses_one_lead [--markdown]

`bench.rhythm_eval` scores the worker's path with both leads, where the second lead tells the pause
rule which faint marks are beats. A one-lead recording has no such help: this runs the same path
(`rhythm_eval.product_beats(one_lead=True)`: R-peaks, classes, waveform measures and noise from the
first lead only) and scores pauses and asystole against the reference's pauses outside VF/VFL, with
the false ones listed. Writes bench/results/pauses_one_lead.json (about 2 minutes on a quiet machine;
the beats are cached beside rhythm_eval's).
"""

import os
import time

from bench.common import REPO, arguments, machine, write_result
from bench.rhythm_eval import (
    _add,
    _model_loader,
    _overlap,
    _rates,
    _records,
    pause_match,
    product_beats,
    product_rhythm,
    reference,
    reference_pauses,
)

RESULT = REPO / "bench" / "results" / "pauses_one_lead.json"


def run() -> dict:
    load = os.getloadavg()
    started = time.time()
    model = _model_loader()
    records, total = [], {}
    for name in _records("mitdb"):
        ref = reference("mitdb", name)
        prod = product_beats("mitdb", name, model, one_lead=True)
        report = product_rhythm(prod, ref["n_samples"])
        match = pause_match(ref, report.events)
        fs = ref["fs"]
        false = [
            {"type": e.type, "start_s": round(e.start / fs, 1), "duration_s": round((e.end - e.start) / fs, 2)}
            for e in report.events
            if e.type in ("pause", "asystole") and not any(_overlap((e.start, e.end), p) for p in reference_pauses(ref))
        ]
        records.append({"record": name, **match, "false": false})
        _add(total, match)
        print(name, match["ref_detected"], "/", match["ref"], "found;", len(false), "false", flush=True)
    return {
        "command": "python -m bench.pauses_one_lead",
        "totals": total | _rates(total),
        "records": records,
        "seconds": round(time.time() - started, 1),
        "machine": machine(load),
    }


def markdown(result: dict) -> str:
    t = result["totals"]
    lines = [
        f"Pauses found {t['ref_detected']}/{t['ref']} ({t['episode_se']} %), detected true "
        f"{t['test_true']}/{t['test']} ({t['episode_ppv']} %), false in clean sinus {t['false_in_clean_sinus']}.",
        "",
        "| record | found / reference | true / detected | false (type, start s, duration s) |",
        "|---|---|---|---|",
    ]
    for r in result["records"]:
        if r["ref"] or r["test"]:
            false = ", ".join(f"{f['type']} {f['start_s']} ({f['duration_s']})" for f in r["false"])
            lines.append(f"| {r['record']} | {r['ref_detected']}/{r['ref']} | {r['test_true']}/{r['test']} | {false} |")
    return "\n".join(lines)


def main() -> None:
    if arguments(__doc__, RESULT, markdown) is not None:
        write_result(RESULT, run())


if __name__ == "__main__":
    main()
