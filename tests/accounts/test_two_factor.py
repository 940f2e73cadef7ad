"""Two-factor sign-in: administrators and doctors pass a TOTP step before the admin site and review pages open."""

import base64
import re

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditEvent

from ..conftest import PASSWORD

pytestmark = pytest.mark.django_db

CLOSED = ["/admin/", "/admin/mlmodels/modelversion/", "/reviews/"]


@pytest.fixture(autouse=True)
def _required(settings):
    settings.ECG_REQUIRE_2FA = True


def password_login(client, user):
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def enrolled(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


def code_for(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


@pytest.mark.parametrize("path", CLOSED)
def test_an_administrator_with_only_the_password_is_sent_to_the_second_step(client, admin_a, path):
    enrolled(admin_a)
    response = password_login(client, admin_a).get(path)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("two-factor"))


def test_a_doctor_with_only_the_password_cannot_open_or_post_to_the_review_pages(client, doctor_a):
    enrolled(doctor_a)
    password_login(client, doctor_a)
    assert client.get(reverse("review-queue")).status_code == 302
    response = client.post(reverse("review-create", args=[1]), {"decision": "confirm"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("two-factor"))


def test_an_htmx_request_before_the_second_step_sends_the_whole_page_there(client, doctor_a):
    enrolled(doctor_a)
    password_login(client, doctor_a)
    page = "/recordings/1/"
    response = client.get(
        reverse("recording-status", args=[1]), HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=f"http://testserver{page}"
    )
    assert response.status_code == 200 and "Location" not in response
    assert response["HX-Redirect"] == f"{reverse('two-factor')}?next=%2Frecordings%2F1%2F"


def test_staff_need_no_second_step(client, staff_a):
    assert password_login(client, staff_a).get(reverse("dashboard")).status_code == 200


def test_a_wrong_code_keeps_the_admin_closed_and_is_audited(client, admin_a):
    device = enrolled(admin_a)
    password_login(client, admin_a)
    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
    response = client.post(reverse("two-factor"), {"code": wrong, "next": "/admin/"})
    assert response.status_code == 400 and "not valid" in response.content.decode()
    assert client.get("/admin/").status_code == 302
    assert AuditEvent.objects.filter(action="login_failed", object_type="second_factor", user=admin_a).count() == 1


def test_the_current_code_opens_the_admin_and_the_review_pages(client, admin_a):
    device = enrolled(admin_a)
    password_login(client, admin_a)
    response = client.post(reverse("two-factor"), {"code": code_for(device), "next": "/admin/"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert client.get(reverse("review-queue")).status_code == 200
    assert AuditEvent.objects.filter(action="login", object_type="second_factor", user=admin_a).exists()


def test_the_next_address_must_be_on_this_site(client, admin_a):
    device = enrolled(admin_a)
    password_login(client, admin_a)
    response = client.post(reverse("two-factor"), {"code": code_for(device), "next": "https://evil.example/"})
    assert response["Location"] == reverse("dashboard")


def test_an_administrator_without_an_authenticator_enrols_and_gets_recovery_codes(client, admin_a, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # the wrong code below would otherwise hold the next try for a second
    password_login(client, admin_a)
    response = client.get("/admin/", follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0].startswith(reverse("two-factor-setup"))
    assert "<svg" in page and "<script" not in page.split("<main", 1)[1]  # the QR code drawn on the server
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    device = TOTPDevice.objects.get(user=admin_a)
    assert not device.confirmed and secret == base64.b32encode(device.bin_key).decode()
    assert client.get("/admin/").status_code == 302  # still closed while enrolling

    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
    assert client.post(reverse("two-factor-setup"), {"code": wrong}).status_code == 400
    response = client.post(reverse("two-factor-setup"), {"code": code_for(device), "next": "/admin/"})
    assert response.status_code == 200
    codes = re.findall(r"<li><code>([a-z0-9]+)</code></li>", response.content.decode())
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get("/admin/").status_code == 200

    # A recovery code stands in for the phone, once.
    client.logout()
    password_login(client, admin_a)
    assert client.post(reverse("two-factor"), {"code": codes[0]}).status_code == 302
    assert client.get("/admin/").status_code == 200
    client.logout()
    password_login(client, admin_a)
    assert client.post(reverse("two-factor"), {"code": codes[0]}).status_code == 400


def test_an_enrolled_user_cannot_replace_the_authenticator_without_it(client, admin_a):
    enrolled(admin_a)
    password_login(client, admin_a)
    response = client.get(reverse("two-factor-setup"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("two-factor"))
    assert TOTPDevice.objects.filter(user=admin_a).count() == 1


def test_a_signed_in_session_cannot_replace_the_authenticator(client, admin_a):
    """Someone at an unattended workstation had enrolled their own phone here, the owner's shut out; a new phone is
    enrolled after an administrator's reset (README)."""
    device = enrolled(admin_a)
    password_login(client, admin_a)
    assert client.post(reverse("two-factor"), {"code": code_for(device)}).status_code == 302
    for response in (client.get(reverse("two-factor-setup")), client.post(reverse("two-factor-setup"), {"code": "1"})):
        assert response.status_code == 302 and response["Location"] == "/"
    assert list(TOTPDevice.objects.filter(user=admin_a).values_list("pk", "confirmed")) == [(device.pk, True)]
    page = client.get("/").content.decode()
    assert "ask your clinic&#x27;s administrator to reset your second factor" in page


def test_an_unverified_session_does_not_reach_the_api_but_a_token_does(client, admin_a):
    from api.services import api_token_create

    enrolled(admin_a)
    password_login(client, admin_a)
    assert client.get("/api/v1/patients").status_code in (401, 403)
    token = api_token_create(user=admin_a)[1]
    assert client.get("/api/v1/patients", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200


def test_with_the_setting_off_the_password_alone_opens_the_admin(client, admin_a, settings):
    settings.ECG_REQUIRE_2FA = False
    assert password_login(client, admin_a).get("/admin/").status_code == 200


@pytest.mark.django_db
def test_the_admin_shows_whose_second_factor_device_it_is_but_never_its_key(client, doctor_a, settings):
    # with a device's key anyone who opens the page passes that user's second sign-in step
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User

    device = TOTPDevice.objects.create(user=doctor_a, name="authenticator", confirmed=True)
    codes = StaticDevice.objects.create(user=doctor_a, name="recovery", confirmed=True)
    StaticToken.objects.create(device=codes, token="recovery1")
    settings.ECG_REQUIRE_2FA = False  # the superuser's own second step is not what this is about
    root = User.objects.create_superuser("root", password="Unused-pass-123")
    client.force_login(root)
    for path in (
        f"/admin/otp_totp/totpdevice/{device.pk}/change/",
        f"/admin/otp_static/staticdevice/{codes.pk}/change/",
    ):
        page = client.get(path).content.decode()
        assert "doctor_a" in page and device.key not in page and "recovery1" not in page, path
    assert client.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()


@pytest.mark.parametrize("how", ["one", "selected"])
def test_a_device_deleted_in_the_admin_ends_the_users_sessions(client, doctor_a, settings, how):
    """As the users page's reset does: a session signed in with the password alone had been sent to enrol, and
    enrolled whoever held it."""
    from django.test import Client
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.models import User

    device = TOTPDevice.objects.create(user=doctor_a, name="authenticator", confirmed=True)
    intruder = Client()
    password_login(intruder, doctor_a)
    assert intruder.get(reverse("two-factor")).status_code == 200  # signed in, owing the code
    settings.ECG_REQUIRE_2FA = False  # the superuser's own second step is not what this is about
    client.force_login(User.objects.create_superuser("root", password="Unused-pass-123"))
    if how == "one":
        response = client.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})
    else:
        form = {"action": "delete_selected", "_selected_action": [device.pk], "post": "yes"}
        response = client.post("/admin/otp_totp/totpdevice/", form)
    assert response.status_code == 302 and not TOTPDevice.objects.filter(pk=device.pk).exists()
    settings.ECG_REQUIRE_2FA = True
    answer = intruder.get(reverse("two-factor-setup"))
    assert answer.status_code == 302 and answer["Location"].startswith(reverse("login"))  # signed out, not enrolling


def _reset_as(client, admin_user, *users):
    client.force_login(admin_user)
    if hasattr(client, "session"):  # the admin's own second step is not what these tests are about
        from django_otp.plugins.otp_totp.models import TOTPDevice as Device

        device = Device.objects.create(user=admin_user, name="admin's", confirmed=True)
        session = client.session
        session["otp_device_id"] = device.persistent_id
        session.save()
    return client.post(
        "/admin/accounts/user/",
        {"action": "reset_second_factor", "_selected_action": [u.pk for u in users]},
        follow=True,
    )


def test_a_clinic_administrator_resets_a_lost_authenticator_and_the_user_enrols_again(
    client, admin_a, doctor_a, staff_a
):
    from django.test import Client
    from django_otp.plugins.otp_static.models import StaticDevice

    enrolled(doctor_a)
    StaticDevice.objects.create(user=doctor_a, name="recovery", confirmed=True)
    elsewhere = password_login(Client(), doctor_a)  # a session left open somewhere, past the password
    response = _reset_as(client, admin_a, doctor_a, staff_a)
    assert response.status_code == 200
    assert "Second factor reset for 1 user" in response.content.decode() and "1 had none" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=doctor_a).exists() and not StaticDevice.objects.filter(user=doctor_a)
    event = AuditEvent.objects.get(action="update", object_type="second_factor")
    assert (event.user, event.object_id, event.channel) == (admin_a, str(doctor_a.pk), "admin")
    # that session is ended: it cannot enrol the next authenticator for whoever holds it
    assert elsewhere.get("/reviews/")["Location"].startswith(reverse("login"))
    doctor = password_login(Client(), doctor_a)
    assert doctor.get("/reviews/", follow=True).redirect_chain[-1][0].startswith(reverse("two-factor-setup"))


def test_another_clinics_user_or_a_superuser_cannot_be_reset_by_a_clinic_administrator(
    client, admin_a, staff_b, platform_admin
):
    theirs, root = enrolled(staff_b), enrolled(platform_admin)
    _reset_as(client, admin_a, staff_b, platform_admin)
    assert TOTPDevice.objects.filter(pk__in=[theirs.pk, root.pk]).count() == 2
    assert not AuditEvent.objects.filter(object_type="second_factor", action="update").exists()


def shown_key(response) -> str:
    return re.search(r'id="totp-secret">([A-Z2-7 ]+)<', response.content.decode()).group(1).replace(" ", "")


def code_from(key: str) -> str:
    return f"{totp(base64.b32decode(key)):06d}"


def test_a_key_seen_by_someone_with_only_the_password_is_not_the_one_the_user_enrols(client, doctor_a):
    from django.test import Client

    seen = shown_key(password_login(Client(), doctor_a).get(reverse("two-factor-setup")))
    doctor = password_login(client, doctor_a)
    key = shown_key(doctor.get(reverse("two-factor-setup")))
    assert key != seen
    assert doctor.post(reverse("two-factor-setup"), {"code": code_from(key)}).status_code == 200
    device = TOTPDevice.objects.get(user=doctor_a)
    assert device.confirmed and base64.b32encode(device.bin_key).decode() == key


def test_a_code_for_a_key_replaced_from_another_session_is_refused_with_a_new_key(client, doctor_a):
    from django.test import Client

    doctor = password_login(client, doctor_a)
    first = shown_key(doctor.get(reverse("two-factor-setup")))
    intruder = password_login(Client(), doctor_a)
    theirs = shown_key(intruder.get(reverse("two-factor-setup")))  # opened after the doctor: the doctor's key is gone
    response = doctor.post(reverse("two-factor-setup"), {"code": code_from(first)})
    assert response.status_code == 400 and "no longer works" in response.content.decode()
    fresh = shown_key(response)
    assert fresh not in (first, theirs) and not TOTPDevice.objects.filter(user=doctor_a, confirmed=True).exists()
    # the intruder's key went with it: it can no longer be confirmed (and so never works at the code step)
    assert intruder.post(reverse("two-factor-setup"), {"code": code_from(theirs)}).status_code == 400
    assert not TOTPDevice.objects.filter(user=doctor_a, confirmed=True).exists()


def test_only_the_session_shown_a_key_can_confirm_it(client, doctor_a):
    from django.test import Client

    key = shown_key(password_login(Client(), doctor_a).get(reverse("two-factor-setup")))
    response = password_login(client, doctor_a).post(reverse("two-factor-setup"), {"code": code_from(key)})
    assert response.status_code == 400 and "no longer works" in response.content.decode()
    assert shown_key(response) != key and not TOTPDevice.objects.filter(user=doctor_a, confirmed=True).exists()


def test_reopening_setup_after_the_key_was_replaced_elsewhere_says_so(client, doctor_a):
    from django.test import Client

    doctor = password_login(client, doctor_a)
    first = shown_key(doctor.get(reverse("two-factor-setup")))
    password_login(Client(), doctor_a).get(reverse("two-factor-setup"))
    response = doctor.get(reverse("two-factor-setup"))
    assert response.status_code == 200 and "no longer works" in response.content.decode()
    assert shown_key(response) != first


def test_reloading_the_setup_page_keeps_this_sessions_key(client, doctor_a):
    doctor = password_login(client, doctor_a)
    key = shown_key(doctor.get(reverse("two-factor-setup")))
    assert shown_key(doctor.get(reverse("two-factor-setup"))) == key
    assert TOTPDevice.objects.filter(user=doctor_a).count() == 1


def test_code_step_tries_the_throttle_refuses_unchecked_write_one_audit_row_a_window(client, doctor_a, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 60  # each try after a wrong code comes within the wait
    device = enrolled(doctor_a)
    password_login(client, doctor_a)
    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
    assert client.post(reverse("two-factor"), {"code": wrong}).status_code == 400  # checked, and wrong
    responses = [client.post(reverse("two-factor"), {"code": code}) for code in [wrong] * 20 + [code_for(device)]]
    events = AuditEvent.objects.filter(user=doctor_a, object_type="second_factor")
    assert events.filter(action="login_failed").count() == 1
    assert events.filter(action="locked_out").count() == 1
    for response in responses:
        assert response.status_code == 429 and "Too many wrong codes" in response.content.decode()
    assert client.get(reverse("review-queue")).status_code == 302
