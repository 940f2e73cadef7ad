"""Hostile upload files made up for the upload-limit tests and bench: parser bombs of a few KB to MB.

Each reproduces an attack of issue 16 (a row of a million XLSX cells, cells in column XFD, a CSV of
100,000 columns) or of the security review of December 2026 (a deflated DICOM dataset, a small zip of a
large WFDB record, a WFDB record in FLAC declaring far more samples than its bytes) or of the second
review (an EDF+ annotations channel packed with annotations, XLSX parts the bounds check did not count,
a long CSV signal); none but the last is ECG data.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np

_XLSX_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    ),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
        '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        "</Relationships>"
    ),
}


def xlsx_wide_row(cells: int = 1_000_000, *, prefix: str = "") -> bytes:
    """A small workbook whose one row holds ``cells`` numeric cells: the hostile probe's parser bomb.

    ``prefix`` writes the sheet with a namespace prefix (``x:``), as some producers do."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, text in _XLSX_PARTS.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w") as fh:
            p = prefix.encode()
            declaration = b"xmlns:" + p.rstrip(b":") if p else b"xmlns"
            fh.write(
                b'<?xml version="1.0" encoding="UTF-8"?><'
                + p
                + b"worksheet "
                + declaration
                + b'="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><'
                + p
                + b"sheetData><"
                + p
                + b'row r="1">'
            )
            cell = b"<" + p + b"c><" + p + b"v>1</" + p + b"v></" + p + b"c>"
            for start in range(0, cells, 10_000):
                fh.write(cell * min(10_000, cells - start))
            fh.write(b"</" + p + b"row></" + p + b"sheetData></" + p + b"worksheet>")
    return buffer.getvalue()


def xlsx_far_cells(rows: int = 2, column: str = "XFD") -> bytes:
    """A workbook whose rows each hold a single cell in a far-right column (padded to that width when read)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in _XLSX_PARTS.items():
            archive.writestr(name, text)
        body = "".join(f'<row r="{i}"><c r="{column}{i}"><v>1</v></c></row>' for i in range(1, rows + 1))
        archive.writestr(
            "xl/worksheets/sheet1.xml",
            '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
            f'2006/main"><dimension ref="A1:{column}{rows}"/><sheetData>{body}</sheetData></worksheet>',
        )
    return buffer.getvalue()


def _xlsx_with(parts: dict[str, bytes], content_types: str = "") -> bytes:
    """A one-sheet workbook of ``_XLSX_PARTS`` with ``parts`` added or replacing theirs; ``content_types``
    adds Override elements to the manifest."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, text in _XLSX_PARTS.items():
            if name == "[Content_Types].xml":
                text = text.replace("</Types>", content_types + "</Types>")
            if name not in parts:
                archive.writestr(name, text)
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


_MAIN_NS = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_ROW_OF_THREE = b'<c r="A1"><v>0.5</v></c><c r="B1"><v>0.5</v></c><c r="C1"><v>0.5</v></c>'


def _sheet(cells: bytes = b"") -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?><worksheet '
        + _MAIN_NS
        + b'><sheetData><row r="1">'
        + _ROW_OF_THREE
        + cells
        + b"</row></sheetData></worksheet>"
    )


def xlsx_styles_bomb(entries: int = 1_500_000) -> bytes:
    """A workbook whose styles.xml holds ``entries`` cell formats (<xf>): openpyxl builds the whole stylesheet
    at open, even to read values only (1.5 million: 66 KB zipped, 27 MB unzipped)."""
    styles = (
        b'<?xml version="1.0" encoding="UTF-8"?><styleSheet '
        + _MAIN_NS
        + b"><cellXfs>"
        + b'<xf numFmtId="0"/>' * entries
        + b"</cellXfs></styleSheet>"
    )
    return _xlsx_with({"xl/styles.xml": styles, "xl/worksheets/sheet1.xml": _sheet()})


def xlsx_inline_runs(runs: int = 1_500_000) -> bytes:
    """A workbook whose one inline-string cell holds ``runs`` rich-text runs (<r><t>1</t></r>), each built
    as an object by openpyxl."""
    cell = b'<c r="D1" t="inlineStr"><is>' + b"<r><t>1</t></r>" * runs + b"</is></c>"
    return _xlsx_with({"xl/worksheets/sheet1.xml": _sheet(cell)})


def xlsx_shared_runs(runs: int = 1_500_000) -> bytes:
    """A workbook whose one shared string holds ``runs`` rich-text runs, used by one cell."""
    strings = (
        b'<?xml version="1.0" encoding="UTF-8"?><sst '
        + _MAIN_NS
        + b"><si>"
        + b"<r><t>1</t></r>" * runs
        + b"</si></sst>"
    )
    override = (
        '<Override PartName="/xl/sharedStrings.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    )
    sheet = _sheet(b'<c r="D1" t="s"><v>0</v></c>')
    return _xlsx_with({"xl/sharedStrings.xml": strings, "xl/worksheets/sheet1.xml": sheet}, override)


def edf_annotations_bomb(records: int = 3000, fs: int = 360, annotation_bytes: int = 4000) -> bytes:
    """A valid EDF+ file of ``records`` one-second records: one ECG channel (a sine at ``fs``) and an
    annotations channel of ``annotation_bytes`` a record packed with one-letter annotations ("a\x14", two
    bytes each), which the EDF library reads into a struct of about 0.5 KiB each at open unless told not to
    (3,000 records: 13.5 MiB holding 6 x 10^6 annotations)."""

    def field(value: object, width: int) -> bytes:
        return str(value).ljust(width).encode("ascii")

    labels = ["ECG II", "EDF Annotations"]
    header = (
        field(0, 8)
        + field("X X X X", 80)
        + field("Startdate 01-JAN-2020 X X X", 80)
        + field("01.01.20", 8)
        + field("00.00.00", 8)
        + field(256 * 3, 8)
        + field("EDF+C", 44)
        + field(records, 8)
        + field(1, 8)
        + field(2, 4)
        + b"".join(field(label, 16) for label in labels)
        + field("", 160)
        + field("mV", 8)
        + field("", 8)
        + field(-5, 8)
        + field(-1, 8)
        + field(5, 8)
        + field(1, 8)
        + field(-32768, 8) * 2
        + field(32767, 8) * 2
        + field("", 160)
        + field(fs, 8)
        + field(annotation_bytes // 2, 8)
        + field("", 64)
    )
    ecg = (3000 * np.sin(2 * np.pi * np.arange(fs) / fs)).astype("<i2").tobytes()
    records_data = []
    for second in range(records):
        keeping = f"+{second}\x14\x14\x00".encode()
        onset = f"+{second}\x14".encode()
        room = annotation_bytes - len(keeping) - len(onset) - 1
        tal = keeping + onset + b"a\x14" * (room // 2) + b"\x00"
        records_data.append(ecg + tal.ljust(annotation_bytes, b"\x00"))
    return header + b"".join(records_data)


def csv_long_signal(size: int = 24 << 20) -> bytes:
    """An ordinary one-column CSV signal of ``size`` bytes: a sine of about 360 samples a period, written
    with three decimals: the parser's cost, not a bomb's (the review's was zeros, "0\\n", refused as flat only
    once parsed)."""
    period = (np.round(np.sin(2 * np.pi * np.arange(360) / 360), 3)).astype(str)
    block = ("\n".join(period) + "\n").encode()
    return (block * (size // len(block) + 1))[:size].rsplit(b"\n", 1)[0] + b"\n"


def csv_wide(columns: int = 100_000, rows: int = 2) -> bytes:
    """A CSV whose rows hold ``columns`` values each (the probe's 1.2 MB, 100,000-column signal)."""
    line = ",".join(["0.5"] * columns)
    return ("\n".join([line] * rows) + "\n").encode()


def _dicom_element(group: int, element: int, vr: bytes, value: bytes) -> bytes:
    """One data element in Explicit VR Little Endian."""
    if vr in (b"OB", b"OW", b"SQ", b"UN", b"UT"):
        return struct.pack("<HH", group, element) + vr + b"\0\0" + struct.pack("<I", len(value)) + value
    return struct.pack("<HH", group, element) + vr + struct.pack("<H", len(value)) + value


def _uid(text: str) -> bytes:
    raw = text.encode()
    return raw + b"\0" * (len(raw) % 2)


def dicom_deflate_bomb(inflated: int) -> bytes:
    """A DICOM file in Deflated Explicit VR Little Endian whose dataset (a 12-lead ECG's SOP class, then one
    private OB element of zeros) inflates to ``inflated`` bytes and more: about a thousandth of that, deflated."""
    ecg = "1.2.840.10008.5.1.4.1.1.9.1.1"
    meta = (
        _dicom_element(2, 0x01, b"OB", b"\0\1")
        + _dicom_element(2, 0x02, b"UI", _uid(ecg))
        + _dicom_element(2, 0x03, b"UI", _uid("1.2.3.4"))
        + _dicom_element(2, 0x10, b"UI", _uid("1.2.840.10008.1.2.1.99"))
    )
    meta = _dicom_element(2, 0x00, b"UL", struct.pack("<I", len(meta))) + meta
    head = _dicom_element(8, 0x16, b"UI", _uid(ecg)) + struct.pack("<HH", 0x0009, 0x1001) + b"OB\0\0"
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = [deflater.compress(head + struct.pack("<I", inflated))]
    block = bytes(1 << 20)
    for start in range(0, inflated, len(block)):
        body.append(deflater.compress(block[: inflated - start]))
    body.append(deflater.flush())
    return b"\0" * 128 + b"DICM" + meta + b"".join(body)


def wfdb_zip_bomb(extracted: int, fs: int = 2000) -> bytes:
    """A zip of one WFDB record in format 8 (a sample a byte) whose .dat of ``extracted`` bytes repeats a
    one-second beat-like pattern: deflate shrinks it several hundredfold (100 MiB in about 550 KB)."""
    t = np.arange(fs)
    beat = (np.exp(-(((t - 300) / 8.0) ** 2)) * 100 + 5 * np.sin(2 * np.pi * t / fs)).astype(np.int16) + 128
    dat = np.tile(beat.astype(np.uint8), extracted // fs + 1)[:extracted].tobytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("bomb.hea", f"bomb 1 {fs} {extracted}\nbomb.dat 80 200/mV 8 0 0 0 0 MLII\n")
        archive.writestr("bomb.dat", dat)
    return buffer.getvalue()


def wfdb_flac_bomb(samples: int, fs: int = 10_000, data_bytes: int | None = None) -> dict[str, bytes]:
    """A WFDB record (.hea and .dat) in FLAC format 516 of ``samples`` samples: a spike a second on a flat line,
    which FLAC stores in a few bytes a block. The .dat is padded with PADDING metadata blocks to ``data_bytes``,
    by default the fewest with which the header passes the plausibility check of 8 samples a data byte."""
    import soundfile

    values = np.zeros(samples, dtype=np.int16)
    values[::fs], values[1::fs] = 400, 200
    buffer = io.BytesIO()
    soundfile.write(buffer, values, min(fs, 655_350), format="FLAC", subtype="PCM_16")
    flac = buffer.getvalue()
    at, blocks = 4, []  # the metadata blocks after "fLaC", the last one flagged
    while True:
        length = int.from_bytes(flac[at + 1 : at + 4], "big")
        blocks.append(bytearray(flac[at : at + 4 + length]))
        at += 4 + length
        if blocks[-1][0] & 0x80:
            break
    blocks[-1][0] &= 0x7F
    frames = flac[at:]
    pad = max(8, (data_bytes or -(-samples // 8)) - 4 - sum(map(len, blocks)) - len(frames))
    while pad > 4:
        length = min(pad - 4, (1 << 24) - 1)
        blocks.append(bytearray([1]) + length.to_bytes(3, "big") + bytes(length))
        pad -= 4 + length
    blocks[-1][0] |= 0x80
    dat = b"fLaC" + b"".join(map(bytes, blocks)) + frames
    return {"flac.hea": f"flac 1 {fs} {samples}\nflac.dat 516 200/mV 16 0 0 0 0 MLII\n".encode(), "flac.dat": dat}
