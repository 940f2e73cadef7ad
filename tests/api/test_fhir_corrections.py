"""A doctor's correction of beat classes in the FHIR report: the counts as corrected, the report amended and saying so,
and, while the worker recomputes the rhythm over the corrected classes, the rhythm's Observations and the report
preliminary, not final (and the CSV export's rows made from the rhythm saying so)."""

import csv
import io
from datetime import datetime

import pytest

from diagnostics import corrections, services
from diagnostics.models import BeatCorrection

from ..diagnostics.test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)
from .test_export_csv import body
from .test_fhir import by_code, fetch_valid_bundle, resources
from .test_fhir_amended import report_of, statuses

pytestmark = pytest.mark.django_db


@pytest.fixture
def holter(request):
    """70 s of MIT-BIH 207 at 360 Hz, classified: a signal, with a rhythm."""
    return request.getfixturevalue("holter_recording")


def test_a_correction_amends_the_counts_and_the_report_which_says_so(api_as, staff_a, doctor_a, done_recording):
    api = api_as(staff_a)
    # the hand-made classes: N N V S F Q
    made = corrections.beat_correction_make(recording=done_recording, by=doctor_a, to_class="V", beats=[0, 1])
    data = fetch_valid_bundle(api, done_recording)
    report = report_of(data)
    assert report["status"] == "amended" and datetime.fromisoformat(report["issued"]) == made.created_at
    assert "2 beats' classes corrected by a doctor." in report["conclusion"]
    assert by_code(resources(data, "Observation"), "beat-count-V")["valueQuantity"]["value"] == 3
    assert statuses(data)["beat-count-V"] == statuses(data)["beat-count-N"] == "amended"
    assert statuses(data)["mi-screen"] == "final"
    assert "recomputed" not in report["conclusion"]  # a beat file has no rhythm to recompute

    assert corrections.beat_correction_undo(correction=made, by=doctor_a)
    data = fetch_valid_bundle(api, done_recording)
    report = report_of(data)
    undone = BeatCorrection.objects.get(pk=made.pk).undone_at
    assert report["status"] == "amended" and datetime.fromisoformat(report["issued"]) == undone
    assert "corrected by a doctor" not in report["conclusion"]
    assert by_code(resources(data, "Observation"), "beat-count-V")["valueQuantity"]["value"] == 1


def test_while_the_rhythm_is_recomputed_its_observations_and_the_report_are_preliminary(
    api_as, staff_a, doctor_a, holter
):
    api = api_as(staff_a)
    n = list(holter.beats.filter(aami_class="N").order_by("index").values_list("index", flat=True)[:1])
    corrections.beat_correction_make(recording=holter, by=doctor_a, to_class="S", beats=n)
    data = fetch_valid_bundle(api, holter)
    report, seen = report_of(data), statuses(data)
    assert report["status"] == "preliminary"
    assert "1 beat's class corrected by a doctor." in report["conclusion"]
    assert "The rhythm figures are being recomputed over the corrected beat classes" in report["conclusion"]
    rhythm = ("8867-4", "heart-rate-min", "af-burden", "ventricular-ectopic-beats", "supraventricular-ectopic-beats")
    assert {seen[code] for code in rhythm} == {"preliminary"}
    assert seen["beat-count-S"] == "amended" and seen["mi-screen"] == "final"

    assert corrections.recording_rhythm_recompute(recording_id=holter.pk) == "done"
    data = fetch_valid_bundle(api, holter)
    assert report_of(data)["status"] == "amended" and "preliminary" not in statuses(data).values()
    assert "recomputed" not in report_of(data)["conclusion"]

    corrections.beat_correction_make(recording=holter, by=doctor_a, to_class="N", beats=n)
    corrections.rhythm_recompute_failed(recording_id=holter.pk, reason="The signal could not be read again.")
    report = report_of(fetch_valid_bundle(api, holter))
    assert report["status"] == "preliminary"
    assert (
        "The rhythm figures predate the correction of beat classes: recomputing them failed (The signal could not be "
        "read again)." in report["conclusion"]
    )


def test_the_csv_export_s_rhythm_rows_say_they_predate_a_correction_while_the_rhythm_is_recomputed(
    api_as, staff_a, doctor_a, holter
):
    """As the FHIR report's Observations made from the rhythm are preliminary: the export had given the events, and
    the rhythm at the diary's moments, from before the correction with nothing to tell them from current ones."""
    fs = holter.sampling_rate
    services.diary_entry_add(recording=holter, by=staff_a, sample=int(50 * fs), symptom="syncope")
    services.diary_activity_add(recording=holter, by=staff_a, kind="sleep", start=0, end=int(40 * fs))
    api = api_as(staff_a)

    def rhythm_statuses() -> dict[str, set[str]]:
        """By the first column after the recording's of each table made from the rhythm, its rows' rhythm_status."""
        text = body(api.get(f"/api/v1/recordings/{holter.pk}/export.csv")).decode()
        tables = [list(csv.DictReader(io.StringIO(table))) for table in text.split("\r\n\r\n")]
        return {list(rows[0])[2]: {r["rhythm_status"] for r in rows} for rows in tables if "rhythm_status" in rows[0]}

    assert rhythm_statuses() == {k: {"current"} for k in ("event", "entry", "activity", "side", "type")}
    n = list(holter.beats.filter(aami_class="N").order_by("index").values_list("index", flat=True)[:1])
    corrections.beat_correction_make(recording=holter, by=doctor_a, to_class="S", beats=n)
    assert rhythm_statuses() == {k: {"recomputing"} for k in ("event", "entry", "activity", "side", "type")}
    assert corrections.recording_rhythm_recompute(recording_id=holter.pk) == "done"
    assert rhythm_statuses() == {k: {"current"} for k in ("event", "entry", "activity", "side", "type")}
    corrections.beat_correction_make(recording=holter, by=doctor_a, to_class="N", beats=n)
    corrections.rhythm_recompute_failed(recording_id=holter.pk, reason="The signal could not be read again.")
    assert rhythm_statuses() == {k: {"failed"} for k in ("event", "entry", "activity", "side", "type")}


def test_a_correction_written_while_the_csv_export_reads_the_events_marks_them_recomputing(
    api_as, staff_a, doctor_a, holter, monkeypatch
):
    # the status had been read before the events (from the diagnosis loaded before the beats streamed): events read
    # just before a correction committed went out marked current
    from diagnostics import selectors

    read_decisions = selectors.event_latest_reviews  # read just after the events themselves
    n = list(holter.beats.filter(aami_class="N").order_by("index").values_list("index", flat=True)[:1])

    def events_then_a_correction(**kwargs):
        decisions = read_decisions(**kwargs)
        corrections.beat_correction_make(recording=holter, by=doctor_a, to_class="S", beats=n)
        return decisions

    monkeypatch.setattr(selectors, "event_latest_reviews", events_then_a_correction)
    text = body(api_as(staff_a).get(f"/api/v1/recordings/{holter.pk}/export.csv")).decode()
    tables = [list(csv.DictReader(io.StringIO(table))) for table in text.split("\r\n\r\n")]
    (events,) = [rows for rows in tables if "rhythm_status" in rows[0] and list(rows[0])[2] == "event"]
    assert {row["rhythm_status"] for row in events} == {"recomputing"}


def test_a_correction_written_while_the_csv_export_reads_the_awake_asleep_figures_marks_them_recomputing(
    api_as, staff_a, doctor_a, holter, monkeypatch
):
    from diagnostics import diary

    services.diary_activity_add(recording=holter, by=staff_a, kind="sleep", start=0, end=int(40 * holter.sampling_rate))
    figures_of = diary.awake_asleep
    n = list(holter.beats.filter(aami_class="N").order_by("index").values_list("index", flat=True)[:1])

    def figures_then_a_correction(*args):
        figures = figures_of(*args)
        corrections.beat_correction_make(recording=holter, by=doctor_a, to_class="S", beats=n)
        return figures

    monkeypatch.setattr(diary, "awake_asleep", figures_then_a_correction)
    text = body(api_as(staff_a).get(f"/api/v1/recordings/{holter.pk}/export.csv")).decode()
    tables = [list(csv.DictReader(io.StringIO(table))) for table in text.split("\r\n\r\n")]
    statuses = {list(rows[0])[2]: {r["rhythm_status"] for r in rows} for rows in tables if "rhythm_status" in rows[0]}
    # the rows read before it current, those read from the figures computed as it was written recomputing
    assert statuses == {"event": {"current"}, "activity": {"current"}, "side": {"recomputing"}, "type": {"recomputing"}}
