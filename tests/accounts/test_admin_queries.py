"""The admin's lists cost the same number of queries whatever the number of rows they show."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditEvent, User
from mlmodels.models import ModelVersion

from ..factories import UserFactory

pytestmark = pytest.mark.django_db


def _queries(client, url: str, params: dict | None = None) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return [q["sql"] for q in queries.captured_queries]


def _audit_rows(clinic, n: int) -> None:
    AuditEvent.objects.bulk_create(
        AuditEvent(clinic=clinic, username="staff_a", action="view", object_type="recording", object_id=str(i))
        for i in range(n)
    )


def test_the_audit_trail_costs_the_same_queries_for_10_rows_as_for_30(client, admin_a, clinic_a):
    client.force_login(admin_a)
    _audit_rows(clinic_a, 10)
    few = _queries(client, "/admin/accounts/auditevent/")
    _audit_rows(clinic_a, 20)
    many = _queries(client, "/admin/accounts/auditevent/")
    assert len(many) == len(few), many


def test_a_filtered_audit_trail_counts_its_rows_once_not_the_whole_trail_again(client, admin_a, clinic_a):
    client.force_login(admin_a)
    _audit_rows(clinic_a, 5)
    sql = _queries(client, "/admin/accounts/auditevent/", {"action__exact": "view"})
    counts = [q for q in sql if "COUNT(*)" in q and "accounts_auditevent" in q]
    assert len(counts) == 1, counts


def test_the_audit_trail_reads_no_distinct_dates_over_the_whole_trail(client, admin_a, clinic_a):
    client.force_login(admin_a)
    _audit_rows(clinic_a, 5)
    sql = _queries(client, "/admin/accounts/auditevent/")
    assert not [q for q in sql if "DISTINCT" in q and "accounts_auditevent" in q]


def test_the_audit_trail_is_still_filtered_by_object_type_and_channel(client, admin_a, clinic_a):
    client.force_login(admin_a)
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(clinic=clinic_a, username="staff_a", action="view", object_type="patient", object_id="7"),
            AuditEvent(clinic=clinic_a, username="t", action="token_use", channel="token", object_id="8"),
        ]
    )
    page = client.get("/admin/accounts/auditevent/").content.decode()
    assert "?object_type=patient" in page and "?channel=token" in page
    patients = client.get("/admin/accounts/auditevent/", {"object_type": "patient"}).context["cl"].result_list
    tokens = client.get("/admin/accounts/auditevent/", {"channel": "token"}).context["cl"].result_list
    assert [e.object_id for e in patients] == ["7"] and [e.object_id for e in tokens] == ["8"]


def test_the_user_list_costs_the_same_queries_for_10_users_as_for_30(client, admin_a, clinic_a):
    client.force_login(admin_a)
    for i in range(9):
        UserFactory(username=f"user{i}", clinic=clinic_a, role=User.Role.STAFF)
    few = _queries(client, "/admin/accounts/user/")
    for i in range(9, 29):
        UserFactory(username=f"user{i}", clinic=clinic_a, role=User.Role.STAFF)
    many = _queries(client, "/admin/accounts/user/")
    assert len(many) == len(few), many


def _versions(users: list[User], start: int) -> None:
    ModelVersion.objects.bulk_create(
        ModelVersion(task="heartbeat", version=f"v{start + i}", artifact=f"models/v{i}.keras", created_by=user)
        for i, user in enumerate(users)
    )


def test_the_model_version_list_costs_the_same_queries_for_3_versions_as_for_9(client, admin_a, clinic_a):
    client.force_login(admin_a)
    users = [UserFactory(username=f"author{i}", clinic=clinic_a, role=User.Role.ADMIN) for i in range(9)]
    _versions(users[:3], 0)
    few = _queries(client, "/admin/mlmodels/modelversion/")
    _versions(users[3:], 3)
    many = _queries(client, "/admin/mlmodels/modelversion/")
    assert len(many) == len(few), many
