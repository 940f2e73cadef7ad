"""Shared helpers of the performance benches: the shipped models, a private stack, process memory."""

import argparse
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from ecg.datasets import paths

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "mlmodels" / "artifacts"
SEED_DIR = paths.seed_dir()
DATA_DIR = paths.data_dir()


def newest_artifact(task: str) -> Path | None:
    found = sorted(ARTIFACTS.glob(f"{task}-*.keras"))  # versions sort by name, as bench/load.py picks them
    return found[-1] if found else None


def stack_models() -> list[tuple[Path, str, str]]:
    """(path, task, version) of the newest shipped model per task.

    Until an MI model is shipped, the seed's MI model (read-only, converted into the private
    stack's media folder by register_model, never into the repository) stands in for it.
    """
    models = []
    record_level = newest_artifact("heartbeat_record")
    if record_level is not None:  # continuous signals go to it; beat files to the beat-format model
        card = record_level.with_suffix(".json")
        models.append(
            (
                record_level,
                "heartbeat_record",
                json.loads(card.read_text())["version"] if card.exists() else record_level.stem,
            )
        )
    for task in ("heartbeat", "mi"):
        path = newest_artifact(task)
        if path is not None:
            card = path.with_suffix(".json")
            version = json.loads(card.read_text())["version"] if card.exists() else path.stem
            models.append((path, task, version))
        elif task == "mi" and (SEED_DIR / "model_MI_final.h5").exists():
            models.append((SEED_DIR / "model_MI_final.h5", "mi", "seed-stand-in"))
        else:
            raise SystemExit(f"no {task} model in mlmodels/artifacts/")
    return models


def machine(load_before) -> dict:
    return {
        "cpus": os.cpu_count(),
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "git_commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def rss_mb(pid: int) -> dict:
    """Current and peak resident memory of a process (MB), from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": fields.get("VmRSS"), "peak_rss_mb": fields.get("VmHWM")}


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]


def maps_mention(pid: int, needle: str) -> bool:
    """Whether a shared library or file whose path contains ``needle`` is mapped into the process."""
    try:
        return needle in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def api_token(stack, username: str = "staff_a") -> str:
    return stack.manage("create_api_token", "--user", username).strip().splitlines()[-1]


def db_connection(stack):
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=stack.pg.port, user="postgres", dbname="ecg")
    conn.autocommit = True
    return conn


def write_result(path: Path, result: dict) -> None:
    """Record a bench's result as JSON (the repository keeps it) and print it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def arguments(
    doc: str,
    output: Path,
    markdown: Callable[[dict], str],
    add: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace | None:
    """The command line every bench shares: ``--markdown`` prints the tables of its results file
    (``output``) and returns None, as there is nothing to run; else the parsed arguments (``add``
    declares a bench's own)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", help="print the tables of the results file")
    if add is not None:
        add(parser)
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads(output.read_text())))
        return None
    return args
