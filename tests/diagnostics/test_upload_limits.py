"""Uploads built to exhaust the parser (the hostile probe of issue 16): each is refused with a 4xx naming the
limit it broke, before the parser builds anything in proportion to the declared content, and nothing is stored."""

import html
import io
import json
import zipfile

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from diagnostics import ingestion
from diagnostics.models import ECGRecording
from ecg.datasets.hostile import (
    dicom_deflate_bomb,
    wfdb_flac_bomb,
    wfdb_zip_bomb,
    xlsx_inline_runs,
    xlsx_shared_runs,
    xlsx_styles_bomb,
)
from ecg.io import readers
from ecgsite.errors import UploadRefused, UploadTooLarge

from ..conftest import client_for
from ..data import mitdb_dir
from ..helpers import beat_csv, csv_wide, upload, xlsx_far_cells, xlsx_wide_row

pytestmark = pytest.mark.django_db


def post(client, user, patient, kind, files, **fields):
    client_for(client, user)
    return client.post(
        reverse("recording-upload", args=[patient.pk]),
        {"kind": kind, "files": [upload(n, d) for n, d in files], **fields},
    )


def refused(response, status, *fragments):
    """The refusal's message (the page's alert), after checking the status, the fragments and that
    nothing was stored. Only the message: the page's random tokens may hold any few letters."""
    text = html.unescape(response.content.decode())
    assert response.status_code == status, (response.status_code, text[-600:])
    message = text.split('role="alert"', 1)[-1].split("</div>", 1)[0]
    for fragment in fragments:
        assert fragment in message, text[-600:]
    assert ECGRecording.objects.count() == 0
    return message


def test_an_xlsx_row_of_a_million_cells_is_refused_at_the_first_wide_row(client, staff_a, patient_a):
    response = post(client, staff_a, patient_a, "beats", [("b.xlsx", xlsx_wide_row(1_000_000))])
    refused(response, 413, "row 1 holds more than 256 cells", "ECG_MAX_COLUMNS")


def test_the_xlsx_bomb_is_refused_when_its_sheet_uses_a_namespace_prefix(client, staff_a, patient_a):
    response = post(client, staff_a, patient_a, "beats", [("b.xlsx", xlsx_wide_row(300_000, prefix="x:"))])
    refused(response, 413, "row 1 holds more than 256 cells", "ECG_MAX_COLUMNS")


def test_an_xlsx_cell_in_a_far_right_column_is_refused_without_padding_the_row(client, staff_a, patient_a):
    response = post(client, staff_a, patient_a, "beats", [("b.xlsx", xlsx_far_cells(rows=3, column="XFD"))])
    refused(response, 413, "row 1 holds more than 256 cells", "ECG_MAX_COLUMNS")


def test_an_xlsx_stylesheet_larger_than_a_part_may_be_is_refused_naming_the_part(client, staff_a, patient_a):
    # 100,000 cell formats: 1.8 MB that openpyxl built whole (1.5 million held the server 75 s and 1.1 GB)
    response = post(client, staff_a, patient_a, "beats", [("b.xlsx", xlsx_styles_bomb(100_000))])
    refused(response, 413, "part 'xl/styles.xml' expands to 1800", "at most 1048576")


@pytest.mark.parametrize("bomb", [xlsx_inline_runs, xlsx_shared_runs], ids=["inline", "shared"])
def test_an_xlsx_text_cell_of_many_rich_text_runs_is_refused(client, staff_a, patient_a, bomb):
    response = post(client, staff_a, patient_a, "beats", [("b.xlsx", bomb(20_000))])
    refused(response, 413, "more than 10000 rich-text runs")


def test_an_xlsx_text_cell_of_a_few_rich_text_runs_is_read_as_any_cell(client, staff_a, patient_a):
    response = post(client, staff_a, patient_a, "beats", [("b.xlsx", xlsx_inline_runs(3))])
    refused(response, 400, "row 1 has 4 values")  # read through to the beat check, not refused for its size


def test_a_beat_csv_of_100000_columns_is_refused_naming_the_limit(client, staff_a, patient_a):
    response = post(client, staff_a, patient_a, "beats", [("b.csv", csv_wide(100_000))])
    refused(response, 413, "row 1 holds more than 256 values", "ECG_MAX_COLUMNS")


def test_pasted_values_wider_than_the_limit_are_refused(client, staff_a, patient_a):
    client_for(client, staff_a)
    response = client.post(
        reverse("recording-upload", args=[patient_a.pk]), {"kind": "beats", "text": " ".join(["0.5"] * 5000)}
    )
    refused(response, 413, "row 1 holds more than 256 values", "ECG_MAX_COLUMNS")


def test_a_signal_csv_of_100000_columns_is_refused_before_it_is_converted(client, staff_a, patient_a):
    response = post(client, staff_a, patient_a, "signal", [("s.csv", csv_wide(100_000))], fs="360")
    refused(response, 413, "100000 columns", "at most 256", "ECG_MAX_COLUMNS")


def test_a_signal_json_with_more_leads_than_the_limit_is_refused(client, staff_a, patient_a):
    leads = {f"L{i}": [0.0] * 10 for i in range(300)}
    response = post(
        client, staff_a, patient_a, "signal", [("s.json", json.dumps({"fs": 360, "leads": leads}).encode())]
    )
    refused(response, 413, "300 leads", "ECG_MAX_COLUMNS")


def test_a_signal_json_nested_100000_deep_is_a_clear_400(client, staff_a, patient_a):
    data = b"[" * 100_000 + b"]" * 100_000
    response = post(client, staff_a, patient_a, "signal", [("s.json", data)], fs="360")
    refused(response, 400, "nested more than 32 levels deep", "ECG_MAX_JSON_DEPTH")


def _mitdb_lead(seconds: int) -> np.ndarray:
    from ecg.io.readers import read_wfdb

    return read_wfdb(mitdb_dir() / "100").leads["MLII"][: seconds * 360]


def _wfdb_header(n_sig: int, sig_len: int, record: str = "rec") -> bytes:
    lines = [f"{record} {n_sig} 360 {sig_len}"]
    lines += [f"{record}.dat 16 200 11 0 0 0 0 L{i}" for i in range(n_sig)]
    return ("\n".join(lines) + "\n").encode()


def test_a_wfdb_header_with_more_signals_than_the_limit_is_refused(client, staff_a, patient_a):
    n_sig, n = 300, 1000
    data = np.tile((np.sin(np.arange(n) / 8.0) * 200).astype("<i2")[:, None], (1, n_sig)).tobytes()
    response = post(client, staff_a, patient_a, "signal", [("rec.hea", _wfdb_header(n_sig, n)), ("rec.dat", data)])
    refused(response, 413, "300 signals", "ECG_MAX_COLUMNS")


def test_a_wfdb_header_declaring_a_trillion_samples_is_refused_without_library_internals(client, staff_a, patient_a):
    data = (mitdb_dir() / "100.dat").read_bytes()[:72_000]
    response = post(client, staff_a, patient_a, "signal", [("rec.hea", _wfdb_header(1, 10**12)), ("rec.dat", data)])
    text = refused(response, 400, "declares 1000000000000 samples")
    assert "allocate" not in text and "TiB" not in text


def _edf_header(ns: int) -> bytes:
    fixed = b"0       " + b" " * 80 + b" " * 80 + b"01.01.2601.01.26" + f"{256 * (ns + 1):<8}".encode()
    fixed += b" " * 44 + b"1       " + b"1       " + f"{ns:<4}".encode()
    return fixed + b" " * (256 * ns)


def test_an_edf_header_with_more_signals_than_the_limit_is_refused(client, staff_a, patient_a):
    response = post(client, staff_a, patient_a, "signal", [("x.edf", _edf_header(9999))])
    refused(response, 413, "9999 signals", "ECG_MAX_COLUMNS")


def test_an_unreadable_edf_is_refused_without_a_server_path(client, staff_a, patient_a):
    response = post(client, staff_a, patient_a, "signal", [("x.edf", b"0       " + bytes(range(256)) * 20)])
    text = refused(response, 400, "EDF")
    assert "/tmp" not in text and "ecg-edf" not in text and "upload.edf" not in text


def test_a_lead_name_longer_than_the_field_is_refused_before_saving(client, staff_a, patient_a):
    name = "L" * 333
    values = _mitdb_lead(10)
    data = (name + "\n" + "\n".join(f"{v:.3f}" for v in values) + "\n").encode()
    response = post(client, staff_a, patient_a, "signal", [("s.csv", data)], fs="360")
    refused(response, 400, "lead name", "333 characters", "at most 32")


# --- the security review of December 2026: containers that hold far more than their bytes ---------------------


@pytest.fixture
def read_whole_forbidden(monkeypatch):
    """Fail the test if a WFDB record is read whole (all its samples at once) in the web process."""

    def read_wfdb(*args, **kwargs):
        raise AssertionError("the web process read the record whole")

    monkeypatch.setattr(readers, "read_wfdb", read_wfdb)


def test_a_deflated_dicom_inflating_past_the_upload_limit_is_refused_with_413(client, staff_a, patient_a, settings):
    settings.ECG_MAX_UPLOAD_BYTES = 1 << 20
    bomb = dicom_deflate_bomb(4 << 20)  # 4 KB inflating to 4 MiB: no more than a plain DICOM file may hold
    response = post(client, staff_a, patient_a, "signal", [("ecg.dcm", bomb)])
    refused(response, 413, "inflates to more than 1048576 bytes", "ECG_MAX_UPLOAD_BYTES")


def test_a_small_zip_large_once_extracted_is_checked_in_chunks_not_read_whole(
    client, staff_a, patient_a, settings, read_whole_forbidden
):
    settings.ECG_FULL_CHECK_MAX_BYTES = 64 << 10
    data = wfdb_zip_bomb(256 << 10)  # 4 KB of zip, 256 KB of samples
    assert len(data) < settings.ECG_FULL_CHECK_MAX_BYTES // 8
    response = post(client, staff_a, patient_a, "signal", [("holter.zip", data)])
    assert response.status_code == 302, html.unescape(response.content.decode())[-600:]
    recording = ECGRecording.objects.get()
    assert (recording.input_format, recording.sample_count, recording.original_filename) == (
        "wfdb",
        256 << 10,
        "holter.zip",
    )
    with default_storage.open(recording.file.name, "rb") as fh:
        assert fh.read() == data  # stored as uploaded, for the worker to read whole


def test_a_zip_expanding_past_four_times_the_upload_limit_is_refused_with_413(client, staff_a, patient_a, settings):
    settings.ECG_MAX_UPLOAD_BYTES = 256 << 10
    data = wfdb_zip_bomb(4 << 20)  # 20 KB expanding to 4 MiB
    response = post(client, staff_a, patient_a, "signal", [("r.zip", data)])
    refused(response, 413, "zip expands to", "over the limit of 1048576 bytes", "ECG_MAX_UPLOAD_BYTES")


def test_a_zipped_record_larger_than_the_upload_limit_once_extracted_still_fits(client, staff_a, patient_a, settings):
    # what the size refusal of a .hea + .dat over the limit tells staff: the same record as one .zip fits
    settings.ECG_MAX_UPLOAD_BYTES = 256 << 10
    response = post(client, staff_a, patient_a, "signal", [("r.zip", wfdb_zip_bomb(768 << 10))])
    assert response.status_code == 302, html.unescape(response.content.decode())[-600:]


def test_a_flac_record_declaring_more_samples_than_a_record_may_hold_is_refused_with_413(
    client, staff_a, patient_a, settings
):
    settings.ECG_MAX_UPLOAD_BYTES = 256 << 10  # a record may declare 4 × 256 KiB samples, one a byte
    files = wfdb_flac_bomb(1_500_000, fs=1000)
    assert sum(map(len, files.values())) < settings.ECG_MAX_UPLOAD_BYTES
    response = post(client, staff_a, patient_a, "signal", list(files.items()))
    refused(response, 413, "flac.hea declares 1500000 samples", "at most 1048576", "ECG_MAX_UPLOAD_BYTES")


def test_a_small_flac_record_declaring_many_samples_is_checked_in_chunks_not_read_whole(
    client, staff_a, patient_a, settings, read_whole_forbidden
):
    settings.ECG_FULL_CHECK_MAX_BYTES = 64 << 10
    files = wfdb_flac_bomb(200_000, fs=1000)
    assert sum(map(len, files.values())) < settings.ECG_FULL_CHECK_MAX_BYTES
    response = post(client, staff_a, patient_a, "signal", list(files.items()))
    assert response.status_code == 302, html.unescape(response.content.decode())[-600:]
    assert ECGRecording.objects.get().sample_count == 200_000


def _peak_bytes(parse, *args) -> tuple[object, int]:
    """What ``parse(*args)`` returned (or the error it raised) and the most memory Python held meanwhile."""
    import tracemalloc

    tracemalloc.start()
    try:
        outcome: object = parse(*args)
    except UploadRefused as exc:
        outcome = exc
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return outcome, peak


def test_a_beat_csv_of_millions_of_blank_lines_costs_no_memory_per_line():
    # 2 beats and 24 MiB of blank lines had cost 58 s and 2.5 GB in the web process, a list of cells per blank line
    data = beat_csv(1) + b"\n" * (2 << 20) + beat_csv(1, seed=1)
    parsed, peak = _peak_bytes(lambda: ingestion.parse_beats(filename="b.csv", data=data))
    assert getattr(parsed, "beats").shape == (2, 187)
    assert peak < 8 * len(data), peak


@pytest.mark.parametrize("line", ["", "0"], ids=["blank", "one-value"])
def test_pasted_lines_past_the_row_limit_cost_no_memory_per_line(line):
    text = beat_csv(1).decode() + f"{line}\n" * (1 << 20) + beat_csv(1, seed=1).decode()
    outcome, peak = _peak_bytes(lambda: ingestion.parse_beat_text(text))
    if line:
        assert isinstance(outcome, UploadTooLarge) and "at most 20000" in outcome.message
    else:
        assert getattr(outcome, "shape", None) == (2, 187)
    assert peak < 8 * len(text), peak


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "hea-and-dat"])
def test_a_wfdb_header_of_megabytes_of_comment_lines_is_refused_before_it_is_read_line_by_line(
    client, staff_a, patient_a, zipped
):
    # a 20 KB zip whose .hea held 20 MiB of comment lines cost 12 s and 965 MB (a string a line; 100 MiB, ~5 GB)
    with zipfile.ZipFile(io.BytesIO(wfdb_zip_bomb(20_000))) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    files["bomb.hea"] += b"# a comment\n" * (400 << 10)
    if zipped:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in files.items():
                archive.writestr(name, data)
        files = {"bomb.zip": buffer.getvalue()}
    response = post(client, staff_a, patient_a, "signal", list(files.items()))
    refused(response, 400, "bomb.hea is 4.7 MiB", "a WFDB header", "at most 1 MiB")
