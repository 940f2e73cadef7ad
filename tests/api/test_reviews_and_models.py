import pytest

from diagnostics.models import Review
from mlmodels.models import ModelVersion

from ..helpers import upload
from .conftest import classify_by_hand, submit_beats

pytestmark = pytest.mark.django_db


def test_a_doctor_confirms_a_flagged_diagnosis(api_as, doctor_a, done_recording):
    response = api_as(doctor_a).post(
        "/api/v1/reviews",
        {"diagnosis": done_recording.diagnosis.pk, "decision": "confirm", "note": " STEMI "},
        format="json",
    )
    assert response.status_code == 201, response.content
    review = Review.objects.get()
    assert (review.reviewer, review.decision, review.note) == (doctor_a, "confirm", "STEMI")
    assert response.json()["recording"] == done_recording.pk
    # the username for systems, and the name pages, reports and FHIR give the reviewer
    assert (response.json()["reviewer"], response.json()["reviewer_name"]) == ("doctor_a", "doctor_a")
    doctor_a.first_name, doctor_a.last_name = "Dana", "Doctor"
    doctor_a.save()
    diagnosis = api_as(doctor_a).get(f"/api/v1/diagnoses/{done_recording.diagnosis.pk}").json()
    assert diagnosis["latest_review"]["reviewer_name"] == "Dana Doctor"


def test_staff_may_not_review(api_as, staff_a, done_recording):
    response = api_as(staff_a).post(
        "/api/v1/reviews", {"diagnosis": done_recording.diagnosis.pk, "decision": "confirm"}, format="json"
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "permission_denied"
    assert not Review.objects.exists()


def test_an_unflagged_diagnosis_is_not_reviewed(api_as, doctor_a, staff_a, patient_a, active_models):
    recording = submit_beats(staff_a, patient_a)
    diagnosis = classify_by_hand(recording, active_models, mi_score=0.1)
    response = api_as(doctor_a).post(
        "/api/v1/reviews", {"diagnosis": diagnosis.pk, "decision": "reject"}, format="json"
    )
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_flagged"
    assert response.json()["error"]["message"] == "Only diagnoses screened and flagged for MI are reviewed."


@pytest.mark.parametrize("note", ["STEMI\x07", "ok\x1b[2J", "seen\x00"])
def test_a_review_note_with_a_control_character_is_400_naming_the_note(api_as, doctor_a, done_recording, note):
    # as a rhythm event's decision note is refused one: a bell or an escape had been stored, and read as nothing
    response = api_as(doctor_a).post(
        "/api/v1/reviews",
        {"diagnosis": done_recording.diagnosis.pk, "decision": "confirm", "note": note},
        format="json",
    )
    assert response.status_code == 400 and response.json()["error"]["field"] == "note", response.content
    assert not Review.objects.exists()
    kept = api_as(doctor_a).post(
        "/api/v1/reviews",
        {"diagnosis": done_recording.diagnosis.pk, "decision": "confirm", "note": "two\r\nlines\tkept"},
        format="json",
    )
    assert kept.status_code == 201 and Review.objects.get().note == "two\r\nlines\tkept"


def test_an_unknown_decision_is_400(api_as, doctor_a, done_recording):
    response = api_as(doctor_a).post(
        "/api/v1/reviews", {"diagnosis": done_recording.diagnosis.pk, "decision": "maybe"}, format="json"
    )
    assert response.status_code == 400 and response.json()["error"]["field"] == "decision"


def test_flagged_diagnoses_come_in_queue_order(api_as, doctor_a, staff_a, patient_a, active_models, done_recording):
    higher = classify_by_hand(submit_beats(staff_a, patient_a), active_models, mi_score=0.99)
    classify_by_hand(submit_beats(staff_a, patient_a), active_models, mi_score=0.2)
    api = api_as(doctor_a)
    flagged = [d["id"] for d in api.get("/api/v1/diagnoses", {"flagged": "true"}).json()["results"]]
    assert flagged == [higher.pk, done_recording.diagnosis.pk]
    assert api.get("/api/v1/diagnoses").json()["count"] == 3
    assert api.get("/api/v1/diagnoses", {"flagged": "false"}).json()["count"] == 1


def test_model_versions_are_shared_by_clinics(api_as, staff_b, active_models):
    versions = api_as(staff_b).get("/api/v1/model-versions", {"active": "true"}).json()["results"]
    assert {(v["task"], v["version"]) for v in versions} == {("heartbeat", "tiny-1"), ("mi", "tiny-high")}


def test_model_versions_filter_by_every_task(api_as, staff_a, active_models):
    from mlmodels.models import ModelVersion

    record_level = ModelVersion.objects.create(
        task="heartbeat_record", version="ctx-test", sha256="1" * 64, class_labels=["N", "S", "V", "F", "Q"]
    )
    api = api_as(staff_a)
    for task, expected in (("heartbeat_record", {record_level.pk}), ("mi", {active_models["mi"].pk})):
        body = api.get("/api/v1/model-versions", {"task": task}).json()
        assert {v["id"] for v in body["results"]} == expected
    refused = api.get("/api/v1/model-versions", {"task": "ecg"})
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == "Expected one of heartbeat, heartbeat_record, mi."


@pytest.mark.slow
def test_an_admin_uploads_and_activates_a_model_version(api_as, platform_admin, active_models, tiny_model_dir):
    api = api_as(platform_admin)
    artifact = (tiny_model_dir / "mi-high.keras").read_bytes()
    # Same bytes under another name or threshold: a version's artifact and threshold do not change, so it
    # is refused naming the version it is (it was answered 201 with that version, the new name and
    # threshold silently dropped)
    for version, threshold in (("again", "0.4"), ("tiny-high", "0.4"), ("again", "0.5")):
        response = api.post(
            "/api/v1/model-versions",
            {"task": "mi", "version": version, "threshold": threshold, "artifact": upload("mi.keras", artifact)},
            format="multipart",
        )
        assert response.status_code == 409, response.content
        error = response.json()["error"]
        assert error["code"] == "artifact_registered" and error["field"] == "artifact"
        assert "already registered as mi version 'tiny-high' (threshold 0.5)" in error["message"]
    assert ModelVersion.objects.filter(task="mi").count() == 1
    # the same request repeated returns that version
    response = api.post(
        "/api/v1/model-versions",
        {"task": "mi", "version": "tiny-high", "threshold": "0.5", "artifact": upload("mi.keras", artifact)},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert response.json()["id"] == active_models["mi"].pk
    assert response["Location"] == f"http://testserver/api/v1/model-versions/{active_models['mi'].pk}"
    from django.core.files.storage import default_storage

    from ..conftest import model_version_from

    other = model_version_from(tiny_model_dir / "heartbeat.keras", task="heartbeat", version="spare", active=False)
    lost = model_version_from(tiny_model_dir / "heartbeat.keras", task="heartbeat", version="lost", active=False)
    default_storage.delete(lost.artifact.name)
    # a version whose stored artifact is gone is refused, naming it (it was activated, and every recording failed)
    response = api.post(f"/api/v1/model-versions/{lost.pk}/activate")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_model", "artifact")
    assert (
        f"heartbeat lost cannot be activated: its stored artifact {lost.artifact.name} cannot be read"
        in (error["message"])
    )
    assert ModelVersion.objects.get(task="heartbeat", is_active=True) == active_models["heartbeat"]
    response = api.post(f"/api/v1/model-versions/{other.pk}/activate")
    assert response.status_code == 200 and response.json()["is_active"] is True
    active_models["heartbeat"].refresh_from_db()
    assert active_models["heartbeat"].is_active is False


@pytest.mark.slow
def test_a_file_that_is_not_a_model_is_refused(api_as, platform_admin, db):
    response = api_as(platform_admin).post(
        "/api/v1/model-versions",
        {"task": "mi", "version": "bad", "artifact": upload("m.keras", b"not a model")},
        format="multipart",
    )
    error = response.json()["error"]
    assert response.status_code == 400 and "not a usable model" in error["message"]
    assert error["code"] == "invalid_model" and "/tmp" not in error["message"]  # no server path in the words
    assert not ModelVersion.objects.exists()


@pytest.mark.slow
def test_a_keras_2_h5_sent_again_is_known_as_the_version_it_made(api_as, platform_admin):
    # the .h5 is stored converted, and the conversion's bytes differ each time: it had made a second version
    from ..data import seed_dir

    api = api_as(platform_admin)
    artifact = (seed_dir() / "model_MI_final.h5").read_bytes()

    def send(version):
        return api.post(
            "/api/v1/model-versions",
            {"task": "mi", "version": version, "threshold": "0.5", "artifact": upload("mi.h5", artifact)},
            format="multipart",
        )

    first = send("seed-mi")
    assert first.status_code == 201, first.content
    again = send("seed-mi")
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    renamed = send("seed-mi-2")
    assert renamed.status_code == 409 and renamed.json()["error"]["code"] == "artifact_registered"
    assert ModelVersion.objects.filter(task="mi").count() == 1
    assert ModelVersion.objects.get().source_sha256 != ModelVersion.objects.get().sha256


@pytest.mark.parametrize("task", ["heartbeat", "heartbeat_record"])
def test_a_heartbeat_model_sent_with_a_decision_threshold_is_refused_naming_it(api_as, platform_admin, task):
    """Only the MI screen decides by a threshold; a heartbeat model's was stored, shown, and used for nothing."""
    response = api_as(platform_admin).post(
        "/api/v1/model-versions",
        {"task": task, "version": "with-threshold", "threshold": "0.3", "artifact": upload("m.keras", b"not read")},
        format="multipart",
    )
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["field"] == "threshold" and "only an MI model" in error["message"]
    assert not ModelVersion.objects.filter(version="with-threshold").exists()


@pytest.mark.parametrize("note", [None, "", "  ", "\u200b"])
def test_rejecting_an_mi_flag_needs_a_reason_in_the_note(api_as, doctor_a, done_recording, note):
    # as the review page: overriding a positive screen needs a reason, as a VF/VFL or asystole rejection does
    body = {"diagnosis": done_recording.diagnosis.pk, "decision": "reject"}
    if note is not None:
        body["note"] = note
    response = api_as(doctor_a).post("/api/v1/reviews", body, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("validation_error", "note")
    assert "rejecting an MI flag needs a reason" in error["message"]
    assert not Review.objects.exists()
    confirmed = api_as(doctor_a).post("/api/v1/reviews", {**body, "decision": "confirm"}, format="json")
    assert confirmed.status_code == 201, confirmed.content
    rejected = api_as(doctor_a).post("/api/v1/reviews", {**body, "note": "lead reversal"}, format="json")
    assert rejected.status_code == 201 and rejected.json()["note"] == "lead reversal"
