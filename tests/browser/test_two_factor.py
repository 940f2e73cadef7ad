"""An administrator signs in with a password and a TOTP code computed here, as an authenticator app would."""

import base64
import re

import pytest
from django_otp.oath import totp

from ..conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def code(secret: str, drift: int = 0) -> str:
    return f"{totp(base64.b32decode(secret), drift=drift):06d}"


def test_an_administrator_enrols_then_signs_in_with_a_totp_code(page, shot, admin_a, settings):
    settings.ECG_REQUIRE_2FA = True
    page.goto("/accounts/login/?next=/admin/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # First sign-in: no authenticator yet, so the admin site waits behind enrolment.
    page.wait_for_url(re.compile(r".*/accounts/two-factor/setup/.*"))
    assert page.locator("figure.qr svg").is_visible()
    shot(page, "2fa-01-enrol")
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.goto("/admin/")
    assert "/accounts/two-factor/" in page.url  # still closed
    page.goto("/accounts/two-factor/setup/?next=/admin/")
    page.get_by_label("Code").fill(code(secret))
    page.get_by_role("button", name="Confirm").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()
    assert page.locator("ul.recovery-codes li").count() == 10
    shot(page, "2fa-02-recovery-codes")
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url("**/admin/")
    assert page.get_by_role("heading", name="Site administration").is_visible()
    page.get_by_role("button", name="Log out").click()

    # Next sign-in: password, then the code of the following time step (a code is accepted once).
    page.goto("/accounts/login/?next=/reviews/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/accounts/two-factor/\?next=.*"))
    page.get_by_label("Code").fill("000000" if code(secret, 1) != "000000" else "111111")
    page.get_by_role("button", name="Continue").click()
    assert page.get_by_role("alert").first.inner_text().startswith("That code is not valid")
    shot(page, "2fa-03-wrong-code")
    page.wait_for_timeout(1100)  # a wrong code holds the next try for a second
    page.get_by_label("Code").fill(code(secret, 1))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/reviews/")
    page.goto("/admin/")
    assert page.get_by_role("heading", name="Site administration").is_visible()
    shot(page, "2fa-04-admin-open")
