"""Scale-out: two worker processes consuming one queue, against one, in the same run.

    .venv/bin/python bench/scale.py [--records 100,101,103,105,106,119,200,208]

In production, `docker compose up --scale worker=N` starts N worker containers (concurrency 1
each) on the one Celery queue. Here a private stack (tests/stack.py) runs one worker, then two:
each phase uploads the same 30-minute MIT-BIH records (2 leads, through the API) back to back and
waits until all are done; the figure is recordings (and beats) per second from the first POST to
the last `done`, and how many recordings each worker took. Writes bench/results/scale.json.
"""

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATA_DIR, REPO, api_token, db_connection, machine, stack_models  # noqa: E402

from tests.stack import AppStack, new_root  # noqa: E402


def phase(stack, api, db, patient_id: int, records: list[str], tag: str) -> dict:
    ids = []
    started = time.perf_counter()
    for record in records:
        files = [("file", (f"{record}{ext}", (DATA_DIR / "mitdb" / f"{record}{ext}").read_bytes()))
                 for ext in (".hea", ".dat")]
        r = api.post(f"{stack.base_url}/api/v1/recordings", data={"patient": patient_id, "kind": "signal"},
                     files=files, headers={"Idempotency-Key": f"{tag}-{record}"}, timeout=120)
        r.raise_for_status()
        ids.append(r.json()["id"])
    with db.cursor() as cur:
        while True:
            cur.execute("SELECT count(*) FROM diagnostics_ecgrecording WHERE id = ANY(%s) AND status IN ('done', 'failed')",
                        (ids,))
            if cur.fetchone()[0] == len(ids):
                break
            time.sleep(0.1)
        elapsed = time.perf_counter() - started
        cur.execute("SELECT count(*) FROM diagnostics_beat WHERE recording_id = ANY(%s)", (ids,))
        beats = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM diagnostics_ecgrecording WHERE id = ANY(%s) AND status = 'done'", (ids,))
        done = cur.fetchone()[0]
    return {"recordings": len(ids), "done": done, "beats": beats, "seconds": round(elapsed, 2),
            "recordings_per_s": round(len(ids) / elapsed, 3), "beats_per_s": round(beats / elapsed)}


def tasks_per_worker(stack) -> list[int]:
    return [len(re.findall(r"classify_recording\[[^\]]+\] succeeded", (stack.root / f"worker-{i}.log").read_text()))
            for i in range(len(stack.workers))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", default="100,101,103,105,106,119,200,208")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "scale.json")
    args = parser.parse_args()
    records = args.records.split(",")

    import requests

    load_before = os.getloadavg()
    stack = AppStack(new_root("ecg-scale-"), web_workers=2, env={"API_THROTTLE_RATE": "100000/minute"})
    try:
        models = stack_models()
        stack.setup(models)
        stack.start_web()
        db = db_connection(stack)
        api = requests.Session()
        api.headers["Authorization"] = f"Token {api_token(stack)}"
        patient_id = int(stack.sql("SELECT id FROM patients_patient WHERE mrn = 'A-1001'"))
        stack.start_worker()
        phase(stack, api, db, patient_id, records[:1], "warm")  # the worker loads both models
        one = phase(stack, api, db, patient_id, records, "one")
        before = tasks_per_worker(stack)
        stack.start_worker()
        phase(stack, api, db, patient_id, records[:2], "warm2")
        mid = tasks_per_worker(stack)
        two = phase(stack, api, db, patient_id, records, "two")
        after = tasks_per_worker(stack)
        two["recordings_per_worker"] = [a - m for a, m in zip(after, mid)]
        one["recordings_per_worker"] = [before[0] - 1]
        result = {
            "command": "python bench/scale.py",
            "records": records,
            "models": {task: version for _, task, version in models},
            "one_worker": one,
            "two_workers": two,
            "speedup_two_over_one": round(one["seconds"] / two["seconds"], 2),
            "note": "2 cores shared with other processes: the ideal speedup on an idle 2-core machine is < 2 "
                    "(gunicorn, PostgreSQL and the client share the cores)",
            "machine": machine(load_before),
        }
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
