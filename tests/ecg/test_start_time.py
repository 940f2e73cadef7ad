"""The recording's start as WFDB and EDF headers state it, and files whose stated start is malformed."""

from datetime import datetime

import numpy as np
import pytest

from ecg.io.readers import read_edf, read_wfdb, read_wfdb_upload, read_wfdb_zip, scan_edf, scan_wfdb
from ecg.io.start_time import edf_header_readable, edf_start, wfdb_header_readable, wfdb_start

FS = 250
SIGNAL_LINE = "rec.dat 16 200/mV 16 0 0 0 0 II\n"


def _ecg(seconds: float = 10.0) -> np.ndarray:
    t = np.arange(int(seconds * FS)) / FS
    return np.where((t % 0.8) < 0.04, 1.0, 0.0) + 0.05 * np.sin(2 * np.pi * t)


def _wfdb_record(folder, record_line: str) -> dict[str, bytes]:
    """A one-lead record ``rec`` whose header's record line is ``record_line`` (name, signals, fs and length
    are filled in before it)."""
    import wfdb

    values = _ecg()
    wfdb.wrsamp(
        "rec", fs=FS, units=["mV"], sig_name=["II"], p_signal=values[:, None], fmt=["16"], write_dir=str(folder)
    )
    lines = (folder / "rec.hea").read_text().splitlines(keepends=True)
    (folder / "rec.hea").write_text(f"rec 1 {FS} {len(values)} {record_line}".rstrip() + "\n" + "".join(lines[1:]))
    return {"rec.hea": (folder / "rec.hea").read_bytes(), "rec.dat": (folder / "rec.dat").read_bytes()}


@pytest.mark.parametrize(
    ("fields", "start"),
    [
        ("23:50:00 04/12/2026", datetime(2026, 12, 4, 23, 50)),  # WFDB dates are DD/MM/YYYY
        ("7:5:3 4/1/2026", datetime(2026, 1, 4, 7, 5, 3)),
        ("23:50:00.250 04/12/2026", datetime(2026, 12, 4, 23, 50, 0, 250_000)),
        ("23:50:00", None),  # a time of day without a date: no start
        ("", None),
        ("25:61:00 04/12/2026", None),
        ("23:50:00 2026-12-04", None),
        ("23:50:00 31/02/2026", None),
        ("23:50 04/12/2026", None),
        ("noon 04/12/2026", None),
    ],
)
def test_a_wfdb_header_states_its_start_only_with_a_valid_time_and_date(fields, start):
    header = f"rec 1 {FS} 2500 {fields}\n{SIGNAL_LINE}"
    assert wfdb_start(f"# a comment first\n{header}") == start


def test_a_wfdb_header_keeps_its_record_line_unless_its_start_is_malformed():
    assert wfdb_header_readable(f"rec 1 {FS} 2500 23:50:00 04/12/2026\n{SIGNAL_LINE}") is None
    assert wfdb_header_readable(f"rec 1 {FS} 2500 23:50:00\n{SIGNAL_LINE}") is None
    assert wfdb_header_readable(f"rec 1 {FS} 2500\n{SIGNAL_LINE}") is None
    fixed = wfdb_header_readable(f"# made by hand\nrec 1 {FS} 2500 25:61:00 04/12/2026\n{SIGNAL_LINE}")
    assert fixed == f"# made by hand\nrec 1 {FS} 2500\n{SIGNAL_LINE}"


def test_a_wfdb_record_read_keeps_the_start_its_header_states(tmp_path):
    files = _wfdb_record(tmp_path, "23:50:00 04/12/2026")
    assert read_wfdb(tmp_path / "rec").start == datetime(2026, 12, 4, 23, 50)
    assert read_wfdb_upload(files).start == datetime(2026, 12, 4, 23, 50)
    assert scan_wfdb(tmp_path / "rec").start == datetime(2026, 12, 4, 23, 50)


@pytest.mark.parametrize(
    "fields", ["25:61:00 04/12/2026", "23:50:00 2026-12-04", "23:50:00 31/02/2026", "23:50:00", "xx 04/12/2026"]
)
def test_a_wfdb_record_with_a_malformed_or_partial_start_is_read_without_one(tmp_path, fields):
    import io
    import zipfile

    files = _wfdb_record(tmp_path, fields)
    header_before = (tmp_path / "rec.hea").read_bytes()
    for signal in (read_wfdb(tmp_path / "rec"), read_wfdb_upload(files)):
        assert signal.start is None
        np.testing.assert_allclose(signal.lead(), _ecg(), atol=0.01)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    assert read_wfdb_zip(buffer.getvalue()).start is None
    header = scan_wfdb(tmp_path / "rec", chunk_samples=512)
    assert header.start is None and header.n_samples == len(_ecg())
    assert (tmp_path / "rec.hea").read_bytes() == header_before  # the file read is left as it was


# --- EDF ----------------------------------------------------------------------------------


def _edf(path, start: datetime | None = datetime(2026, 12, 4, 23, 50), plus: bool = True) -> bytes:
    import pyedflib

    kind = pyedflib.FILETYPE_EDFPLUS if plus else pyedflib.FILETYPE_EDF
    with pyedflib.EdfWriter(str(path), 1, file_type=kind) as writer:
        writer.setSignalHeaders(
            [
                {
                    "label": "ECG II",
                    "dimension": "mV",
                    "sample_frequency": FS,
                    "physical_min": -5,
                    "physical_max": 5,
                    "digital_min": -32768,
                    "digital_max": 32767,
                    "transducer": "",
                    "prefilter": "",
                }
            ]
        )
        if start is not None:
            writer.setStartdatetime(start)
        writer.writeSamples([_ecg()])
    return path.read_bytes()


def _patched(data: bytes, at: int, value: bytes) -> bytes:
    out = bytearray(data)
    out[at : at + len(value)] = value
    return bytes(out)


def test_an_edf_file_keeps_its_start_date_and_time(tmp_path):
    for plus in (True, False):
        data = _edf(tmp_path / f"start-{plus}.edf", plus=plus)
        assert edf_start(data[:256]) == datetime(2026, 12, 4, 23, 50)
        assert read_edf(data).start == datetime(2026, 12, 4, 23, 50)
        assert read_edf(tmp_path / f"start-{plus}.edf").start == datetime(2026, 12, 4, 23, 50)
        assert scan_edf(tmp_path / f"start-{plus}.edf").start == datetime(2026, 12, 4, 23, 50)


def test_edf_two_digit_years_run_from_1985_to_2084(tmp_path):
    data = _edf(tmp_path / "plain.edf", plus=False)
    assert edf_start(_patched(data, 168, b"01.02.85")[:256]) == datetime(1985, 2, 1, 23, 50)
    assert edf_start(_patched(data, 168, b"01.02.84")[:256]) == datetime(2084, 2, 1, 23, 50)
    assert edf_start(_patched(data, 168, b"01.02.00")[:256]) == datetime(2000, 2, 1, 23, 50)
    assert edf_start(_patched(data, 168, b"01.01.8500.00.00")[:256]) is None  # what anonymisers write


def test_an_edfplus_startdate_gives_the_four_digit_year(tmp_path):
    data = _edf(tmp_path / "plus.edf")
    assert data[88:109] == b"Startdate 04-DEC-2026"
    after_2084 = _patched(_patched(data, 168, b"04.12.yy"), 98, b"04-DEC-2090")  # EDF+ writes "yy" then
    assert read_edf(after_2084).start == datetime(2090, 12, 4, 23, 50)
    unknown = _patched(data, 88, b"Startdate X X X X".ljust(80))
    assert read_edf(unknown).start is None  # the fixed field's date is a placeholder then


@pytest.mark.parametrize(
    ("at", "value", "start"),
    [
        (176, b"25.61.00", None),  # no such time
        (176, b"23:50:00", None),  # colons, not EDF's dots
        (176, b"        ", None),
        (98, b"05-DEC-2026", None),  # EDF+ startdate disagreeing with the fixed field
        (98, b"31-FEB-2026", None),
        (98, b"04-dec-2026", None),  # EDF+ writes the month in capitals: the library refuses it otherwise
        (98, b"04-DEC-1926", None),  # the fixed field's "26" is 2026 (1985-2084)
        (168, b"xx.yy.zz", datetime(2026, 12, 4, 23, 50)),  # the EDF+ startdate still says
    ],
)
def test_an_edf_file_with_a_malformed_start_is_read_without_it(tmp_path, at, value, start):
    data = _patched(_edf(tmp_path / "plus.edf"), at, value)
    assert edf_header_readable(data[:256]) is not None
    signal = read_edf(data)
    assert signal.start == start
    np.testing.assert_allclose(signal.lead(), _ecg(), atol=0.001)
    (tmp_path / "bad.edf").write_bytes(data)
    assert read_edf(tmp_path / "bad.edf").start == start
    assert scan_edf(tmp_path / "bad.edf").start == start
    assert (tmp_path / "bad.edf").read_bytes() == data  # the file read is left as it was


def test_a_plain_edf_file_with_an_impossible_date_is_read_without_a_start(tmp_path):
    data = _patched(_edf(tmp_path / "plain.edf", plus=False), 168, b"31.02.26")
    assert read_edf(data).start is None


def test_an_edf_header_with_a_valid_start_is_read_as_it_is(tmp_path):
    assert edf_header_readable(_edf(tmp_path / "plus.edf")[:256]) is None
    assert edf_header_readable(_edf(tmp_path / "plain.edf", plus=False)[:256]) is None
