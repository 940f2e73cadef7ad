"""The MI screen in the FHIR report: who decided on its flag, and its Observations once a doctor's beat corrections
changed what it scored."""

import pytest

from diagnostics import corrections, services
from diagnostics.models import Beat, Diagnosis

from ..diagnostics.test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)
from ..helpers import mi_screened
from .test_fhir import by_code, fetch_valid_bundle, resources
from .test_fhir_amended import statuses

pytestmark = pytest.mark.django_db


@pytest.fixture
def holter(request):
    """70 s of MIT-BIH 207 at 360 Hz, classified: a signal recording."""
    return request.getfixturevalue("holter_recording")


def test_the_doctor_who_decided_on_the_mi_flag_is_its_performer(api_as, staff_a, doctor_a, done_recording):
    doctor_a.first_name, doctor_a.last_name = "Dana", "Doctor"
    doctor_a.save()
    services.review_create(user=doctor_a, diagnosis=done_recording.diagnosis, decision="confirm", note="ST elevation")
    data = fetch_valid_bundle(api_as(staff_a), done_recording)
    flag = by_code(resources(data, "Observation"), "mi-flag")
    (performer,) = flag["performer"]
    assert performer["display"] == "Dana Doctor"
    (practitioner,) = [e for e in data["entry"] if e["fullUrl"] == performer["reference"]]
    assert practitioner["resource"]["resourceType"] == "Practitioner"
    assert practitioner["resource"]["identifier"][0]["value"] == str(doctor_a.pk)
    # signed by the same doctor: named once, as the report's interpreter too
    services.interpretation_sign(user=doctor_a, recording=done_recording, text="Inferior MI.")
    data = fetch_valid_bundle(api_as(staff_a), done_recording)
    (report,) = resources(data, "DiagnosticReport")
    assert report["resultsInterpreter"][0]["reference"] == performer["reference"]
    assert len(resources(data, "Practitioner")) == 1


def test_an_unreviewed_flag_names_no_performer(api_as, staff_a, done_recording):
    data = fetch_valid_bundle(api_as(staff_a), done_recording)
    assert "performer" not in by_code(resources(data, "Observation"), "mi-flag")
    assert not resources(data, "Practitioner")


def test_the_mi_observations_are_amended_once_a_correction_changed_the_beats_scored(api_as, staff_a, doctor_a, holter):
    scored = list(range(20, 60))
    Beat.objects.filter(recording=holter, index__in=scored).update(mi_probability=0.6)
    Beat.objects.filter(recording=holter, index__in=[30, 31, 40, 41]).update(mi_probability=0.95)
    mi_screened(holter, scored, 0.6, flag=True, reason="median MI probability of 40 beats")
    api = api_as(staff_a)
    assert {statuses(fetch_valid_bundle(api, holter))[c] for c in ("mi-screen", "mi-score", "mi-flag")} == {"final"}
    # a doctor calls most scored beats ventricular: too few left, the screen not assessable, its score gone
    corrections.beat_correction_make(recording=holter, by=doctor_a, to_class="V", beats=scored[::2])
    assert Diagnosis.objects.get(recording=holter).mi_status == "not_assessable"
    data = fetch_valid_bundle(api, holter)
    assert statuses(data)["mi-screen"] == "amended" and statuses(data)["mi-score"] == "entered-in-error"
    # undone: screened and flagged again, its Observations amended once more (a receiver had the not-assessable one)
    (correction,) = holter.beat_corrections.all()
    corrections.beat_correction_undo(correction=correction, by=doctor_a)
    data = fetch_valid_bundle(api, holter)
    assert {statuses(data)[c] for c in ("mi-screen", "mi-score", "mi-flag")} == {"amended"}


def test_a_correction_the_mi_screen_did_not_score_leaves_its_observations_final(api_as, staff_a, doctor_a, holter):
    scored = list(range(20, 60))
    Beat.objects.filter(recording=holter).update(mi_probability=0.2)
    Diagnosis.objects.filter(recording=holter).update(
        mi_status="screened", mi_lead="II", mi_scored_beats=scored, mi_beats_used=40, mi_score=0.2, mi_threshold=0.5
    )
    corrections.beat_correction_make(recording=holter, by=doctor_a, to_class="Q", beats=[2, 3])
    data = fetch_valid_bundle(api_as(staff_a), holter)
    assert statuses(data)["mi-screen"] == statuses(data)["mi-score"] == "final"
