"""12-lead files as ECG carts export them: DICOM waveforms, HL7 aECG, WFDB with a MATLAB .mat signal file."""

import struct

import numpy as np
import pytest

from ecg.datasets.carts import STANDARD_LEADS, aecg_twelve_lead, dicom_twelve_lead, synthetic_twelve_lead
from ecg.io import readers
from ecg.io.errors import SignalError

FS = 500.0


@pytest.fixture(scope="module")
def leads():
    return synthetic_twelve_lead(seconds=10.0, fs=FS)


def test_a_dicom_twelve_lead_waveform_reads_every_lead_in_millivolts(leads):
    signal = readers.read_dicom(dicom_twelve_lead(leads, FS, sensitivity_uv=2.5, baseline_uv=20.0, correction=0.98))
    assert signal.lead_order == list(STANDARD_LEADS)
    assert signal.fs == FS and signal.source_format == "dicom"
    assert set((signal.units or {}).values()) == {"mV"}
    for name in STANDARD_LEADS:  # one 16-bit step is 2.45 µV
        assert np.abs(signal.leads[name] - leads[name]).max() < 0.002
    assert signal.lead_name() == "II"


def test_an_aecg_document_reads_every_lead_in_millivolts(leads):
    signal = readers.read_aecg(aecg_twelve_lead(leads, FS, scale_uv=5.0, origin_uv=-100.0))
    assert signal.lead_order == list(STANDARD_LEADS)
    assert signal.fs == pytest.approx(FS)
    for name in STANDARD_LEADS:
        assert np.abs(signal.leads[name] - leads[name]).max() < 0.003


def test_content_not_the_name_tells_the_formats_apart(leads):
    assert readers.sniff_format("ecg.bin", dicom_twelve_lead(leads, FS)[:4096]) == "dicom"
    assert readers.sniff_format("ecg.txt", aecg_twelve_lead(leads, FS)[:4096]) == "aecg"
    with pytest.raises(SignalError, match="XML but not an HL7 aECG"):
        readers.sniff_format("x.xml", b'<?xml version="1.0"?><svg>1</svg>')


def test_a_wfdb_record_with_a_matlab_signal_file_is_read(leads):
    """PTB-XL and the PhysioNet challenges ship WFDB headers over MATLAB v4 files (format 16, offset 24)."""
    names = list(STANDARD_LEADS)
    digital = np.stack([np.round(leads[n] * 1000).astype("<i2") for n in names], axis=1)
    n = len(digital)
    mat = struct.pack("<iiiii", 30, len(names), n, 0, 4) + b"val\x00" + digital.astype("<i2").tobytes()
    header = [f"HR00001 12 {FS:g} {n}"] + [
        f"HR00001.mat 16+24 1000/mV 16 0 {digital[0, i]} 0 0 {name}" for i, name in enumerate(names)
    ]
    signal = readers.read_wfdb_upload({"HR00001.hea": "\n".join(header).encode() + b"\n", "HR00001.mat": mat})
    assert signal.lead_order == names
    assert np.abs(signal.leads["V5"] - leads["V5"]).max() < 0.001


def _dicom_with(leads, sop_class=None, **changes) -> bytes:
    import io

    import pydicom

    ds = pydicom.dcmread(io.BytesIO(dicom_twelve_lead(leads, FS)))
    if sop_class is not None:
        ds.SOPClassUID = sop_class
    group = ds.WaveformSequence[0]
    for key, value in changes.items():
        setattr(group, key, value)
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


@pytest.mark.parametrize(
    "change, fragment, limit",
    [
        ({"NumberOfWaveformSamples": 2_000_000_000}, "declares 2000000000 samples", True),
        ({"NumberOfWaveformChannels": 300}, "declares 300 channels", True),
        (
            {"NumberOfWaveformChannels": 11},
            "NumberOfWaveformChannels is 11 but ChannelDefinitionSequence has 12",
            False,
        ),
        ({"NumberOfWaveformSamples": 6000}, "WaveformData holds 120000 bytes", False),
        ({"WaveformSampleInterpretation": "FL"}, "interpretation 'FL' are not supported", False),
        ({"SamplingFrequency": 0}, "sampling rate", False),
    ],
)
def test_a_dicom_declaring_what_it_does_not_hold_is_refused_before_reading(leads, change, fragment, limit):
    with pytest.raises(SignalError, match=fragment) as refused:
        readers.read_dicom(_dicom_with(leads, **change), max_columns=256, max_seconds=3600)
    assert refused.value.limit_exceeded is limit


def test_a_truncated_dicom_or_another_sop_class_is_refused(leads):
    data = dicom_twelve_lead(leads, FS)
    with pytest.raises(SignalError, match="DICOM file"):
        readers.read_dicom(data[: len(data) // 2])
    with pytest.raises(SignalError, match="not an ECG waveform"):
        readers.read_dicom(_dicom_with(leads, sop_class="1.2.840.10008.5.1.4.1.1.2"))  # a CT image


def _padded(leads, pad: int, lead: int, span: tuple[int, int]) -> bytes:
    """A DICOM 12-lead ECG whose group states ``pad`` as its WaveformPaddingValue (5400,100A) and holds it in the
    ``span`` samples (end exclusive) of channel ``lead``, as a cart pads a channel shorter than the others."""
    import io

    import pydicom

    ds = pydicom.dcmread(io.BytesIO(dicom_twelve_lead(leads, FS)))
    group = ds.WaveformSequence[0]
    values = np.frombuffer(group.WaveformData, dtype="<i2").reshape(-1, group.NumberOfWaveformChannels).copy()
    values[span[0] : span[1], lead] = pad
    group.WaveformData = values.tobytes()
    group.add_new(0x5400100A, "OW", np.array([pad], dtype="<i2").tobytes())  # WaveformPaddingValue, OB or OW
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def test_samples_holding_the_dicom_channels_padding_value_are_lost_not_read_as_signal(leads):
    # -32768 read as a sample was a step of about -80 mV (at 2.5 µV a step) where the channel holds no signal
    index = list(STANDARD_LEADS).index("V1")
    signal = readers.read_dicom(_padded(leads, -32768, index, (4000, 5000)))
    assert signal.lost_spans("V1") == [(4000, 4999)]
    assert not signal.lost_spans("II")
    v1 = signal.leads["V1"]
    assert np.abs(v1[4000:5000]).max() < 5.0  # drawn across the gap from its neighbours, not at -80 mV
    assert np.abs(v1[:4000] - leads["V1"][:4000]).max() < 0.002


def test_a_dicom_padding_value_that_no_sample_holds_changes_nothing(leads):
    signal = readers.read_dicom(_padded(leads, -32768, 0, (0, 0)))
    assert all(not signal.lost_spans(name) for name in STANDARD_LEADS)


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE AnnotatedECG [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>
<AnnotatedECG xmlns="urn:hl7-org:v3">&c;</AnnotatedECG>"""
EXTERNAL = b"""<?xml version="1.0"?><!DOCTYPE AnnotatedECG [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<AnnotatedECG xmlns="urn:hl7-org:v3">&x;</AnnotatedECG>"""


@pytest.mark.parametrize(
    "mutate, fragment, limit",
    [
        (lambda x: BOMB, "DTDs and entities are not accepted", False),
        (lambda x: EXTERNAL, "DTDs and entities are not accepted", False),
        (lambda x: x[: len(x) // 2], "not well-formed XML", False),
        (lambda x: x.replace(b"<digits>", b"<digits>12 x1 ", 1), "digit 2 ('x1') is not an integer", False),
        (lambda x: x.replace(b'unit="s"', b'unit="fortnight"', 1), "time increment unit 'fortnight'", False),
        (lambda x: x.replace(b"AnnotatedECG", b"ClinicalDocument"), "not an HL7 v3 AnnotatedECG", False),
        (lambda x: x.replace(b"<digits>", b"<digits>1 2 3 ", 1), "different numbers of samples", False),
        (lambda x: x.replace(b"<id ", b"<a>" * 70 + b"</a>" * 70 + b"<id ", 1), "nested more than", False),
    ],
)
def test_a_bad_aecg_is_refused_naming_the_defect(leads, mutate, fragment, limit):
    with pytest.raises(SignalError, match=fragment.replace("(", r"\(").replace(")", r"\)")) as refused:
        readers.read_aecg(mutate(aecg_twelve_lead(leads, FS)))
    assert refused.value.limit_exceeded is limit


def test_an_aecg_with_more_leads_or_samples_than_the_limits_is_refused(leads):
    data = aecg_twelve_lead(leads, FS)
    with pytest.raises(SignalError, match="12 leads; at most 8") as refused:
        readers.read_aecg(data, max_columns=8)
    assert refused.value.limit_exceeded
    with pytest.raises(SignalError, match="at most 2501 are accepted"):
        readers.read_aecg(data, max_seconds=5.0)


@pytest.mark.parametrize(
    "meaning, name",
    [
        ("Lead I", "I"),
        ("Lead aVR", "aVR"),
        ("II (Einthoven)", "II"),
        ("AVF (Goldberger)", "aVF"),
        ("MDC_ECG_LEAD_V1", "V1"),
    ],
)
def test_dicom_lead_names_come_from_their_code_meanings(meaning, name):
    from ecg.io.dicom import lead_label

    assert lead_label(meaning) == name


def test_aecg_lead_and_time_codes_are_read_whatever_their_case(leads):
    data = aecg_twelve_lead(leads, FS).decode()
    lower = data.replace("MDC_ECG_LEAD_", "mdc_ecg_lead_").replace("TIME_ABSOLUTE", "time_absolute")
    lower = lower.replace("TIME_RELATIVE", "time_relative")
    assert lower != data
    signal = readers.read_aecg(lower.encode())
    assert signal.lead_order == list(STANDARD_LEADS) and signal.lead_name() == "II"
    # the same lead twice, in two spellings, is refused as one lead twice
    twice = data.replace('code="MDC_ECG_LEAD_III"', 'code="mdc_ecg_lead_ii"', 1)
    assert twice != data
    with pytest.raises(SignalError, match="appears twice"):
        readers.read_aecg(twice.encode())
