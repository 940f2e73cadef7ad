"""A query parameter an endpoint does not take is refused, naming it: a misspelt filter, or one an endpoint
does not have, had been ignored and the answer was every row."""

import re

import pytest
from django.urls import resolve

from ..factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(api_as, staff_a):
    return api_as(staff_a)


@pytest.mark.parametrize(
    "url, name",
    [
        ("/api/v1/patients?mrn_=A-0001", "mrn_"),
        ("/api/v1/diagnoses?flaged=true", "flaged"),
        ("/api/v1/recordings?patient_id=999", "patient_id"),
        ("/api/v1/recordings?status=done&page=1&sort=created_at", "sort"),
        ("/api/v1/model-versions?task=mi&taks=mi", "taks"),
        ("/api/v1/patients/1?search=x", "search"),  # a list's filter on a single resource
    ],
)
def test_an_unknown_query_parameter_is_a_validation_error_naming_it(api, patient_a, url, name):
    response = api.get(url)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["field"] == name
    assert "unknown query parameter" in error["message"]


def test_the_refusal_says_what_the_endpoint_takes(api):
    message = api.get("/api/v1/recordings?patient_id=1").json()["error"]["message"]
    assert message == (
        "unknown query parameter; this request takes patient, status, created_after, created_before, updated_after, "
        "updated_before, ordering, page, page_size."
    )
    assert "takes none" in api.get("/api/v1/patients/1?page=2").json()["error"]["message"]


def test_a_patient_is_found_by_exact_mrn_without_case(api, clinic_a, clinic_b, patient_a):
    PatientFactory(clinic=clinic_a, mrn="A-00011", family_name="Near")  # holds A-0001: a search finds both
    PatientFactory(clinic=clinic_b, mrn="A-0002", family_name="Elsewhere")
    assert {p["mrn"] for p in api.get("/api/v1/patients", {"search": "A-0001"}).json()["results"]} == {
        "A-0001",
        "A-00011",
    }
    found = api.get("/api/v1/patients", {"mrn": "a-0001"}).json()
    assert [p["id"] for p in found["results"]] == [patient_a.pk] and found["count"] == 1
    assert api.get("/api/v1/patients", {"mrn": "A-0002"}).json()["count"] == 0  # another clinic's
    assert api.get("/api/v1/patients", {"mrn": "A-000"}).json()["count"] == 0  # not a part of one


def test_every_endpoint_takes_exactly_the_query_parameters_its_schema_documents(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    checked = 0
    for path, operations in schema["paths"].items():
        match = resolve(re.sub(r"\{\w+\}", "1", path))
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            view = match.func.cls(action=match.func.actions[method])
            documented = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            assert documented - {"format"} == set(view.accepted_query_parameters()) - {"format"}, (method, path)
            checked += 1
    assert checked >= 21


@pytest.mark.parametrize(
    "send",
    [
        lambda api: api.get("/api/v1/patients?mrn_=A-0001"),  # raised by the view, a message per field
        lambda api: api.post("/api/v1/patients", {"family_name": "Lund"}, format="json"),  # by a serializer
        lambda api: api.post("/api/v1/patients", {"mrn": "A-1", "family_name": "L", "sex": "x"}, format="json"),
    ],
)
def test_a_validation_errors_details_are_lists_of_messages_by_field(api, send):
    """One shape for a client to read, whichever part of the server refused the request."""
    error = send(api).json()["error"]
    assert error["code"] == "validation_error" and error["details"]
    assert all(
        isinstance(messages, list) and all(isinstance(m, str) for m in messages)
        for messages in error["details"].values()
    )
    assert error["details"][error["field"]][0] == error["message"]


def _list_filters(client) -> list[tuple[str, str]]:
    """(path, parameter) of every filter of every list, from the schema: a list is an operation that pages."""
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    found = []
    for path, operations in schema["paths"].items():
        names = {p["name"] for p in operations.get("get", {}).get("parameters", []) if p["in"] == "query"}
        if "page" in names:
            found += [(path, name) for name in sorted(names - {"page", "page_size", "format"})]
    return found


@pytest.mark.parametrize("value", ["", " "])
def test_an_empty_filter_is_a_validation_error_naming_it_on_every_list(api, client, done_recording, value):
    # ?patient= had been ignored (every recording) while ?mrn= matched none: an integration whose variable was
    # unset took the first row of every clinic's recordings for its patient's
    filters = _list_filters(client)
    assert {name for _path, name in filters} >= {"patient", "mrn", "search", "status", "type", "aami_class", "task"}
    for path, name in filters:
        response = api.get(re.sub(r"\{\w+\}", str(done_recording.pk), path), {name: value})
        assert response.status_code == 400, (path, name, response.content[:300])
        error = response.json()["error"]
        assert error["code"] == "validation_error" and error["field"] == name, (path, name)
        assert error["details"] == {name: [error["message"]]} and "empty" in error["message"]


def test_an_empty_filter_is_refused_beside_a_valid_one_and_a_repeated_one(api, done_recording):
    for query in ("status=done&patient=", f"patient={done_recording.patient_id}&patient="):
        response = api.get(f"/api/v1/recordings?{query}")
        assert response.status_code == 400 and response.json()["error"]["field"] == "patient", query
    assert api.get("/api/v1/recordings", {"patient": done_recording.patient_id}).json()["count"] == 1


@pytest.mark.parametrize("name, part", [("aami_class", "beats"), ("type", "events")])
def test_a_list_of_classes_or_types_that_names_none_is_refused_as_empty(api, done_recording, name, part):
    response = api.get(f"/api/v1/recordings/{done_recording.pk}/{part}", {name: ",,"})
    assert response.status_code == 400 and response.json()["error"]["field"] == name
    assert "empty" in response.json()["error"]["message"]
