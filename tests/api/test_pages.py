"""List reads in one statement (api.pages): the page, its count and its audit row.

A plain GET of a list is answered from one statement that also writes the request's audit row; a
conditional GET (If-None-Match) still takes DRF's paginator and AuditMiddleware. Both must answer the
same document and leave the same audit row.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditEvent
from patients.models import Patient

from ..factories import done_recordings

pytestmark = pytest.mark.django_db

GENERIC = {"HTTP_IF_NONE_MATCH": '"no-such-etag"'}  # a conditional GET takes the generic path
ROW_FIELDS = ("user_id", "username", "clinic_id", "action", "object_type", "object_id", "ip", "channel", "path")
ROW_FIELDS += ("method", "status_code")


@pytest.fixture
def patients(clinic_a, clinic_b):
    for i in range(23):
        Patient.objects.create(clinic=clinic_a, mrn=f"P-{i:03d}", family_name=f"Family{i % 7}", given_name=f"G{i}")
    Patient.objects.create(clinic=clinic_b, mrn="B-1", family_name="Other", given_name="Clinic")


def audit_rows():
    return list(AuditEvent.objects.order_by("id").values(*ROW_FIELDS))


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"page_size": 5},
        {"page_size": 5, "page": 2},
        {"page_size": 5, "page": 5},  # the last, partly filled
        {"search": "Family3"},
        {"search": "nobody"},  # an empty first page
        {"page_size": 5000},  # above the maximum: DRF's 1000
        {"page": "last", "page_size": 5},  # not a plain number: the generic path
    ],
)
def test_a_patient_page_is_what_the_generic_path_answers_with_the_same_audit_row(api_as, staff_a, patients, query):
    client = api_as(staff_a)
    before = AuditEvent.objects.count()
    fast = client.get("/api/v1/patients", query)
    fast_rows = audit_rows()[before:]
    generic = client.get("/api/v1/patients", query, **GENERIC)
    generic_rows = audit_rows()[before + len(fast_rows) :]
    assert fast.status_code == generic.status_code == 200
    assert fast.json() == generic.json()
    assert fast["ETag"] == generic["ETag"]
    assert len(fast_rows) == len(generic_rows) == 1
    assert fast_rows == generic_rows
    row = fast_rows[0]
    assert (row["action"], row["object_type"], row["channel"], row["status_code"]) == ("view", "patient", "token", 200)
    assert (row["user_id"], row["clinic_id"], row["path"], row["method"]) == (
        staff_a.id,
        staff_a.clinic_id,
        "/api/v1/patients",
        "GET",
    )
    assert all(p["mrn"].startswith("P-") for p in fast.json()["results"])  # clinic B's patient never shows


def test_pages_in_turn_list_every_patient_once_in_order(api_as, staff_a, patients):
    client = api_as(staff_a)
    seen, url = [], "/api/v1/patients?page_size=4"
    while url:
        body = client.get(url).json()
        seen += [p["mrn"] for p in body["results"]]
        url = body["next"]
    expected = list(Patient.objects.filter(clinic=staff_a.clinic).values_list("mrn", flat=True))
    assert seen == expected and len(seen) == 23


def test_the_page_its_count_and_its_audit_row_are_one_statement(api_as, staff_a, patients):
    client = api_as(staff_a)
    client.get("/api/v1/patients")  # the token is looked up once per process
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/patients", {"page_size": 5, "page": 2})
    assert response.status_code == 200 and response.json()["count"] == 23
    from .test_page_json import statements

    audited = [sql for sql in statements(queries) if "accounts_auditevent" in sql]
    assert len(audited) == 1
    assert "count(*)" in audited[0].lower() and "INSERT INTO" in audited[0]
    assert len(queries) == 1


def test_a_page_past_the_last_is_404_and_leaves_no_audit_row(api_as, staff_a, patients):
    client = api_as(staff_a)
    before = AuditEvent.objects.count()
    response = client.get("/api/v1/patients", {"page": 7, "page_size": 5})
    assert response.status_code == 404
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("page, status", [("0", 400), ("-1", 400), ("1.0", 400), ("x", 400), ("9" * 12, 404)])
def test_a_page_that_is_not_a_page_number_is_answered_as_before(api_as, staff_a, patients, page, status):
    client = api_as(staff_a)
    before = AuditEvent.objects.count()
    response = client.get("/api/v1/patients", {"page": page})
    assert response.status_code == status  # no whole number of 1 or more: 400; past the last page: 404
    assert AuditEvent.objects.count() == before


def test_a_session_read_is_audited_on_the_api_channel(client, staff_a, patients):
    client.force_login(staff_a)
    before = AuditEvent.objects.count()
    response = client.get("/api/v1/patients")
    assert response.status_code == 200 and response.json()["count"] == 23
    rows = audit_rows()[before:]
    assert [(r["action"], r["object_type"], r["channel"], r["user_id"]) for r in rows] == [
        ("view", "patient", "api", staff_a.id)
    ]


def test_a_revoked_token_reads_nothing_and_is_not_audited_as_a_read(staff_a, patients, token_for):
    from rest_framework.test import APIClient

    from api.models import ApiToken
    from api.services import api_token_revoke

    secret = token_for(staff_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    assert client.get("/api/v1/patients").status_code == 200
    api_token_revoke(token=ApiToken.objects.get(prefix=secret.split(".")[0]))
    before = AuditEvent.objects.filter(action="view").count()
    assert client.get("/api/v1/patients").status_code == 401
    assert AuditEvent.objects.filter(action="view").count() == before


def test_a_recording_page_is_what_the_generic_path_answers(api_as, staff_a, doctor_a, clinic_a, active_models):
    done_recordings(7, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)
    client = api_as(staff_a)
    for query in ({}, {"page_size": 3}, {"page_size": 3, "page": 3}, {"status": "done"}, {"status": "failed"}):
        before = AuditEvent.objects.count()
        fast = client.get("/api/v1/recordings", query)
        generic = client.get("/api/v1/recordings", query, **GENERIC)
        assert fast.status_code == generic.status_code == 200
        assert fast.json() == generic.json()
        rows = audit_rows()[before:]
        assert len(rows) == 2 and rows[0] == rows[1]
        assert (rows[0]["action"], rows[0]["object_type"], rows[0]["status_code"]) == ("view", "recording", 200)
    body = client.get("/api/v1/recordings", {"page_size": 50}).json()
    assert body["count"] == 7 and all(r["diagnosis"] for r in body["results"])


def test_a_statement_compiled_once_serves_each_clinic_its_own_rows(api_as, staff_a, staff_b, patients):
    from api import pages

    pages._statements.clear()
    a, b = api_as(staff_a), api_as(staff_b)
    first_a = a.get("/api/v1/patients", {"search": "Family3"}).json()
    first_b = b.get("/api/v1/patients", {"search": "Other"}).json()
    assert len(pages._statements) == 1  # one shape: one table, one search word, the first page of 50
    again_a = a.get("/api/v1/patients", {"search": "Family3"}).json()
    from_b = b.get("/api/v1/patients", {"search": "Family3"}).json()  # clinic A's names, asked by clinic B
    assert len(pages._statements) == 1
    assert again_a == first_a and first_a["count"] == len(first_a["results"]) > 0
    assert all(p["mrn"].startswith("P-") for p in first_a["results"])
    assert [p["mrn"] for p in first_b["results"]] == ["B-1"]
    assert from_b == {"count": 0, "next": None, "previous": None, "results": []}
    assert a.get("/api/v1/patients", {"search": "Family3"}, **GENERIC).json() == first_a


@pytest.mark.parametrize("size", ["0", "abc", "-3", "1.5", ""])
def test_a_page_size_that_is_no_whole_number_is_refused_not_ignored(api_as, staff_a, patients, size):
    client = api_as(staff_a)
    for headers in ({}, GENERIC):  # the one-statement page and DRF's paginator alike
        response = client.get("/api/v1/patients", {"page_size": size}, **headers)
        assert response.status_code == 400, (size, response.content)
        error = response.json()["error"]
        assert error["field"] == "page_size" and error["message"] == "Expected a whole number of 1 or more."
    assert client.get("/api/v1/patients", {"page_size": "5000"}).status_code == 200  # above the maximum: 1000


@pytest.mark.parametrize("number", ["0", "abc", "-1", "1.5", ""])
def test_a_page_that_is_no_whole_number_is_refused_naming_the_parameter(api_as, staff_a, patients, number):
    client = api_as(staff_a)
    for headers in ({}, GENERIC):
        response = client.get("/api/v1/patients", {"page": number}, **headers)
        assert response.status_code == 400, (number, response.content)
        error = response.json()["error"]
        assert error["field"] == "page" and "whole number of 1 or more" in error["message"]
    past = client.get("/api/v1/patients", {"page": "999"})
    assert past.status_code == 404 and past.json()["error"]["message"].startswith("Page 999 does not exist")
    assert client.get("/api/v1/patients", {"page": "last"}).status_code == 200
