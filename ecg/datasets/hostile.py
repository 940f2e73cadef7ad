"""Hostile upload files made up for the upload-limit tests and bench: parser bombs of a few KB to MB.

Each reproduces an attack of issue 16 (a row of a million XLSX cells, cells in column XFD, a CSV of
100,000 columns); none is ECG data.
"""

from __future__ import annotations

import io
import zipfile

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


def csv_wide(columns: int = 100_000, rows: int = 2) -> bytes:
    """A CSV whose rows hold ``columns`` values each (the probe's 1.2 MB, 100,000-column signal)."""
    line = ",".join(["0.5"] * columns)
    return ("\n".join([line] * rows) + "\n").encode()
