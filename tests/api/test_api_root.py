"""The API's base URL answers with where its resources are; it had redirected to itself for ever."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/api/v1/", "/api/v1"])
def test_the_base_url_names_the_resources_schema_and_docs(client, url):
    response = client.get(url, follow=True)
    assert response.status_code == 200 and len(response.redirect_chain) <= 1
    body = response.json()
    assert body["resources"]["patients"] == "http://testserver/api/v1/patients"  # absolute, as every link is
    assert set(body["resources"]) == {"patients", "recordings", "diagnoses", "reviews", "model-versions"}
    assert body["schema"] == "http://testserver/api/v1/schema/"
    assert client.get(body["schema"]).status_code == 200 and client.get(body["docs"]).status_code == 200


@pytest.mark.parametrize("host", ["testserver", "testserver:31337"])
def test_the_base_urls_links_at_the_host_asked_for_are_kept_by_no_shared_cache(client, host):
    response = client.get("/api/v1/", HTTP_HOST=host)
    assert response.json()["schema"] == f"http://{host}/api/v1/schema/"
    assert "private" in response["Cache-Control"] and "public" not in response["Cache-Control"]
    assert "Host" in response["Vary"]


def test_the_base_url_takes_no_post(client):
    response = client.post("/api/v1/", {})
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"
    assert client.get("/api/v1/nothing-here").json()["error"]["code"] == "not_found"  # the rest stays 404


def test_the_public_schema_is_generated_once_per_process_whoever_asks(client, monkeypatch):
    # public and the same for everyone: each generation cost about 0.2 s of CPU, for anyone without a token
    from drf_spectacular.generators import SchemaGenerator

    from api.urls import SchemaView

    monkeypatch.setattr(SchemaView, "_schemas", {})
    made = []
    generate = SchemaGenerator.get_schema
    monkeypatch.setattr(SchemaGenerator, "get_schema", lambda self, **kw: made.append(1) or generate(self, **kw))
    first = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    again = client.get("/api/v1/schema", HTTP_ACCEPT="application/json", HTTP_HOST="testserver:8080")
    assert first.status_code == again.status_code == 200 and first.content == again.content
    assert len(made) == 1
    assert client.get("/api/v1/schema/").status_code == 200  # YAML, from the same schema
