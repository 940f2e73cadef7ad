"""CSV signal files as spreadsheets and ECG software write them: UTF-8 with a byte-order mark, UTF-16 with
one (Excel's "Unicode text"), Windows-1252 (Excel's "CSV" on a Western-European Windows); and binary
files that start as a UTF-16 byte-order mark does, which are not taken for text."""

import io
import tracemalloc

import numpy as np
import pytest
import wfdb

from diagnostics.models import ECGRecording
from diagnostics.selectors import recording_stored_signal
from ecg.io.errors import SignalError
from ecg.io.readers import _decode_text, read_csv_signal, sniff_format

from ...data import mitdb_dir
from ...helpers import edf_bytes, upload

FS = 360.0
JUNK = "is not a CSV, XLSX, EDF, JSON, WFDB, DICOM or HL7 aECG file"


def _microvolts(n: int = 3600) -> np.ndarray:
    """A heartbeat-like lead in whole microvolts: a spike every 0.8 s on a slow wave."""
    t = np.arange(n) / FS
    return np.round(1200 * np.sin(np.pi * t / 0.8) ** 40 + 80 * np.sin(2 * np.pi * 0.3 * t))


def _rows(values: np.ndarray, sep: str, decimal: str = ".") -> list[str]:
    return [f"{i / FS:.5f}".replace(".", decimal) + f"{sep}{v:.0f}" for i, v in enumerate(values)]


def _read(data: bytes, name: str = "ecg.csv"):
    assert sniff_format(name, data[:4096]) == "csv"
    return read_csv_signal(data, FS)


def test_a_windows_1252_csv_with_mu_in_its_header_is_read():
    values = _microvolts()
    # what a German Excel saves as "CSV (Trennzeichen-getrennt)": cp1252, semicolons, decimal commas, CRLF
    data = b"Time [s];II [\xb5V]\r\n" + "\r\n".join(_rows(values, ";", ",")).encode("ascii") + b"\r\n"
    assert b"\xb5" in data[:20] and b"\xc2" not in data  # the µ is the single byte 0xB5, not UTF-8
    signal = _read(data)
    assert list(signal.leads) == ["II [µV]"]  # the time column is skipped
    np.testing.assert_array_equal(signal.leads["II [µV]"], values)


def test_windows_1252_other_than_mu_is_read_too():
    # bytes 0x80-0x9F are where Windows-1252 and Latin-1 differ: 0x96 is an en dash, not a control character
    data = b"Time [s];Ableitung II \x96 \xb5V\n" + "\n".join(_rows(_microvolts(), ";", ",")).encode("ascii")
    assert list(_read(data).leads) == ["Ableitung II – µV"]


@pytest.mark.parametrize("bom, codec", [(b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")], ids=["LE", "BE"])
def test_a_utf16_csv_with_a_bom_tab_separated_is_read(bom, codec):
    values = _microvolts()
    text = "Time [s]\tII [µV]\tV5 [µV]\r\n" + "\r\n".join(f"{r}\t{-v:.0f}" for r, v in zip(_rows(values, "\t"), values))
    data = bom + text.encode(codec)
    if codec == "utf-16-le":  # Excel's "Unicode text": a BOM, then two bytes a character, the low one first
        assert data[:8] == b"\xff\xfeT\x00i\x00m\x00"
    signal = _read(data)
    assert list(signal.leads) == ["II [µV]", "V5 [µV]"]
    np.testing.assert_array_equal(signal.leads["II [µV]"], values)
    np.testing.assert_array_equal(signal.leads["V5 [µV]"], -values)


def test_a_utf8_csv_with_a_bom_is_read_as_utf8():
    values = _microvolts()
    data = b"\xef\xbb\xbfTime [s],II [\xc2\xb5V]\n" + "\n".join(_rows(values, ",")).encode("ascii")
    signal = _read(data)
    assert list(signal.leads) == ["II [µV]"]  # no BOM in the first column's name: it is the time column
    np.testing.assert_array_equal(signal.leads["II [µV]"], values)


def test_a_headerless_windows_1252_csv_with_a_comment_is_read():
    values = _microvolts()
    data = b"# Ger\xe4t: Holter 3, Einheit \xb5V\n" + "\n".join(f"{v:.0f}" for v in values).encode("ascii")
    signal = _read(data)
    np.testing.assert_array_equal(signal.leads["ECG"], values)


@pytest.mark.parametrize(
    "first_sample, baseline",
    [(-257, 0), (-257, 1000), (-2, 1000), (-257, 60)],
    ids=["FFFE-near-zero", "FFFE-greek-cyrillic", "FEFF-cjk", "FFFE-ascii-letters"],
)
def test_a_wfdb_dat_starting_as_a_utf16_bom_is_not_taken_for_text(first_sample, baseline):
    # a format-16 .dat is little-endian 16-bit samples: a first sample of -257 is the bytes FF FE (a UTF-16LE
    # BOM), of -2 FE FF (UTF-16BE); around 1000 the rest decode to Greek and Cyrillic letters (LE) or CJK (BE),
    # all printable, and around 60 to ASCII letters
    samples = np.concatenate([[first_sample], baseline + _microvolts(2000) / 40]).astype("<i2")
    data = samples.tobytes()
    assert data[:2] in (b"\xff\xfe", b"\xfe\xff")
    for name in ("rec.dat", "ecg.csv"):
        with pytest.raises(SignalError, match=JUNK):
            sniff_format(name, data[:4096])


def test_binary_formats_are_sniffed_as_before_whatever_their_first_bytes():
    from ecg.datasets.carts import dicom_twelve_lead

    leads = {name: _microvolts(5000) / 1000 for name in ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")}
    dicom = dicom_twelve_lead(leads, 500.0)
    assert dicom[128:132] == b"DICM"
    assert sniff_format("e.dcm", b"\xff\xfe" + dicom[2:4096]) == "dicom"  # a preamble starting as a BOM
    assert sniff_format("e.edf", edf_bytes(_microvolts(2500) / 1000)[:4096]) == "edf"
    book = io.BytesIO()
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active.append(["II [µV]"])
    workbook.save(book)
    assert sniff_format("e.xlsx", book.getvalue()[:4096]) == "xlsx"


@pytest.mark.parametrize(
    "data, message",
    [
        (  # 0x81 is no character in Windows-1252 (nor UTF-8 on its own)
            b"Time;II\n0;1\n# \x81\n" + b"0.1;2\n" * 400,
            r"^ecg.csv is neither UTF-8 nor Windows-1252 text \(byte 0x81 at line 3\); save it as CSV UTF-8$",
        ),
        (  # UTF-16 without its byte-order mark: NULs between the characters
            "Time\tII [µV]\r\n0\t1\r\n".encode("utf-16-le") * 50,
            r"^ecg.csv is UTF-16 text without a byte-order mark; save it as CSV UTF-8",
        ),
        (  # JSON is UTF-8
            '{"fs": 360, "leads": {"II µV": [1, 2, 3]}}'.encode("cp1252"),
            r"^ecg.csv is not UTF-8 text \(byte 0xB5 at line 1\); a JSON file must be UTF-8",
        ),
        (
            "\ufeff[1, 2, 3]".encode("utf-16-le"),
            r"^ecg.csv is UTF-16 text; a JSON or XML file must be UTF-8",
        ),
    ],
    ids=["undefined-1252-byte", "utf16-without-bom", "json-in-1252", "json-in-utf16"],
)
def test_text_that_cannot_be_read_is_refused_naming_why(data, message):
    with pytest.raises(SignalError, match=message):
        sniff_format("ecg.csv", data[:4096])


def test_the_reader_refuses_a_file_that_leaves_its_encoding_after_the_head():
    rows = "\n".join(_rows(_microvolts(), ";", ",")).encode("ascii")
    head = b"Time [s];II [\xb5V]\n" + rows
    assert len(head) > 4096
    with pytest.raises(SignalError, match=r"^CSV file is neither UTF-8 nor Windows-1252 text \(byte 0x9D at line"):
        read_csv_signal(head + b"\n# \x9d", FS)
    utf16 = b"\xff\xfe" + "Time [s]\tII\n0\t1\n".encode("utf-16-le") * 300
    assert sniff_format("ecg.csv", utf16[:4096]) == "csv"
    with pytest.raises(SignalError, match=r"^CSV file is not UTF-16 text throughout \(truncated data at byte"):
        read_csv_signal(utf16 + b"\x00", FS)  # an odd number of bytes
    # a non-ASCII byte among the samples is no number, in any encoding
    with pytest.raises(SignalError, match=r"CSV file, row 3, column 'II \[µV\]': value '12\xb5' is not a number"):
        read_csv_signal(b"Time [s];II [\xb5V]\n0;1\n0,1;12\xb5\n" + rows, FS)


def test_a_utf8_head_with_other_bytes_later_is_read_as_before():
    # accepted before Windows-1252 was read (UTF-8 in the head that sniffing sees), so possibly stored: the
    # whole file is decoded as Latin-1, as it was then, and its stored lead name still names its column
    rows = "\n".join(_rows(_microvolts(), ",")).encode("ascii")
    data = b"Time [s],II [\xc2\xb5V]\n" + rows + b"\n# \xb5"
    assert list(_read(data).leads) == ["II [ÂµV]"]


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16"])
def test_decoding_holds_at_most_two_copies_of_the_file(encoding):
    text = "Zeit [s];II [µV]\r\n" + "\r\n".join(_rows(_microvolts(36_000), ";", ",")) * 5
    data = text.encode(encoding)
    tracemalloc.start()
    try:
        decoded = _decode_text(data, "CSV file")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert decoded.startswith("Zeit [s];II [µV]")
    assert peak < 2.2 * len(data)


# --- uploads ------------------------------------------------------------------------------


@pytest.fixture
def post(post_signal):
    return post_signal  # tests/conftest.py


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16", "utf-8-sig"])
@pytest.mark.django_db
def test_an_upload_in_an_excel_encoding_is_accepted_and_read_back_from_storage(post, encoding):
    values = np.round(wfdb.rdrecord(str(mitdb_dir() / "100"), sampto=3600).p_signal[:, 0] * 1000)
    sep = "\t" if encoding == "utf-16" else ";"
    text = f"Time [s]{sep}II [µV]\r\n" + "\r\n".join(_rows(values, sep, ",")) + "\r\n"
    response = post([upload("ecg.csv", text.encode(encoding))], fs="360")
    assert response.status_code == 302, response.content.decode()[-800:]
    recording = ECGRecording.objects.get()
    assert (recording.input_format, recording.lead, recording.leads, recording.sample_count) == (
        "csv",
        "II [µV]",
        ["II [µV]"],
        3600,
    )
    np.testing.assert_array_equal(recording_stored_signal(recording=recording).leads["II [µV]"], values)


@pytest.mark.django_db
def test_an_upload_in_another_8_bit_encoding_is_refused_naming_the_byte(post):
    values = np.round(wfdb.rdrecord(str(mitdb_dir() / "100"), sampto=3600).p_signal[:, 0] * 1000)
    data = b"Time [s];II [\x81V]\r\n" + "\r\n".join(_rows(values, ";", ",")).encode("ascii")
    response = post([upload("ecg.csv", data)], fs="360")
    assert response.status_code == 400
    assert "ecg.csv is neither UTF-8 nor Windows-1252 text (byte 0x81 at line 1); save it as CSV UTF-8" in (
        response.content.decode()
    )
    assert ECGRecording.objects.count() == 0
