"""OPTIONS: each write of a route is described with the fields its body takes, as the schema's request body names
them (DRF describes the view's serializer, the resource it answers with: a POST to recordings/{id}/diary had been
described with the recording's fields, every one read-only)."""

import re

import pytest

pytestmark = pytest.mark.django_db


def test_options_on_the_diary_describes_a_diary_entry(api_as, staff_a, done_recording):
    described = api_as(staff_a).options(f"/api/v1/recordings/{done_recording.pk}/diary").json()["actions"]["POST"]
    assert set(described) == {"at_s", "at", "symptom", "note"}
    assert not any(field["read_only"] for field in described.values())
    assert {choice["value"] for choice in described["symptom"]["choices"]} >= {"palpitations", "syncope", "other"}
    assert described["symptom"]["required"] and not described["at_s"]["required"]


def test_each_write_is_described_with_the_fields_its_schema_takes(client, api_as, platform_admin, done_recording):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    api = api_as(platform_admin)  # may make every write: each is described
    ids = {"id": done_recording.pk, "entry_id": 1, "activity_id": 1, "correction_id": 1}
    described = 0
    for path, operations in schema["paths"].items():
        url = re.sub(r"\{(\w+)\}", lambda m: str(ids[m[1]]), path)
        for method, operation in operations.items():
            if method not in ("post", "put"):
                continue
            actions = api.options(url).json().get("actions", {})
            if method == "put" and "PUT" not in actions:
                continue  # DRF describes a PUT only after reading the object, which these views do not
            fields = {name for name, field in actions[method.upper()].items() if not field["read_only"]}
            body = operation.get("requestBody")
            if body is None:
                assert fields == set(), (method, path)  # a write without a body (a model version's activation)
            else:
                content = body["content"].get("application/json") or body["content"]["multipart/form-data"]
                component = schema["components"]["schemas"][content["schema"]["$ref"].rsplit("/", 1)[1]]
                assert fields == set(component["properties"]), (method, path)
            described += 1
    assert described == 10
