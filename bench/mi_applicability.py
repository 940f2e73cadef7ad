"""Where the MI screen may speak: MIT-BIH (ambulatory MLII, no MI) against PTB (resting lead II, MI).

    .venv/bin/python -m bench.mi_applicability [--records 100,101] [--no-ptb]

Every record goes through ``ecg.models.classify.classify_signal``, the path ``classify_record``
runs, with the bundled record-level heartbeat model and MI model and the MI model's threshold:

* MIT-BIH's 44 non-paced records (102, 104, 107, 217 left out), analysed in MLII: how many the
  screen would flag **if MLII were accepted** (``accept_mlii=True``, what decides
  ``MLII_QUALIFIES``), the absolute Spearman correlation between the score and the record's share
  of non-N beats (reference annotations), and what the shipped rule (MLII not applicable) answers;
* PTB ``patient001`` (MI, raw 12-lead WFDB, lead ii) and the PTB 10-s excerpts and PTB-XL records
  of shared/data/mi (lead II; the MI model trained on most of them, so their scores are in-sample:
  they show whether the beat filters leave MI recordings assessable, not how accurate the model is);
* the same MIT-BIH figures for other aggregations, to choose among them: mean of all beats (the old
  rule), mean and median of the clean beats, and the cleanest 10-s stretch.
Writes bench/results/mi_applicability.json.
"""

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from bench.common import DATA_DIR, REPO, machine, newest_artifact, write_result

PACED = {"102", "104", "107", "217"}
STRETCH_S = 10.0


def spearman(x: list[float], y: list[float]) -> float | None:
    from scipy.stats import spearmanr

    if len(x) < 3:
        return None
    rho = spearmanr(x, y).statistic
    return None if np.isnan(rho) else round(float(rho), 3)


def reference_non_n_share(record: Path) -> float:
    import wfdb

    from ecg.processing.beats import aami_class

    classes = [aami_class(s) for s in wfdb.rdann(str(record), "atr").symbol]
    beats = [c for c in classes if c is not None]
    return sum(c != "N" for c in beats) / len(beats)


def cleanest_stretch(result, fs: float) -> float | None:
    """Median MI probability of the 10-s stretch of scored beats with the most of them (ties: earliest)."""
    scored = result.mi_screen.scored
    if len(scored) < 5 or result.mi_probabilities is None:
        return None
    times = result.r_peaks[scored] / fs
    best, best_count = 0, 0
    for i, t in enumerate(times):
        count = int(np.searchsorted(times, t + STRETCH_S) - i)
        if count > best_count:
            best, best_count = i, count
    chosen = scored[best : best + best_count]
    return float(np.median(result.mi_probabilities[chosen]))


def variants(result, fs: float) -> dict:
    mi = result.mi_probabilities
    if mi is None:
        return {}
    scored = result.mi_screen.scored
    return {
        "mean_all_beats": float(np.mean(mi)),
        "mean_clean": float(np.mean(mi[scored])) if len(scored) else None,
        "median_clean": float(np.median(mi[scored])) if len(scored) else None,
        "cleanest_10s": cleanest_stretch(result, fs),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", help="comma-separated MIT-BIH records (default: the 44 non-paced)")
    parser.add_argument("--no-ptb", action="store_true")
    parser.add_argument(
        "--rule", choices=["rhythm_morphology", "class"], help="beat rule to measure (default: shipped)"
    )
    parser.add_argument("--output", default="mi_applicability.json")
    args = parser.parse_args()
    load_before = os.getloadavg()

    from ecg.constants import AAMI_CLASSES
    from ecg.datasets import ptb, ptbxl
    from ecg.io import readers
    from ecg.models import inference
    from ecg.models.classify import classify_signal
    from ecg.processing import mi_screen
    from ecg.processing.mi_screen import choose_lead, not_applicable

    if args.rule:
        mi_screen.BEAT_RULE = args.rule

    hb_path, mi_path = newest_artifact("heartbeat_record"), newest_artifact("mi")
    assert hb_path is not None and mi_path is not None, "bundled models missing"
    hb = inference.load_model(hb_path, key=str(hb_path))
    mi = inference.load_model(mi_path, key=str(mi_path))
    threshold = float(json.loads(mi_path.with_suffix(".json").read_text())["threshold"])
    labels = list(AAMI_CLASSES)

    def run(signal, lead: str, accept_mlii: bool):
        return classify_signal(
            signal,
            lead,
            heartbeat_model=hb,
            labels=labels,
            mi_model=mi,
            mi_threshold=threshold,
            accept_mlii=accept_mlii,
            any_length=accept_mlii,  # MLII scored as if it qualified: over its 30 minutes, as measured before
        )

    mitdb = DATA_DIR / "mitdb"
    names = (
        args.records.split(",")
        if args.records
        else [r for r in (mitdb / "RECORDS").read_text().split() if r not in PACED]
    )
    rows = []
    t0 = time.perf_counter()
    for name in names:
        signal = readers.read_wfdb(mitdb / name)
        lead = signal.lead_name(None)
        as_mlii = run(signal, lead, accept_mlii=True)
        shipped = (
            not_applicable(choose_lead(list(signal.leads))) if not choose_lead(list(signal.leads)).applicable else None
        )
        shipped = shipped or run(signal, lead, accept_mlii=False).mi_screen
        screen = as_mlii.mi_screen
        rows.append(
            {
                "record": name,
                "lead": lead,
                "beats": len(as_mlii.predicted),
                "non_n_share_reference": round(reference_non_n_share(mitdb / name), 4),
                "non_n_share_predicted": round(float(np.mean(np.array(as_mlii.predicted) != "N")), 4),
                "if_mlii_accepted": screen.as_dict() | {"excluded": screen.excluded},
                "aggregations": variants(as_mlii, signal.fs),
                "shipped": shipped.as_dict(),
            }
        )
        print(name, screen.status, screen.beats_used, screen.score, screen.flag, shipped.status, flush=True)
    mitdb_seconds = time.perf_counter() - t0

    def summary(key: str) -> dict:
        scores = [r["aggregations"][key] for r in rows]
        shares = [r["non_n_share_reference"] for r in rows]
        present = [(s, f) for s, f in zip(scores, shares) if s is not None]
        flagged = sum(1 for s in scores if s is not None and s >= threshold)
        # Records with no score: left out (screened only), or ranked lowest (score treated as missing = 0).
        rho_screened = spearman([s for s, _ in present], [f for _, f in present])
        rho_missing = spearman([s if s is not None else 0.0 for s in scores], shares)
        return {
            "flagged": flagged,
            "of": len(rows),
            "flagged_share": round(flagged / len(rows), 3),
            "scored_records": len(present),
            "abs_spearman_vs_non_n_share_screened": None if rho_screened is None else abs(rho_screened),
            "abs_spearman_vs_non_n_share_missing_as_lowest": None if rho_missing is None else abs(rho_missing),
        }

    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r["if_mlii_accepted"]["status"]] = statuses.get(r["if_mlii_accepted"]["status"], 0) + 1
    shipped_statuses: dict[str, int] = {}
    for r in rows:
        shipped_statuses[r["shipped"]["status"]] = shipped_statuses.get(r["shipped"]["status"], 0) + 1
    result: dict = {
        "command": "python -m bench.mi_applicability",
        "models": {"heartbeat_record": hb_path.name, "mi": mi_path.name, "threshold": threshold},
        "beat_rule": mi_screen.BEAT_RULE,
        "mitdb": {
            "records": len(rows),
            "seconds": round(mitdb_seconds, 1),
            "if_mlii_accepted": {
                "statuses": statuses,
                "screen_as_shipped_rule": summary("median_clean"),
                "by_aggregation": {
                    k: summary(k) for k in ("mean_all_beats", "mean_clean", "median_clean", "cleanest_10s")
                },
            },
            "shipped": {
                "statuses": shipped_statuses,
                "flagged": sum(r["shipped"]["flag"] for r in rows),
            },
            "per_record": rows,
        },
    }

    if not args.no_ptb:
        ptb_rows = []
        signal, header = ptb.read_record(DATA_DIR / "ptbdb" / "patient001" / "s0010_re")
        raw = readers.read_wfdb(DATA_DIR / "ptbdb" / "patient001" / "s0010_re")  # as an upload reads it
        for label, sig in (("patient001 (raw WFDB names)", raw), ("patient001 (II dropped: derived)", None)):
            if sig is None:
                leads = {k: v for k, v in raw.leads.items() if k.lower() != "ii"}
                sig = readers.Signal(fs=raw.fs, leads=leads, units=None, source_format="wfdb")
            out = run(sig, sig.lead_name(None), accept_mlii=False)
            ptb_rows.append(
                {"record": label, "label": "mi", **out.mi_screen.as_dict(), "aggregations": variants(out, sig.fs)}
            )
            print(label, out.mi_screen.as_dict(), flush=True)
        for path in ptb.list_excerpts(DATA_DIR / "mi" / "ptbdb_10s_xlsx"):
            sig, head = ptb.read_excerpt(path)
            out = run(sig, "II", accept_mlii=False)
            ptb_rows.append(
                {"record": path.stem, "source": "ptb", "label": "mi" if head.is_mi else "normal"}
                | out.mi_screen.as_dict()
            )
        npy_dir = DATA_DIR / "mi" / "ptbxl_500hz_preprocessed_npy"
        for row in ptbxl.read_labels(npy_dir).itertuples():
            out = run(ptbxl.read_npy(npy_dir / row.file), "II", accept_mlii=False)
            label = (
                "mi"
                if row.label == "MI" and not row.uncertain_mi
                else "normal"
                if row.label != "MI"
                else "mi_uncertain"
            )
            ptb_rows.append({"record": str(row.record), "source": "ptbxl", "label": label, **out.mi_screen.as_dict()})
        groups: dict = {}
        for r in ptb_rows[2:]:
            g = groups.setdefault(
                f"{r['source']}_{r['label']}", {"records": 0, "screened": 0, "flagged": 0, "not_assessable": 0}
            )
            g["records"] += 1
            g["screened"] += r["status"] == "screened"
            g["flagged"] += bool(r["flag"])
            g["not_assessable"] += r["status"] == "not_assessable"
        result["ptb"] = {"patient001": ptb_rows[:2], "in_sample_groups": groups, "per_record": ptb_rows[2:]}

    result["machine"] = machine(load_before)
    write_result(REPO / "bench" / "results" / args.output, result)


if __name__ == "__main__":
    main()
