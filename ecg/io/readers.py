"""Continuous ECG signal readers (WFDB, EDF, CSV, JSON) and input validation.

Every reader returns a :class:`Signal` in physical units (mV where the source
states its units) and raises :class:`~ecg.io.errors.SignalError` with a
message naming the file, row or field at fault.  Readers check structure and
that values are numbers; :func:`validate_signal` (or :meth:`Signal.validated`)
checks the lead to be analysed: fs, NaN/inf, length, flat line, heartbeats -
so a gap in one lead of a 12-lead file does not refuse the others.

Samples a file marks as lost (NaN: WFDB's invalid sample value, a CSV's "nan") are a recording's
ordinary gaps, a lead off for a moment or a dropped packet: a :class:`Signal` bridges each run of
them linearly from its neighbours and keeps where they were (:meth:`Signal.lost_spans`), so the
analysis reads nothing there (no beat, pause, VF or heart rate) and the rest of the recording is
analysed. A lead is refused when more than ``MAX_LOST_SHARE`` of it is lost, and infinite values
are refused wherever they are: a converter does not write them for a gap.
"""

from __future__ import annotations

import codecs
import io
import itertools
import json
import math
import os
import re
import shutil
import sys
import tempfile
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

import numpy as np

from ecg.clock import clock
from ecg.io.errors import SignalError
from ecg.io.start_time import edf_header_readable, edf_start, wfdb_header_readable, wfdb_start

MIN_FS = 100.0
MAX_FS = 10_000.0
MIN_SECONDS = 2.5  # two beats at 48 bpm
DEFAULT_MAX_SECONDS = 24 * 3600.0
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
DEFAULT_MAX_MEMBERS = 20
# Leads (columns, signals) a reader builds at most; a header declaring more is refused before reading.
DEFAULT_MAX_COLUMNS = 256
# Peak-to-peak below this (in mV) is a flat line: a QRS is at least ~0.1 mV.
FLAT_PTP_MV = 0.02
LEAD_PREFERENCE = ("MLII", "II")
MAX_LOST_SHARE = 0.5  # a lead may have at most this share of its samples marked lost

_MV_SCALE = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nv": 1e-6}
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$")
# A CSV column whose name is one of these, or these followed by units ("Time [ms]", "time_s",
# "sample_index"), or units alone ("ms", "sec"), is the time or sample number of each row, not a lead.
_TIME_NAMES = {
    "time",
    "t",
    "timestamp",
    "elapsed",
    "elapsed time",
    "time elapsed",
    "sample",
    "samples",
    "sample number",
    "sample no",
    "sample nr",
    "sample index",
    "index",
    "idx",
}
_TIME_UNITS = {
    "s",
    "sec",
    "secs",
    "second",
    "seconds",
    "ms",
    "msec",
    "msecs",
    "millisecond",
    "milliseconds",
    "us",
    "µs",
    "μs",
    "min",
    "mins",
    "minute",
    "minutes",
    "h",
    "hh",
    "mm",
    "ss",
    "sss",
    "mmm",
}


# The standard leads as ECG paper writes them: PTB's WFDB headers name them "i", "avr", "vx"...
STANDARD_LEADS = {
    name.lower(): name
    for name in ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6", "MLII", "Vx", "Vy", "Vz")
}


def lead_display(name: str) -> str:
    """A lead's label as pages write it: a standard lead in its usual case ("ii" is II, "avr" aVR, as the
    12-lead panel writes them; a file's "lead ii" is "lead II"), any other label as the file has it."""
    plain = name.strip()
    if plain.lower() in STANDARD_LEADS:
        return STANDARD_LEADS[plain.lower()]
    match = re.fullmatch(r"(lead[\s_]*)(\w+)", plain, re.IGNORECASE)
    if match and match.group(2).lower() in STANDARD_LEADS:
        return f"{match.group(1)}{STANDARD_LEADS[match.group(2).lower()]}"
    return name


def lead_phrase(name: str) -> str:
    """How a sentence names a lead: "lead II" (also for a file's "ii" or "lead ii"), but "lead 1" and
    "ECG Lead I" as they are (a file's own label, or the name a headerless table's columns get, may already
    say it is a lead)."""
    shown = lead_display(name)
    return shown if re.search(r"\blead\b", shown, re.IGNORECASE) else f"lead {shown}"


def plain_lead(label: str) -> str:
    """A lead label compared loosely: "ECG Lead II", "lead_ii" and "II" are all "ii"."""
    plain = re.sub(r"[\s_\-:.]+", " ", label.strip().lower())
    plain = re.sub(r"^(ecg|ekg|lead)\s*", "", plain).strip()
    return plain.replace(" ", "")


def find_lead(names: list[str], name: str) -> str | None:
    """The one of ``names`` that ``name`` asks for, else None.

    The same label wins; else the same without case; else the one label that is the same compared
    loosely (:func:`plain_lead`: "V5" finds "ECG V5", "ii" finds "Lead II"). A name that fits two
    labels without case, or loosely, is refused naming both.
    """
    wanted = name.strip()
    for matches in (
        [n for n in names if n.strip() == wanted],
        [n for n in names if n.strip().lower() == wanted.lower()],
        [n for n in names if plain_lead(wanted) and plain_lead(n) == plain_lead(wanted)],
    ):
        if len(matches) == 1:
            return matches[0]
        if matches:
            listed = ", ".join(repr(m) for m in matches[:-1]) + f" and {matches[-1]!r}"
            raise SignalError(f"lead {name!r} could be {listed}; name one of them as the file does", about="lead")
    return None


@dataclass
class Signal:
    """A continuous multi-lead recording at one sampling rate."""

    fs: float
    leads: dict[str, np.ndarray]
    units: dict[str, str] | None = None
    source_format: str = "unknown"
    # when the recording started, as the file states it (None: not stated): naive, the file's own wall-clock
    # time of no stated zone; aware when the file states its offset from UTC (DICOM, HL7 aECG)
    start: datetime | None = None
    lead_order: list[str] = field(init=False, repr=False)

    lost: dict[str, list[tuple[int, int]]] = field(init=False, repr=False)
    # the samples of each lead in the file where only its first ones were read (read_wfdb's ``head``); None: whole
    file_samples: int | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        for name in self.leads:
            check_lead_name(name, only="\x00")  # what the database refuses; uploads are checked in full
        self.fs = float(self.fs)
        self.leads = {name: np.asarray(v, dtype=np.float64) for name, v in self.leads.items()}
        self.lead_order = list(self.leads)
        self.lost = {}
        for name, values in self.leads.items():
            spans = lost_spans(values)
            if spans:
                self.lost[name] = spans
                # a lead mostly lost stays as it is: refused if analysed, and no second lead for the analysis
                if sum(e - s + 1 for s, e in spans) <= MAX_LOST_SHARE * len(values):
                    self.leads[name] = bridged(values)

    def lost_spans(self, name: str | None = None) -> list[tuple[int, int]]:
        """(start, end) samples, ``end`` inclusive, of each run of samples the file marks as lost in the lead."""
        return self.lost.get(self.lead_name(name), [])

    @property
    def n_samples(self) -> int:
        return max((len(v) for v in self.leads.values()), default=0)

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs if self.fs > 0 else 0.0

    def lead_name(self, name: str | None = None) -> str:
        """The lead called ``name`` (as :func:`find_lead` matches it), else MLII, II, then the first lead.

        Labels such as "ECG II" or "Lead II" count as II for the default choice, and for a name asked for.
        """
        if not self.leads:
            raise SignalError("the recording contains no leads")
        if name is not None:
            key = find_lead(list(self.leads), name)
            if key is None:
                raise SignalError(f"lead {name!r} not found; available leads: {', '.join(self.leads)}", about="lead")
            return key
        by_plain: dict[str, str] = {}
        for k in self.leads:
            by_plain.setdefault(plain_lead(k), k)
        for preferred in LEAD_PREFERENCE:
            if preferred.lower() in by_plain:
                return by_plain[preferred.lower()]
        return next(iter(self.leads))

    def lead(self, name: str | None = None) -> np.ndarray:
        return self.leads[self.lead_name(name)]

    def validated(
        self, name: str | None = None, *, max_seconds: float = DEFAULT_MAX_SECONDS, check_beats: bool = True
    ) -> np.ndarray:
        """The chosen lead after :func:`validate_signal`; raises SignalError otherwise."""
        key = self.lead_name(name)
        unit = (self.units or {}).get(key)
        check_lost(sum(e - s + 1 for s, e in self.lost.get(key, [])), len(self.leads[key]), key)
        validate_signal(
            self.leads[key], self.fs, lead=key, units=unit, max_seconds=max_seconds, check_beats=check_beats
        )
        return self.leads[key]


# --- validation -------------------------------------------------------------------------


def check_lead_name(name: str, *, only: str | None = None) -> None:
    """Refuse a lead name holding a control character (NUL, a line break...): no file names a lead so,
    and the database refuses to store some of them. With ``only``, just those characters (every signal
    read, stored ones among them, is refused a NUL, which no stored recording can hold)."""
    bad = next((ch for ch in str(name) if (ch in only if only is not None else unicodedata.category(ch) == "Cc")), None)
    if bad is not None:
        raise SignalError(
            f"the lead name {str(name)[:40]!r} holds a control character (U+{ord(bad):04X}); "
            "rename the lead in the file"
        )


def check_fs(fs: object) -> float:
    try:
        value = float(fs)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SignalError(f"sampling rate {str(fs)[:30]!r} is not a number") from None
    except OverflowError:  # an integer beyond the range of a float (JSON allows any number of digits)
        raise SignalError(f"sampling rate {str(fs)[:20]}… is too large a number") from None
    if not math.isfinite(value):
        raise SignalError(f"sampling rate {fs!r} is not a positive finite number")
    if value < MIN_FS:  # zero and negative rates too: one message for every rate out of range
        raise SignalError(f"sampling rate {value:g} Hz is below the minimum of {MIN_FS:g} Hz")
    if value > MAX_FS:
        raise SignalError(f"sampling rate {value:g} Hz is above the maximum of {MAX_FS:g} Hz")
    return value


def check_form_rate(file_fs: float, fs: float | None, source: str) -> None:
    """A sampling rate given beside a file that states its own (the form's, the API's ``fs``) must be
    the file's, or the file's rounded (173.61 or 174 for 173.611 Hz): the samples are never re-timed
    to a rate the file contradicts, nor is the given one silently ignored."""
    if fs is None or not math.isfinite(file_fs):  # a rate that is no number is refused by check_fs
        return
    if any(math.isclose(fs, rate, rel_tol=1e-9) for rate in (file_fs, *(round(file_fs, d) for d in range(4)))):
        return
    raise SignalError(
        f"{source}: the file says {file_fs:g} Hz and the sampling rate given {fs:g} Hz; "
        "leave the sampling rate empty to use the file's, or correct one of them",
        about="fs",
    )


def lost_spans(values: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) samples, ``end`` inclusive, of each run of NaN (lost) samples."""
    lost = np.isnan(values)
    if not lost.any():
        return []
    edges = np.diff(np.concatenate([[0], lost.astype(np.int8), [0]]))
    return [(int(a), int(b) - 1) for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True)]


def bridged(values: np.ndarray) -> np.ndarray:
    """``values`` with each run of NaN samples drawn as a straight line between its neighbours (held flat
    at either end of the lead); infinite values are left for validation to refuse."""
    lost = np.isnan(values)
    have = np.flatnonzero(~lost)
    out = np.array(values, dtype=np.float64)
    out[lost] = np.interp(np.flatnonzero(lost), have, out[have])
    return out


def check_lost(n_lost: int, n_samples: int, lead: str) -> None:
    """Refuse a lead with no value at all, or with more than ``MAX_LOST_SHARE`` of its samples lost."""
    if not n_lost:
        return
    if n_lost >= n_samples:
        raise SignalError(f"{lead_phrase(lead)} holds no value: the file marks every sample as lost")
    if n_lost > MAX_LOST_SHARE * n_samples:
        raise SignalError(
            f"{lead_phrase(lead)} has {100.0 * n_lost / n_samples:.0f} % of its samples marked as lost; at most "
            f"{100 * MAX_LOST_SHARE:.0f} % may be, so that what is analysed is the recording and not its gaps"
        )


def check_finite(values: np.ndarray, lead: str, fs: float | None = None) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise SignalError(_not_finite(i, float(values[i]), lead, fs))


def _not_finite(i: int, value: float, lead: str, fs: float | None) -> str:
    """The refusal of a lead whose sample ``i`` holds no number: where it is, and what to do about it."""
    kind = "NaN" if math.isnan(value) else "infinite"
    at = f" ({clock(int(i / fs))} into the recording)" if fs else ""  # the second it falls in
    return (
        f"sample {i} of {lead_phrase(lead)} is {kind}{at}: the file marks it as lost or out of range, and every sample must "
        "hold a value; upload a stretch without such samples, or the recording with them filled in"
    )


MAX_AMPLITUDE_MV = 1000.0  # no ECG reaches a volt
MAX_AMPLITUDE_ANY = 1e8  # nor 1e8 in any unit: mV, uV, nV or the counts of a 24-bit converter


def check_amplitude(peak: float, at: int, lead: str, units: str | None, fs: float | None = None) -> None:
    """Refuse a lead whose largest absolute value (``peak``, at sample ``at``) no ECG reaches."""
    scale = _MV_SCALE.get((units or "").strip().lower())
    limit, unit = (MAX_AMPLITUDE_MV / scale, units) if scale else (MAX_AMPLITUDE_ANY, None)
    if peak > limit:
        where = f" ({clock(int(at / fs))} into the recording)" if fs else ""
        stated = f" {unit}" if unit else ""
        bound = f"{limit:g}{stated}" if unit else f"{limit:g} in any unit (mV, uV or a converter's counts)"
        raise SignalError(
            f"sample {at} of {lead_phrase(lead)} is {peak:.3g}{stated}{where}: no ECG reaches {bound}; "
            "check the file's scaling"
        )


def validate_signal(
    values: np.ndarray,
    fs: float,
    *,
    lead: str = "ECG",
    units: str | None = None,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    check_beats: bool = True,
) -> None:
    """Refuse a lead that cannot be analysed: bad fs, NaN/inf, too short/long, flat, no beats (unless in VF/VFL).

    ``units`` (e.g. "mV", "uV") sets the flat-line threshold; when unknown only a
    constant signal counts as flat and the heartbeat check decides.
    """
    fs = check_fs(fs)
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1:
        raise SignalError(f"{lead_phrase(lead)} must be one-dimensional, got shape {values.shape}")
    seconds = len(values) / fs
    if seconds < MIN_SECONDS:
        raise SignalError(
            f"{lead_phrase(lead)} is {seconds:.2f} s long; at least {MIN_SECONDS:g} s (two heartbeats) is needed"
        )
    if seconds > max_seconds:
        raise SignalError(f"{lead_phrase(lead)} is {seconds:.0f} s long; the maximum is {max_seconds:.0f} s")
    check_finite(values, lead, fs)
    at = int(np.argmax(np.abs(values)))
    check_amplitude(abs(float(values[at])), at, lead, units, fs)
    ptp = float(np.ptp(values))
    scale = _MV_SCALE.get((units or "").strip().lower())
    threshold = FLAT_PTP_MV / scale if scale else 0.0
    if ptp <= threshold or np.std(values) <= 1e-12 * max(1.0, float(np.abs(values).max())):
        raise SignalError(
            f"{lead_phrase(lead)} is a flat line (peak-to-peak {ptp:.3g}{' ' + units if units else ''}): no ECG signal"
        )
    if check_beats:
        from ecg.processing.detection import detect_r_peaks
        from ecg.rhythm.vf import fibrillating

        r_peaks = detect_r_peaks(values, fs)
        # a strip recorded in VF (a monitor's or defibrillator's export) has no beat to find, and VF to report
        if len(r_peaks) < 2 and not fibrillating(values, fs, r_peaks):
            raise SignalError(f"no heartbeats detected in {lead_phrase(lead)}")


# --- helpers ------------------------------------------------------------------------------


def _to_mv(values: np.ndarray, unit: str | None) -> tuple[np.ndarray, str | None]:
    scale = _MV_SCALE.get((unit or "").strip().lower())
    if scale is None:
        return values, unit or None
    return (values if scale == 1.0 else values * scale), "mV"  # a 24-hour lead is ~250 MB: no copy when in mV


def _build(
    fs: object,
    leads: dict[str, np.ndarray],
    units: Mapping[str, str | None] | None,
    source_format: str,
    source: str,
    start: datetime | None = None,
) -> Signal:
    fs = check_fs(fs)
    if not leads:
        raise SignalError(f"{source}: no signal leads found")
    out: dict[str, np.ndarray] = {}
    out_units: dict[str, str] = {}
    for name, values in leads.items():
        v, unit = _to_mv(np.asarray(values, dtype=np.float64), (units or {}).get(name))
        out[name] = v
        if unit:
            out_units[name] = unit
    return Signal(fs=fs, leads=out, units=out_units or None, source_format=source_format, start=start)


def without_paths(text: str) -> str:
    """A library's message without the server's file paths (temporary directories, installed modules)."""
    return re.sub(r"(?:/[^\s/:'\"]+)+/([^\s/:'\"]*)", r"\1", text)


def too_many_columns(source: str, count: int, what: str, limit: int) -> SignalError:
    return SignalError(f"{source} has {count} {what}; at most {limit} are accepted", limit_exceeded=True)


def _unique_names(names: list[str]) -> list[str]:
    """``names`` without the spaces around them (a blank one "ECG"), each one once compared without case: a
    name given again gets the first free suffix ("x", "x" → "x", "x_2"), never one another lead has
    ("x", "x", "x_2" → "x", "x_3", "x_2")."""
    stripped = [name.strip() or "ECG" for name in names]
    given = {name.lower() for name in stripped}
    used: set[str] = set()
    result = []
    for name in stripped:
        unique, count = name, 1
        while unique.lower() in used or (count > 1 and unique.lower() in given):
            count += 1
            unique = f"{name}_{count}"
        used.add(unique.lower())
        result.append(unique)
    return result


# --- WFDB ---------------------------------------------------------------------------------


def _wfdb_unreadable(name: str, exc: Exception) -> SignalError:
    """What wfdb's error means to the person who uploaded the record: a data file shorter than its
    header declares reads as a reshape or loading failure inside wfdb."""
    text = str(exc)
    if any(m in text for m in ("Samples were not loaded correctly", "cannot reshape array", "could not broadcast")):
        return SignalError(
            f"WFDB record {name}: its data file holds fewer samples than its header declares (cut short?)"
        )
    return SignalError(f"WFDB record {name} could not be read: {without_paths(text)}")


def read_wfdb(
    record_path: str | Path,
    *,
    max_columns: int = DEFAULT_MAX_COLUMNS,
    max_seconds: float | None = None,
    max_samples: int | None = None,
    strict: bool = True,
    head: int | None = None,
) -> Signal:
    """A WFDB record given as its path without extension (e.g. ``.../mitdb/100``).

    With ``max_seconds`` a header declaring a longer recording is refused before any sample is read, and with
    ``max_samples`` one declaring more samples (all signals together), whatever its format packs in a byte.

    With ``head``, a bound on the samples wanted over all leads together, shared equally among them (at least one
    each: the FHIR export's), only each lead's first share is read where that is the same as reading it whole and
    cutting it (:func:`_wfdb_head_frames`), and ``Signal.file_samples`` says how long the leads are: the FHIR
    export of a 24-hour record had read its 125 MB, 500 MB as numbers, for the first 2,000,000 samples of each
    lead."""
    import wfdb

    path = Path(record_path)
    if path.suffix in (".hea", ".dat"):
        path = path.with_suffix("")
    name = path.name
    if not path.with_suffix(".hea").is_file():
        raise SignalError(f"WFDB record {name}: header file {name}.hea not found")
    header = path.with_suffix(".hea")
    header_bytes = header.read_bytes()
    data_bytes = sum(p.stat().st_size for p in path.parent.glob(f"{name}*") if p.suffix != ".hea")
    needed = _header_data_files(
        header_bytes,
        header.name,
        max_columns=max_columns,
        data_bytes=data_bytes,
        max_seconds=max_seconds,
        max_samples=max_samples,
        strict=strict,
    )
    text = header_bytes.decode("ascii")  # checked above
    frames = None
    try:
        with _wfdb_readable(path, text, needed) as readable:
            frames = _wfdb_head_frames(readable, head) if head is not None else None
            record = wfdb.rdrecord(str(readable), physical=True, **({"sampto": frames[0]} if frames else {}))
            if frames and record.p_signal is not None and np.isnan(record.p_signal[-1]).any():
                # a run of lost samples across the cut is drawn towards the sample after it (Signal's bridging),
                # which the whole lead has: read whole, as before
                frames = None
                record = wfdb.rdrecord(str(readable), physical=True)
    except FileNotFoundError as exc:
        raise SignalError(f"WFDB record {name}: missing file {Path(str(exc.filename or exc)).name}") from None
    except MemoryError:
        raise SignalError(f"WFDB record {name} declares more samples than its data holds") from None
    except Exception as exc:  # wfdb raises many types for malformed headers/data
        raise _wfdb_unreadable(name, exc) from None
    if record.p_signal is None or record.fs is None:
        raise SignalError(f"WFDB record {name} contains no signals")
    names = _unique_names([str(s) for s in (record.sig_name or [])])
    leads = {n: record.p_signal[:, i] for i, n in enumerate(names)}
    units = {n: str(u) for n, u in zip(names, record.units or [])}
    signal = _build(record.fs, leads, units, "wfdb", f"WFDB record {name}", start=wfdb_start(text))
    if frames:
        signal.file_samples = frames[1]
    return signal


def _wfdb_head_frames(path: Path, head: int) -> tuple[int, int] | None:
    """The frames to read of the record at ``path`` for ``read_wfdb``'s ``head`` (its share of each lead), and the
    frames its header declares; None where the whole record is to be read: it is no longer than that, or reading a
    part of it might not give the same samples as reading it whole and cutting it. A part is read only of a record
    of one sample a frame per signal, no skew, in formats of a fixed size, whose data files hold every frame the
    header declares: a record cut short is read whole, to be refused as it was."""
    import wfdb

    record = wfdb.rdheader(str(path))
    n_sig, declared = int(record.n_sig or 0), int(record.sig_len or 0)
    share = max(1, head // max(1, n_sig))
    if not n_sig or declared <= share:
        return None
    if any(int(n or 1) != 1 for n in record.samps_per_frame or []) or any(int(k or 0) for k in record.skew or []):
        return None
    formats = [str(f) for f in record.fmt or []]
    if len(formats) != n_sig or any(f not in _WFDB_SAMPLE_BYTES for f in formats):
        return None
    per_file: dict[str, float] = {}
    for file_name, fmt in zip(record.file_name, formats, strict=True):
        per_file[file_name] = per_file.get(file_name, 0.0) + _WFDB_SAMPLE_BYTES[fmt]
    offsets = dict(zip(record.file_name, record.byte_offset or [None] * n_sig, strict=True))
    for file_name, frame_bytes in per_file.items():
        data = path.parent / file_name
        if "/" in file_name or not data.is_file():
            return None
        if data.stat().st_size < int(offsets.get(file_name) or 0) + math.ceil(declared * frame_bytes):
            return None
    return share, declared


@contextmanager
def _wfdb_readable(path: Path, header: str, data_files: set[str], *, frames: int | None = None) -> Iterator[Path]:
    """``path``, or a copy of the record (its data files linked) whose header leaves out a base time or
    date the WFDB library would refuse: a malformed start is an unknown one, not a reason to refuse. With
    ``frames``, the number of samples of a header that states none, the copy's record line states them: the
    library reads a part of such a record (the bounded check's chunks) only then."""
    fixed = wfdb_header_readable(header)
    if frames is not None:
        fixed = _with_frames(fixed or header, frames)
    if fixed is None:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="ecg-wfdb-") as tmp:
        (Path(tmp) / f"{path.name}.hea").write_text(fixed, encoding="ascii")
        for data_name in data_files:
            if "/" not in data_name and (path.parent / data_name).is_file():
                os.symlink((path.parent / data_name).resolve(), Path(tmp) / data_name)
        yield Path(tmp) / path.name


def _with_frames(header: str, frames: int) -> str:
    """``header`` whose record line, stating no number of samples, states ``frames`` (and the spec's default
    sampling frequency where it states none either, as the number follows it)."""
    lines = header.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#"):
            fields = line.split()
            rate = fields[2:3] or [f"{WFDB_DEFAULT_FS:g}"]
            lines[i] = " ".join([*fields[:2], *rate, str(frames)]) + "\n"
            break
    return "".join(lines)


def _safe_name(name: str, what: str) -> str:
    if not _SAFE_NAME.match(name) or ".." in name:
        raise SignalError(f"{what}: unsafe or invalid file name {name!r}")
    return name


# WFDB header fields, as the spec writes them and the WFDB library reads them whole (a field it reads in part
# it reads leniently: "nan" or a missing rate becomes 250 Hz, "1,5/mV" a gain of 1 and a lead named "5/mV...")
_WFDB_NUMBER = r"(?:\d+\.?\d*|\.\d+)"
_WFDB_FS = re.compile(rf"^(?P<fs>{_WFDB_NUMBER})(?:/-?{_WFDB_NUMBER})?(?:\(-?{_WFDB_NUMBER}\))?$")
_WFDB_FORMAT = re.compile(r"^(?P<fmt>\d+)(?:x(?P<frame>\d+))?(?::\d+)?(?:\+\d+)?$")
_WFDB_GAIN = re.compile(rf"^(?P<gain>-?{_WFDB_NUMBER}(?:e[+-]?\d+)?)(?:\((?P<baseline>-?\d+)\))?(?:/(?P<units>\S+))?$")
_WFDB_UNITS = re.compile(r"^[\w^?%/-]+$")  # what the WFDB library reads as units whole (else it shifts the fields)
WFDB_DEFAULT_FS = 250.0  # the spec's sampling frequency for a record line that states none
# the sample formats the WFDB library reads (wfdb.io._signal.DAT_FMTS; 508, 516 and 524 are FLAC)
WFDB_FORMATS = ("8", "16", "24", "32", "61", "80", "160", "212", "310", "311", "508", "516", "524")
_WFDB_INT_RANGE = 2**31  # baselines, ADC zeros and initial values are C ints in the WFDB library
# A header is a record line, a line per signal and a few comments (a PTB-XL one about 1 KB): read line by line,
# here and by the WFDB library, one of megabytes of comment lines costs a string a line.
WFDB_MAX_HEADER_BYTES = 1 << 20


def _header_data_files(
    header: bytes,
    header_name: str,
    *,
    max_columns: int = DEFAULT_MAX_COLUMNS,
    data_bytes: int | None = None,
    max_seconds: float | None = None,
    max_samples: int | None = None,
    strict: bool = True,
) -> set[str]:
    """File names the WFDB header's signal lines refer to, once its declared sizes are plausible and its
    sampling frequency, sample formats and gains are what the WFDB library reads whole (a field it would
    read in part, or default, is refused naming its line). With ``max_seconds`` a record declaring a longer
    duration is refused before any sample is read, and with ``max_samples`` one declaring more samples, all
    signals together (:func:`wfdb_declared_samples`): the WFDB library allocates what the header declares
    before it decodes, and a FLAC data file (formats 508, 516, 524) packs thousands of samples in a byte.
    Without ``strict`` (a stored record, accepted before these checks) the sampling frequency, formats and
    gains are left to the library, as they were read. A header larger than ``WFDB_MAX_HEADER_BYTES`` is refused
    before it is split into lines (a stored one is read as it was accepted)."""
    if strict and len(header) > WFDB_MAX_HEADER_BYTES:
        raise SignalError(
            f"{header_name} is {len(header) / (1 << 20):.1f} MiB; a WFDB header (a line per signal and its comments) "
            f"holds at most {WFDB_MAX_HEADER_BYTES >> 20} MiB"
        )
    try:
        text = header.decode("ascii")
    except UnicodeDecodeError:
        raise SignalError(f"{header_name} is not a WFDB header (not ASCII text)") from None
    numbered = [
        (number, ln.strip())
        for number, ln in enumerate(text.splitlines(), start=1)
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    if not numbered:
        raise SignalError(f"{header_name} is empty")
    lines = [ln for _, ln in numbered]
    record_at = f"{header_name}, line {numbered[0][0]}"
    fields = lines[0].split()
    try:
        n_sig = int(fields[1]) if len(fields) > 1 else 0
    except ValueError:
        raise SignalError(f"{record_at}: number of signals {fields[1]!r} is not an integer") from None
    if "/" in fields[0]:
        raise SignalError(f"{header_name}: multi-segment WFDB records are not supported")
    if n_sig < 1:
        raise SignalError(f"{header_name}: the record has no signals")
    if n_sig > max_columns:
        raise too_many_columns(header_name, n_sig, "signals", max_columns)
    fs = _wfdb_fs(fields, record_at, strict=strict)
    if len(fields) > 3 and not fields[3].isdigit():
        raise SignalError(f"{record_at}: number of samples {fields[3][:30]!r} is not an integer")
    sig_len = int(fields[3]) if len(fields) > 3 else 0
    if max_seconds is not None and sig_len / fs > max_seconds:
        raise SignalError(
            f"{header_name} declares {sig_len} samples at {fs:g} Hz ({sig_len / fs:.0f} s); "
            f"the maximum is {max_seconds:.0f} s"
        )  # refused as a recording too long is once read (validate_signal): the same file, the same refusal
    declared = _declared_samples(lines, n_sig, sig_len, data_bytes)
    if max_samples is not None and declared > max_samples:
        raise SignalError(
            f"{header_name} declares {declared} samples (all signals together); at most {max_samples} are accepted",
            limit_exceeded=True,
            limit="samples",
        )
    # A plausibility check, not the memory bound (max_samples is): the fixed-size formats hold at most one
    # sample a byte (8, 80), so a header declaring many more is cut short or lying; FLAC may pack more.
    if data_bytes is not None and sig_len * n_sig > 8 * max(data_bytes, 1):
        raise SignalError(f"{header_name} declares {sig_len} samples per signal; its data files hold far fewer")
    if len(lines) < 1 + n_sig:
        raise SignalError(f"{header_name}: expected {n_sig} signal lines, found {len(lines) - 1}")
    for number, line in numbered[1 : 1 + n_sig] if strict else ():
        _wfdb_signal_line(line.split(), f"{header_name}, line {number}")
    return {ln.split()[0] for ln in lines[1 : 1 + n_sig]}


def _declared_samples(lines: list[str], n_sig: int, sig_len: int, data_bytes: int | None) -> int:
    """The samples of all signals together that a header's record line and signal ``lines`` declare: frames
    times samples per frame ("16x4" holds four of its signal a frame). A record line stating no length is read
    to the end of its data, which holds at most one sample a byte (the library cannot size FLAC data so)."""
    if sig_len == 0:
        return data_bytes or 0
    signal_lines = lines[1 : 1 + n_sig]
    per_frame = n_sig - len(signal_lines)  # a line missing counts one (the header is refused for it)
    for line in signal_lines:
        fields = line.split()
        fmt = _WFDB_FORMAT.match(fields[1]) if len(fields) > 1 else None
        per_frame += int(fmt.group("frame")) if fmt is not None and fmt.group("frame") else 1
    return sig_len * per_frame


def wfdb_declared_samples(header: bytes, data_bytes: int) -> int:
    """The samples, all signals together, a WFDB ``header`` declares (its data files holding ``data_bytes``);
    0 for a header that cannot be read (its reader refuses it, naming why)."""
    if len(header) > WFDB_MAX_HEADER_BYTES:
        return 0  # not split into lines: refused as too large by its reader
    try:
        lines = [
            ln.strip() for ln in header.decode("ascii").splitlines() if ln.strip() and not ln.lstrip().startswith("#")
        ]
        fields = lines[0].split()
        n_sig = int(fields[1])
        sig_len = int(fields[3]) if len(fields) > 3 else 0
    except (UnicodeDecodeError, IndexError, ValueError):
        return 0
    return _declared_samples(lines, max(n_sig, 0), max(sig_len, 0), data_bytes)


def _wfdb_fs(fields: list[str], where: str, *, strict: bool = True) -> float:
    """The sampling frequency of a WFDB record line ``fields``: the spec's 250 Hz when it states none, else a
    finite positive number (with the counter frequency and base counter value the spec allows after it).
    Without ``strict`` one that is none is taken as the default too (the size checks' estimate)."""
    if len(fields) < 3:
        return WFDB_DEFAULT_FS
    match = _WFDB_FS.match(fields[2])
    fs = float(match.group("fs")) if match else math.nan
    if not (math.isfinite(fs) and fs > 0):
        if not strict:
            return WFDB_DEFAULT_FS
        raise SignalError(f"{where}: sampling frequency {fields[2][:30]!r} is not a positive number")
    return fs


def _wfdb_signal_line(fields: list[str], where: str) -> None:
    """Refuse a signal line whose sample format the readers do not read, whose gain is no finite number of 0
    (uncalibrated, read as 200 per mV as the WFDB library does) or more, or whose baseline or integer
    fields are beyond the WFDB library's integers."""
    if len(fields) < 2:
        raise SignalError(f"{where}: the signal line states no sample format")
    fmt = _WFDB_FORMAT.match(fields[1])
    if fmt is None:
        raise SignalError(f"{where}: sample format field {fields[1][:30]!r} is malformed")
    if fmt.group("fmt") not in WFDB_FORMATS:
        raise SignalError(
            f"{where}: unsupported WFDB sample format {fmt.group('fmt')[:10]} (supported: {', '.join(WFDB_FORMATS)})"
        )
    if fmt.group("frame") is not None and int(fmt.group("frame")) < 1:
        raise SignalError(f"{where}: sample format field {fields[1]!r} has no samples per frame")
    if len(fields) < 3:
        return  # no gain: the spec's default, 200 per mV
    gain = _WFDB_GAIN.match(fields[2])
    value = float(gain.group("gain")) if gain else math.nan
    if not math.isfinite(value):
        raise SignalError(
            f"{where}: gain field {fields[2][:30]!r} is not a number of ADC units per physical unit "
            "(a number, optionally followed by (baseline) and /units, as in 200(1024)/mV)"
        )
    assert gain is not None  # matched: value is a number (a negative one: an inverted lead, as the spec allows)
    units = gain.group("units")
    if units is not None and not _WFDB_UNITS.match(units):
        raise SignalError(
            f"{where}: units {units[:30]!r} are written with characters the WFDB library cannot read whole "
            "(letters, digits and ^ ? % / - only); rename the units, e.g. mV"
        )
    if gain.group("baseline") is not None and abs(int(gain.group("baseline"))) >= _WFDB_INT_RANGE:
        raise SignalError(f"{where}: baseline {gain.group('baseline')[:30]} out of range")
    for name, token in zip(("ADC resolution", "ADC zero", "initial value"), fields[3:6], strict=False):
        if re.fullmatch(r"-?\d+", token) and abs(int(token)) >= _WFDB_INT_RANGE:
            raise SignalError(f"{where}: {name} {token[:30]} out of range")


def read_wfdb_upload(
    files: dict[str, bytes],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_columns: int = DEFAULT_MAX_COLUMNS,
    max_seconds: float | None = None,
    max_samples: int | None = None,
) -> Signal:
    """A WFDB record uploaded as files (``100.hea``, ``100.dat``; ``.atr`` etc. ignored), of at most
    ``max_samples`` samples (all signals together; by default ``max_bytes``, one a byte)."""
    if sum(len(b) for b in files.values()) > max_bytes:
        raise SignalError(f"upload is larger than {max_bytes // (1024 * 1024)} MB")
    names = {_safe_name(n, "upload"): b for n, b in files.items()}
    headers = [n for n in names if n.lower().endswith(".hea")]
    if not headers:
        raise SignalError("upload contains no WFDB header (.hea) file")
    if len(headers) > 1:
        raise SignalError(f"upload must contain one WFDB record, found headers {', '.join(sorted(headers))}")
    header = headers[0]
    record = header[:-4]
    needed = _header_data_files(names[header], header, max_columns=max_columns, max_seconds=max_seconds)
    for data_name in needed:
        _safe_name(data_name, header)
        if data_name not in names:
            raise SignalError(f"{header} refers to data file {data_name}, which is missing from the upload")
    budget = max_bytes if max_samples is None else max_samples
    _header_data_files(
        names[header],
        header,
        max_columns=max_columns,
        data_bytes=sum(len(names[n]) for n in needed),
        max_samples=budget,
    )
    with tempfile.TemporaryDirectory(prefix="ecg-wfdb-") as tmp:
        for name in {header, *needed}:
            (Path(tmp) / name).write_bytes(names[name])
        signal = read_wfdb(Path(tmp) / record, max_columns=max_columns, max_seconds=max_seconds, max_samples=budget)
    signal.source_format = "wfdb-upload"
    return signal


# what the zip module raises for a damaged archive besides BadZipFile: a deflate stream that does not
# inflate, a version or compression it does not know, an offset before the start of the file...
_ZIP_DAMAGED = (NotImplementedError, ValueError, zlib.error, OSError, EOFError, RuntimeError)


def read_wfdb_zip(
    data: bytes | IO[bytes],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_members: int = DEFAULT_MAX_MEMBERS,
    max_columns: int = DEFAULT_MAX_COLUMNS,
    max_seconds: float | None = None,
    max_samples: int | None = None,
    strict: bool = True,
    head: int | None = None,
) -> Signal:
    """A zip (its bytes, or a seekable file) holding one WFDB record (at top level or in one folder).

    Members are extracted straight into a temporary folder (:func:`extract_wfdb_zip`), so a stored 24-hour
    record is never held in memory as bytes besides its samples; the record may declare at most
    ``max_samples`` samples (all signals together; by default ``max_bytes``, one a byte). ``strict=False``
    reads a stored record as it was accepted (see ``_header_data_files``): without the sample budget, which
    came after records were accepted without it, unless ``max_samples`` is given. ``head``: as :func:`read_wfdb`'s.
    """
    with tempfile.TemporaryDirectory(prefix="ecg-wfdb-") as tmp:
        sizes = extract_wfdb_zip(data, Path(tmp), max_bytes=max_bytes, max_members=max_members)
        signal = _read_wfdb_folder(
            Path(tmp),
            sizes,
            max_columns=max_columns,
            max_seconds=max_seconds,
            max_samples=max_bytes if max_samples is None and strict else max_samples,
            strict=strict,
            head=head,
        )
    signal.source_format = "wfdb-zip"
    return signal


def extract_wfdb_zip(
    data: bytes | IO[bytes],
    folder: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_members: int = DEFAULT_MAX_MEMBERS,
) -> dict[str, int]:
    """The files of a zip holding one WFDB record (at top level or in one folder) written to ``folder``: their
    names and sizes. Paths are checked, and what the members expand to together is held to ``max_bytes`` as
    they are written (declared sizes in a crafted zip can lie); beyond it ``limit="bytes"``."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data)
    except zipfile.BadZipFile:
        raise SignalError("upload is not a valid zip file") from None
    except _ZIP_DAMAGED as exc:
        raise SignalError(f"the ZIP archive is damaged: {without_paths(str(exc))[:200]}") from None
    with archive:
        # a member named "" ("." is one too, once a path) has no file name: the zip module's is_dir() fails on ""
        if any(not m.filename.endswith("/") and not PurePosixPath(m.filename).parts for m in archive.infolist()):
            raise SignalError("the ZIP archive is damaged: one of its members has no name")
        members = [
            m
            for m in archive.infolist()
            if not m.is_dir()
            and not m.filename.startswith("__MACOSX/")
            and not PurePosixPath(m.filename).name.startswith(".")
        ]
        if len(members) > max_members:
            raise SignalError(f"zip holds {len(members)} files; at most {max_members} are allowed")
        total = sum(m.file_size for m in members)
        if total > max_bytes:
            raise SignalError(
                f"zip expands to {total} bytes, over the limit of {max_bytes} bytes", limit_exceeded=True, limit="bytes"
            )
        sizes: dict[str, int] = {}
        budget = max_bytes
        for member in members:
            raw = member.filename
            parts = PurePosixPath(raw).parts
            if raw.startswith(("/", "\\")) or "\\" in raw or ".." in parts or re.match(r"^[A-Za-z]:", raw):
                raise SignalError(f"zip member {raw!r} has an unsafe path")
            if len(parts) > 2:
                raise SignalError(f"zip member {raw!r} is nested too deeply; put the record at the top level")
            name = _safe_name(parts[-1], "zip")
            if name in sizes:
                raise SignalError(f"zip contains {name} twice")
            try:
                with archive.open(member) as src, open(folder / name, "wb") as dst:
                    size = 0
                    while chunk := src.read(min(1 << 20, budget - size + 1)):
                        size += len(chunk)
                        if size > budget:
                            raise SignalError(
                                f"zip expands to more than the limit of {max_bytes} bytes",
                                limit_exceeded=True,
                                limit="bytes",
                            )
                        dst.write(chunk)
            except (zipfile.BadZipFile, *_ZIP_DAMAGED) as exc:
                raise SignalError(
                    f"the ZIP archive is damaged: zip member {raw!r} cannot be extracted: {without_paths(str(exc))[:200]}"
                ) from None
            budget -= size
            sizes[name] = size
    return sizes


def _read_wfdb_folder(
    folder: Path,
    sizes: dict[str, int],
    *,
    max_columns: int,
    max_seconds: float | None,
    max_samples: int | None = None,
    strict: bool = True,
    head: int | None = None,
) -> Signal:
    """The one WFDB record among files already written to ``folder`` (names checked, sizes given)."""
    headers = [n for n in sizes if n.lower().endswith(".hea")]
    if not headers:
        raise SignalError("upload contains no WFDB header (.hea) file")
    if len(headers) > 1:
        raise SignalError(f"upload must contain one WFDB record, found headers {', '.join(sorted(headers))}")
    header = headers[0]
    header_bytes = (folder / header).read_bytes()
    needed = _header_data_files(header_bytes, header, max_columns=max_columns, max_seconds=max_seconds, strict=strict)
    for data_name in needed:
        _safe_name(data_name, header)
        if data_name not in sizes:
            raise SignalError(f"{header} refers to data file {data_name}, which is missing from the upload")
    _header_data_files(
        header_bytes,
        header,
        max_columns=max_columns,
        data_bytes=sum(sizes[n] for n in needed),
        max_samples=max_samples,
        strict=strict,
    )
    for name in set(sizes) - {header, *needed}:  # annotations and the like are not read
        (folder / name).unlink()
    return read_wfdb(
        folder / header[:-4],
        max_columns=max_columns,
        max_seconds=max_seconds,
        max_samples=max_samples,
        strict=strict,
        head=head,
    )


# --- structure checks in bounded memory ---------------------------------------------------------


@dataclass
class SignalHeader:
    """What a structure check learnt of a recording without holding its samples."""

    fs: float
    lead: str  # the lead to be analysed
    leads: list[str]
    n_samples: int
    units: str | None
    start: datetime | None = None  # as Signal.start


def _choose_lead(names: list[str], lead: str | None) -> str:
    return Signal(fs=1.0, leads={n: np.zeros(0) for n in names}).lead_name(lead)


def _check_length(n_samples: int, fs: float, lead: str, max_seconds: float) -> None:
    seconds = n_samples / fs
    if seconds < MIN_SECONDS:
        raise SignalError(
            f"{lead_phrase(lead)} is {seconds:.2f} s long; at least {MIN_SECONDS:g} s (two heartbeats) is needed"
        )
    if seconds > max_seconds:
        raise SignalError(f"{lead_phrase(lead)} is {seconds:.0f} s long; the maximum is {max_seconds:.0f} s")


def _check_chunks(chunks: Any, lead: str, units: str | None, fs: float | None = None) -> None:
    """One pass over a lead in chunks: no infinite sample, at most ``MAX_LOST_SHARE`` of them lost (NaN),
    and not a flat line (as :meth:`Signal.validated`)."""
    low, high, start, n_lost = math.inf, -math.inf, 0, 0
    for values in chunks:
        bad = np.isinf(values)
        if bad.any():
            i = int(np.argmax(bad))
            raise SignalError(_not_finite(start + i, float(values[i]), lead, fs))
        lost = np.isnan(values)
        n_lost += int(lost.sum())
        have = values[~lost] if lost.any() else values
        if len(have):
            low, high = min(low, float(have.min())), max(high, float(have.max()))
            i = int(np.argmax(np.abs(have)))
            at = int(np.flatnonzero(~lost)[i]) if lost.any() else i
            check_amplitude(abs(float(have[i])), start + at, lead, units, fs)
        start += len(values)
    check_lost(n_lost, start, lead)
    ptp = high - low
    scale = _MV_SCALE.get((units or "").strip().lower())
    threshold = FLAT_PTP_MV / scale if scale else 0.0
    if not ptp > threshold:
        raise SignalError(
            f"{lead_phrase(lead)} is a flat line (peak-to-peak {ptp:.3g}{' ' + units if units else ''}): no ECG signal"
        )


def scan_wfdb(
    record_path: str | Path,
    lead: str | None = None,
    *,
    max_columns: int = DEFAULT_MAX_COLUMNS,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    max_samples: int | None = None,
    chunk_samples: int = 1 << 21,
) -> SignalHeader:
    """Check a WFDB record's header, data size and chosen lead, reading it in float32 chunks.

    Memory stays at one chunk whatever the record's length: a chunk is ``chunk_samples`` samples of all
    signals together, which the library reads to pick the lead from. No R-peak detector runs (the worker's
    full read decides whether heartbeats can be found); ``max_samples`` refuses a record the worker could not
    read whole, as :func:`read_wfdb` would.
    """
    import wfdb

    path = Path(record_path)
    if path.suffix in (".hea", ".dat"):
        path = path.with_suffix("")
    name = path.name
    header = path.with_suffix(".hea")
    if not header.is_file():
        raise SignalError(f"WFDB record {name}: header file {name}.hea not found")
    needed = _header_data_files(
        header.read_bytes(), header.name, max_columns=max_columns, max_seconds=max_seconds, max_samples=max_samples
    )
    for data_name in needed:
        _safe_name(data_name, header.name)
    missing = sorted(n for n in needed if not (path.parent / n).is_file())
    if missing:
        raise SignalError(f"{header.name} refers to data file {missing[0]}, which is missing from the upload")
    data_bytes = sum((path.parent / n).stat().st_size for n in needed)
    text = header.read_bytes().decode("ascii")  # checked above
    _header_data_files(
        text.encode("ascii"), header.name, max_columns=max_columns, data_bytes=data_bytes, max_samples=max_samples
    )
    frames = None
    if len(next(ln.split() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#"))) <= 3:
        try:  # a header stating no number of samples (the spec lets it leave it out): what its data holds
            frames = _wfdb_frames_held(wfdb.rdheader(str(path)), path.parent)
        except Exception as exc:  # wfdb raises many types for malformed headers
            raise SignalError(f"WFDB record {name} could not be read: {without_paths(str(exc))}") from None
    with _wfdb_readable(path, text, needed, frames=frames) as readable:
        try:
            head = wfdb.rdheader(str(readable))
        except Exception as exc:  # wfdb raises many types for malformed headers
            raise SignalError(f"WFDB record {name} could not be read: {without_paths(str(exc))}") from None
        fs = check_fs(head.fs)
        names = _unique_names([str(s) for s in (head.sig_name or [])])
        n_samples = int(head.sig_len or 0)
        if not names or not n_samples:
            raise SignalError(f"WFDB record {name} contains no signals")
        key = _choose_lead(names, lead)
        index = names.index(key)
        _check_length(n_samples, fs, key, max_seconds)
        frames = max(1, chunk_samples // max(1, sum(int(n or 1) for n in (head.samps_per_frame or [1]))))

        def chunks() -> Any:
            for start in range(0, n_samples, frames):
                stop = min(n_samples, start + frames)
                try:
                    part = wfdb.rdrecord(
                        str(readable), sampfrom=start, sampto=stop, channels=[index], physical=True, return_res=32
                    )
                except Exception as exc:  # a data file shorter or other than its header says
                    raise _wfdb_unreadable(name, exc) from None
                if part.p_signal is None or len(part.p_signal) != stop - start:
                    raise SignalError(f"WFDB record {name}: the data ends before sample {stop} its header declares")
                yield part.p_signal[:, 0]

        unit = (head.units or [None] * len(names))[index]
        _check_chunks(chunks(), key, str(unit) if unit else None, fs)
    return SignalHeader(
        fs=fs,
        lead=key,
        leads=names,
        n_samples=n_samples,
        units=str(unit) if unit else None,
        start=wfdb_start(text),
    )


# Bytes a sample takes in each fixed-size WFDB format (FLAC's vary): wfdb.io._signal.BYTES_PER_SAMPLE.
_WFDB_SAMPLE_BYTES = {
    "8": 1,
    "16": 2,
    "24": 3,
    "32": 4,
    "61": 2,
    "80": 1,
    "160": 2,
    "212": 1.5,
    "310": 4 / 3,
    "311": 4 / 3,
}


def _wfdb_frames_held(head: Any, folder: Path) -> int:
    """The frames of a record whose header states no number of samples (the spec lets it leave it out): what its
    first data file holds, worked out as the WFDB library does when it reads such a record whole. 0 when its
    format's samples have no fixed size."""
    first, fmt = head.file_name[0], str(head.fmt[0])
    per_frame = sum(int(n or 1) for f, n in zip(head.file_name, head.samps_per_frame, strict=True) if f == first)
    size = (folder / first).stat().st_size - int((head.byte_offset or [0])[0] or 0)
    return int(size / (_WFDB_SAMPLE_BYTES[fmt] * per_frame)) if fmt in _WFDB_SAMPLE_BYTES and size > 0 else 0


def scan_edf(
    path: str | Path,
    lead: str | None = None,
    *,
    max_columns: int = DEFAULT_MAX_COLUMNS,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    chunk_samples: int = 1 << 20,
) -> SignalHeader:
    """Check an EDF/EDF+ file's header and chosen channel in chunks, as :func:`scan_wfdb` does for WFDB."""
    import pyedflib

    source = "EDF upload"
    with open(path, "rb") as fh:
        _edf_fixed_header_check(fh.read(256), source, max_columns)
    with _edf_readable(Path(path)) as (readable, start):
        header = _scan_edf_path(readable, lead, source, pyedflib, max_seconds, chunk_samples)
    header.start = start
    return header


def _edf_channel(labels: list[str], rates: list[float], channels: list[int], lead: str | None, source: str) -> int:
    """The EDF channel to analyse: ``lead``, else MLII, II, then the first channel; with no lead named, a
    channel sampled under MIN_FS (a pulse or respiration channel recorded first) gives way to the first
    ECG-named channel at MIN_FS or more, else the first such channel. A refusal names the channel."""
    chosen = labels.index(_choose_lead([labels[i] for i in channels], lead))
    if lead is None and rates[chosen] < MIN_FS:
        fast = [i for i in channels if rates[i] >= MIN_FS]
        named = [i for i in fast if "ecg" in labels[i].lower() or "ekg" in labels[i].lower()]
        chosen = (named or fast or [chosen])[0]
    if rates[chosen] < MIN_FS:
        raise SignalError(
            f"{source}: channel {labels[chosen]!r} is sampled at {rates[chosen]:g} Hz, below the minimum of "
            f"{MIN_FS:g} Hz" + ("" if lead is not None else ", and so is every other channel"),
            about="lead" if lead is not None else None,
        )
    return chosen


def _edf_reader(pyedflib: Any, path: Path) -> Any:
    """The EDF library's reader of ``path``, without its annotations: nothing here reads them (the start is
    the header's), and the library would read every one into a struct of about 0.5 KiB at open, so that an
    annotations channel packed with two-byte annotations costs some 260 times its size in memory."""
    return pyedflib.EdfReader(str(path), annotations_mode=pyedflib.DO_NOT_READ_ANNOTATIONS)


def _scan_edf_path(
    path: Path, lead: str | None, source: str, pyedflib: Any, max_seconds: float, chunk_samples: int
) -> SignalHeader:
    try:
        reader = _edf_reader(pyedflib, path)
    except (OSError, ValueError) as exc:
        detail = without_paths(str(exc).replace(str(path), source))
        raise SignalError(f"{source} is not a readable EDF/EDF+ file: {detail}") from None
    try:
        labels = _unique_names(list(reader.getSignalLabels()))
        channels = [i for i, lab in enumerate(labels) if "annotation" not in lab.lower()]
        if not channels:
            raise SignalError(f"{source} has no signal channels")
        rates = [float(reader.getSampleFrequency(i)) for i in range(reader.signals_in_file)]
        chosen = _edf_channel(labels, rates, channels, lead, source)
        key = labels[chosen]
        fs = check_fs(rates[chosen])
        n_samples = int(reader.getNSamples()[chosen])
        _check_length(n_samples, fs, key, max_seconds)
        unit = reader.getPhysicalDimension(chosen) or None

        def chunks() -> Any:
            for start in range(0, n_samples, chunk_samples):
                yield reader.readSignal(chosen, start, min(chunk_samples, n_samples - start)).astype(np.float32)

        _check_chunks(chunks(), key, unit, fs)
        leads = [labels[i] for i in channels if reader.getSampleFrequency(i) == reader.getSampleFrequency(chosen)]
    finally:
        reader.close()
    return SignalHeader(fs=fs, lead=key, leads=leads, n_samples=n_samples, units=unit)


# --- EDF ----------------------------------------------------------------------------------


def read_edf(data: bytes | str | Path, lead: str | None = None, *, max_columns: int = DEFAULT_MAX_COLUMNS) -> Signal:
    """EDF/EDF+ signal channels (annotation channels skipped).

    Channels may have different rates; the chosen ECG lead (``lead``, else MLII,
    II, then the first channel) sets fs and only channels at that rate are kept.
    """
    import pyedflib

    if isinstance(data, (bytes, bytearray)):
        _edf_fixed_header_check(bytes(data[:256]), "EDF upload", max_columns)
        with tempfile.TemporaryDirectory(prefix="ecg-edf-") as tmp:
            path = Path(tmp) / "upload.edf"
            path.write_bytes(bytes(data))
            with _edf_readable(path, own=True) as (readable, start):
                return _read_edf_path(readable, lead, "EDF upload", pyedflib, start)
    with open(data, "rb") as fh:
        _edf_fixed_header_check(fh.read(256), Path(data).name, max_columns)
    with _edf_readable(Path(data)) as (readable, start):
        return _read_edf_path(readable, lead, Path(data).name, pyedflib, start)


@contextmanager
def _edf_readable(path: Path, *, own: bool = False) -> Iterator[tuple[Path, datetime | None]]:
    """The file to give the EDF library, and the start its header states.

    The library refuses a header whose start date or time is malformed; such a start is an unknown one,
    not a reason to refuse the recording, so the library is given the file with it replaced: in place
    when the file is ``own`` (a temporary copy already), else in a copy.
    """
    with open(path, "rb") as fh:
        header = fh.read(256)
    start, fixed = edf_start(header), edf_header_readable(header)
    if fixed is None:
        yield path, start
        return
    with tempfile.TemporaryDirectory(prefix="ecg-edf-") as tmp:
        readable = path if own else Path(tmp) / path.name
        if not own:
            shutil.copyfile(path, readable)
        with open(readable, "r+b") as fh:
            fh.write(fixed)
        yield readable, start


def _edf_fixed_header_check(header: bytes, source: str, max_columns: int) -> None:
    """The fixed header's signal count (bytes 252-256), before the library reads a header per signal, and its
    data record duration (bytes 244-252): the library accepts a duration of 0 (EDF+ allows it in a file of
    annotations only) and then divides by it for each signal's sampling rate."""
    try:
        count = int(header[252:256].decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        return  # not a count: the library refuses the header with its own message
    if count > max_columns:
        raise too_many_columns(source, count, "signals", max_columns)
    stated = header[244:252].decode("ascii", "replace").strip()
    try:
        duration = float(stated)
    except ValueError:
        return  # not a number: the library refuses the header with its own message
    # the library counts time in units of 100 ns: a shorter record is one of 0
    if not duration >= 1e-7:
        raise SignalError(
            f"{source}: its data record duration is {stated[:8]!r} s; a file of signals states a positive duration"
        )


def _read_edf_path(path: Path, lead: str | None, source: str, pyedflib: Any, start: datetime | None) -> Signal:
    try:
        reader = _edf_reader(pyedflib, path)
    except (OSError, ValueError) as exc:
        detail = without_paths(str(exc).replace(str(path), source))
        raise SignalError(f"{source} is not a readable EDF/EDF+ file: {detail}") from None
    try:
        labels = _unique_names(list(reader.getSignalLabels()))
        rates = [float(reader.getSampleFrequency(i)) for i in range(reader.signals_in_file)]
        dims = [reader.getPhysicalDimension(i) for i in range(reader.signals_in_file)]
        channels = [i for i, lab in enumerate(labels) if "annotation" not in lab.lower()]
        if not channels:
            raise SignalError(f"{source} has no signal channels")
        chosen = _edf_channel(labels, rates, channels, lead, source)
        fs = rates[chosen]
        keep = [i for i in channels if rates[i] == fs]
        if lead is None:  # the chosen channel first, so that it is the lead analysed when none was named
            keep = [chosen] + [i for i in keep if i != chosen]
        try:
            leads = {labels[i]: reader.readSignal(i) for i in keep}
        except MemoryError:
            raise SignalError(f"{source} declares more samples than its data holds") from None
        units = {labels[i]: dims[i] for i in keep}
    finally:
        reader.close()
    return _build(fs, leads, units, "edf", source, start=start)


# --- CSV ----------------------------------------------------------------------------------


# What sniff_format is given of a file, and what a CSV file's encoding is judged by.
TEXT_HEAD_BYTES = 4096


def _utf8_error(head: bytes) -> int | None:
    """The offset of the first byte of ``head`` that is not UTF-8, or None; a character cut by the end of
    ``head`` (in its last 4 bytes) is no error."""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:
            return exc.start
    return None


def text_encoding(head: bytes) -> str:
    """The encoding of a text file that starts with ``head`` (its first ``TEXT_HEAD_BYTES`` bytes):

    - "utf-16" after a UTF-16 byte-order mark, little- or big-endian (what Excel writes as "Unicode text");
    - "utf-8-sig" when ``head`` is UTF-8, with or without a byte-order mark (every file read before other
      encodings were, so a stored one is decoded as it was then);
    - else "cp1252", Windows-1252, what Excel's "CSV" writes on a Western-European Windows ("µV" as the
      byte 0xB5). Its samples are ASCII numbers, so only its header and comments are decoded so, and
      a byte among the samples that is not ASCII is refused as not a number, whatever the encoding.
    """
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return "utf-8-sig" if _utf8_error(head) is None else "cp1252"


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _decode_text(data: bytes, source: str) -> str:
    """A whole CSV file as text, decoded once in the encoding its head shows (:func:`text_encoding`)."""
    head = data[:TEXT_HEAD_BYTES]
    encoding = text_encoding(head)
    if encoding != "utf-16" and b"\x00" in head:
        raise SignalError(f"{source} is not a text file")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        if encoding == "utf-8-sig":
            # UTF-8 at its start only: read as such files always were (a stored one reads as it was accepted)
            return data.decode("latin-1")
        if encoding == "cp1252":
            raise SignalError(
                f"{source} is neither UTF-8 nor Windows-1252 text (byte 0x{data[exc.start]:02X} at line "
                f"{_line_of(data, exc.start)}); save it as CSV UTF-8"
            ) from None
        raise SignalError(
            f"{source} is not UTF-16 text throughout ({exc.reason} at byte {exc.start}); save it as CSV UTF-8"
        ) from None
    if encoding == "utf-16" and "\x00" in text[:TEXT_HEAD_BYTES]:
        raise SignalError(f"{source} is not a text file")
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_NOT_A_DECIMAL_COMMA = re.compile(r"(?<!\d),|,(?!\d)")


def sniff_delimiter(line: str) -> str | None:
    """The delimiter of a table whose first line is ``line``: ",", ";" or a tab; None when its values are
    separated by spaces only (their commas, if any, decimal commas).

    Semicolons or tabs win over more commas when every comma sits between two digits: the decimal
    commas of a European spreadsheet ("0,5;0,7").
    """
    counts = {d: line.count(d) for d in (",", ";", "\t")}
    if (counts[";"] or counts["\t"]) and not _NOT_A_DECIMAL_COMMA.search(line):
        return ";" if counts[";"] >= counts["\t"] else "\t"
    if counts[","] and not _NOT_A_DECIMAL_COMMA.search(line) and len(line.split()) > 1:
        return None  # values separated by spaces, each with a decimal comma ("0,5 0,7")
    delimiter = max(counts, key=counts.__getitem__)
    if counts[delimiter]:
        return delimiter
    return None if len(line.split()) > 1 else ","


def decimal_commas(delimiter: str | None, text: str) -> bool:
    """Whether the commas of a table separated by ``delimiter`` (as :func:`sniff_delimiter` gives it; None
    or ``\\s+`` for spaces) are decimal commas: with semicolons, tabs or spaces between values, a comma
    between digits ("0,5") is one."""
    return delimiter in (";", "\t", None, r"\s+") and re.search(r"\d,\d", text[:4096]) is not None


def is_time_column(name: str) -> bool:
    """Whether a column named ``name`` holds each row's time or sample number: "time", "Time [ms]",
    "time_s", "Elapsed time (hh:mm:ss)", "sample_index", "ms"..."""
    words = [w for w in re.split(r"[^a-z0-9µμ]+", name.strip().lower()) if w]
    while words and words[-1] in _TIME_UNITS:
        words.pop()
    return bool(name.strip()) and (not words or " ".join(words) in _TIME_NAMES)


# Seconds in a unit a time column's name may state ("Time [ms]", "time_s"); "hh", "mm" and "ss" name clock formats.
_TIME_UNIT_SECONDS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("ms", "msec", "msecs", "millisecond", "milliseconds"), 1e-3),
    **dict.fromkeys(("us", "µs", "μs"), 1e-6),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), 60.0),
}
_SAMPLE_NAMES = {"sample", "samples", "sample number", "sample no", "sample nr", "sample index", "index", "idx"}
_TIME_UNIT_NAMES = {1.0: "s", 1e-3: "ms", 1e-6: "µs", 60.0: "min"}


def _time_column_rate_check(name: str, values: np.ndarray, fs: float) -> None:
    """Refuse a time column whose times give another sampling rate than ``fs``: its unit the one its name states,
    else the one of s, ms and µs that makes its steps a rate between MIN_FS and MAX_FS (their steps' ranges do
    not overlap). A sample-number column, one whose times do not rise at every row, or whose rate cannot be
    told (a plain "time" of sample numbers), is left alone (the column is skipped whatever it holds)."""
    words = [w for w in re.split(r"[^a-z0-9µμ]+", name.strip().lower()) if w]
    stated = _TIME_UNIT_SECONDS.get(words[-1]) if words else None
    if " ".join(w for w in words if w not in _TIME_UNITS) in _SAMPLE_NAMES or len(values) < 2:
        return
    steps = np.diff(values)
    if not (np.all(np.isfinite(values)) and np.all(steps > 0)):
        return
    step = (float(values[-1]) - float(values[0])) / (len(values) - 1)  # over the whole column: rounding averages out
    if stated is None and step == 1 and np.all(values == np.round(values)):
        return  # sample numbers as much as milliseconds at 1000 Hz: no rate to hold the form's to
    units = [stated] if stated is not None else [1.0, 1e-3, 1e-6]
    # the typical step too: times that jump over samples a recorder lost still step 1/fs elsewhere
    typical = float(np.median(steps))
    if any(math.isclose(1.0 / (s * unit), fs, rel_tol=0.01) for s in (step, typical) for unit in units):
        return
    rates = {unit: 1.0 / (step * unit) for unit in units}
    plausible = [unit for unit, rate in rates.items() if MIN_FS <= rate <= MAX_FS]
    if len(plausible) != 1:
        return
    unit = plausible[0]
    raise SignalError(
        f"CSV file, column {name!r}: its times steps {step:.3g} {_TIME_UNIT_NAMES[unit]} a row, {rates[unit]:.4g} Hz, "
        f"and the sampling rate given is {fs:g} Hz; correct the sampling rate, or the time column",
        about="fs",
    )


def _rises_at_every_sample(values: np.ndarray, fs: float) -> bool:
    """A time or sample-number ramp: strictly increasing for as long as a lead that can be analysed
    (no ECG rises for two heartbeats without falling)."""
    return len(values) >= MIN_SECONDS * fs and bool(np.all(np.diff(values) > 0))


# Line breaks other than "\n" that str.splitlines breaks lines at, as the reader always did ("\r\n" first).
_OTHER_LINE_BREAKS = re.compile("\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def newline_breaks(text: str) -> str:
    """``text`` with every line break str.splitlines breaks lines at made "\\n", so that lines can be found
    without a Python object per line, numbered as str.splitlines numbers them."""
    return _OTHER_LINE_BREAKS.sub("\n", text) if _OTHER_LINE_BREAKS.search(text) else text


_FILLED_LINE = re.compile(r"^[^\S\n]*[^\s#]", re.MULTILINE)  # a line with a value: neither empty nor a comment
_COMMENT_LINE = re.compile(r"^[^\S\n]*#.*$", re.MULTILINE)
_EMPTY_LINE = re.compile(r"^[^\S\n]*$", re.MULTILINE)
_EMPTY_LINE_AFTER = re.compile(r"\n[^\S\n]*(?=\n)")  # the line break before an empty line
_NOT_PLAIN_NUMBERS = re.compile(r"[^\x00-\x7f]|_")
# Rows parsed at a time: their cells' strings are all that is held beside the numbers.
_CSV_CHUNK_ROWS = 1 << 16


# In the text reversed: a line's first character with a value (neither a blank nor '#'), and the blanks before it.
_FILLED_LINE_REVERSED = re.compile(r"[^\s#][^\S\n]*(?:\n|\Z)")


def _last_filled_line(text: str) -> int:
    """Where the last line with a value starts (0 when there is none after the first line): found in the text
    reversed by one search, so that the blank or comment lines after it cost no Python step each."""
    match = _FILLED_LINE_REVERSED.search(text[::-1])
    if match is None:
        return 0
    return len(text) - match.end() + match.group().endswith("\n")


def _filled_line_number(text: str, k: int) -> int:
    """The line number of the ``k``-th (from 0) line of ``text`` that is not empty: the empty ones before
    it counted, line by line, without a Python object per line."""
    line, at, number = k, 0, 0  # line: the 0-based line sought; number: lines counted up to ``at``
    for empty in _EMPTY_LINE.finditer(text):
        number += text.count("\n", at, empty.start())
        at = empty.start()
        if number > line or empty.start() == len(text):
            break
        line += 1
    return line + 1


def read_csv_signal(
    data: bytes,
    fs: float,
    lead: str | None = None,
    *,
    max_columns: int = DEFAULT_MAX_COLUMNS,
    empty_lines_skipped: bool = False,
    time_checked: bool = True,
) -> Signal:
    """One column of numbers, or several columns named in a header row, sampled at ``fs``.

    A time or sample-number column is skipped: one named so (:func:`is_time_column`), or the first
    column of a table without a header when it rises at every row (the others keep their column
    numbers as names: "lead 2"...). ``fs`` is still the form's: a time column does not set it, but a named
    one whose times give another rate is refused (:func:`_time_column_rate_check`; ``time_checked=False``
    reads a file stored before that as it was read then).
    Any other column that rises at every row is refused, never kept as a lead. Every other column is
    kept, as every reader keeps every lead (the viewer, the 12-lead layout and FHIR show them);
    ``lead`` must name one of them.  A first line wider than ``max_columns`` is refused before
    anything is converted. An empty line among the samples is refused (skipped, it would move every
    later sample one earlier); ``empty_lines_skipped`` reads a file stored before that as it was read then.
    """
    import pandas as pd

    fs = check_fs(fs)
    text = _decode_text(data, "CSV file")
    # Read without a Python object per line: the text once, with its line breaks made "\n" (as splitlines
    # reads them) and its whole-line comments ("# exported by ...") emptied, so that a row keeps its line's
    # number in messages (a '#' inside a line is text: "Sample #"); then the table in chunks of rows.
    text = newline_breaks(text)
    filled = list(itertools.islice(_FILLED_LINE.finditer(text), 2))
    if not filled:
        raise SignalError("CSV file is empty")
    end = text.find("\n", filled[0].start())
    first = text[filled[0].start() : end if end >= 0 else len(text)]
    header_row = any(c.strip() and not _is_number(c.strip().replace(",", ".")) for c in re.split(r"[,;\t ]", first))
    # an empty line among the samples is no sample: skipped, it would move every later sample earlier by
    # one (one between a header row and the first sample moves none; a comment line is no empty line)
    samples_from = filled[1 if header_row and len(filled) > 1 else 0].start()
    gap = _EMPTY_LINE_AFTER.search(text, samples_from, _last_filled_line(text))
    if gap is not None and not empty_lines_skipped:
        raise SignalError(
            f"CSV file, row {text.count(chr(10), 0, gap.start()) + 2} is an empty line among the samples: write "
            "nan for each lost sample, so that the samples after it keep their time"
        )
    if _COMMENT_LINE.search(text):
        text = _COMMENT_LINE.sub("", text)
    delimiter = sniff_delimiter(first) or r"\s+"
    columns_in_first = len(first.split()) if delimiter == r"\s+" else first.count(delimiter) + 1
    if columns_in_first > max_columns:
        raise too_many_columns("CSV file", columns_in_first, "columns", max_columns)
    decimal_comma = decimal_commas(delimiter, text)
    # float() reads digits other than ASCII ones and underscores between digits, which to_numeric refuses
    plain = _NOT_PLAIN_NUMBERS.search(text, samples_from) is None
    names: list[str] = []
    has_header, header_rows = False, 0
    parts: list[list[np.ndarray]] = []
    empty: list[bool] = []  # per column: every cell empty so far
    bad: list[tuple[int, str] | None] = []  # per column: its first cell that is not a number (row, text)
    rows = 0
    try:
        for chunk in pd.read_csv(
            io.BytesIO(text.encode("utf-8")),
            encoding="utf-8",
            sep=delimiter,
            header=None,
            dtype=str,
            skip_blank_lines=True,
            engine="python" if delimiter == r"\s+" else "c",
            keep_default_na=False,
            chunksize=_CSV_CHUNK_ROWS,
        ):
            # a row shorter than the first: its missing cells are empty, as the comma-separated reader gives
            # them (the reader of space-separated values leaves them NaN), and refused below as empty cells
            chunk = chunk.fillna("")
            if not names:
                first_row = [str(c).strip() for c in chunk.iloc[0]]
                has_header = not all(_is_number(c.replace(",", ".") if decimal_comma else c) for c in first_row if c)
                if has_header:
                    names = _unique_names([c or f"column {i + 1}" for i, c in enumerate(first_row)])
                    chunk, header_rows = chunk.iloc[1:], 1
                elif chunk.shape[1] == 1:
                    names = [lead or "ECG"]
                else:
                    names = [f"lead {i + 1}" for i in range(chunk.shape[1])]
                parts, bad = [[] for _ in names], [None] * len(names)
                empty = [not c for c in first_row] if has_header else [True] * len(names)
            for j in range(len(names)):
                raw = chunk.iloc[:, j]
                if decimal_comma:
                    raw = raw.str.replace(",", ".", regex=False)
                try:  # float() per cell, some ten times faster than to_numeric, where it reads the same
                    values = raw.to_numpy(dtype=object).astype(np.float64) if plain else None
                except ValueError:
                    values = None
                if values is None:
                    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
                lost = np.flatnonzero(np.isnan(values))
                if len(lost):
                    cells = raw.iloc[lost].astype(str).str.strip()
                    wrong = np.flatnonzero(cells.str.lower().to_numpy() != "nan")
                    if len(wrong) and bad[j] is None:
                        bad[j] = (rows + int(lost[wrong[0]]), str(cells.iloc[wrong[0]]))
                    empty[j] = empty[j] and len(lost) == len(values) and bool((cells == "").all())
                else:
                    empty[j] = empty[j] and not len(values)
                parts[j].append(values)
            rows += len(chunk)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise SignalError(f"CSV file cannot be parsed: {without_paths(str(exc).strip())}") from None
    while len(names) > 1 and empty[-1]:  # a delimiter at the end of every line: an empty last column, no lead
        names, parts, bad, empty = names[:-1], parts[:-1], bad[:-1], empty[:-1]
    columns = [n for n in names if not is_time_column(n)] if len(names) > 1 else names
    if lead is not None and has_header and find_lead(columns, lead) is None:
        raise SignalError(f"CSV file has no column {lead!r}; columns: {', '.join(columns)}", about="lead")
    if not columns:
        raise SignalError("CSV file has no signal column")
    leads: dict[str, np.ndarray] = {}
    for name in columns:
        j = names.index(name)
        first_bad = bad[j]
        if first_bad is not None:
            i, cell = first_bad
            what = "is empty" if cell == "" else f"value {cell[:30]!r} is not a number"
            raise SignalError(f"CSV file, row {_filled_line_number(text, header_rows + i)}, column {name!r}: {what}")
        leads[name] = np.concatenate(parts[j]) if parts[j] else np.empty(0)
        parts[j] = []
    if all(len(v) == 0 for v in leads.values()):
        raise SignalError("CSV file has a header but no data rows")
    for j, name in enumerate(names):
        if time_checked and name not in columns and bad[j] is None and parts[j]:
            _time_column_rate_check(name, np.concatenate(parts[j]), fs)
    if len(leads) > 1:
        first_column = next(iter(leads))
        if not has_header and _rises_at_every_sample(leads[first_column], fs):
            del leads[first_column]  # a headerless table's time or sample-number column
        for name, values in leads.items():
            if len(leads) > 1 and _rises_at_every_sample(values, fs):
                raise SignalError(
                    f"CSV file, column {name!r} rises at every row as a time or sample number does, not an ECG "
                    "lead: leave it out of the file, or name it time in a header row (a time column is skipped)"
                )
    return _build(fs, leads, None, "csv", "CSV file")


# --- JSON ---------------------------------------------------------------------------------


def _json_numbers(values: object, where: str) -> np.ndarray:
    if not isinstance(values, list):
        raise SignalError(f"{where} must be an array of numbers")
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise SignalError(f"{where}: element {i} ({json.dumps(v)[:30]}) is not a number")
    try:
        return np.asarray(values, dtype=np.float64)
    except OverflowError:  # an integer beyond the range of a float: JSON allows any number of digits
        i = next(i for i, v in enumerate(values) if isinstance(v, int) and abs(v) > sys.float_info.max)
        raise SignalError(f"{where}: element {i} ({str(values[i])[:20]}…) is too large a number") from None


def read_json_signal(obj: object, fs: float | None = None, *, max_columns: int = DEFAULT_MAX_COLUMNS) -> Signal:
    """A JSON array of numbers (needs ``fs``), or ``{"fs": .., "leads": {"II": [..], ..}, "units": ..}``.

    ``obj`` may be parsed JSON or its bytes/str text; an ``fs`` given beside one in the object must
    agree with it. Lead names must not be blank nor differ only in case.
    """
    if isinstance(obj, (bytes, bytearray, str)):
        try:
            obj = json.loads(obj)
        except RecursionError:
            raise SignalError("JSON file is nested too deeply") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise SignalError(f"JSON file is not valid JSON: {exc}") from None
    if isinstance(obj, list):
        if fs is None:
            raise SignalError("JSON signal: the sampling rate (fs) is missing")
        return _build(fs, {"ECG": _json_numbers(obj, "JSON array")}, None, "json", "JSON file")
    if not isinstance(obj, dict):
        raise SignalError('JSON signal must be an array of numbers or an object with "fs" and "leads"')
    file_fs = obj.get("fs", obj.get("sampling_rate"))
    if file_fs is None and fs is None:
        raise SignalError('JSON signal: field "fs" (sampling rate) is missing')
    leads_obj = obj.get("leads")
    if not isinstance(leads_obj, dict) or not leads_obj:
        raise SignalError('JSON signal: field "leads" must be an object of lead name → array of numbers')
    if len(leads_obj) > max_columns:
        raise too_many_columns("JSON signal", len(leads_obj), "leads", max_columns)
    seen: dict[str, str] = {}
    for name in map(str, leads_obj):
        if not name.strip():
            raise SignalError('JSON signal: a lead name in "leads" is blank; name every lead (e.g. "II", "V5")')
        if name.strip().lower() in seen:
            raise SignalError(
                f"JSON signal: leads {seen[name.strip().lower()]!r} and {name!r} are one name twice "
                "(lead names are compared without case)"
            )
        seen[name.strip().lower()] = name
    if isinstance(file_fs, int) and not isinstance(file_fs, bool) and abs(file_fs) > sys.float_info.max:
        raise SignalError(f'JSON signal: field "fs" ({str(file_fs)[:20]}…) is too large a number')
    if file_fs is not None and _is_number(str(file_fs)):
        check_form_rate(float(file_fs), fs, "JSON signal")
    # names as given, without the spaces around them (" II " is II)
    leads = {str(name).strip(): _json_numbers(values, f"JSON field leads.{name}") for name, values in leads_obj.items()}
    lengths = {len(v) for v in leads.values()}
    if len(lengths) > 1:
        raise SignalError(f"JSON signal: leads have different lengths ({', '.join(map(str, sorted(lengths)))})")
    units_obj = obj.get("units")
    units: dict[str, str | None] | None = None
    if isinstance(units_obj, str):
        units = {name: units_obj for name in leads}
    elif isinstance(units_obj, dict):
        units = {str(k).strip(): str(v) for k, v in units_obj.items()}
    try:
        return _build(file_fs if file_fs is not None else fs, leads, units, "json", "JSON file")
    except SignalError as exc:
        raise SignalError(f"JSON signal: {exc}") from None


# --- DICOM and HL7 aECG ------------------------------------------------------------------


def read_dicom(
    data: bytes,
    *,
    max_columns: int = DEFAULT_MAX_COLUMNS,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Signal:
    """A DICOM 12-Lead (or General) ECG waveform: the longest multiplex group, every channel, in mV. A deflated
    dataset is inflated to at most ``max_bytes`` (refused beyond, ``limit="bytes"``)."""
    from ecg.io.dicom import read_dicom_ecg

    fs, leads, units, start = read_dicom_ecg(
        data, max_columns=max_columns, max_seconds=max_seconds, max_bytes=max_bytes
    )
    return _build(fs, leads, units, "dicom", "DICOM file", start=start)


def read_aecg(
    data: bytes, *, max_columns: int = DEFAULT_MAX_COLUMNS, max_seconds: float = DEFAULT_MAX_SECONDS
) -> Signal:
    """An HL7 aECG document's rhythm leads, in mV."""
    from ecg.io import aecg

    fs, leads, units, start = aecg.read_aecg(data, max_columns=max_columns, max_seconds=max_seconds)
    return _build(fs, leads, units, "aecg", "aECG file", start=start)


# --- format sniffing ----------------------------------------------------------------------


def _zip_member_names(head: bytes) -> list[str]:
    """Member names from a complete zip, else from the local headers present in ``head``."""
    try:
        with zipfile.ZipFile(io.BytesIO(head)) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, *_ZIP_DAMAGED):
        pass
    names = []
    for match in re.finditer(rb"PK\x03\x04", head):
        start = match.start()
        if start + 30 > len(head):
            break
        name_len = int.from_bytes(head[start + 26 : start + 28], "little")
        names.append(head[start + 30 : start + 30 + name_len].decode("utf-8", "replace"))
    return names


def _is_complete_zip(data: bytes) -> bool:
    try:
        zipfile.ZipFile(io.BytesIO(data)).close()
    except (zipfile.BadZipFile, *_ZIP_DAMAGED):
        return False
    return True


def sniff_format(filename: str, head: bytes) -> str:
    """ "wfdb-zip", "edf", "dicom", "aecg", "csv", "json" or "xlsx", judged by content (the name only
    breaks ties)."""
    from ecg.io.aecg import is_aecg
    from ecg.io.dicom import is_dicom

    junk = SignalError(f"{filename} is not a CSV, XLSX, EDF, JSON, WFDB, DICOM or HL7 aECG file")
    if is_dicom(head):
        return "dicom"
    if head.startswith(b"PK\x03\x04"):
        names = _zip_member_names(head)
        if any(n == "[Content_Types].xml" or n.startswith(("xl/", "docProps/", "_rels/")) for n in names):
            return "xlsx"
        if any(n.lower().endswith(".hea") for n in names):
            return "wfdb-zip"
        if filename.lower().endswith((".xlsx", ".xlsm")):
            return "xlsx"
        if _is_complete_zip(head):
            raise SignalError(f"{filename} is a zip file without a WFDB record (.hea) or spreadsheet")
        return "wfdb-zip"  # only the start was given; the zip reader decides
    if head.startswith(b"0       "):
        return "edf"
    if head.startswith(b"\xffBIOSEMI"):
        raise SignalError(f"{filename} is a BDF file; only EDF/EDF+ is supported")
    encoding = text_encoding(head)
    if encoding == "utf-16":
        try:  # not final: a character cut by the end of head is left out
            text = codecs.getincrementaldecoder("utf-16")().decode(head).lstrip()
        except UnicodeDecodeError:
            raise junk from None  # an unpaired surrogate: no text
        if "\x00" in text:
            raise junk
    else:
        text_head = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
        stripped = text_head.lstrip()
        if b"\x00" in text_head:
            raise _utf16_without_bom(filename, text_head) or junk
        if encoding == "cp1252":  # judged below; an undefined byte is U+FFFD
            text = stripped.decode("cp1252", "replace")
        else:
            try:
                text = stripped.decode("utf-8")
            except UnicodeDecodeError as exc:  # a character cut by the end of head (text_encoding)
                text = stripped[: exc.start].decode("utf-8")
    if not text:
        raise SignalError(f"{filename} is empty")
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    if printable < 0.98 * len(text):
        raise junk
    if encoding != "utf-8-sig":
        _foreign_text_check(filename, head, text, encoding, junk)
    if text[0] in "[{":
        return "json"
    if text[0] == "<":
        if is_aecg(head):
            return "aecg"
        raise SignalError(f"{filename} is XML but not an HL7 aECG document (no AnnotatedECG element)")
    flags = re.IGNORECASE if encoding == "utf-8-sig" else re.IGNORECASE | re.ASCII
    if not re.search(r"\d|\bnan\b", text, flags):  # a lead off at the start reads nan for a while
        raise junk
    return "csv"


def _foreign_text_check(filename: str, head: bytes, text: str, encoding: str, junk: SignalError) -> None:
    """Refuse a head in UTF-16 or Windows-1252 that is no table of numbers (``junk``), or a file in one
    of them that cannot be read, with the reason.

    Half its characters at least must be ASCII: a CSV's samples are ASCII numbers in any encoding (only
    its header and comments may hold other characters), and a binary file that starts as a byte-order
    mark does, such as a WFDB .dat whose first sample is -257, is no such table. JSON or XML in UTF-16,
    and JSON in Windows-1252, are refused (JSON is UTF-8; XML in Windows-1252 is read as its declaration
    says), as is a byte Windows-1252 does not define.
    """
    if len(text.encode("ascii", "ignore")) < 0.5 * len(text):
        raise junk
    if encoding == "utf-16":
        if re.match(r"<[?!A-Za-z]|[\[{]\s*[-\"\[{\]}0-9]", text):
            raise SignalError(f"{filename} is UTF-16 text; a JSON or XML file must be UTF-8 (only CSV may be UTF-16)")
        if text[0] in "[{<":
            raise junk
        return
    if "\ufffd" in text:
        undefined = next(i for i, b in enumerate(head) if b in _CP1252_UNDEFINED)
        raise SignalError(
            f"{filename} is neither UTF-8 nor Windows-1252 text (byte 0x{head[undefined]:02X} at line "
            f"{_line_of(head, undefined)}); save it as CSV UTF-8"
        )
    if text[0] in "[{":
        first_error = _utf8_error(head)
        assert first_error is not None  # else the head is UTF-8
        raise SignalError(
            f"{filename} is not UTF-8 text (byte 0x{head[first_error]:02X} at line {_line_of(head, first_error)}); "
            "a JSON file must be UTF-8: save it as UTF-8"
        )


_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")


def _utf16_without_bom(filename: str, head: bytes) -> SignalError | None:
    """The refusal of UTF-16 text without a byte-order mark (characters up to U+00FF with a NUL byte
    before or after each), which is not told from binary data safely; None for anything else."""
    even, odd = head[0::2][: len(head) // 2], head[1::2]
    for zeros, chars in ((odd, even), (even, odd)):
        if chars and zeros.count(0) == len(zeros) and 0 not in chars:
            text = chars.decode("latin-1")
            if all(ch.isprintable() or ch in "\r\n\t" for ch in text) and re.search(r"[0-9]", text):
                return SignalError(
                    f"{filename} is UTF-16 text without a byte-order mark; save it as CSV UTF-8 "
                    "(or as Unicode text, which starts with one)"
                )
    return None
