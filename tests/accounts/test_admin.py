"""The user admin keeps every account in a clinic and shows an administrator only their own clinic."""

import pytest

from accounts.models import User

from ..conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_adding_a_user_without_a_clinic_is_refused_with_a_message(client, admin_a):
    client.force_login(admin_a)
    response = client.post(
        "/admin/accounts/user/add/",
        {
            "username": "newcomer",
            "clinic": "",
            "role": "staff",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    assert not User.objects.filter(username="newcomer").exists()


def test_a_clinic_admin_sees_only_their_clinic_in_the_user_list_filters(client, admin_a, staff_b):
    client.force_login(admin_a)
    page = client.get("/admin/accounts/user/").content.decode()
    assert "Clinic A" in page and "Clinic B" not in page
    page = client.get("/admin/accounts/user/", {"clinic__id__exact": staff_b.clinic_id}).content.decode()
    assert "staff_b" not in page


def test_a_superuser_still_sees_every_clinic_in_the_filters(client, admin_a, staff_b):
    root = User.objects.create_superuser("root", password=PASSWORD)
    client.force_login(root)
    page = client.get("/admin/accounts/user/").content.decode()
    assert "Clinic A" in page and "Clinic B" in page


def test_a_clinic_admin_cannot_reach_a_superuser_who_has_their_clinic(client, admin_a, clinic_a):
    # a superuser with the clinic set was in the clinic's user list: its administrator could change the
    # superuser's password and, logged in as them, reach every clinic's records
    root = User.objects.create_superuser("root", password=PASSWORD, clinic=clinic_a)
    client.force_login(admin_a)
    assert "root" not in client.get("/admin/accounts/user/").content.decode()
    for path in (f"/admin/accounts/user/{root.pk}/change/", f"/admin/accounts/user/{root.pk}/password/"):
        response = client.get(path)
        assert response.status_code in (302, 404), path
    response = client.post(
        f"/admin/accounts/user/{root.pk}/password/", {"password1": "Taken-over-9876", "password2": "Taken-over-9876"}
    )
    assert response.status_code in (302, 404)
    root.refresh_from_db()
    assert root.check_password(PASSWORD) and root.is_active


def test_the_demo_data_command_refuses_to_run_in_production(settings, admin_a):
    from django.core.management import CommandError, call_command

    settings.DJANGO_ENV = "production"
    with pytest.raises(CommandError, match="refuses to run with DJANGO_ENV=production"):
        call_command("seed_demo")
    assert not User.objects.filter(username="staff_b").exists()


@pytest.mark.parametrize("role", [User.Role.DOCTOR, User.Role.ADMIN])
def test_a_clinic_admin_cannot_set_the_password_of_a_doctor_or_another_administrator(client, admin_a, clinic_a, role):
    # with the password set and the second factor reset (a lost phone), the administrator signed in as the doctor
    # and signed their interpretations: a doctor's password is theirs or the installation's administrator's to set
    from accounts.models import AuditEvent

    from ..factories import UserFactory

    colleague = UserFactory(username="colleague", clinic=clinic_a, role=role)
    client.force_login(admin_a)
    path = f"/admin/accounts/user/{colleague.pk}/password/"
    form = client.get(path)
    assert form.status_code == 403 and "installation&#x27;s administrator" in form.content.decode()
    response = client.post(
        path, {"password1": "Taken-over-9876", "password2": "Taken-over-9876", "set_usable_password": "true"}
    )
    assert response.status_code == 403
    assert "sets the password of a doctor or another administrator" in response.content.decode()
    colleague.refresh_from_db()
    assert colleague.check_password(PASSWORD)
    denied = AuditEvent.objects.filter(action=AuditEvent.Action.DENIED, object_type="password")
    assert {(e.user, e.object_id, e.status_code, e.channel) for e in denied} == {
        (admin_a, str(colleague.pk), 403, "admin")
    }


def test_the_installation_administrator_sets_a_doctors_password_and_a_clinic_admin_a_staff_members(
    client, admin_a, platform_admin, doctor_a, staff_a
):
    new = {"password1": "Another-pass-4321", "password2": "Another-pass-4321", "set_usable_password": "true"}
    client.force_login(platform_admin)
    assert client.post(f"/admin/accounts/user/{doctor_a.pk}/password/", new).status_code == 302
    client.force_login(admin_a)
    assert client.post(f"/admin/accounts/user/{staff_a.pk}/password/", new).status_code == 302
    doctor_a.refresh_from_db()
    staff_a.refresh_from_db()
    assert doctor_a.check_password("Another-pass-4321") and staff_a.check_password("Another-pass-4321")


def change_form(user, **changes) -> dict:
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "clinic": user.clinic_id,
        "role": user.role,
        "is_active": "on" if user.is_active else "",
    }
    data.update(changes)
    return data


def test_a_clinic_admin_cannot_give_signing_powers_back_to_an_account_in_use(client, admin_a, doctor_a):
    # demote the doctor, set their password (a staff member's, which they may), make them a doctor again, reset
    # their second factor: the administrator would sign in, and sign, as the doctor
    from django.utils import timezone

    from accounts.models import AuditEvent

    User.objects.filter(pk=doctor_a.pk).update(last_login=timezone.now())
    doctor_a.refresh_from_db()
    client.force_login(admin_a)
    path = f"/admin/accounts/user/{doctor_a.pk}/change/"
    assert client.post(path, change_form(doctor_a, role="staff")).status_code == 302
    doctor_a.refresh_from_db()
    assert doctor_a.role == "staff"
    response = client.post(path, change_form(doctor_a, role="doctor"))
    assert response.status_code == 200
    assert "has signed in already" in response.content.decode()
    doctor_a.refresh_from_db()
    assert doctor_a.role == "staff"
    denied = AuditEvent.objects.get(action=AuditEvent.Action.DENIED)
    assert (denied.user, denied.object_type, denied.object_id, denied.channel) == (
        admin_a,
        "role",
        str(doctor_a.pk),
        "admin",
    )


def test_a_clinic_admin_makes_a_new_account_a_doctor_and_a_superuser_any(client, admin_a, platform_admin, clinic_a):
    from django.utils import timezone

    from ..factories import UserFactory

    newcomer = UserFactory(username="newcomer", clinic=clinic_a, role=User.Role.STAFF)
    veteran = UserFactory(username="veteran", clinic=clinic_a, role=User.Role.STAFF)
    User.objects.filter(pk=veteran.pk).update(last_login=timezone.now())
    veteran.refresh_from_db()
    client.force_login(admin_a)
    assert (
        client.post(f"/admin/accounts/user/{newcomer.pk}/change/", change_form(newcomer, role="doctor")).status_code
        == 302
    )
    client.force_login(platform_admin)
    assert (
        client.post(f"/admin/accounts/user/{veteran.pk}/change/", change_form(veteran, role="doctor")).status_code
        == 302
    )
    newcomer.refresh_from_db()
    veteran.refresh_from_db()
    assert newcomer.role == veteran.role == "doctor"
