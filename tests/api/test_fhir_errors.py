"""/recordings/{id}/fhir speaks FHIR to a FHIR client: its errors are OperationOutcomes when the client
negotiated application/fhir+json (by Accept or by FHIR's ``_format``), the project's error JSON otherwise."""

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from rest_framework.test import APIClient

from .conftest import submit_beats

pytestmark = pytest.mark.django_db
FHIR = "application/fhir+json"


def fhir_url(recording_id) -> str:
    return f"/api/v1/recordings/{recording_id}/fhir"


def outcome_of(response, code: str, error_code: str) -> dict:
    assert response["Content-Type"].startswith(FHIR), response["Content-Type"]
    data = response.json()
    OperationOutcome.model_validate(data)
    assert data["resourceType"] == "OperationOutcome"
    (issue,) = data["issue"]
    assert (issue["severity"], issue["code"], issue["details"]["text"]) == ("error", code, error_code)
    assert issue["diagnostics"]
    return issue


@pytest.fixture
def queued(staff_a, patient_a):
    return submit_beats(staff_a, patient_a)


def test_not_ready_is_a_conflict_outcome(api_as, staff_a, queued):
    response = api_as(staff_a).get(fhir_url(queued.pk), HTTP_ACCEPT=FHIR)
    assert response.status_code == 409
    issue = outcome_of(response, "conflict", "not_ready")
    assert "queued" in issue["diagnostics"]


def test_another_clinics_recording_is_a_not_found_outcome(api_as, doctor_b, done_recording):
    response = api_as(doctor_b).get(fhir_url(done_recording.pk), HTTP_ACCEPT=FHIR)
    assert response.status_code == 404
    outcome_of(response, "not-found", "not_found")


def test_no_token_is_a_security_outcome(done_recording):
    response = APIClient().get(fhir_url(done_recording.pk), HTTP_ACCEPT=FHIR)
    assert response.status_code == 401
    outcome_of(response, "login", "not_authenticated")
    bad = APIClient(HTTP_AUTHORIZATION="Token nope.nope").get(fhir_url(done_recording.pk), HTTP_ACCEPT=FHIR)
    assert bad.status_code == 401
    outcome_of(bad, "login", "authentication_failed")


@pytest.mark.parametrize("accept", [None, "application/json"])
def test_a_json_client_keeps_the_projects_error_json(api_as, staff_a, queued, accept):
    extra = {} if accept is None else {"HTTP_ACCEPT": accept}
    response = api_as(staff_a).get(fhir_url(queued.pk), **extra)
    assert response.status_code == 409
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_ready"


@pytest.mark.parametrize("fmt", ["json", FHIR, "application/json"])
def test_fhirs_format_parameter_asks_for_fhir_json(api_as, staff_a, done_recording, queued, fmt):
    api = api_as(staff_a)
    response = api.get(fhir_url(done_recording.pk), {"_format": fmt})
    assert response.status_code == 200 and response["Content-Type"].startswith(FHIR)
    assert response.json()["resourceType"] == "Bundle"
    refused = api.get(fhir_url(queued.pk), {"_format": fmt}, HTTP_ACCEPT="application/json")
    assert refused.status_code == 409
    outcome_of(refused, "conflict", "not_ready")


def test_a_format_written_with_an_unencoded_plus_is_understood(api_as, staff_a, done_recording):
    response = api_as(staff_a).get(fhir_url(done_recording.pk) + "?_format=application/fhir+json")
    assert response.status_code == 200 and response["Content-Type"].startswith(FHIR)


def test_a_format_not_served_is_refused_as_not_acceptable(api_as, staff_a, done_recording):
    response = api_as(staff_a).get(fhir_url(done_recording.pk), {"_format": "xml"})
    assert response.status_code == 406
    assert response.json()["error"]["code"] == "not_acceptable"


def test_drfs_format_parameter_is_unchanged(api_as, staff_a, done_recording):
    api = api_as(staff_a)
    assert api.get(fhir_url(done_recording.pk), {"format": "json"})["Content-Type"] == "application/json"
    assert api.get(fhir_url(done_recording.pk), {"format": "xml"}).status_code == 406  # not "Not found."


def test_the_schema_documents_the_outcomes(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/v1/recordings/{id}/fhir"]["get"]
    assert any(p["name"] == "_format" for p in operation["parameters"])
    conflict = operation["responses"]["409"]["content"]
    assert set(conflict) == {"application/json", FHIR}
    assert conflict[FHIR] != conflict["application/json"]
