"""The API's real answers, checked against the schema it serves by a strict OpenAPI 3.1 validator.

Where a field is routinely null (a queued recording's diagnosis, an unreviewed diagnosis's or rhythm event's latest
review, a last page's next link) a schema that does not let null through makes a client that validates responses
refuse the API. The bodies are validated with openapi-schema-validator's OAS31Validator (the validator openapi-core
uses, with OAS 3.1's formats checked), the status, media type and required headers against the operation's
documented responses. Not openapi-core itself: its latest release (0.23.1) wants openapi-spec-validator < 0.9 and
jsonschema-path < 0.5, older than those pinned in requirements-dev.txt (0.9.0, 0.5.0)."""

import json
import re
from urllib.parse import quote

import pytest
from openapi_schema_validator import OAS31Validator, oas31_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from rest_framework.test import APIClient

from diagnostics.models import DiaryEntry, ECGRecording, Event

from ..helpers import beat_rows

pytestmark = pytest.mark.django_db
SPEC = "urn:ecg-analyzer:openapi"


def _pointer(*parts: str) -> str:
    return "/".join(quote(part.replace("~", "~0").replace("/", "~1"), safe="~") for part in parts)


class Conformance:
    """Finds a response's operation in the served schema and checks the response against it."""

    def __init__(self, spec: dict):
        self.spec = spec
        resource = Resource.from_contents(spec, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(SPEC, resource)
        self.routes = [
            (re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)) + "$"), path) for path in spec["paths"]
        ]

    def errors(self, instance, *pointer: str) -> list[str]:
        validator = OAS31Validator(
            {"$ref": f"{SPEC}#/{_pointer(*pointer)}"}, registry=self.registry, format_checker=oas31_format_checker
        )
        return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]

    def check(self, response):
        """The response's body (parsed JSON or text) once its status, media type, headers and body match."""
        request = response.wsgi_request
        method, path = request.method.lower(), request.path
        template = next((t for pattern, t in self.routes if pattern.match(path)), None)
        assert template, f"{path} is in no path of the schema"
        operation = self.spec["paths"][template][method]
        status = str(response.status_code)
        assert status in operation["responses"], f"{method} {template} answered {status}, not documented"
        documented = operation["responses"][status]
        for name, header in documented.get("headers", {}).items():
            if "$ref" in header:
                header = self.spec["components"]["headers"][header["$ref"].rsplit("/", 1)[1]]
            if header.get("required"):
                assert name in response, f"{method} {template} {status}: no {name} header"
            if name in response and header["schema"].get("type") == "integer":
                assert response[name].isdigit(), f"{name}: {response[name]!r}"
        content = b"".join(response.streaming_content) if response.streaming else response.content
        if "content" not in documented:
            assert content == b"", f"{method} {template} {status} documents no body"
            return None
        media_type = response["Content-Type"].split(";")[0].strip()
        assert media_type in documented["content"], f"{method} {template} {status}: {media_type} not documented"
        body = json.loads(content) if media_type.endswith("json") else content.decode()
        errors = self.errors(body, "paths", template, method, "responses", status, "content", media_type, "schema")
        assert not errors, f"{method} {template} {status}: {errors}"
        return body


@pytest.fixture
def conformance(client) -> Conformance:
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return Conformance(response.json())


@pytest.fixture
def api(api_as, staff_a) -> APIClient:
    return api_as(staff_a)


def test_a_queued_recording_conforms_with_its_null_diagnosis(conformance, api, patient_a):
    created = api.post(
        "/api/v1/recordings", {"patient": patient_a.pk, "kind": "beats", "beats": beat_rows(4).tolist()}, format="json"
    )
    body = conformance.check(created)
    assert created.status_code == 201 and body["status"] == "queued" and body["diagnosis"] is None
    assert created["Location"] == body["links"]["self"]

    fetched = conformance.check(api.get(body["links"]["self"]))
    assert fetched["status"] == "queued" and fetched["diagnosis"] is None
    page = conformance.check(api.get("/api/v1/recordings"))
    assert page["results"][0]["diagnosis"] is None and page["next"] is None and page["previous"] is None
    # not ready yet: the error body, as documented
    assert conformance.check(api.get(f"{body['links']['self']}/beats"))["error"]["code"] == "not_ready"


def test_an_unreviewed_diagnosis_conforms_with_its_null_latest_review(conformance, api, done_recording):
    page = conformance.check(api.get("/api/v1/diagnoses"))
    assert [d["latest_review"] for d in page["results"]] == [None]
    diagnosis_id = page["results"][0]["id"]
    assert conformance.check(api.get(f"/api/v1/diagnoses/{diagnosis_id}"))["latest_review"] is None
    recording = conformance.check(api.get(f"/api/v1/recordings/{done_recording.pk}"))
    assert recording["diagnosis"]["latest_review"] is None


def test_an_unreviewed_event_conforms_with_its_null_latest_review(conformance, api, done_recording):
    Event.objects.create(
        recording=done_recording, clinic_id=done_recording.clinic_id, type="v_run", start=1, end=3, beats=3
    )
    page = conformance.check(api.get(f"/api/v1/recordings/{done_recording.pk}/events"))
    assert [(e["latest_review"], e["rate_bpm"]) for e in page["results"]] == [(None, None)]
    conformance.check(api.get(f"/api/v1/recordings/{done_recording.pk}/beats"))


def test_a_read_not_modified_conforms_with_its_etag(conformance, api, done_recording):
    url = f"/api/v1/recordings/{done_recording.pk}"
    first = api.get(url)
    conformance.check(first)
    again = api.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again["ETag"] == first["ETag"]
    conformance.check(again)


def test_the_csv_export_conforms_and_answers_csv_whatever_format_says(conformance, api, done_recording):
    url = f"/api/v1/recordings/{done_recording.pk}/export.csv"
    answers = set()
    for query, accept in [("", "text/csv"), ("", "*/*"), ("?format=json", "*/*"), ("?format=csv", "*/*")]:
        response = api.get(url + query, HTTP_ACCEPT=accept)
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv"), query
        answers.add(conformance.check(response))
    # ?format=json answers the same CSV (the view goes by Accept): the schema documents no format parameter
    assert len(answers) == 1
    refused = api.get(url, HTTP_ACCEPT="application/json")
    assert refused.status_code == 406 and conformance.check(refused)["error"]["code"] == "not_acceptable"


def test_a_created_patient_and_a_throttled_token_conform(conformance, api, staff_a, settings):
    created = api.post("/api/v1/patients", {"mrn": "SCHEMA-1", "family_name": "Meyer"}, format="json")
    assert created.status_code == 201, created.content
    conformance.check(created)
    settings.API_TOKEN_FAILURES = 1
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION="Token 0123abcd.guess")
    conformance.check(stranger.get("/api/v1/patients"))
    throttled = stranger.get("/api/v1/patients")
    assert throttled.status_code == 429
    conformance.check(throttled)


def test_the_check_is_strict(conformance, api, patient_a):
    # the checker refuses what the schema does not allow: it would have refused the null diagnosis under 3.0.3
    created = api.post(
        "/api/v1/recordings", {"patient": patient_a.pk, "kind": "beats", "beats": beat_rows(3).tolist()}, format="json"
    )
    body = conformance.check(created)
    where = ("paths", "/api/v1/recordings", "post", "responses", "201", "content", "application/json", "schema")
    assert conformance.errors({**body, "diagnosis": "none"}, *where)
    assert conformance.errors({**body, "created_at": "yesterday"}, *where)  # formats are checked
    assert conformance.errors({k: v for k, v in body.items() if k != "status"}, *where)
    assert ECGRecording.objects.count() == 1
    # the 3.0.3 shape of the same field refuses null, as strict 3.0 validators do
    from openapi_schema_validator import OAS30Validator

    components = conformance.spec["components"]
    old = {"allOf": [{"$ref": "#/components/schemas/Diagnosis"}], "nullable": True, "components": components}
    assert not OAS30Validator({"type": "string", "nullable": True}).is_valid(5)
    assert not OAS30Validator(old).is_valid(None)


def test_a_diary_entry_removal_answers_only_what_it_documents(conformance, api, staff_a, done_recording):
    # the schema lists 400, 404, 406, 412 and 409 (an Idempotency-Key used before) beside 204, and no 413 or 415: a
    # body sent with it is never read
    def entry():
        return DiaryEntry.objects.create(
            recording=done_recording,
            clinic_id=done_recording.clinic_id,
            sample=1,
            symptom="fatigue",
            entered_by=staff_a,
        )

    url = f"/api/v1/recordings/{done_recording.pk}/diary"
    first = entry()
    assert conformance.check(api.delete(f"{url}/{first.pk}?x=1"))["error"]["field"] == "x"
    stale = api.delete(f"{url}/{first.pk}", HTTP_IF_MATCH='"stale"')
    assert stale.status_code == 412 and conformance.check(stale)["error"]["code"] == "precondition_failed"
    refused = api.delete(f"{url}/{first.pk}", HTTP_ACCEPT="text/html")
    assert refused.status_code == 406 and conformance.check(refused)["error"]["code"] == "not_acceptable"
    removed = api.delete(f"{url}/{first.pk}", "<not-read/>", content_type="application/xml")
    assert removed.status_code == 204 and conformance.check(removed) is None
    again = api.delete(f"{url}/{first.pk}")
    assert again.status_code == 404 and "removed at" in conformance.check(again)["error"]["message"]
    second = entry()
    keyed = api.delete(f"{url}/{second.pk}", "<not-read/>", content_type="application/xml", HTTP_IDEMPOTENCY_KEY="gone")
    assert keyed.status_code == 204 and conformance.check(keyed) is None
    replayed = api.delete(f"{url}/{second.pk}", HTTP_IDEMPOTENCY_KEY="gone")
    assert replayed.status_code == 204 and conformance.check(replayed) is None
    reused = api.delete(f"{url}/{entry().pk}", HTTP_IDEMPOTENCY_KEY="gone")
    assert reused.status_code == 409 and conformance.check(reused)["error"]["code"] == "idempotency_key_reused"
