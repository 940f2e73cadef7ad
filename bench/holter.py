"""A 24-hour Holter-length recording through the worker: time, beats and peak worker memory.

    .venv/bin/python -m bench.holter [--records all]

Builds a 2-lead WFDB record (format 16, 360 Hz) by concatenating the 48 MIT-BIH records end to
end (first and second channel of each; 24.07 h, 31.2 M samples per lead, ~110 k beats) in a
temporary folder, uploads its .hea and .dat through the API to a private stack (bench/stack.py,
upload limit raised for the bench), and waits for the worker (concurrency 1) to finish. Records
the worker's processing time (started -> finished, from the database), the beats and rhythm
events stored, the worker's resident memory before and its peak (VmHWM) after, and the web
process's peak and the CPU time the web processes spent on the upload request (its cost
without the other jobs on the machine). The rhythm stage (VF/VFL windows over the signal, then
`analyse_rhythm` over the stored beats and classes) is also timed on its own in this process,
with the peak of the memory it allocates (tracemalloc). Then a doctor's correction of the largest V family to N is
sent through the API and the worker's recomputation of the rhythm timed, with its peak memory (``beat_correction``).
Writes bench/results/holter.json.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.common import DATA_DIR, REPO, api_token, children, db_connection, machine, rss_mb, stack_models, write_result
from bench.stack import AppStack, new_root

MITDB_RECORDS = [
    "100",
    "101",
    "102",
    "103",
    "104",
    "105",
    "106",
    "107",
    "108",
    "109",
    "111",
    "112",
    "113",
    "114",
    "115",
    "116",
    "117",
    "118",
    "119",
    "121",
    "122",
    "123",
    "124",
    "200",
    "201",
    "202",
    "203",
    "205",
    "207",
    "208",
    "209",
    "210",
    "212",
    "213",
    "214",
    "215",
    "217",
    "219",
    "220",
    "221",
    "222",
    "223",
    "228",
    "230",
    "231",
    "232",
    "233",
    "234",
]


def build_holter(directory: Path, records: list[str], name: str = "holter") -> tuple[Path, Path, float]:
    """Concatenate MIT-BIH records into one 2-lead record; returns (.hea, .dat, seconds)."""
    import numpy as np
    import wfdb

    parts = []
    for record in records:
        signal = wfdb.rdrecord(str(DATA_DIR / "mitdb" / record), channels=[0, 1], physical=False)
        # Every MIT-BIH record has gain 200 adu/mV and baseline 1024: digital values concatenate as they are.
        if any(g != 200 for g in signal.adc_gain) or any(b != 1024 for b in signal.baseline):
            physical = signal.dac()
            parts.append(np.rint(physical * 200 + 1024).astype(np.int16))
        else:
            parts.append(signal.d_signal.astype(np.int16))
    d_signal = np.concatenate(parts)
    wfdb.wrsamp(
        name,
        fs=360,
        units=["mV", "mV"],
        sig_name=["MLII", "V1"],
        d_signal=d_signal,
        fmt=["16", "16"],
        adc_gain=[200.0, 200.0],
        baseline=[1024, 1024],
        write_dir=str(directory),
    )
    return directory / f"{name}.hea", directory / f"{name}.dat", len(d_signal) / 360.0


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rhythm_stage(hea: Path, db, recording_id: int) -> dict:
    """The rhythm analysis of the worker, timed alone on the same lead, R-peaks and classes."""
    import numpy as np

    with db.cursor() as cur:
        cur.execute(
            "SELECT position, aami_class FROM diagnostics_beat WHERE recording_id = %s ORDER BY index", (recording_id,)
        )
        rows = cur.fetchall()
    r_peaks = np.array([r[0] for r in rows], dtype=np.int64)
    classes = np.array([r[1] for r in rows])
    return timed_rhythm(hea, r_peaks, classes)


def reference_beats(records: list[str]):
    """The records' annotated beats and AAMI classes, at their places in the concatenated record."""
    import numpy as np
    import wfdb

    from ecg.processing.beats import aami_class

    peaks, classes, offset = [], [], 0
    for record in records:
        path = str(DATA_DIR / "mitdb" / record)
        ann = wfdb.rdann(path, "atr")
        keep = [i for i, s in enumerate(ann.symbol) if s in "NLRejAaJSVEF/fQ"]
        peaks.append(np.asarray(ann.sample)[keep] + offset)
        classes += [aami_class(ann.symbol[i]) for i in keep]
        offset += wfdb.rdheader(path).sig_len
    return np.concatenate(peaks).astype(np.int64), np.array(classes)


def timed_rhythm(hea: Path, r_peaks, classes) -> dict:
    """As the worker: VF/VFL windows, the stretches too noisy to read and the per-beat waveform
    measures while the leads are at hand, then ``analyse_rhythm`` over the beats and classes alone;
    wall and CPU times and peak allocation (tracemalloc, which slows the stage down)."""
    import tracemalloc

    from ecg.io import readers
    from ecg.processing.context import other_lead
    from ecg.processing.detection import detect_r_peaks
    from ecg.rhythm import analyse_rhythm, noise, vf
    from ecg.rhythm.analysis import waveform_measures

    signal = readers.read_wfdb(hea.with_suffix(""))
    values = signal.validated("MLII", max_seconds=48 * 3600)
    second = other_lead(signal.leads, "MLII")
    # each lead's own beats, which the worker's detection finds on the way (BeatContext.lead_peaks)
    lead_peaks = (detect_r_peaks(values, 360.0), detect_r_peaks(second, 360.0)) if second is not None else ()
    del signal, second
    tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    vf_found = vf.vf_events(values, 360.0, r_peaks)
    tn, cn = time.perf_counter(), time.process_time()
    noisy = noise.noisy(values, 360.0, r_peaks, lead_peaks)
    t1, c1 = time.perf_counter(), time.process_time()
    measures = waveform_measures(values, 360.0, r_peaks)
    t2, c2 = time.perf_counter(), time.process_time()
    report = analyse_rhythm(
        signal=None,
        fs=360.0,
        r_peaks=r_peaks,
        classes=classes,
        n_samples=len(values),
        vf_found=vf_found,
        measures=measures,
        noisy=noisy,
    )
    t3, c3 = time.perf_counter(), time.process_time()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "vf_windows_s": round(tn - t0, 1),
        "noise_s": round(t1 - tn, 1),
        "waveform_measures_s": round(t2 - t1, 1),
        "beat_analysis_s": round(t3 - t2, 1),
        "total_s": round(t3 - t0, 1),
        "cpu_s": {  # this process's CPU time: what the stage costs when the machine is shared
            "vf_windows": round(cn - c0, 1),
            "noise": round(c1 - cn, 1),
            "waveform_measures": round(c2 - c1, 1),
            "beat_analysis": round(c3 - c2, 1),
        },
        "peak_allocated_mb": round(peak / 2**20, 1),
        "beats": len(r_peaks),
        "events": len(report.events),
        "af_burden_pct": report.summary["af"]["burden_pct"],
        "vf_episodes": len(vf_found),
        "noise_marked_s": report.summary["noise_s"],
    }


def correction_stage(stack, db, recording_id: int, worker_pid: int, *, signal_again: bool = False) -> dict:
    """A doctor's correction of the recording's largest V family to N through the API, then the worker's
    recomputation of the rhythm over the corrected classes (from the rhythm's inputs the classification kept): the
    families found, the correction request's time, the recomputation's time (from the correction to the rhythm
    current again) and the worker's peak memory after it (VmHWM: classification and recomputation together).

    ``signal_again``: the recording as one classified before the rhythm's inputs were kept (its RhythmInputs row
    deleted), so the worker reads the signal again and finds its beats again to recompute; the worker's peak is
    reset first (/proc/<pid>/clear_refs), so ``worker_peak_rss_after_mb`` is the recomputation's own peak, with the
    models the worker holds since the classification."""
    import requests

    token = api_token(stack, "doctor_a")
    with db.cursor() as cur:
        cur.execute(
            "SELECT aami_class, count(*) FROM diagnostics_beatfamily WHERE recording_id = %s GROUP BY aami_class",
            (recording_id,),
        )
        families = dict(cur.fetchall())
        cur.execute(
            "SELECT number, beats FROM diagnostics_beatfamily WHERE recording_id = %s AND aami_class = 'V' "
            "ORDER BY beats DESC LIMIT 1",
            (recording_id,),
        )
        row = cur.fetchone()
    if row is None:
        return {"families": families, "skipped": "no V family"}
    number, beats = row
    if signal_again:
        with db.cursor() as cur:
            cur.execute("DELETE FROM diagnostics_rhythminputs WHERE recording_id = %s", (recording_id,))
        Path(f"/proc/{worker_pid}/clear_refs").write_text("5")  # VmHWM back to the resident size now
    peak_before = rss_mb(worker_pid)["peak_rss_mb"]
    started = time.perf_counter()
    response = requests.post(
        f"{stack.base_url}/api/v1/recordings/{recording_id}/beat-corrections",
        headers={"Authorization": f"Token {token}"},
        json={"to_class": "N", "family": number, "note": "bench"},
        timeout=600,
    )
    request_s = time.perf_counter() - started
    if response.status_code != 201:
        raise SystemExit(f"the correction answered {response.status_code}: {response.text[:500]}")
    with db.cursor() as cur:
        while True:
            cur.execute(
                "SELECT rhythm_outdated_at IS NULL, rhythm_recompute_error FROM diagnostics_diagnosis "
                "WHERE recording_id = %s",
                (recording_id,),
            )
            current, error = cur.fetchone()
            if current or error:
                break
            time.sleep(0.5)
        recompute_s = time.perf_counter() - started
        cur.execute(
            "SELECT type, count(*) FROM diagnostics_event WHERE recording_id = %s GROUP BY type ORDER BY type",
            (recording_id,),
        )
        events = dict(cur.fetchall())
    return {
        "families": families,
        "family_corrected": {"number": number, "beats": beats, "to_class": "N"},
        "correction_request_s": round(request_s, 2),
        "correction_to_rhythm_current_s": round(recompute_s, 1),
        "recompute_error": error or None,
        "events_after": events,
        "worker_peak_rss_before_mb": peak_before,
        "worker_peak_rss_after_mb": rss_mb(worker_pid)["peak_rss_mb"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", default="all", help="comma-separated MIT-BIH records, or 'all' (24 h)")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "holter.json")
    parser.add_argument(
        "--signal-again",
        action="store_true",
        help="recompute after the correction by reading the signal again, as for a recording classified before the "
        "rhythm's inputs were kept (the worker's own peak in that; default records: the first 7, 3.5 h, under the "
        "4-hour limit of that path), into bench/results/holter_signal_again.json",
    )
    parser.add_argument(
        "--rhythm-only",
        action="store_true",
        help="time only the rhythm stage, in this process, on the reference beats (no stack, no models)",
    )
    args = parser.parse_args()
    records = MITDB_RECORDS if args.records == "all" else args.records.split(",")
    if args.signal_again:
        records = MITDB_RECORDS[:7] if args.records == "all" else records
        if args.output == parser.get_default("output"):
            args.output = REPO / "bench" / "results" / "holter_signal_again.json"
    if args.rhythm_only:
        load_before = os.getloadavg()
        build_dir = Path(tempfile.mkdtemp(prefix="ecg-holter-"))
        hea, _, seconds = build_holter(build_dir, records)
        r_peaks, classes = reference_beats(records)
        try:
            stage = timed_rhythm(hea, r_peaks, classes)
        finally:
            for f in build_dir.iterdir():
                f.unlink()
            build_dir.rmdir()
        result = {
            "command": "python -m bench.holter --rhythm-only",
            "hours": round(seconds / 3600, 2),
            "beats": "reference annotations",
            "rhythm_stage_in_process": stage,
        }
        write_result(REPO / "bench" / "results" / "holter_rhythm.json", {**result, "machine": machine(load_before)})
        return

    import requests

    load_before = os.getloadavg()
    build_dir = Path(tempfile.mkdtemp(prefix="ecg-holter-"))
    hea, dat, seconds = build_holter(build_dir, records)
    stack = AppStack(
        new_root("ecg-holter-"),
        web_workers=1,
        env={"API_THROTTLE_RATE": "100000/minute", "ECG_MAX_UPLOAD_BYTES": str(400 * 1024 * 1024)},
    )
    try:
        models = stack_models()
        stack.setup(models)
        stack.start_web()
        worker = stack.start_worker()
        token = api_token(stack)
        patient_id = int(stack.sql("SELECT id FROM patients_patient WHERE mrn = 'A-1001'"))
        worker_idle = rss_mb(worker.pid)
        web_pids = [stack.web.pid, *children(stack.web.pid)]
        web_cpu_before = sum(cpu_seconds(pid) for pid in web_pids)
        started = time.perf_counter()
        response = requests.post(
            f"{stack.base_url}/api/v1/recordings",
            headers={"Authorization": f"Token {token}"},
            timeout=600,
            data={"patient": patient_id, "kind": "signal"},
            files=[("file", (hea.name, hea.read_bytes())), ("file", (dat.name, dat.read_bytes()))],
        )
        upload_s = time.perf_counter() - started
        web_cpu_s = sum(cpu_seconds(pid) for pid in web_pids) - web_cpu_before
        if response.status_code != 201:
            raise SystemExit(f"upload answered {response.status_code}: {response.text[:500]}")
        recording_id = response.json()["id"]
        db = db_connection(stack)
        peak_sampled = 0.0
        with db.cursor() as cur:
            while True:
                cur.execute("SELECT status FROM diagnostics_ecgrecording WHERE id = %s", (recording_id,))
                status = cur.fetchone()[0]
                peak_sampled = max(peak_sampled, rss_mb(worker.pid)["rss_mb"] or 0)
                if status in ("done", "failed"):
                    break
                time.sleep(0.2)
            total_s = time.perf_counter() - started
            cur.execute(
                "SELECT extract(epoch FROM finished_at - started_at), error_message, sample_count "
                "FROM diagnostics_ecgrecording WHERE id = %s",
                (recording_id,),
            )
            worker_s, error, sample_count = cur.fetchone()
            cur.execute("SELECT count(*) FROM diagnostics_beat WHERE recording_id = %s", (recording_id,))
            beats = cur.fetchone()[0]
            cur.execute(
                "SELECT heart_rate_bpm, count_n, count_s, count_v, count_f, count_q "
                "FROM diagnostics_diagnosis WHERE recording_id = %s",
                (recording_id,),
            )
            diagnosis = cur.fetchone()
            cur.execute(
                "SELECT type, count(*) FROM diagnostics_event WHERE recording_id = %s GROUP BY type ORDER BY type",
                (recording_id,),
            )
            events = dict(cur.fetchall())
        result = {
            "command": "python -m bench.holter" + (" --signal-again" if args.signal_again else ""),
            "records": records,
            "hours": round(seconds / 3600, 2),
            "samples_per_lead": sample_count,
            "dat_file_mb": round(dat.stat().st_size / 2**20, 1),
            "models": {task: version for _, task, version in models},
            "status": status,
            "error": error or None,
            "beats_stored": beats,
            "diagnosis": None
            if diagnosis is None
            else dict(zip(["heart_rate_bpm", "N", "S", "V", "F", "Q"], [float(diagnosis[0] or 0), *diagnosis[1:]])),
            "upload_request_s": round(upload_s, 1),
            # CPU the web processes spent on the request: its cost without the other jobs on the machine.
            "upload_request_web_cpu_s": round(web_cpu_s, 2),
            "worker_processing_s": round(float(worker_s), 1) if worker_s is not None else None,
            "upload_to_done_s": round(total_s, 1),
            "beats_per_s_worker": round(beats / float(worker_s)) if worker_s else None,
            "events_stored": events,
            "worker_rss_idle_mb": worker_idle["rss_mb"],
            "worker_peak_rss_mb": rss_mb(worker.pid)["peak_rss_mb"],
            "worker_peak_rss_sampled_mb": peak_sampled,
            "web_peak_rss_mb": {str(pid): rss_mb(pid)["peak_rss_mb"] for pid in web_pids},
            "target_worker_rss_mb": 1536,
            "target_upload_request_s": 3.0,
            "target_web_peak_rss_mb": 300,
        }
        if status == "done":
            result["beat_correction"] = correction_stage(
                stack, db, recording_id, worker.pid, signal_again=args.signal_again
            )
        if not args.signal_again:
            result["rhythm_stage_in_process"] = rhythm_stage(hea, db, recording_id)
        result["machine"] = machine(load_before)
        write_result(args.output, result)
    finally:
        stack.stop()
        for f in build_dir.iterdir():
            f.unlink()
        build_dir.rmdir()


if __name__ == "__main__":
    main()
