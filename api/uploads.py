"""Turning an API request into a validated upload, with the same parsers as the upload page."""

import json
import numbers

from diagnostics import ingestion
from diagnostics.signal_uploads import parse_signal_upload
from ecgsite.errors import UploadRefused, UploadTooLarge


def beats_from_json(rows) -> tuple[ingestion.ParsedUpload, bytes, str]:
    """JSON beat rows, checked cell by cell and then by the beat-file validator (row/column messages)."""
    if not isinstance(rows, list):
        raise UploadRefused("'beats' must be an array of rows", field="beats")
    if len(rows) > ingestion.max_beat_rows():
        raise UploadTooLarge(
            f"{len(rows)} beats were sent; at most {ingestion.max_beat_rows()} are accepted in one upload",
            field="beats",
        )
    cells: list[list[str]] = []
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, list):
            raise UploadRefused(f"row {i} is not an array of numbers", field="beats")
        for j, value in enumerate(row, start=1):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise UploadRefused(f"row {i}, column {j}: {value!r} is not a number", field="beats")
        cells.append([repr(float(v)) if isinstance(v, float) else str(v) for v in row])
    try:
        beats = ingestion.rows_to_beats(cells)
    except UploadRefused as exc:
        exc.field = "beats"
        raise
    data = "\n".join(",".join(row) for row in cells).encode() + b"\n"
    return ingestion.ParsedUpload(kind="beats", input_format="json", beats=beats), data, "api-beats.csv"


def signal_from_json(*, fs: float, signal=None, leads=None, lead: str | None = None):
    """A JSON signal, stored in the JSON signal-file format and read back by the signal-file reader."""
    if leads is None:
        leads = {lead or "ECG": signal}
    if not isinstance(leads, dict) or not leads:
        raise UploadRefused("'leads' must be an object of lead name → array of numbers", field="leads")
    try:
        # the API documents its samples as millivolts: stored with that unit, the page, the viewer and
        # FHIR say mV (a JSON file without "units" stays uncalibrated)
        data = json.dumps({"fs": fs, "leads": leads, "units": "mV"}, allow_nan=False).encode()
    except ValueError:  # 1e400 parses as infinity
        raise UploadRefused(
            "the signal holds a value that is not a finite number", field="signal" if signal is not None else "leads"
        ) from None
    try:
        parsed, data, _name = parse_signal_upload({"api-signal.json": data}, fs=fs, lead=lead)
    except UploadRefused as exc:
        exc.field = (
            "signal" if exc.field == "file" and signal is not None else ("leads" if exc.field == "file" else exc.field)
        )
        if signal is not None:  # the client sent "signal", not the leads object it is stored as
            exc.message = exc.message.replace(f"JSON field leads.{lead or 'ECG'}", "field signal")
        raise
    parsed.input_format = "json"
    return parsed, data, "api-signal.json"


def from_files(*, kind: str, files: list, text: str = "", fs: float | None = None, lead: str = ""):
    """A multipart upload, validated by the same service as the upload page."""
    return ingestion.upload_parse(kind=kind, uploads=list(files), text=text, fs=fs, lead=lead)


def fingerprint(data, files=()) -> str:
    """A digest of what a request asks for (``ingestion.submission_fingerprint``), its files left out of
    the fields and read as files."""
    if hasattr(data, "lists"):
        data = {k: v for k, v in data.lists() if k not in {"file"}}
    return ingestion.submission_fingerprint(data, files)
