import re

import pytest
import yaml
from django.urls import get_resolver

pytestmark = pytest.mark.django_db


def test_the_schema_is_openapi_3_and_lists_every_endpoint(client):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    documented = {(path, method) for path, ops in schema["paths"].items() for method in ops}
    api = next(p for p in get_resolver().url_patterns if str(p.pattern) == "api/v1/")
    routes = {
        # each named group as the schema names it: the recording's pk {id}, a diary entry's {entry_id}
        re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: "{id}" if m[1] == "pk" else f"{{{m[1]}}}", str(p.pattern))
        .strip("^$")
        .replace("\\.", ".")  # export\.csv
        for p in api.url_patterns
    }
    routes -= {"schema/", "docs/", "schema", "docs", ""}
    assert {f"/api/v1/{r}" for r in routes} == {path for path, _ in documented}
    assert len(documented) == 37
    assert schema["components"]["securitySchemes"]["tokenAuth"]["name"] == "Authorization"


def test_every_operation_documents_its_json_errors(client):
    schema = yaml.safe_load(client.get("/api/v1/schema/").content)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            codes = set(responses)
            assert {"401", "403", "404", "406", "429"} <= codes, (method, path)  # 406: Accept, ?format=
            if method == "post":
                assert {"400", "409", "413", "415"} <= codes, (method, path)
            if method == "delete":  # it reads no body: only what it can answer, 409 an Idempotency-Key used before
                assert codes == {"204", "400", "401", "403", "404", "406", "409", "412", "429"}, (method, path)
                assert "Idempotency-Key" in {p["name"] for p in operation["parameters"]}, (method, path)
                assert set(responses["204"]["headers"]) == {"Idempotent-Replayed"}, (method, path)
            if method == "get" and not path.endswith("/export.csv"):  # a streamed CSV has no ETag, so no 304
                assert "304" in codes, (method, path)
            for code in codes - {"200", "201", "204", "304"}:  # errors are JSON, even export.csv's
                assert "application/json" in responses[code]["content"], (method, path, code)
            if not path.endswith("/fhir"):  # FHIR's may also be OperationOutcomes (application/fhir+json)
                for code in codes - {"200", "201", "204", "304"}:
                    assert set(responses[code]["content"]) == {"application/json"}, (method, path, code)


def test_swagger_ui_is_served_from_local_static_files(client):
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert not re.search(r"(src|href)=\"https?://", html), "no CDN: every asset is local"
    assets = re.findall(r"(?:src|href)=\"(/static/[^\"]+)\"", html)
    assert any("swagger-ui-bundle.js" in a for a in assets)
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_the_schema_and_docs_answer_without_the_slash_as_every_api_path_is_written(client):
    assert client.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["openapi"] >= "3.1"
    script = client.get("/api/v1/docs", {"script": ""})  # the page's start-up script names the schema's URL
    assert client.get("/api/v1/docs").status_code == 200 and b"/api/v1/schema" in script.content


def test_the_schema_validates_as_openapi_3_1_for_client_generators(client):
    # an integration engineer generates a client from it: a schema the validator refuses stops them there
    from openapi_spec_validator import OpenAPIV31SpecValidator, validate

    schema = yaml.safe_load(client.get("/api/v1/schema/").content)
    assert schema["openapi"] == "3.1.0"
    validate(schema, cls=OpenAPIV31SpecValidator)  # raises naming the first error


def _schema_objects(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _schema_objects(value)
    elif isinstance(node, list):
        for item in node:
            yield from _schema_objects(item)


def test_null_is_a_type_where_a_field_can_be_null(client):
    # 3.1 has no "nullable" (a validator ignores it, and refuses null); 3.0's allOf [$ref] + nullable let no null
    # through either. The API answers null for these routinely: a queued recording's diagnosis, an unreviewed
    # diagnosis's or event's latest review, a last page's next link.
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert not [
        node for node in _schema_objects(schema) if "nullable" in node and not isinstance(node["nullable"], dict)
    ]
    components = schema["components"]["schemas"]
    for component, field, target in [
        ("Recording", "diagnosis", "Diagnosis"),
        ("Diagnosis", "latest_review", "Review"),
        ("Event", "latest_review", "EventReview"),
    ]:
        assert components[component]["properties"][field]["oneOf"] == [
            {"$ref": f"#/components/schemas/{target}"},
            {"type": "null"},
        ], (component, field)
    for page in ("PaginatedRecordingList", "PaginatedDiagnosisList", "PaginatedEventList"):
        for link in ("next", "previous"):
            assert "null" in components[page]["properties"][link]["type"], (page, link)


def test_every_operation_id_is_a_plain_identifier(client):
    # code generators turn operationIds into function names: recordings_export.csv_retrieve stopped some
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    ids = [op["operationId"] for ops in schema["paths"].values() for op in ops.values()]
    assert len(set(ids)) == len(ids)
    assert [i for i in ids if not re.fullmatch(r"[A-Za-z0-9_]+", i)] == []
    assert (
        schema["paths"]["/api/v1/recordings/{id}/export.csv"]["get"]["operationId"] == "recordings_export_csv_retrieve"
    )


def test_the_csv_export_documents_no_format_parameter(client):
    # export.csv goes by Accept only: ?format=json answers CSV (tests/api/test_schema_responses.py), so a
    # documented format=csv|json would mislead
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operation = schema["paths"]["/api/v1/recordings/{id}/export.csv"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["id"]
    assert set(operation["responses"]["200"]["content"]) == {"text/csv"}
    assert "Content-Disposition" in operation["responses"]["200"]["headers"]


def test_the_response_headers_are_documented(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    headers = schema["components"]["headers"]
    assert {"ETag", "Cache-Control", "Location", "Retry-After", "Idempotent-Replayed"} <= set(headers)

    def names(response):
        return {name for name, header in response.get("headers", {}).items() if header["$ref"].endswith(f"/{name}")}

    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "Retry-After" in names(responses["429"]), (method, path)
            if method == "get" and not path.endswith("/export.csv"):
                assert {"ETag", "Cache-Control"} <= names(responses["200"]), (method, path)
                assert "ETag" in names(responses["304"]), (method, path)
            if method in ("put", "patch"):  # the changed resource's tag: the next If-Match
                assert "ETag" in names(responses["200"]), (method, path)
    created = schema["paths"]["/api/v1/recordings"]["post"]["responses"]["201"]
    assert names(created) == {"Location", "Idempotent-Replayed", "Last-Modified"}
    recording = schema["paths"]["/api/v1/recordings/{id}"]["get"]["responses"]["200"]
    assert "Last-Modified" in names(recording)
    moved = schema["paths"]["/api/v1/recordings/{id}/move"]["post"]["responses"]["200"]
    assert names(moved) == {"ETag", "Idempotent-Replayed", "Last-Modified"}  # as a read of it would give them
    assert "Last-Modified" in names(schema["paths"]["/api/v1/diagnoses/{id}"]["get"]["responses"]["200"])
    assert "Last-Modified" not in names(schema["paths"]["/api/v1/recordings"]["get"]["responses"]["200"])
    patient = schema["paths"]["/api/v1/patients/{id}"]
    assert all("Last-Modified" in names(patient[m]["responses"]["200"]) for m in ("get", "put", "patch"))
    assert "Last-Modified" in names(schema["paths"]["/api/v1/patients"]["post"]["responses"]["201"])
    assert "Last-Modified" not in names(schema["paths"]["/api/v1/patients"]["get"]["responses"]["200"])
    assert headers["Location"]["required"] is True


def test_the_whole_number_filters_admit_what_the_server_takes(client):
    """A client generator (and schemathesis) sent recording=-2778, which the schema admitted and the server refused."""
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    found = 0
    for operations in schema["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] in ("patient", "recording", "diagnosis", "start", "end"):
                    assert parameter["schema"]["type"] == "integer" and parameter["schema"]["minimum"] == 0
                    found += 1
    assert found == 5


def test_no_component_is_described_by_the_codes_notes_to_its_readers(client):
    """A serializer's docstring, inherited ones too, becomes its component's description: the request bodies had
    all read "A request serializer that refuses a field it does not know (a misspelt given_nmae ...)"."""
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    said = {name: c.get("description", "") for name, c in schema["components"]["schemas"].items()}
    internal = {name: text[:60] for name, text in said.items() if re.search(r"serializer|``", text, re.I)}
    assert not internal
    assert said["Patient"].startswith("A patient of the clinic")
