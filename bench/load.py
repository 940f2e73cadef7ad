"""Load: N uploads from C concurrent clients against gunicorn and W Celery workers.

    .venv/bin/python -m bench.load [--uploads 200] [--clients 20] [--workers 2] [--beats 50]

Starts a private stack (PostgreSQL cluster, Redis, gunicorn, workers: bench/stack.py) with the
shipped models, uploads beat files through the page as logged-in staff, waits until every
recording is finished and checks, in the database, that none was lost or duplicated.
Writes bench/results/load.json.
"""

import argparse
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import ARTIFACTS, REPO
from bench.stack import AppStack, new_root, wait_until
from ecg.datasets.synthetic import beat_csv


def shipped_models() -> list[tuple[Path, str, str]]:
    models = []
    for task in ("heartbeat", "mi"):
        found = sorted(ARTIFACTS.glob(f"{task}-*.keras"))
        if not found:
            raise SystemExit(f"no shipped {task} model in mlmodels/artifacts/")
        card = json.loads(found[-1].with_suffix(".json").read_text())
        models.append((found[-1], task, card["version"]))
    return models


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=200)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--beats", type=int, default=50, help="beats per uploaded file")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "load.json")
    args = parser.parse_args()

    stack = AppStack(new_root("ecg-load-"), web_workers=2)
    try:
        models = shipped_models()
        stack.setup(models)
        stack.start_web()
        for _ in range(args.workers):
            stack.start_worker(beat=False)
        patient_id = int(stack.sql("SELECT id FROM patients_patient WHERE mrn = 'A-1001'"))
        sessions = [stack.session("staff_a") for _ in range(args.clients)]
        files = [beat_csv(args.beats, seed=i) for i in range(args.uploads)]
        latencies: list[float] = []
        statuses: list[int] = []
        lock = threading.Lock()

        def upload(i: int) -> None:
            session = sessions[i % args.clients]
            started = time.perf_counter()
            response = stack.upload(session, patient_id, [(f"load-{i}.csv", files[i])])
            with lock:
                latencies.append(time.perf_counter() - started)
                statuses.append(response.status_code)

        started = time.time()
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            list(pool.map(upload, range(args.uploads)))
        accepted_after = time.time() - started

        def finished() -> bool:
            left = int(
                stack.sql("SELECT count(*) FROM diagnostics_ecgrecording WHERE status IN ('queued', 'processing')")
            )
            return left == 0

        wait_until(finished, 1800, "all recordings finished", interval=1.0)
        done_after = time.time() - started
        count = lambda q: int(stack.sql(q))  # noqa: E731
        result = {
            "uploads": args.uploads,
            "clients": args.clients,
            "workers": args.workers,
            "beats_per_upload": args.beats,
            "models": {task: version for _, task, version in models},
            "http_status": {str(s): statuses.count(s) for s in sorted(set(statuses))},
            "recordings": count("SELECT count(*) FROM diagnostics_ecgrecording"),
            "done": count("SELECT count(*) FROM diagnostics_ecgrecording WHERE status = 'done'"),
            "failed": count("SELECT count(*) FROM diagnostics_ecgrecording WHERE status = 'failed'"),
            "diagnoses": count("SELECT count(*) FROM diagnostics_diagnosis"),
            "beats": count("SELECT count(*) FROM diagnostics_beat"),
            "expected_beats": args.uploads * args.beats,
            "duplicate_beats": count(
                "SELECT count(*) FROM (SELECT recording_id, index FROM diagnostics_beat GROUP BY 1, 2 HAVING count(*) > 1) d"
            ),
            "recordings_with_wrong_beat_count": count(
                f"SELECT count(*) FROM diagnostics_ecgrecording r WHERE (SELECT count(*) FROM diagnostics_beat b "
                f"WHERE b.recording_id = r.id) <> {args.beats}"
            ),
            "upload_seconds_p50": round(statistics.median(latencies), 3),
            "upload_seconds_p95": round(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 3),
            "all_accepted_after_s": round(accepted_after, 1),
            "all_done_after_s": round(done_after, 1),
            "recordings_per_second": round(args.uploads / done_after, 2),
        }
        result["lost"] = args.uploads - result["done"]
        result["duplicated"] = result["duplicate_beats"] + max(0, result["diagnoses"] - result["recordings"])
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
