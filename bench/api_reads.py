"""API reads: an authenticated, paginated list endpoint next to the trivial `/healthz` view, with wrk.

    apt-get install wrk   # Debian package; the script checks for it
    .venv/bin/python -m bench.api_reads [--seconds 10] [--connections 10] [--repeats 2] [--web-threads 4]

Starts a private stack (bench/stack.py) with gunicorn (2 workers x 4 threads, one per core),
creates patients through the API, then runs wrk alternately against `/healthz` (plain text, no
database) and `/api/v1/patients` (token authentication, clinic-scoped query, 50 per page, per-token
throttle counted in Redis, an audit row per request) and `/api/v1/recordings` (60 queued
recordings: no worker runs), in the same run, and checks that every answered request left its audit
row. The throttle is raised so
that it never answers 429 here. Writes bench/results/api_reads.json.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
from pathlib import Path

from bench.common import REPO, api_token, machine, stack_models, write_result
from bench.stack import AppStack, new_root


def wrk(url: str, *, seconds: int, connections: int, threads: int, token: str | None) -> dict:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if token:
        cmd += ["-H", f"Authorization: Token {token}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    completed = int(re.search(r"(\d+) requests in", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)

    def ms(label: str) -> float | None:
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return None
        value, unit = float(m.group(1)), m.group(2)
        return round(value / 1000 if unit == "us" else value * 1000 if unit == "s" else value, 2)

    return {
        "requests_per_s": rps,
        "requests": completed,
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(0) if errors else None,
    }


# Where one list request's time goes: cProfile over requests through Django's test client in a
# process configured like the web workers (same database, Redis, middleware), next to /healthz.
PROFILE = r"""
import cProfile, json, os, pstats, time
import redis
from django.conf import settings
from django.db import connection
from django.test import Client
client = Client(HTTP_HOST="127.0.0.1")
headers = {"HTTP_AUTHORIZATION": "Token " + TOKEN}
server = redis.Redis.from_url(settings.CELERY_BROKER_URL)
n = 200
def redis_cpu():
    info = server.info("cpu")
    return info["used_cpu_user"] + info["used_cpu_sys"]
def backend_cpu():  # this process's PostgreSQL backend (same machine)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
urls = (("/healthz", {}), ("/api/v1/patients", headers), ("/api/v1/recordings", headers))
for url, h in urls:
    for _ in range(10):
        assert client.get(url, **h).status_code == 200
out = {}
for url, h in urls:
    queries = [0]
    def count(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)
    pg, rd = backend_cpu(), redis_cpu()
    started, cpu = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(count):
        for _ in range(n):
            client.get(url, **h)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    pg, rd = backend_cpu() - pg, redis_cpu() - rd
    out[url] = {"wall_ms_per_request": round(1e3 * wall / n, 2),
                "cpu_ms_per_request": round(1e3 * cpu / n, 2),
                "postgres_backend_cpu_ms_per_request": round(1e3 * pg / n, 2),
                "redis_server_cpu_ms_per_request": round(1e3 * rd / n, 3),
                "sql_statements_per_request": round(queries[0] / n, 2)}
    out[url]["cpu_ms_per_request_all_processes"] = round(1e3 * (cpu + pg + rd) / n, 2)
profile = cProfile.Profile(time.process_time)  # CPU time, not time spent waiting on round trips
profile.enable()
for _ in range(n):
    client.get("/api/v1/patients", **headers)
profile.disable()
stats = pstats.Stats(profile).stats
parts = {
    "page, count and audit row, one statement (api/pages.py read_json_page)": ("api/pages.py", "read_json_page"),
    "token authentication": ("api/authentication.py", "authenticate"),
    "throttle (Redis)": ("api/throttling.py", "allow_request"),
    "50 rows joined as PostgreSQL wrote them (api/rows.py)": ("api/rows.py", "page_results"),
    "SQL compiled by the ORM (as_sql)": ("django/db/models/sql/compiler.py", "as_sql"),
    "all SQL (psycopg2 execute)": ("~", "<method 'execute' of 'psycopg2.extensions.cursor' objects>"),
    "JSON rendering (orjson)": ("api/renderers.py", "render"),
}
breakdown = {}
for label, (file_part, func) in parts.items():
    total = sum(v[3] for (f, _, name), v in stats.items() if name == func and file_part in f)
    breakdown[label] = round(1e3 * total / n, 2)
out["api/v1/patients CPU profile, ms per request (cumulative, inflated by the profiler)"] = breakdown
print("PROFILE" + json.dumps(out))
"""


def audit_rows(stack, path: str) -> int:
    return int(stack.sql(f"SELECT count(*) FROM accounts_auditevent WHERE path = '{path}' AND channel = 'token'"))


def request_profile(stack, token: str) -> dict:
    output = stack.manage("shell", "-c", PROFILE.replace("TOKEN", repr(token)))
    return json.loads(output.split("PROFILE", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--patients", type=int, default=120)
    parser.add_argument("--recordings", type=int, default=60)
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "api_reads.json")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")

    import requests

    load_before = os.getloadavg()
    stack = AppStack(
        new_root("ecg-api-reads-"),
        web_workers=args.web_workers,
        web_threads=args.web_threads,
        env={"API_THROTTLE_RATE": "100000000/minute"},
    )
    try:
        stack.setup(stack_models())
        stack.start_web()
        token = api_token(stack)
        headers = {"Authorization": f"Token {token}"}
        for i in range(args.patients):
            r = requests.post(
                f"{stack.base_url}/api/v1/patients",
                headers=headers,
                timeout=30,
                json={"mrn": f"BENCH-{i:05d}", "family_name": f"Family{i}", "given_name": "Given", "sex": "female"},
            )
            r.raise_for_status()
        patient = r.json()["id"]
        beats = "\n".join(",".join(f"{(i * j % 97) / 97:.3f}" for j in range(187)) for i in range(3))
        for i in range(args.recordings):  # no worker runs here: they stay queued, rows of a full page
            r = requests.post(
                f"{stack.base_url}/api/v1/recordings",
                headers=headers,
                timeout=60,
                data={"patient": patient, "kind": "beats"},
                files={"file": (f"b{i}.csv", beats.encode())},
            )
            r.raise_for_status()
        endpoints = {
            "healthz (trivial view)": (f"{stack.base_url}/healthz", None),
            "api/v1/patients (token, page of 50)": (f"{stack.base_url}/api/v1/patients", token),
            "api/v1/recordings (token, page of 50)": (f"{stack.base_url}/api/v1/recordings", token),
        }
        for url, tok in endpoints.values():  # warm every gunicorn worker
            wrk(url, seconds=2, connections=args.connections, threads=args.threads, token=tok)
        runs = {name: [] for name in endpoints}
        audit_check = {}
        for _ in range(args.repeats):
            for name, (url, tok) in endpoints.items():
                path = url.removeprefix(stack.base_url)
                before = audit_rows(stack, path)
                run = wrk(url, seconds=args.seconds, connections=args.connections, threads=args.threads, token=tok)
                if tok:  # every request wrk saw answered has its audit row (a cut-off one may have one too)
                    run["audit_rows"] = audit_rows(stack, path) - before
                    check = audit_check.setdefault(name, {"requests": 0, "audit_rows": 0})
                    check["requests"] += run["requests"]
                    check["audit_rows"] += run["audit_rows"]
                runs[name].append(run)
        for check in audit_check.values():
            check["complete"] = check["audit_rows"] >= check["requests"]
        profile = request_profile(stack, token)
        first = next(iter(endpoints))
        rps = {name: statistics.median(r["requests_per_s"] for r in rs) for name, rs in runs.items()}
        sample = requests.get(endpoints["api/v1/patients (token, page of 50)"][0], headers=headers, timeout=30).json()
        result = {
            "command": "python -m bench.api_reads",
            "wrk": {
                "seconds": args.seconds,
                "connections": args.connections,
                "threads": args.threads,
                "repeats": args.repeats,
            },
            "gunicorn": {"workers": stack.web_workers, "threads": stack.web_threads},
            "patients_in_clinic": sample.get("count"),
            "recordings_in_clinic": args.recordings,
            "page_size": len(sample.get("results", [])),
            "requests_per_s_median": {name: round(v, 1) for name, v in rps.items()},
            "fraction_of_trivial_view": {name: round(v / rps[first], 3) for name, v in rps.items() if name != first},
            "audit_trail": audit_check,
            "runs": runs,
            "in_process_request_cost": profile,
            "target_fraction": 0.3,
            "machine": machine(load_before),
        }
        write_result(args.output, result)
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
