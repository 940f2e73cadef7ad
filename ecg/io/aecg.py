"""HL7 aECG (annotated ECG, urn:hl7-org:v3) rhythm waveforms, parsed without entity expansion.

The XML is read by defusedxml (no DTD, no entities, no external references), element by element,
refused past a nesting depth, a number of leads or a number of samples, before the arrays are
built. The first ``sequenceSet`` of the first ``series`` is read: its time sequence (``GLIST_TS`` or
``GLIST_PQ``: ``increment`` gives fs) and one ``SLIST_PQ`` per lead (value = origin + scale ×
digit, in the unit of ``scale``). The start is that series' ``effectiveTime/low``, else the document's
(:func:`ecg.io.start_time.aecg_start`).
"""

from __future__ import annotations

import io
import math
import re
from datetime import datetime
from typing import Any

import numpy as np

from ecg.io.errors import SignalError
from ecg.io.readers import MAX_FS, check_fs, lead_phrase
from ecg.io.start_time import aecg_start

NS = "{urn:hl7-org:v3}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
MAX_DEPTH = 64
# Elements parsed at most: a 12-lead aECG of ten seconds holds about a hundred; one with a wave annotation per
# beat and lead a few thousand (a long Holter aECG with beat annotations some hundred thousand). Parsed past
# this the tree alone would take hundreds of MB and several seconds (6.5 million elements: 753 MB, 12.6 s).
MAX_ELEMENTS = 1_000_000
SOURCE = "aECG file"
_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "min": 60.0}
_TO_MV = {"mv": 1.0, "uv": 1e-3, "v": 1e3, "nv": 1e-6}
_SPACES = np.frombuffer(b" \t\n\r", dtype=np.uint8)
_SIGNS = np.frombuffer(b"+-", dtype=np.uint8)


def is_aecg(head: bytes) -> bool:
    return b"<AnnotatedECG" in head or (b"urn:hl7-org:v3" in head and b"AnnotatedECG" in head)


def lead_name(code: str) -> str:
    """ "MDC_ECG_LEAD_II" → "II", "MDC_ECG_LEAD_AVR" → "aVR"; codes are read whatever their case ("mdc_ecg_lead_ii"
    is II, so "II" and "ii" in one file are one lead twice, and the analysed lead is found by its name)."""
    name = re.sub(r"^MDC_ECG_LEAD_", "", code.strip(), flags=re.IGNORECASE).upper()
    return re.sub(r"^AV([RLF])$", lambda m: "aV" + m.group(1), name) or "ECG"


def _parse(data: bytes, source: str) -> Any:
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import iterparse

    depth = elements = 0
    root = None
    try:
        for event, element in iterparse(io.BytesIO(data), events=("start", "end"), forbid_dtd=True):
            if event == "start":
                depth += 1
                elements += 1
                if root is None:
                    root = element
                if depth > MAX_DEPTH:
                    raise SignalError(f"{source} is nested more than {MAX_DEPTH} elements deep")
                if elements > MAX_ELEMENTS:
                    raise SignalError(
                        f"{source} holds more than {MAX_ELEMENTS} XML elements; an HL7 aECG holds far fewer"
                    )
            else:
                depth -= 1
    except DefusedXmlException as exc:
        raise SignalError(f"{source} is refused: {type(exc).__name__} (DTDs and entities are not accepted)") from None
    except ParseError as exc:
        raise SignalError(f"{source} is not well-formed XML: {exc}") from None
    except SignalError:
        raise
    except (LookupError, ValueError) as exc:  # an encoding the XML parser does not know, and the like
        raise SignalError(f"{source} is not readable XML: {str(exc)[:200]}") from None
    if root is None or root.tag != f"{NS}AnnotatedECG":
        tag = "nothing" if root is None else root.tag
        raise SignalError(f"{source}: the root element is {tag}, not an HL7 v3 AnnotatedECG")
    return root


def _value(sequence: Any) -> Any:
    return sequence.find(f"{NS}value")


def _physical(node: Any, what: str, source: str) -> tuple[float, str]:
    if node is None:
        raise SignalError(f"{source}: {what} is missing")
    raw = node.get("value")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise SignalError(f"{source}: {what} value {raw!r} is not a number") from None
    if not np.isfinite(value):
        raise SignalError(f"{source}: {what} value is not finite")
    return value, (node.get("unit") or "").strip()


def _digits(text: str, where: str, max_samples: int) -> np.ndarray:
    """The integers of a ``digits`` element, counted and checked character by character (vectorised:
    a 25-MB element in well under a second) before any array of them is built."""
    raw = np.frombuffer(text.encode("ascii", "replace"), dtype=np.uint8)  # one byte per character
    space = np.isin(raw, _SPACES)
    digit = (raw >= ord("0")) & (raw <= ord("9"))
    starts = ~space & np.r_[True, space[:-1]]
    count = int(starts.sum())
    if count == 0:
        raise SignalError(f"{where} has no digits")
    if count > max_samples:
        raise SignalError(
            f"{where} holds {count} samples; at most {max_samples} are accepted", limit_exceeded=True, limit="seconds"
        )
    signed = np.isin(raw, _SIGNS) & starts & np.r_[digit[1:], False]
    bad = ~(digit | space | signed)
    if bad.any():
        at = int(np.argmax(bad))
        first = int(np.flatnonzero(starts[: at + 1])[-1])
        token = re.split(r"[ \t\n\r]", text[first:], maxsplit=1)[0]  # split as counted: at ASCII spaces only
        raise SignalError(f"{where}: digit {int(starts[: at + 1].sum())} ({token[:20]!r}) is not an integer")
    return np.fromstring(text, dtype=np.float64, sep=" ")


def _low(node: Any) -> str | None:
    """The ``effectiveTime/low/@value`` of an element, if it has one."""
    low = node.find(f"{NS}effectiveTime/{NS}low")
    return low.get("value") if low is not None else None


def read_aecg(
    data: bytes, *, max_columns: int, max_seconds: float, source: str = SOURCE
) -> tuple[float, dict[str, np.ndarray], dict[str, str], datetime | None]:
    """(fs, leads in mV, units, start) of the first rhythm sequence set of an HL7 aECG document."""
    root = _parse(data, source)
    found = (
        (series, series.find(f"{NS}component/{NS}sequenceSet")) for series in root.iterfind(f"{NS}component/{NS}series")
    )
    series, sequence_set = next(((s, q) for s, q in found if q is not None), (None, None))
    if series is None or sequence_set is None:
        raise SignalError(f"{source} has no series/component/sequenceSet (no rhythm waveforms)")
    sequences = [c.find(f"{NS}sequence") for c in sequence_set.findall(f"{NS}component")]
    sequences = [s for s in sequences if s is not None]
    time = [
        s
        for s in sequences
        if (s.find(f"{NS}code") is not None and "TIME" in (s.find(f"{NS}code").get("code") or "").upper())
    ]
    leads_xml = [s for s in sequences if s not in time]
    if not time:
        raise SignalError(f"{source}: the sequence set has no time sequence (TIME_ABSOLUTE or TIME_RELATIVE)")
    if not leads_xml:
        raise SignalError(f"{source}: the sequence set has no lead sequences")
    if len(leads_xml) > max_columns:
        raise SignalError(
            f"{source} has {len(leads_xml)} leads; at most {max_columns} are accepted", limit_exceeded=True
        )
    increment, unit = _physical(
        _value(time[0]).find(f"{NS}increment") if _value(time[0]) is not None else None, "time increment", source
    )
    if unit not in _SECONDS:
        raise SignalError(f"{source}: time increment unit {unit!r} is not one of {', '.join(_SECONDS)}")
    seconds = increment * _SECONDS[unit]  # a denormal increment in ms is 0 s
    if not (math.isfinite(seconds) and seconds > 0):
        raise SignalError(f"{source}: time increment {increment:g} {unit} is not a positive duration")
    if seconds * MAX_FS < 1 - 1e-9:  # 1 / seconds may be beyond any float
        raise SignalError(
            f"{source}: time increment {increment:g} {unit} is a sampling rate above the maximum of {MAX_FS:g} Hz"
        )
    fs = check_fs(1.0 / seconds)
    max_samples = int(max_seconds * fs) + 1
    leads: dict[str, np.ndarray] = {}
    units: dict[str, str] = {}
    for sequence in leads_xml:
        code = sequence.find(f"{NS}code")
        name = lead_name(code.get("code") or "") if code is not None else f"lead {len(leads) + 1}"
        where = f"{source}, {lead_phrase(name)}"
        if name in leads:
            raise SignalError(f"{where} appears twice")
        value = _value(sequence)
        if value is None or value.get(XSI_TYPE, "").split(":")[-1] != "SLIST_PQ":
            raise SignalError(f"{where}: its value is not an SLIST_PQ")
        origin, _ = _physical(value.find(f"{NS}origin"), "origin", where)
        scale, scale_unit = _physical(value.find(f"{NS}scale"), "scale", where)
        digits_node = value.find(f"{NS}digits")
        text = (digits_node.text or "") if digits_node is not None else ""
        values = origin + scale * _digits(text, where, max_samples)
        to_mv = _TO_MV.get(scale_unit.lower())
        leads[name] = values * to_mv if to_mv is not None else values
        units[name] = "mV" if to_mv is not None else (scale_unit or "unknown")
    lengths = {len(v) for v in leads.values()}
    if len(lengths) > 1:
        raise SignalError(f"{source}: leads have different numbers of samples ({', '.join(map(str, sorted(lengths)))})")
    return fs, leads, units, aecg_start(_low(series), _low(root))
