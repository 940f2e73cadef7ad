"""Who may make a token that acts as whom. A token acts as its user, so one made for a doctor reviews MI flags, signs
interpretations, moves recordings and corrects beats recorded as that doctor's decisions. A clinic's administrator
creates tokens for themselves and for the clinic's staff; a token acting as a doctor or another administrator is made
by the installation's administrator (a superuser) or with ``create_api_token`` on the server. A token a clinic
administrator made for someone else never decides in their name, whatever role that user is given later."""

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.models import AuditEvent, User
from api.models import ApiToken
from api.services import api_token_create
from diagnostics.models import Interpretation, Review

from ..factories import UserFactory

pytestmark = pytest.mark.django_db
ADD = "/admin/api/apitoken/add/"


def with_token(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client


def add_form(user) -> dict:
    return {"user": user.pk, "name": "reading app", "expires_at_0": "", "expires_at_1": "", "webhook_url": ""}


def secret_shown(response) -> str:
    shown = [str(m) for m in response.context["messages"]]
    return next(m.split("The new token is ")[1].split(" ")[0] for m in shown if "The new token is" in m)


def review(client, diagnosis):
    return client.post("/api/v1/reviews", {"diagnosis": diagnosis.pk, "decision": "confirm"}, format="json")


@pytest.fixture
def other_admin_a(clinic_a):
    return UserFactory(username="admin_two", clinic=clinic_a, role=User.Role.ADMIN)


@pytest.mark.parametrize("target", ["doctor_a", "other_admin_a"])
def test_a_clinic_administrator_cannot_create_a_token_acting_as_a_doctor_or_another_administrator(
    client, admin_a, target, request
):
    user = request.getfixturevalue(target)
    client.force_login(admin_a)
    response = client.post(ADD, add_form(user))
    assert response.status_code == 200
    page = response.content.decode()
    assert "would make clinical decisions recorded as theirs" in page and user.username in page
    assert not ApiToken.objects.exists()
    # the try is in the audit trail, naming whom the token would have acted as
    denied = AuditEvent.objects.get(action=AuditEvent.Action.DENIED)
    assert (denied.user, denied.object_type, denied.object_id, denied.channel) == (
        admin_a,
        "user",
        str(user.pk),
        "admin",
    )


def test_a_clinic_administrator_creates_tokens_for_themselves_and_for_staff(client, admin_a, staff_a, done_recording):
    client.force_login(admin_a)
    own = client.post(ADD, add_form(admin_a), follow=True)
    staffs = client.post(ADD, add_form(staff_a), follow=True)
    assert ApiToken.objects.filter(user=admin_a, created_by=admin_a).exists()
    assert ApiToken.objects.filter(user=staff_a, created_by=admin_a).exists()
    # their own token decides in their own name
    assert review(with_token(secret_shown(own)), done_recording.diagnosis).status_code == 201
    assert with_token(secret_shown(staffs)).get("/api/v1/patients").status_code == 200


def test_the_installation_administrator_creates_a_doctors_token_and_it_decides(
    client, platform_admin, doctor_a, done_recording
):
    client.force_login(platform_admin)
    response = client.post(ADD, add_form(doctor_a), follow=True)
    assert ApiToken.objects.get().created_by == platform_admin
    made = review(with_token(secret_shown(response)), done_recording.diagnosis)
    assert made.status_code == 201, made.content
    assert Review.objects.get().reviewer == doctor_a


def test_a_doctors_token_made_on_the_server_decides(doctor_a, done_recording, capsys):
    call_command("create_api_token", "--user", "doctor_a")
    secret = capsys.readouterr().out.strip()
    assert review(with_token(secret), done_recording.diagnosis).status_code == 201


def test_the_service_refuses_a_clinic_administrators_token_for_a_doctor(admin_a, doctor_a):
    with pytest.raises(ValueError, match="would make clinical decisions recorded as theirs"):
        api_token_create(user=doctor_a, created_by=admin_a)
    assert not ApiToken.objects.exists()


def test_a_token_made_for_staff_does_not_decide_once_its_user_is_made_a_doctor(
    client, admin_a, staff_a, done_recording
):
    # the administrator cannot sign as a colleague by making their token first and their role after
    client.force_login(admin_a)
    secret = secret_shown(client.post(ADD, add_form(staff_a), follow=True))
    staff_a.role = User.Role.DOCTOR
    staff_a.save()
    api = with_token(secret)
    refused = review(api, done_recording.diagnosis)
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "permission_denied" and "does not make clinical decisions" in error["message"]
    assert not Review.objects.exists()
    signed = api.post(
        f"/api/v1/recordings/{done_recording.pk}/interpretations", {"text": "Sinus rhythm."}, format="json"
    )
    assert signed.status_code == 403 and not Interpretation.objects.exists()
    denied = AuditEvent.objects.filter(action=AuditEvent.Action.DENIED, user=staff_a, status_code=403)
    assert denied.count() == 2 and {e.channel for e in denied} == {"token"}
    assert api.get(f"/api/v1/recordings/{done_recording.pk}").status_code == 200  # it still reads


def test_a_token_a_clinic_administrator_made_for_a_doctor_before_this_rule_reads_but_does_not_decide(
    admin_a, doctor_a, done_recording
):
    token, secret = api_token_create(user=doctor_a)
    ApiToken.objects.filter(pk=token.pk).update(created_by=admin_a)  # as one made in the admin before
    api = with_token(secret)
    assert api.get(f"/api/v1/diagnoses/{done_recording.diagnosis.pk}").status_code == 200
    assert review(api, done_recording.diagnosis).status_code == 403
    assert not Review.objects.exists()
    token.refresh_from_db()
    assert token.revoked_at is None  # not revoked: the administrators review it (README, Upgrading)


def test_the_token_list_says_which_tokens_make_clinical_decisions(client, admin_a, platform_admin, doctor_a):
    # what an administrator reviews after upgrading: tokens made by a clinic's administrator for a doctor
    made_by_admin, _ = api_token_create(user=doctor_a, name="made-by-clinic-admin")
    ApiToken.objects.filter(pk=made_by_admin.pk).update(created_by=admin_a)
    api_token_create(user=doctor_a, name="made-by-root", created_by=platform_admin)
    client.force_login(admin_a)
    page = client.get("/admin/api/apitoken/").content.decode()
    assert "Makes clinical decisions" in page
    rows = {name: page.split(name, 1)[1].split("</tr>", 1)[0] for name in ("made-by-clinic-admin", "made-by-root")}
    assert 'alt="False"' in rows["made-by-clinic-admin"] and 'alt="True"' in rows["made-by-root"]


def test_a_tokens_page_says_whether_it_makes_clinical_decisions_once_made(client, admin_a, staff_a):
    client.force_login(admin_a)
    assert "Makes clinical decisions" not in client.get(ADD).content.decode()
    token, _ = api_token_create(user=staff_a, created_by=admin_a)
    page = client.get(f"/admin/api/apitoken/{token.pk}/change/").content.decode()
    assert "Makes clinical decisions" in page and 'alt="False"' in page
