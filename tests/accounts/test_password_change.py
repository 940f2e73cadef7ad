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
def test_the_password_page_needs_a_login(client):
    response = client.get(reverse("password-change"))
    assert response.status_code == 302 and reverse("login") in response["Location"]
