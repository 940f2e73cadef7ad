"""An Observation the FHIR report carried and no longer does is sent once more, under the same id, as
``entered-in-error``: a receiver that stored it retracts it instead of keeping a stale result (the MI score and flag
after a doctor's corrections left the screen not assessable, a symptom removed from the diary, the heart rate awake
and asleep once the last sleep period is removed, the mean, minimum or maximum heart rate a recomputed rhythm lacks).
"""

import pytest

from diagnostics import corrections, services
from diagnostics.models import Beat, Diagnosis

from ..diagnostics.test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)
from ..helpers import mi_screened
from .test_fhir import fetch_valid_bundle

pytestmark = pytest.mark.django_db


@pytest.fixture
def holter(request):
    """70 s of MIT-BIH 207 at 360 Hz, classified: a signal recording, with a rhythm."""
    return request.getfixturevalue("holter_recording")


def observations(bundle: dict) -> dict[str, tuple[str, dict]]:
    """Each Observation by its code: its fullUrl and itself (a diary symptom's code is its entry's, one each)."""
    out = {}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Observation":
            out[resource["code"]["coding"][0]["code"], entry["fullUrl"]] = resource
    return {code: (url, resource) for (code, url), resource in out.items()}


def results(bundle: dict) -> set[str]:
    (report,) = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "DiagnosticReport"]
    return {r["reference"] for r in report["result"]}


def assert_withdrawn(bundle: dict, before: dict, codes) -> None:
    now = observations(bundle)
    for code in codes:
        url, observation = now[code]
        assert url == before[code][0], code  # the same id, so the receiver's copy is the one retracted
        assert observation["status"] == "entered-in-error", code
        assert observation["code"]["coding"] == before[code][1]["code"]["coding"], code
        assert not {k for k in observation if k.startswith("value")}, code  # no value that could be read as current
        assert url not in results(bundle), code  # no longer a result of the report


def test_the_mi_score_and_flag_a_correction_took_out_are_sent_entered_in_error(api_as, staff_a, doctor_a, holter):
    scored = list(range(20, 60))
    Beat.objects.filter(recording=holter, index__in=scored).update(mi_probability=0.6)
    mi_screened(holter, scored, 0.6, flag=True, reason="median MI probability of 40 beats")
    api = api_as(staff_a)
    before = observations(fetch_valid_bundle(api, holter))
    corrections.beat_correction_make(recording=holter, by=doctor_a, to_class="V", beats=scored[::2])
    assert Diagnosis.objects.get(recording=holter).mi_status == "not_assessable"
    after = fetch_valid_bundle(api, holter)
    assert_withdrawn(after, before, ("mi-score", "mi-flag"))
    assert fetch_valid_bundle(api, holter) == after  # the same on every request (its ETag holds)
    # undone: screened again, the same ids amended with their values
    (correction,) = holter.beat_corrections.all()
    corrections.beat_correction_undo(correction=correction, by=doctor_a)
    again = observations(fetch_valid_bundle(api, holter))
    for code in ("mi-score", "mi-flag"):
        assert again[code][0] == before[code][0] and again[code][1]["status"] == "amended"


def test_an_observation_never_sent_is_not_sent_entered_in_error(api_as, staff_a, doctor_a, holter):
    Diagnosis.objects.filter(recording=holter).update(mi_status="not_assessable", mi_score=None, mi_flag=False)
    api = api_as(staff_a)
    n = list(holter.beats.filter(aami_class="N").order_by("index").values_list("index", flat=True)[:1])
    corrections.beat_correction_make(recording=holter, by=doctor_a, to_class="S", beats=n)
    assert corrections.recording_rhythm_recompute(recording_id=holter.pk) == "done"
    data = fetch_valid_bundle(api, holter)
    assert "entered-in-error" not in {o["status"] for _, o in observations(data).values()}


def test_a_heart_rate_a_recomputed_rhythm_lacks_is_sent_entered_in_error(api_as, staff_a, doctor_a, holter):
    api = api_as(staff_a)
    before = observations(fetch_valid_bundle(api, holter))
    assert {"8867-4", "heart-rate-min", "heart-rate-max"} <= set(before)
    n = list(holter.beats.filter(aami_class="N").order_by("index").values_list("index", flat=True)[:1])
    corrections.beat_correction_make(recording=holter, by=doctor_a, to_class="S", beats=n)
    assert corrections.recording_rhythm_recompute(recording_id=holter.pk) == "done"
    diagnosis = Diagnosis.objects.get(recording=holter)
    # what the results carried before the rhythm was recomputed is kept, whatever the recomputation gave
    assert {"8867-4", "heart-rate-min", "heart-rate-max"} <= set(diagnosis.figures_once)
    # a recomputation that could read no 8-beat extreme and no mean (as over a strip of too few R-R intervals)
    rhythm = diagnosis.rhythm
    rhythm["heart_rate"] = {**rhythm["heart_rate"], "mean_bpm": None, "hr_min": None, "hr_max": None}
    Diagnosis.objects.filter(pk=diagnosis.pk).update(rhythm=rhythm, heart_rate_bpm=None)
    assert_withdrawn(fetch_valid_bundle(api, holter), before, ("8867-4", "heart-rate-min", "heart-rate-max"))


def test_a_symptom_removed_from_the_diary_is_sent_entered_in_error(api_as, staff_a, holter):
    api = api_as(staff_a)
    kept = services.diary_entry_add(recording=holter, by=staff_a, sample=360 * 10, symptom="syncope")
    mistaken = services.diary_entry_add(recording=holter, by=staff_a, sample=360 * 20, symptom="fatigue")
    before = fetch_valid_bundle(api, holter)
    urls = {e["fullUrl"]: e["resource"] for e in before["entry"]}
    assert services.diary_entry_remove(entry=mistaken, by=staff_a)
    after = fetch_valid_bundle(api, holter)
    now = {e["fullUrl"]: e["resource"] for e in after["entry"]}
    symptoms = {url: o for url, o in now.items() if o.get("code", {}).get("coding", [{}])[0].get("code") == "75325-1"}
    assert len(symptoms) == 2 and set(symptoms) <= set(urls)  # each under the id it had
    withdrawn = [url for url, o in symptoms.items() if o["status"] == "entered-in-error"]
    assert len(withdrawn) == 1 and "valueCodeableConcept" not in symptoms[withdrawn[0]]
    assert withdrawn[0] not in results(after)
    (standing,) = [o for o in symptoms.values() if o["status"] != "entered-in-error"]
    assert standing["valueCodeableConcept"]["text"] == "Fainting (syncope)" and kept.removed_at is None


def test_the_heart_rate_awake_and_asleep_are_sent_entered_in_error_once_no_sleep_period_stands(api_as, staff_a, holter):
    api = api_as(staff_a)
    night = services.diary_activity_add(recording=holter, by=staff_a, kind="sleep", start=0, end=360 * 40)
    before = observations(fetch_valid_bundle(api, holter))
    assert {"heart-rate-awake", "heart-rate-asleep"} <= set(before)
    assert services.diary_activity_remove(activity=night, by=staff_a)
    assert_withdrawn(fetch_valid_bundle(api, holter), before, ("heart-rate-awake", "heart-rate-asleep"))
