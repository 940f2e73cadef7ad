import pytest
from django.db import DatabaseError, transaction
from django.urls import reverse

from accounts.models import AuditEvent, User

from ..conftest import PASSWORD, client_for
from ..helpers import beat_csv, upload


def events(**filters):
    return list(
        AuditEvent.objects.filter(**filters)
        .order_by("created_at")
        .values_list("action", "object_type", "object_id", "username")
    )


@pytest.mark.django_db
def test_login_failed_login_and_logout_are_audited(client, staff_a):
    client.post(reverse("login"), {"username": "staff_a", "password": "wrong"}, REMOTE_ADDR="10.1.2.3")
    client.post(reverse("login"), {"username": "staff_a", "password": PASSWORD}, REMOTE_ADDR="10.1.2.3")
    client.post(reverse("logout"), REMOTE_ADDR="10.1.2.3")
    trail = AuditEvent.objects.order_by("created_at")
    assert [e.action for e in trail] == ["login_failed", "login", "logout"]
    assert all(e.username == "staff_a" and e.ip == "10.1.2.3" for e in trail)
    assert {e.clinic_id for e in trail} == {staff_a.clinic_id}


@pytest.mark.django_db
def test_views_creates_and_updates_of_patients_and_recordings_are_audited(client, staff_a):
    client_for(client, staff_a)
    response = client.post(reverse("patient-create"), {"mrn": "Q-1", "family_name": "Quist", "sex": "male"})
    patient_id = response["Location"].strip("/").split("/")[-1]
    client.get(reverse("patient-detail", args=[patient_id]))
    client.post(reverse("patient-edit", args=[patient_id]), {"mrn": "Q-1", "family_name": "Quist-Ek", "sex": "male"})
    response = client.post(
        reverse("recording-upload", args=[patient_id]), {"kind": "beats", "files": upload("b.csv", beat_csv(3))}
    )
    recording_id = response["Location"].strip("/").split("/")[-1]
    client.get(reverse("recording-detail", args=[recording_id]))
    assert events(username="staff_a", object_type__in=["patient", "recording"]) == [
        ("create", "patient", patient_id, "staff_a"),
        ("view", "patient", patient_id, "staff_a"),
        ("update", "patient", patient_id, "staff_a"),
        ("create", "recording", recording_id, "staff_a"),
        ("view", "recording", recording_id, "staff_a"),
    ]
    assert set(AuditEvent.objects.values_list("clinic_id", flat=True)) == {staff_a.clinic_id}


@pytest.mark.django_db
def test_a_refused_or_foreign_request_is_recorded_as_denied_not_as_a_view(client, staff_a, staff_b, patient_a):
    # another clinic's id probed through a page, the API and an export, and a role's limit: each a "denied" row
    client_for(client, staff_b)
    assert client.get(reverse("patient-detail", args=[patient_a.pk])).status_code == 404
    from rest_framework.test import APIClient

    from api.services import api_token_create

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_create(user=staff_b)[1]}")
    assert api.get(f"/api/v1/patients/{patient_a.pk}").status_code == 404
    # a write naming another clinic's record in its body, an upload page of its patient
    assert (
        api.post(
            "/api/v1/recordings", {"patient": patient_a.pk, "kind": "beats", "beats": [[0.5] * 187]}, format="json"
        ).status_code
        == 404
    )
    assert client.get(reverse("recording-upload", args=[patient_a.pk])).status_code == 404
    client_for(client, staff_a)
    assert client.get(reverse("review-queue")).status_code == 403
    assert not AuditEvent.objects.filter(action="view").exists()
    rows = list(
        AuditEvent.objects.filter(action="denied")
        .order_by("id")
        .values_list("username", "clinic_id", "object_type", "object_id", "status_code", "channel")
    )
    assert rows == [
        ("staff_b", staff_b.clinic_id, "patient", str(patient_a.pk), 404, "web"),
        ("staff_b", staff_b.clinic_id, "patient", str(patient_a.pk), 404, "token"),
        ("staff_b", staff_b.clinic_id, "recording", "", 404, "token"),
        ("staff_b", staff_b.clinic_id, "patient", str(patient_a.pk), 404, "web"),
        ("staff_a", staff_a.clinic_id, "diagnosis", "", 403, "web"),
    ]


@pytest.mark.django_db
def test_the_trail_is_append_only_in_the_app_and_the_database(staff_a, rf):
    from accounts import audit

    request = rf.get("/")
    request.user = staff_a
    event = audit.record(request, AuditEvent.Action.VIEW, object_type="patient", object_id=1)
    event.action = "update"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="update")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.get(pk=event.pk).action == "view"


@pytest.mark.django_db
def test_admins_can_filter_the_trail_but_not_change_it(client, admin_a, staff_a):
    client.post(reverse("login"), {"username": "staff_a", "password": "nope"})
    client_for(client, admin_a)
    url = reverse("admin:accounts_auditevent_changelist")
    page = client.get(url, {"action__exact": "login_failed"})
    assert page.status_code == 200 and "staff_a" in page.content.decode()
    event = AuditEvent.objects.get(action="login_failed")
    assert client.get(reverse("admin:accounts_auditevent_delete", args=[event.pk])).status_code == 403
    assert client.get(reverse("admin:accounts_auditevent_add")).status_code == 403
    change = client.post(reverse("admin:accounts_auditevent_change", args=[event.pk]), {"action": "login"})
    assert change.status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).action == "login_failed"


@pytest.mark.django_db
def test_staff_cannot_see_the_trail(client, staff_a):
    response = client_for(client, staff_a).get(reverse("admin:accounts_auditevent_changelist"))
    assert response.status_code == 302


@pytest.mark.django_db
def test_api_calls_with_a_token_are_audited(staff_a, patient_a):
    from rest_framework.test import APIClient

    from api.services import api_token_create
    from patients.models import Patient

    _, token = api_token_create(user=staff_a, name="his")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get(f"/api/v1/patients/{patient_a.pk}").status_code == 200
    assert client.post("/api/v1/patients", {"mrn": "T-9", "family_name": "Tok"}, format="json").status_code == 201
    assert client.get("/api/v1/model-versions").status_code == 200
    trail = list(
        AuditEvent.objects.filter(channel="token")
        .order_by("created_at")
        .values_list("action", "object_type", "object_id")
    )
    created = str(Patient.objects.get(mrn="T-9").pk)
    assert trail == [("view", "patient", str(patient_a.pk)), ("create", "patient", created), ("token_use", "", "")]


def test_what_an_administrator_writes_in_the_admin_is_in_the_trail(
    client, admin_a, platform_admin, clinic_a, db, tiny_model_dir
):
    # user accounts, passwords, token revocations and model activations had been only in Django's admin
    # log, or nowhere
    from api.models import ApiToken
    from api.services import api_token_create

    client.force_login(admin_a)
    response = client.post(
        "/admin/accounts/user/add/",
        {"username": "newcomer", "clinic": clinic_a.pk, "role": "staff", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    newcomer = User.objects.get(username="newcomer")
    client.post(
        f"/admin/accounts/user/{newcomer.pk}/password/",
        {"password1": "Another-pass-4321", "password2": "Another-pass-4321", "set_usable_password": "true"},
    )
    token = api_token_create(user=newcomer)[0]
    client.post("/admin/api/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    from ..conftest import model_version_from

    spare = model_version_from(tiny_model_dir / "heartbeat.keras", task="heartbeat", version="spare", active=False)
    client.force_login(platform_admin)
    client.post("/admin/mlmodels/modelversion/", {"action": "activate", "_selected_action": [spare.pk]})
    rows = list(
        AuditEvent.objects.filter(channel="admin").values_list("username", "action", "object_type", "object_id")
    )
    assert ("admin", "create", "user", str(newcomer.pk)) in rows
    assert rows.count(("admin", "update", "user", str(newcomer.pk))) >= 1  # the password change
    assert ("admin", "update", "apitoken", str(token.pk)) in rows
    assert ("root", "activate", "modelversion", str(spare.pk)) in rows


def test_a_dashboard_visit_is_audited_but_not_its_polls(client, staff_a):
    # the dashboard lists patients with their MI scores and rhythm alarms
    client.force_login(staff_a)
    before = AuditEvent.objects.filter(object_type="dashboard").count()
    client.get("/")
    client.get("/", HTTP_HX_REQUEST="true")
    assert events(object_type="dashboard")[before:] == [("view", "dashboard", "", "staff_a")]


def test_a_token_call_under_a_path_prefix_is_audited_as_the_api(client, staff_a):
    from api.services import api_token_create

    token = api_token_create(user=staff_a)[1]
    response = client.get("/api/v1/patients", HTTP_AUTHORIZATION=f"Token {token}", SCRIPT_NAME="/ecg")
    assert response.status_code == 200
    assert AuditEvent.objects.filter(action="view").values_list("channel", flat=True).last() == "token"


@pytest.mark.slow
@pytest.mark.django_db
def test_a_model_version_registered_through_the_api_is_in_the_trail(client, platform_admin, staff_a, tiny_model_dir):
    # the admin's registrations were audited, the API's not at all (a session's) or as a bare token use: a model
    # that diagnoses every clinic's patients, with no trail of who put it there
    from api.services import api_token_create
    from mlmodels.models import ModelVersion

    artifact = (tiny_model_dir / "heartbeat.keras").read_bytes()
    token = api_token_create(user=platform_admin)[1]
    response = client.post(
        "/api/v1/model-versions",
        {"task": "heartbeat", "version": "by-token", "artifact": upload("m.keras", artifact)},
        HTTP_AUTHORIZATION=f"Token {token}",
    )
    assert response.status_code == 201, response.content
    created = str(ModelVersion.objects.get(version="by-token").pk)
    client.force_login(staff_a)
    refused = client.post(
        "/api/v1/model-versions", {"task": "heartbeat", "version": "by-staff", "artifact": upload("m.keras", b"x")}
    )
    assert refused.status_code == 403
    client.get("/api/v1/model-versions")  # a read of the versions, as before: no record of a clinic's
    assert events(object_type="model_version") == [
        ("create", "model_version", created, "root"),
        ("denied", "model_version", "", "staff_a"),
    ]


@pytest.mark.slow
@pytest.mark.django_db
def test_a_model_version_activated_as_it_is_registered_through_the_api_is_an_activation_in_the_trail(
    client, platform_admin, active_models, tiny_model_dir
):
    # activate=true made the version the one every clinic is diagnosed with, and the trail said only "create"
    from mlmodels.models import ModelVersion

    client.force_login(platform_admin)
    artifact = (tiny_model_dir / "mi-low.keras").read_bytes()
    response = client.post(
        "/api/v1/model-versions",
        {
            "task": "mi",
            "version": "low",
            "threshold": "0.5",
            "activate": "true",
            "artifact": upload("m.keras", artifact),
        },
    )
    assert response.status_code == 201, response.content
    low = ModelVersion.objects.get(version="low")
    assert low.is_active
    trail = list(AuditEvent.objects.filter(object_type="model_version").values_list("action", "object_id", "channel"))
    assert sorted(trail) == [("activate", str(low.pk), "api"), ("create", str(low.pk), "api")]


def test_what_a_superuser_deletes_in_the_admin_is_in_the_trail(client, platform_admin, staff_a, clinic_b, db):
    # additions and changes were audited, deletions only in Django's admin log: a user account, an API token or a
    # clinic gone with no row of who removed it
    from api.models import ApiToken
    from api.services import api_token_create

    token = api_token_create(user=staff_a)[0]
    client.force_login(platform_admin)
    response = client.post(f"/admin/api/apitoken/{token.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not ApiToken.objects.filter(pk=token.pk).exists()
    response = client.post(
        "/admin/accounts/user/", {"action": "delete_selected", "_selected_action": [staff_a.pk], "post": "yes"}
    )
    assert response.status_code == 302 and not User.objects.filter(pk=staff_a.pk).exists()
    client.post(f"/admin/accounts/clinic/{clinic_b.pk}/delete/", {"post": "yes"})
    rows = list(
        AuditEvent.objects.filter(channel="admin").values_list("username", "action", "object_type", "object_id")
    )
    assert rows.count(("root", "delete", "apitoken", str(token.pk))) == 1
    assert rows.count(("root", "delete", "user", str(staff_a.pk))) == 1
    assert rows.count(("root", "delete", "clinic", str(clinic_b.pk))) == 1


def test_a_user_or_clinic_the_trail_names_is_not_deleted_and_the_admin_says_so(client, platform_admin, staff_a, db):
    # the trail names who acted: deleting them had the database refuse to blank those rows (append-only), a 500
    from accounts.models import Clinic

    client_for(client, staff_a).get("/")  # a login and a visit in the trail
    other = Clinic.objects.create(name="Closed clinic")
    AuditEvent.objects.create(clinic=other, action=AuditEvent.Action.VIEW, username="someone")
    client.force_login(platform_admin)
    for url, kept in (
        (f"/admin/accounts/user/{staff_a.pk}/delete/", lambda: User.objects.filter(pk=staff_a.pk).exists()),
        (f"/admin/accounts/clinic/{other.pk}/delete/", lambda: Clinic.objects.filter(pk=other.pk).exists()),
    ):
        asked = client.get(url)
        assert asked.status_code == 200 and "<title>Cannot delete" in asked.content.decode()
        response = client.post(url, {"post": "yes"})
        assert response.status_code != 500 and kept()
    response = client.post(
        "/admin/accounts/user/", {"action": "delete_selected", "_selected_action": [staff_a.pk], "post": "yes"}
    )
    assert response.status_code != 500 and User.objects.filter(pk=staff_a.pk).exists()
    assert AuditEvent.objects.filter(user=staff_a).exists()
