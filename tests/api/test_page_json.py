"""List rows written by PostgreSQL (api/rows.py *_JSON, api/pages.py read_json_page).

A plain GET of a list in UTC has its rows written as JSON text by the statement that reads the page;
a conditional GET takes the Python path (api/rows.py functions, then orjson). Both must answer the
same bytes, so the same ETag, whatever the rows hold: date-times with and without microseconds,
missing dates, text that JSON escapes, floats, leads, diagnoses.
"""

import math
import re
from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.db.models import JSONField, Value
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIRequestFactory

from accounts.models import AuditEvent
from api import serializers
from diagnostics.models import ECGRecording
from diagnostics.selectors import recording_list
from patients.models import Patient
from patients.selectors import patient_list

from ..factories import done_recordings

pytestmark = pytest.mark.django_db

GENERIC = {"HTTP_IF_NONE_MATCH": '"no-such-etag"'}  # a conditional GET takes the Python path
AWKWARD = ['quote " and \\ backslash', "line\nbreak\ttab\x01\x1f\x7f", "Ünal 東京 😀", "</script>", ""]


def statements(queries) -> list[str]:
    """The SQL of each statement run, a prepared page statement's (api/pages.py _execute) for its EXECUTE."""
    from api import pages

    by_name = {name: sql for sql, name in pages._names.items()}
    run = [q["sql"] for q in queries if not q["sql"].startswith("PREPARE ")]
    return [by_name[m.group(1)] if (m := re.match(r"EXECUTE (ecg_page_\w+)", sql)) else sql for sql in run]


def json_statements(queries) -> int:
    return sum("to_char" in sql for sql in statements(queries))


def same_page(client, path, query=None):
    """The page as PostgreSQL writes it, checked byte for byte against the Python path's; its JSON."""
    from api import pages

    pages.forget_rows()  # else rows this process has written already are not written again
    with CaptureQueriesContext(connection) as queries:
        fast = client.get(path, query or {})
    # The page's statement, then one writing its rows (before the next request clears the log).
    assert any(sql.startswith("WITH total") and pages.ROW_VERSION in sql for sql in statements(queries))
    assert json_statements(queries) == (1 if fast.json()["results"] else 0)
    generic = client.get(path, query or {}, **GENERIC)
    assert fast.status_code == generic.status_code == 200
    assert fast.content == generic.content
    assert fast["ETag"] == generic["ETag"]
    return fast.json()


@pytest.fixture
def awkward_patients(clinic_a, clinic_b):
    stamps = [
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),  # no microseconds: none written
        datetime(2024, 6, 30, 23, 59, 59, 1, tzinfo=UTC),
        datetime(1999, 12, 31, 0, 0, 0, 120000, tzinfo=UTC),
        datetime(2024, 3, 31, 1, 30, 0, 999999, tzinfo=UTC),
    ]
    for i, text in enumerate(AWKWARD):
        patient = Patient.objects.create(
            clinic=clinic_a,
            mrn=f"J-{i}{text[:3]}",
            family_name=f"Fam {text}",
            given_name=text,
            date_of_birth=None if i % 2 else date(1901 + i, 1 + i, 9 + i),
            sex="female",
        )
        Patient.objects.filter(pk=patient.pk).update(
            created_at=stamps[i % len(stamps)], updated_at=stamps[(i + 1) % len(stamps)]
        )
    Patient.objects.create(clinic=clinic_b, mrn="B-1", family_name="Fam Other")


def test_patient_rows_written_by_postgresql_are_the_python_paths_bytes(api_as, staff_a, awkward_patients):
    client = api_as(staff_a)
    body = same_page(client, "/api/v1/patients")
    expected = serializers.PatientSerializer(patient_list(user=staff_a), many=True).data
    assert body["results"] == [dict(p) for p in expected] and body["count"] == len(AWKWARD)
    stamps = {p["created_at"] for p in body["results"]}
    assert {"2024-01-02T03:04:05Z", "2024-06-30T23:59:59.000001Z", "1999-12-31T00:00:00.120000Z"} <= stamps
    assert same_page(client, "/api/v1/patients", {"search": "Ünal"})["count"] == 1
    assert same_page(client, "/api/v1/patients", {"search": "nobody"})["results"] == []
    assert same_page(client, "/api/v1/patients", {"page_size": 2, "page": 3})["previous"].endswith("page=2&page_size=2")


def test_a_patient_page_written_by_postgresql_has_its_audit_row(api_as, staff_a, awkward_patients):
    client = api_as(staff_a)
    before = AuditEvent.objects.count()
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/patients", {"page_size": 2}).status_code == 200
    assert json_statements(queries) == 1
    rows = list(AuditEvent.objects.order_by("id").values("action", "object_type", "channel", "status_code"))
    assert rows[before:] == [{"action": "view", "object_type": "patient", "channel": "token", "status_code": 200}]


def test_outside_utc_python_writes_the_rows_in_the_current_time_zone(api_as, staff_a, awkward_patients, settings):
    settings.TIME_ZONE = "America/New_York"
    client = api_as(staff_a)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/patients")
    assert response.status_code == 200 and json_statements(queries) == 0
    expected = serializers.PatientSerializer(patient_list(user=staff_a), many=True).data
    assert response.json()["results"] == [dict(p) for p in expected]
    assert "2024-01-01T22:04:05-05:00" in {p["created_at"] for p in response.json()["results"]}
    assert response.content == client.get("/api/v1/patients", **GENERIC).content


def test_an_etag_of_a_page_written_by_postgresql_answers_304(api_as, staff_a, awkward_patients):
    client = api_as(staff_a)
    first = client.get("/api/v1/patients")
    again = client.get("/api/v1/patients", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again["ETag"] == first["ETag"]
    head = client.head("/api/v1/patients")
    assert head.status_code == 200 and head["ETag"] == first["ETag"]


def test_an_indented_page_is_written_by_python(api_as, staff_a, awkward_patients):
    client = api_as(staff_a)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/patients", HTTP_ACCEPT="application/json; indent=2")
    assert response.status_code == 200 and json_statements(queries) == 0
    assert response.json() == client.get("/api/v1/patients").json()
    assert b'\n  "count"' in response.content


def add_recordings(clinic, patient, staff, rates, leads):
    stamp = datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC)
    for i, (rate, names) in enumerate(zip(rates, leads, strict=True)):
        recording = ECGRecording.objects.create(
            clinic=clinic,
            patient=patient,
            uploaded_by=staff,
            file=f"recordings/s{i}.csv",
            original_filename=AWKWARD[i % len(AWKWARD)],
            input_format="csv",
            kind="signal",
            sha256=f"{i:064d}",
            status=["queued", "failed", "processing"][i % 3],
            error_message=AWKWARD[(i + 1) % len(AWKWARD)],
            sampling_rate=rate,
            lead="II" if names else "",
            leads=Value(None, JSONField()) if names is None else names,  # JSON null
            sample_count=1000 * i or None,
            progress_done=i,
            progress_total=2 * i,
        )
        ECGRecording.objects.filter(pk=recording.pk).update(
            created_at=stamp.replace(microsecond=i * 1000),
            started_at=stamp if i % 2 else None,
            recorded_at=stamp.replace(hour=i % 24, microsecond=i * 10) if i % 3 else None,
            # with and without microseconds; later for the earlier made, so the two orders differ
            updated_at=stamp.replace(day=20 - i, microsecond=0 if i % 2 else 999999),
        )


def test_recording_rows_written_by_postgresql_are_the_python_paths_bytes(
    api_as, staff_a, doctor_a, clinic_a, active_models
):
    done = done_recordings(4, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)
    rates = [None, 360.0, 250.5, 0.1, 1 / 3, 1e-5, 1e15, 123456789012345.6, 0.0001, float("nan")]
    leads = [[], ["I", "II", "V1"], ['a "b"'], None, ['x\\", "y', "z\\"], [], ["x"], ["Ü\n", ""], ["II"], []]
    add_recordings(clinic_a, done[0].patient, staff_a, rates, leads)
    add_recordings(clinic_a, done[0].patient, staff_a, [500.0, 500.0], [[1, 2], ["I", None]])  # not names: Python
    client = api_as(staff_a)
    before = AuditEvent.objects.count()
    body = same_page(client, "/api/v1/recordings")
    assert AuditEvent.objects.count() == before + 2  # one row per answered request, either path
    request = APIRequestFactory().get("/api/v1/recordings")  # the links are at the host asked
    expected = serializers.RecordingSerializer(
        recording_list(user=staff_a), many=True, context={"request": request}
    ).data
    rows = body["results"]
    # Not compared with the serializer: NaN (written null) and JSON null leads (recording_rows writes []).
    nan = [r["id"] for r in expected if r["sampling_rate"] is not None and not math.isfinite(r["sampling_rate"])]
    no_leads = [r["id"] for r in expected if r["leads"] is None]
    assert [r for r in rows if r["id"] not in nan + no_leads] == [
        dict(r) for r in expected if r["id"] not in nan + no_leads
    ]
    assert [r["sampling_rate"] for r in rows if r["id"] in nan] == [None]
    assert [r["leads"] for r in rows if r["id"] in no_leads] == [[]]
    assert len(rows) == 16 and sum(r["diagnosis"] is not None for r in rows) == 4
    assert {r["sampling_rate"] for r in rows if r["sampling_rate"] is not None} >= {360.0, 250.5, 1e-5, 1e15}
    for query in (
        {"status": "done"},
        {"status": "queued", "page_size": 2},
        {"status": "failed", "page_size": 1},
        {"ordering": "updated_at", "updated_after": "2025-02-10", "page_size": 3},
    ):
        same_page(client, "/api/v1/recordings", query)
    assert same_page(client, "/api/v1/recordings", {"patient": done[0].patient_id, "page_size": 3, "page": 2})


def test_a_page_of_recordings_without_diagnoses_is_one_statement_once_its_rows_are_written(api_as, staff_a, clinic_a):
    from api import pages

    from ..factories import PatientFactory

    add_recordings(clinic_a, PatientFactory(clinic=clinic_a), staff_a, [360.0] * 3, [["I"]] * 3)
    client = api_as(staff_a)
    client.get("/api/v1/recordings")  # the token is looked up once per process
    pages.forget_rows()
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/recordings")
    assert response.status_code == 200 and response.json()["count"] == 3
    assert len(queries) == 2 and json_statements(queries) == 1  # the page, then its rows' JSON
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/recordings").content == response.content
    assert len(queries) == 1 and json_statements(queries) == 0  # rows this process has written


def test_rows_written_for_a_host_the_site_does_not_name_are_not_kept(api_as, staff_a, clinic_a, settings):
    # Django checks a Host's name, not its port: a client cycling ports had filled and thrashed every clinic's rows
    from api import pages

    from ..factories import PatientFactory

    settings.ALLOWED_HOSTS = ["ecg.example.org"]
    add_recordings(clinic_a, PatientFactory(clinic=clinic_a), staff_a, [360.0] * 2, [["I"]] * 2)
    client = api_as(staff_a)
    client.get("/api/v1/recordings", HTTP_HOST="ecg.example.org")
    pages.forget_rows()
    for port in range(8001, 8001 + 2 * pages._TEXTS_LISTS_MAX):
        odd = client.get("/api/v1/recordings", HTTP_HOST=f"ecg.example.org:{port}")
        assert odd.json()["results"][0]["links"]["self"].startswith(f"http://ecg.example.org:{port}/api/v1/")
    assert pages._texts == {}
    client.get("/api/v1/recordings", HTTP_HOST="ecg.example.org")
    with CaptureQueriesContext(connection) as queries:
        client.get("/api/v1/recordings", HTTP_HOST="ecg.example.org")
    assert json_statements(queries) == 0  # the site's own host: kept


def test_a_row_changed_since_this_process_wrote_it_is_written_again(api_as, staff_a, awkward_patients):
    from api import pages

    pages.forget_rows()
    client = api_as(staff_a)
    first = client.get("/api/v1/patients").json()["results"]
    changed = first[2]["id"]
    # In this test's own transaction: the new version has the same transaction id (xmin) as the old one.
    Patient.objects.filter(pk=changed).update(family_name='Renamed "x"')
    Patient.objects.filter(pk=first[3]["id"]).delete()
    with CaptureQueriesContext(connection) as queries:
        fast = client.get("/api/v1/patients")
    assert json_statements(queries) == 1 and f"IN ({changed}))" in statements(queries)[-1]  # that row only
    assert fast.content == client.get("/api/v1/patients", **GENERIC).content
    body = fast.json()
    assert [p["family_name"] for p in body["results"] if p["id"] == changed] == ['Renamed "x"']
    assert {p["id"] for p in body["results"]} == {p["id"] for p in first} - {first[3]["id"]}
    assert body["results"][-1]["id"] == changed  # "Renamed" sorts after every "Fam ..."


def test_rows_written_are_written_again_after_a_while(api_as, staff_a, awkward_patients, monkeypatch):
    from api import pages

    client = api_as(staff_a)
    client.get("/api/v1/patients")
    monkeypatch.setattr(pages, "_TEXTS_SECONDS", 0.0)
    with CaptureQueriesContext(connection) as queries:
        client.get("/api/v1/patients")
    assert json_statements(queries) == 1


def test_a_page_of_a_known_shape_builds_no_queryset_and_serves_each_clinic_its_own(
    api_as, staff_a, staff_b, awkward_patients, monkeypatch
):
    from api import pages
    from patients import selectors

    built = []
    patient_list = selectors.patient_list
    monkeypatch.setattr(selectors, "patient_list", lambda **kw: built.append(kw) or patient_list(**kw))
    pages._shaped.clear()
    a, b = api_as(staff_a), api_as(staff_b)
    first_a = same_page(a, "/api/v1/patients")
    # Compiled once; built again to write the rows, and by the conditional GET.
    assert len(pages._shaped) == 1 and len(built) == 3
    first_b = b.get("/api/v1/patients").json()
    assert len(built) == 4  # not compiled again: built only to write clinic B's row
    assert a.get("/api/v1/patients").json() == first_a and len(built) == 4  # its rows written already
    assert [p["mrn"] for p in first_b["results"]] == ["B-1"]
    assert first_a["count"] == len(AWKWARD) and all(p["mrn"].startswith("J-") for p in first_a["results"])
    assert same_page(a, "/api/v1/patients", {"search": "Fam"})["count"] == len(AWKWARD)  # searches build theirs
    assert len(pages._shaped) == 1


def test_recording_filters_of_a_known_shape_keep_their_values(api_as, staff_a, staff_b, clinic_a, clinic_b):
    from api import pages

    from ..factories import PatientFactory

    mine, theirs = PatientFactory(clinic=clinic_a), PatientFactory(clinic=clinic_b)
    add_recordings(clinic_a, mine, staff_a, [360.0] * 3, [["I"]] * 3)  # queued, failed, processing
    add_recordings(clinic_b, theirs, staff_b, [250.0], [[]])
    pages._shaped.clear()
    a, b = api_as(staff_a), api_as(staff_b)
    for query, count in (
        ({"patient": mine.id}, 3),
        ({"patient": mine.id, "status": "failed"}, 1),
        ({"status": "queued"}, 1),
        ({"created_after": "2025-02-03T04:05:06.001"}, 2),
        ({"created_before": "2025-02-03"}, 3),
        ({"created_before": "2025-02-02"}, 0),
        ({"updated_after": "2025-02-19T04:05:06Z"}, 2),
        ({"updated_before": "2025-02-19T04:05:06Z", "updated_after": "2025-02-19"}, 1),
        ({"ordering": "updated_at"}, 3),
        ({"ordering": "-created_at"}, 3),
    ):
        assert same_page(a, "/api/v1/recordings", query)["count"] == count
        assert a.get("/api/v1/recordings", query).json()["count"] == count  # from the kept statement
    # each order its own statement: the newest made first, and the earliest changed first (the newest made)
    made = [r["id"] for r in a.get("/api/v1/recordings").json()["results"]]
    assert [r["id"] for r in a.get("/api/v1/recordings", {"ordering": "updated_at"}).json()["results"]] == made
    assert [r["id"] for r in a.get("/api/v1/recordings", {"ordering": "created_at"}).json()["results"]] == made[::-1]
    assert b.get("/api/v1/recordings", {"patient": mine.id}).json()["count"] == 0  # clinic A's patient
    assert b.get("/api/v1/recordings", {"patient": theirs.id}).json()["count"] == 1
    assert b.get("/api/v1/recordings", {"status": "queued"}).json()["count"] == 1
    assert len(pages._shaped) == 11  # created_before twice: one shape; the default order and each one given, one each


@pytest.mark.django_db(transaction=True)  # to close the connection
def test_each_connection_prepares_a_page_statement_once(api_as, staff_a, awkward_patients):
    client = api_as(staff_a)
    client.get("/api/v1/patients")
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert client.get("/api/v1/patients").json()["count"] == len(AWKWARD)
    assert [q["sql"].split(" ", 1)[0] for q in queries] == ["EXECUTE"] * 3
    connection.close()  # a new connection prepares it again
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/patients").json()["count"] == len(AWKWARD)
    assert [q["sql"].split(" ", 1)[0] for q in queries] == ["PREPARE", "EXECUTE"]


@pytest.mark.django_db(transaction=True)  # to close the connection
def test_behind_a_transaction_pooler_no_page_statement_is_prepared(api_as, staff_a, awkward_patients, monkeypatch):
    connection.close()
    monkeypatch.setitem(connection.settings_dict, "DISABLE_SERVER_SIDE_CURSORS", True)
    client = api_as(staff_a)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(2):
            assert client.get("/api/v1/patients").json()["count"] == len(AWKWARD)
    verbs = [q["sql"].split(" ", 1)[0] for q in queries]
    assert "PREPARE" not in verbs and "EXECUTE" not in verbs and verbs.count("WITH") == 2
