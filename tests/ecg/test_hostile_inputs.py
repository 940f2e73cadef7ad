"""Hostile uploads a fuzzing session found escaping the readers, or read silently wrong: each is refused
with a SignalError (or UploadRefused) naming what is wrong, or read as the file means it."""

import io
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from diagnostics.ingestion import parse_beat_xlsx
from ecg.datasets.carts import aecg_twelve_lead, dicom_twelve_lead
from ecg.datasets.hostile import (
    _XLSX_PARTS,
    csv_long_signal,
    dicom_deflate_bomb,
    edf_annotations_bomb,
    wfdb_flac_bomb,
)
from ecg.io import aecg as aecg_module
from ecg.io.errors import SignalError
from ecg.io.readers import (
    _header_data_files,
    _unique_names,
    read_aecg,
    read_csv_signal,
    read_dicom,
    read_edf,
    read_json_signal,
    read_wfdb_upload,
    read_wfdb_zip,
    scan_wfdb,
    wfdb_declared_samples,
)
from ecgsite.errors import UploadRefused
from tests.helpers import edf_bytes

FS = 360
SECONDS = 10


def _ecg(fs: float = FS, seconds: float = SECONDS, peak: float = 1.0) -> np.ndarray:
    """A spiky 1-mV "ECG" at 72 bpm."""
    t = np.arange(int(fs * seconds)) / fs
    return peak * np.sin(2 * np.pi * 0.6 * t) ** 64


def _adc(values: np.ndarray, gain: float = 1000.0) -> np.ndarray:
    return np.round(values * gain).astype("<i2")


def _wfdb(record_line: str, *signal_lines: str, dat: bytes | None = None) -> dict[str, bytes]:
    """A record "r" whose header is the lines given, its r.dat one format-16 signal of 1000 per mV (as many
    interleaved copies as there are signal lines) unless ``dat`` is given."""
    if dat is None:
        dat = np.repeat(_adc(_ecg()), len(signal_lines)).tobytes()
    return {"r.hea": ("\n".join([record_line, *signal_lines]) + "\n").encode(), "r.dat": dat}


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytearray:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return bytearray(buffer.getvalue())


# --- 1. XLSX beat files whose cells or parts do not read ----------------------------------------------


def _xlsx(cells: str) -> bytes:
    sheet = (
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">'
        + cells
        + "</row></sheetData></worksheet>"
    )
    return bytes(_zip({**_XLSX_PARTS, "xl/worksheets/sheet1.xml": sheet}))


@pytest.mark.parametrize(
    "cells",
    [
        '<c t="s"><v>7</v></c>',  # a shared string the workbook does not hold (IndexError)
        "<c><v>NaN</v></c>",  # ValueError
        '<c t="d"><v>x</v></c>',  # a date that is none
        '<c r="1A"><v>1</v></c>',  # a cell reference upside down
        '<c t="b"><v>x</v></c>',
    ],
)
def test_an_xlsx_whose_cells_do_not_read_is_refused_as_damaged(cells):
    with pytest.raises(UploadRefused, match=r"the XLSX workbook could not be read: it is damaged"):
        parse_beat_xlsx(_xlsx(cells))


def test_an_xlsx_whose_deflate_stream_is_broken_is_refused_as_damaged():
    members = {k: v * 20 if k == "xl/workbook.xml" else v for k, v in _XLSX_PARTS.items()}
    raw = _zip({**members, "xl/worksheets/sheet1.xml": "<worksheet/>"})
    at = raw.find(b"xl/workbook.xml") + len("xl/workbook.xml") + 20
    raw[at : at + 8] = b"\xff" * 8
    with pytest.raises(UploadRefused, match=r"could not be read: it is damaged"):
        parse_beat_xlsx(bytes(raw))


# --- 2. a space-separated CSV with a short row --------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"1 2\n1\n", r"row 2, column 'lead 2': is empty"),
        (b"a b\n1\n", r"row 2, column 'b': is empty"),
        (b"1 2\n" * 2000 + b"1\n", r"row 2001, column 'lead 2': is empty"),
    ],
)
def test_a_space_separated_csv_row_short_of_cells_is_refused_as_a_comma_separated_one_is(data, message):
    with pytest.raises(SignalError, match=message):
        read_csv_signal(data, FS)
    with pytest.raises(SignalError, match=message):  # the same file separated by commas says the same
        read_csv_signal(data.replace(b" ", b","), FS)


# --- 3. JSON numbers beyond the range of a float -------------------------------------------------------


def test_a_json_sampling_rate_beyond_a_float_is_refused_naming_the_field():
    text = b'{"fs": 1' + b"0" * 400 + b', "leads": {"II": [1, 2, 3]}}'
    with pytest.raises(SignalError, match=r'field "fs" \(1000.*\) is too large a number'):
        read_json_signal(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"[0, 1" + b"0" * 400 + b", 2]", r"JSON array: element 1 \(1000.*\) is too large a number"),
        (b'{"fs": 360, "leads": {"II": [0, -1' + b"0" * 400 + b"]}}", r"leads.II: element 1 \(-1000.*\) is too large"),
    ],
)
def test_a_json_sample_beyond_a_float_is_refused_naming_it(text, message):
    with pytest.raises(SignalError, match=message):
        read_json_signal(text, 360.0 if text.startswith(b"[") else None)


def test_a_sampling_rate_given_beyond_a_float_is_refused():
    with pytest.raises(SignalError, match="too large a number"):
        read_json_signal([1, 2, 3], 10**400)


# --- 4. lead names made unique, truly -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "unique"),
    [
        (["x", "x", "x_2"], ["x", "x_3", "x_2"]),
        (["x_2", "x", "x"], ["x_2", "x", "x_3"]),
        (["x", "x", "x"], ["x", "x_2", "x_3"]),
        (["II", "ii"], ["II", "ii_2"]),
        (["", " ", "ECG"], ["ECG", "ECG_2", "ECG_3"]),
    ],
)
def test_unique_names_gives_each_lead_its_own_name(names, unique):
    assert _unique_names(names) == unique


def test_a_wfdb_record_naming_two_leads_alike_keeps_all_three():
    lines = [f"r.dat 16 1000/mV 16 0 0 0 0 {name}" for name in ("x", "x", "x_2")]
    data = np.stack([_adc(_ecg(peak=p)) for p in (1.0, 0.5, 0.25)], axis=1).tobytes()
    signal = read_wfdb_upload(_wfdb(f"r 3 {FS} {FS * SECONDS}", *lines, dat=data))
    assert {k: round(float(v.max()), 2) for k, v in signal.leads.items()} == {"x": 1.0, "x_3": 0.5, "x_2": 0.25}


def test_an_edf_naming_two_channels_alike_keeps_all_three():
    signal = read_edf(edf_bytes({"x": _ecg(), "x ": _ecg(peak=0.5), "x_2": _ecg(peak=0.25)}, fs=FS))
    assert {k: round(float(v.max()), 2) for k, v in signal.leads.items()} == {"x": 1.0, "x_3": 0.5, "x_2": 0.25}


def test_a_csv_naming_two_columns_alike_keeps_all_three():
    signal = read_csv_signal(b"x,x,x_2\n" + b"1,2,3\n4,5,6\n" * 1000, FS)
    assert {k: float(v[0]) for k, v in signal.leads.items()} == {"x": 1.0, "x_3": 2.0, "x_2": 3.0}


def test_a_dicom_naming_two_channels_alike_keeps_all_three():
    import pydicom
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    leads = {"I": _ecg(500), "II": _ecg(500, peak=0.5), "III": _ecg(500, peak=0.25)}
    ds = pydicom.dcmread(io.BytesIO(dicom_twelve_lead(leads, 500)))
    for channel, meaning in zip(ds.WaveformSequence[0].ChannelDefinitionSequence, ("x", "x", "x_2"), strict=True):
        source = Dataset()
        source.CodeMeaning = meaning
        channel.ChannelSourceSequence = Sequence([source])
    out = io.BytesIO()
    ds.save_as(out)
    signal = read_dicom(out.getvalue())
    # a name given again takes its channel's number, as recordings were stored under; where that is
    # taken too, the next free one
    assert {k: round(float(v.max()), 2) for k, v in signal.leads.items()} == {"x": 1.0, "x_2": 0.5, "x_2_3": 0.25}


def test_dicom_channel_names_given_twice_keep_the_names_stored_recordings_have():
    from ecg.io.dicom import _channel_names

    assert _channel_names(["I", "II", "II"]) == ["I", "II", "II_3"]
    assert _channel_names(["II", "II", "II"]) == ["II", "II_2", "II_3"]


# --- 5. damaged WFDB zips ----------------------------------------------------------------------------------


def _record_zip() -> bytearray:
    return _zip(_wfdb(f"r 1 {FS} {FS * SECONDS}", "r.dat 16 1000/mV 16 0 0 0 0 II"))


def test_a_wfdb_zip_whose_deflate_stream_is_broken_is_refused_as_damaged():
    raw = _record_zip()
    at = raw.find(b"r.dat") + len("r.dat") + 40
    raw[at : at + 16] = b"\xff" * 16
    with pytest.raises(SignalError, match=r"the ZIP archive is damaged"):
        read_wfdb_zip(bytes(raw))


def test_a_wfdb_zip_of_an_unknown_version_is_refused_as_damaged():
    raw = _record_zip()
    raw[raw.find(b"PK\x01\x02") + 6] = 224  # central directory: version needed to extract 22.4
    with pytest.raises(SignalError, match=r"the ZIP archive is damaged: zip file version 22.4"):
        read_wfdb_zip(bytes(raw))


def test_a_wfdb_zip_whose_members_start_before_the_file_is_refused_as_damaged():
    raw = _zip(_wfdb(f"r 1 {FS} {FS * SECONDS}", "r.dat 16 1000/mV 16 0 0 0 0 II"), zipfile.ZIP_STORED)
    end = raw.rfind(b"PK\x05\x06")  # the end record says the directory starts 15 bytes later than it does:
    offset = int.from_bytes(raw[end + 16 : end + 20], "little")  # the first member is sought at byte -15
    raw[end + 16 : end + 20] = (offset + 15).to_bytes(4, "little")
    with pytest.raises(SignalError, match=r"the ZIP archive is damaged: zip member 'r.hea' cannot be extracted"):
        read_wfdb_zip(bytes(raw))


# --- 6. control characters in lead names -----------------------------------------------------------------


def test_a_wfdb_lead_name_holding_a_nul_is_refused_naming_it():
    files = _wfdb(f"r 1 {FS} {FS * SECONDS}", "r.dat 16 1000/mV 16 0 0 0 0 I\x00I")
    with pytest.raises(SignalError, match=r"lead name 'I\\x00I' holds a control character \(U\+0000\)"):
        read_wfdb_upload(files)


def test_a_streamed_wfdb_lead_name_holding_a_nul_is_refused(tmp_path):
    for name, data in _wfdb(f"r 1 {FS} {FS * SECONDS}", "r.dat 16 1000/mV 16 0 0 0 0 I\x00I").items():
        (tmp_path / name).write_bytes(data)
    with pytest.raises(SignalError, match=r"holds a control character"):
        scan_wfdb(tmp_path / "r")


@pytest.mark.parametrize("name", ["II\x00", "V\x015", "a\x7fb", "I\nI"])
def test_a_json_or_csv_lead_name_holding_a_control_character_is_refused(name):
    import json

    from diagnostics.signal_uploads import parse_signal_upload

    values = _ecg().round(3).tolist()
    # an upload is refused any control character; every read (stored files among them) a NUL
    with pytest.raises(UploadRefused, match=r"holds a control character"):
        parse_signal_upload({"s.json": json.dumps({"fs": FS, "leads": {name: values}}).encode()}, fs=None, lead=None)
    if "\x00" in name:
        with pytest.raises(SignalError, match=r"holds a control character"):
            read_json_signal({"fs": FS, "leads": {name: values}})
    else:
        assert name in read_json_signal({"fs": FS, "leads": {name: values}}).leads
    text = f"{name};II\n".encode() + b"".join(f"{v};{v}\n".encode() for v in values)
    # a CSV holding a NUL is no text; a line break in a name ends its line
    expected = {"\x00": "is not a (text file|CSV)", "\n": "cannot be parsed|not a number"}
    message = next((m for ch, m in expected.items() if ch in name), r"holds a control character")
    with pytest.raises((SignalError, UploadRefused), match=message):
        parse_signal_upload({"s.csv": text}, fs=FS, lead=None)


# --- 7. aECG: a time increment that is no duration, an unknown encoding, a flood of elements ----------------


def _aecg(fs: float = 500) -> bytes:
    return aecg_twelve_lead({name: _ecg(fs) for name in ("I", "II", "V1")}, fs)


@pytest.mark.parametrize(
    ("increment", "message"),
    [
        ('value="5e-324" unit="ms"', "is not a positive duration"),
        ('value="1e-320" unit="s"', "above the maximum of 10000 Hz"),
        ('value="1e-320" unit="us"', "is not a positive duration"),
    ],
)
def test_an_aecg_time_increment_of_no_duration_is_refused(increment, message):
    data = _aecg().replace(b'value="0.002" unit="s"', increment.encode())
    assert data != _aecg()
    with pytest.raises(SignalError, match=message):
        read_aecg(data)


def test_an_aecg_in_an_unknown_encoding_is_refused_as_unreadable_xml():
    data = b'<?xml version="1.0" encoding="x-nope"?><AnnotatedECG xmlns="urn:hl7-org:v3"/>'
    with pytest.raises(SignalError, match=r"is not readable XML: unknown encoding: x-nope"):
        read_aecg(data)


def test_an_aecg_of_more_elements_than_any_holds_is_refused_early():
    assert _aecg().count(b"<") < aecg_module.MAX_ELEMENTS // 100  # a real one is far below the limit
    flood = b'<AnnotatedECG xmlns="urn:hl7-org:v3">' + b"<a/>" * (aecg_module.MAX_ELEMENTS + 10) + b"</AnnotatedECG>"
    with pytest.raises(SignalError, match=rf"holds more than {aecg_module.MAX_ELEMENTS} XML elements"):
        read_aecg(flood)


def test_a_real_aecg_still_reads():
    signal = read_aecg(_aecg())
    assert signal.fs == 500 and list(signal.leads) == ["I", "II", "V1"]


# --- 8. DICOM in Explicit VR Big Endian ------------------------------------------------------------------


def test_a_big_endian_dicom_reads_as_its_little_endian_original():
    import pydicom
    from pydicom.uid import ExplicitVRBigEndian

    leads = {"I": _ecg(500), "II": _ecg(500, peak=-0.7), "V1": _ecg(500, peak=0.3) + 0.1}
    little = dicom_twelve_lead(leads, 500)
    ds = pydicom.dcmread(io.BytesIO(little))
    group = ds.WaveformSequence[0]
    group.WaveformData = np.frombuffer(group.WaveformData, dtype="<i2").byteswap().tobytes()
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    out = io.BytesIO()
    pydicom.dcmwrite(out, ds, implicit_vr=False, little_endian=False)
    assert pydicom.dcmread(io.BytesIO(out.getvalue())).original_encoding == (False, False)
    expected, read = read_dicom(little), read_dicom(out.getvalue())
    assert read.fs == expected.fs and list(read.leads) == list(expected.leads)
    for name in expected.leads:
        np.testing.assert_array_equal(read.leads[name], expected.leads[name])


# --- 9. a streamed WFDB record naming a data file no file system holds ----------------------------------


def test_a_streamed_wfdb_header_naming_an_overlong_data_file_is_refused(tmp_path):
    (tmp_path / "r.hea").write_text(f"r 1 {FS} {FS * SECONDS}\n" + "1" * 300 + " 16 1000/mV 16 0 0 0 0 II\n")
    (tmp_path / "r.dat").write_bytes(_adc(_ecg()).tobytes())
    with pytest.raises(SignalError, match=r"r.hea: unsafe or invalid file name '1111"):
        scan_wfdb(tmp_path / "r")


# --- 10. WFDB header fields the WFDB library would read leniently --------------------------------------------

SIGNAL = "r.dat 16 1000/mV 16 0 0 0 0 II"


@pytest.mark.parametrize(
    ("record_line", "signal_line", "message"),
    [
        (f"r 1 -360 {FS * SECONDS}", SIGNAL, r"line 1: sampling frequency '-360' is not a positive number"),
        (f"r 1 nan {FS * SECONDS}", SIGNAL, r"line 1: sampling frequency 'nan' is not a positive number"),
        (f"r 1 0 {FS * SECONDS}", SIGNAL, r"sampling frequency '0' is not a positive number"),
        (f"r 1 3.6e2 {FS * SECONDS}", SIGNAL, r"sampling frequency '3.6e2' is not a positive number"),
        (f"r 1 {FS} -5", SIGNAL, r"line 1: number of samples '-5' is not an integer"),
        (f"r 1 {FS} {FS * SECONDS}", "r.dat 16 1,5/mV 16 0 0 0 0 II", r"line 2: gain field '1,5/mV' is not a number"),
        (f"r 1 {FS} {FS * SECONDS}", "r.dat 16 nan/mV 16 0 0 0 0 II", r"line 2: gain field 'nan/mV' is not a number"),
        (f"r 1 {FS} {FS * SECONDS}", "r.dat 16 1e999/mV 16 0 0 0 0 II", r"line 2: gain field '1e999/mV'"),
        (f"r 1 {FS} {FS * SECONDS}", "r.dat 16 1000/a.u. 16 0 0 0 0 II", r"line 2: units 'a.u.' are written with"),
        (f"r 1 {FS} {FS * SECONDS}", "r.dat 16+-100 1000/mV 16 0 0 0 0 II", r"line 2: sample format field '16\+-100'"),
        (f"r 1 {FS} {FS * SECONDS}", "r.dat", r"line 2: the signal line states no sample format"),
    ],
)
def test_a_wfdb_header_field_read_leniently_by_the_library_is_refused_naming_it(record_line, signal_line, message):
    with pytest.raises(SignalError, match=message):
        read_wfdb_upload(_wfdb(record_line, signal_line))


def test_a_wfdb_header_line_number_counts_its_comments():
    files = _wfdb(f"# made by hand\nr 1 {FS} {FS * SECONDS}", "# the lead\nr.dat 16 1,5/mV 16 0 0 0 0 II")
    with pytest.raises(SignalError, match=r"r.hea, line 4: gain field"):
        read_wfdb_upload(files)


@pytest.mark.parametrize(
    "record_line",
    [
        f"r 1 {FS} {FS * SECONDS}",
        f"r 1 {FS}.0 {FS * SECONDS}",
        f"r 1 {FS}/1000(0) {FS * SECONDS} 10:00:00 1/2/2020",
        f"r 1 {FS}(0) {FS * SECONDS}",
    ],
)
@pytest.mark.parametrize(
    "signal_line",
    [
        "r.dat 16 1000/mV 16 0 0 0 0 II",
        "r.dat 16 1000(0)/mV 16 0 0 0 0 II",
        "r.dat 16+0 1000.0/mV 16 0 0 0 0 II",
        "r.dat 16 1000 16 0 0 0 0 II",
        "r.dat 16 1e3/mV 16 0 0 0 0 II",
    ],
)
def test_wfdb_header_fields_the_spec_writes_are_read(record_line, signal_line):
    signal = read_wfdb_upload(_wfdb(record_line, signal_line))
    assert signal.fs == FS and list(signal.leads) == ["II"]
    assert round(float(signal.leads["II"].max()), 2) == 1.0


def test_a_wfdb_gain_of_zero_is_still_read_as_uncalibrated_200_per_mv():
    signal = read_wfdb_upload(_wfdb(f"r 1 {FS} {FS * SECONDS}", "r.dat 16 0 16 0 0 0 0 II"))
    assert round(float(signal.leads["II"].max()), 2) == 5.0  # 1000 counts at the library's 200 per mV


def test_the_header_checks_pass_every_real_wfdb_header_in_the_data_directory():
    from tests.data import DATA_DIR

    headers = sorted(Path(DATA_DIR).rglob("*.hea"))[:300]
    if not headers:
        pytest.skip("no WFDB records in ECG_DATA_DIR")
    for header in headers:
        _header_data_files(header.read_bytes(), header.name)


# --- 11. a WFDB header declaring more than the longest recording accepted ------------------------------


def test_a_wfdb_header_declaring_a_recording_longer_than_the_limit_is_refused_before_reading():
    n = FS * 120  # two minutes, its data all there (no "holds far fewer")
    files = _wfdb(f"r 1 {FS} {n}", "r.dat 16 1000/mV 16 0 0 0 0 II", dat=np.tile(_adc(_ecg()), 12).tobytes())
    # refused as the same recording is once read (a lead too long), before a sample is read
    with pytest.raises(SignalError, match=r"r.hea declares 43200 samples at 360 Hz \(120 s\); the maximum is 60 s"):
        read_wfdb_zip(bytes(_zip(files)), max_seconds=60)
    with pytest.raises(SignalError, match=r"the maximum is 60 s"):
        read_wfdb_upload(files, max_seconds=60)
    assert read_wfdb_upload(files, max_seconds=120).duration_s == 120


def test_a_format_8_bomb_is_refused_from_its_header():
    files = {"r.hea": b"r 1 1200 104856576\nr.dat 8 200/mV 8 0 0 0 0 II\n", "r.dat": b"\x01" * (104856576 // 8)}
    with pytest.raises(SignalError, match=r"declares 104856576 samples at 1200 Hz \(87380 s\); the maximum is 86400 s"):
        read_wfdb_zip(bytes(_zip(files)), max_seconds=24 * 3600)


# --- 12. messages that say what is wrong -----------------------------------------------------------------------


def test_an_unsupported_wfdb_format_is_named():
    with pytest.raises(SignalError, match=r"r.hea, line 2: unsupported WFDB sample format 999"):
        read_wfdb_upload(_wfdb(f"r 1 {FS} {FS * SECONDS}", "r.dat 999 1000/mV 16 0 0 0 0 II"))


@pytest.mark.parametrize(
    ("signal_line", "message"),
    [
        ("r.dat 16 1000(99999999999999999999)/mV 16 0 0 0 0 II", r"line 2: baseline 99999999999999999999 out of range"),
        ("r.dat 16 1000/mV 16 99999999999999999999 0 0 0 II", r"line 2: ADC zero 99999999999999999999 out of range"),
    ],
)
def test_a_wfdb_baseline_beyond_an_integer_is_refused_as_out_of_range(signal_line, message):
    with pytest.raises(SignalError, match=message):
        read_wfdb_upload(_wfdb(f"r 1 {FS} {FS * SECONDS}", signal_line))


def test_an_aecg_digit_holding_a_non_ascii_space_is_named_whole():
    data = _aecg().replace(b"<digits>", "<digits>0\u00a01 ".encode(), 1)
    with pytest.raises(SignalError, match=r"lead I: digit 1 \('0\\xa01'\) is not an integer"):
        read_aecg(data)


def test_a_wfdb_record_line_without_a_rate_is_read_at_the_specs_250_hz():
    signal = read_wfdb_upload(_wfdb("r 1", SIGNAL))
    assert signal.fs == 250.0


def test_a_negative_wfdb_gain_is_an_inverted_lead():
    signal = read_wfdb_upload(_wfdb(f"r 1 {FS} {FS * SECONDS}", "r.dat 16 -1000/mV 16 0 0 0 0 II"))
    assert round(float(signal.leads["II"].min()), 2) == -1.0


def test_a_stored_wfdb_record_is_read_as_it_was_accepted_before_the_header_checks():
    # a recording stored before the checks (a 'nan' rate the library reads as 250 Hz) stays readable
    import zipfile

    files = _wfdb(f"r 1 nan {FS * SECONDS}", SIGNAL)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    with pytest.raises(SignalError, match="sampling frequency 'nan'"):
        read_wfdb_zip(buffer.getvalue())
    assert read_wfdb_zip(buffer.getvalue(), strict=False).fs == 250.0


# --- 13. DICOM in Deflated Explicit VR Little Endian: inflated within the limit, never whole ------------------


def _peak_traced_bytes(read) -> int:
    """The most memory Python and numpy held at once while ``read()`` ran (whatever it raised)."""
    tracemalloc.start()
    try:
        read()
    except SignalError:
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_deflated_dicom_reads_as_its_explicit_little_endian_original():
    import pydicom
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    leads = {"I": _ecg(500), "II": _ecg(500, peak=-0.7), "V1": _ecg(500, peak=0.3) + 0.1}
    plain = dicom_twelve_lead(leads, 500)
    ds = pydicom.dcmread(io.BytesIO(plain))
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    out = io.BytesIO()
    pydicom.dcmwrite(out, ds, enforce_file_format=True)
    assert len(out.getvalue()) < len(plain) // 4  # deflated
    expected, read = read_dicom(plain), read_dicom(out.getvalue(), max_bytes=len(plain))
    assert read.fs == expected.fs and list(read.leads) == list(expected.leads)
    for name in expected.leads:
        np.testing.assert_array_equal(read.leads[name], expected.leads[name])


def test_a_deflated_dicom_bomb_is_refused_without_inflating_past_the_limit():
    bomb = dicom_deflate_bomb(64 << 20)  # 64 KB inflating to 64 MiB
    assert len(bomb) < 100_000
    with pytest.raises(SignalError, match=r"deflated dataset inflates to more than 1048576 bytes") as refused:
        read_dicom(bomb, max_bytes=1 << 20)
    assert (refused.value.limit_exceeded, refused.value.limit) == (True, "bytes")
    # what was held: the limit's worth of the dataset (pydicom alone inflated all 64 MiB before any check)
    assert _peak_traced_bytes(lambda: read_dicom(bomb, max_bytes=1 << 20)) < 8 << 20


def test_a_deflated_dicom_cut_short_is_refused_naming_it():
    with pytest.raises(SignalError, match=r"deflated dataset ends before its deflate stream does"):
        read_dicom(dicom_deflate_bomb(1 << 20)[:-100])


# --- 14. WFDB records in FLAC: held to a budget of samples whatever a byte holds ---------------------------


def test_a_flac_record_declaring_more_samples_than_its_budget_is_refused_before_it_is_decoded(monkeypatch):
    import soundfile

    files = wfdb_flac_bomb(1_500_000, fs=1000)  # 1.5 million samples in ~220 KB: 7 a byte, as no fixed format packs
    assert len(files["flac.dat"]) < 1_500_000 // 6 and wfdb_declared_samples(files["flac.hea"], 0) == 1_500_000

    def decoded(*args, **kwargs):
        raise AssertionError("the FLAC data was decoded")

    monkeypatch.setattr(soundfile, "SoundFile", decoded)
    with pytest.raises(SignalError, match=r"flac.hea declares 1500000 samples .*; at most 1048576") as refused:
        read_wfdb_upload(files, max_bytes=1 << 20)  # by default, one sample a byte the reader may take
    assert (refused.value.limit_exceeded, refused.value.limit) == (True, "samples")
    with pytest.raises(SignalError, match=r"declares 1500000 samples"):
        read_wfdb_zip(bytes(_zip(files)), max_bytes=1 << 20)
    with pytest.raises(SignalError, match=r"at most 1000000 are accepted"):
        read_wfdb_upload(files, max_samples=1_000_000)


def test_a_stored_record_over_the_sample_budget_is_read_as_it_was_accepted_before_the_budget():
    # a FLAC Holter stored before the budget came must stay readable by the worker, the viewer and FHIR
    data = bytes(_zip(wfdb_flac_bomb(300_000, fs=1000)))  # about 38 KB: 8 samples a byte
    with pytest.raises(SignalError, match=r"declares 300000 samples"):
        read_wfdb_zip(data, max_bytes=100_000)
    assert read_wfdb_zip(data, max_bytes=100_000, strict=False).n_samples == 300_000


def test_a_flac_record_within_its_budget_still_reads_and_scans(tmp_path):
    files = wfdb_flac_bomb(20_000, fs=1000)
    signal = read_wfdb_upload(files, max_bytes=1 << 20)
    assert (signal.fs, signal.n_samples, float(signal.leads["MLII"].max())) == (1000.0, 20_000, 2.0)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    header = scan_wfdb(tmp_path / "flac", max_samples=20_000, chunk_samples=3000)
    assert (header.fs, header.n_samples) == (1000.0, 20_000)


def test_samples_declared_count_every_signal_and_sample_a_frame():
    header = b"r 3 360 1000\nr.dat 16x4 200 16 0 0 0 0 I\nr.dat 16 200 16 0 0 0 0 II\nr.dat 16 200 16 0 0 0 0 V\n"
    assert wfdb_declared_samples(header, 0) == 6000
    assert wfdb_declared_samples(b"r 1 360\nr.dat 16 200 16 0 0 0 0 I\n", 5000) == 5000  # read to the data's end
    assert wfdb_declared_samples(b"not a header", 10) == 0


# --- 15. the bounded check reads chunks of all signals together, whatever the record's width --------------


def test_the_bounded_check_reads_chunks_of_samples_of_all_signals_together(tmp_path, monkeypatch):
    import wfdb

    n_sig, n = 8, FS * SECONDS
    lead = _adc(_ecg())
    files = _wfdb(
        f"r {n_sig} {FS} {n}",
        *[f"r.dat 16 1000/mV 16 0 0 0 0 L{i}" for i in range(n_sig)],
        dat=np.repeat(lead, n_sig).tobytes(),
    )
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    asked: list[int] = []
    read = wfdb.rdrecord

    def rdrecord(*args, **kwargs):
        asked.append(kwargs["sampto"] - kwargs["sampfrom"])
        return read(*args, **kwargs)

    monkeypatch.setattr(wfdb, "rdrecord", rdrecord)
    header = scan_wfdb(tmp_path / "r", chunk_samples=800)
    assert header.n_samples == n and max(asked) == 800 // n_sig  # frames of 8 signals: 800 samples a chunk


# --- 16. a zip expanding past its limit is refused as a size limit (413 at the upload) ----------------------


def test_a_zip_expanding_past_its_limit_is_refused_as_a_size_limit():
    files = _wfdb(f"r 1 {FS} {FS * SECONDS}", SIGNAL, dat=bytes(4 << 20))
    with pytest.raises(SignalError, match=r"zip expands to 4194\d+ bytes, over the limit of 1048576 bytes") as refused:
        read_wfdb_zip(bytes(_zip(files)), max_bytes=1 << 20)
    assert (refused.value.limit_exceeded, refused.value.limit) == (True, "bytes")


# --- 17. an EDF+ annotations channel is never read: one packed with annotations costs nothing --------------


# The peak resident memory of a fresh process (VmHWM: ru_maxrss would keep the forking test process's).
_PEAK_RSS_PROBE = """
import re, sys
import numpy, pyedflib
from ecg.io.readers import read_edf, scan_edf
def peak():
    return int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) // 1024
before = peak()
scan_edf(sys.argv[1])
read_edf(sys.argv[1])
print(peak() - before)
"""


def test_an_edf_annotations_channel_packed_with_annotations_is_not_read_into_memory(tmp_path):
    """200,000 two-byte annotations in 460 KB: the EDF library read each into a struct of about 0.5 KiB at
    open (some 100 MB, paid again at every open); the readers open it without its annotations."""
    import subprocess
    import sys

    path = tmp_path / "annotated.edf"
    path.write_bytes(edf_annotations_bomb(100))
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS_PROBE, str(path)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert int(done.stdout) < 30  # MB of peak resident memory beyond the imports'


# --- 18. a long CSV signal is read in chunks of rows: a small multiple of its size, whatever its length -----


def test_a_long_csv_signal_is_read_in_a_small_multiple_of_its_size():
    data = csv_long_signal(1 << 20)  # 1 MiB, some 150,000 samples: 110 MB held before (a string per line, per cell)
    assert read_csv_signal(data, FS).n_samples > 140_000
    assert _peak_traced_bytes(lambda: read_csv_signal(data, FS)) < 10 * len(data)


def test_a_bad_cell_past_the_first_chunk_of_rows_is_named_by_its_line():
    rows = ["# exported by a recorder", "", "time,II", *(f"{i},{v}" for i, v in enumerate(np.tile(_ecg(), 20)))]
    rows[70_003] = "70000,0.5x"
    with pytest.raises(SignalError, match=r"CSV file, row 70004, column 'II': value '0.5x' is not a number"):
        read_csv_signal(("\n".join(rows) + "\n").encode(), FS)
    rows[70_003] = "70000,"
    with pytest.raises(SignalError, match=r"CSV file, row 70004, column 'II': is empty"):
        read_csv_signal(("\r\n".join(rows) + "\r\n").encode(), FS)


# --- CSV signals: lines after the last sample cost no Python step each ------------------------------------------


def _python_calls(read) -> int:
    """How many Python functions and built-ins ``read()`` called: a count of the steps taken in Python, which a
    loop per line of the file makes grow with its length (a clock would measure the machine as well)."""
    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        calls += event in ("call", "c_call")

    sys.setprofile(count)
    try:
        read()
    finally:
        sys.setprofile(None)
    return calls


@pytest.mark.parametrize("tail", ["\n", "  \n", "# a note\n"], ids=["blank", "spaces", "comments"])
def test_lines_after_the_last_sample_of_a_csv_signal_cost_no_python_step_each(tail):
    # 24 MiB of blank lines after 10 s of samples had held the web process 26 s, and every later read (the worker,
    # the viewer) as long: the last line with a value was looked for one line at a time from the end
    rows = "\n".join(f"{v:.3f}" for v in _ecg())
    short = _python_calls(lambda: read_csv_signal((rows + "\n" + tail * 10).encode(), FS))
    long = _python_calls(lambda: read_csv_signal((rows + "\n" + tail * 200_000).encode(), FS))
    assert long < short + 1000, (short, long)


# --- DICOM: a channel's code meaning of any length is read in linear time ----------------------------------------


@pytest.mark.parametrize("meaning", ["Lead" + " " * 100_000 + "II", "(" * 100_000], ids=["spaces", "parentheses"])
def test_a_dicom_channels_long_code_meaning_is_named_at_once(meaning):
    # a qualifier "(...)" at the end of the name was cut by a pattern that began again at every blank or
    # parenthesis: 100 KB held the reader 7 to 20 s, a meaning of megabytes for hours
    import time

    import pydicom
    from pydicom import config

    ds = pydicom.dcmread(io.BytesIO(dicom_twelve_lead({"II": _ecg(500)}, 500)))
    channel = ds.WaveformSequence[0].ChannelDefinitionSequence[0]
    out = io.BytesIO()
    with config.disable_value_validation():
        channel.ChannelSourceSequence[0].CodeMeaning = meaning
        ds.save_as(out)
    started = time.monotonic()
    signal = read_dicom(out.getvalue())
    assert time.monotonic() - started < 3
    assert len(signal.leads) == 1  # named by the meaning, which a value of 64 KB or more holds as bytes
