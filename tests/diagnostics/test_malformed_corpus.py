"""A corpus of malformed uploads: each is refused with a 4xx naming the problem, and nothing is stored."""

import html
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from django.urls import reverse

from diagnostics.models import ECGRecording
from ecg.datasets.carts import aecg_twelve_lead, dicom_twelve_lead, synthetic_twelve_lead

from ..conftest import client_for
from ..data import mitdb_dir
from ..helpers import beat_csv, beat_rows, edf_bytes, upload


@dataclass
class Case:
    kind: str
    files: list  # [(name, bytes)] or a callable returning it
    status: int | tuple
    fragment: str
    fields: dict | None = None
    settings: dict | None = None


def csv_lines(n=10, **kw) -> list[str]:
    return beat_csv(n, **kw).decode().splitlines()


def with_row(row: int, cells: list[str]) -> bytes:
    lines = csv_lines()
    lines[row - 1] = ",".join(cells)
    return "\n".join(lines).encode()


def row_cells(row=1) -> list[str]:
    return csv_lines()[row - 1].split(",")


def replaced(row, col, value) -> bytes:
    cells = row_cells(row)
    cells[col - 1] = value
    return with_row(row, cells)


def xlsx(rows) -> bytes:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def zipped(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_version(data: bytes, version: int) -> bytes:
    """``data``, a zip, whose central directory says its first member needs zip ``version`` (90: 9.0) to extract."""
    at = data.index(b"PK\x01\x02") + 6
    return data[:at] + version.to_bytes(2, "little") + data[at + 2 :]


def zip_bomb(name: str, inner: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open(inner, "w", force_zip64=True) as fh:
            block = bytes(1 << 20)
            for _ in range(400):  # 400 MiB of zeros, about 400 KiB compressed
                fh.write(block)
    return buffer.getvalue()


def mitdb(name: str) -> bytes:
    return (mitdb_dir() / name).read_bytes()


def signal_csv(values) -> bytes:
    return "\n".join(f"{v:.4f}" for v in values).encode()


SINE = np.sin(np.arange(3600) / 8.0)


def twelve_lead_dicom(**changes) -> bytes:
    import pydicom

    ds = pydicom.dcmread(io.BytesIO(dicom_twelve_lead(synthetic_twelve_lead(), 500.0)))
    for key, value in changes.items():
        setattr(ds.WaveformSequence[0], key, value)
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def twelve_lead_dicom_of_class(sop_class: str) -> bytes:
    import pydicom

    ds = pydicom.dcmread(io.BytesIO(dicom_twelve_lead(synthetic_twelve_lead(), 500.0)))
    ds.SOPClassUID = sop_class
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def twelve_lead_aecg() -> bytes:
    return aecg_twelve_lead(synthetic_twelve_lead(), 500.0)


XML_BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE AnnotatedECG [<!ENTITY a "aaaaaaaaaa">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    b'<AnnotatedECG xmlns="urn:hl7-org:v3">&c;</AnnotatedECG>'
)

CASES: dict[str, Case] = {
    # --- beat files: CSV -----------------------------------------------------------
    "csv-empty": Case("beats", [("b.csv", b"")], 400, "empty"),
    "csv-blank-lines": Case("beats", [("b.csv", b"\n \n\n")], 400, "empty"),
    "csv-186-values": Case("beats", lambda: [("b.csv", with_row(7, row_cells(7)[:186]))], 400, "row 7 has 186 values"),
    "csv-189-values": Case(
        "beats", lambda: [("b.csv", with_row(2, row_cells(2) + ["0", "1"]))], 400, "row 2 has 189 values"
    ),
    "csv-text-cell": Case(
        "beats", lambda: [("b.csv", replaced(4, 9, "high"))], 400, "row 4, column 9: 'high' is not a number"
    ),
    "csv-nan": Case("beats", lambda: [("b.csv", replaced(3, 2, "NaN"))], 400, "row 3, column 2"),
    "csv-inf": Case("beats", lambda: [("b.csv", replaced(5, 100, "inf"))], 400, "row 5, column 100"),
    "csv-out-of-scale": Case("beats", lambda: [("b.csv", replaced(6, 50, "3.7"))], 400, "outside 0–1"),
    "csv-negative": Case("beats", lambda: [("b.csv", replaced(1, 1, "-5"))], 400, "row 1, column 1: -5 is outside 0–1"),
    "csv-label-7": Case(
        "beats",
        lambda: [("b.csv", "\n".join(l[: l.rfind(",")] + ",7" for l in csv_lines(3, label=True)).encode())],
        400,
        "column 188: label '7'",
    ),
    "csv-label-text": Case(
        "beats",
        lambda: [("b.csv", "\n".join(l[: l.rfind(",")] + ",normal" for l in csv_lines(3, label=True)).encode())],
        400,
        "column 188",
    ),
    "csv-mixed-widths": Case(
        "beats",
        lambda: [("b.csv", "\n".join(csv_lines(2, label=True) + csv_lines(2)).encode())],
        400,
        "row 3 has 187 values but the rows before it have 188",
    ),
    "csv-header-only": Case(
        "beats", lambda: [("b.csv", csv_lines(1, header=True)[0].encode())], 400, "header row but no beats"
    ),
    "csv-binary": Case("beats", [("b.csv", b"\x00\x01\x02" * 500)], 415, "binary"),
    # UTF-16 with its byte-order mark is read (Excel's "Unicode text"); without one, or as other bytes, it is not text
    "csv-utf16-read-then-too-short": Case("beats", [("b.csv", "0,5;é".encode("utf-16"))], 400, "row 1"),
    "csv-utf16-without-bom": Case("beats", [("b.csv", "0,5;é".encode("utf-16-le"))], 415, "binary, not text"),
    "csv-undefined-bytes": Case("beats", [("b.csv", b"0.5,\x81\x8d\n")], 415, "save it as CSV UTF-8"),
    "csv-too-many-rows": Case(
        "beats", lambda: [("b.csv", beat_csv(12))], 413, "at most 10", settings={"ECG_MAX_BEAT_ROWS": 10}
    ),
    "csv-too-large": Case(
        "beats", lambda: [("b.csv", beat_csv(12))], 413, "the limit is", settings={"ECG_MAX_UPLOAD_BYTES": 4096}
    ),
    "csv-wrong-extension": Case("beats", lambda: [("b.exe", beat_csv(2))], 415, "must be .csv, .txt or .xlsx"),
    "csv-no-extension": Case("beats", lambda: [("beats", beat_csv(2))], 415, "has extension (none)"),
    "csv-html": Case("beats", [("b.csv", b"<html><script>alert(1)</script></html>")], 400, "row 1"),
    # --- beat files: XLSX ----------------------------------------------------------
    "xlsx-renamed-pdf": Case("beats", [("b.xlsx", b"%PDF-1.7\n%binary")], 415, "not an XLSX workbook"),
    "xlsx-plain-zip": Case("beats", lambda: [("b.xlsx", zipped({"notes.txt": b"hello"}))], 415, "not an XLSX workbook"),
    "xlsx-truncated": Case("beats", lambda: [("b.xlsx", xlsx([[0.5] * 187])[:600])], (400, 415), "XLSX"),
    "xlsx-186-values": Case(
        "beats",
        lambda: [("b.xlsx", xlsx([list(r) for r in beat_rows(3)] + [list(beat_rows(1)[0][:186])]))],
        400,
        "row 4 has 186 values",
    ),
    "xlsx-text-cell": Case(
        "beats",
        lambda: [("b.xlsx", xlsx([[0.5] * 187, ["x"] + [0.5] * 186]))],
        400,
        "row 2, column 1: 'x' is not a number",
    ),
    "xlsx-empty-sheet": Case("beats", lambda: [("b.xlsx", xlsx([]))], 400, "empty"),
    # a zip version the zip module does not know had been a 500 (NotImplementedError)
    "xlsx-unknown-zip-version": Case(
        "beats", lambda: [("b.xlsx", zip_version(xlsx([[0.5] * 187]), 90))], 415, "not a valid XLSX workbook"
    ),
    "xlsx-zip-bomb": Case(
        "beats", lambda: [("b.xlsx", zip_bomb("b.xlsx", "xl/worksheets/sheet1.xml"))], 413, "refused as too large"
    ),
    # --- signals: WFDB -------------------------------------------------------------
    "wfdb-header-only": Case("signal", lambda: [("100.hea", mitdb("100.hea"))], 400, ".dat is missing"),
    "wfdb-data-only": Case("signal", lambda: [("100.dat", mitdb("100.dat")[:5000])], 400, ".hea is missing"),
    "wfdb-garbage-header": Case(
        "signal", lambda: [("x.hea", b"this is not a header\n"), ("x.dat", mitdb("100.dat")[:3000])], 400, "x.hea"
    ),
    "wfdb-missing-data-file": Case(
        "signal", lambda: [("100.hea", mitdb("100.hea")), ("101.dat", mitdb("101.dat")[:3000])], 400, "100.dat"
    ),
    "wfdb-zip-traversal": Case(
        "signal",
        lambda: [("r.zip", zipped({"../../etc/100.hea": mitdb("100.hea"), "100.dat": mitdb("100.dat")}))],
        400,
        "unsafe path",
    ),
    "wfdb-zip-two-records": Case(
        "signal",
        lambda: [("r.zip", zipped({"100.hea": mitdb("100.hea"), "101.hea": mitdb("101.hea")}))],
        400,
        "one WFDB record",
    ),
    "wfdb-zip-bomb": Case("signal", lambda: [("r.zip", zip_bomb("r.zip", "100.dat"))], (400, 413), "zip"),
    "wfdb-truncated-data": Case(
        "signal", lambda: [("100.hea", mitdb("100.hea")), ("100.dat", mitdb("100.dat")[:1001])], 400, "100"
    ),
    "wfdb-form-rate-contradicts": Case(
        "signal",
        lambda: [("100.hea", mitdb("100.hea")), ("100.dat", mitdb("100.dat"))],
        400,
        "WFDB record: the file says 360 Hz and the sampling rate given 500 Hz",
        fields={"fs": "500"},
    ),
    # --- signals: EDF --------------------------------------------------------------
    "edf-truncated-header": Case("signal", [("x.edf", b"0       " + b"patient" * 10)], 400, "EDF"),
    "edf-garbage-after-magic": Case("signal", [("x.edf", b"0       " + bytes(range(256)) * 20)], 400, "EDF"),
    "edf-bdf": Case("signal", [("x.bdf", b"\xffBIOSEMI" + b" " * 248)], 400, "BDF"),
    "edf-flat-line": Case("signal", lambda: [("x.edf", edf_bytes(np.zeros(250 * 10)))], 400, "flat line"),
    "edf-form-rate-contradicts": Case(
        "signal",
        lambda: [("x.edf", edf_bytes(np.sin(2 * np.pi * 1.2 * np.arange(250 * 20) / 250) ** 31))],
        400,
        "EDF file: the file says 250 Hz and the sampling rate given 500 Hz",
        fields={"fs": "500"},
    ),
    # --- signals: JSON -------------------------------------------------------------
    "json-syntax": Case("signal", [("s.json", b'{"fs": 360, "leads": [1, 2,')], 400, "JSON"),
    "json-string-element": Case(
        "signal", [("s.json", json.dumps({"fs": 360, "leads": {"II": [0.1, "x", 0.2]}}).encode())], 400, "element 1"
    ),
    "json-no-fs": Case("signal", [("s.json", json.dumps({"leads": {"II": list(SINE)}}).encode())], 400, "fs"),
    "json-unequal-leads": Case(
        "signal",
        [("s.json", json.dumps({"fs": 360, "leads": {"I": list(SINE), "II": list(SINE[:100])}}).encode())],
        400,
        "different lengths",
    ),
    "json-form-rate-contradicts": Case(
        "signal",
        [("s.json", json.dumps({"fs": 360, "leads": {"II": list(SINE)}}).encode())],
        400,
        "JSON signal: the file says 360 Hz and the sampling rate given 500 Hz",
        fields={"fs": "500"},
    ),
    "json-null-sample": Case(
        "signal",
        [("s.json", json.dumps({"fs": 360, "leads": {"II": [0.1, None] + list(SINE)}}).encode())],
        400,
        "element 1",
    ),
    # --- signals: CSV --------------------------------------------------------------
    "signal-csv-no-fs": Case("signal", [("s.csv", signal_csv(SINE))], 400, "sampling rate"),
    "signal-csv-fs-50": Case(
        "signal", [("s.csv", signal_csv(SINE))], 400, "below the minimum of 100 Hz", fields={"fs": "50"}
    ),
    "signal-csv-absurd-fs": Case(
        "signal", [("s.csv", signal_csv(SINE))], 400, "above the maximum", fields={"fs": "1000000"}
    ),
    "signal-csv-flat": Case("signal", [("s.csv", signal_csv(np.zeros(3600)))], 400, "flat line", fields={"fs": "360"}),
    "signal-csv-short": Case(
        "signal", [("s.csv", signal_csv(SINE[:400]))], 400, "at least 2.5 s", fields={"fs": "360"}
    ),
    "signal-csv-text-row": Case(
        "signal",
        [("s.csv", signal_csv(SINE[:1000]) + b"\nlead-off\n" + signal_csv(SINE[:2000]))],
        400,
        "row 1001",
        fields={"fs": "360"},
    ),
    # --- signals: DICOM and HL7 aECG 12-lead ----------------------------------------------
    "dicom-truncated": Case("signal", lambda: [("e.dcm", twelve_lead_dicom()[:3000])], 400, "DICOM file"),
    "dicom-huge-declared-samples": Case(
        "signal",
        lambda: [("e.dcm", twelve_lead_dicom(NumberOfWaveformSamples=2_000_000_000))],
        413,
        "declares 2000000000 samples",
    ),
    "dicom-wrong-channel-count": Case(
        "signal",
        lambda: [("e.dcm", twelve_lead_dicom(NumberOfWaveformChannels=13))],
        400,
        "NumberOfWaveformChannels is 13 but ChannelDefinitionSequence has 12",
    ),
    "dicom-too-many-channels": Case(
        "signal", lambda: [("e.dcm", twelve_lead_dicom())], 413, "12 channels", settings={"ECG_MAX_COLUMNS": 8}
    ),
    "dicom-form-rate-contradicts": Case(
        "signal",
        lambda: [("e.dcm", twelve_lead_dicom())],
        400,
        "the file says 500 Hz and the sampling rate given 360 Hz",
        {"fs": "360"},
    ),
    "aecg-form-rate-contradicts": Case(
        "signal",
        lambda: [("e.xml", twelve_lead_aecg())],
        400,
        "the file says 500 Hz and the sampling rate given 250 Hz",
        {"fs": "250"},
    ),
    "aecg-entity-bomb": Case("signal", [("e.xml", XML_BOMB)], 400, "DTDs and entities are not accepted"),
    "aecg-external-entity": Case(
        "signal",
        [
            (
                "e.xml",
                b'<?xml version="1.0"?><!DOCTYPE AnnotatedECG [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                b'<AnnotatedECG xmlns="urn:hl7-org:v3">&x;</AnnotatedECG>',
            )
        ],
        400,
        "DTDs and entities are not accepted",
    ),
    "aecg-no-waveforms": Case(
        "signal",
        [("e.xml", b'<?xml version="1.0"?><AnnotatedECG xmlns="urn:hl7-org:v3"><id root="1"/></AnnotatedECG>')],
        400,
        "no series/component/sequenceSet",
    ),
    "dicom-not-an-ecg": Case(
        "signal",
        lambda: [("e.dcm", twelve_lead_dicom_of_class("1.2.840.10008.5.1.4.1.1.2"))],
        400,
        "is not an ECG waveform",
    ),
    "aecg-non-numeric-digits": Case(
        "signal",
        lambda: [("e.xml", twelve_lead_aecg().replace(b"<digits>", b"<digits>7 1e3 ", 1))],
        400,
        "digit 2 ('1e3') is not an integer",
    ),
    "aecg-truncated": Case("signal", lambda: [("e.xml", twelve_lead_aecg()[:5000])], 400, "not well-formed XML"),
    "aecg-too-long": Case(
        "signal",
        lambda: [("e.xml", twelve_lead_aecg())],
        413,
        "are accepted (ECG_MAX_SIGNAL_SECONDS)",
        settings={"ECG_MAX_SIGNAL_SECONDS": 5},
    ),
    "signal-binary": Case("signal", [("s.bin", bytes(range(256)) * 40)], (400, 415), "not"),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.django_db
def test_each_malformed_input_is_refused_and_nothing_is_stored(name, client, staff_a, patient_a, settings, tmp_path):
    case = CASES[name]
    for key, value in (case.settings or {}).items():
        setattr(settings, key, value)
    files = case.files() if callable(case.files) else case.files
    media = Path(settings.MEDIA_ROOT)
    before = sorted(p for p in media.rglob("*") if p.is_file())
    client_for(client, staff_a)
    response = client.post(
        reverse("recording-upload", args=[patient_a.pk]),
        {"kind": case.kind, "files": [upload(n, d) for n, d in files], **(case.fields or {})},
    )
    statuses = case.status if isinstance(case.status, tuple) else (case.status,)
    assert response.status_code in statuses, (response.status_code, response.content.decode()[-800:])
    assert case.fragment in html.unescape(response.content.decode())
    assert ECGRecording.objects.count() == 0
    assert sorted(p for p in media.rglob("*") if p.is_file()) == before


def test_the_corpus_is_large_enough():
    formats = {n.split("-")[0] for n in CASES}
    assert len(CASES) >= 40 and {"csv", "xlsx", "wfdb", "edf", "json", "signal", "dicom", "aecg"} <= formats


STREAMED = [name for name in CASES if name.startswith(("wfdb-", "edf-"))]


@pytest.mark.parametrize("name", STREAMED)
@pytest.mark.django_db
def test_each_malformed_wfdb_or_edf_file_is_refused_by_the_bounded_check_too(
    name, client, staff_a, patient_a, settings
):
    """With every upload large enough for the web process's chunked check, the same defects are refused."""
    settings.ECG_FULL_CHECK_MAX_BYTES = 0
    test_each_malformed_input_is_refused_and_nothing_is_stored(name, client, staff_a, patient_a, settings, None)
