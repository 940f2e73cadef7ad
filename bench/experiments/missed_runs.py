"""What loses the V runs missed on patients the classifier never saw: the classifier or the R-peak detector.

    .venv/bin/python -m bench.experiments.missed_runs

For every reference short run (3-5) and long run (>= 6) of V and fusion beats (`bench.rhythm_eval`'s
reference) on the 96 records of `bench.rhythm_unseen`, the product's class of each reference beat, from the
shipped recipe's out-of-fold probabilities (the same folds and caches as `bench.rhythm_unseen`, decided as
it decides them), or "-" where the product's R-peaks have no beat within 0.15 s of it. A run whose beats
are all V or F is "all V or F"; otherwise the run is lost to the detector ("-" among its beats) or to the
classifier. Result: bench/results/missed_runs.json.
"""

from __future__ import annotations

import collections

import numpy as np

from bench import heartbeat_protocols as hp
from bench import rhythm_eval as re_
from bench import rhythm_unseen as ru
from bench.common import REPO, write_result
from ecg.constants import AAMI_CLASSES

OUTPUT = REPO / "bench" / "results" / "missed_runs.json"
TOLERANCE_S = 0.15


def patterns(record, classes: np.ndarray, ref: dict, spans: list[tuple[int, int]]) -> list[str]:
    """Per reference run: the product's class of each of its beats ("-": no product beat near it)."""
    tol = int(TOLERANCE_S * record.fs)
    out = []
    for s, e in spans:
        got = []
        for p in ref["r_peaks"][(ref["r_peaks"] >= s) & (ref["r_peaks"] <= e)]:
            j = int(np.searchsorted(record.r_peaks, p))
            near = [k for k in (j - 1, j) if 0 <= k < len(record.r_peaks) and abs(record.r_peaks[k] - p) <= tol]
            nearest = min(near, key=lambda k: abs(int(record.r_peaks[k]) - int(p)), default=None)
            got.append("-" if nearest is None else str(classes[nearest]))
        out.append("".join(got))
    return out


def main() -> None:
    ids, records = hp.all_records()
    probs = ru.out_of_fold(records, ids)
    counts: dict[str, collections.Counter] = {k: collections.Counter() for k in ("short_run", "long_run")}
    lost = []
    for rid in ids:
        record = records[rid]
        ref = re_.reference(*rid.split("/"))
        spans = re_._run_spans(ref["r_peaks"], ref["classes"])
        classes = np.array(AAMI_CLASSES)[hp.decide(probs[rid], record)]
        for kind in counts:
            for (s, _), pattern in zip(spans.get(kind, []), patterns(record, classes, ref, spans.get(kind, []))):
                why = "all V or F" if set(pattern) <= {"V", "F"} else "detector" if "-" in pattern else "classifier"
                counts[kind][why] += 1
                if why != "all V or F":
                    lost.append(
                        {
                            "record": rid,
                            "kind": kind,
                            "at_s": round(s / record.fs, 1),
                            "classes": pattern,
                            "lost_to": why,
                        }
                    )
    write_result(
        OUTPUT,
        {
            "command": "python -m bench.experiments.missed_runs",
            "counts": {k: dict(v) for k, v in counts.items()},
            "lost": lost,
        },
    )


if __name__ == "__main__":
    main()
