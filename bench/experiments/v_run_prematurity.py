"""EXPERIMENT: can the rhythm logic reject the false V couplets and runs of the product's classes?

With the product's beats and classes, V couplets and runs reach 85-92 % Se but 47-77 % +P on
MIT-BIH; about half of the false ones are in the paced records (102, 104, 107, 217), where the
record-level model calls paced beats N or V (it never answers Q there). Ventricular ectopy is
premature; a paced complex comes at the pacing interval. This measures, for every couplet and run
of V beats the product finds, the R-R into its first beat over the median of the 8 R-R intervals
before it (``prematurity``), and scores the rule "drop a couplet or run that is not premature"
at several cut-offs, either on that first interval alone or on the shortest interval into or
inside the run. Matching as `bench.rhythm_eval` (EC57 overlap; Se per reference length class,
+P per detected length class), over all 48 records and without the paced ones.

    .venv/bin/python -m bench.experiments.v_run_prematurity

Needs the per-record product beats cached by `python -m bench.rhythm_eval`. Result:
bench/results/v_run_prematurity.json. Not shipped: see bench/README.md (rhythm analysis).
"""

import os

import numpy as np

from bench import rhythm_eval as rhythm
from bench.common import REPO, machine, write_result
from ecg.rhythm import ectopy

OUTPUT = REPO / "bench" / "results" / "v_run_prematurity.json"
LOCAL_INTERVALS = 8


def _prematurity(rr: np.ndarray, first: int, last: int, mode: str) -> float | None:
    if first < 2:
        return None
    local = float(np.median(rr[max(0, first - 1 - LOCAL_INTERVALS) : first - 1]))
    ratios = rr[first - 1 : last] / local if mode == "shortest" else rr[first - 1 : first] / local
    return float(ratios.min())


def main() -> None:
    load_before = os.getloadavg()
    model = rhythm._model_loader()
    data = {
        r: (rhythm.reference("mitdb", r), rhythm.product_beats("mitdb", r, model)) for r in rhythm._records("mitdb")
    }
    ratios: dict = {"paced": {"true": [], "false": []}, "not paced": {"true": [], "false": []}}
    variants: dict = {}
    for mode, cut in [("none", None)] + [(m, c) for m in ("first", "shortest") for c in (0.9, 0.95, 1.0)]:
        totals: dict = {"all 48": {}, "without paced": {}}
        for record, (ref, prod) in data.items():
            fs, peaks, classes = ref["fs"], prod["r_peaks"], prod["classes"]
            rr = np.diff(peaks) / fs
            ref_runs = rhythm._run_spans(ref["r_peaks"], ref["classes"])
            every_ref = [s for spans in ref_runs.values() for s in spans]
            test: dict = {k: [] for k in rhythm.RUN_CLASSES}
            for first, last in ectopy.runs(classes, "V"):
                n = last - first + 1
                if n < 2:
                    continue
                span = (int(peaks[first]), int(peaks[last]))
                p = _prematurity(rr, first, last, "first")
                if mode == "none" and p is not None:
                    true = any(rhythm._overlap(span, r) for r in every_ref)
                    group = "paced" if record in rhythm.PACED else "not paced"
                    ratios[group]["true" if true else "false"].append(p)
                q = _prematurity(rr, first, last, mode) if mode != "none" else None
                if q is not None and cut is not None and q >= cut:
                    continue
                for name, (lo, hi) in rhythm.RUN_CLASSES.items():
                    if lo <= n <= hi:
                        test[name].append(span)
            matched = rhythm.run_match(ref_runs, test)
            for scope, total in totals.items():
                if scope == "all 48" or record not in rhythm.PACED:
                    for name, m in matched.items():
                        rhythm._add(total.setdefault(name, {}), m)
        variants["no rule" if mode == "none" else f"drop when {mode} interval ratio >= {cut}"] = {
            scope: {
                name: {
                    "se": round(100 * m["ref_detected"] / m["ref"], 1) if m["ref"] else None,
                    "ppv": round(100 * m["test_true"] / m["test"], 1) if m["test"] else None,
                }
                for name, m in total.items()
            }
            for scope, total in totals.items()
        }
    write_result(
        OUTPUT,
        {
            "command": "python -m bench.experiments.v_run_prematurity",
            "first_interval_prematurity_q10_q50_q90": {
                group: {
                    kind: [round(float(v), 2) for v in np.percentile(values, [10, 50, 90])] + [len(values)]
                    for kind, values in kinds.items()
                }
                for group, kinds in ratios.items()
            },
            "variants": variants,
            "machine": machine(load_before),
        },
    )


if __name__ == "__main__":
    main()
