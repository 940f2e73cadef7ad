"""Run the upload fuzzers one after another, each for a bounded time, and summarise them.

    python -m bench.fuzz.run [--seconds 300] [--rss-mb 2048] [--timeout 20] [--out var/fuzz] [TARGET ...]

Each target runs in its own process (``bench.fuzz.uploads``) with its corpus in OUT/corpus-TARGET (seeded on
the first run); a crash, hang or memory blow-up leaves its input as OUT/TARGET-crash-…, -timeout-… or
-oom-…, and the target is started again for the time left (at most three findings a target). Writes
OUT/summary.json: per target, seconds, executions, coverage and the findings with their first lines.
"""

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from bench.fuzz.uploads import TARGETS

REPO = Path(__file__).resolve().parents[2]


def run_target(target: str, *, seconds: int, rss_mb: int, timeout: int, out: Path) -> dict:
    corpus = out / f"corpus-{target}"
    corpus.mkdir(parents=True, exist_ok=True)
    log_path = out / f"{target}.log"
    started, executions, coverage, findings = time.monotonic(), 0, 0, []
    with log_path.open("w") as log:
        while (left := int(seconds - (time.monotonic() - started))) > 5 and len(findings) < 3:
            before = set(out.glob(f"{target}-*"))
            proc = subprocess.run(
                [
                    sys.executable,
                    *("-m", "bench.fuzz.uploads", target, str(corpus)),
                    f"-max_total_time={left}",
                    f"-rss_limit_mb={rss_mb}",
                    f"-malloc_limit_mb={rss_mb}",
                    f"-timeout={timeout}",
                    f"-artifact_prefix={out}/{target}-",
                    "-print_final_stats=1",
                ],
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
            )
            log.write(proc.stdout)
            runs = [int(n) for n in re.findall(r"^#(\d+)\s", proc.stdout, re.MULTILINE)]
            stat = re.search(r"stat::number_of_executed_units:\s*(\d+)", proc.stdout)
            executions += int(stat.group(1)) if stat else (max(runs) if runs else 0)
            cov = re.findall(r"cov: (\d+)", proc.stdout)
            coverage = max([coverage, *(int(c) for c in cov)])
            new = sorted(set(out.glob(f"{target}-*")) - before)
            if not new:
                break
            tail = proc.stdout[proc.stdout.find("=== Uncaught") :][:1500] if "=== Uncaught" in proc.stdout else ""
            findings.append(
                {"input": new[0].name, "size": new[0].stat().st_size, "report": tail or proc.stdout[-1500:]}
            )
    return {
        "seconds": round(time.monotonic() - started),
        "executions": executions,
        "coverage": coverage,
        "corpus": len(list(corpus.iterdir())),
        "findings": findings,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("targets", nargs="*", default=list(TARGETS))
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--rss-mb", type=int, default=2048)
    parser.add_argument("--timeout", type=int, default=20)
    parser.add_argument("--out", type=Path, default=REPO / "var" / "fuzz")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    summary_path = args.out / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    for target in args.targets:
        summary[target] = run_target(
            target, seconds=args.seconds, rss_mb=args.rss_mb, timeout=args.timeout, out=args.out
        )
        summary_path.write_text(json.dumps(summary, indent=2))
        result = summary[target]
        print(target, result["executions"], "executions,", len(result["findings"]), "findings", flush=True)


if __name__ == "__main__":
    main()
