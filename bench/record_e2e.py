"""A 30-minute 2-lead MIT-BIH record end to end: read -> R-peaks -> beats -> both models -> stored.

    .venv/bin/python -m bench.record_e2e [--record 208] [--repeats 3]

Two measurements in one run:
1. Stages in this process (models warm, as in a worker that has served an upload before): read
   the record from the zip the upload is stored as, pick the lead, detect R-peaks, cut beats, run
   the heartbeat and the MI model.
2. The whole path through a private stack (bench/stack.py): the record's .hea and .dat POSTed to
   `/api/v1/recordings`, the worker (concurrency 1) reading, segmenting, classifying and storing
   every beat and the diagnosis. The worker's time is `finished_at - started_at` in the database;
   the wall time runs from the POST to status `done`. The worker's peak resident memory (VmHWM) is
   read from /proc after the runs, and its resident memory before the first upload.
Writes bench/results/record_e2e.json.
"""

import argparse
import io
import json
import os
import statistics
import time
import zipfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench.common import DATA_DIR, REPO, api_token, db_connection, machine, rss_mb, stack_models, write_result
from bench.stack import AppStack, new_root


def stages(record: str, models, repeats: int) -> dict:

    from ecg.io import readers
    from ecg.models import inference
    from ecg.models import record as record_model
    from ecg.models.architectures import load_keras2_h5
    from ecg.processing.context import other_lead, record_context
    from ecg.processing.detection import detect_r_peaks
    from ecg.processing.segmenting import segment_every_peak

    loaded = {}
    for path, task, _ in models:
        loaded[task] = load_keras2_h5(path) if path.suffix == ".h5" else inference.load_model(path, key=str(path))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for ext in (".hea", ".dat"):
            archive.write(DATA_DIR / "mitdb" / f"{record}{ext}", f"{record}{ext}")
    data = buffer.getvalue()
    record_level = "heartbeat_record" in loaded
    stage_names = ("read", "r_peaks", "cut_beats", "record_context", "heartbeat_model", "mi_model")
    times: dict[str, list[float]] = {k: [] for k in stage_names}
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        signal = readers.read_wfdb_zip(data)
        lead = signal.lead_name(None)
        values = signal.validated(lead)
        t1 = time.perf_counter()
        r_peaks = detect_r_peaks(values, signal.fs)
        t2 = time.perf_counter()
        beats = segment_every_peak(values, signal.fs, r_peaks)
        t3 = time.perf_counter()
        if record_level:  # the worker's path for a continuous signal: both leads, in context
            second = other_lead(signal.leads, lead)
            ctx = record_context([values] if second is None else [values, second], signal.fs, r_peaks)
        t4 = time.perf_counter()
        if record_level:
            record_model.predict(loaded["heartbeat_record"], ctx.morphology, ctx.features)
        else:
            inference.predict(loaded["heartbeat"], beats)
        t5 = time.perf_counter()
        inference.mi_probability(inference.predict(loaded["mi"], beats))
        t6 = time.perf_counter()
        for key, value in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)):
            times[key].append(value)
    out = {key: round(statistics.median(v[1:]), 3) for key, v in times.items()}  # the first run warms caches
    out["total"] = round(sum(out.values()), 3)
    out["beat_count"] = int(len(beats))
    out["leads"] = list(signal.leads)
    out["duration_s"] = round(signal.duration_s, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", default="208")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "record_e2e.json")
    args = parser.parse_args()

    import requests

    load_before = os.getloadavg()
    models = stack_models()
    result = {
        "command": "python -m bench.record_e2e",
        "record": f"mitdb/{args.record}",
        "models": {task: version for _, task, version in models},
        "stages_in_process_s": stages(args.record, models, args.repeats),
    }
    print(json.dumps(result, indent=2), flush=True)

    stack = AppStack(new_root("ecg-record-"), web_workers=1, env={"API_THROTTLE_RATE": "100000/minute"})
    try:
        stack.setup(models)
        stack.start_web()
        worker = stack.start_worker()
        worker_idle = rss_mb(worker.pid)
        token = api_token(stack)
        patient_id = int(stack.sql("SELECT id FROM patients_patient WHERE mrn = 'A-1001'"))
        files = [
            ("file", (f"{args.record}{ext}", (DATA_DIR / "mitdb" / f"{args.record}{ext}").read_bytes()))
            for ext in (".hea", ".dat")
        ]
        db = db_connection(stack)
        runs = []
        for i in range(args.repeats + 1):
            started = time.perf_counter()
            response = requests.post(
                f"{stack.base_url}/api/v1/recordings",
                headers={"Authorization": f"Token {token}"},
                data={"patient": patient_id, "kind": "signal"},
                files=files,
                timeout=120,
            )
            upload_s = time.perf_counter() - started
            if response.status_code != 201:
                raise SystemExit(f"upload answered {response.status_code}: {response.text[:500]}")
            recording_id = response.json()["id"]
            with db.cursor() as cur:
                while True:
                    cur.execute("SELECT status FROM diagnostics_ecgrecording WHERE id = %s", (recording_id,))
                    status = cur.fetchone()[0]
                    if status in ("done", "failed"):
                        break
                    time.sleep(0.02)
                wall = time.perf_counter() - started
                cur.execute(
                    "SELECT extract(epoch FROM finished_at - started_at), "
                    "(SELECT count(*) FROM diagnostics_beat WHERE recording_id = r.id) "
                    "FROM diagnostics_ecgrecording r WHERE id = %s",
                    (recording_id,),
                )
                worker_s, beats = cur.fetchone()
            runs.append(
                {
                    "status": status,
                    "upload_request_s": round(upload_s, 3),
                    "worker_s": round(float(worker_s), 3),
                    "upload_to_done_s": round(wall, 3),
                    "beats_stored": beats,
                    "first": i == 0,
                }
            )
        steady = [r for r in runs if not r["first"]]
        result["through_stack"] = {
            "runs": runs,
            "worker_s_median": round(statistics.median(r["worker_s"] for r in steady), 3),
            "upload_to_done_s_median": round(statistics.median(r["upload_to_done_s"] for r in steady), 3),
            "first_upload_to_done_s": runs[0]["upload_to_done_s"],
            "worker_rss_before_first_upload_mb": worker_idle["rss_mb"],
            "worker_after": rss_mb(worker.pid),
        }
        result["target_s"] = 5.0  # issue 11: a 30-minute 2-lead record end to end, warm
        write_result(args.output, {**result, "machine": machine(load_before)})
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
