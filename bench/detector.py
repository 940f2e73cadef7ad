"""Score the R-peak detector on all 48 MIT-BIH Arrhythmia records.

    .venv/bin/python -m bench.detector [--data-dir DIR] [--records 100,203] [--no-baseline]

Writes bench/results/detector.json (full run only) and prints a per-record table.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from bench.common import DATA_DIR, REPO
from ecg.constants import SYMBOL_TO_AAMI
from ecg.datasets.mitdb import read_detection_reference
from ecg.evaluation.detection import TOLERANCE_S, score
from ecg.processing.detection import detect_r_peaks

RESULTS = REPO / "bench" / "results" / "detector.json"


def neurokit_default(signal: np.ndarray, fs: float) -> np.ndarray:
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, info = nk.ecg_peaks(signal, sampling_rate=fs)
    return np.asarray(info["ECG_R_Peaks"], dtype=np.int64)


def offset_stats(offsets_ms: np.ndarray) -> dict:
    a = np.abs(offsets_ms)
    if len(a) == 0:
        return {"median_abs_ms": None, "p95_abs_ms": None, "p99_abs_ms": None, "mean_signed_ms": None,
                "exact_fraction": None}
    return {"median_abs_ms": round(float(np.median(a)), 2), "p95_abs_ms": round(float(np.percentile(a, 95)), 2),
            "p99_abs_ms": round(float(np.percentile(a, 99)), 2), "mean_signed_ms": round(float(np.mean(offsets_ms)), 2),
            "exact_fraction": round(float(np.mean(a < 1e-6)), 4)}


def run_detector(name: str, detector, records: list[str], mitdb: Path, verbose: bool) -> dict:
    per_record = {}
    all_offsets = []
    totals = {"tp": 0, "fp": 0, "fn": 0}
    for record in records:
        signal, fs, reference = read_detection_reference(mitdb, record)
        start, start_cpu = time.perf_counter(), time.process_time()
        detected = np.asarray(detector(signal, fs), dtype=np.int64)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
        result = score(detected, reference, fs)
        offsets = result.pop("_offsets_ms")
        all_offsets.append(offsets)
        for key in totals:
            totals[key] += result[key]
        per_record[record] = {**result, "sensitivity": round(result["sensitivity"] * 100, 3),
                              "ppv": round(result["ppv"] * 100, 3), "seconds": round(seconds, 3),
                              "cpu_seconds": round(cpu_seconds, 3),
                              **offset_stats(offsets)}
        if verbose:
            r = per_record[record]
            print(f"{name:10s} {record} TP {r['tp']:5d} FP {r['fp']:4d} FN {r['fn']:4d} "
                  f"Se {r['sensitivity']:7.3f} +P {r['ppv']:7.3f} {seconds:5.2f} s (cpu {cpu_seconds:4.2f}) "
                  f"|off| med {r['median_abs_ms']} p95 {r['p95_abs_ms']} ms", flush=True)
    tp, fp, fn = totals["tp"], totals["fp"], totals["fn"]
    times = [r["seconds"] for r in per_record.values()]
    cpu_times = [r["cpu_seconds"] for r in per_record.values()]
    return {
        "pooled": {"tp": tp, "fp": fp, "fn": fn,
                   "sensitivity": round(100 * tp / (tp + fn), 3), "ppv": round(100 * tp / (tp + fp), 3),
                   **offset_stats(np.concatenate(all_offsets) if all_offsets else np.zeros(0))},
        "seconds_per_record": {"mean": round(float(np.mean(times)), 3), "max": round(float(np.max(times)), 3),
                               "cpu_mean": round(float(np.mean(cpu_times)), 3),
                               "cpu_max": round(float(np.max(cpu_times)), 3)},
        "per_record": per_record,
    }


def print_table(results: dict) -> None:
    names = list(results)
    print(f"\n{'record':>6} " + " ".join(f"{n + ' Se':>14} {n + ' +P':>14} {'FP':>4} {'FN':>4}" for n in names))
    records = list(results[names[0]]["per_record"])
    for record in records:
        cells = []
        for n in names:
            r = results[n]["per_record"][record]
            cells.append(f"{r['sensitivity']:14.2f} {r['ppv']:14.2f} {r['fp']:4d} {r['fn']:4d}")
        print(f"{record:>6} " + " ".join(cells))
    for n in names:
        p = results[n]["pooled"]
        t = results[n]["seconds_per_record"]
        print(f"{n}: pooled Se {p['sensitivity']:.3f} % +P {p['ppv']:.3f} % (TP {p['tp']} FP {p['fp']} FN {p['fn']}); "
              f"|offset| median {p['median_abs_ms']} ms, p95 {p['p95_abs_ms']} ms, p99 {p['p99_abs_ms']} ms, "
              f"exact {100 * p['exact_fraction']:.1f} %, mean signed {p['mean_signed_ms']} ms; "
              f"{t['mean']:.2f} s/record wall (max {t['max']:.2f}), CPU {t['cpu_mean']:.2f} (max {t['cpu_max']:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--records", help="comma-separated subset (no JSON written)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the NeuroKit2 comparison")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args()
    mitdb = args.data_dir / "mitdb"
    if not (mitdb / "RECORDS").is_file():
        sys.exit(f"MIT-BIH records not found in {mitdb} (use --data-dir or ECG_DATA_DIR)")
    records = [r for r in (mitdb / "RECORDS").read_text().split() if r]
    if args.records:
        records = [r for r in args.records.split(",") if r]
    detectors = {"detector": detect_r_peaks}
    if not args.no_baseline:
        detectors["neurokit"] = neurokit_default
    results = {name: run_detector(name, fn, records, mitdb, not args.quiet) for name, fn in detectors.items()}
    print_table(results)
    if not args.records:
        import scipy
        import wfdb

        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "database": "MIT-BIH Arrhythmia Database (mitdb 1.0.0), 48 records, first channel, whole records",
            "reference": "beat annotations " + " ".join(sorted(SYMBOL_TO_AAMI)) + "; '!' flutter waves are not beats",
            "tolerance_ms": TOLERANCE_S * 1000,
            "matching": "one-to-one, closest pairs first",
            "offset": "detected minus reference sample, in ms, over matched beats",
            "environment": {"python": platform.python_version(), "numpy": np.__version__,
                            "scipy": scipy.__version__, "wfdb": wfdb.__version__,
                            "machine": platform.machine()},
            "results": results,
        }
        RESULTS.write_text(json.dumps(payload, indent=1) + "\n")
        print(f"wrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
