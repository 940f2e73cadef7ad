"""A failure no view handled is still the API's JSON error (its clients parse ``error.code``)."""

import pytest
from django.test import Client

from api.views.patients import PatientViewSet


def _fail(self, request):
    raise RuntimeError("boom")


@pytest.mark.django_db
def test_an_unhandled_failure_under_the_api_is_a_json_500(staff_a, token_for, monkeypatch):
    monkeypatch.setattr(PatientViewSet, "list", _fail)
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/patients", HTTP_AUTHORIZATION=f"Token {token_for(staff_a)}")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "server_error"
    assert "boom" not in response.content.decode()  # nothing of the failure's inside is shown


@pytest.mark.django_db
def test_an_unhandled_failure_on_a_page_keeps_the_error_page(staff_a, monkeypatch):
    from patients import views

    def fail(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.selectors, "patient_list", fail)
    client = Client(raise_request_exception=False)
    client.force_login(staff_a)
    response = client.get("/patients/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Something went wrong on our side" in page and "css/app.css" in page  # the site's page, not a bare one
    assert "boom" not in page


def test_the_favicon_the_admin_pages_ask_for_is_the_sites_own(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("img/favicon.svg")


@pytest.mark.django_db
def test_a_database_that_answered_with_an_error_is_a_500_not_service_unavailable(staff_a, token_for, monkeypatch):
    # Only a database out of reach is a 503 (the restart fault test): a statement the server cancelled (a timeout,
    # as a deadlock or a full disk) is a failure to look into, not one a retry after 30 s would mend
    from django.db import connection, transaction

    def cancelled(self, request):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 1")
            cursor.execute("SELECT pg_sleep(0.2)")

    monkeypatch.setattr(PatientViewSet, "list", cancelled)
    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/patients", HTTP_AUTHORIZATION=f"Token {token_for(staff_a)}")
    assert response.status_code == 500 and response.json()["error"]["code"] == "server_error"
    assert "Retry-After" not in response
