"""Staff and doctors change their own password (they had no page for it)."""

import pytest
from django.urls import reverse

from accounts.models import AuditEvent

from ..conftest import PASSWORD, client_for

NEW = "a-new-and-longer-passphrase-7"


@pytest.mark.django_db
def test_a_user_changes_their_password_and_stays_signed_in(client, doctor_a):
    client_for(client, doctor_a)
    page = client.get(reverse("dashboard")).content.decode()
    assert f'href="{reverse("password-change")}"' in page  # reachable from every page's header
    form = client.get(reverse("password-change"))
    assert form.status_code == 200 and 'name="old_password"' in form.content.decode()
    wrong = client.post(
        reverse("password-change"), {"old_password": "not-it", "new_password1": NEW, "new_password2": NEW}
    )
    assert wrong.status_code == 400 and "old password was entered incorrectly" in wrong.content.decode()
    weak = client.post(
        reverse("password-change"), {"old_password": PASSWORD, "new_password1": "123", "new_password2": "123"}
    )
    assert weak.status_code == 400 and "too short" in weak.content.decode()  # the project's validators
    done = client.post(
        reverse("password-change"), {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}
    )
    assert done["Location"] == reverse("password-change-done")
    assert client.get(reverse("dashboard")).status_code == 200  # the session is kept
    doctor_a.refresh_from_db()
    assert doctor_a.check_password(NEW) and not doctor_a.check_password(PASSWORD)
    row = AuditEvent.objects.get(action="update", object_type="password")
    assert row.user_id == doctor_a.pk and row.clinic_id == doctor_a.clinic_id


@pytest.mark.django_db
def test_a_password_change_ends_the_users_other_sessions_and_leaves_their_api_tokens_working(staff_a):
    from django.test import Client

    from api.services import api_token_create

    token, secret = api_token_create(user=staff_a, name="hospital system")
    here, elsewhere = Client(), Client()
    for browser in (here, elsewhere):
        assert browser.post(reverse("login"), {"username": staff_a.username, "password": PASSWORD}).status_code == 302
    assert elsewhere.get(reverse("dashboard")).status_code == 200
    done = here.post(reverse("password-change"), {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW})
    assert done.status_code == 302 and here.get(reverse("dashboard")).status_code == 200
    assert elsewhere.get(reverse("dashboard")).status_code == 302  # signed out: the README says so
    api = Client().get("/api/v1/patients", HTTP_AUTHORIZATION=f"Token {secret}", HTTP_ACCEPT="application/json")
    assert api.status_code == 200  # a credential of its own (README, Tokens): revoked in the admin


@pytest.mark.django_db
def test_the_password_page_needs_a_login(client):
    response = client.get(reverse("password-change"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


@pytest.mark.django_db
def test_wrong_old_passwords_are_failed_logins_and_lock_as_logins_do(client, doctor_a, settings):
    settings.ECG_LOCKOUT_FAILURES = 3
    settings.ECG_LOCKOUT_DELAY_SECONDS = 0
    client_for(client, doctor_a)
    wrong = {"old_password": "guess", "new_password1": NEW, "new_password2": NEW}
    for _ in range(3):
        assert client.post(reverse("password-change"), wrong).status_code == 400
    failed = AuditEvent.objects.filter(action="login_failed", username=doctor_a.username, object_type="password")
    assert failed.count() == 3
    right = {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}
    refused = client.post(reverse("password-change"), right)  # even the right one, during the cool-off
    assert refused.status_code == 429 and "Too many wrong passwords" in refused.content.decode()
    doctor_a.refresh_from_db()
    assert doctor_a.check_password(PASSWORD)


@pytest.mark.django_db
def test_the_admin_sites_password_page_is_the_sites_own(client, admin_a):
    # Django's admin page audited nothing and let a borrowed session guess the old password freely
    client.force_login(admin_a)
    for method in (client.get, client.post):
        response = method("/admin/password_change/")
        assert response.status_code == 302 and response["Location"] == "/accounts/password/"


@pytest.mark.django_db(transaction=True)
def test_old_passwords_guessed_at_once_from_a_borrowed_session_are_counted_one_after_another(settings, staff_a):
    """Sent at once, 8 tries had all passed the wait before any wrong one was counted: 7 guesses where 2 are let
    through before the wait, and a right password among them changed it. Each waits for the ones before it now."""
    import threading

    from django.db import connection
    from django.test import Client

    settings.ECG_LOCKOUT_FAILURES = 5
    settings.ECG_LOCKOUT_DELAY_SECONDS = 60
    signed_in = Client()
    assert signed_in.post(reverse("login"), {"username": "staff_a", "password": PASSWORD}).status_code == 302
    start = threading.Barrier(8)
    answers: list[int] = []

    def guess() -> None:
        browser = Client()
        browser.cookies = signed_in.cookies  # the same borrowed session in every thread
        try:
            start.wait()
            form = {"old_password": "wrong-guess", "new_password1": NEW, "new_password2": NEW}
            answers.append(browser.post(reverse("password-change"), form).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [400] * 2 + [429] * 6
    assert AuditEvent.objects.filter(action="login_failed", object_type="password").count() == 2
    right = {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW}
    assert signed_in.post(reverse("password-change"), right).status_code == 429  # the wait holds for the right one
    staff_a.refresh_from_db()
    assert staff_a.check_password(PASSWORD)
