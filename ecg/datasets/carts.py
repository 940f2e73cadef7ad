"""12-lead ECG files as hospital ECG carts export them, written from arrays, for tests and demos:
a DICOM 12-Lead ECG Waveform (pydicom) and an HL7 aECG document (urn:hl7-org:v3)."""

from __future__ import annotations

import io
from xml.sax.saxutils import quoteattr

import numpy as np

STANDARD_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
# SCPECG lead codes (DICOM CID 3001) of the standard leads.
SCPECG_CODES = {
    "I": "5.6.3-9-1",
    "II": "5.6.3-9-2",
    "V1": "5.6.3-9-3",
    "V2": "5.6.3-9-4",
    "V3": "5.6.3-9-5",
    "V4": "5.6.3-9-6",
    "V5": "5.6.3-9-7",
    "V6": "5.6.3-9-8",
    "III": "5.6.3-9-61",
    "aVR": "5.6.3-9-62",
    "aVL": "5.6.3-9-63",
    "aVF": "5.6.3-9-64",
}


def synthetic_twelve_lead(seconds: float = 10.0, fs: float = 500.0, rate_bpm: float = 72.0) -> dict[str, np.ndarray]:
    """Twelve leads in mV with a QRS (and T wave) per beat, amplitudes differing by lead."""
    t = np.arange(int(seconds * fs)) / fs
    beats = np.arange(0.4, seconds - 0.3, 60.0 / rate_bpm)
    one = np.zeros(len(t))
    for r in beats:
        one += np.exp(-0.5 * ((t - r) / 0.012) ** 2) + 0.25 * np.exp(-0.5 * ((t - r - 0.28) / 0.05) ** 2)
    gains = np.linspace(-0.8, 1.6, len(STANDARD_LEADS))
    return {name: gain * one + 0.01 * k for k, (name, gain) in enumerate(zip(STANDARD_LEADS, gains))}


def dicom_twelve_lead(
    leads: dict[str, np.ndarray],
    fs: float,
    *,
    sensitivity_uv: float = 2.5,
    baseline_uv: float = 0.0,
    correction: float = 1.0,
) -> bytes:
    """A DICOM 12-Lead ECG Waveform Storage file holding ``leads`` (mV) as 16-bit samples."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

    names = list(leads)
    samples = len(next(iter(leads.values())))
    raw = np.stack([(leads[n] * 1000.0 - baseline_uv) / (sensitivity_uv * correction) for n in names], axis=1)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.9.1.1")
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "ECG"
    ds.PatientName = "Test^Twelve"
    ds.PatientID = "T12"
    group = Dataset()
    group.MultiplexGroupLabel = "RHYTHM"
    group.WaveformOriginality = "ORIGINAL"
    group.NumberOfWaveformChannels = len(names)
    group.NumberOfWaveformSamples = samples
    group.SamplingFrequency = fs
    group.WaveformBitsAllocated = 16
    group.WaveformSampleInterpretation = "SS"
    channels = []
    for name in names:
        source = Dataset()
        source.CodeValue = SCPECG_CODES.get(name, "5.6.3-9-0")
        source.CodingSchemeDesignator = "SCPECG"
        source.CodeMeaning = f"Lead {name}"
        units = Dataset()
        units.CodeValue = "uV"
        units.CodingSchemeDesignator = "UCUM"
        units.CodeMeaning = "microvolt"
        channel = Dataset()
        channel.ChannelSourceSequence = Sequence([source])
        channel.ChannelSensitivity = sensitivity_uv
        channel.ChannelSensitivityUnitsSequence = Sequence([units])
        channel.ChannelSensitivityCorrectionFactor = correction
        channel.ChannelBaseline = baseline_uv
        channel.WaveformBitsStored = 16
        channels.append(channel)
    group.ChannelDefinitionSequence = Sequence(channels)
    group.WaveformData = np.round(raw).astype("<i2").tobytes()
    ds.WaveformSequence = Sequence([group])
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def aecg_twelve_lead(
    leads: dict[str, np.ndarray], fs: float, *, scale_uv: float = 5.0, origin_uv: float = 0.0
) -> bytes:
    """An HL7 aECG document (AnnotatedECG → component/series/component/sequenceSet) of ``leads`` in mV."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<AnnotatedECG xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
        '<id root="2.16.840.1.113883.3.1"/><code code="93000" codeSystem="2.16.840.1.113883.6.12"/>',
        '<effectiveTime><low value="20260101120000"/><high value="20260101120010"/></effectiveTime>',
        "<component><series>",
        '<code code="RHYTHM" codeSystem="2.16.840.1.113883.5.4"/>',
        '<effectiveTime><low value="20260101120000"/><high value="20260101120010"/></effectiveTime>',
        "<component><sequenceSet>",
        '<component><sequence><code code="TIME_ABSOLUTE" codeSystem="2.16.840.1.113883.5.4"/>',
        f'<value xsi:type="GLIST_TS"><head value="20260101120000.000"/><increment value={quoteattr(f"{1.0 / fs:.6g}")} unit="s"/></value>',
        "</sequence></component>",
    ]
    for name, values in leads.items():
        digits = np.round((np.asarray(values) * 1000.0 - origin_uv) / scale_uv).astype(np.int64)
        code = "MDC_ECG_LEAD_" + (name.upper() if not name.lower().startswith("av") else "a" + name[1:].upper())
        parts += [
            f'<component><sequence><code code={quoteattr(code)} codeSystem="2.16.840.1.113883.6.24"/>',
            '<value xsi:type="SLIST_PQ">',
            f'<origin value="{origin_uv:g}" unit="uV"/><scale value="{scale_uv:g}" unit="uV"/>',
            f"<digits>{' '.join(map(str, digits))}</digits>",
            "</value></sequence></component>",
        ]
    parts += ["</sequenceSet></component>", "</series></component>", "</AnnotatedECG>"]
    return "\n".join(parts).encode()
