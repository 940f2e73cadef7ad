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
        re.sub(r"\(\?P<\w+>[^)]*\)", "{id}", str(p.pattern)).strip("^$").replace("\\.", ".")  # export\.csv
        for p in api.url_patterns
    }
    routes -= {"schema/", "docs/", ""}
    assert {f"/api/v1/{r}" for r in routes} == {path for path, _ in documented}
    assert len(documented) == 21
    assert schema["components"]["securitySchemes"]["tokenAuth"]["name"] == "Authorization"


def test_every_operation_documents_its_json_errors(client):
    schema = yaml.safe_load(client.get("/api/v1/schema/").content)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"401", "403", "404", "429"} <= codes, (method, path)
            if method == "post":
                assert {"400", "409", "413", "415"} <= codes, (method, path)
            if method == "get":
                assert "304" in codes, (method, path)


def test_swagger_ui_is_served_from_local_static_files(client):
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert not re.search(r"(src|href)=\"https?://", html), "no CDN: every asset is local"
    assets = re.findall(r"(?:src|href)=\"(/static/[^\"]+)\"", html)
    assert any("swagger-ui-bundle.js" in a for a in assets)
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_the_schema_validates_as_openapi_3_0_for_client_generators(client):
    # an integration engineer generates a client from it: a schema the validator refuses stops them there
    from openapi_spec_validator import validate

    schema = yaml.safe_load(client.get("/api/v1/schema/").content)
    assert schema["openapi"].startswith("3.0")
    validate(schema)  # raises naming the first error
