"""Upload -> result latency of a 100-beat CSV through the real stack, next to the seed's approach.

    .venv/bin/python -m bench.latency [--sequential 30] [--concurrent-clients 10] [--per-client 4]

Starts a private stack (bench/stack.py: PostgreSQL cluster, Redis, gunicorn, Celery worker with
concurrency 1 as in docker-compose) with the shipped models. Each sample POSTs a 100-beat CSV to
`/api/v1/recordings` with a token and polls the recording's status in PostgreSQL every 20 ms; the
latency runs from the start of the POST to the moment the status reads `done`. Measured, in one
run: sequential uploads and 10 concurrent clients with one worker, 10 concurrent clients with two
workers, then the same with a worker that works the way the seed did (loads both models from disk
for every upload and runs Keras `predict`). Writes bench/results/latency.json.
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import REPO, api_token, db_connection, machine, percentile, stack_models, write_result
from bench.stack import AppStack, new_root, wait_until
from ecg.datasets.synthetic import beat_csv
from ecgsite.worker import SOLO_WORKER_ARGS

POLL_SECONDS = 0.02


def seed_worker_main(argv: list[str]) -> None:
    """A Celery worker whose inference works like the seed's app: models loaded per upload, Keras predict."""
    import keras
    import numpy as np

    from ecg.models import inference

    def load_model(path, key):
        return keras.models.load_model(path, compile=False)

    def predict(model, beats, *, batch_size=1024):
        x = np.asarray(beats, dtype=np.float32)[..., np.newaxis]
        return model.predict(x, batch_size=batch_size, verbose=0).astype(np.float32)

    inference.load_model, inference.predict = load_model, predict
    from celery.__main__ import main as celery_main

    sys.argv = ["celery", *argv]
    celery_main()


def start_worker(stack: AppStack, *, seed_mode: bool) -> subprocess.Popen:
    if not seed_mode:
        return stack.start_worker()
    log = stack.root / f"worker-{len(stack.workers)}.log"
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--seed-worker",
        *SOLO_WORKER_ARGS,
        "-n",
        f"seed{len(stack.workers)}-{os.getpid()}@%h",
    ]
    proc = subprocess.Popen(cmd, cwd=REPO, env=stack.env, stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    wait_until(lambda: b"ready." in log.read_bytes() or proc.poll() is not None, 120, "seed worker ready")
    if proc.poll() is not None:
        raise RuntimeError(f"seed worker exited: {log.read_text()[-2000:]}")
    stack.workers.append(proc)
    return proc


def stop_workers(stack: AppStack) -> None:
    for proc in list(stack.workers):
        proc.terminate()
        proc.wait(timeout=60)
        stack.workers.remove(proc)


class Client:
    def __init__(self, stack: AppStack, token: str, patient_id: int):
        import requests

        self.stack, self.patient_id = stack, patient_id
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Token {token}"
        self.db = db_connection(stack)

    def upload_and_wait(self, data: bytes, name: str) -> float:
        started = time.perf_counter()
        response = self.http.post(
            f"{self.stack.base_url}/api/v1/recordings",
            timeout=120,
            data={"patient": self.patient_id, "kind": "beats"},
            files={"file": (name, data)},
        )
        if response.status_code != 201:
            raise RuntimeError(f"upload answered {response.status_code}: {response.text[:300]}")
        recording_id = response.json()["id"]
        with self.db.cursor() as cur:
            while True:
                cur.execute("SELECT status FROM diagnostics_ecgrecording WHERE id = %s", (recording_id,))
                status = cur.fetchone()[0]
                if status == "done":
                    return time.perf_counter() - started
                if status == "failed":
                    raise RuntimeError(f"recording {recording_id} failed")
                if time.perf_counter() - started > 300:
                    raise TimeoutError(f"recording {recording_id} still {status}")
                time.sleep(POLL_SECONDS)


def summary(latencies: list[float], wall: float) -> dict:
    return {
        "n": len(latencies),
        "p50_s": round(statistics.median(latencies), 3),
        "p95_s": round(percentile(latencies, 0.95), 3),
        "max_s": round(max(latencies), 3),
        "uploads_per_s": round(len(latencies) / wall, 2),
    }


def run_sequential(clients: list[Client], files: list[bytes], n: int) -> dict:
    latencies, started = [], time.perf_counter()
    for i in range(n):
        latencies.append(clients[0].upload_and_wait(files[i % len(files)], f"seq-{i}.csv"))
    return summary(latencies, time.perf_counter() - started)


def run_concurrent(clients: list[Client], files: list[bytes], per_client: int) -> dict:
    latencies, lock = [], threading.Lock()

    def client_loop(c: int) -> None:
        for i in range(per_client):
            latency = clients[c].upload_and_wait(files[(c * per_client + i) % len(files)], f"conc-{c}-{i}.csv")
            with lock:
                latencies.append(latency)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        list(pool.map(client_loop, range(len(clients))))
    return summary(latencies, time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequential", type=int, default=30)
    parser.add_argument("--concurrent-clients", type=int, default=10)
    parser.add_argument("--per-client", type=int, default=4)
    parser.add_argument("--seed-sequential", type=int, default=10)
    parser.add_argument("--seed-per-client", type=int, default=1)
    parser.add_argument("--beats", type=int, default=100)
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "latency.json")
    args = parser.parse_args()

    load_before = os.getloadavg()
    stack = AppStack(new_root("ecg-latency-"), web_workers=2, env={"API_THROTTLE_RATE": "1000000/minute"})
    try:
        models = stack_models()
        stack.setup(models)
        stack.start_web()
        token = api_token(stack)
        patient_id = int(stack.sql("SELECT id FROM patients_patient WHERE mrn = 'A-1001'"))
        clients = [Client(stack, token, patient_id) for _ in range(args.concurrent_clients)]
        files = [beat_csv(args.beats, seed=i) for i in range(20)]
        result = {
            "command": "python -m bench.latency",
            "beats_per_upload": args.beats,
            "models": {task: version for _, task, version in models},
        }

        start_worker(stack, seed_mode=False)
        run_sequential(clients, files, 3)  # warm: first connections, first oneDNN primitives
        result["product_1_worker_sequential"] = run_sequential(clients, files, args.sequential)
        result["product_1_worker_concurrent"] = run_concurrent(clients, files, args.per_client)
        start_worker(stack, seed_mode=False)
        run_concurrent(clients[:4], files, 1)  # the new worker loads both models on its first upload
        result["product_2_workers_concurrent"] = run_concurrent(clients, files, args.per_client)
        stop_workers(stack)

        start_worker(stack, seed_mode=True)
        run_sequential(clients, files, 1)
        result["seed_approach_1_worker_sequential"] = run_sequential(clients, files, args.seed_sequential)
        result["seed_approach_1_worker_concurrent"] = run_concurrent(clients, files, args.seed_per_client)
        stop_workers(stack)

        result["seed_over_product_p50_sequential"] = round(
            result["seed_approach_1_worker_sequential"]["p50_s"] / result["product_1_worker_sequential"]["p50_s"], 1
        )
        result["targets"] = {"sequential_p95_s": 1.0, "concurrent_10_p95_s": 2.0}
        result["machine"] = machine(load_before)
        write_result(args.output, result)
    finally:
        stack.stop()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--seed-worker":
        seed_worker_main(sys.argv[2:])
    else:
        main()
