"""Score the R-peak detector on MIT-BIH (48 records), svdb (52) and nstdb (118e*/119e*, per SNR).

    .venv/bin/python -m bench.detector [--data-dir DIR] [--databases mitdb,svdb,nstdb]
                                       [--records 100,203] [--no-baseline] [-q]

Scores the first lead (``detect_r_peaks``), every lead (``detect_r_peaks_multilead``) and,
unless --no-baseline, NeuroKit2's default on the first lead. Prints per-record tables, and for
nstdb Se/+P per SNR, and writes bench/results/detector.json (full run of all three only).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from bench.common import DATA_DIR, REPO, machine
from ecg.constants import SYMBOL_TO_AAMI
from ecg.datasets.mitdb import read_detection_leads
from ecg.evaluation.detection import TOLERANCE_S, score
from ecg.processing.detection import detect_r_peaks, detect_r_peaks_multilead

RESULTS = REPO / "bench" / "results" / "detector.json"
DATABASES = {
    "mitdb": "MIT-BIH Arrhythmia Database (mitdb 1.0.0): 48 records, 360 Hz, MLII first "
    "(V5 in 102, 104 and 114) and V1/V2/V4/V5 second, whole records (30:05 min)",
    "svdb": "MIT-BIH Supraventricular Arrhythmia Database (svdb 1.0.0): the 52 records in the data "
    "folder (the other 26 are held back), 128 Hz, leads ECG1 first and ECG2, whole records (30 min)",
    "nstdb": "MIT-BIH Noise Stress Test Database (nstdb 1.0.0): 118e* and 119e*, mitdb 118 and 119 with "
    "electrode-motion noise at SNR 24 ... -6 dB on both leads (MLII and V1) in 2-min stretches "
    "alternating with clean ones from 5:00; whole records (30:05 min) and noisy stretches only",
}
# nstdb: noise is on in [5:00, 7:00), [9:00, 11:00), ... to the end (measured against mitdb 118).
NOISE_ON_S = [(start, start + 120) for start in range(300, 1806, 240)]


def in_noise(samples: np.ndarray, fs: float) -> np.ndarray:
    mask = np.zeros(len(samples), bool)
    for start, end in NOISE_ON_S:
        mask |= (samples >= start * fs) & (samples < end * fs)
    return mask


def neurokit_default(signal: np.ndarray, fs: float) -> np.ndarray:
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, info = nk.ecg_peaks(signal, sampling_rate=fs)
    return np.asarray(info["ECG_R_Peaks"], dtype=np.int64)


DETECTORS = {
    "first_lead": lambda leads, fs: detect_r_peaks(leads[0], fs),
    "multilead": detect_r_peaks_multilead,
    "neurokit": lambda leads, fs: neurokit_default(leads[0], fs),
}


def offset_stats(offsets_ms: np.ndarray) -> dict:
    a = np.abs(offsets_ms)
    if len(a) == 0:
        return {
            "median_abs_ms": None,
            "p95_abs_ms": None,
            "p99_abs_ms": None,
            "mean_signed_ms": None,
            "exact_fraction": None,
        }
    return {
        "median_abs_ms": round(float(np.median(a)), 2),
        "p95_abs_ms": round(float(np.percentile(a, 95)), 2),
        "p99_abs_ms": round(float(np.percentile(a, 99)), 2),
        "mean_signed_ms": round(float(np.mean(offsets_ms)), 2),
        "exact_fraction": round(float(np.mean(a < 1e-6)), 4),
    }


def pooled(counts: dict) -> dict:
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "sensitivity": round(100 * tp / (tp + fn), 3) if tp + fn else None,
        "ppv": round(100 * tp / (tp + fp), 3) if tp + fp else None,
    }


def snr_of(record: str) -> int:
    """nstdb record name to its SNR in dB: 118e24 -> 24, 118e_6 -> -6."""
    return -int(record[-1]) if record[-2] == "_" else int(record[-2:])


def run_database(database: str, directory: Path, records: list[str], names: list[str], verbose: bool) -> dict:
    runs = {name: {"per_record": {}, "offsets": [], "totals": {"tp": 0, "fp": 0, "fn": 0}} for name in names}
    for record in records:
        leads, fs, reference = read_detection_leads(directory, record)
        for name in names:
            start, start_cpu = time.perf_counter(), time.process_time()
            detected = np.asarray(DETECTORS[name](leads, fs), dtype=np.int64)
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
            result = score(detected, reference, fs)
            offsets = result.pop("_offsets_ms")
            run = runs[name]
            run["offsets"].append(offsets)
            for key in run["totals"]:
                run["totals"][key] += result[key]
            row = {
                **pooled(result),
                "seconds": round(seconds, 3),
                "cpu_seconds": round(cpu_seconds, 3),
                **offset_stats(offsets),
            }
            if database == "nstdb":
                noisy = score(detected[in_noise(detected, fs)], reference[in_noise(reference, fs)], fs)
                noisy.pop("_offsets_ms")
                row["noisy_stretches"] = pooled(noisy)
            run["per_record"][record] = row
            if verbose:
                print(
                    f"{database:5s} {record:6s} {name:10s} TP {row['tp']:5d} FP {row['fp']:4d} FN {row['fn']:4d} "
                    f"Se {row['sensitivity']:7.3f} +P {row['ppv']:7.3f} cpu {cpu_seconds:4.2f} s",
                    flush=True,
                )
    results = {}
    for name, run in runs.items():
        cpu_times = [r["cpu_seconds"] for r in run["per_record"].values()]
        times = [r["seconds"] for r in run["per_record"].values()]
        results[name] = {
            "pooled": {**pooled(run["totals"]), **offset_stats(np.concatenate(run["offsets"]))},
            "seconds_per_record": {
                "mean": round(float(np.mean(times)), 3),
                "max": round(float(np.max(times)), 3),
                "cpu_mean": round(float(np.mean(cpu_times)), 3),
                "cpu_max": round(float(np.max(cpu_times)), 3),
            },
            "per_record": run["per_record"],
        }
        if database == "nstdb":
            results[name]["per_snr"] = per_snr(run["per_record"])
    return results


def per_snr(per_record: dict) -> dict:
    table: dict = {}
    for record, row in per_record.items():
        entry = table.setdefault(
            str(snr_of(record)), {"whole": {"tp": 0, "fp": 0, "fn": 0}, "noisy": {"tp": 0, "fp": 0, "fn": 0}}
        )
        for key in ("tp", "fp", "fn"):
            entry["whole"][key] += row[key]
            entry["noisy"][key] += row["noisy_stretches"][key]
    order = sorted(table, key=int, reverse=True)
    return {
        snr: {"whole_records": pooled(table[snr]["whole"]), "noisy_stretches": pooled(table[snr]["noisy"])}
        for snr in order
    }


def print_tables(database: str, results: dict) -> None:
    names = list(results)
    print(
        f"\n{database}\n{'record':>7} " + " ".join(f"{n[:10] + ' Se':>14} {'+P':>7} {'FP':>4} {'FN':>4}" for n in names)
    )
    for record in results[names[0]]["per_record"]:
        cells = []
        for n in names:
            r = results[n]["per_record"][record]
            cells.append(f"{r['sensitivity']:14.2f} {r['ppv']:7.2f} {r['fp']:4d} {r['fn']:4d}")
        print(f"{record:>7} " + " ".join(cells))
    for n in names:
        p, t = results[n]["pooled"], results[n]["seconds_per_record"]
        print(
            f"{database} {n}: pooled Se {p['sensitivity']:.3f} % +P {p['ppv']:.3f} % (TP {p['tp']} FP {p['fp']} "
            f"FN {p['fn']}); |offset| median {p['median_abs_ms']} ms, p95 {p['p95_abs_ms']} ms; "
            f"CPU {t['cpu_mean']:.3f} s/record (max {t['cpu_max']:.3f}), wall {t['mean']:.2f} (max {t['max']:.2f})"
        )
        for snr, row in results[n].get("per_snr", {}).items():
            w, z = row["whole_records"], row["noisy_stretches"]
            print(
                f"   SNR {int(snr):3d} dB: whole Se {w['sensitivity']:7.3f} +P {w['ppv']:7.3f}   "
                f"noisy stretches Se {z['sensitivity']:7.3f} +P {z['ppv']:7.3f} (FP {z['fp']}, FN {z['fn']})"
            )


def record_list(directory: Path, database: str) -> list[str]:
    records = [r for r in (directory / "RECORDS").read_text().split() if r]
    if database == "nstdb":
        records = [r for r in records if r[:4] in ("118e", "119e")]
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--databases", default="mitdb,svdb,nstdb", help="comma-separated subset (no JSON written)")
    parser.add_argument("--records", help="comma-separated subset of records (no JSON written)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the NeuroKit2 comparison")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args()
    databases = [d for d in args.databases.split(",") if d]
    for database in databases:
        if database not in DATABASES:
            sys.exit(f"unknown database {database!r}; choose from {', '.join(DATABASES)}")
        if not (args.data_dir / database / "RECORDS").is_file():
            sys.exit(f"{database} records not found in {args.data_dir / database} (use --data-dir or ECG_DATA_DIR)")
    names = ["first_lead", "multilead"] + ([] if args.no_baseline else ["neurokit"])
    load_before = os.getloadavg()
    results = {}
    for database in databases:
        directory = args.data_dir / database
        records = record_list(directory, database)
        if args.records:
            records = [r for r in args.records.split(",") if r in records]
            if not records:
                continue
        results[database] = run_database(database, directory, records, names, not args.quiet)
        print_tables(database, results[database])
    if args.records or set(databases) != set(DATABASES):
        return
    import scipy
    import wfdb

    payload = {
        "databases": DATABASES,
        "detectors": {
            "first_lead": "ecg.processing.detection.detect_r_peaks on the first lead",
            "multilead": "ecg.processing.detection.detect_r_peaks_multilead on every lead, first preferred",
            "neurokit": "NeuroKit2 default nk.ecg_peaks on the raw first lead",
        },
        "reference": "beat annotations " + " ".join(sorted(SYMBOL_TO_AAMI)) + "; '!' flutter waves are not beats",
        "tolerance_ms": TOLERANCE_S * 1000,
        "matching": "one-to-one, closest pairs first",
        "offset": "detected minus reference sample, in ms, over matched beats",
        "tuning": "the detector's rules were tuned on these same records (mitdb, svdb, nstdb); no held-out "
        "set, except the 26 svdb records held back from this repository",
        "environment": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "wfdb": wfdb.__version__,
            "machine": platform.machine(),
            **machine(load_before),
        },
        "results": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"wrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
