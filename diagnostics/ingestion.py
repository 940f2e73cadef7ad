"""Reading and validating uploads before anything is stored.

Every defect raises UploadRefused (or its kinds UploadTooLarge, UnsupportedUpload) with a message
that names the row, column or field.  The same parsers read the
stored file again in the worker, so what was accepted is what gets analysed.
"""

import io
import math
import re
import zipfile
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings

from ecg.constants import BEAT_LENGTH
from ecgsite.errors import UnsupportedUpload, UploadRefused, UploadTooLarge

BEAT_EXTENSIONS = {".csv", ".txt", ".xlsx"}
# Kaggle beats are scaled to [0, 1]; allow for rounding in exported files.
BEAT_VALUE_RANGE = (-0.001, 1.001)
XLSX_MAX_UNCOMPRESSED = 200 * 1024 * 1024


@dataclass
class ParsedUpload:
    kind: str
    input_format: str
    beats: np.ndarray | None = None
    signal: object | None = None  # ecg.io.readers.Signal for continuous recordings
    fs: float | None = None
    lead: str = ""
    sample_count: int | None = None
    extras: dict = field(default_factory=dict)


def max_beat_rows() -> int:
    return settings.ECG_MAX_BEAT_ROWS


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def rows_to_beats(rows: list[list[str]], *, first_row_number: int = 1) -> np.ndarray:
    """Validate rows of cells as beats; drop a header row and a trailing label column."""
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise UploadRefused("the file holds no beats (it is empty)")
    row_offset = first_row_number
    first = [c.strip() for c in rows[0]]
    if len(first) in (BEAT_LENGTH, BEAT_LENGTH + 1) and not all(_is_number(c) for c in first if c):
        rows = rows[1:]  # a header row
        row_offset += 1
        if not rows:
            raise UploadRefused("the file holds a header row but no beats")
    if len(rows) > max_beat_rows():
        raise UploadTooLarge(
            f"the file holds {len(rows)} beats; at most {max_beat_rows()} are accepted in one upload"
        )
    beats = np.empty((len(rows), BEAT_LENGTH), dtype=np.float32)
    width = None
    for i, row in enumerate(rows):
        number = i + row_offset
        cells = [c.strip() for c in row]
        while cells and cells[-1] == "" and len(cells) > BEAT_LENGTH + 1:
            cells.pop()  # trailing delimiter
        if len(cells) not in (BEAT_LENGTH, BEAT_LENGTH + 1):
            raise UploadRefused(
                f"row {number} has {len(cells)} values; expected {BEAT_LENGTH} or {BEAT_LENGTH + 1} "
                f"(187 beat values, optionally followed by a class label)"
            )
        if width is None:
            width = len(cells)
        elif len(cells) != width:
            raise UploadRefused(f"row {number} has {len(cells)} values but the rows before it have {width}")
        for col, cell in enumerate(cells[:BEAT_LENGTH], start=1):
            try:
                value = float(cell)
            except ValueError:
                shown = cell if len(cell) <= 20 else cell[:20] + "…"
                raise UploadRefused(f"row {number}, column {col}: {shown!r} is not a number") from None
            if not math.isfinite(value):
                raise UploadRefused(f"row {number}, column {col}: {cell!r} is not a finite number")
            if not BEAT_VALUE_RANGE[0] <= value <= BEAT_VALUE_RANGE[1]:
                raise UploadRefused(
                    f"row {number}, column {col}: {value:g} is outside 0–1; beat rows must be scaled "
                    f"to [0, 1] as in the Kaggle/MIT-BIH beat format"
                )
            beats[i, col - 1] = value
        if width == BEAT_LENGTH + 1:
            label = cells[BEAT_LENGTH]
            if not _is_number(label) or float(label) not in (0, 1, 2, 3, 4):
                raise UploadRefused(
                    f"row {number}, column {BEAT_LENGTH + 1}: label {label!r} is not a class 0–4 (N, S, V, F, Q)"
                )
    return beats


def _decode_text(data: bytes, what: str) -> str:
    if b"\x00" in data[:8192]:
        raise UnsupportedUpload(f"the {what} is binary, not text; expected comma-separated values")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnsupportedUpload(f"the {what} is not UTF-8 text; expected comma-separated values") from None


def parse_beat_csv(data: bytes) -> np.ndarray:
    if not data.strip():
        raise UploadRefused("the file is empty")
    text = _decode_text(data, "file")
    lines = text.splitlines()
    if len(lines) > max_beat_rows() + 1 and sum(1 for line in lines if line.strip()) > max_beat_rows() + 1:
        raise UploadTooLarge(f"the file holds more than {max_beat_rows()} rows; at most {max_beat_rows()} beats are accepted")
    delimiter = ";" if lines and lines[0].count(";") > lines[0].count(",") else ","
    return rows_to_beats([line.split(delimiter) for line in lines])


def parse_beat_text(text: str) -> np.ndarray:
    """Values pasted into a text box: one beat per line, separated by commas or spaces."""
    if not text.strip():
        raise UploadRefused("no values were pasted", field="text")
    rows = [re.split(r"[,;\s]+", line.strip()) for line in text.strip().splitlines()]
    try:
        return rows_to_beats(rows)
    except UploadRefused as exc:
        exc.field = "text"
        raise


def _check_zip(data: bytes, what: str) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise UnsupportedUpload(f"the file is not a valid {what} (damaged or not a zip container)") from None
    total = sum(info.file_size for info in archive.infolist())
    if total > XLSX_MAX_UNCOMPRESSED or len(archive.infolist()) > 10_000:
        raise UploadTooLarge(f"the {what} expands to {total} bytes; refused as too large")
    return archive


def parse_beat_xlsx(data: bytes) -> np.ndarray:
    if not data:
        raise UploadRefused("the file is empty")
    if not data.startswith(b"PK\x03\x04"):
        raise UnsupportedUpload("the file is not an XLSX workbook (its content does not match the extension)")
    archive = _check_zip(data, "XLSX workbook")
    if "xl/workbook.xml" not in archive.namelist():
        raise UnsupportedUpload("the file is a zip archive but not an XLSX workbook")
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:
        raise UploadRefused("the XLSX workbook could not be read (damaged file)") from None
    sheet = workbook.worksheets[0]
    rows: list[list[str]] = []
    for values in sheet.iter_rows(values_only=True):
        if len(rows) > max_beat_rows() + 1:
            raise UploadTooLarge(f"the workbook holds more than {max_beat_rows()} rows")
        cells = ["" if v is None else str(v) for v in values]
        while cells and cells[-1] == "":
            cells.pop()
        rows.append(cells)
    workbook.close()
    return rows_to_beats(rows)


def parse_beats(*, filename: str, data: bytes) -> ParsedUpload:
    ext = file_extension(filename)
    if ext not in BEAT_EXTENSIONS:
        raise UnsupportedUpload(
            f"{filename!r} has extension {ext or '(none)'}; beat files must be .csv, .txt or .xlsx"
        )
    check_size(len(data))
    beats = parse_beat_xlsx(data) if ext == ".xlsx" else parse_beat_csv(data)
    return ParsedUpload(kind="beats", input_format=ext.lstrip("."), beats=beats)


def file_extension(filename: str) -> str:
    name = filename.lower()
    return name[name.rfind(".") :] if "." in name else ""


def check_size(size: int) -> None:
    if size > settings.ECG_MAX_UPLOAD_BYTES:
        raise UploadTooLarge(
            f"the file is {size / 1e6:.1f} MB; the limit is {settings.ECG_MAX_UPLOAD_BYTES / 1e6:.1f} MB"
        )


def upload_parse(*, kind: str, uploads: list, text: str = "", fs: float | None = None, lead: str = ""):
    """An upload from the page or the API (files, or pasted beat values), validated whole.

    Returns (parsed, the bytes to store, their name); raises UploadRefused naming the defect.
    """
    if not uploads and not text.strip():
        raise UploadRefused("Choose a file to upload or paste beat values.")
    if uploads and text.strip():
        raise UploadRefused("Upload a file or paste values, not both.")
    if text.strip() and kind != "beats":
        raise UploadRefused("Pasted values are read as beats; choose 'Beat file'.", field="text")
    if not uploads:
        beats = parse_beat_text(text)
        data = "\n".join(",".join(f"{v:.6g}" for v in row) for row in beats).encode() + b"\n"
        return ParsedUpload(kind="beats", input_format="text", beats=beats), data, "pasted.csv"
    for upload in uploads:
        check_size(upload.size)
    if kind == "beats":
        if len(uploads) != 1:
            raise UploadRefused("upload one beat file at a time")
        upload = uploads[0]
        data = upload.read()
        return parse_beats(filename=upload.name, data=data), data, upload.name
    from .signal_uploads import parse_signal_upload

    return parse_signal_upload({u.name: u.read() for u in uploads}, fs=fs, lead=lead or None)
