"""One matrix over every API route × role: clinic A's staff, doctor and admin, clinic B, and no token."""

import pytest
from django.urls import get_resolver
from rest_framework.test import APIClient

from diagnostics.models import BeatCorrection, DiaryActivity, DiaryEntry, Review

from ..factories import PatientFactory
from ..helpers import beat_rows, upload

ROLES = ["staff_a", "doctor_a", "admin_a", "other_clinic", "anonymous"]


def _body_recording(ctx):
    return {"patient": ctx["patient"].pk, "kind": "beats", "beats": beat_rows(2).tolist()}


# (method, path, body, format, expected status per role in ROLES order)
# A success is JSON except where listed here; every error is JSON.
SUCCESS_CONTENT_TYPES = {"/api/v1/recordings/{recording}/export.csv": "text/csv; charset=utf-8"}
MATRIX = [
    ("get", "/api/v1/patients", None, None, [200, 200, 200, 200, 401]),
    ("post", "/api/v1/patients", lambda ctx: {"mrn": "NEW-1", "family_name": "Neu"}, "json", [201, 201, 201, 201, 401]),
    ("get", "/api/v1/patients/{patient}", None, None, [200, 200, 200, 404, 401]),
    (
        "put",
        "/api/v1/patients/{patient}",
        lambda ctx: {"mrn": "A-0001", "family_name": "Meyer-Lang"},
        "json",
        [200, 200, 200, 404, 401],
    ),
    ("patch", "/api/v1/patients/{patient}", lambda ctx: {"given_name": "Anne"}, "json", [200, 200, 200, 404, 401]),
    ("get", "/api/v1/recordings", None, None, [200, 200, 200, 200, 401]),
    ("post", "/api/v1/recordings", _body_recording, "json", [201, 201, 201, 404, 401]),
    ("get", "/api/v1/recordings/{recording}", None, None, [200, 200, 200, 404, 401]),
    ("get", "/api/v1/recordings/{recording}/beats", None, None, [200, 200, 200, 404, 401]),
    ("get", "/api/v1/recordings/{recording}/events", None, None, [200, 200, 200, 404, 401]),
    ("get", "/api/v1/recordings/{recording}/fhir", None, None, [200, 200, 200, 404, 401]),
    ("get", "/api/v1/recordings/{recording}/export.csv", None, None, [200, 200, 200, 404, 401]),
    ("get", "/api/v1/recordings/{recording}/interpretations", None, None, [200, 200, 200, 404, 401]),
    (
        "post",
        "/api/v1/recordings/{recording}/interpretations",
        lambda ctx: {"text": "Sinus rhythm."},
        "json",
        [403, 201, 201, 404, 401],
    ),
    ("get", "/api/v1/recordings/{recording}/moves", None, None, [200, 200, 200, 404, 401]),
    (
        "post",
        "/api/v1/recordings/{recording}/move",
        lambda ctx: {"patient": PatientFactory(clinic=ctx["patient"].clinic).pk, "reason": "Filed under another."},
        "json",
        [403, 200, 200, 404, 401],
    ),
    ("get", "/api/v1/recordings/{recording}/diary", None, None, [200, 200, 200, 404, 401]),
    # past authorisation, refused as a beat file's (a diary needs a signal's time: tests/api/test_diary.py)
    (
        "post",
        "/api/v1/recordings/{recording}/diary",
        lambda ctx: {"at_s": 0, "symptom": "fatigue"},
        "json",
        [400, 400, 400, 404, 401],
    ),
    ("delete", "/api/v1/recordings/{recording}/diary/{entry}", None, None, [204, 204, 204, 404, 401]),
    # its activities likewise (a beat file's refused past authorisation: tests/api/test_activities.py)
    ("get", "/api/v1/recordings/{recording}/activities", None, None, [200, 200, 200, 404, 401]),
    (
        "post",
        "/api/v1/recordings/{recording}/activities",
        lambda ctx: {"start_s": 0, "kind": "medication"},
        "json",
        [400, 400, 400, 404, 401],
    ),
    ("delete", "/api/v1/recordings/{recording}/activities/{activity}", None, None, [204, 204, 204, 404, 401]),
    ("get", "/api/v1/recordings/{recording}/sleep", None, None, [200, 200, 200, 404, 401]),
    # a doctor's corrections of beat classes: every role reads them, doctors and administrators make and undo them
    ("get", "/api/v1/recordings/{recording}/beat-families", None, None, [200, 200, 200, 404, 401]),
    ("get", "/api/v1/recordings/{recording}/beat-corrections", None, None, [200, 200, 200, 404, 401]),
    (
        "post",
        "/api/v1/recordings/{recording}/beat-corrections",
        lambda ctx: {"to_class": "V", "beats": [0]},
        "json",
        [403, 201, 201, 404, 401],
    ),
    ("get", "/api/v1/recordings/{recording}/beat-corrections/{correction}", None, None, [200, 200, 200, 404, 401]),
    ("delete", "/api/v1/recordings/{recording}/beat-corrections/{correction}", None, None, [403, 204, 204, 404, 401]),
    ("get", "/api/v1/diagnoses", None, None, [200, 200, 200, 200, 401]),
    ("get", "/api/v1/diagnoses/{diagnosis}", None, None, [200, 200, 200, 404, 401]),
    ("get", "/api/v1/reviews", None, None, [200, 200, 200, 200, 401]),
    (
        "post",
        "/api/v1/reviews",
        lambda ctx: {"diagnosis": ctx["diagnosis"].pk, "decision": "confirm"},
        "json",
        [403, 201, 201, 404, 401],
    ),
    ("get", "/api/v1/reviews/{review}", None, None, [200, 200, 200, 404, 401]),
    ("get", "/api/v1/model-versions", None, None, [200, 200, 200, 200, 401]),
    ("get", "/api/v1/model-versions/{model_version}", None, None, [200, 200, 200, 200, 401]),
    # Model versions serve every clinic: a clinic's administrator may not register or activate them (the
    # installation's administrators may: test_the_installations_administrator_registers_and_activates_models).
    (
        "post",
        "/api/v1/model-versions",
        lambda ctx: {"task": "mi", "version": "x", "artifact": upload("m.txt", b"no")},
        "multipart",
        [403, 403, 403, 403, 401],
    ),
    ("post", "/api/v1/model-versions/{model_version}/activate", None, "json", [403, 403, 403, 403, 401]),
]


@pytest.fixture
def ctx(done_recording, doctor_a, staff_a):
    # The factory leaves created_by empty, which Patient.full_clean refuses on update (see the report).
    done_recording.patient.created_by = staff_a
    done_recording.patient.save()
    diagnosis = done_recording.diagnosis
    review = Review.objects.create(
        diagnosis=diagnosis, clinic_id=diagnosis.clinic_id, reviewer=doctor_a, decision="reject"
    )
    entry = DiaryEntry.objects.create(  # made directly: the service takes a signal recording's alone
        recording=done_recording, clinic_id=done_recording.clinic_id, sample=0, symptom="fatigue", entered_by=staff_a
    )
    activity = DiaryActivity.objects.create(  # made directly, as the entry
        recording=done_recording, clinic_id=done_recording.clinic_id, kind="medication", start=0, entered_by=staff_a
    )
    correction = BeatCorrection.objects.create(  # made directly, as the entry: beat 1 made V
        recording=done_recording,
        clinic_id=done_recording.clinic_id,
        to_class="V",
        beat_indices=[1],
        previous={"N": [1]},
        made_by=doctor_a,
    )
    done_recording.beats.filter(index=1).update(aami_class="V", classified_as="N")
    return {
        "activity": activity,
        "correction": correction,
        "entry": entry,
        "patient": done_recording.patient,
        "recording": done_recording,
        "diagnosis": diagnosis,
        "review": review,
        "model_version": diagnosis.mi_model,
    }


@pytest.fixture
def client_as(request, api_as):
    def _client(role: str) -> APIClient:
        if role == "anonymous":
            return APIClient()
        # Clinic B: a doctor, so that role checks pass and only the clinic scope refuses.
        user = request.getfixturevalue("doctor_b" if role == "other_clinic" else role)
        return api_as(user)

    return _client


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method,path,body,fmt,expected", MATRIX, ids=[f"{m} {p}" for m, p, *_ in MATRIX])
def test_it_answers_each_role_as_intended(ctx, client_as, role, method, path, body, fmt, expected):
    client = client_as(role)
    url = path.format(**{k: v.pk for k, v in ctx.items()})
    kwargs = {"format": fmt} if fmt else {}
    if body is not None:
        kwargs["data"] = body(ctx)
    response = getattr(client, method)(url, **kwargs)
    assert response.status_code == expected[ROLES.index(role)], response.content[:300]
    success = response.status_code < 400
    if response.status_code == 204:  # no content, so no type
        assert not response.content and "Content-Type" not in response
        return
    assert response["Content-Type"].startswith(
        SUCCESS_CONTENT_TYPES.get(path, "application/json") if success else "application/json"
    )
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["code"] and error["message"]


@pytest.mark.django_db
def test_another_clinics_lists_do_not_show_clinic_a(ctx, client_as):
    client = client_as("other_clinic")
    for path in ("/api/v1/patients", "/api/v1/recordings", "/api/v1/diagnoses", "/api/v1/reviews"):
        assert client.get(path).json()["count"] == 0, path


def test_every_api_route_is_in_the_matrix():
    resolver = get_resolver()
    routes = set()
    for pattern in resolver.url_patterns:
        if str(pattern.pattern) == "api/v1/":
            for sub in pattern.url_patterns:
                routes.add(str(sub.pattern))
    listed = {p.removeprefix("/api/v1/") for _m, p, *_ in MATRIX}
    import re

    def normal(route: str) -> str:
        return re.sub(r"\(\?P<(\w+)>[^)]*\)", "{x}", route).strip("^$").replace("\\.", ".")

    documentation = {"schema/", "docs/", "schema", "docs", ""}  # "" is the JSON 404 for unknown paths
    missing = {normal(r) for r in routes} - {re.sub(r"\{\w+\}", "{x}", p) for p in listed} - documentation
    assert not missing, f"routes missing from the permission matrix: {missing}"


@pytest.mark.django_db
def test_the_installations_administrator_registers_and_activates_models(ctx, api_as, platform_admin):
    api = api_as(platform_admin)
    response = api.post(
        "/api/v1/model-versions", {"task": "mi", "version": "x", "artifact": upload("m.txt", b"no")}, format="multipart"
    )
    assert response.status_code == 415  # past authorisation, refused as no model
    response = api.post(f"/api/v1/model-versions/{ctx['model_version'].pk}/activate")
    assert response.status_code == 200
