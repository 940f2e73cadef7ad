"""The heart rate awake and asleep in the FHIR report: an Observation each side once the patient's diary has a sleep
period, with the figures ``recordings/{id}/sleep`` gives, and the report ``amended`` when a sleep period is entered or
removed after the results, as a diary entry makes it."""

from datetime import datetime

import pytest

from diagnostics import services
from diagnostics.models import DiaryActivity

from ..diagnostics.test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)
from .test_diary_exports import component
from .test_fhir import fetch_valid_bundle, resources

pytestmark = pytest.mark.django_db


@pytest.fixture
def holter(request):
    """70 s of MIT-BIH 207 at 360 Hz (VF from 41.5 s to 61.5 s), classified."""
    return request.getfixturevalue("holter_recording")


def sides_of(bundle: dict) -> dict[str, dict]:
    return {
        o["code"]["coding"][0]["code"]: o
        for o in resources(bundle, "Observation")
        if o["code"]["coding"][0]["code"] in ("heart-rate-awake", "heart-rate-asleep")
    }


def report_of(bundle: dict) -> dict:
    (report,) = resources(bundle, "DiagnosticReport")
    return report


def test_a_sleep_period_brings_the_heart_rate_awake_and_asleep_into_the_report(api_as, staff_a, holter):
    api = api_as(staff_a)
    before = fetch_valid_bundle(api, holter)
    assert not sides_of(before) and report_of(before)["status"] == "final"

    # a medicine taken is in no figure of the report: it stays as it was
    services.diary_activity_add(recording=holter, by=staff_a, kind="medication", start=360)
    assert fetch_valid_bundle(api, holter) == before

    made = api.post(
        f"/api/v1/recordings/{holter.pk}/activities", {"kind": "sleep", "start_s": 5, "end_s": 50}, format="json"
    )
    assert made.status_code == 201, made.content
    figures = api.get(f"/api/v1/recordings/{holter.pk}/sleep").json()
    bundle = fetch_valid_bundle(api, holter)  # every resource validated with fhir.resources
    sides = sides_of(bundle)
    assert set(sides) == {"heart-rate-awake", "heart-rate-asleep"}
    for side in ("awake", "asleep"):
        observation, expected = sides[f"heart-rate-{side}"], figures[side]
        assert observation["valueQuantity"] == {
            "value": expected["mean_bpm"],
            "unit": "beats/minute",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        }
        (minutes,) = component(observation, f"heart-rate-{side}-minutes")
        assert minutes["valueQuantity"]["value"] == expected["minutes"]
        (lowest,) = component(observation, f"heart-rate-{side}-lowest")
        assert lowest["valueQuantity"]["value"] == expected["lowest"]["bpm"]
        (minute,) = component(observation, f"heart-rate-{side}-lowest-minute")
        assert minute["valueQuantity"]["value"] == 60 * expected["lowest"]["minute"]
        assert observation["_effectiveDateTime"] == report_of(bundle)["_effectiveDateTime"]  # start unknown
    (vf,) = component(sides["heart-rate-asleep"], "asleep-events-vf")  # VF at 0:00:41, asleep
    assert vf["valueInteger"] == 1 and not component(sides["heart-rate-awake"], "awake-events-vf")

    report = report_of(bundle)
    refs = {r["reference"] for r in report["result"]}
    assert {e["fullUrl"] for e in bundle["entry"] if e["resource"] in sides.values()} <= refs
    assert f"Heart rate by the patient's diary: asleep {figures['asleep']['mean_bpm']} bpm" in report["conclusion"]
    night = DiaryActivity.objects.get(pk=made.json()["id"])
    # entered after the results were made: the report changed since it was first issued
    assert report["status"] == "amended" and datetime.fromisoformat(report["issued"]) == night.created_at
    kept = {e["fullUrl"] for e in before["entry"] if e["resource"]["resourceType"] == "Observation"}
    assert kept <= {e["fullUrl"] for e in bundle["entry"]}  # the others keep their ids
    assert fetch_valid_bundle(api, holter) == bundle  # the same on every request (its ETag holds)

    assert api.delete(f"/api/v1/recordings/{holter.pk}/activities/{night.pk}").status_code == 204
    after = fetch_valid_bundle(api, holter)
    night.refresh_from_db()
    assert "Heart rate by the patient's diary" not in report_of(after)["conclusion"]
    # sent once more under their ids, withdrawn, so a receiver that stored them retracts them
    assert {o["status"] for o in sides_of(after).values()} == {"entered-in-error"} and len(sides_of(after)) == 2
    assert datetime.fromisoformat(report_of(after)["issued"]) == night.removed_at


def test_a_sleep_period_entered_before_the_results_leaves_the_report_final(api_as, staff_a, holter):
    night = services.diary_activity_add(recording=holter, by=staff_a, kind="sleep", start=0, end=360 * 40)
    DiaryActivity.objects.filter(pk=night.pk).update(created_at=holter.diagnosis.created_at)
    bundle = fetch_valid_bundle(api_as(staff_a), holter)
    assert set(sides_of(bundle)) == {"heart-rate-awake", "heart-rate-asleep"}
    assert report_of(bundle)["status"] == "final"


def test_a_decision_on_an_event_counted_asleep_amends_the_report_that_counts_it(api_as, staff_a, doctor_a, holter):
    night = services.diary_activity_add(recording=holter, by=staff_a, kind="sleep", start=0, end=360 * 40)
    DiaryActivity.objects.filter(pk=night.pk).update(created_at=holter.diagnosis.created_at)
    api = api_as(staff_a)
    before = fetch_valid_bundle(api, holter)
    assert report_of(before)["status"] == "final"
    couplet = holter.events.filter(type="v_couplet").first() or holter.events.exclude(type="vf").first()
    review = services.event_review_create(user=doctor_a, event=couplet, decision="reject")
    after = fetch_valid_bundle(api, holter)
    assert sides_of(after) != sides_of(before)  # the rejected event is out of the counts
    assert report_of(after)["status"] == "amended" and report_of(after)["issued"] == review.created_at.isoformat()


def test_the_af_burden_awake_and_asleep_is_a_component_of_each_side_where_the_recording_holds_af(
    api_as, staff_a, holter
):
    from diagnostics.models import Event

    api = api_as(staff_a)
    services.diary_activity_add(recording=holter, by=staff_a, kind="sleep", start=0, end=int(59 * 360))
    assert not component(sides_of(fetch_valid_bundle(api, holter))["heart-rate-asleep"], "af-burden-asleep")  # none
    Event.objects.create(recording=holter, clinic=holter.clinic, type="afl", start=10 * 360, end=40 * 360 - 1, beats=30)
    sides = sides_of(fetch_valid_bundle(api, holter))
    (asleep,) = component(sides["heart-rate-asleep"], "af-burden-asleep")
    (awake,) = component(sides["heart-rate-awake"], "af-burden-awake")
    assert asleep["valueQuantity"] == {"value": 50.0, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"}
    assert awake["valueQuantity"]["value"] == 0.0
