"""DICOM ECG waveforms (12-Lead and General ECG Waveform Storage), read within our limits.

Every size the file declares (channels, samples, bits) is checked against the limits and against
the bytes of WaveformData before any array is built; the samples are then scaled to mV with each
channel's sensitivity, its units, correction factor and baseline (PS3.3 C.10.9); samples holding the group's
WaveformPaddingValue are lost (NaN), as other readers mark lost samples. The start is the
acquisition date and time the file states (:func:`ecg.io.start_time.dicom_start`), from the same dataset,
moved by the group's MultiplexGroupTimeOffset.

A dataset in the Deflated Explicit VR Little Endian transfer syntax is inflated here, to at most the bytes the
reader is given (``max_bytes``), before pydicom sees it: pydicom inflates it whole, with no limit, before
anything of it can be checked (a 1 MB file inflates to 1 GB).
"""

from __future__ import annotations

import io
import re
import zlib
from datetime import datetime
from typing import Any

import numpy as np

from ecg.io.errors import SignalError
from ecg.io.readers import DEFAULT_MAX_BYTES, check_fs
from ecg.io.start_time import DICOM_GROUP_OFFSET, DICOM_START_KEYWORDS, dicom_start

TWELVE_LEAD_ECG = "1.2.840.10008.5.1.4.1.1.9.1.1"
GENERAL_ECG = "1.2.840.10008.5.1.4.1.1.9.1.2"
ECG_SOP_CLASSES = {TWELVE_LEAD_ECG: "12-Lead ECG", GENERAL_ECG: "General ECG"}
_DTYPES = {("SS", 16): "<i2", ("US", 16): "<u2", ("SL", 32): "<i4", ("UL", 32): "<u4", ("SB", 8): "i1", ("UB", 8): "u1"}
_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "v": 1e3, "nv": 1e-6}
SOURCE = "DICOM file"


def is_dicom(head: bytes) -> bool:
    return len(head) >= 132 and head[128:132] == b"DICM"


def lead_label(meaning: str) -> str:
    """A lead's name from its code meaning: "Lead I" → "I", "aVR (Goldberger)" → "aVR", "MDC_ECG_LEAD_V1" → "V1"."""
    label = re.sub(r"^(?:MDC_ECG_LEAD_|lead\s+)", "", meaning.strip(), flags=re.IGNORECASE)
    if label.endswith(")"):  # a qualifier: "II (Einthoven)", "aVR (Goldberger)"
        # cut at the first "(" of the last line, without a pattern that begins again at every blank or "(" (a
        # code meaning may be as long as the file: 100 KB of blanks had held the reader 20 s)
        opening = label.find("(", label.rfind("\n") + 1)
        label = label[:opening] if opening >= 0 else label
    label = label.strip()
    return re.sub(r"^AV([RLF])$", lambda m: "aV" + m.group(1), label, flags=re.IGNORECASE) or "ECG"


def read_dicom_ecg(
    data: bytes,
    *,
    max_columns: int,
    max_seconds: float,
    max_bytes: int = DEFAULT_MAX_BYTES,
    source: str = SOURCE,
) -> tuple[float, dict[str, np.ndarray], dict[str, str], datetime | None]:
    """(fs, leads in mV, units, start) of the longest multiplex group of a DICOM ECG; a deflated dataset is
    inflated to at most ``max_bytes``."""
    import pydicom

    if not is_dicom(data[:132]):
        raise SignalError(f"{source} is not DICOM (no 'DICM' marker at byte 128)")
    try:
        ds = pydicom.dcmread(io.BytesIO(_inflated(data, max_bytes, source)), defer_size=None)
        group = _group(ds, max_columns, source)
        little_endian = ds.original_encoding[1] is not False  # None: no transfer syntax said; little endian
        return (
            *_read_group(
                group, max_columns=max_columns, max_seconds=max_seconds, source=source, little_endian=little_endian
            ),
            _stated_start(ds, group),
        )
    except SignalError:
        raise
    except MemoryError:
        raise SignalError(f"{source} declares more than can be read", limit_exceeded=True) from None
    except Exception as exc:  # pydicom raises many types (and RecursionError) for damaged files
        raise SignalError(f"{source} cannot be read: {type(exc).__name__}: {str(exc)[:200]}") from None


def _inflated(data: bytes, max_bytes: int, source: str) -> bytes:
    """``data`` as pydicom is to read it: a file in the Deflated Explicit VR Little Endian transfer syntax with
    its dataset inflated, to at most ``max_bytes``, and said to be in Explicit VR Little Endian (what the dataset
    is once inflated, PS3.5 A.5); any other file as it is.

    The file meta is read by pydicom's own reader (pinned in requirements.txt), so the transfer syntax judged here
    is the one pydicom would act on.
    """
    from pydicom.filebase import DicomBytesIO
    from pydicom.filereader import _read_file_meta_info, read_preamble
    from pydicom.filewriter import write_file_meta_info
    from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian

    fp = io.BytesIO(data)
    read_preamble(fp, False)
    meta = _read_file_meta_info(fp)
    if meta.get("TransferSyntaxUID") != DeflatedExplicitVRLittleEndian:
        return data
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        dataset = inflater.decompress(memoryview(data)[fp.tell() :], max_bytes + 1)
    except zlib.error as exc:
        raise SignalError(f"{source}: its deflated dataset does not inflate ({exc})") from None
    if len(dataset) > max_bytes or inflater.unconsumed_tail:
        raise SignalError(
            f"{source}: its deflated dataset inflates to more than {max_bytes} bytes; at most {max_bytes} are accepted",
            limit_exceeded=True,
            limit="bytes",
        )
    if not inflater.eof:
        raise SignalError(f"{source}: its deflated dataset ends before its deflate stream does (cut short?)")
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    header = DicomBytesIO()
    write_file_meta_info(header, meta, enforce_standard=False)
    return b"".join((data[:132], header.getvalue(), dataset))


def _stated_start(ds: Any, group: Any) -> datetime | None:
    """The start the dataset states for the waveform ``group`` read (its acquisition time moved by the
    group's MultiplexGroupTimeOffset); None when it states none, or an attribute of it cannot be decoded
    (a damaged date refuses no waveform)."""
    try:
        values = {keyword: ds.get(keyword) for keyword in DICOM_START_KEYWORDS}
        return dicom_start(values, offset=group.get(DICOM_GROUP_OFFSET))
    except Exception:  # pydicom decodes a value when it is first asked for, and may raise then
        return None


def _group(ds: Any, max_columns: int, source: str) -> Any:
    """The multiplex group read: the longest of an ECG's WaveformSequence."""
    sop_class = str(ds.get("SOPClassUID", ""))
    groups = list(ds.get("WaveformSequence", []))
    if sop_class not in ECG_SOP_CLASSES:
        raise SignalError(
            f"{source} is not an ECG waveform (SOP class {sop_class or 'missing'}; "
            f"expected 12-Lead ECG {TWELVE_LEAD_ECG} or General ECG {GENERAL_ECG})"
        )
    if not groups:
        raise SignalError(f"{source} has no WaveformSequence")
    if len(groups) > max_columns:
        raise SignalError(
            f"{source} has {len(groups)} waveform groups; at most {max_columns} are accepted", limit_exceeded=True
        )
    return max(groups, key=lambda g: _int(g, "NumberOfWaveformSamples", source))


def _int(item: Any, keyword: str, source: str) -> int:
    value = item.get(keyword)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SignalError(f"{source}: {keyword} is {'missing' if value is None else repr(str(value)[:30])}") from None
    if number < 0:
        raise SignalError(f"{source}: {keyword} is negative ({number})")
    return number


def _float(item: Any, keyword: str, source: str, default: float | None = None) -> float:
    value = item.get(keyword)
    if value is None and default is not None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SignalError(f"{source}: {keyword} is {'missing' if value is None else repr(str(value)[:30])}") from None
    if not np.isfinite(number):
        raise SignalError(f"{source}: {keyword} is not a finite number")
    return number


def _padding_value(group: Any, dtype: str) -> Any:
    """The group's WaveformPaddingValue (5400,100A) as a sample of ``dtype``, or None where it states none (a value
    shorter than one sample is no padding value)."""
    value = group.get("WaveformPaddingValue")
    size = np.dtype(dtype).itemsize
    if value is None or not isinstance(value, (bytes, bytearray)) or len(value) < size:
        return None
    return np.frombuffer(bytes(value[:size]), dtype=dtype)[0]


def _channel_name(channel: Any, i: int) -> str:
    """A channel's lead name from its source's code meaning, else "channel N"."""
    sources = list(channel.get("ChannelSourceSequence", []))
    meaning = str(sources[0].get("CodeMeaning", "")) if sources else ""
    return lead_label(meaning) if meaning else f"channel {i + 1}"


def _channel_names(given: list[str]) -> list[str]:
    """Each channel its own name: a name given again takes its channel's number ("I", "II", "II" -> "I",
    "II", "II_3", as recordings were stored under), and where that too is taken, the next free one."""
    names: list[str] = []
    for i, name in enumerate(given):
        unique, number = name, i + 1
        while unique in names:
            unique = f"{name}_{number}"
            number += 1
        names.append(unique)
    return names


def _read_group(
    group: Any, *, max_columns: int, max_seconds: float, source: str, little_endian: bool = True
) -> tuple[float, dict[str, np.ndarray], dict[str, str]]:
    """The channels of a multiplex ``group`` in mV; WaveformData is read in the dataset's byte order (pydicom
    keeps an OW value's bytes as the file holds them: big-endian in Explicit VR Big Endian)."""
    channels = _int(group, "NumberOfWaveformChannels", source)
    samples = _int(group, "NumberOfWaveformSamples", source)
    fs = check_fs(_float(group, "SamplingFrequency", source))
    max_samples = int(max_seconds * fs) + 1
    if channels < 1:
        raise SignalError(f"{source}: the waveform has no channels")
    if channels > max_columns:
        raise SignalError(
            f"{source} declares {channels} channels; at most {max_columns} are accepted", limit_exceeded=True
        )
    if samples > max_samples:
        raise SignalError(
            f"{source} declares {samples} samples per channel; at most {max_samples} are accepted",
            limit_exceeded=True,
            limit="seconds",
        )
    definitions = list(group.get("ChannelDefinitionSequence", []))
    if len(definitions) != channels:
        raise SignalError(
            f"{source}: NumberOfWaveformChannels is {channels} but ChannelDefinitionSequence has {len(definitions)} items"
        )
    bits = _int(group, "WaveformBitsAllocated", source)
    interpretation = str(group.get("WaveformSampleInterpretation", "")).strip()
    dtype = _DTYPES.get((interpretation, bits))
    if dtype is None:
        raise SignalError(f"{source}: {bits}-bit samples of interpretation {interpretation!r} are not supported")
    raw = group.get("WaveformData")
    expected = channels * samples * bits // 8
    if raw is None or len(raw) < expected:
        have = 0 if raw is None else len(raw)
        raise SignalError(
            f"{source}: WaveformData holds {have} bytes; {channels} channels × {samples} samples × {bits // 8} bytes "
            f"need {expected} (truncated file?)"
        )
    if not little_endian:
        dtype = dtype.replace("<", ">")
    stored = np.frombuffer(bytes(raw[:expected]), dtype=dtype).reshape(samples, channels)
    values = stored.astype(np.float64)
    pad = _padding_value(group, dtype)
    if pad is not None:
        # samples holding the group's padding value are padding, not signal (PS3.3 C.10.9.1; a cart pads a channel
        # shorter than the others with it): lost, as a WFDB record's invalid value is
        values[stored == pad] = np.nan
    names = _channel_names([_channel_name(channel, i) for i, channel in enumerate(definitions)])
    leads: dict[str, np.ndarray] = {}
    units: dict[str, str] = {}
    for i, (channel, name) in enumerate(zip(definitions, names, strict=True)):
        where = f"{source}, channel {i + 1}"
        sensitivity = _float(channel, "ChannelSensitivity", where, default=1.0)
        correction = _float(channel, "ChannelSensitivityCorrectionFactor", where, default=1.0)
        baseline = _float(channel, "ChannelBaseline", where, default=0.0)
        unit_items = list(channel.get("ChannelSensitivityUnitsSequence", []))
        unit = str(unit_items[0].get("CodeValue", "")) if unit_items else ""
        scale = _TO_MV.get(unit.strip().lower())
        if scale is None:
            scale = 1.0  # unknown units are kept as they are, and named so
            units[name] = unit or "unknown"
        else:
            units[name] = "mV"
        leads[name] = (values[:, i] * sensitivity * correction + baseline) * scale
    return fs, leads, units
