"""Memory: worker RSS with both models loaded; the web processes never load TensorFlow.

    .venv/bin/python -m bench.memory

Starts a private stack (bench/stack.py: gunicorn with 2 workers, one Celery worker with
concurrency 1), reads the worker's resident memory when it is ready (no model loaded yet), after
a 100-beat upload (both models loaded) and after a 30-minute 2-lead MIT-BIH record, with its peak
(VmHWM). It exercises the web processes (pages, uploads through the page and the API, API lists)
and checks in /proc/PID/maps of the gunicorn master and every gunicorn worker that no TensorFlow
library is mapped. Writes bench/results/memory.json.
"""

import argparse
import os
import time
from pathlib import Path

from bench.common import (
    DATA_DIR,
    REPO,
    api_token,
    children,
    db_connection,
    machine,
    maps_mention,
    rss_mb,
    stack_models,
    write_result,
)
from bench.stack import AppStack, new_root
from ecg.datasets.synthetic import beat_csv


def wait_done(db, recording_id: int) -> str:
    with db.cursor() as cur:
        while True:
            cur.execute("SELECT status FROM diagnostics_ecgrecording WHERE id = %s", (recording_id,))
            status = cur.fetchone()[0]
            if status in ("done", "failed"):
                return status
            time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", default="208")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "memory.json")
    args = parser.parse_args()

    import requests

    load_before = os.getloadavg()
    stack = AppStack(new_root("ecg-memory-"), web_workers=2, env={"API_THROTTLE_RATE": "100000/minute"})
    try:
        models = stack_models()
        stack.setup(models)
        stack.start_web()
        worker = stack.start_worker()
        db = db_connection(stack)
        token = api_token(stack)
        api = requests.Session()
        api.headers["Authorization"] = f"Token {token}"
        patient_id = int(stack.sql("SELECT id FROM patients_patient WHERE mrn = 'A-1001'"))
        result = {
            "command": "python -m bench.memory",
            "models": {task: version for _, task, version in models},
            "worker_ready_no_model": rss_mb(worker.pid),
        }

        r = api.post(
            f"{stack.base_url}/api/v1/recordings",
            data={"patient": patient_id, "kind": "beats"},
            files={"file": ("b.csv", beat_csv(100))},
            timeout=60,
        )
        r.raise_for_status()
        status = wait_done(db, r.json()["id"])
        result["worker_both_models_loaded_after_100_beats"] = {**rss_mb(worker.pid), "status": status}

        files = [
            ("file", (f"{args.record}{ext}", (DATA_DIR / "mitdb" / f"{args.record}{ext}").read_bytes()))
            for ext in (".hea", ".dat")
        ]
        r = api.post(
            f"{stack.base_url}/api/v1/recordings",
            data={"patient": patient_id, "kind": "signal"},
            files=files,
            timeout=120,
        )
        r.raise_for_status()
        status = wait_done(db, r.json()["id"])
        result[f"worker_after_30_min_record_mitdb_{args.record}"] = {**rss_mb(worker.pid), "status": status}

        # Exercise the web processes: pages, a page upload, API lists and details.
        session = stack.session("staff_a")
        for path in ("/", "/patients/", f"/patients/{patient_id}/"):
            session.get(stack.base_url + path, timeout=30).raise_for_status()
        upload = stack.upload(session, patient_id, [("page.csv", beat_csv(20))])
        assert upload.status_code in (302, 303), upload.status_code
        for _ in range(20):
            for path in ("/api/v1/patients", "/api/v1/recordings", "/api/v1/diagnoses", "/api/v1/model-versions"):
                api.get(stack.base_url + path, timeout=30).raise_for_status()
        recording = api.get(f"{stack.base_url}/api/v1/recordings", timeout=30).json()["results"][0]["id"]
        session.get(f"{stack.base_url}/recordings/{recording}/", timeout=30)
        api.get(f"{stack.base_url}/api/v1/recordings/{recording}/beats", timeout=30).raise_for_status()

        web_pids = [stack.web.pid, *children(stack.web.pid)]
        result["web_processes"] = [
            {
                "pid": pid,
                "role": "gunicorn master" if pid == stack.web.pid else "gunicorn worker",
                **rss_mb(pid),
                "tensorflow_mapped": maps_mention(pid, "tensorflow"),
                "keras_mapped": maps_mention(pid, "keras"),
            }
            for pid in web_pids
        ]
        result["web_never_imports_tensorflow"] = not any(p["tensorflow_mapped"] for p in result["web_processes"])
        result["worker_tensorflow_mapped"] = maps_mention(worker.pid, "tensorflow")  # the check itself works
        result["target_worker_rss_mb"] = 1024
        write_result(args.output, {**result, "machine": machine(load_before)})
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
