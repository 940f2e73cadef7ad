"""Continuous signals uploaded through the page: read, validated, cut into beats with positions."""

import io
import json
import zipfile

import numpy as np
import pytest
import wfdb
from django.urls import reverse

from diagnostics import services
from diagnostics.models import ECGRecording

from ..data import mitdb_dir
from ..helpers import upload


@pytest.fixture
def post(post_signal):
    return post_signal  # tests/conftest.py


def _record_files(record: str) -> list:
    root = mitdb_dir()
    return [
        upload(f"{record}.hea", (root / f"{record}.hea").read_bytes()),
        upload(f"{record}.dat", (root / f"{record}.dat").read_bytes()),
    ]


def _reference_beats(record: str) -> np.ndarray:
    ann = wfdb.rdann(str(mitdb_dir() / record), "atr")
    beat_symbols = set("NLRejAaJSVEF/fQ")
    return np.array([s for s, sym in zip(ann.sample, ann.symbol) if sym in beat_symbols])


def assert_refused(response, status, fragment):
    assert response.status_code == status, response.content[:300]
    assert fragment in response.content.decode()
    assert ECGRecording.objects.count() == 0


@pytest.mark.django_db
def test_a_wfdb_record_yields_beats_with_positions_and_classes(post, active_models):
    response = post(_record_files("100"))
    assert response.status_code == 302, response.content.decode()[-1500:]
    recording = ECGRecording.objects.get()
    assert (recording.kind, recording.input_format, recording.lead, recording.sampling_rate) == (
        "signal",
        "wfdb",
        "MLII",
        360.0,
    )
    assert recording.sample_count == 650000
    assert services.recording_classify(recording_id=recording.pk, claim_token="t") == "done"
    positions = np.array(list(recording.beats.order_by("index").values_list("position", flat=True)))
    reference = _reference_beats("100")
    # Every stored beat sits on a reference beat (within 150 ms), and nearly all reference beats are found.
    nearest = np.abs(reference[np.searchsorted(reference, positions).clip(0, len(reference) - 1)] - positions)
    nearest = np.minimum(nearest, np.abs(reference[(np.searchsorted(reference, positions) - 1).clip(0)] - positions))
    assert (nearest <= 54).mean() > 0.99
    assert len(positions) >= 0.99 * (len(reference) - 1)
    assert set(recording.beats.values_list("aami_class", flat=True)) <= set("NSVFQ")
    assert recording.diagnosis.heart_rate_bpm == pytest.approx(75.5, abs=1.5)


@pytest.mark.django_db
def test_a_wfdb_record_sent_with_more_files_than_its_stored_zip_may_hold_is_refused_not_failed_later(
    post, active_models
):
    # accepted, it was kept as a zip of every file sent, which the worker refuses past 20 members: failed after upload
    files = _record_files("100") + [upload(f"100.a{i:02d}", b"annotation") for i in range(19)]
    assert_refused(post(files), 400, "21 files")


@pytest.mark.django_db
def test_a_zipped_wfdb_record_is_accepted(post):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("101.hea", "101.dat"):
            archive.writestr(name, (mitdb_dir() / name).read_bytes())
    assert post([upload("record101.zip", buffer.getvalue())]).status_code == 302
    assert ECGRecording.objects.get().input_format == "wfdb"


@pytest.mark.parametrize("read", ["whole", "in pieces"])
def test_a_wfdb_record_uploaded_again_is_the_same_stored_file(post, client, monkeypatch, settings, read):
    # Its files are stored as one zip: each member had been stamped with the time of the upload (and the files kept
    # in the order picked), so the same record never hashed alike and was never pointed out as uploaded before
    import time

    if read == "in pieces":  # as a record larger than ECG_FULL_CHECK_MAX_BYTES is checked and stored
        settings.ECG_FULL_CHECK_MAX_BYTES = 0
    import types

    assert post(_record_files("100")).status_code == 302
    later = types.SimpleNamespace(**{**vars(time), "time": lambda: time.time() + 3 * 86400})
    monkeypatch.setattr(zipfile, "time", later)  # the zip writer's clock, three days on
    response = post(list(reversed(_record_files("100"))))
    assert response.status_code == 302
    first, second = ECGRecording.objects.order_by("pk")
    assert first.sha256 == second.sha256
    assert "The same file was uploaded for this patient before" in client.get(response["Location"]).content.decode()


@pytest.mark.django_db
def test_a_csv_signal_needs_its_sampling_rate(post):
    values = wfdb.rdrecord(str(mitdb_dir() / "100"), sampto=3600).p_signal[:, 0]
    data = "\n".join(f"{v:.3f}" for v in values).encode()
    assert_refused(post([upload("ecg.csv", data)]), 400, "sampling rate")
    assert post([upload("ecg.csv", data)], fs="360").status_code == 302
    recording = ECGRecording.objects.get()
    assert (recording.input_format, recording.sampling_rate, recording.sample_count) == ("csv", 360.0, 3600)


@pytest.mark.django_db
def test_a_csv_signals_every_column_is_kept_whichever_lead_is_analysed(post, client, active_models):
    # with a header and a chosen lead, only that column was stored: the viewer's V5 was a 422 and FHIR
    # and the 12-lead layout had one lead
    signal = wfdb.rdrecord(str(mitdb_dir() / "100"), sampto=3600 * 3).p_signal
    data = "\n".join(["MLII,V5"] + [f"{a:.3f},{b:.3f}" for a, b in signal]).encode()
    assert post([upload("two.csv", data)], fs="360", lead="V5").status_code == 302
    recording = ECGRecording.objects.get()
    assert (recording.lead, recording.leads) == ("V5", ["MLII", "V5"])
    assert services.recording_classify(recording_id=recording.pk, claim_token="t") == "done"
    url = reverse("recording-signal", args=[recording.pk])
    for lead in ("MLII", "V5"):
        response = client.get(url, {"start": 0, "end": 720, "lead": lead})
        assert response.status_code == 200, response.content[:200]
        assert response.json()["lead"] == lead


@pytest.mark.parametrize(
    "header, scale, leads",
    [("Time (s),Lead II", 1.0, ["Lead II"]), ("Time [ms],ECG", 1000.0, ["ECG"]), (None, 1.0, ["lead 2"])],
    ids=["seconds", "milliseconds", "headerless"],
)
@pytest.mark.django_db
def test_a_csv_signals_time_column_is_not_stored_as_a_lead(post, header, scale, leads):
    values = wfdb.rdrecord(str(mitdb_dir() / "100"), sampto=3600).p_signal[:, 0]
    rows = [f"{i / 360 * scale:.4f},{v:.3f}" for i, v in enumerate(values)]
    response = post([upload("timed.csv", "\n".join(([header] if header else []) + rows).encode())], fs="360")
    assert response.status_code == 302, response.content.decode()[-800:]
    recording = ECGRecording.objects.get()
    assert (recording.lead, recording.leads, recording.sample_count) == (leads[0], leads, 3600)


@pytest.mark.parametrize(
    "header, scale, fragment",
    [
        ("Time (s),Lead II", 1.0, "steps 0.00278 s a row, 360 Hz"),
        ("Time [ms],ECG", 1000.0, "steps 2.78 ms a row, 360 Hz"),
        ("time,ECG", 1.0, "steps 0.00278 s a row, 360 Hz"),
    ],
    ids=["seconds", "milliseconds", "unit-by-its-steps"],
)
@pytest.mark.django_db
def test_a_csv_signal_whose_time_column_says_another_rate_than_the_one_given_is_refused(post, header, scale, fragment):
    # a 360 Hz export uploaded as 180 Hz had been analysed at half its heart rate (bradycardia, pauses)
    values = wfdb.rdrecord(str(mitdb_dir() / "100"), sampto=3600).p_signal[:, 0]
    rows = [f"{i / 360 * scale:.4f},{v:.3f}" for i, v in enumerate(values)]
    response = post([upload("timed.csv", "\n".join([header, *rows]).encode())], fs="180")
    assert_refused(response, 400, fragment)
    assert "the sampling rate given is 180 Hz" in response.content.decode()


@pytest.mark.parametrize("bounded", [False, True], ids=["whole", "bounded-check"])
@pytest.mark.django_db
def test_an_edf_lead_asked_as_v5_is_the_files_ecg_v5(post, settings, tmp_path, bounded):
    from ..ecg.test_readers import _write_edf

    if bounded:
        settings.ECG_FULL_CHECK_MAX_BYTES = 0
    signal = wfdb.rdrecord(str(mitdb_dir() / "100"), sampto=3600 * 3).p_signal
    _write_edf(tmp_path / "x.edf", {"ECG MLII": signal[:, 0], "ECG V5": signal[:, 1]}, 360.0)
    response = post([upload("x.edf", (tmp_path / "x.edf").read_bytes())], lead="V5")
    assert response.status_code == 302, response.content.decode()[-800:]
    recording = ECGRecording.objects.get()
    assert recording.lead == "ECG V5" and recording.sampling_rate == 360.0
    if not bounded:  # the bounded check reads the chosen lead only
        assert recording.leads == ["ECG MLII", "ECG V5"]


@pytest.mark.django_db
def test_a_json_signal_is_accepted(post, active_models):
    values = wfdb.rdrecord(str(mitdb_dir() / "100"), sampto=7200).p_signal[:, 0]
    data = json.dumps({"fs": 360, "leads": {"MLII": [round(float(v), 3) for v in values]}}).encode()
    assert post([upload("ecg.json", data)]).status_code == 302
    recording = ECGRecording.objects.get()
    assert services.recording_classify(recording_id=recording.pk, claim_token="t") == "done"
    assert recording.beats.count() >= 20


@pytest.mark.parametrize(
    "values, fs, fragment",
    [
        (np.zeros(3600), "360", "flat line"),
        (np.sin(np.arange(500) / 10.0), "360", "at least 2.5 s"),
        (np.r_[np.sin(np.arange(3600) / 10.0)[:1000], np.full(2600, np.nan)], "360", "marked as lost"),
        (np.sin(np.arange(3600) / 10.0), "50", "below the minimum of 100 Hz"),
        (np.sin(np.arange(3600) / 10.0), "1e9", "above the maximum"),
    ],
    ids=["flat", "short", "mostly-lost", "low-fs", "absurd-fs"],
)
@pytest.mark.django_db
def test_bad_signals_are_refused_and_nothing_is_stored(post, values, fs, fragment):
    data = "\n".join("nan" if np.isnan(v) else f"{v:.4f}" for v in values).encode()
    assert_refused(post([upload("bad.csv", data)], fs=fs), 400, fragment)


def test_a_refused_upload_says_its_files_must_be_chosen_again(post):
    # the page came back with "No file chosen" and nothing saying so (a WFDB record's files all to pick again)
    page = post(list(reversed(_record_files("100")))[:1] + [upload("x.csv", b"1,2\n")]).content.decode()
    assert "The files were not kept: choose them again (for a WFDB record, every file of it)." in page
    page = post([upload("bad.csv", b"0.1\n0.2\n")]).content.decode()
    assert "The file was not kept: choose it again." in page


@pytest.mark.parametrize(
    "fs, message",
    [("0", "sampling rate 0 Hz is below the minimum of 100 Hz"), ("300000", "above the maximum of 10000 Hz")],
)
@pytest.mark.django_db
def test_the_forms_sampling_rate_is_held_to_the_readers_limits(post, fs, message):
    data = "\n".join(f"{v:.4f}" for v in np.sin(np.arange(3600) / 10.0)).encode()
    response = post([upload("s.csv", data)], fs=fs)
    assert_refused(response, 400, message)
    assert "Needed for CSV and JSON signals: 100–10000 Hz;" in response.content.decode()


@pytest.mark.django_db
def test_a_header_without_its_data_file_is_refused(post):
    assert_refused(post([upload("100.hea", (mitdb_dir() / "100.hea").read_bytes())]), 400, ".dat")


@pytest.mark.django_db
def test_junk_is_refused(post):
    response = post([upload("junk.bin", bytes(range(256)) * 64)])
    assert response.status_code in (400, 415) and ECGRecording.objects.count() == 0


@pytest.mark.django_db
def test_a_record_with_lost_samples_is_analysed_around_its_gaps(post, client, active_models):
    # cudb's cu09 marks 4.4 s of lost samples (21 stretches) with format 212's invalid value; it was refused
    # whole at the first. Now the gaps are bridged, left out of every figure, and its VF is found.
    from ecg.rhythm.signal_loss import overlapping

    from ..data import DATA_DIR, require

    root = require(DATA_DIR / "cudb", "Creighton University VT database")
    files = [upload(f"cu09.{ext}", (root / f"cu09.{ext}").read_bytes()) for ext in ("hea", "dat")]
    response = post(files)
    assert response.status_code == 302, response.content.decode()[-1500:]
    recording = ECGRecording.objects.get()
    assert services.recording_classify(recording_id=recording.pk, claim_token="t") == "done"
    rhythm = recording.diagnosis.rhythm
    gaps = [(g["start"], g["end"]) for g in rhythm["no_signal"]]
    assert len(gaps) == 21 and rhythm["no_signal_s"] == pytest.approx(4.4, abs=0.05)
    assert gaps[0] == (66297, 66332)
    # the reference VF/VFL episode runs from 239.1 s to 296.5 s (`[` ... `]` in cu09.atr)
    fs = recording.sampling_rate
    vf = list(recording.events.filter(type="vf").values_list("start", "end"))
    assert any(start <= 245 * fs and end >= 290 * fs for start, end in vf), vf
    # no beat is found on a gap's bridge (its corners read as a QRS to the detector), no pause reaches into one
    positions = np.array(list(recording.beats.values_list("position", flat=True)))
    assert not overlapping(gaps, positions, positions).any()
    pauses = list(recording.events.filter(type__in=["pause", "asystole"]).values_list("start", "end"))
    assert not overlapping(gaps, np.array([s for s, _ in pauses], int), np.array([e for _, e in pauses], int)).any()
    noisy = [(s["start"], s["end"]) for s in rhythm["noise"]]  # too noisy to read: VF keeps its own time
    assert rhythm["beats_left_out"] == int(overlapping(sorted(vf + noisy), positions, positions).sum())
    assert rhythm["beats_analysed"] == len(positions) - rhythm["beats_left_out"]
    # the viewer is told where they are, and draws them as such
    window = client.get(reverse("recording-signal", args=[recording.pk]), {"start": 66000, "end": 69000})
    assert window.status_code == 200
    assert window.json()["lost"] == [[66297, 66332], [68320, 68370], [68591, 68620]]


@pytest.mark.django_db
def test_a_lead_mostly_lost_beside_the_analysed_one_is_shown_with_its_gaps_as_nulls(post, client):
    signal = wfdb.rdrecord(str(mitdb_dir() / "100"), sampto=3600 * 3).p_signal
    v5 = signal[:, 1].copy()
    v5[1000:9000] = np.nan  # 74 % lost: not bridged, so it is no second lead for the analysis either
    rows = [f"{a:.3f},{'nan' if np.isnan(b) else f'{b:.3f}'}" for a, b in zip(signal[:, 0], v5)]
    assert post([upload("two.csv", "\n".join(["MLII,V5", *rows]).encode())], fs="360").status_code == 302
    recording = ECGRecording.objects.get()
    url = reverse("recording-signal", args=[recording.pk])
    whole = client.get(url, {"start": 0, "end": 3600 * 3, "px": 100, "lead": "V5"})
    assert whole.status_code == 200
    data = json.loads(whole.content, parse_constant=lambda token: pytest.fail(f"{token} is not JSON"))
    assert None in data["min"] and data["min"][0] is not None and data["lost"] == [[1000, 8999]]
    raw = client.get(url, {"start": 990, "end": 1010, "lead": "V5"}).json()
    assert raw["min"][:10] == pytest.approx(list(np.round(v5[990:1000], 4))) and raw["min"][10:] == [None] * 10


def test_a_stated_start_the_zone_skips_is_unknown_and_one_it_repeats_is_the_first(settings):
    from datetime import UTC, datetime

    from diagnostics.signal_uploads import recorded_at

    settings.TIME_ZONE = "Europe/Berlin"
    assert recorded_at(datetime(2024, 3, 31, 2, 30)) is None  # clocks went from 02:00 to 03:00
    assert recorded_at(datetime(2024, 10, 27, 2, 30)).astimezone(UTC) == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)
    assert recorded_at(datetime(2024, 6, 1, 12, 0)).astimezone(UTC) == datetime(2024, 6, 1, 10, 0, tzinfo=UTC)
