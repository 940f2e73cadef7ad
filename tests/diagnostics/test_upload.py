import codecs
import io
import re

import numpy as np
import openpyxl
import pytest
from django.urls import reverse

from diagnostics import ingestion
from diagnostics.models import ECGRecording

from ..conftest import client_for
from ..helpers import beat_csv, beat_rows, upload


@pytest.fixture
def post(client, staff_a, patient_a):
    client_for(client, staff_a)

    def _post(data: dict):
        return client.post(reverse("recording-upload", args=[patient_a.pk]), data)

    return _post


def _file(post, name, data, **extra):
    return post({"kind": "beats", "files": upload(name, data), **extra})


def _rows_with(bad_row: int, cells: list[str]) -> bytes:
    lines = beat_csv(10).decode().splitlines()
    lines[bad_row - 1] = ",".join(cells)
    return ("\n".join(lines) + "\n").encode()


def assert_refused(response, status: int, *fragments: str):
    assert response.status_code == status, response.content[:500]
    text = response.content.decode()
    for fragment in fragments:
        assert fragment in text, f"{fragment!r} not in the response"
    assert ECGRecording.objects.count() == 0


@pytest.mark.django_db
def test_it_accepts_a_beat_csv_and_queues_it(post, patient_a):
    response = _file(post, "beats.csv", beat_csv(12))
    recording = ECGRecording.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("recording-detail", args=[recording.pk])
    assert (recording.status, recording.kind, recording.input_beat_count) == ("queued", "beats", 12)
    assert recording.patient == patient_a and recording.clinic_id == patient_a.clinic_id
    assert recording.file.name.startswith("recordings/") and "beats" not in recording.file.name


@pytest.mark.django_db
def test_the_same_upload_sent_twice_from_one_page_makes_one_recording(client, post, patient_a):
    # a double click on "Upload and classify" (or the form sent again) must not queue the upload twice
    page = client.get(reverse("recording-upload", args=[patient_a.pk])).content.decode()
    submission = re.search(r'name="submission" value="([0-9a-f]{32})"', page).group(1)
    first = _file(post, "beats.csv", beat_csv(12), submission=submission)
    again = _file(post, "beats.csv", beat_csv(12), submission=submission)
    recording = ECGRecording.objects.get()
    assert first["Location"] == again["Location"] == reverse("recording-detail", args=[recording.pk])
    # the same page's form sent with another file (back, choose another) is another recording
    other = _file(post, "beats.csv", beat_csv(13), submission=submission)
    assert other.status_code == 302 and ECGRecording.objects.count() == 2
    # ... and that one sent twice too is one recording (it had been a new one each time)
    assert _file(post, "beats.csv", beat_csv(13), submission=submission)["Location"] == other["Location"]
    assert ECGRecording.objects.count() == 2
    # a page shown again gets another submission; without one (an old page) each upload is new
    assert submission not in client.get(reverse("recording-upload", args=[patient_a.pk])).content.decode()
    _file(post, "beats.csv", beat_csv(12))
    assert ECGRecording.objects.count() == 3
    # the same file sent again after it failed is a retry: a new recording
    recording.status = ECGRecording.Status.FAILED
    recording.save(update_fields=["status"])
    retried = _file(post, "beats.csv", beat_csv(12), submission=submission)
    assert ECGRecording.objects.count() == 4 and retried["Location"] != first["Location"]
    # a key that is not this form's is ignored, not refused
    assert _file(post, "beats.csv", beat_csv(12), submission="not-a-key").status_code == 302


@pytest.mark.django_db
def test_a_page_key_sent_with_another_patients_upload_makes_that_patients_recording(client, staff_a, patient_a):
    from ..factories import PatientFactory

    other = PatientFactory(clinic=patient_a.clinic)
    client_for(client, staff_a)
    submission = "a" * 32
    for patient in (patient_a, other):
        client.post(
            reverse("recording-upload", args=[patient.pk]),
            {"kind": "beats", "files": upload("beats.csv", beat_csv(12)), "submission": submission},
        )
    assert sorted(ECGRecording.objects.values_list("patient_id", flat=True)) == sorted([patient_a.pk, other.pk])


@pytest.mark.django_db
def test_it_rejects_a_row_with_186_values(post):
    cells = beat_csv(10).decode().splitlines()[6].split(",")[:186]
    response = _file(post, "beats.csv", _rows_with(7, cells))
    assert_refused(response, 400, "row 7 has 186 values; expected 187 or 188")
    assert "continuous signal" not in response.content.decode()


@pytest.mark.django_db
def test_a_lead_table_sent_as_beats_or_an_xlsx_sent_as_a_signal_is_told_how_to_send_it(post):
    # a 12-lead table (a sample per row) chosen as a beat file, as a spreadsheet user does
    table = "\n".join(",".join(f"{0.01 * (i + j):.2f}" for j in range(15)) for i in range(40)).encode()
    response = _file(post, "ptb.csv", table)
    assert_refused(
        response, 400, "row 1 has 15 values", "save it as CSV and upload it as &#x27;Continuous signal&#x27;"
    )
    book = openpyxl.Workbook()
    book.active.append([0.1] * 15)
    buffer = io.BytesIO()
    book.save(buffer)
    response = post({"kind": "signal", "files": upload("ptb.xlsx", buffer.getvalue())})
    assert_refused(response, 400, "must be saved as CSV and uploaded with its sampling rate")


@pytest.mark.django_db
def test_it_accepts_a_header_row_and_a_label_column(post):
    response = _file(post, "kaggle.csv", beat_csv(5, header=True, label=True))
    assert response.status_code == 302
    assert ECGRecording.objects.get().input_beat_count == 5


@pytest.mark.django_db
def test_it_names_row_and_column_of_a_non_numeric_value(post):
    cells = beat_csv(10).decode().splitlines()[2].split(",")
    cells[16] = "abc"
    assert_refused(_file(post, "beats.csv", _rows_with(3, cells)), 400, "row 3, column 17", "is not a number")


@pytest.mark.parametrize("row", [1, 2])
@pytest.mark.django_db
def test_a_typo_in_the_first_row_is_refused_like_in_any_other_not_dropped_as_a_header(post, row):
    cells = beat_csv(5).decode().splitlines()[row - 1].split(",")
    cells[50] = "0.5x"
    lines = beat_csv(5).decode().splitlines()
    lines[row - 1] = ",".join(cells)
    response = _file(post, "beats.csv", ("\n".join(lines) + "\n").encode())
    assert_refused(response, 400, f"row {row}, column 51:", "0.5x", "is not a number")


@pytest.mark.django_db
def test_a_header_row_of_column_names_is_still_dropped_even_with_a_number_among_them(post):
    lines = beat_csv(5).decode().splitlines()
    names = [f"c{i}" for i in range(187)]
    names[0] = "0"  # an index column's name
    response = _file(post, "beats.csv", ("\n".join([",".join(names), *lines]) + "\n").encode())
    assert response.status_code == 302
    assert ECGRecording.objects.get().input_beat_count == 5


@pytest.mark.parametrize("first", [0, 1])
@pytest.mark.parametrize("label", ["", "number", "label"])
@pytest.mark.django_db
def test_a_header_row_of_column_numbers_is_dropped(post, first, label):
    # a data frame written with its column index: 0,1,...,186 (and 187, or a name, for the label)
    lines = beat_csv(5, label=bool(label)).decode().splitlines()
    numbers = ",".join(str(first + i) for i in range(187 + (label == "number")))
    if first == 1 and label != "number":
        numbers = numbers.replace(",", ".0,")  # as some exports write them: 1.0,2.0,...
    numbers += ",label" if label == "label" else ""
    response = _file(post, "beats.csv", ("\n".join([numbers, *lines]) + "\n").encode())
    assert response.status_code == 302, response.content.decode()[-500:]
    assert ECGRecording.objects.get().input_beat_count == 5


@pytest.mark.django_db
def test_a_row_is_named_by_its_line_though_blank_lines_come_before_it(post):
    lines = beat_csv(5).decode().splitlines()
    cells = lines[3].split(",")
    cells[9] = "x"
    text = "\n".join([lines[0], "", lines[1], "   ", lines[2], ",".join(cells), lines[4]]) + "\n"
    assert_refused(_file(post, "beats.csv", text.encode()), 400, "row 6, column 10:")


@pytest.mark.parametrize("label", [False, True])
@pytest.mark.django_db
def test_a_trailing_delimiter_on_every_row_is_ignored(post, label):
    lines = beat_csv(5, header=True, label=label).decode().splitlines()
    response = _file(post, "beats.csv", "".join(line + ",\r\n" for line in lines).encode())
    assert response.status_code == 302, response.content.decode()[-500:]
    assert ECGRecording.objects.get().input_beat_count == 5


def _separated(delimiter: str, decimal: str = ".", *, header: bool = False, label: bool = False) -> bytes:
    """``beat_csv`` written with another delimiter and decimal mark."""
    lines = beat_csv(5, header=header, label=label).decode().splitlines()
    return "".join(delimiter.join(c.replace(".", decimal) for c in line.split(",")) + "\n" for line in lines).encode()


@pytest.mark.parametrize(
    "delimiter, decimal",
    [("\t", "."), (" ", "."), ("  ", "."), (";", "."), (";", ","), ("\t", ","), (" ", ","), ("  ", ",")],
)
@pytest.mark.parametrize("header, label", [(False, False), (True, True)])
def test_tab_space_and_semicolon_files_with_decimal_commas_read_as_the_comma_separated_file(
    delimiter, decimal, header, label
):
    expected = ingestion.parse_beats(filename="b.csv", data=beat_csv(5)).beats
    parsed = ingestion.parse_beats(filename="b.txt", data=_separated(delimiter, decimal, header=header, label=label))
    np.testing.assert_array_equal(parsed.beats, expected)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "cp1252"])
def test_a_beat_file_in_utf16_or_windows_1252_reads_as_the_utf8_file(encoding):
    # Excel's "Unicode text" (UTF-16 with a byte-order mark, tab-separated) had been refused as binary
    expected = ingestion.parse_beats(filename="b.csv", data=beat_csv(5)).beats
    text = _separated("\t", ",", header=True).decode().replace("c0", "Spannung µV", 1)
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    assert "Spannung µV" in text and not data.startswith(b"c") and data != text.encode()
    np.testing.assert_array_equal(ingestion.parse_beats(filename="b.txt", data=data).beats, expected)


@pytest.mark.django_db
def test_a_tab_separated_txt_is_accepted(post):
    response = _file(post, "beats.txt", _separated("\t"))
    assert response.status_code == 302
    assert ECGRecording.objects.get().input_beat_count == 5


@pytest.mark.django_db
def test_a_bad_cell_among_decimal_commas_is_named_as_the_file_writes_it(post):
    lines = _separated(";", ",").decode().splitlines()
    cells = lines[1].split(";")
    cells[2] = "0,5x"
    lines[1] = ";".join(cells)
    assert_refused(_file(post, "beats.csv", "\n".join(lines).encode()), 400, "row 2, column 3:", "0,5x", "not a number")


@pytest.mark.parametrize("bad", ["nan", "inf", "-Infinity"])
@pytest.mark.django_db
def test_it_refuses_nan_and_infinity(post, bad):
    cells = beat_csv(10).decode().splitlines()[4].split(",")
    cells[0] = bad
    assert_refused(_file(post, "beats.csv", _rows_with(5, cells)), 400, "row 5, column 1", "not a finite number")


@pytest.mark.django_db
def test_it_refuses_values_outside_the_beat_scale(post):
    cells = beat_csv(10).decode().splitlines()[1].split(",")
    cells[9] = "812.5"
    assert_refused(_file(post, "beats.csv", _rows_with(2, cells)), 400, "row 2, column 10", "outside 0–1")


@pytest.mark.django_db
def test_it_refuses_rows_of_different_widths(post):
    lines = beat_csv(4, label=True).decode().splitlines()
    lines[3] = ",".join(lines[3].split(",")[:187])
    assert_refused(
        _file(post, "beats.csv", "\n".join(lines).encode()), 400, "row 4 has 187 values but the rows before it have 188"
    )


@pytest.mark.django_db
def test_it_refuses_an_invalid_label(post):
    lines = beat_csv(3, label=True).decode().splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0] + ",7"
    assert_refused(_file(post, "beats.csv", "\n".join(lines).encode()), 400, "row 2, column 188")


@pytest.mark.django_db
def test_it_refuses_an_empty_file(post):
    assert_refused(_file(post, "beats.csv", b"\n\n"), 400, "empty")


@pytest.mark.django_db
def test_it_refuses_a_wrong_extension(post):
    assert_refused(_file(post, "beats.pdf", beat_csv(3)), 415, "beat files must be .csv, .txt or .xlsx")


@pytest.mark.django_db
def test_it_refuses_binary_content_named_csv(post):
    assert_refused(_file(post, "beats.csv", b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4), 415, "binary")


@pytest.mark.django_db
def test_it_refuses_a_renamed_binary_as_xlsx(post):
    assert_refused(_file(post, "beats.xlsx", b"%PDF-1.7 not a workbook"), 415, "not an XLSX workbook")


@pytest.mark.django_db
def test_it_refuses_too_many_rows(post, settings):
    settings.ECG_MAX_BEAT_ROWS = 5
    assert_refused(_file(post, "beats.csv", beat_csv(6)), 413, "at most 5")


@pytest.mark.django_db
def test_it_refuses_a_file_over_the_size_limit(post, settings):
    settings.ECG_MAX_UPLOAD_BYTES = 2000
    assert_refused(_file(post, "beats.csv", beat_csv(3)), 413, "the file is 0.0 MiB; the limit is 0.0 MiB")


@pytest.mark.django_db
def test_a_wfdb_record_over_the_limit_is_told_its_size_together_and_that_a_zip_may_fit(post, settings):
    # a 24-hour .hea + .dat was told "the file is 33.2 MB; the limit is 26.2 MB" (the README says 25 MiB) though
    # two files were chosen, and the same record as one .zip fits
    settings.ECG_MAX_UPLOAD_BYTES = 3 * 1024 * 1024
    files = [upload("r.hea", b"r 1 360 1800000\n"), upload("r.dat", bytes(3 * 1024 * 1024))]
    response = post({"kind": "signal", "files": files, "fs": ""})
    assert_refused(
        response,
        413,
        "the 2 files are 3.0 MiB together; the limit is 3.0 MiB; a WFDB record usually fits as one .zip",
    )


@pytest.mark.django_db
def test_it_reads_an_xlsx_with_a_header(post):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append([f"v{i}" for i in range(187)])
    for row in beat_rows(4):
        sheet.append([float(v) for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = _file(post, "beats.xlsx", buffer.getvalue())
    assert response.status_code == 302
    assert ECGRecording.objects.get().input_beat_count == 4


@pytest.mark.django_db
def test_it_names_the_row_in_an_xlsx(post):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for i, row in enumerate(beat_rows(8)):
        sheet.append([float(v) for v in (row[:186] if i == 6 else row)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert_refused(_file(post, "beats.xlsx", buffer.getvalue()), 400, "row 7 has 186 values")


@pytest.mark.django_db
def test_an_xlsx_whose_beats_are_not_on_its_first_sheet_is_refused_saying_so(post):
    workbook = openpyxl.Workbook()
    workbook.active.title = "Notes"
    beats = workbook.create_sheet("Beats")
    for row in beat_rows(4):
        beats.append([float(v) for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert_refused(
        _file(post, "beats.xlsx", buffer.getvalue()),
        400,
        "first sheet",
        "Notes",
        "is empty: the beats are read from the first sheet",
    )


@pytest.mark.django_db
def test_it_accepts_pasted_values(post):
    text = ", ".join(f"{v:.4f}" for v in beat_rows(1)[0])
    response = post({"kind": "beats", "text": text})
    assert response.status_code == 302
    recording = ECGRecording.objects.get()
    assert (recording.input_format, recording.input_beat_count) == ("text", 1)


@pytest.mark.parametrize("separator", [";", "\t", "; ", " "])
@pytest.mark.django_db
def test_it_accepts_pasted_values_with_decimal_commas(post, separator):
    # as a European spreadsheet copies them: semicolons or tabs between values, a comma as the decimal mark
    text = "\n".join(separator.join(["0,5"] * 187) for _ in range(2))
    response = post({"kind": "beats", "text": text})
    assert response.status_code == 302, response.content.decode()[-500:]
    recording = ECGRecording.objects.get()
    assert (recording.input_format, recording.input_beat_count) == ("text", 2)


@pytest.mark.django_db
def test_it_names_a_bad_pasted_value_among_decimal_commas(post):
    text = ";".join(["0,5"] * 186 + ["0,5x"])
    assert_refused(post({"kind": "beats", "text": text}), 400, "row 1, column 187:", "0,5x", "is not a number")


@pytest.mark.django_db
def test_it_refuses_pasted_values_of_the_wrong_length(post):
    text = " ".join("0.5" for _ in range(100))
    assert_refused(post({"kind": "beats", "text": text}), 400, "row 1 has 100 values")


@pytest.mark.django_db
def test_it_asks_for_a_file_or_values(post):
    assert_refused(post({"kind": "beats"}), 400, "Choose a file to upload or paste beat values.")


@pytest.mark.django_db
def test_it_reads_the_seed_example_without_losing_the_first_beat(post, seed_csv):
    response = _file(post, "ECG_Analyzer_test.csv", seed_csv.read_bytes())
    assert response.status_code == 302
    assert ECGRecording.objects.get().input_beat_count == 100


@pytest.mark.django_db
def test_staff_of_another_clinic_cannot_upload_for_the_patient(client, staff_b, patient_a):
    client_for(client, staff_b)
    response = client.post(
        reverse("recording-upload", args=[patient_a.pk]), {"kind": "beats", "files": upload("b.csv", beat_csv(2))}
    )
    assert response.status_code == 404
    assert ECGRecording.objects.count() == 0


@pytest.mark.django_db
def test_a_wfdb_record_sent_as_a_beat_file_from_the_page_is_read_as_the_signal_it_is(post, tmp_path):
    # it had been refused ("choose 'Signal'"), and the files had to be chosen again
    from ..helpers import wfdb_files

    beats = np.sin(2 * np.pi * 1.2 * np.arange(360 * 20) / 360) ** 31  # sharp peaks at 72 /min
    response = post({"kind": "beats", "files": wfdb_files(tmp_path, beats), "fs": ""})
    assert response.status_code == 302, response.content[-600:]
    recording = ECGRecording.objects.get()
    assert (recording.kind, recording.input_format, recording.sampling_rate) == ("signal", "wfdb", 360.0)
    # a file neither kind reads is still refused as before
    assert _file(post, "beats.pdf", beat_csv(3)).status_code == 415


@pytest.mark.parametrize(
    "field, value, said",
    [("fs", "360", "a beat file carries no sampling rate"), ("lead", "II", "a beat file carries no lead")],
)
@pytest.mark.parametrize("sent", ["file", "text"])
@pytest.mark.django_db
def test_a_beat_file_sent_with_a_sampling_rate_or_lead_is_refused_naming_the_field(post, field, value, said, sent):
    # both only mean something for a signal: taken silently, the user believed the beats were read at that rate
    content = {"files": upload("beats.csv", beat_csv(3))} if sent == "file" else {"text": beat_csv(3).decode()}
    response = post({"kind": "beats", **content, field: value})
    assert_refused(response, 400, said)
    assert response.context["form"].errors[field] == [response.context["form"].errors[field][0]]
    assert said in response.context["form"].errors[field][0]


@pytest.mark.django_db
def test_a_beat_file_or_csv_signal_takes_the_start_typed_on_the_page_in_the_clinics_time(
    client, post, settings, patient_a
):
    # a CSV states no start: its pages said "Recorded: not known" and the diary could only take seconds
    from datetime import datetime
    from zoneinfo import ZoneInfo

    settings.TIME_ZONE = "Europe/Berlin"
    page = client.get(reverse("recording-upload", args=[patient_a.pk])).content.decode()
    assert 'type="datetime-local"' in page and 'name="recorded_at"' in page
    lines = "MLII\n" + "\n".join(f"{v:.4f}" for v in _ecg_like(10)) + "\n"
    response = post(
        {"kind": "signal", "fs": "360", "files": upload("ecg.csv", lines.encode()), "recorded_at": "2026-12-04T23:50"}
    )
    assert response.status_code == 302, response.content[:500]
    recording = ECGRecording.objects.get()
    assert recording.recorded_at == datetime(2026, 12, 4, 23, 50, tzinfo=ZoneInfo("Europe/Berlin"))
    detail = client.get(response["Location"]).content.decode()
    assert "<dt>Recorded</dt>" in detail and "2026-12-04 23:50:00" in detail
    assert _file(post, "beats.csv", beat_csv(3), recorded_at="2026-12-04T23:50:30").status_code == 302
    assert ECGRecording.objects.latest("id").recorded_at == datetime(
        2026, 12, 4, 23, 50, 30, tzinfo=ZoneInfo("Europe/Berlin")
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "given, said",
    [
        ("2026-03-29T02:30", "is no time in Europe/Berlin (its clocks skip it)"),
        ("1850-01-01T10:00", "is before 1900"),
        ("2999-01-01T10:00", "is in the future"),
        ("tomorrow", "is not a date-time"),
    ],
)
def test_a_start_that_could_not_be_the_recordings_is_refused_beside_its_field(post, settings, given, said):
    settings.TIME_ZONE = "Europe/Berlin"
    response = _file(post, "beats.csv", beat_csv(3), recorded_at=given)
    assert_refused(response, 400, said)
    assert 'id="id_recorded_at"' in response.content.decode()


@pytest.mark.django_db
def test_a_file_that_states_its_start_keeps_it_and_one_typed_that_differs_is_refused(post, settings, tmp_path):
    from ..api.test_recordings import wfdb_stating

    settings.TIME_ZONE = "Europe/Berlin"
    files = wfdb_stating(tmp_path, "23:50:00 04/12/2026")
    response = post({"kind": "signal", "files": files, "recorded_at": "2026-12-04T23:00"})
    assert_refused(response, 400, "the file states that the recording began at 2026-12-04T23:50:00+01:00")


def _ecg_like(seconds: float, fs: float = 360) -> list[float]:
    t = np.arange(int(seconds * fs)) / fs
    phase = (t % 0.8) / 0.8
    return (1.2 * np.exp(-((phase - 0.3) ** 2) / 0.0004) - 0.1).round(4).tolist()
