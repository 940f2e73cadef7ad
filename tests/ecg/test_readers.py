import io
import json

import numpy as np
import pytest

from ecg.io.errors import SignalError
from ecg.io.readers import (
    Signal,
    check_form_rate,
    read_csv_signal,
    read_edf,
    read_json_signal,
    read_wfdb,
    read_wfdb_upload,
    read_wfdb_zip,
    scan_edf,
    sniff_format,
    validate_signal,
)
from tests.data import DATA_DIR, cudb_vf_episode, mitdb_dir, require
from tests.helpers import zipped

FS = 360.0


@pytest.fixture(scope="module")
def record_100() -> Signal:
    return read_wfdb(mitdb_dir() / "100")


def _record_files(name: str = "100") -> dict[str, bytes]:
    root = mitdb_dir()
    return {f"{name}.{ext}": (root / f"{name}.{ext}").read_bytes() for ext in ("hea", "dat", "atr")}


def _ten_seconds(record: Signal) -> np.ndarray:
    return record.lead("MLII")[: int(10 * FS)]


# --- WFDB ---------------------------------------------------------------------------------


def test_read_wfdb_mitdb(record_100):
    assert record_100.fs == FS
    assert list(record_100.leads) == ["MLII", "V5"] == record_100.lead_order
    assert record_100.units == {"MLII": "mV", "V5": "mV"}
    assert record_100.source_format == "wfdb"
    mlii = record_100.lead()
    assert mlii.dtype == np.float64 and len(mlii) == 650_000
    assert -0.5 < np.median(mlii) < 0.0  # physical mV, not ADC counts
    assert record_100.lead("v5") is record_100.leads["V5"]
    record_100.validated()


def test_lead_preference_mlii_second():
    signal = read_wfdb(mitdb_dir() / "114")  # V5 first, MLII second
    assert list(signal.leads)[0] == "V5"
    assert signal.lead_name() == "MLII"


def test_lead_preference_falls_back_to_first():
    signal = Signal(fs=FS, leads={"V5": np.zeros(10), "V2": np.ones(10)}, units=None, source_format="x")
    assert signal.lead_name() == "V5"
    assert Signal(fs=FS, leads={"I": np.zeros(3), "ii": np.zeros(3)}).lead_name() == "ii"
    with pytest.raises(SignalError, match="lead 'aVR' not found; available leads: V5, V2"):
        signal.lead("aVR")


def test_lead_preference_tolerates_prefixes():
    signal = Signal(fs=FS, leads={"ECG I": np.zeros(3), "ECG II": np.zeros(3), "Lead_III": np.zeros(3)})
    assert signal.lead_name() == "ECG II"
    assert signal.lead_name("lead_iii") == "Lead_III"


def test_a_lead_without_any_value_is_only_refused_when_analysed():
    data = b"II,V1\n" + b"".join(b"%f,nan\n" % v for v in np.sin(np.arange(1000) / 10))
    signal = read_csv_signal(data, fs=FS)
    with pytest.raises(SignalError, match="lead V1 holds no value: the file marks every sample as lost"):
        signal.validated("V1", check_beats=False)
    assert np.isfinite(signal.validated("II", check_beats=False)).all()


def test_lost_samples_are_bridged_and_kept_as_stretches(record_100):
    values = record_100.lead()[: int(30 * FS)].copy()
    truth = values.copy()
    values[1000:1180] = np.nan  # half a second
    values[5000] = np.nan
    values[0:3] = np.nan  # at the lead's start: held at the first value
    signal = Signal(fs=FS, leads={"MLII": values, "V5": truth})
    assert signal.lost_spans() == [(0, 2), (1000, 1179), (5000, 5000)]
    assert signal.lost_spans("V5") == []
    out = signal.validated()
    assert np.isfinite(out).all()
    assert out[1000:1180] == pytest.approx(np.linspace(truth[999], truth[1180], 182)[1:-1])
    assert out[5000] == pytest.approx((truth[4999] + truth[5001]) / 2)
    assert (out[:3] == truth[3]).all()
    untouched = np.ones(len(truth), bool)
    untouched[[0, 1, 2, 5000]] = False
    untouched[1000:1180] = False
    assert (out[untouched] == truth[untouched]).all()


def test_a_lead_mostly_lost_is_refused_and_infinite_values_always(record_100):
    values = record_100.lead()[: int(30 * FS)].copy()
    values[: int(16 * FS)] = np.nan
    with pytest.raises(SignalError, match=r"lead MLII has 53 % of its samples marked as lost; at most 50 % may be"):
        Signal(fs=FS, leads={"MLII": values}).validated()
    values = record_100.lead()[: int(30 * FS)].copy()
    values[100] = np.inf
    with pytest.raises(SignalError, match="sample 100 of lead MLII is infinite"):
        Signal(fs=FS, leads={"MLII": values}).validated()


def test_a_wfdb_record_with_lost_samples_reads_with_its_gaps(tmp_path):
    from ecg.io.readers import scan_wfdb

    cu09 = require(DATA_DIR / "cudb", "Creighton University VT database") / "cu09"
    signal = read_wfdb(cu09)
    spans = signal.lost_spans()
    # cudb marks its lost samples with the format's invalid value: 21 stretches in cu09, 4.4 s in all
    assert len(spans) == 21 and sum(e - s + 1 for s, e in spans) == 1099 and spans[0] == (66297, 66332)
    assert np.isfinite(signal.validated()).all()
    header = scan_wfdb(cu09, chunk_samples=4096)  # the upload's bounded check counts them in chunks
    assert (header.lead, header.n_samples) == ("ECG", 127232)


def test_read_wfdb_missing_record(tmp_path):
    with pytest.raises(SignalError, match="header file 999.hea not found"):
        read_wfdb(tmp_path / "999")


def test_read_wfdb_upload_files(record_100):
    signal = read_wfdb_upload(_record_files())
    assert signal.source_format == "wfdb-upload"
    np.testing.assert_array_equal(signal.lead(), record_100.lead())


def test_read_wfdb_upload_missing_data_file():
    files = _record_files()
    del files["100.dat"]
    with pytest.raises(SignalError, match="100.hea refers to data file 100.dat, which is missing"):
        read_wfdb_upload(files)


@pytest.mark.parametrize("keep", [0.5, 0.9999])  # cut in half, and mid-frame near the end
def test_a_wfdb_data_file_shorter_than_its_header_says_is_named_so(keep):
    files = _record_files()
    files["100.dat"] = files["100.dat"][: int(len(files["100.dat"]) * keep)]
    with pytest.raises(SignalError, match="its data file holds fewer samples than its header declares") as raised:
        read_wfdb_upload(files)
    assert "reshape" not in str(raised.value) and "not loaded correctly" not in str(raised.value)


def test_read_wfdb_upload_two_records():
    files = {**_record_files("100"), **_record_files("101")}
    with pytest.raises(SignalError, match="one WFDB record, found headers 100.hea, 101.hea"):
        read_wfdb_upload(files)


def test_read_wfdb_upload_path_traversal_name():
    files = _record_files()
    files["../100.dat"] = files.pop("100.dat")
    with pytest.raises(SignalError, match="unsafe or invalid file name '../100.dat'"):
        read_wfdb_upload(files)


def test_read_wfdb_upload_header_pointing_outside():
    files = _record_files()
    files["100.hea"] = files["100.hea"].replace(b"100.dat", b"../../etc/passwd")
    with pytest.raises(SignalError, match="unsafe or invalid file name '../../etc/passwd'"):
        read_wfdb_upload(files)


def test_read_wfdb_zip(record_100):
    data = zipped({f"rec/{k}": v for k, v in _record_files().items()})
    assert sniff_format("upload.zip", data) == "wfdb-zip"
    signal = read_wfdb_zip(data)
    assert signal.source_format == "wfdb-zip"
    np.testing.assert_array_equal(signal.lead("V5"), record_100.lead("V5"))


def test_zip_path_traversal_refused():
    files = _record_files()
    data = zipped({"100.hea": files["100.hea"], "../../100.dat": files["100.dat"]})
    with pytest.raises(SignalError, match=r"zip member '../../100.dat' has an unsafe path"):
        read_wfdb_zip(data)


def test_zip_bomb_refused():
    files = _record_files()
    bomb = zipped({"100.hea": files["100.hea"], "100.dat": b"\0" * (50 * 1024 * 1024)})
    assert len(bomb) < 200 * 1024
    with pytest.raises(SignalError, match="zip expands to 52428.* bytes, over the limit of 10485760 bytes"):
        read_wfdb_zip(bomb, max_bytes=10 * 1024 * 1024)


def test_zip_too_many_members_refused():
    data = zipped({f"{i}.txt": b"x" for i in range(30)})
    with pytest.raises(SignalError, match="zip holds 30 files; at most 20 are allowed"):
        read_wfdb_zip(data)


def test_not_a_zip_refused():
    with pytest.raises(SignalError, match="not a valid zip file"):
        read_wfdb_zip(b"PK\x03\x04 truncated")


# --- EDF ----------------------------------------------------------------------------------


def _write_edf(path, leads: dict[str, np.ndarray], fs: float, unit: str = "uV", scale: float = 1000.0):
    import pyedflib

    with pyedflib.EdfWriter(str(path), len(leads), file_type=pyedflib.FILETYPE_EDFPLUS) as writer:
        headers = []
        for label, values in leads.items():
            v = values * scale
            headers.append(
                {
                    "label": label,
                    "dimension": unit,
                    "sample_frequency": fs,
                    "physical_min": float(np.floor(v.min())) - 1,
                    "physical_max": float(np.ceil(v.max())) + 1,
                    "digital_min": -32768,
                    "digital_max": 32767,
                    "transducer": "",
                    "prefilter": "",
                }
            )
        writer.setSignalHeaders(headers)
        writer.writeSamples([values * scale for values in leads.values()])


def test_read_edf_from_record(record_100, tmp_path):
    n = int(60 * FS)
    leads = {"MLII": record_100.lead("MLII")[:n], "V5": record_100.lead("V5")[:n]}
    path = tmp_path / "100.edf"
    _write_edf(path, leads, FS)
    data = path.read_bytes()
    assert sniff_format("recording.bin", data[:256]) == "edf"
    for source in (data, path):
        signal = read_edf(source)
        assert signal.source_format == "edf"
        assert signal.fs == FS
        assert list(signal.leads) == ["MLII", "V5"]
        assert signal.units == {"MLII": "mV", "V5": "mV"}  # converted from uV
        np.testing.assert_allclose(signal.lead(), leads["MLII"], atol=0.01)
    signal.validated()


def test_a_lead_asked_by_its_standard_name_finds_the_files_ecg_label(record_100, tmp_path):
    from ecg.io.readers import scan_edf

    n = int(20 * FS)
    path = tmp_path / "labelled.edf"
    _write_edf(path, {"ECG MLII": record_100.lead("MLII")[:n], "ECG V5": record_100.lead("V5")[:n]}, FS)
    signal = read_edf(path, lead="V5")
    assert signal.lead_name("V5") == "ECG V5" and signal.lead_name("mlii") == "ECG MLII"
    np.testing.assert_allclose(signal.validated("V5"), record_100.lead("V5")[:n], atol=0.01)
    assert scan_edf(path, lead="V5").lead == "ECG V5"  # the bounded check of a large upload agrees
    csv = "\n".join(["ECG MLII,ECG V5", *(f"{a:.3f},{b:.3f}" for a, b in zip(*signal.leads.values()))]).encode()
    assert read_csv_signal(csv, fs=FS, lead="V5").lead_name("V5") == "ECG V5"


def test_an_exact_lead_name_wins_and_a_loose_one_must_fit_one_lead():
    signal = Signal(fs=FS, leads={"II": np.zeros(10), "ECG II": np.ones(10), "Lead II": np.ones(10)})
    assert signal.lead_name("II") == "II" and signal.lead_name("ecg ii") == "ECG II"
    two = Signal(fs=FS, leads={"ECG II": np.zeros(10), "Lead II": np.ones(10), "V1": np.ones(10)})
    with pytest.raises(SignalError, match="^lead 'ii' could be 'ECG II' and 'Lead II'; name one of them"):
        two.lead_name("ii")
    with pytest.raises(SignalError, match="^lead 'V2' not found; available leads: ECG II, Lead II, V1"):
        two.lead_name("V2")


def _mixed_edf(path, channels):
    import pyedflib

    with pyedflib.EdfWriter(str(path), len(channels), file_type=pyedflib.FILETYPE_EDFPLUS) as writer:
        writer.setSignalHeaders(
            [
                {
                    "label": label,
                    "dimension": "uV",
                    "sample_frequency": fs,
                    "physical_min": -5000,
                    "physical_max": 5000,
                    "digital_min": -32768,
                    "digital_max": 32767,
                    "transducer": "",
                    "prefilter": "",
                }
                for label, fs in channels
            ]
        )
        writer.writeSamples([1000 * np.sin(2 * np.pi * 1.2 * np.arange(fs * 10) / fs) for _, fs in channels])
        writer.writeAnnotation(1.0, -1, "event")
    return path


def test_read_edf_mixed_rates_keeps_the_ecg_rate(tmp_path):
    path = _mixed_edf(tmp_path / "mixed.edf", (("Resp", 128), ("ECG II", 256), ("ECG V1", 256)))
    signal = read_edf(path)
    assert signal.fs == 256 and list(signal.leads) == ["ECG II", "ECG V1"]  # annotations, Resp left out
    assert signal.lead_name() == "ECG II"
    resp = read_edf(path, lead="resp")
    assert resp.fs == 128 and list(resp.leads) == ["Resp"]


def test_read_edf_a_slow_first_channel_gives_way_to_the_ecg(tmp_path):
    # a pulse oximeter's channel first: it was chosen and the file refused for its 50 Hz
    path = _mixed_edf(tmp_path / "pleth.edf", (("Pleth", 50), ("ECG", 250)))
    signal = read_edf(path)
    assert signal.fs == 250 and signal.lead_name() == "ECG"
    with pytest.raises(SignalError, match="channel 'Pleth' is sampled at 50 Hz, below the minimum of 100 Hz$"):
        read_edf(path, lead="Pleth")
    # with another channel at the ECG's rate recorded before it, the ECG is still the lead analysed
    eeg = read_edf(_mixed_edf(tmp_path / "psg.edf", (("Pleth", 50), ("EEG C3", 250), ("ECG", 250))))
    assert eeg.lead_name() == "ECG" and set(eeg.leads) == {"EEG C3", "ECG"}
    # and the streamed check of large uploads chooses as the reader does
    header = scan_edf(tmp_path / "psg.edf")
    assert (header.lead, header.fs) == ("ECG", 250)
    slow = _mixed_edf(tmp_path / "slow.edf", (("Pleth", 50), ("Resp", 25)))
    with pytest.raises(SignalError, match="channel 'Pleth' is sampled at 50 Hz.*and so is every other channel"):
        read_edf(slow)


def test_read_edf_junk():
    with pytest.raises(SignalError, match="EDF upload is not a readable EDF/EDF\\+ file"):
        read_edf(b"0       " + b"garbage" * 40)


# --- CSV / JSON ---------------------------------------------------------------------------


def test_read_csv_single_column(record_100):
    values = _ten_seconds(record_100)
    data = "\n".join(f"{v:.3f}" for v in values).encode()
    assert sniff_format("ecg.txt", data[:512]) == "csv"
    signal = read_csv_signal(data, fs=FS)
    assert list(signal.leads) == ["ECG"] and signal.source_format == "csv"
    np.testing.assert_allclose(signal.lead(), values, atol=5e-4)
    signal.validated()


def test_read_csv_header_time_column_and_lead(record_100):
    mlii, v5 = _ten_seconds(record_100), record_100.lead("V5")[: int(10 * FS)]
    rows = ["time;MLII;V5"] + [
        f"{i / FS:.4f};{a:.3f};{b:.3f}".replace(".", ",") for i, (a, b) in enumerate(zip(mlii, v5))
    ]
    data = "\r\n".join(rows).encode()
    signal = read_csv_signal(data, fs=FS)
    assert list(signal.leads) == ["MLII", "V5"]
    np.testing.assert_allclose(signal.lead("V5"), v5, atol=5e-4)
    chosen = read_csv_signal(data, fs=FS, lead="mlii")  # the analysed lead named: every lead is still kept
    assert list(chosen.leads) == ["MLII", "V5"] and chosen.lead_name("mlii") == "MLII"
    with pytest.raises(SignalError, match="CSV file has no column 'aVL'; columns: MLII, V5"):
        read_csv_signal(data, fs=FS, lead="aVL")


def test_read_csv_comment_lines_are_skipped_and_a_hash_in_a_name_is_kept(record_100):
    mlii = _ten_seconds(record_100)
    rows = ["# exported by a monitor", "  # gain 200/mV", "Sample #,ECG #1"]
    rows += [f"{i},{v:.3f}" for i, v in enumerate(mlii)]
    signal = read_csv_signal("\n".join(rows).encode(), fs=FS)
    assert list(signal.leads) == ["ECG #1"]  # "Sample #" is the sample-number column, skipped
    np.testing.assert_allclose(signal.lead(), mlii, atol=5e-4)
    rows[10] = "7,abc"  # line 11 of the file
    with pytest.raises(SignalError, match="row 11, column 'ECG #1': value 'abc' is not a number"):
        read_csv_signal("\n".join(rows).encode(), fs=FS)


def test_read_csv_an_empty_line_among_the_samples_is_refused_not_skipped(record_100):
    # skipped, it moved every later sample one earlier: beats after it mistimed, a sinus beat read as S
    mlii = _ten_seconds(record_100)
    rows = ["MLII"] + [f"{v:.3f}" for v in mlii]
    rows[1001] = ""  # line 1002 of the file
    with pytest.raises(SignalError, match="row 1002 is an empty line among the samples: write nan"):
        read_csv_signal("\n".join(rows).encode(), fs=FS)
    stored = read_csv_signal("\n".join(rows).encode(), fs=FS, empty_lines_skipped=True)  # accepted before
    assert len(stored.lead()) == len(mlii) - 1
    spaced = ["MLII", ""] + rows[1:1001]  # an empty line between the header row and the samples moves none
    assert len(read_csv_signal("\n".join(spaced).encode(), fs=FS).lead()) == 1000
    rows[1001] = "nan"  # a lost sample keeps the time of those after it
    signal = read_csv_signal(("\n".join(rows) + "\n\n\n").encode(), fs=FS)  # blank lines at the end: none
    assert len(signal.lead()) == len(mlii) and signal.lost_spans() == [(1000, 1000)]
    rows[1001] = "# the lead was touched here"  # a comment line is no sample either, and says so
    assert len(read_csv_signal("\n".join(rows).encode(), fs=FS).lead()) == len(mlii) - 1


def test_sniff_a_csv_that_opens_with_lost_samples_is_a_csv():
    head = ("MLII\n" + "nan\n" * 2000).encode()[:4096]  # a lead off for the first seconds
    assert sniff_format("leadoff.csv", head) == "csv"
    assert sniff_format("leadoff.csv", ("NaN\n" * 2000).encode()[:4096]) == "csv"


@pytest.mark.parametrize("header", [True, False])
def test_read_csv_a_delimiter_ending_every_line_adds_no_lead(record_100, header):
    mlii, v5 = _ten_seconds(record_100), record_100.lead("V5")[: int(10 * FS)]
    rows = (["MLII;V5;"] if header else []) + [f"{a:.3f};{b:.3f};".replace(".", ",") for a, b in zip(mlii, v5)]
    signal = read_csv_signal("\r\n".join(rows).encode(), fs=FS)
    assert list(signal.leads) == (["MLII", "V5"] if header else ["lead 1", "lead 2"])
    np.testing.assert_allclose(signal.lead(list(signal.leads)[1]), v5, atol=5e-4)


def test_read_csv_headerless_semicolons_with_decimal_commas(record_100):
    # the first line's commas outnumber its semicolons, but each sits between digits: decimal commas
    mlii, v5 = _ten_seconds(record_100), record_100.lead("V5")[: int(10 * FS)]
    data = "\n".join(f"{a:.3f};{b:.3f}".replace(".", ",") for a, b in zip(mlii, v5)).encode()
    signal = read_csv_signal(data, fs=FS)
    assert list(signal.leads) == ["lead 1", "lead 2"]
    np.testing.assert_allclose(signal.lead("lead 2"), v5, atol=5e-4)


@pytest.mark.parametrize(
    "name, step",
    [("Time [ms]", 1000 / FS), ("time_s", 1 / FS), ("Time (s)", 1 / FS), ("sample_index", 1), ("ms", 1000 / FS)],
)
def test_a_time_column_named_with_its_units_is_skipped(record_100, name, step):
    mlii = _ten_seconds(record_100)
    data = "\n".join([f"{name},Lead II"] + [f"{i * step:.4f},{v:.3f}" for i, v in enumerate(mlii)]).encode()
    signal = read_csv_signal(data, fs=FS)
    assert list(signal.leads) == ["Lead II"] and signal.fs == FS
    np.testing.assert_allclose(signal.validated(), mlii, atol=5e-4)


@pytest.mark.parametrize("ramp", ["{i}", "{seconds:.5f}"], ids=["sample-numbers", "seconds"])
def test_a_headerless_tables_first_column_rising_at_every_row_is_its_time_not_a_lead(record_100, ramp):
    mlii, v5 = _ten_seconds(record_100), record_100.lead("V5")[: int(10 * FS)]
    rows = [f"{ramp.format(i=i, seconds=i / FS)},{a:.3f},{b:.3f}" for i, (a, b) in enumerate(zip(mlii, v5))]
    signal = read_csv_signal("\n".join(rows).encode(), fs=FS)
    assert list(signal.leads) == ["lead 2", "lead 3"]  # named by their columns in the file
    np.testing.assert_allclose(signal.validated(), mlii, atol=5e-4)
    one = read_csv_signal("\n".join(r.rsplit(",", 1)[0] for r in rows).encode(), fs=FS)
    assert list(one.leads) == ["lead 2"]


def test_a_named_column_rising_at_every_row_is_refused_not_kept_as_a_lead(record_100):
    mlii = _ten_seconds(record_100)
    data = "\n".join(["Zeit,II"] + [f"{i / FS:.4f},{v:.3f}" for i, v in enumerate(mlii)]).encode()
    with pytest.raises(SignalError, match="column 'Zeit' rises at every row as a time or sample number does"):
        read_csv_signal(data, fs=FS)


def test_read_csv_bad_value_names_row_and_column():
    data = b"II,V1\n0.1,0.2\n0.3,abc\n"
    with pytest.raises(SignalError, match="CSV file, row 3, column 'V1': value 'abc' is not a number"):
        read_csv_signal(data, fs=FS)


def test_read_csv_ragged_rows():
    with pytest.raises(SignalError, match="CSV file cannot be parsed: Error tokenizing data"):
        read_csv_signal(b"0.1,0.2\n0.3,0.4\n0.5,0.6,0.7,0.8\n", fs=FS)


def test_zip_encrypted_member_refused():
    files = _record_files()
    data = bytearray(zipped({"100.hea": files["100.hea"], "100.dat": files["100.dat"][:1000]}))
    # set the "encrypted" flag bit on every entry: extraction then needs a password
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        start = 0
        while (i := data.find(sig, start)) >= 0:
            flag_at = i + (6 if sig == b"PK\x03\x04" else 8)
            data[flag_at] |= 1
            start = i + 4
    with pytest.raises(SignalError, match="zip member '100.hea' cannot be extracted"):
        read_wfdb_zip(bytes(data))


def test_read_csv_refuses_low_fs():
    with pytest.raises(SignalError, match="sampling rate 50 Hz is below the minimum of 100 Hz"):
        read_csv_signal(b"0.1\n0.2\n", fs=50)


def test_read_json_array_and_object(record_100):
    values = _ten_seconds(record_100)
    text = json.dumps([round(v, 3) for v in values])
    assert sniff_format("x.json", text.encode()[:100]) == "json"
    signal = read_json_signal(text, fs=FS)
    assert list(signal.leads) == ["ECG"] and signal.fs == FS
    obj = {"fs": 360, "units": "mV", "leads": {"II": values.tolist(), "V1": values.tolist()}}
    signal = read_json_signal(json.dumps(obj).encode())
    assert list(signal.leads) == ["II", "V1"] and signal.units == {"II": "mV", "V1": "mV"}
    np.testing.assert_array_equal(signal.lead(), values)


@pytest.mark.parametrize(
    "obj, message",
    [
        ([0.1, 0.2], "sampling rate \\(fs\\) is missing"),
        ({"fs": 360, "leads": {"II": [0.1, "x"]}}, 'leads.II: element 1 \\("x"\\) is not a number'),
        ({"fs": 360, "leads": {"II": [0.1], "V1": [0.1, 0.2]}}, "leads have different lengths"),
        ({"fs": 20000, "leads": {"II": [0.1]}}, "sampling rate 20000 Hz is above the maximum"),
        ("{not json", "JSON file is not valid JSON"),
        ({"fs": 360, "leads": {" ": [0.1, 0.2]}}, 'a lead name in "leads" is blank'),
        ({"fs": 360, "leads": {"MLII": [0.1], "mlii": [0.2]}}, "leads 'MLII' and 'mlii' are one name twice"),
    ],
)
def test_read_json_refusals(obj, message):
    with pytest.raises(SignalError, match=message):
        read_json_signal(obj if not isinstance(obj, str) else obj.encode(), fs=None)


# --- validation ---------------------------------------------------------------------------


def test_validate_accepts_real_ecg(record_100):
    validate_signal(_ten_seconds(record_100), FS, lead="MLII", units="mV")


def test_validate_flat_line():
    with pytest.raises(SignalError, match="lead MLII is a flat line"):
        validate_signal(np.full(3600, 0.25), FS, lead="MLII", units="mV")
    with pytest.raises(SignalError, match="lead II is a flat line"):  # tiny noise, physical units known
        validate_signal(np.random.default_rng(0).normal(0, 0.001, 3600), FS, lead="II", units="mV")


def test_validate_no_heartbeats():
    t = np.arange(int(10 * FS)) / FS
    with pytest.raises(SignalError, match="no heartbeats detected in lead ECG"):
        validate_signal(0.5 * np.sin(2 * np.pi * 0.3 * t), FS)  # baseline wander only
    with pytest.raises(SignalError, match="no heartbeats detected in lead ECG"):
        validate_signal(np.random.default_rng(0).normal(0, 0.3, int(30 * FS)), FS)  # noise


@pytest.mark.parametrize(("record", "index"), [("cu03", 0), ("cu16", 0), ("cu21", 0)])
def test_validate_accepts_a_strip_in_ventricular_fibrillation(record, index):
    # a monitor's or defibrillator's export of VF: no beat to detect (cu16's 95 s hold one), but VF to report
    values, fs = cudb_vf_episode(record, index)
    validate_signal(values, fs, lead="ECG", units="mV")


def test_validate_still_refuses_noise_beside_a_vf_strip():
    # VF accepts a strip without beats; muscle-like noise is no VF (its power above 12 Hz), so is still refused
    with pytest.raises(SignalError, match="no heartbeats detected in lead ECG"):
        validate_signal(np.random.default_rng(1).normal(0, 0.3, int(60 * 250)), 250.0, units="mV")


def test_validate_shorter_than_two_beats(record_100):
    with pytest.raises(SignalError, match="lead MLII is 2.00 s long; at least 2.5 s \\(two heartbeats\\)"):
        validate_signal(record_100.lead()[: int(2 * FS)], FS, lead="MLII")


def test_validate_nan(record_100):
    values = _ten_seconds(record_100).copy()
    values[1234] = np.nan
    with pytest.raises(SignalError, match="sample 1234 of lead MLII is NaN") as refused:
        validate_signal(values, FS, lead="MLII")
    # where it is in time, and what to do about it
    assert "(0:00:03 into the recording)" in str(refused.value) and "upload a stretch without" in str(refused.value)
    values[1234] = np.inf
    with pytest.raises(SignalError, match="sample 1234 of lead MLII is infinite"):
        validate_signal(values, FS, lead="MLII")


@pytest.mark.parametrize(
    "fs, message",
    [
        (50, "sampling rate 50 Hz is below the minimum of 100 Hz"),
        (1e6, "sampling rate 1e\\+06 Hz is above the maximum of 10000 Hz"),
        (0, "sampling rate 0 Hz is below the minimum of 100 Hz"),  # out of range as 50 Hz is, said alike
        (-360, "sampling rate -360 Hz is below the minimum of 100 Hz"),
        (float("nan"), "sampling rate nan is not a positive finite number"),
        ("fast", "sampling rate 'fast' is not a number"),
    ],
)
def test_validate_bad_fs(record_100, fs, message):
    with pytest.raises(SignalError, match=message):
        validate_signal(_ten_seconds(record_100), fs)


def test_validate_too_long(record_100):
    with pytest.raises(SignalError, match="lead MLII is 1806 s long; the maximum is 600 s"):
        validate_signal(record_100.lead(), FS, lead="MLII", max_seconds=600)


# --- sniffing -----------------------------------------------------------------------------


def test_sniff_xlsx():
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append([0.1])
    buffer = io.BytesIO()
    book.save(buffer)
    data = buffer.getvalue()
    assert sniff_format("upload.bin", data) == "xlsx"
    assert sniff_format("upload.xlsx", data[:64]) == "xlsx"


@pytest.mark.parametrize(
    "head",
    [
        bytes(range(256)),
        b"\x89PNG\r\n\x1a\n" + b"\0" * 50,
        b"%PDF-1.7\n\xe2\xe3\xcf\xd3\n" + bytes(range(128, 256)),
    ],
)
def test_sniff_refuses_junk(head):
    with pytest.raises(SignalError, match="junk.bin is not a CSV, XLSX, EDF, JSON, WFDB, DICOM or HL7 aECG file"):
        sniff_format("junk.bin", head)


def test_sniff_refuses_zip_without_record():
    with pytest.raises(SignalError, match="docs.zip is a zip file without a WFDB record"):
        sniff_format("docs.zip", zipped({"readme.txt": b"hello"}))


def test_a_headerless_tables_flat_column_is_named_once_as_a_lead():
    # a table without a header names its columns "lead 1", "lead 2": a message says "lead 1", not "lead lead 1"
    from ecg.io.readers import lead_phrase, read_csv_signal

    rows = "\n".join(f"{0.25},{np.sin(i / 10):.4f}" for i in range(3600)).encode()
    signal = read_csv_signal(rows, FS)
    assert list(signal.leads) == ["lead 1", "lead 2"]
    with pytest.raises(SignalError, match="^lead 1 is a flat line") as refused:
        signal.validated("lead 1")
    assert "lead lead" not in str(refused.value)
    assert lead_phrase("II") == "lead II"
    assert lead_phrase("ECG Lead I") == "ECG Lead I"
    assert lead_phrase("Leadership") == "lead Leadership"
    # a standard lead in its usual case, as the 12-lead panel writes it (PTB's headers say "ii", "avr", "vx")
    assert [lead_phrase(n) for n in ("ii", "avr", "vx", "lead ii", "MLII", "V5")] == [
        "lead II",
        "lead aVR",
        "lead Vx",
        "lead II",
        "lead MLII",
        "lead V5",
    ]


def test_amplitudes_no_ecg_reaches_are_refused_with_where_they_are(record_100):
    ten = _ten_seconds(record_100)
    peak = float(np.abs(ten).max())
    with pytest.raises(SignalError, match=r"^sample \d+ of lead MLII is \d.\d+e\+03 mV .*no ECG reaches 1000 mV"):
        validate_signal(ten * 1500 / peak, FS, lead="MLII", units="mV")
    validate_signal(ten * 1500 / peak, FS, lead="MLII", units="uV")  # the same numbers in microvolts are fine
    validate_signal(ten * 2e6, FS, lead="ECG")  # a converter's counts, units unstated: fine
    with pytest.raises(SignalError, match=r"is \d.\d+e\+28 .*no ECG reaches 1e\+08 in any unit"):
        validate_signal(ten * 1e29, FS, lead="ECG")


def test_a_json_files_rate_and_the_forms_must_agree(record_100):
    obj = {"fs": 360, "leads": {"II": _ten_seconds(record_100).tolist()}}
    assert read_json_signal(json.dumps(obj), fs=360.0).fs == 360.0
    with pytest.raises(SignalError, match="the file says 360 Hz and the sampling rate given 250 Hz"):
        read_json_signal(json.dumps(obj), fs=250.0)


@pytest.mark.parametrize(
    "file_fs, form_fs",
    [
        (360.0, None),
        (360.0, 360.0),
        (173.611, 173.611),
        (173.611, 173.61),
        (173.611, 173.6),
        (173.611, 174.0),
        (128.0, 128.0000000001),
    ],
)
def test_a_rate_given_beside_a_file_may_be_the_files_rounded(file_fs, form_fs):
    check_form_rate(file_fs, form_fs, "WFDB record")


@pytest.mark.parametrize("file_fs, form_fs", [(360.0, 500.0), (360.0, 360.4), (173.611, 173.0), (173.611, 173.62)])
def test_a_rate_given_beside_a_file_that_states_another_is_refused(file_fs, form_fs):
    with pytest.raises(
        SignalError, match=f"WFDB record: the file says {file_fs:g} Hz and the sampling rate given {form_fs:g} Hz"
    ):
        check_form_rate(file_fs, form_fs, "WFDB record")


def test_json_lead_names_lose_the_spaces_around_them(record_100):
    obj = {"fs": 360, "units": {" II ": "mV"}, "leads": {" II ": _ten_seconds(record_100).tolist()}}
    signal = read_json_signal(json.dumps(obj))
    assert list(signal.leads) == ["II"] and signal.units == {"II": "mV"}


def test_a_time_column_with_a_gap_of_lost_samples_is_held_to_its_steps_not_its_span():
    # a recorder that dropped a second of samples: its times jump once, and every step is still 1/360 s
    t = np.r_[np.arange(0, 3600), np.arange(3960, 7200)] / FS
    values = np.sin(2 * np.pi * 1.2 * t) ** 31
    data = ("time_s,II\n" + "\n".join(f"{a:.6f},{v:.4f}" for a, v in zip(t, values, strict=True))).encode()
    assert read_csv_signal(data, FS).n_samples == len(t)
    with pytest.raises(SignalError, match="and the sampling rate given is 180 Hz"):
        read_csv_signal(data, 180.0)
