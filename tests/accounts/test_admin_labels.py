"""The admin's headings and columns read as words, not as code names."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_admin_index_and_users_list_read_as_words(client, platform_admin, staff_a):
    client.force_login(platform_admin)
    index = client.get(reverse("admin:index")).content.decode()
    headings = re.findall(r'<caption>\s*<a [^>]*class="section"[^>]*>([^<]*)</a>', index)
    assert "Second factor: authenticator apps" in headings and "Second factor: recovery codes" in headings
    assert "Clinics and users" in headings  # the accounts app's own config (its ready() connects the audit)
    assert not [h for h in headings if "otp" in h.lower()]  # they read "OTP_TOTP" and "OTP_STATIC"
    users = client.get(reverse("admin:accounts_user_changelist")).content.decode()
    columns = re.findall(r'<th scope="col" class="[^"]*column-(\w+)[^"]*">.*?<a [^>]*>([^<]*)</a>', users, re.S)
    assert ("full_name", "Name") in columns and "Get full name" not in users


def test_the_accounts_app_runs_its_own_config():
    from django.apps import apps

    from accounts.apps import AccountsConfig

    assert type(apps.get_app_config("accounts")) is AccountsConfig
