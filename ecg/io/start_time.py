"""When a recording started, as its file states it (WFDB base time and date, EDF/EDF+ start date and time,
a DICOM ECG's acquisition or content date and time, an HL7 aECG's effectiveTime).

Most files give a wall-clock time without a zone: the start is returned as a naive
:class:`~datetime.datetime`, and the caller decides which zone it is in. A DICOM or HL7 value that states its
UTC offset (DICOM's ``&ZZXX`` or TimezoneOffsetFromUTC, HL7's ``+ZZZZ``) names a moment instead: the start is
then returned aware, at that offset, and the caller shows it in its own zone. A time or date that is absent,
partial or malformed makes the start unknown (None); it never refuses the file, whose samples do not depend
on it. The libraries that read the samples do refuse such headers, so each format also has a function giving
the header with the stated start made harmless, for them to read instead.

A WFDB header with a base time and no base date states a time of day only: without a date it cannot be
placed in time (FHIR's dateTime needs one, and a 24-hour recording's clock times would cross a midnight of
no known day), so the start is unknown then too; so is a DICOM or HL7 date without a time of day.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, timezone

_WFDB_TIME = re.compile(r"^(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,6}))?$")
_WFDB_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_EDF_FIELD = re.compile(rb"^(\d\d)\.(\d\d)\.(\d\d)$")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_EDFPLUS_DATE = re.compile(r"^(\d\d)-([A-Z]{3})-(\d{4})$")  # EDF+ writes the month in capitals
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
    if match is None or match[2] not in _MONTHS:
        return token, None
    return token, _date(int(match[3]), _MONTHS.index(match[2]) + 1, int(match[1]))


def _agrees(full: date, short: date | None) -> bool:
    """Whether the EDF+ four-digit date is the fixed field's (whose two-digit year is 1985-2084)."""
    return short is not None and full == short


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


# --- DICOM and HL7 aECG ---------------------------------------------------------------------

# DICOM DT (PS3.5 6.2) and HL7 v3 TS: YYYY[MM[DD[HH[MM[SS[.F]]]]]] and an optional UTC offset &ZZXX; read
# here only to the hour or finer (a date alone is no start). HL7 allows more than DICOM's six fraction digits.
_STAMP = re.compile(r"^(\d{4})(?:(\d\d)(?:(\d\d)(?:(\d\d)(?:(\d\d)(?:(\d\d)(?:\.(\d+))?)?)?)?)?)?([+-]\d{4})?$")
_DICOM_DA = re.compile(r"^\d{8}$")
_DICOM_TM = re.compile(r"^\d\d(?:\d\d(?:\d\d(?:\.\d{1,6})?)?)?$")
# The forms of the standard before version 3.0, which PS3.5 6.2 recommends a reader still accepts: DA
# ``yyyy.mm.dd`` and TM ``hh:mm:ss.frac`` (older carts and archives write them).
_ACR_NEMA_DA = re.compile(r"^(\d{4})\.(\d\d)\.(\d\d)$")
_ACR_NEMA_TM = re.compile(r"^(\d\d)(?::(\d\d)(?::(\d\d(?:\.\d{1,6})?))?)?$")
_UTC_OFFSET = re.compile(r"^([+-])(\d\d)(\d\d)$")
# The attributes a DICOM ECG's start is read from, in the order they are preferred (a pair is one source).
DICOM_START_SOURCES = (("AcquisitionDateTime",), ("AcquisitionDate", "AcquisitionTime"), ("ContentDate", "ContentTime"))
DICOM_TIMEZONE = "TimezoneOffsetFromUTC"
DICOM_START_KEYWORDS = (*(k for source in DICOM_START_SOURCES for k in source), DICOM_TIMEZONE)
# The waveform group's first sample, in ms after the acquisition's reference time (PS3.3 C.10.9.1; DS).
DICOM_GROUP_OFFSET = "MultiplexGroupTimeOffset"
DICOM_GROUP_OFFSET_MAX_MS = 86_400_000.0  # a day: beyond it the offset is no offset within one acquisition


def utc_offset(text: str) -> timezone | None:
    """A ``+HHMM`` or ``-HHMM`` offset from UTC, within the -12:00 to +14:00 of DICOM and of the world's
    clocks; None when it is not one."""
    match = _UTC_OFFSET.match(text)
    if match is None:
        return None
    hours, minutes = int(match[2]), int(match[3])
    if minutes > 59 or hours * 60 + minutes > (12 if match[1] == "-" else 14) * 60:
        return None
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if match[1] == "-" else offset)


def stamp_start(text: str) -> datetime | None:
    """The start a DICOM DT or HL7 TS value names: naive, or aware when it states its UTC offset. None when it
    stops before the hour (a date is no start), or is not a valid date and time."""
    match = _STAMP.match(text.strip())
    if match is None or match[4] is None:
        return None
    year, month, day, hour, minute, second = (int(part or 0) for part in match.groups()[:6])
    clock = _time(hour, minute, second, int((match[7] or "0")[:6].ljust(6, "0")))
    start_date = _date(year, month, day)
    if clock is None or start_date is None:
        return None
    if match[8] is None:
        return datetime.combine(start_date, clock)
    zone = utc_offset(match[8])
    return datetime.combine(start_date, clock, tzinfo=zone) if zone else None


def _dicom_text(values: Mapping[str, object], keyword: str) -> str | None:
    """An attribute's text, "" when it is absent or empty; None when it is not one text (several values)."""
    value = values.get(keyword)
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else None


def _either_form(text: str, current: re.Pattern[str], before_v3: re.Pattern[str]) -> str | None:
    """A DA or TM value in its current form (``YYYYMMDD``, ``HH[MM[SS[.FFFFFF]]]``), the form before
    version 3.0 accepted; None when it is neither."""
    if current.match(text):
        return text
    old = before_v3.match(text)
    return "".join(part for part in old.groups() if part) if old else None


def group_offset(value: object) -> timedelta | None:
    """A waveform group's MultiplexGroupTimeOffset (DS, milliseconds) as a time: zero when it is absent
    or empty, None when it is not one finite number within a day either way."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return timedelta(0)
    try:
        ms = float(str(value).strip())
    except ValueError:
        return None
    if not (abs(ms) <= DICOM_GROUP_OFFSET_MAX_MS):  # NaN and infinities too
        return None
    return timedelta(milliseconds=ms)


def dicom_start(values: Mapping[str, object], offset: object = None) -> datetime | None:
    """The start a DICOM ECG states, from its attributes' values by keyword (:data:`DICOM_START_KEYWORDS`).

    AcquisitionDateTime (DT) when present, else AcquisitionDate and AcquisitionTime (DA ``YYYYMMDD``, TM
    ``HH[MM[SS[.FFFFFF]]]``, or the forms before version 3.0, ``YYYY.MM.DD`` and ``HH:MM:SS.FFFFFF``), else
    ContentDate and ContentTime. The first source present decides: a value
    there that is malformed or partial (a date without its time) leaves the start unknown rather than taking
    a later source's, which may be another moment (content is often written after the acquisition). The
    offset a DT states is its own; else TimezoneOffsetFromUTC, when present, is the offset of every date and
    time of the file, and a malformed one leaves the start unknown.

    ``offset`` is the waveform group's MultiplexGroupTimeOffset (`group_offset`): its first sample comes
    that long after the acquisition's time, so an acquisition start is moved by it (a content date and
    time is when the file was written, no reference of the offset); a malformed one leaves the start
    unknown.
    """
    texts = {keyword: _dicom_text(values, keyword) for keyword in DICOM_START_KEYWORDS}
    for source in DICOM_START_SOURCES:
        if all(texts[keyword] == "" for keyword in source):
            continue
        if len(source) == 1:
            text = texts[source[0]]
            start = stamp_start(text) if text is not None else None
        else:
            day, clock = (texts[keyword] for keyword in source)
            day = _either_form(day, _DICOM_DA, _ACR_NEMA_DA) if day is not None else None
            clock = _either_form(clock, _DICOM_TM, _ACR_NEMA_TM) if clock is not None else None
            start = stamp_start(f"{day}{clock}") if day is not None and clock is not None else None
        if start is not None and source[0].startswith("Acquisition"):
            shift = group_offset(offset)
            try:
                start = start + shift if shift is not None else None
            except OverflowError:  # moved past the calendar's first or last day
                start = None
        break
    else:
        return None
    zone_text = texts[DICOM_TIMEZONE]
    if start is None or start.tzinfo is not None or zone_text == "":
        return start
    zone = utc_offset(zone_text) if zone_text is not None else None
    return start.replace(tzinfo=zone) if zone else None


def aecg_start(series_low: str | None, document_low: str | None) -> datetime | None:
    """The start an HL7 aECG states: its series' ``effectiveTime/low/@value`` (a TS,
    ``YYYYMMDDHHMMSS[.S][+/-ZZZZ]``), or the AnnotatedECG's own when the series states none."""
    series_low = (series_low or "").strip()
    text = series_low or (document_low or "").strip()
    return stamp_start(text) if text else None
