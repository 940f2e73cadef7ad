"""Noise left out of the rhythm analysis (`ecg.rhythm.noise`), measured in one command.

    .venv/bin/python -m bench.noise_eval [--markdown]

- The Noise Stress Test Database (nstdb): MIT-BIH 118 and 119 with electrode-motion noise at 24 to
  -6 dB SNR in 2-minute stretches (from 5:00, every other 2 minutes). Per record, the events the
  product reports inside the noisy stretches with the noise stage and without it (`noisy=[]`), the
  reference V runs there found and the runs detected there true, by EC57's run-by-run comparison
  (`ecg.evaluation.runs`, each stretch compared on its own: ``runs_ec57``) and by overlap alone
  (``runs``, the measure before session 27), and the share of the noisy stretches marked as noise. The clean 118 and 119 (mitdb) are the baseline.
- Every MIT-BIH record: the seconds marked as noise where the annotators mark the analysed lead
  noisy (`~`) and where they do not; cudb: the seconds marked outside the VF/VFL episodes the product
  finds (inside them VF is read through noise).

What noise costs elsewhere (V runs, AF, VF, pauses on MIT-BIH and cudb) is `bench.rhythm_eval`'s:
it runs the same analysis. Product beats come from `bench.rhythm_eval`'s cache (bench/_work/rhythm).
Results: bench/results/noise_eval.json.
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from bench import rhythm_eval as re_
from bench.common import REPO, arguments, machine, write_result
from ecg.evaluation import runs as ec57_runs
from ecg.rhythm import noise

OUTPUT = REPO / "bench" / "results" / "noise_eval.json"
NOISE_FROM_S = 300  # nstdb: noise in the 2 minutes from 5:00, then every other 2 minutes
NOISE_EVERY_S = 240
NOISE_LENGTH_S = 120
EVENT_GROUPS = {
    "vf": ("vf",),
    "asystole_pause": ("asystole", "pause"),
    "af": ("af", "afl"),
    "v_runs": ("vt", "v_run", "v_couplet"),
    "v_patterns": ("bigeminy", "trigeminy"),
    "s_runs": ("svt", "s_run", "s_couplet"),
    "rate": ("brady", "tachy"),
}


def noise_stretches(n_samples: int, fs: float) -> list[tuple[int, int]]:
    out = []
    for start in range(NOISE_FROM_S, int(n_samples / fs), NOISE_EVERY_S):
        out.append((int(start * fs), min(n_samples, int((start + NOISE_LENGTH_S) * fs)) - 1))
    return out


def _inside(span: tuple[int, int], stretches: list[tuple[int, int]]) -> bool:
    return any(re_._overlap(span, s) for s in stretches)


def _covered(spans: list[tuple[int, int]], stretches: list[tuple[int, int]]) -> int:
    return sum(re_._overlap(a, b) for a in spans for b in stretches)


def within(stream: list[tuple[int, str]], start: int, end: int) -> list[tuple[int, str]]:
    """A comparison stream from sample ``start`` to ``end`` (a VF/VFL episode in progress at ``start``
    opens there, one open at ``end`` runs to it)."""
    return [a for a in ec57_runs.from_sample(stream, start) if a[0] <= end]


def ec57_in(reference, test, stretches: list[tuple[int, int]], fs: float) -> dict:
    """EC57's run statistics (`ecg.evaluation.runs.compare`) over each of the ``stretches``, summed."""
    total: dict = {}
    for a, b in stretches:
        for name, counts in ec57_runs.compare(within(reference, a, b), within(test, a, b), fs).items():
            re_._add(total.setdefault(name, {}), counts)
    return total


def stress_record(db: str, record: str, model) -> dict:
    """Events and V runs inside the noisy stretches of one nstdb record (or the same stretches of the
    clean original), with the noise stage and without it."""
    ref = re_.reference(db, record)
    prod = re_.product_beats(db, record, model)
    fs, n = ref["fs"], ref["n_samples"]
    stretches = noise_stretches(n, fs)
    ref_runs = {
        k: [r for r in v if _inside(r, stretches)] for k, v in re_._run_spans(ref["r_peaks"], ref["classes"]).items()
    }
    out: dict = {"db": db, "record": record}
    reference_stream = re_.reference_stream(ref)
    for key, noisy in (("with_noise_stage", None), ("without", [])):
        rep = re_.product_rhythm(prod, n, noisy)
        test_stream = ec57_runs.report_stream(prod["r_peaks"], prod["classes"], rep.events)
        inside = [e for e in rep.events if _inside((e.start, e.end), stretches)]
        runs = {k: [r for r in v if _inside(r, stretches)] for k, v in re_._runs_from_events(inside).items()}
        marked = [(s["start"], s["end"]) for s in rep.summary["noise"]]
        out[key] = {
            "events_in_noisy_stretches": {
                g: sum(1 for e in inside if e.type in types) for g, types in EVENT_GROUPS.items()
            },
            "runs_ec57": ec57_in(reference_stream, test_stream, stretches, fs),
            "runs": re_.run_match(ref_runs, runs),
            "marked_share_of_noisy_stretches": round(
                _covered(marked, stretches) / sum(e - s + 1 for s, e in stretches), 3
            ),
            "marked_s_outside": round((sum(e - s + 1 for s, e in marked) - _covered(marked, stretches)) / fs, 1),
        }
    return out


def _lead_noisy_seconds(db: str, record: str, n_seconds: int) -> np.ndarray:
    """Per second: whether the annotators mark the first lead noisy (MIT-BIH `~` subtypes)."""
    import wfdb

    ann = wfdb.rdann(str(re_.DATA_DIR / db / record), "atr")
    fs = float(wfdb.rdheader(str(re_.DATA_DIR / db / record)).fs)
    state = np.zeros(n_seconds, bool)
    current, last = False, 0
    for sample, symbol, subtype in zip(ann.sample, ann.symbol, ann.subtype, strict=True):
        if symbol != "~":
            continue
        second = int(sample / fs)
        state[last:second] = current
        current, last = bool(subtype == -1 or (subtype & 1)), second
    state[last:] = current
    return state


def marked_record(db: str, record: str, model) -> dict:
    """Seconds marked as noise on a MIT-BIH or cudb record, by what the reference says is there."""
    ref = re_.reference(db, record)
    prod = re_.product_beats(db, record, model)
    fs, n = ref["fs"], ref["n_samples"]
    rep = re_.product_rhythm(prod, n)
    marked = [(s["start"], s["end"]) for s in rep.summary["noise"]]
    out: dict = {"db": db, "record": record, "marked_s": rep.summary["noise_s"], "stretches": len(marked)}
    if db == "mitdb":
        seconds = np.zeros(int(n // fs) + 1, bool)
        for s, e in marked:
            seconds[int(s // fs) : int(e // fs) + 1] = True
        lead_noisy = _lead_noisy_seconds(db, record, len(seconds))
        out["annotated_noisy_s"] = int(lead_noisy.sum())
        out["marked_in_annotated_noisy_s"] = int((seconds & lead_noisy).sum())
        out["marked_elsewhere_s"] = int((seconds & ~lead_noisy).sum())
        out["marked_in_clean_sinus_s"] = round(sum(e - s + 1 for s, e in marked if re_.clean_sinus(ref, s, e)) / fs, 1)
    else:
        out["reference_vf_s"] = round(sum(e - s + 1 for s, e in ref["vf"]) / fs, 1)
        out["marked_in_reference_vf_s"] = round(_covered(marked, ref["vf"]) / fs, 1)
    return out


def _sum(rows: list[dict], key: str) -> dict:
    total: dict = {}
    for r in rows:
        for group, count in r[key]["events_in_noisy_stretches"].items():
            total[group] = total.get(group, 0) + count
    return total


def markdown(result: dict) -> str:
    lines = [
        "| record | marked share of the noisy stretches | marked outside them (s) | events in the noisy stretches, without the noise stage -> with it | V runs in them, EC57: ref found/ref · detected true/detected, without -> with | the same by overlap |",
        "|---|---:|---:|---|---|---|",
    ]
    for r in result["stress"]:
        w, o = r["with_noise_stage"], r["without"]
        events = ", ".join(
            f"{g} {o['events_in_noisy_stretches'][g]} -> {w['events_in_noisy_stretches'][g]}"
            for g in EVENT_GROUPS
            if o["events_in_noisy_stretches"][g] or w["events_in_noisy_stretches"][g]
        )

        def runs(m: dict) -> str:
            a = {k: sum(v[k] for v in m.values()) for k in ("ref", "ref_detected", "test", "test_true")}
            return f"{a['ref_detected']}/{a['ref']} · {a['test_true']}/{a['test']}"

        lines.append(
            f"| {r['db']}/{r['record']} | {100 * w['marked_share_of_noisy_stretches']:.0f} % | {w['marked_s_outside']} "
            f"| {events or 'none'} | {runs(o['runs_ec57'])} -> {runs(w['runs_ec57'])} | {runs(o['runs'])} -> {runs(w['runs'])} |"
        )
    lines += [
        "",
        "| record | marked (s) | annotated noisy (s) | marked there | marked elsewhere | in clean sinus |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["marked"]:
        if r["db"] == "mitdb" and r["marked_s"]:
            lines.append(
                f"| {r['record']} | {r['marked_s']} | {r['annotated_noisy_s']} | {r['marked_in_annotated_noisy_s']} "
                f"| {r['marked_elsewhere_s']} | {r['marked_in_clean_sinus_s']} |"
            )
    lines += [
        "",
        "| record | marked outside VF (s) | reference VF (s) | marked inside reference VF (s) |",
        "|---|---:|---:|---:|",
    ]
    for r in result["marked"]:
        if r["db"] == "cudb":
            lines.append(
                f"| {r['record']} | {r['marked_s']} | {r['reference_vf_s']} | {r['marked_in_reference_vf_s']} |"
            )
    return "\n".join(lines)


def main() -> None:
    if arguments(__doc__, OUTPUT, markdown) is None:
        return
    load_before = os.getloadavg()
    model = re_._model_loader()
    started = time.perf_counter()
    stress = [stress_record("mitdb", r, model) for r in ("118", "119")]
    stress += [stress_record("nstdb", r, model) for r in sorted(re_._records("nstdb")) if r[:3] in ("118", "119")]
    marked = [marked_record(db, r, model) for db in ("mitdb", "cudb") for r in re_._records(db)]
    noisy_rows = [r for r in stress if r["db"] == "nstdb"]
    result = {
        "command": "python -m bench.noise_eval",
        "noise_stage": {
            "percentile": noise.PERCENTILE,
            "median_seconds": noise.MEDIAN_SECONDS,
            "noisy_above": noise.NOISY,
            "noisy_where_leads_disagree_above": noise.NOISY_IF_LEADS_DISAGREE,
            "leads_agree": noise.LEADS_AGREE,
            "regular_run_max_rr_cv": noise.RUN_MAX_RR_CV,
        },
        "totals": {
            "nstdb_events_in_noisy_stretches_without": _sum(noisy_rows, "without"),
            "nstdb_events_in_noisy_stretches_with": _sum(noisy_rows, "with_noise_stage"),
            "nstdb_runs_ec57_without": re_.run_totals(
                [{"runs": r["without"]["runs_ec57"]} for r in noisy_rows], "runs", lambda r: True
            ),
            "nstdb_runs_ec57_with": re_.run_totals(
                [{"runs": r["with_noise_stage"]["runs_ec57"]} for r in noisy_rows], "runs", lambda r: True
            ),
            "mitdb_marked_s": round(sum(r["marked_s"] for r in marked if r["db"] == "mitdb"), 1),
            "mitdb_marked_in_annotated_noisy_s": sum(
                r["marked_in_annotated_noisy_s"] for r in marked if r["db"] == "mitdb"
            ),
            "mitdb_annotated_noisy_s": sum(r["annotated_noisy_s"] for r in marked if r["db"] == "mitdb"),
            "mitdb_marked_in_clean_sinus_s": round(
                sum(r["marked_in_clean_sinus_s"] for r in marked if r["db"] == "mitdb"), 1
            ),
            "cudb_marked_s": round(sum(r["marked_s"] for r in marked if r["db"] == "cudb"), 1),
        },
        "stress": stress,
        "marked": marked,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": machine(load_before),
    }
    write_result(OUTPUT, result)
    print(markdown(result))


if __name__ == "__main__":
    main()
