"""Beats of 10-s resting 12-lead ECGs: the product's count and heart rate against references.

Three sets, each 10 s at rest:
* PTB patient001 (1000 Hz) cut into 10-s excerpts at 47 phases of the cardiac cycle; the reference
  is exact: the whole record's beats (found on lead II, 52 of 52 with NeuroKit2 on every lead) whose
  QRS lies inside the excerpt (R peak at least 80 ms from either end).
* the 36 PTB 10-s excerpts of shared/data/mi (1000 Hz, mV); reference: NeuroKit2's default
  detector on each of the 12 leads, a beat where half the leads or more agree within 100 ms and
  its QRS is complete, and the RR-based rate of those beats.
* the 116 PTB-XL records of shared/data/mi (500 Hz; band-passed and z-scored by their source); the
  same reference.
For each: the product now (``detect_beats`` on II, I, V2, V5 with the edge rule) and before this
rule (lead II and one other, ``detect_r_peaks_multilead``). Results in bench/results/resting_beats.json.

    .venv/bin/python -m bench.resting_beats [--data-dir DIR]
"""

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np

from bench.common import DATA_DIR, REPO, machine, write_result
from ecg.datasets import ptb, ptbxl
from ecg.io.readers import Signal, read_wfdb
from ecg.processing.context import detect_beats, detection_leads
from ecg.processing.detection import QRS_AFTER_S, QRS_BEFORE_S, detect_r_peaks, detect_r_peaks_multilead
from ecg.processing.segmenting import mean_heart_rate

RESULT = REPO / "bench" / "results" / "resting_beats.json"


def _lead(signal: Signal, name: str) -> str:
    return signal.lead_name(name)


def product(signal: Signal) -> np.ndarray:
    ii = _lead(signal, "II")
    return detect_beats([signal.leads[ii], *detection_leads(signal.leads, ii)], signal.fs)


def before(signal: Signal) -> np.ndarray:
    ii, i = _lead(signal, "II"), _lead(signal, "I")
    return detect_r_peaks_multilead(np.stack([signal.leads[ii], signal.leads[i]]), signal.fs)


def neurokit_reference(signal: Signal) -> tuple[np.ndarray, list[int]]:
    """NeuroKit2's default detector on each of the 12 leads. The reference beats are those found
    within 100 ms of each other in at least half the leads (one lead's P wave or artefact is not a
    beat) with a complete QRS (R at least 80 ms from either end, as the product asks); the reference
    rate is theirs, 60 x (beats - 1) / (last - first R). Also each lead's own count."""
    import neurokit2 as nk

    per_lead, found = [], []
    for values in list(signal.leads.values())[:12]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, info = nk.ecg_peaks(values, sampling_rate=signal.fs)
        peaks = np.asarray(info["ECG_R_Peaks"], dtype=np.int64)
        per_lead.append(len(peaks))
        found.append(peaks)
    everything = np.sort(np.concatenate(found))
    window, consensus = int(0.1 * signal.fs), []
    start = 0
    while start < len(everything):
        stop = np.searchsorted(everything, everything[start] + window, side="right")
        leads_there = sum(bool(((p >= everything[start]) & (p < everything[start] + window)).any()) for p in found)
        if leads_there >= len(found) / 2:
            consensus.append(int(np.median(everything[start:stop])))
            start = stop
        else:
            start += 1
    beats = np.asarray(consensus)
    n = signal.n_samples
    beats = beats[(beats >= QRS_BEFORE_S * signal.fs) & (beats + QRS_AFTER_S * signal.fs < n)]
    return beats, per_lead


def _where(seconds: float, duration: float) -> str:
    return "first second" if seconds < 1.0 else "last second" if seconds > duration - 1.0 else "between"


def _score(rows: list[dict], duration: float = 10.0) -> dict:
    out: dict = {"records": len(rows)}
    for side in ("product_only_s", "reference_only_s"):
        places = [_where(t, duration) for r in rows for t in r[side]]
        out[side.removesuffix("_s") + "_beats"] = {p: places.count(p) for p in sorted(set(places))}
    for who in ("product", "before"):
        diff = np.array([r[f"{who}_count"] - r["reference_count"] for r in rows])
        rate = np.array([abs(r[f"{who}_bpm"] - r["reference_bpm"]) for r in rows])
        out[who] = {
            "count_equal": int((diff == 0).sum()),
            "count_fewer": int((diff < 0).sum()),
            "count_more": int((diff > 0).sum()),
            "count_difference_histogram": {str(int(k)): int(v) for k, v in zip(*np.unique(diff, return_counts=True))},
            "rate_within_2_bpm": int((rate <= 2.0).sum()),
            "rate_abs_error_bpm_median": round(float(np.median(rate)), 2),
            "rate_abs_error_bpm_max": round(float(rate.max()), 2),
        }
    return out


def _unmatched(beats: np.ndarray, others: np.ndarray, fs: float) -> list[float]:
    """Times (s) of ``beats`` with none of ``others`` within 100 ms."""
    if len(others) == 0:
        return [round(b / fs, 2) for b in beats]
    return [round(b / fs, 2) for b in beats if np.abs(others - b).min() > 0.1 * fs]


def _row(name: str, signal: Signal, reference: np.ndarray, extra: dict | None = None) -> dict:
    now, old = product(signal), before(signal)
    return {
        "record": name,
        "reference_count": len(reference),
        "reference_bpm": round(mean_heart_rate(reference, signal.fs) or 0.0, 2),
        "product_only_s": _unmatched(now, reference, signal.fs),
        "reference_only_s": _unmatched(reference, now, signal.fs),
        "product_count": len(now),
        "product_bpm": round(mean_heart_rate(now, signal.fs) or 0.0, 2),
        "before_count": len(old),
        "before_bpm": round(mean_heart_rate(old, signal.fs) or 0.0, 2),
        **(extra or {}),
    }


def patient001_windows(data_dir: Path) -> list[dict]:
    whole = read_wfdb(data_dir / "ptbdb" / "patient001" / "s0010_re")
    fs, ii = whole.fs, whole.leads["ii"]
    peaks = detect_r_peaks(ii, fs)
    width, rows = int(10 * fs), []
    for start in range(0, whole.n_samples - width, int(0.613 * fs)):
        inside = peaks[(peaks - start >= QRS_BEFORE_S * fs) & (peaks + QRS_AFTER_S * fs < start + width)]
        excerpt = Signal(fs=fs, leads={k: v[start : start + width] for k, v in list(whole.leads.items())[:12]})
        rows.append(_row(f"patient001@{start / fs:.3f}s", excerpt, inside - start))
    return rows


def reference_rows(name: str, signal: Signal, **extra) -> dict:
    beats, per_lead = neurokit_reference(signal)
    return _row(name, signal, beats, {"reference_per_lead": per_lead, **extra})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args()
    load, started = os.getloadavg(), time.time()
    windows = patient001_windows(args.data_dir)
    excerpts = [
        reference_rows(path.stem, ptb.read_excerpt(path)[0])
        for path in ptb.list_excerpts(args.data_dir / "mi" / "ptbdb_10s_xlsx")
    ]
    labels = ptbxl.read_labels(args.data_dir / "mi" / "ptbxl_500hz_preprocessed_npy")
    ptbxl_rows = [
        reference_rows(
            str(row.record),
            ptbxl.read_npy(args.data_dir / "mi" / "ptbxl_500hz_preprocessed_npy" / row.file),
            label=row.label,
        )
        for row in labels.itertuples()
    ]
    write_result(
        RESULT,
        {
            "bench": "resting_beats",
            "what": __doc__.split("\n\n")[1],
            "patient001_windows": _score(windows),
            "ptb_10s_excerpts": _score(excerpts),
            "ptbxl_records": _score(ptbxl_rows),
            "disagreements": [
                r
                for r in windows + excerpts + ptbxl_rows
                if r["product_count"] != r["reference_count"] or abs(r["product_bpm"] - r["reference_bpm"]) > 2.0
            ],
            "seconds": round(time.time() - started, 1),
            "machine": machine(load),
        },
    )


if __name__ == "__main__":
    main()
