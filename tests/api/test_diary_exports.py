"""The patient's diary in what leaves the product: an Observation per symptom in the FHIR report (LOINC 75325-1, its
SNOMED CT finding, the rhythm at its moment) and a table of its own in the CSV export, its activities another."""

import csv
import io
from datetime import datetime

import pytest

from diagnostics import services
from diagnostics.models import DiaryEntry

from ..diagnostics.test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)
from .test_export_csv import body
from .test_fhir import fetch_valid_bundle, resources

pytestmark = pytest.mark.django_db
SNOMED = "http://snomed.info/sct"


@pytest.fixture
def holter(request):
    """70 s of MIT-BIH 207 at 360 Hz (VF from 41.5 s to 61.5 s), classified."""
    return request.getfixturevalue("holter_recording")


def symptoms_of(bundle: dict) -> list[dict]:
    """The symptoms the report carries (not those sent "entered-in-error", removed from the diary)."""
    return [
        o
        for o in resources(bundle, "Observation")
        if o["code"]["coding"][0]["code"] == "75325-1" and o["status"] != "entered-in-error"
    ]


def component(observation: dict, code: str) -> list[dict]:
    return [c for c in observation.get("component", []) if c["code"]["coding"][0]["code"] == code]


def test_each_symptom_noted_is_an_observation_of_the_report_with_the_rhythm_at_its_moment(api_as, staff_a, holter):
    api = api_as(staff_a)
    before = fetch_valid_bundle(api, holter)
    (report,) = resources(before, "DiagnosticReport")
    assert not symptoms_of(before) and report["status"] == "final" and "Patient diary" not in report["conclusion"]

    fs = holter.sampling_rate
    services.diary_entry_add(recording=holter, by=staff_a, sample=int(50.5 * fs), symptom="syncope")
    services.diary_entry_add(recording=holter, by=staff_a, sample=int(10 * fs), symptom="other", note="heart racing")
    mistaken = services.diary_entry_add(recording=holter, by=staff_a, sample=int(20 * fs), symptom="fatigue")
    services.diary_entry_remove(entry=mistaken, by=staff_a)

    bundle = fetch_valid_bundle(api, holter)  # every resource validated with fhir.resources
    first, second = symptoms_of(bundle)  # in the order of the moments; the one removed is not there
    assert first["valueCodeableConcept"]["text"] == "Other: heart racing"
    assert [c["system"] for c in first["valueCodeableConcept"]["coding"]] == ["urn:ecg-analyzer:codes"]
    assert second["valueCodeableConcept"]["coding"][0] == {"system": SNOMED, "code": "271594007", "display": "Syncope"}
    assert second["category"][0]["coding"][0]["code"] == "survey"
    assert second["performer"] == [{"reference": second["subject"]["reference"]}]  # the patient noted it
    (moment,) = component(second, "diary-moment")
    assert moment["valueQuantity"]["value"] == 50.5
    (during,) = component(second, "diary-rhythm-during")
    assert during["valueCodeableConcept"]["coding"][0]["code"] == "event-vf"
    assert not component(second, "diary-heart-rate")  # no beats to count a rate from inside VF
    assert second["note"][0]["text"] == "During ventricular flutter / fibrillation."
    assert any(n["text"] == f"Entered by {staff_a.display_name}." for n in second["note"])
    assert component(first, "diary-heart-rate") and not component(first, "diary-rhythm-during")
    # the recording's file stated no start: the summary's effective time, the moment in seconds as a component
    assert second["_effectiveDateTime"] == report["_effectiveDateTime"] and "effectiveDateTime" not in second

    (report,) = resources(bundle, "DiagnosticReport")
    refs = {e["resource"].get("id") or e["fullUrl"] for e in bundle["entry"] if e["resource"] in (first, second)}
    assert refs <= {r["reference"] for r in report["result"]}
    assert "Patient diary: 2 symptoms noted, 1 of them during a rhythm event." in report["conclusion"]
    # entered after the results were made: the report changed since it was first issued
    assert report["status"] == "amended" and report["issued"] == bundle["timestamp"]
    assert datetime.fromisoformat(report["issued"]) == DiaryEntry.objects.get(pk=mistaken.pk).removed_at
    # the other Observations keep their ids: an entry added or removed moves none of them
    kept = {e["fullUrl"] for e in before["entry"] if e["resource"]["resourceType"] == "Observation"}
    assert kept <= {e["fullUrl"] for e in bundle["entry"]}
    assert fetch_valid_bundle(api, holter) == bundle  # the same on every request (its ETag holds)


def test_a_symptom_is_effective_at_its_moment_where_the_file_stated_the_start(api_as, staff_a, holter):
    holter.recorded_at = datetime.fromisoformat("2026-12-01T23:59:30+00:00")
    holter.save(update_fields=["recorded_at"])
    services.diary_entry_add(recording=holter, by=staff_a, sample=int(45 * holter.sampling_rate), symptom="dizziness")
    (symptom,) = symptoms_of(fetch_valid_bundle(api_as(staff_a), holter))
    assert datetime.fromisoformat(symptom["effectiveDateTime"]) == datetime.fromisoformat("2026-12-02T00:00:15+00:00")


def test_the_csv_export_lists_the_diary_after_the_events_with_formulas_quoted(api_as, staff_a, holter):
    fs = holter.sampling_rate
    services.diary_entry_add(recording=holter, by=staff_a, sample=int(50.5 * fs), symptom="syncope", note="=cmd|x")
    services.diary_entry_add(recording=holter, by=staff_a, sample=int(5 * fs), symptom="palpitations")
    gone = services.diary_entry_add(recording=holter, by=staff_a, sample=int(6 * fs), symptom="fatigue")
    services.diary_entry_remove(entry=gone, by=staff_a)
    text = body(api_as(staff_a).get(f"/api/v1/recordings/{holter.pk}/export.csv")).decode()
    tables = text.split("\r\n\r\n")
    assert len(tables) == 4  # beats, events, diary, then the MI screen
    rows = list(csv.DictReader(io.StringIO(tables[2])))
    assert [r["symptom"] for r in rows] == ["palpitations", "syncope"] and [r["entry"] for r in rows] == ["1", "2"]
    vf = rows[1]
    assert (vf["at_s"], vf["during"], vf["rate_bpm"], vf["at"]) == ("50.50", "vf", "", "")
    assert vf["note"] == "'=cmd|x"  # a spreadsheet would have run it
    assert vf["finding"] == "During ventricular flutter / fibrillation."
    assert vf["entered_by"] == staff_a.display_name and int(vf["entry_id"]) != gone.pk
    assert rows[0]["rate_bpm"].isdigit() and rows[0]["during"] == ""


def test_the_csv_export_lists_the_activities_after_the_diary(api_as, staff_a, holter):
    fs = holter.sampling_rate
    services.diary_entry_add(recording=holter, by=staff_a, sample=int(20 * fs), symptom="fatigue")
    services.diary_activity_add(recording=holter, by=staff_a, kind="sleep", start=0, end=int(40 * fs), note="=cmd|x")
    services.diary_activity_add(recording=holter, by=staff_a, kind="medication", start=int(45 * fs), note="aspirin")
    gone = services.diary_activity_add(recording=holter, by=staff_a, kind="medication", start=int(50 * fs))
    services.diary_activity_remove(activity=gone, by=staff_a)
    text = body(api_as(staff_a).get(f"/api/v1/recordings/{holter.pk}/export.csv")).decode()
    tables = text.split("\r\n\r\n")
    assert len(tables) == 7  # beats, events, diary, activities, (a sleep period) awake / asleep and its events, MI
    rows = list(csv.DictReader(io.StringIO(tables[3])))
    assert [(r["activity"], r["kind"]) for r in rows] == [("1", "sleep"), ("2", "medication")]
    night, pills = rows
    assert night["note"] == "'=cmd|x"  # a spreadsheet would have run it
    assert (night["start_s"], night["end_s"], night["end_sample"], night["start"]) == ("0.00", "40.00", "14400", "")
    assert float(night["mean_bpm"]) > 0 and night["minutes"] == "1" and float(night["lowest_bpm"]) > 0
    assert (pills["end_sample"], pills["mean_bpm"], pills["minutes"], pills["note"]) == ("", "", "", "aspirin")
    assert night["entered_by"] == staff_a.display_name and int(pills["activity_id"]) != gone.pk


def test_the_csv_export_gives_the_heart_rate_awake_and_asleep_as_recordings_sleep_does(api_as, staff_a, holter):
    fs = holter.sampling_rate
    api = api_as(staff_a)
    services.diary_activity_add(recording=holter, by=staff_a, kind="exercise", start=0, end=int(30 * fs))
    tables = body(api.get(f"/api/v1/recordings/{holter.pk}/export.csv")).decode().split("\r\n\r\n")
    assert len(tables) == 4  # beats, events, activities, MI screen: no sleep period, no awake / asleep figures
    services.diary_activity_add(recording=holter, by=staff_a, kind="sleep", start=0, end=int(40 * fs))
    holter.recorded_at = datetime.fromisoformat("2026-12-01T23:59:30+00:00")
    holter.save(update_fields=["recorded_at"])

    tables = body(api.get(f"/api/v1/recordings/{holter.pk}/export.csv")).decode().split("\r\n\r\n")
    assert len(tables) == 6
    sides = list(csv.DictReader(io.StringIO(tables[3])))
    counts = list(csv.DictReader(io.StringIO(tables[4])))
    sleep = api.get(f"/api/v1/recordings/{holter.pk}/sleep").json()
    assert [r["side"] for r in sides] == ["awake", "asleep"]
    for row in sides:
        side = sleep[row["side"]]
        assert int(row["minutes"]) == side["minutes"] and float(row["mean_bpm"]) == side["mean_bpm"]
        for key in ("lowest", "highest"):
            assert float(row[f"{key}_bpm"]) == side[key]["bpm"] and float(row[f"{key}_at_s"]) == side[key]["at_s"]
            assert datetime.fromisoformat(row[f"{key}_at"]) == datetime.fromisoformat(side[key]["at"])
        assert row["af_burden_pct"] == ("" if side["af_burden_pct"] is None else str(side["af_burden_pct"]))
        assert row["rhythm_status"] == "current"
    # minute 0 (its middle at 30 s) asleep, minute 1 (60-70 s) awake: one minute with a rate each side
    assert (sides[0]["minutes"], sides[1]["minutes"]) == ("1", "1")
    assert [(r["type"], int(r["began_asleep"]), int(r["total"])) for r in counts] == [
        (e["type"], e["asleep"], e["total"]) for e in sleep["events"]
    ]
    vf = next(r for r in counts if r["type"] == "vf")  # VF from 41.5 s began awake, after the sleep period
    assert (vf["began_asleep"], vf["began_awake"], vf["ran_into_sleep"]) == ("0", "1", "0")


def test_the_csv_export_lists_the_corrections_of_beat_classes_before_the_mi_screen(
    api_as, staff_a, doctor_a, done_recording
):
    from diagnostics import corrections

    # the hand-made classes: N N V S F Q
    first = corrections.beat_correction_make(
        recording=done_recording, by=doctor_a, to_class="V", beats=[0, 1, 3], note="=cmd|x"
    )
    corrections.beat_correction_undo(correction=first, by=doctor_a)
    corrections.beat_correction_make(recording=done_recording, by=doctor_a, to_class="Q", beats=[4])
    text = body(api_as(staff_a).get(f"/api/v1/recordings/{done_recording.pk}/export.csv")).decode()
    tables = text.split("\r\n\r\n")
    assert len(tables) == 3  # beats, the corrections (a beat file has no events or diary), then the MI screen
    assert tables[2].startswith("patient_mrn,recording,mi_status,")
    rows = list(csv.DictReader(io.StringIO(tables[1])))
    undone, standing = rows  # in the order made
    assert (undone["correction"], undone["to_class"], undone["beats"], undone["family"]) == ("1", "V", "3", "")
    assert [undone[f"from_{c}"] for c in "NSVFQ"] == ["2", "1", "0", "0", "0"]
    assert undone["note"] == "'=cmd|x" and undone["undone_by"] == doctor_a.display_name and undone["undone_at"]
    assert undone["made_by"] == doctor_a.display_name and int(undone["correction_id"]) == first.pk
    assert (standing["to_class"], standing["from_F"], standing["undone_at"]) == ("Q", "1", "")


def test_the_csv_exports_times_are_in_the_sites_zone_as_the_apis_and_its_diary_columns(
    api_as, staff_a, doctor_a, done_recording, settings
):
    """A doctor's correction was written in UTC (``+00:00``) beside the diary's times at the clinic's offset and the
    API's: in a Berlin clinic the same spreadsheet read 08:00 for a correction the page and the API said was 09:00."""
    from diagnostics import corrections

    settings.TIME_ZONE = "Europe/Berlin"
    made = corrections.beat_correction_make(recording=done_recording, by=doctor_a, to_class="V", beats=[0])
    corrections.beat_correction_undo(correction=made, by=doctor_a)
    api = api_as(staff_a)
    (listed,) = api.get(f"/api/v1/recordings/{done_recording.pk}/beat-corrections").json()["results"]
    text = body(api.get(f"/api/v1/recordings/{done_recording.pk}/export.csv")).decode()
    (row,) = csv.DictReader(io.StringIO(text.split("\r\n\r\n")[1]))
    assert row["made_at"] == listed["created_at"] and row["undone_at"] == listed["undone_at"]
    assert row["made_at"].endswith(("+01:00", "+02:00"))
