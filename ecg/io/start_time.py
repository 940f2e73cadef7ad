"""When a recording started, as its file states it (WFDB base time and date, EDF/EDF+ start date and time).

Files give a wall-clock time without a zone: the start is returned as a naive :class:`~datetime.datetime`,
and the caller decides which zone it is in. A time or date that is absent, partial or malformed makes the
start unknown (None); it never refuses the file, whose samples do not depend on it. The libraries that read
the samples do refuse such headers, so each format also has a function giving the header with the stated
start made harmless, for them to read instead.

A WFDB header with a base time and no base date states a time of day only: without a date it cannot be
placed in time (FHIR's dateTime needs one, and a 24-hour recording's clock times would cross a midnight of
no known day), so the start is unknown then too.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time

_WFDB_TIME = re.compile(r"^(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,6}))?$")
_WFDB_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_EDF_FIELD = re.compile(rb"^(\d\d)\.(\d\d)\.(\d\d)$")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_EDFPLUS_DATE = re.compile(r"^(\d\d)-([A-Za-z]{3})-(\d{4})$")
EDF_UNKNOWN_START = b"01.01.8500.00.00"  # a valid date and time that say nothing


def _time(hour: int, minute: int, second: int, micro: int = 0) -> time | None:
    try:
        return time(hour, minute, second, micro)
    except ValueError:
        return None


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


# --- WFDB ---------------------------------------------------------------------------------


def _wfdb_record_line(header: str) -> list[str]:
    for line in header.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            return line.split()
    return []


def _wfdb_fields(fields: list[str]) -> tuple[time | None, date | None]:
    """The base time (field 5) and base date (field 6) of a record line split at blanks, each if valid."""
    clock = _WFDB_TIME.match(fields[4]) if len(fields) > 4 else None
    base_time = None
    if clock:
        h, m, s, fraction = clock.groups()
        base_time = _time(int(h), int(m), int(s), int((fraction or "0").ljust(6, "0")))
    day = _WFDB_DATE.match(fields[5]) if len(fields) > 5 else None
    base_date = _date(int(day[3]), int(day[2]), int(day[1])) if day else None
    return base_time, base_date


def wfdb_start(header: str) -> datetime | None:
    """The base date and time of a WFDB header's record line (``HH:MM:SS DD/MM/YYYY``), when it states both."""
    base_time, base_date = _wfdb_fields(_wfdb_record_line(header))
    return datetime.combine(base_date, base_time) if base_time and base_date else None


def wfdb_header_readable(header: str) -> str | None:
    """The header with its record line cut before the base time, when the time or date there is not one
    :func:`wfdb_start` reads (the WFDB library refuses a record whose header has, say, 25:61:00 or
    2026-12-04); None when the header may be read as it is."""
    lines = header.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split()
        base_time, base_date = _wfdb_fields(fields)
        if (len(fields) <= 4 or base_time) and (len(fields) <= 5 or base_date):
            return None
        lines[i] = " ".join(fields[:4]) + "\n"
        return "".join(lines)
    return None


# --- EDF ----------------------------------------------------------------------------------


def _edf_field(raw: bytes) -> tuple[int, int, int] | None:
    match = _EDF_FIELD.match(raw)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def _edf_date(raw: bytes) -> date | None:
    """``dd.mm.yy`` with EDF's two-digit years: 85–99 are 1985–1999, 00–84 are 2000–2084."""
    parts = _edf_field(raw)
    if parts is None:
        return None
    day, month, yy = parts
    return _date(1900 + yy if yy >= 85 else 2000 + yy, month, day)


def _edf_time(raw: bytes) -> time | None:
    parts = _edf_field(raw)
    return _time(*parts) if parts else None


def _edfplus_startdate(header: bytes) -> tuple[str | None, date | None]:
    """The EDF+ recording field's ``Startdate`` subfield (its text, and the date it names) or (None, None)
    when the file is plain EDF or the field has none."""
    if header[192:197] not in (b"EDF+C", b"EDF+D") or not header[88:98] == b"Startdate ":
        return None, None
    text = header[98:168].decode("ascii", "replace").split()
    token = text[0] if text else ""
    match = _EDFPLUS_DATE.match(token)
    if match is None or match[2].upper() not in _MONTHS:
        return token, None
    return token, _date(int(match[3]), _MONTHS.index(match[2].upper()) + 1, int(match[1]))


def _agrees(full: date, short: date | None) -> bool:
    return short is not None and (full.day, full.month, full.year % 100) == (short.day, short.month, short.year % 100)


def edf_start(header: bytes) -> datetime | None:
    """The start an EDF or EDF+ header (its first 256 bytes) states.

    The date is the fixed header's ``dd.mm.yy`` (bytes 168–175), in EDF+ that of the recording field's
    ``Startdate dd-MMM-yyyy``, which has the four-digit year (a file after 2084 writes "yy" in the fixed
    field); ``Startdate X`` says the date is unknown, and two dates that disagree leave it unknown too. The
    time is bytes 176–183, ``hh.mm.ss``. Midnight of 1 January 1985, the first day EDF can write and what
    anonymising tools put there, is taken as no start.
    """
    if len(header) < 256 or header[168:184] == EDF_UNKNOWN_START:
        return None
    start_time = _edf_time(header[176:184])
    fixed = _edf_date(header[168:176])
    token, stated = _edfplus_startdate(header)
    if token is None:
        start_date = fixed
    elif stated is not None and (fixed is None or _agrees(stated, fixed)):
        start_date = stated
    else:
        start_date = None
    return datetime.combine(start_date, start_time) if start_date and start_time else None


def edf_header_readable(header: bytes) -> bytes | None:
    """The first 256 bytes with a malformed start date or time replaced by :data:`EDF_UNKNOWN_START` (and an
    EDF+ ``Startdate`` that is malformed or disagrees with the fixed field by ``X``), as the EDF library
    refuses the file otherwise; None when the header may be read as it is."""
    if len(header) < 256:
        return None  # not an EDF header: the library says so
    out = bytearray(header[:256])
    if _edf_date(header[168:176]) is None or _edf_time(header[176:184]) is None:
        out[168:184] = EDF_UNKNOWN_START
    token, stated = _edfplus_startdate(bytes(out))
    if token is not None and token != "X" and (stated is None or not _agrees(stated, _edf_date(bytes(out[168:176])))):
        rest = out[98:168].decode("ascii", "replace").split()[1:]
        out[98:168] = " ".join(["X", *rest]).encode("ascii", "replace")[:70].ljust(70)
    return bytes(out) if out != header[:256] else None
