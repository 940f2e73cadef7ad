"""Rhythm analysis against the PhysioNet references, EC57 style, in one resumable command.

    .venv/bin/python -m bench.rhythm_eval [--fresh] [--fit-vf] [--markdown]

- V couplets, short runs (3-5) and long runs (>= 6): sensitivity and positive predictivity on the 48
  MIT-BIH records, once with the reference beat labels (the rhythm logic alone) and once with the
  product's own R-peaks and classes (the worker's path for a continuous signal: R-peaks on both
  leads, `ecg.processing.context.analyse`, and the record-level model `heartbeat_record-*`);
- AF (reference: `(AFIB` and `(AFL` rhythm annotations): episode and duration Se / +P; flutter
  typed `afl` against the `(AFL` intervals alone;
- VF/VFL on cudb and MIT-BIH 207 (reference: `[` ... `]`): episode and duration Se / +P, delay from
  onset to detection, and VF events on the other MIT-BIH records (in clean sinus stretches or not);
- pauses >= 2 s (reference: annotated beats 2 s or more apart, outside VF/VFL): Se / +P with the
  product's R-peaks.

V runs are compared by EC57's run-by-run comparison (`ecg.evaluation.runs`, the algorithm of
PhysioNet's rxr: fusion beats extend runs, a run is matched by the longest run within 150 ms of its
first and last beat, and its length must agree: a short run needs 3 or more beats found, a long run
6 or more; ``*_ec57``), and, as in earlier results, by overlap alone (any run overlapping a run of the
other side). A reference episode (AF, VF/VFL, pause) is detected when a detected one overlaps it; a
detected episode is a true positive when it overlaps a reference one.
Per-record product beats are cached under bench/_work/rhythm/; the figures go to
bench/results/rhythm_eval.json. `--fit-vf` refits the VF window model and prints its constants.
"""

import argparse
import functools
import hashlib
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from bench.common import DATA_DIR, REPO, machine, newest_artifact, write_result
from ecg.constants import AAMI_CLASSES
from ecg.evaluation import runs as ec57_runs
from ecg.evaluation.episodes import episode_match
from ecg.evaluation.episodes import overlap as _overlap
from ecg.evaluation.episodes import rates as _rates
from ecg.rhythm import analyse_rhythm, ectopy, noise, signal_loss, vf

CACHE = REPO / "bench" / "_work" / "rhythm"
OUTPUT = REPO / "bench" / "results" / "rhythm_eval.json"
BEAT_SYMBOLS = set("NLRejAaJSVEF/fQ")
RUN_CLASSES = {"couplet": (2, 2), "short_run": (3, 5), "long_run": (6, 10**9)}
CLEAN_MARGIN_S = 10.0
PACED = {"102", "104", "107", "217"}
MODEL_TASK = "heartbeat_record"  # the model the worker uses for continuous signals
# The VF window model's regularisation, chosen with its threshold and decision windows by the
# record-wise CV of `bench.experiments.vf_regularisation` (C = 1 had one onset past 10 s out of fold).
VF_C = 0.001


def _records(db: str) -> list[str]:
    return (DATA_DIR / db / "RECORDS").read_text().split()


def reference(db: str, record: str) -> dict:
    import wfdb

    from ecg.processing.beats import aami_class

    ann = wfdb.rdann(str(DATA_DIR / db / record), "atr")
    header = wfdb.rdheader(str(DATA_DIR / db / record))
    symbols = np.array(ann.symbol)
    samples = np.asarray(ann.sample, np.int64)
    notes = [n.replace("\x00", "").strip() for n in ann.aux_note]
    is_beat = np.isin(symbols, list(BEAT_SYMBOLS))
    rhythm = [(int(s), n) for s, sym, n in zip(samples, symbols, notes) if sym == "+" and n.startswith("(")]
    spans: dict[str, list[tuple[int, int]]] = {}
    for i, (start, name) in enumerate(rhythm):
        end = rhythm[i + 1][0] - 1 if i + 1 < len(rhythm) else header.sig_len - 1
        spans.setdefault(name[1:], []).append((start, end))
    vf_spans, opened = [], None
    for s, sym in zip(samples, symbols):
        if sym == "[":
            opened = int(s)
        elif sym == "]" and opened is not None:
            vf_spans.append((opened, int(s)))
            opened = None
    if opened is not None:
        vf_spans.append((opened, header.sig_len - 1))
    noise = samples[(symbols == "~") | (symbols == "|")]
    # `~` with subtype bits 0x30 set: the signal becomes unreadable there (it ends a run in EC57)
    unreadable = samples[(symbols == "~") & ((np.asarray(ann.subtype) & 0x30) == 0x30)]
    return {
        "fs": float(header.fs),
        "n_samples": int(header.sig_len),
        "r_peaks": samples[is_beat],
        "classes": np.array([aami_class(s) for s in symbols[is_beat]]),
        "rhythm": spans,
        "vf": vf_spans,
        "noise": noise,
        "unreadable": unreadable,
    }


@functools.cache
def _model_stem() -> str:
    """The record-level model's artifact name and the sources of the R-peaks' context and of the
    decision, which key the per-record cache (looked up once): a change of any finds and classifies
    the records again."""
    from ecg.models import decision
    from ecg.processing import context

    sources = b"".join(Path(m.__file__).read_bytes() for m in (context, decision))  # type: ignore[arg-type]
    digest = hashlib.sha1(sources).hexdigest()[:8]
    return f"{newest_artifact(MODEL_TASK).stem}-{digest}"


def product_beats(db: str, record: str, model, *, one_lead: bool = False) -> dict:
    """The product's lead, R-peaks, beat classes and waveform measures for a record (cached per model
    and decision).

    The worker's path for a continuous signal: R-peaks on the analysed lead with gaps filled from the
    second (`ecg.processing.context.analyse`), every beat classified by the record-level model and
    decided as the worker decides (`ecg.models.decision.record_classes`, with the beats' shapes and
    the analysed lead's waveform measures). With ``one_lead``, as for an upload of the analysed lead
    alone (no second lead to fill gaps, compare shapes or tell noise).
    """
    from ecg.io import readers
    from ecg.models import record as record_model
    from ecg.models.decision import record_classes
    from ecg.processing.context import analyse, other_lead, pause_measures
    from ecg.rhythm.analysis import waveform_measures

    signal = readers.read_wfdb(DATA_DIR / db / record)
    lead = signal.lead_name(None)
    values = signal.validated(lead)  # cudb's lost samples (NaN) bridged, as for an upload
    no_signal = signal_loss.stretches(values, signal.fs, signal.lost_spans(lead))  # as the worker marks them
    cached = CACHE / f"{db}-{record}-{_model_stem()}{'-one-lead' if one_lead else ''}.npz"
    data = dict(np.load(cached)) if cached.exists() else {}
    if "m_second_lead_qrs" in data:  # a file cached before the pauses read that measure is computed again
        measures = {k.removeprefix("m_"): v for k, v in data.items() if k.startswith("m_")}
        return {
            "values": values,
            "fs": signal.fs,
            "r_peaks": data["r_peaks"],
            "classes": data["classes"],
            "measures": measures,
            "no_signal": no_signal,
            "lead_peaks": tuple(data[k] for k in ("lead_peaks_0", "lead_peaks_1") if k in data),
        }
    second = None if one_lead else other_lead(signal.leads, lead)
    _, context = analyse(values, signal.fs, second, lost=signal.lost_spans(lead))
    scores = record_model.predict(model(), context.morphology, context.features)
    measures = waveform_measures(values, signal.fs, context.r_peaks)
    measures |= pause_measures(context)  # as the worker adds them
    classes = record_classes(  # as the worker decides
        scores, list(AAMI_CLASSES), context.r_peaks, signal.fs, measures=measures, morphology=context.morphology
    )
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(
        cached,
        r_peaks=context.r_peaks,
        classes=classes,
        **{f"lead_peaks_{i}": p for i, p in enumerate(context.lead_peaks)},
        **{f"m_{k}": np.asarray(v) for k, v in measures.items()},
    )
    return {
        "values": values,
        "fs": signal.fs,
        "r_peaks": context.r_peaks,
        "classes": classes,
        "measures": measures,
        "no_signal": no_signal,
        "lead_peaks": context.lead_peaks,
    }


def product_rhythm(prod: dict, n_samples: int, noisy: list[tuple[int, int]] | None = None):
    """The worker's rhythm analysis of ``product_beats``: its beats, classes, waveform measures,
    stretches without signal and (unless ``noisy`` is given) too noisy to read, as the worker marks
    them from both leads."""
    if noisy is None:
        noisy = noise.noisy(prod["values"], prod["fs"], prod["r_peaks"], prod["lead_peaks"])
    return analyse_rhythm(
        signal=prod["values"],
        fs=prod["fs"],
        r_peaks=prod["r_peaks"],
        classes=prod["classes"],
        n_samples=n_samples,
        measures=prod["measures"],
        no_signal=prod["no_signal"],
        noisy=noisy,
    )


def _add(total: dict, part: dict) -> None:
    for k, v in part.items():
        if isinstance(v, (int, float)):
            total[k] = total.get(k, 0) + v


def reference_runs(rid: str) -> dict[str, list[tuple[int, int]]]:
    """The reference V runs (fusion beats among them) of record ``rid`` ("db/name") by length class,
    as spans in samples."""
    db, name = rid.split("/")
    ref = reference(db, name)
    return _run_spans(ref["r_peaks"], ref["classes"])


def _run_spans(r_peaks, classes) -> dict[str, list[tuple[int, int]]]:
    out: dict[str, list[tuple[int, int]]] = {k: [] for k in RUN_CLASSES}
    for first, last in ectopy.runs(classes, ectopy.RUN_MEMBERS["V"], holding="V"):
        n = last - first + 1
        for name, (lo, hi) in RUN_CLASSES.items():
            if lo <= n <= hi:
                out[name].append((int(r_peaks[first]), int(r_peaks[last])))
    return out


def run_match(ref_runs: dict, test_runs: dict) -> dict:
    """EC57 run Se per reference length class, +P per detected length class (matching by overlap)."""
    every_test = [t for spans in test_runs.values() for t in spans]
    every_ref = [r for spans in ref_runs.values() for r in spans]
    out = {}
    for name in RUN_CLASSES:
        out[name] = {
            "ref": len(ref_runs[name]),
            "ref_detected": sum(1 for r in ref_runs[name] if any(_overlap(r, t) for t in every_test)),
            "test": len(test_runs[name]),
            "test_true": sum(1 for t in test_runs[name] if any(_overlap(r, t) for r in every_ref)),
        }
    return out


def pauses_of(r_peaks, fs) -> list[tuple[int, int]]:
    rr = np.diff(r_peaks) / fs
    return [(int(r_peaks[i]), int(r_peaks[i + 1])) for i in np.flatnonzero(rr >= 2.0)]


def clean_sinus(ref: dict, start: int, end: int) -> bool:
    """Whether [start, end] lies in a normal-sinus stretch with no noise mark within 10 s."""
    margin = int(CLEAN_MARGIN_S * ref["fs"])
    in_sinus = any(s <= start and end <= e for s, e in ref["rhythm"].get("N", []))
    noisy = np.any((ref["noise"] >= start - margin) & (ref["noise"] <= end + margin))
    return in_sinus and not noisy


def evaluate_record(db: str, record: str, model) -> dict:
    ref = reference(db, record)
    prod = product_beats(db, record, model)
    fs = ref["fs"]
    out: dict = {"db": db, "record": record}
    with_ref = analyse_rhythm(
        signal=prod["values"], fs=fs, r_peaks=ref["r_peaks"], classes=ref["classes"], n_samples=ref["n_samples"]
    )
    with_prod = product_rhythm(prod, ref["n_samples"])
    ref_vf = ref["vf"]
    test_vf = [(e.start, e.end) for e in with_prod.events if e.type == "vf"]
    out["vf"] = episode_match(ref_vf, test_vf)
    delays = []
    for s, e in ref_vf:
        hits = [t for t in test_vf if _overlap((s, e), t)]
        if hits:
            first = min(t[0] for t in hits)
            # Decided at the end of the DECISION_WINDOWS-th window from the episode's first window (dated
            # by its centre), not at the start: an upper bound when leading windows were left out.
            lag_s = vf.WINDOW_S + (vf.DECISION_WINDOWS - 1) * vf.STEP_S - (vf.WINDOW_S - vf.STEP_S) / 2
            decided = first + int(lag_s * fs)
            delays.append(round(max(0, decided - s) / fs, 1))
    out["vf"]["delays_s"] = delays
    out["vf"]["false_in_clean_sinus"] = sum(
        1 for t in test_vf if not any(_overlap(r, t) for r in ref_vf) and db == "mitdb" and clean_sinus(ref, *t)
    )
    if db != "mitdb":
        return out
    ref_runs = _run_spans(ref["r_peaks"], ref["classes"])
    ref_stream = reference_stream(ref)
    for key, r_peaks, classes, rep in (
        ("runs_reference_labels", ref["r_peaks"], ref["classes"], with_ref),
        ("runs_product", prod["r_peaks"], prod["classes"], with_prod),
    ):
        out[f"{key}_ec57"] = ec57_runs.compare(ref_stream, ec57_runs.report_stream(r_peaks, classes, rep.events), fs)
        out[key] = run_match(ref_runs, _runs_from_events(rep.events))
    ref_af = sorted(ref["rhythm"].get("AFIB", []) + ref["rhythm"].get("AFL", []))
    for key, rep in (("af_reference_labels", with_ref), ("af_product", with_prod)):
        out[key] = episode_match(ref_af, [(e.start, e.end) for e in rep.events if e.type in ("af", "afl")])
        # Flutter typed as such: `afl` events against the `(AFL` intervals alone.
        out[key.replace("af_", "afl_", 1)] = episode_match(
            sorted(ref["rhythm"].get("AFL", [])), [(e.start, e.end) for e in rep.events if e.type == "afl"]
        )
    out["pauses_product"] = pause_match(ref, with_prod.events)
    return out


def reference_pauses(ref: dict) -> list[tuple[int, int]]:
    """The reference's pauses (annotated beats 2 s or more apart), outside VF/VFL: inside an episode
    the annotators mark no beats, and that silence is not a pause."""
    return [p for p in pauses_of(ref["r_peaks"], ref["fs"]) if not any(_overlap(p, v) for v in ref["vf"])]


def pause_match(ref: dict, events) -> dict:
    """Pauses and asystole among ``events`` against the reference's pauses (EC57 episode counts), with
    the false ones in clean sinus counted."""
    ref_pauses = reference_pauses(ref)
    test_pauses = [(e.start, e.end) for e in events if e.type in ("pause", "asystole")]
    out = episode_match(ref_pauses, test_pauses)
    out["false_in_clean_sinus"] = sum(
        1 for t in test_pauses if not any(_overlap(r, t) for r in ref_pauses) and clean_sinus(ref, *t)
    )
    return out


def _runs_from_events(events) -> dict[str, list[tuple[int, int]]]:
    out: dict[str, list[tuple[int, int]]] = {k: [] for k in RUN_CLASSES}
    for e in events:
        if e.type == "v_couplet":
            out["couplet"].append((e.start, e.end))
        elif e.type in ("v_run", "vt"):
            out["short_run" if e.beats <= 5 else "long_run"].append((e.start, e.end))
    return out


def reference_stream(ref: dict) -> list[tuple[int, str]]:
    """The reference annotations of `reference` as EC57's run comparison reads them: every beat's
    class (fusion beats extend ventricular runs), VF/VFL episodes, unreadable signal."""
    return ec57_runs.beat_stream(ref["r_peaks"], ref["classes"], ref["vf"], ref["unreadable"])


def run_totals(per_record: list[dict], key: str, keep) -> dict:
    """Run counts of the records ``keep`` accepts, summed per length class, with Se and +P (%)."""
    agg: dict = {}
    for r in per_record:
        if key in r and keep(r):
            for name, m in r[key].items():
                _add(agg.setdefault(name, {}), m)
    return {
        name: m
        | {
            "se": round(100 * m["ref_detected"] / m["ref"], 2) if m["ref"] else None,
            "ppv": round(100 * m["test_true"] / m["test"], 2) if m["test"] else None,
        }
        for name, m in agg.items()
    }


def totals(per_record: list[dict]) -> dict:
    out: dict = {}
    scopes = (
        ("runs_reference_labels_ec57", "runs_reference_labels_ec57", lambda r: True),
        ("runs_product_ec57", "runs_product_ec57", lambda r: True),
        # The paced records (102, 104, 107, 217), left out of the inter-patient protocol as in EC57.
        ("runs_product_ec57_without_paced", "runs_product_ec57", lambda r: r["record"] not in PACED),
        ("runs_reference_labels", "runs_reference_labels", lambda r: True),
        ("runs_product", "runs_product", lambda r: True),
        ("runs_product_without_paced", "runs_product", lambda r: r["record"] not in PACED),
    )
    for out_key, key, keep in scopes:
        out[out_key] = run_totals(per_record, key, keep)
    af_records = {"201", "202", "203", "210", "219", "221", "222"}
    for key in ("af_reference_labels", "af_product", "afl_reference_labels", "afl_product"):
        for scope, keep in (("af_records", lambda r: r["record"] in af_records), ("all_mitdb", lambda r: True)):
            agg = {}
            for r in per_record:
                if key in r and keep(r):
                    _add(agg, r[key])
            out[f"{key}_{scope}"] = agg | _rates(agg)
    for scope, keep in (
        ("cudb", lambda r: r["db"] == "cudb"),
        ("mitdb_207", lambda r: r["record"] == "207"),
        ("mitdb_other", lambda r: r["db"] == "mitdb" and r["record"] != "207"),
    ):
        agg = {}
        delays = []
        for r in per_record:
            if keep(r):
                _add(agg, {k: v for k, v in r["vf"].items() if k != "delays_s"})
                delays += r["vf"]["delays_s"]
        out[f"vf_{scope}"] = (
            agg
            | _rates(agg)
            | {
                "delay_median_s": float(np.median(delays)) if delays else None,
                "delay_max_s": max(delays) if delays else None,
                "detected_within_10_s": sum(1 for d in delays if d <= 10.0),
            }
        )
    agg = {}
    for r in per_record:
        if "pauses_product" in r:
            _add(agg, r["pauses_product"])
    out["pauses_product"] = agg | _rates(agg)
    return out


def window_labels(episodes: list[tuple[int, int]], starts: np.ndarray, fs: float) -> np.ndarray:
    """Per VF window starting at ``starts``: the share of it inside the reference ``episodes``."""
    span = int(vf.WINDOW_S * fs)
    label = np.zeros(len(starts))
    for s, e in episodes:
        label = np.maximum(label, np.array([_overlap((st, st + span - 1), (s, e)) / span for st in starts]))
    return label


def vf_windows():
    """Per cudb and MIT-BIH record: (db, record, reference, product beats, VF window features, their
    starts, the share of each window inside the reference VF/VFL episodes)."""
    model = _model_loader()
    for db in ("cudb", "mitdb"):
        for record in _records(db):
            ref = reference(db, record)
            prod = product_beats(db, record, model)
            feats, starts = vf.window_features(prod["values"], prod["fs"], prod["r_peaks"])
            yield db, record, ref, prod, feats, starts, window_labels(ref["vf"], starts, prod["fs"])


def fit_vf() -> None:
    """Fit the VF window model on cudb and MIT-BIH windows; print the constants for ecg/rhythm/vf.py."""
    from sklearn.linear_model import LogisticRegression

    xs, ys, groups = [], [], []
    for db, record, _, _, feats, _, label in vf_windows():
        keep = (label > 0.99) | (label == 0)
        xs.append(vf.model_inputs(feats)[keep])
        ys.append(label[keep] > 0.5)
        groups += [f"{db}-{record}"] * int(keep.sum())
        print(db, record, int(keep.sum()), int((label[keep] > 0.5).sum()), flush=True)
    x, y = np.concatenate(xs), np.concatenate(ys)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    clf = LogisticRegression(C=VF_C, class_weight="balanced", max_iter=3000).fit((x - mean) / scale, y)
    print("MEAN =", np.round(mean, 5).tolist())
    print("SCALE =", np.round(scale, 5).tolist())
    print("WEIGHTS =", np.round(clf.coef_[0], 5).tolist())
    print("BIAS =", round(float(clf.intercept_[0]), 5))


def _model_loader():
    loaded = {}

    def get():
        if "m" not in loaded:
            from ecg.models import inference

            path = newest_artifact(MODEL_TASK)
            loaded["m"] = inference.load_model(path, key=str(path))
        return loaded["m"]

    return get


def markdown(result: dict) -> str:
    """Per-record tables for bench/README.md."""

    def cell(m: dict, key: str) -> str:
        return f"{m['ref_detected']}/{m['ref']} · {m['test_true']}/{m['test']}" if m else ""

    lines = [
        (
            "| record | couplets ref labels | short runs ref labels | long runs ref labels | couplets product "
            "| short runs product | long runs product | AF episodes (Se · +P, product) | AF duration Se / +P % (product) "
            "| flutter typed afl (product) | pauses (product) |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["records"]:
        if r["db"] != "mitdb":
            continue
        af_m = r["af_product"]
        rates = _rates(af_m)
        dur = (
            f"{'—' if rates['duration_se'] is None else rates['duration_se']} / {rates['duration_ppv']}"
            if af_m["ref"] or af_m["test"]
            else ""
        )
        lines.append(
            "| "
            + " | ".join(
                [r["record"]]
                + [cell(r[k][n], n) for k in ("runs_reference_labels_ec57", "runs_product_ec57") for n in RUN_CLASSES]
                + [
                    cell(af_m, "") if af_m["ref"] or af_m["test"] else "",
                    dur,
                    cell(r["afl_product"], "") if r["afl_product"]["ref"] or r["afl_product"]["test"] else "",
                    cell(r["pauses_product"], "") if r["pauses_product"]["ref"] or r["pauses_product"]["test"] else "",
                ]
            )
            + " |"
        )
    lines += [
        "",
        "| record | VF/VFL episodes found | detected episodes true | duration Se % | duration +P % | delays (s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["records"]:
        m = r["vf"]
        if r["db"] == "cudb" or m["ref"] or m["test"]:
            rates = _rates(m)
            lines.append(
                f"| {r['db']}/{r['record']} | {m['ref_detected']}/{m['ref']} | {m['test_true']}/{m['test']} "
                f"| {rates['duration_se'] if rates['duration_se'] is not None else ''} "
                f"| {rates['duration_ppv'] if rates['duration_ppv'] is not None else ''} "
                f"| {', '.join(str(d) for d in m['delays_s'])} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", action="store_true", help="recompute every record (else reuse the results file)")
    parser.add_argument("--fit-vf", action="store_true")
    parser.add_argument("--records", nargs="*", help="db/record names to (re)evaluate only")
    parser.add_argument("--markdown", action="store_true", help="print the per-record tables of the results file")
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads(OUTPUT.read_text())))
        return
    if args.fit_vf:
        fit_vf()
        return
    load_before = os.getloadavg()
    previous = json.loads(OUTPUT.read_text()) if OUTPUT.exists() and not args.fresh else {}
    done = {f"{r['db']}/{r['record']}": r for r in previous.get("records", [])}
    wanted = set(args.records or [])
    model = _model_loader()
    started = time.perf_counter()
    for db in ("mitdb", "cudb"):
        for record in _records(db):
            name = f"{db}/{record}"
            if name in done and name not in wanted:
                continue
            done[name] = evaluate_record(db, record, model)
            print(name, json.dumps({k: v for k, v in done[name].items() if k.startswith(("vf", "af_p"))}), flush=True)
    records = [done[k] for k in sorted(done)]
    result = {
        "command": "python -m bench.rhythm_eval",
        "heartbeat_model": newest_artifact(MODEL_TASK).name,
        "note": "figures on the data the rhythm methods were tuned on (there is no held-out rhythm set)",
        "totals": totals(records),
        "records": records,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine(load_before),
    }
    write_result(OUTPUT, {k: v for k, v in result.items()})


if __name__ == "__main__":
    main()
