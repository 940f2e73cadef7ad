"""Reading and validating uploads before anything is stored.

Every defect raises UploadRefused (or its kinds UploadTooLarge, UnsupportedUpload) with a message
that names the row, column or field.  The same parsers read the
stored file again in the worker, so what was accepted is what gets analysed.
"""

import hashlib
import io
import json
import math
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from xml.etree.ElementTree import ParseError, iterparse

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError

from ecg.constants import BEAT_LENGTH
from ecg.io import readers
from ecg.io.errors import SignalError
from ecg.io.readers import check_fs, decimal_commas, sniff_delimiter
from ecgsite.errors import UnsupportedUpload, UploadRefused, UploadTooLarge

BEAT_EXTENSIONS = {".csv", ".txt", ".xlsx"}
# Extensions only a signal upload has (the upload page reads such files as a signal whatever kind was chosen).
SIGNAL_ONLY_EXTENSIONS = {".zip", ".hea", ".dat", ".mat", ".edf", ".bdf", ".dcm", ".xml"}
# Kaggle beats are scaled to [0, 1]; allow for rounding in exported files.
BEAT_VALUE_RANGE = (-0.001, 1.001)
XLSX_MAX_UNCOMPRESSED = 200 * 1024 * 1024
# A beat workbook's text is its header row and a few labels; Excel stores each distinct text once.
XLSX_MAX_SHARED_STRINGS = 100_000
# A first row is a header (column names) when at least this share of its filled cells are not numbers;
# a row of numbers with a typo in a cell is a beat, refused naming the cell, never dropped as a header.
HEADER_TEXT_SHARE = 0.9
_SHEET_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PACKAGE_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_CELL_COLUMN = re.compile(r"[A-Z]{1,3}")
_SHARED_STRING_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s>/]")
# Parts openpyxl parses whole at open, even to read values only (the manifest, relationships, the workbook,
# styles, theme, properties), each element an object of about 0.7 KB: a few KB in the workbooks Excel,
# LibreOffice and openpyxl write (styles.xml 1.7-2.6 KB, the theme 7-10 KB, in PTB's and the bench's).
XLSX_MAX_PART_BYTES = 1024 * 1024
# Parts of any size (bounded by XLSX_MAX_UNCOMPRESSED): the sheets (the first counted row by row, the others
# never read), the shared strings (counted), and what openpyxl never opens to read values (the calculation
# chain, pictures, embedded objects, pivot caches, external links; drawings and charts unless a chartsheet
# shows them).
_XLSX_UNREAD_PART = re.compile(
    r"xl/(worksheets/[^/]+\.xml|calcChain\.xml|(media|embeddings|printerSettings|pivotCache|externalLinks)/.*)|"
    r".*\.bin"
)
_XLSX_DRAWING_PART = re.compile(r"xl/(drawings|charts)/.*")
# Rich-text runs (a text cell in pieces formatted apart; <rPh>, a phonetic reading, likewise): openpyxl builds
# each as objects, about 0.5 KB; a beat workbook's text is a header row and a few labels.
XLSX_MAX_TEXT_RUNS = 10_000
_TEXT_RUN_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:r|rPh)[\s>/]")
_CONTENT_TYPES_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_SHARED_STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
# What reading a damaged workbook raises besides openpyxl's own errors: a deflate stream that does not
# inflate, a zip version or compression not known, a member cut short, malformed XML.
_XLSX_DAMAGED = (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, OSError, EOFError, ParseError)


@dataclass
class ParsedUpload:
    kind: str
    input_format: str
    beats: np.ndarray | None = None
    signal: object | None = None  # ecg.io.readers.Signal for continuous recordings
    fs: float | None = None
    lead: str = ""
    leads: list[str] = field(default_factory=list)  # every lead of a signal, in file order
    sample_count: int | None = None
    recorded_at: datetime | None = None  # when the recording started, as its file states it or its uploader gave it
    extras: dict = field(default_factory=dict)


# A beat file's row holds 187 values; one of at most this many columns, among more rows, is a lead table.
SIGNAL_LIKE_COLUMNS = 16


def max_beat_rows() -> int:
    return settings.ECG_MAX_BEAT_ROWS


def _max_columns() -> int:
    return settings.ECG_MAX_COLUMNS


def too_wide(number: int, *, what: str = "values") -> UploadTooLarge:
    limit = _max_columns()
    return UploadTooLarge(
        f"row {number} holds more than {limit} {what}; at most {limit} columns are accepted (ECG_MAX_COLUMNS)"
    )


def json_depth_check(data: bytes | str, *, field: str = "file") -> None:
    """Refuse JSON nested deeper than ECG_MAX_JSON_DEPTH before a recursive parser sees it.

    Strings are blanked first, so brackets inside them do not count; the scan runs in C except for
    the loop over brackets, which stops at the first one past the limit.
    """
    limit = settings.ECG_MAX_JSON_DEPTH
    raw = data.encode() if isinstance(data, str) else bytes(data)
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    depth = 0
    for byte in brackets:
        if byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                raise UploadRefused(
                    f"the JSON is nested more than {limit} levels deep (ECG_MAX_JSON_DEPTH)", field=field
                )
        else:
            depth -= 1


_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# A JSON string, or an unclosed one to the end of the text (invalid JSON, which the parser refuses): every match
# that starts succeeds, so the search never begins again inside a string (at each escaped quote of an unclosed one
# it had, and 80 KB of them took 46 s).
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*(?:"|\\?\Z)', re.DOTALL)


def json_loads(data: bytes | str, *, what: str = "the JSON file", field: str = "file"):
    json_depth_check(data, field=field)
    try:
        return json.loads(data)
    except RecursionError:
        raise UploadRefused(f"{what} is nested too deeply", field=field) from None
    except ValueError as exc:
        raise UploadRefused(f"{what} is not valid JSON: {exc}", field=field) from None


def sampling_rate_valid(value: float) -> None:
    """A sampling rate given on the form or to the API, held to the readers' limits (MIN_FS to MAX_FS)
    with their message, so that a rate is refused the same way wherever it comes from."""
    try:
        check_fs(value)
    except SignalError as exc:
        raise ValidationError(str(exc), code="fs") from None


def _is_number(cell: str, decimal_comma: bool = False) -> bool:
    try:
        _number(cell, decimal_comma)
    except ValueError:
        return False
    return True


def _number(cell: str, decimal_comma: bool) -> float:
    return float(cell.replace(",", ".") if decimal_comma else cell)


def _is_header(cells: list[str], decimal_comma: bool) -> bool:
    filled = [c for c in cells if c]
    text = sum(1 for c in filled if not _is_number(c, decimal_comma))
    return bool(filled) and (text >= HEADER_TEXT_SHARE * len(filled) or _column_numbers(cells))


def _column_numbers(cells: list[str]) -> bool:
    """Whether the beat columns are headed by their numbers, 0, 1, 2, ... or 1, 2, 3, ... (a data frame's
    export), the label column by its number or a name."""
    try:  # written as integers or, by some exports, as floats ("0.0, 1.0, ...")
        numbers = [float(c) for c in cells[:BEAT_LENGTH]]
    except ValueError:
        return False
    return numbers[0] in (0, 1) and numbers == list(range(int(numbers[0]), int(numbers[0]) + len(numbers)))


def _cells(row: list[str]) -> list[str]:
    """A row's cells without the spaces around them, nor empty cells at its end (a trailing delimiter)."""
    cells = [c.strip() for c in row]
    while cells and cells[-1] == "":
        cells.pop()
    return cells


def rows_to_beats(rows: list[list[str]], *, first_row_number: int = 1, decimal_comma: bool = False) -> np.ndarray:
    """Validate rows of cells as beats; drop a header row and a trailing label column.

    With ``decimal_comma`` a comma in a value is its decimal point ("0,5" is 0.5).
    """
    # blank lines are skipped, but a row keeps its line's number in every message
    numbered = [(n, r) for n, r in enumerate(rows, first_row_number) if any(c.strip() for c in r)]
    return numbered_rows_to_beats(numbered, decimal_comma=decimal_comma)


def numbered_rows_to_beats(numbered: list[tuple[int, list[str]]], *, decimal_comma: bool = False) -> np.ndarray:
    """:func:`rows_to_beats` of the rows that hold a value, each with its line's number."""
    if not numbered:
        raise UploadRefused("the file holds no beats (it is empty)")
    first = _cells(numbered[0][1])
    if len(first) in (BEAT_LENGTH, BEAT_LENGTH + 1) and _is_header(first, decimal_comma):
        numbered = numbered[1:]  # a header row
        if not numbered:
            raise UploadRefused("the file holds a header row but no beats")
    if len(numbered) > max_beat_rows():
        raise UploadTooLarge(
            f"the file holds {len(numbered)} beats; at most {max_beat_rows()} are accepted in one upload"
        )
    beats = np.empty((len(numbered), BEAT_LENGTH), dtype=np.float32)
    width = None
    for i, (number, row) in enumerate(numbered):
        cells = _cells(row)
        if len(cells) not in (BEAT_LENGTH, BEAT_LENGTH + 1):
            # a table of a few columns (one per lead, a sample per row) is a signal, not beats: say how to send it
            signal_like = 1 < len(cells) <= SIGNAL_LIKE_COLUMNS and len(numbered) > SIGNAL_LIKE_COLUMNS
            hint = (
                "; a table of one column per lead and a sample per row is a continuous signal: save it as CSV "
                "and upload it as 'Continuous signal' with its sampling rate"
                if signal_like
                else ""
            )
            raise UploadRefused(
                f"row {number} has {len(cells)} value{'' if len(cells) == 1 else 's'}; expected {BEAT_LENGTH} or {BEAT_LENGTH + 1} "
                f"(187 beat values, optionally followed by a class label){hint}"
            )
        if width is None:
            width = len(cells)
        elif len(cells) != width:
            raise UploadRefused(f"row {number} has {len(cells)} values but the rows before it have {width}")
        for col, cell in enumerate(cells[:BEAT_LENGTH], start=1):
            try:
                value = _number(cell, decimal_comma)
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
            if not _is_number(label, decimal_comma) or _number(label, decimal_comma) not in (0, 1, 2, 3, 4):
                raise UploadRefused(
                    f"row {number}, column {BEAT_LENGTH + 1}: label {label!r} is not a class 0–4 (N, S, V, F, Q)"
                )
    return beats


def _decode_text(data: bytes, what: str) -> str:
    """A beat file's text in the encoding its head shows, as signal CSVs are read (ecg.io.readers.text_encoding):
    UTF-8 with or without a byte-order mark, UTF-16 with one (Excel's "Unicode text", which had been refused as
    binary), else Windows-1252 (only a header's words can hold such bytes; the values are ASCII)."""
    encoding = readers.text_encoding(data[: readers.TEXT_HEAD_BYTES])
    if encoding != "utf-16" and b"\x00" in data[:8192]:
        raise UnsupportedUpload(f"the {what} is binary, not text; expected comma-separated values")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise UnsupportedUpload(
            f"the {what} is not UTF-8, UTF-16 or Windows-1252 text (byte 0x{data[exc.start]:02X} at offset "
            f"{exc.start}); save it as CSV UTF-8"
        ) from None


def _split(line: str, delimiter: str | None, number: int) -> list[str]:
    """A line's cells; a line wider than ECG_MAX_COLUMNS is refused before it is built whole."""
    if delimiter is None:  # values separated by spaces or tabs
        cells = line.split(None, _max_columns())
        if len(cells) > _max_columns():
            raise too_wide(number)
        return cells
    if line.count(delimiter) >= _max_columns():
        raise too_wide(number)
    return line.split(delimiter)


_FILLED_LINE = re.compile(r"^[^\S\n]*\S", re.MULTILINE)


def _filled_lines(text: str, limit: int) -> list[tuple[int, str]]:
    """The lines of ``text`` that are not blank, each with its number as str.splitlines numbers lines, at most
    ``limit`` + 1 of them: blank lines, or rows past the limit, cost no Python object each (2 beats and 24 MiB of
    blank lines had cost 2.5 GB and a minute, a list of cells per blank line)."""
    text = readers.newline_breaks(text)
    lines: list[tuple[int, str]] = []
    number, at = 1, 0
    for match in _FILLED_LINE.finditer(text):
        number += text.count("\n", at, match.start())
        at = match.start()
        end = text.find("\n", at)
        lines.append((number, text[at : end if end >= 0 else len(text)]))
        if len(lines) > limit:
            break
    return lines


def _numbered_rows(filled: list[tuple[int, str]], cells_of) -> list[tuple[int, list[str]]]:
    """The cells of each line of ``filled`` (``cells_of(line, number)``), without the rows of empty cells alone."""
    rows = ((number, cells_of(line, number)) for number, line in filled)
    return [(number, cells) for number, cells in rows if any(c.strip() for c in cells)]


def parse_beat_csv(data: bytes) -> np.ndarray:
    """Rows of values separated by commas, semicolons, tabs or spaces (as the first line shows); with
    semicolons or tabs a comma is a decimal comma, as a European spreadsheet writes them."""
    if not data.strip():
        raise UploadRefused("the file is empty")
    text = _decode_text(data, "file")
    filled = _filled_lines(text, max_beat_rows() + 1)  # a header row besides the beats
    delimiter = sniff_delimiter(filled[0][1] if filled else "")
    decimal_comma = decimal_commas(delimiter, text)

    def cells_of(line: str, number: int) -> list[str]:
        return _split(line, delimiter, number)

    if len(filled) > max_beat_rows() + 1:
        # a long file of narrow rows is a signal sent as beats: its first rows say so before its length
        numbered_rows_to_beats(_numbered_rows(filled[:2], cells_of), decimal_comma=decimal_comma)
        raise UploadTooLarge(
            f"the file holds more than {max_beat_rows()} rows; at most {max_beat_rows()} beats are accepted"
        )
    return numbered_rows_to_beats(_numbered_rows(filled, cells_of), decimal_comma=decimal_comma)


def parse_beat_text(text: str) -> np.ndarray:
    """Values pasted into a text box: one beat per line, separated by commas, semicolons or spaces; with
    semicolons or tabs between them a comma is a decimal comma, as in a file."""
    if not text.strip():
        raise UploadRefused("no values were pasted", field="text")
    filled = _filled_lines(text.strip(), max_beat_rows() + 1)  # a header row besides the beats
    if len(filled) > max_beat_rows() + 1:
        raise UploadTooLarge(
            f"the values pasted hold more than {max_beat_rows()} rows; at most {max_beat_rows()} beats are "
            "accepted in one upload",
            field="text",
        )
    delimiter = sniff_delimiter(filled[0][1])
    decimal_comma = decimal_commas(delimiter, text)
    separators = r"[;\s]+" if decimal_comma else r"[,;\s]+"

    def cells_of(line: str, number: int) -> list[str]:
        cells = re.split(separators, line.strip(), maxsplit=_max_columns())
        if len(cells) > _max_columns():
            raise too_wide(number)
        return cells

    try:
        return numbered_rows_to_beats(_numbered_rows(filled, cells_of), decimal_comma=decimal_comma)
    except UploadRefused as exc:
        exc.field = "text"
        raise


def _check_zip(data: bytes, what: str) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (*_XLSX_DAMAGED, ValueError):  # a zip version or compression unknown to the zip module, and the like
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
    _xlsx_bounds_check(archive)
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except Exception:
        raise UploadRefused("the XLSX workbook could not be read (damaged file)") from None
    try:
        sheet = workbook.worksheets[0]
        if (sheet.max_column or 0) > _max_columns():
            sheet.reset_dimensions()  # a declared <dimension> wider than any row would pad every row to its width
        rows = _xlsx_rows(sheet)
        others = len(workbook.worksheets) - 1
    except (UploadRefused, MemoryError):
        raise
    except Exception as exc:  # openpyxl raises what its cell parsers raise: ValueError, IndexError, TypeError...
        raise _xlsx_damaged(exc) from None
    finally:
        workbook.close()
    if others and not any(any(c.strip() for c in r) for r in rows):
        raise UploadRefused(
            f"the workbook's first sheet, {sheet.title!r}, is empty: the beats are read from the first sheet "
            f"(the workbook has {others} other sheet{'s' if others > 1 else ''}); move them there"
        )
    return rows_to_beats(rows)


def _xlsx_rows(sheet) -> list[list[str]]:
    """The first sheet's rows as text cells, without the empty cells at their ends."""
    rows: list[list[str]] = []
    for values in sheet.iter_rows(values_only=True):
        if len(rows) > max_beat_rows() + 1:
            raise UploadTooLarge(f"the workbook holds more than {max_beat_rows()} rows")
        cells = ["" if v is None else str(v) for v in values]
        while cells and cells[-1] == "":
            cells.pop()
        rows.append(cells)
    return rows


def _xlsx_damaged(exc: BaseException) -> UploadRefused:
    """The refusal of a workbook whose parts do not read: what failed, in a few words."""
    detail = f"{type(exc).__name__}: {str(exc)[:120]}" if str(exc) else type(exc).__name__
    return UploadRefused(f"the XLSX workbook could not be read: it is damaged ({detail})")


def _first_sheet_path(archive: zipfile.ZipFile) -> str:
    damaged = UploadRefused("the XLSX workbook could not be read (damaged file)")
    try:
        with archive.open("xl/workbook.xml") as fh:
            sheet = next(el for _, el in iterparse(fh) if el.tag == f"{_SHEET_NS}sheet")
        rel_id = sheet.get(f"{_REL_NS}id")
        with archive.open("xl/_rels/workbook.xml.rels") as fh:
            rel = next(
                el for _, el in iterparse(fh) if el.tag == f"{_PACKAGE_REL_NS}Relationship" and el.get("Id") == rel_id
            )
    except (KeyError, StopIteration, ValueError, *_XLSX_DAMAGED) as exc:
        raise _xlsx_damaged(exc) if not isinstance(exc, (KeyError, StopIteration)) else damaged from None
    target = rel.get("Target", "")
    path = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    if path not in archive.namelist():
        raise damaged
    return path


def _column_number(reference: str) -> int:
    letters = _CELL_COLUMN.match(reference)
    number = 0
    for letter in letters.group() if letters else "":
        number = number * 26 + ord(letter) - 64
    return number


def _pieces(archive: zipfile.ZipFile, member: str):
    """A zip member in pieces of about 1 MB, each cut before its last '<' so that no tag is split.

    The rest is carried into the next piece (at most a few KB: no tag of a sheet is longer, and
    '<' cannot appear inside a tag).
    """
    carry = b""
    with archive.open(member) as fh:
        while chunk := fh.read(1 << 20):
            buffer = carry + chunk
            cut = buffer.rfind(b"<")
            cut = len(buffer) if cut < 0 or len(buffer) - cut > 4096 else cut
            yield buffer[:cut]
            carry = buffer[cut:]
    yield carry


def _xlsx_bounds_check(archive: zipfile.ZipFile) -> None:
    """Count the first sheet's cells row by row and stop at the first row wider than ECG_MAX_COLUMNS.

    openpyxl builds each row whole (and pads it to its last cell's column) before anyone can look
    at its width, so a row of a million cells costs gigabytes there; here it costs one piece of
    the XML. Counting tags with bytes.count keeps ordinary workbooks as fast as before (an XML
    parser's per-element callbacks would double their parse time).
    """
    limit, max_rows = _max_columns(), max_beat_rows()
    try:
        shared_strings = _xlsx_parts_check(archive)
        if shared_strings in archive.namelist():
            strings = runs = 0
            for piece in _pieces(archive, shared_strings):
                strings += len(_SHARED_STRING_TAG.findall(piece))
                if strings > XLSX_MAX_SHARED_STRINGS:
                    raise UploadTooLarge(
                        f"the workbook holds more than {XLSX_MAX_SHARED_STRINGS} distinct text cells; "
                        "a beat workbook holds numbers"
                    )
                runs = _count_text_runs(piece, runs)
        path = _first_sheet_path(archive)
        with archive.open(path) as fh:
            root = re.search(rb"<([A-Za-z_][\w.-]*:)?worksheet[\s>]", fh.read(4096))
        prefix = (root.group(1) or b"") if root else b""
        row_tag = re.compile(rb"<" + re.escape(prefix) + rb"row[\s>/]")
        cell_tag, bare_cell_tag = b"<" + prefix + b"c ", b"<" + prefix + b"c>"
        cell_column = re.compile(re.escape(cell_tag) + rb'[^<>]*?\br="([A-Z]+)')
        rows = cells = runs = 0
        for piece in _pieces(archive, path):
            runs = _count_text_runs(piece, runs)
            bounds = [0, *(match.start() for match in row_tag.finditer(piece)), len(piece)]
            for i in range(len(bounds) - 1):
                start, end = bounds[i], bounds[i + 1]
                if i > 0:  # a new <row> starts here
                    rows += 1
                    cells = 0
                    if rows > max_rows + 1:
                        raise UploadTooLarge(f"the workbook holds more than {max_rows} rows")
                cells += piece.count(cell_tag, start, end) + piece.count(bare_cell_tag, start, end)
                last = piece.rfind(cell_tag, start, end)
                column = cell_column.match(piece, last) if last >= 0 else None
                if cells > limit or (column and _column_number(column.group(1).decode()) > limit):
                    raise too_wide(rows, what="cells")
    except (ValueError, *_XLSX_DAMAGED) as exc:
        raise _xlsx_damaged(exc) from None


def _count_text_runs(piece: bytes, counted: int) -> int:
    """``counted`` plus the rich-text runs in ``piece`` of a part; refused past XLSX_MAX_TEXT_RUNS."""
    counted += len(_TEXT_RUN_TAG.findall(piece))
    if counted > XLSX_MAX_TEXT_RUNS:
        raise UploadTooLarge(
            f"the workbook's text holds more than {XLSX_MAX_TEXT_RUNS} rich-text runs (pieces of a text cell "
            "formatted apart); a beat workbook holds numbers"
        )
    return counted


def _xlsx_parts_check(archive: zipfile.ZipFile) -> str:
    """Refuse a part read whole at open that is larger than XLSX_MAX_PART_BYTES unzipped, naming it; return
    the shared strings' part, where the manifest puts it (openpyxl reads it from there)."""
    infos = {info.filename: info for info in archive.infolist()}
    manifest = infos.get("[Content_Types].xml")
    if manifest is not None and manifest.file_size > XLSX_MAX_PART_BYTES:
        raise _part_too_large(manifest)
    overrides: dict[str, str] = {}
    if manifest is not None:
        with archive.open(manifest) as fh:
            for _, el in iterparse(fh):
                if el.tag == f"{_CONTENT_TYPES_NS}Override":
                    overrides.setdefault(el.get("ContentType", ""), el.get("PartName", "").lstrip("/"))
    shared_strings = overrides.get(_SHARED_STRINGS_TYPE, "xl/sharedStrings.xml")
    # the workbook part openpyxl reads is the manifest's, whatever its name
    workbooks = {name for kind, name in overrides.items() if kind.endswith(".main+xml")}
    chartsheets = any(name.startswith("xl/chartsheets/") for name in infos)
    for name, info in infos.items():
        unread = _XLSX_UNREAD_PART.fullmatch(name) or (not chartsheets and _XLSX_DRAWING_PART.fullmatch(name))
        if name == shared_strings or (unread and name not in workbooks and not name.endswith(".rels")):
            continue
        if info.file_size > XLSX_MAX_PART_BYTES:
            raise _part_too_large(info)
    return shared_strings


def _part_too_large(info: zipfile.ZipInfo) -> UploadTooLarge:
    return UploadTooLarge(
        f"the workbook's part {info.filename[:100]!r} expands to {info.file_size} bytes; at most "
        f"{XLSX_MAX_PART_BYTES} are accepted (a workbook's styles, theme and properties hold a few KB)"
    )


def parse_beats(*, filename: str, data: bytes) -> ParsedUpload:
    ext = file_extension(filename)
    if ext not in BEAT_EXTENSIONS:
        raise UnsupportedUpload(f"{filename!r} has extension {ext or '(none)'}; beat files must be .csv, .txt or .xlsx")
    check_size(len(data))
    beats = parse_beat_xlsx(data) if ext == ".xlsx" else parse_beat_csv(data)
    return ParsedUpload(kind="beats", input_format=ext.lstrip("."), beats=beats)


def file_extension(filename: str) -> str:
    name = filename.lower()
    return name[name.rfind(".") :] if "." in name else ""


def check_size(size: int, names: list[str] | None = None) -> None:
    """UploadTooLarge past ECG_MAX_UPLOAD_BYTES, in MiB as the README states the limit. Of several files (a
    WFDB record's .hea and .dat) the message speaks of them together, and a record that is too large as files
    is often not as one .zip (a .dat compresses several-fold): it says so."""
    limit = settings.ECG_MAX_UPLOAD_BYTES
    if size <= limit:
        return
    mib = 1024 * 1024
    what = (
        f"the {len(names)} files are {size / mib:.1f} MiB together"
        if names and len(names) > 1
        else (f"the file is {size / mib:.1f} MiB")
    )
    hint = ""
    if names and any(file_extension(name) in (".dat", ".mat", ".hea") for name in names):
        hint = "; a WFDB record usually fits as one .zip of its files (send the .zip instead)"
    raise UploadTooLarge(f"{what}; the limit is {limit / mib:.1f} MiB{hint}")


BEATS_TAKE_NO_FS = (
    "a beat file carries no sampling rate (its rows are beats of 187 values, without timing): "
    "send it without one, or send a continuous signal as kind 'signal'"
)
BEATS_TAKE_NO_LEAD = (
    "a beat file carries no lead (its rows are beats of 187 values, of no named lead): "
    "send it without one, or send a continuous signal as kind 'signal'"
)


def beats_take_no_timing(*, fs: float | None, lead: str | None) -> None:
    """Refuse a sampling rate or lead sent with beat rows: taken silently, the sender believed them read."""
    if fs is not None:
        raise UploadRefused(BEATS_TAKE_NO_FS, field="fs")
    if lead and lead.strip():
        raise UploadRefused(BEATS_TAKE_NO_LEAD, field="lead")


def upload_parse(*, kind: str, uploads: list, text: str = "", fs: float | None = None, lead: str = ""):
    """An upload from the page or the API (files, or pasted beat values), validated whole.

    Returns (parsed, the bytes or file to store, their name); raises UploadRefused naming the defect.
    A WFDB or EDF signal large once extracted from its zip or decoded (ECG_FULL_CHECK_MAX_BYTES) is checked
    in bounded memory (structure and the chosen lead's samples, no R-peak detector), the rest whole.
    """
    if not uploads and not text.strip():
        raise UploadRefused("Choose a file to upload or paste beat values.")
    if uploads and text.strip():
        raise UploadRefused("Upload a file or paste values, not both.")
    if text.strip() and kind != "beats":
        raise UploadRefused("Pasted values are read as beats; choose 'Beat file'.", field="text")
    if not uploads:
        beats_take_no_timing(fs=fs, lead=lead)
        beats = parse_beat_text(text)
        data = "\n".join(",".join(f"{v:.6g}" for v in row) for row in beats).encode() + b"\n"
        return ParsedUpload(kind="beats", input_format="text", beats=beats), data, "pasted.csv"
    check_size(sum(upload.size for upload in uploads), [upload.name for upload in uploads])  # together
    if kind == "beats":
        if len(uploads) != 1:
            if any(u.name.lower().endswith((".hea", ".dat")) for u in uploads):
                raise UploadRefused("a WFDB record (.hea + .dat) is a continuous signal: choose 'Signal'", field="kind")
            raise UploadRefused("upload one beat file at a time")
        beats_take_no_timing(fs=fs, lead=lead)
        upload = uploads[0]
        data = upload.read()
        return parse_beats(filename=upload.name, data=data), data, upload.name
    from .signal_uploads import parse_signal_upload, parse_streamed_signal_upload

    if len(uploads) > readers.DEFAULT_MAX_MEMBERS:  # the files are kept as one zip, read as an uploaded zip is
        raise UploadRefused(
            f"the upload holds {len(uploads)} files; a WFDB record's files are kept together and may be at most "
            f"{readers.DEFAULT_MAX_MEMBERS}: send its .hea and data files, without its annotation files (they are not read)"
        )
    # judged by what the web process would hold, not by the upload's bytes: a small zip or FLAC record holds far more
    streamed = parse_streamed_signal_upload(uploads, fs=fs, lead=lead or None)
    if streamed is not None:
        return streamed
    return parse_signal_upload({u.name: u.read() for u in uploads}, fs=fs, lead=lead or None)


def json_numbers_canonical(value):
    """Parsed JSON with each whole number a float holds (``5.0``) as an int: JSON has one number type, so ``5`` and
    ``5.0`` are one number (JavaScript writes ``5.0`` as ``5``, Python as ``5.0``; JCS, RFC 8785, writes both ``5``),
    and every field that reads a number reads them alike. Other numbers, true and false, strings are left as they
    are: ``"5"`` and ``true`` still differ from ``5``."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, list):
        return [json_numbers_canonical(item) for item in value]
    if isinstance(value, dict):
        return {key: json_numbers_canonical(item) for key, item in value.items()}
    return value


def submission_fingerprint(fields: dict, files=()) -> str:
    """A digest of what an upload asks for (its fields, then each file's name and bytes), independent of
    multipart boundaries, key order and how a number is written (json_numbers_canonical): the same digest means
    the same upload (idempotency keys, the upload page's submission key). Files are read through and put back at
    their start."""
    digest = hashlib.sha256()
    digest.update(json.dumps(json_numbers_canonical(fields), sort_keys=True, default=str).encode())
    for upload in files:
        digest.update(upload.name.encode())
        for chunk in upload.chunks():
            digest.update(chunk)
        upload.seek(0)
    return digest.hexdigest()
