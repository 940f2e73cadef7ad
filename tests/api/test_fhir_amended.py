"""A FHIR result a doctor's review changed says so: the DiagnosticReport is ``amended`` and issued at the
review, the Bundle's timestamp with it, and the Observations the review changed are ``amended``."""

from datetime import timedelta

import pytest
from django.utils import timezone

from diagnostics import services
from diagnostics.models import Event, EventReview, Review

from ..helpers import reviews_rewritable
from .test_fhir import by_code, fetch_valid_bundle, resources

pytestmark = pytest.mark.django_db


def report_of(data) -> dict:
    (report,) = resources(data, "DiagnosticReport")
    return report


def statuses(data) -> dict[str, str]:
    return {o["code"]["coding"][0]["code"]: o["status"] for o in resources(data, "Observation")}


def test_an_unreviewed_result_is_final_and_issued_when_made(api_as, staff_a, done_recording):
    data = fetch_valid_bundle(api_as(staff_a), done_recording)
    made = done_recording.diagnosis.created_at.isoformat()
    assert (report_of(data)["status"], report_of(data)["issued"], data["timestamp"]) == ("final", made, made)
    assert set(statuses(data).values()) == {"final"}


@pytest.mark.parametrize("decision,interpretation", [("reject", "N"), ("confirm", "A")])
def test_a_reviewed_mi_flag_amends_the_report(api_as, staff_a, doctor_a, done_recording, decision, interpretation):
    api = api_as(staff_a)
    before = fetch_valid_bundle(api, done_recording)
    review = services.review_create(
        user=doctor_a, diagnosis=done_recording.diagnosis, decision=decision, note="second look"
    )
    after = fetch_valid_bundle(api, done_recording)
    report = report_of(after)
    assert report["status"] == "amended"
    assert report["issued"] == after["timestamp"] == review.created_at.isoformat()
    assert report["conclusion"] != report_of(before)["conclusion"]
    flag = by_code(resources(after, "Observation"), "mi-flag")
    assert flag["status"] == "amended" and flag["interpretation"][0]["coding"][0]["code"] == interpretation
    unchanged = {code: status for code, status in statuses(after).items() if code != "mi-flag"}
    assert set(unchanged.values()) == {"final"}  # the counts, the score, the waveform: as the model made them


def test_the_latest_review_issues_it(api_as, staff_a, doctor_a, done_recording):
    diagnosis = done_recording.diagnosis
    first = services.review_create(user=doctor_a, diagnosis=diagnosis, decision="reject", note="artefact")
    with reviews_rewritable():
        Review.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(hours=2))
    second = services.review_create(user=doctor_a, diagnosis=diagnosis, decision="confirm")
    data = fetch_valid_bundle(api_as(staff_a), done_recording)
    assert report_of(data)["issued"] == data["timestamp"] == second.created_at.isoformat()


@pytest.fixture
def vf_recording(done_recording):
    """The beat recording given a VF/VFL episode, as a signal's rhythm summary would carry one."""
    diagnosis = done_recording.diagnosis
    diagnosis.rhythm = {"vf": [{"start": 1000, "end": 4600}], "asystole": [], "event_counts": {"vf": 1}}
    diagnosis.save(update_fields=["rhythm"])
    Event.objects.create(
        recording=done_recording, clinic=done_recording.clinic, type="vf", start=1000, end=4600, beats=0
    )
    return done_recording


@pytest.mark.parametrize("decision", ["reject", "confirm"])
def test_a_reviewed_vf_episode_amends_the_report_and_its_observation(api_as, staff_a, doctor_a, vf_recording, decision):
    api = api_as(staff_a)
    before = fetch_valid_bundle(api, vf_recording)
    assert report_of(before)["status"] == "final" and set(statuses(before).values()) == {"final"}
    event = Event.objects.get(recording=vf_recording, type="vf")
    review = services.event_review_create(user=doctor_a, event=event, decision=decision, note="seen on the strip")
    after = fetch_valid_bundle(api, vf_recording)
    report = report_of(after)
    assert report["status"] == "amended"
    assert report["issued"] == after["timestamp"] == review.created_at.isoformat()
    amended = {code for code, status in statuses(after).items() if status == "amended"}
    assert amended == {"ventricular-fibrillation-episodes"}


def test_a_review_of_another_kind_of_event_changes_nothing(api_as, staff_a, doctor_a, done_recording):
    # a pause a doctor confirmed is not in the Bundle's content: the report stays final
    event = Event.objects.create(
        recording=done_recording, clinic=done_recording.clinic, type="pause", start=10, end=900, beats=2
    )
    services.event_review_create(user=doctor_a, event=event, decision="confirm")
    assert EventReview.objects.count() == 1
    data = fetch_valid_bundle(api_as(staff_a), done_recording)
    assert report_of(data)["status"] == "final"
    assert report_of(data)["issued"] == done_recording.diagnosis.created_at.isoformat()
