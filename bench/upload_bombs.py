"""Upload bombs: hostile uploads are refused fast and in bounded memory; ordinary uploads are not slowed.

    .venv/bin/python -m bench.upload_bombs

Starts a private stack (bench/stack.py: gunicorn with one worker process, private PostgreSQL and
Redis), warms it with ordinary uploads, then sends issue 16's bombs through the upload page and the
API: the 60 KB-class XLSX whose one row holds 10^6 numeric cells, an XLSX whose rows each hold one cell
in column XFD, and the 1.2 MB CSV of 100,000 columns (as a beat file and as a signal); and those of the
security review of December 2026: a 1 MB DICOM file whose deflated dataset inflates to 1 GiB, a 1 MB
WFDB .zip expanding past its limit (4 x ECG_MAX_UPLOAD_BYTES), and a WFDB record in FLAC declaring more
samples than a record may hold; and of the second review: XLSX workbooks of 45-66 KB whose styles.xml
holds 1.5 x 10^6 cell formats, or whose one text cell holds 1.5 x 10^6 rich-text runs. For each it records the status, the wall time of the request and the
growth of the gunicorn worker's resident memory (sampled every 5 ms during the request, against its
size just before). Targets: refused in < 1 s, memory growth < 50 MB.

Then the review's uploads that are within the limits but hold far more than their bytes (a 550 KB .zip
of 99 MiB of samples, a 7.5 MiB FLAC record of 6.3 x 10^7 samples): the web process checks them in
chunks and accepts them (the worker reads them whole later), and the second review's 13.5 MiB EDF+ file whose
annotations channel holds 6 x 10^6 annotations. Target: memory growth < 50 MB, the time
reported. Then a one-column CSV signal at the 24 MiB size limit, read whole by the web process: target
memory growth < 10 x its size. Ordinary uploads (100-beat CSV, 1,000-beat XLSX, a 30-minute two-lead
MIT-BIH CSV signal) are timed too. Writes bench/results/upload_bombs.json.
"""

import argparse
import io
import os
import threading
import time
from pathlib import Path

from bench.common import DATA_DIR, REPO, api_token, children, machine, rss_mb, write_result
from bench.stack import AppStack, new_root
from ecg.datasets.hostile import (
    csv_long_signal,
    csv_wide,
    dicom_deflate_bomb,
    edf_annotations_bomb,
    wfdb_flac_bomb,
    wfdb_zip_bomb,
    xlsx_far_cells,
    xlsx_inline_runs,
    xlsx_shared_runs,
    xlsx_styles_bomb,
    xlsx_wide_row,
)
from ecg.datasets.synthetic import beat_csv, beat_rows

TARGET_SECONDS = 1.0
TARGET_GROWTH_MB = 50.0


class PeakRss:
    """The highest VmRSS of a process while the block runs, sampled every 5 ms."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid)["rss_mb"] or 0.0)
            time.sleep(0.005)

    def __enter__(self):
        self.before = rss_mb(self.pid)["rss_mb"]
        self.peak = self.before
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def xlsx_beats(n: int) -> bytes:
    import openpyxl

    workbook = openpyxl.Workbook()
    for row in beat_rows(n):
        workbook.active.append([round(float(v), 6) for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def mitdb_csv(record: str) -> bytes:
    from ecg.io.readers import read_wfdb

    signal = read_wfdb(DATA_DIR / "mitdb" / record)
    names = list(signal.leads)
    lines = [",".join(names)] + [",".join(f"{v:.3f}" for v in row) for row in zip(*signal.leads.values())]
    return ("\n".join(lines) + "\n").encode()


def hostile_uploads() -> dict:
    """Bombs to be refused fast: case -> (files, form fields)."""
    return {
        "XLSX, one row of 10^6 numeric cells": ([("bomb.xlsx", xlsx_wide_row(1_000_000))], {"kind": "beats"}),
        "XLSX, 20,000 rows of one cell in column XFD": ([("far.xlsx", xlsx_far_cells(20_000))], {"kind": "beats"}),
        "CSV beat file, 100,000 columns (1.2 MB)": ([("wide.csv", csv_wide(100_000, rows=3))], {"kind": "beats"}),
        "CSV signal, 100,000 columns (1.2 MB)": (
            [("wide.csv", csv_wide(100_000, rows=3))],
            {"kind": "signal", "fs": "360"},
        ),
        "DICOM, deflated dataset inflating to 1 GiB": ([("bomb.dcm", dicom_deflate_bomb(1 << 30))], {"kind": "signal"}),
        "WFDB .zip expanding to 200 MiB (past 4 x ECG_MAX_UPLOAD_BYTES)": (
            [("bomb.zip", wfdb_zip_bomb(200 << 20))],
            {"kind": "signal"},
        ),
        "WFDB .hea + FLAC .dat declaring 1.2 x 10^8 samples": (
            list(wfdb_flac_bomb(120_000_000).items()),
            {"kind": "signal"},
        ),
        "XLSX, styles.xml of 1.5 x 10^6 cell formats (66 KB)": (
            [("styles.xlsx", xlsx_styles_bomb())],
            {"kind": "beats"},
        ),
        "XLSX, one inline-string cell of 1.5 x 10^6 rich-text runs": (
            [("inline.xlsx", xlsx_inline_runs())],
            {"kind": "beats"},
        ),
        "XLSX, one shared string of 1.5 x 10^6 rich-text runs": (
            [("shared.xlsx", xlsx_shared_runs())],
            {"kind": "beats"},
        ),
    }


def large_uploads() -> dict:
    """The review's uploads within the limits that hold far more than their bytes: checked in chunks."""
    return {
        "WFDB .zip of 99 MiB of samples (format 80)": ([("bomb.zip", wfdb_zip_bomb(99 << 20))], {"kind": "signal"}),
        "WFDB .hea + FLAC .dat, 7.5 MiB declaring 6.3 x 10^7 samples": (
            list(wfdb_flac_bomb(8 * int(7.5 * 2**20) - 64).items()),
            {"kind": "signal"},
        ),
        "EDF+, 13.5 MiB, annotations channel of 6 x 10^6 annotations": (
            [("annotated.edf", edf_annotations_bomb(3000))],
            {"kind": "signal"},
        ),
    }


def read_whole_uploads() -> dict:
    """Text signals at the size limit, read whole by the web process. Target: memory growth < 10 x the file."""
    return {
        "CSV signal, one column, 24 MiB (the size limit)": (
            [("long.csv", csv_long_signal(24 << 20))],
            {"kind": "signal", "fs": "360"},
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "upload_bombs.json")
    parser.add_argument(
        "--ordinary-only",
        action="store_true",
        help="time the ordinary uploads only (to compare with a checkout from before the bounds)",
    )
    args = parser.parse_args()

    import requests

    load_before = os.getloadavg()
    stack = AppStack(new_root("ecg-bombs-"), web_workers=1, env={"API_THROTTLE_RATE": "100000/minute"})
    try:
        stack.setup([])
        stack.start_web()
        (web_worker,) = children(stack.web.pid)
        api = requests.Session()
        api.headers["Authorization"] = f"Token {api_token(stack)}"
        session = stack.session("staff_a")
        patient_id = int(stack.sql("SELECT id FROM patients_patient WHERE mrn = 'A-1001'"))

        def page(files, **fields):
            return stack.upload(session, patient_id, files, **fields)

        def via_api(files, **fields):
            return api.post(
                f"{stack.base_url}/api/v1/recordings",
                data={"patient": patient_id, **fields},
                files=[("file", (name, data)) for name, data in files],
                timeout=300,
            )

        def measure(label, send, files, **fields):
            with PeakRss(web_worker) as rss:
                started = time.perf_counter()
                response = send(files, **fields)
                seconds = time.perf_counter() - started
            message = ""
            if response.headers.get("Content-Type", "").startswith("application/json"):
                message = response.json().get("error", {}).get("message", "")
            return {
                "case": label,
                "bytes": sum(len(data) for _, data in files),
                "status": response.status_code,
                "seconds": round(seconds, 3),
                "rss_before_mb": rss.before,
                "rss_peak_mb": rss.peak,
                "rss_growth_mb": round(rss.peak - rss.before, 1),
                "message": message[:160],
            }

        ordinary = {
            "100-beat CSV": ([("beats.csv", beat_csv(100))], {"kind": "beats"}),
            "1,000-beat XLSX": ([("beats.xlsx", xlsx_beats(1000))], {"kind": "beats"}),
            "30-min 2-lead CSV signal (mitdb 100)": ([("100.csv", mitdb_csv("100"))], {"kind": "signal", "fs": "360"}),
        }
        for files, fields in ordinary.values():  # warm-up: imports and first-request costs
            page(files, **fields)
        result = {
            "command": "python -m bench.upload_bombs",
            "targets": {"seconds": TARGET_SECONDS, "rss_growth_mb": TARGET_GROWTH_MB},
            "bombs": [],
            "large_once_extracted": [],
            "read_whole": [],
            "ordinary_uploads": [],
        }

        bombs, large = ({}, {}) if args.ordinary_only else (hostile_uploads(), large_uploads())
        for label, (files, fields) in bombs.items():
            for channel, send in (("page", page), ("api", via_api)):
                row = measure(f"{label} · {channel}", send, files, **fields)
                row["within_targets"] = (
                    400 <= row["status"] < 500
                    and row["seconds"] < TARGET_SECONDS
                    and row["rss_growth_mb"] < TARGET_GROWTH_MB
                )
                result["bombs"].append(row)
        for label, (files, fields) in large.items():
            for channel, send in (("page", page), ("api", via_api)):
                row = measure(f"{label} · {channel}", send, files, **fields)
                row["within_targets"] = row["status"] < 500 and row["rss_growth_mb"] < TARGET_GROWTH_MB
                result["large_once_extracted"].append(row)
        for label, (files, fields) in ({} if args.ordinary_only else read_whole_uploads()).items():
            for channel, send in (("page", page), ("api", via_api)):
                row = measure(f"{label} · {channel}", send, files, **fields)
                row["within_targets"] = row["status"] < 500 and row["rss_growth_mb"] < 10 * row["bytes"] / 2**20
                result["read_whole"].append(row)
        for label, (files, fields) in ordinary.items():
            result["ordinary_uploads"].append(measure(f"{label} · api", via_api, files, **fields))
        if not args.ordinary_only:
            result["all_bombs_within_targets"] = all(
                row["within_targets"] for row in result["bombs"] + result["large_once_extracted"] + result["read_whole"]
            )
        result["web_worker_after"] = rss_mb(web_worker)
        write_result(args.output, {**result, "machine": machine(load_before)})
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
