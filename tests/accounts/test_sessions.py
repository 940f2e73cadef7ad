import pytest
from django.urls import reverse

from accounts.models import AuditEvent

from ..conftest import PASSWORD


def login(client, password=PASSWORD, username="staff_a", **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def idle(client, settings) -> None:
    """The signed-in session's last activity moved back past the idle timeout."""
    import time

    session = client.session
    session["last_activity"] = time.time() - settings.ECG_IDLE_TIMEOUT_SECONDS - 5
    session.save()


@pytest.mark.django_db
def test_repeated_failures_lock_the_account_with_429(client, staff_a, settings):
    settings.ECG_LOCKOUT_FAILURES = 3
    settings.ECG_LOCKOUT_DELAY_SECONDS = 0  # the wait between failures has a test of its own
    for _ in range(3):
        assert login(client, "wrong").status_code == 200
    response = login(client)  # even the right password is refused during the cool-off
    assert response.status_code == 429 and "Too many failed logins" in response.content.decode()
    # on the login page again (it was a bare text/plain page), the name kept
    assert response["Content-Type"].startswith("text/html") and 'name="password"' in response.content.decode()
    assert 'value="staff_a"' in response.content.decode()
    # the time left until the oldest failure leaves the window: the whole window, less the seconds the
    # failures took on a loaded machine
    assert settings.ECG_LOCKOUT_SECONDS - 30 <= int(response["Retry-After"]) <= settings.ECG_LOCKOUT_SECONDS
    assert AuditEvent.objects.filter(action="locked_out", username="staff_a").count() == 1
    assert client.get(reverse("dashboard")).status_code == 302


@pytest.mark.django_db
def test_the_lockout_ends_after_the_cool_off(client, staff_a, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.ECG_LOCKOUT_FAILURES = 2
    settings.ECG_LOCKOUT_DELAY_SECONDS = 0
    login(client, "wrong")
    login(client, "wrong")
    assert login(client).status_code == 429
    settings.ECG_LOCKOUT_SECONDS = 1
    import time

    time.sleep(1.2)
    assert login(client).status_code == 302
    assert timezone.now() - AuditEvent.objects.filter(action="login").latest("created_at").created_at < timedelta(
        seconds=5
    )


@pytest.mark.django_db
def test_the_admin_login_is_locked_too(client, admin_a, settings):
    settings.ECG_LOCKOUT_FAILURES = 2
    settings.ECG_LOCKOUT_DELAY_SECONDS = 0
    for _ in range(2):
        client.post(reverse("admin:login"), {"username": "admin", "password": "wrong"})
    assert client.post(reverse("admin:login"), {"username": "admin", "password": PASSWORD}).status_code == 429


@pytest.mark.django_db
def test_login_issues_a_new_session_key(client, staff_a):
    client.get(reverse("login"))
    client.session.save()
    before = client.session.session_key
    login(client)
    assert client.session.session_key != before


@pytest.mark.django_db
def test_the_old_cookie_is_useless_after_logout(client, staff_a):
    from django.test import Client

    login(client)
    cookie = client.cookies["sessionid"].value
    client.post(reverse("logout"))
    replay = Client()
    replay.cookies["sessionid"] = cookie
    assert replay.get(reverse("dashboard")).status_code == 302


@pytest.mark.django_db
def test_an_idle_session_is_logged_out(client, staff_a, settings):

    login(client)
    assert client.get(reverse("dashboard")).status_code == 200
    idle(client, settings)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


@pytest.mark.django_db
def test_a_form_sent_after_the_idle_timeout_comes_back_to_its_page_saying_it_was_not_saved(client, doctor_a, settings):

    login(client, username="doctor_a")
    idle(client, settings)
    page = "http://testserver/recordings/7/?events=2"
    response = client.post("/events/85/reviews/", {"decision": "confirmed"}, HTTP_REFERER=page)
    # the login then returns to the recording's page, not to the POST-only path (405, an empty page)
    assert (
        response.status_code == 302 and response["Location"] == f"{reverse('login')}?next=/recordings/7/%3Fevents%3D2"
    )
    shown = [str(m) for m in client.get(response["Location"]).context["messages"]]
    assert shown == [
        f"You were signed out after {settings.ECG_IDLE_TIMEOUT_SECONDS // 60} minutes without activity; what you sent "
        "was not saved. Sign in and send it again."
    ]


@pytest.mark.django_db
def test_a_form_sent_from_another_site_after_the_timeout_comes_back_to_the_start_page(client, staff_a, settings):

    login(client)
    idle(client, settings)
    response = client.post("/events/85/reviews/", {}, HTTP_REFERER="https://elsewhere.example/recordings/7/")
    assert response.status_code == 302 and response["Location"] == f"{reverse('login')}?next=/"


@pytest.mark.django_db
def test_weak_passwords_are_refused(staff_a):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    for weak in ["password1", "12345678901", "staff_a123"]:
        with pytest.raises(ValidationError):
            validate_password(weak, user=staff_a)


@pytest.mark.django_db
def test_an_idle_session_cannot_read_the_api(client, staff_a, settings):

    login(client)
    assert client.get("/api/v1/patients").status_code == 200
    idle(client, settings)
    response = client.get("/api/v1/patients")
    assert response.status_code in (401, 403) and response.json()["error"]["code"] == "not_authenticated"
    assert client.get(reverse("dashboard")).status_code == 302  # the session is gone, not only refused once


@pytest.mark.django_db
def test_api_reads_keep_a_session_alive(client, staff_a, settings):
    import time

    login(client)
    session = client.session
    session["last_activity"] = time.time() - settings.ECG_IDLE_TIMEOUT_SECONDS + 60
    session.save()
    assert client.get("/api/v1/patients").status_code == 200
    assert time.time() - client.session["last_activity"] < 5


@pytest.mark.django_db
def test_the_dashboard_polling_while_uploads_wait_is_no_activity_but_a_visit_is(client, staff_a, settings):
    # a shared computer left on the dashboard while uploads wait must still log out when idle
    import time

    login(client)
    session = client.session
    idle_since = time.time() - 120
    session["last_activity"] = idle_since
    session.save()
    assert client.get("/", **_htmx("/")).status_code == 200
    assert client.session["last_activity"] == idle_since
    assert client.get("/").status_code == 200
    assert time.time() - client.session["last_activity"] < 5


def _htmx(page: str) -> dict:
    """The headers htmx sends with a request made from ``page`` (a path on the test server)."""
    return {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": f"http://testserver{page}"}


@pytest.mark.django_db
def test_an_htmx_request_after_the_session_ended_sends_the_whole_page_to_the_login(client, staff_a, settings):

    # A recording page polls its status; the poll that finds the session idle must not swap the login
    # page into the status box (a plain redirect is followed inside the request), and the login must
    # come back to the page, not to the bare status fragment.
    login(client)
    idle(client, settings)
    poll = reverse("recording-status", args=[1]) + "?was=queued"
    response = client.get(poll, **_htmx("/recordings/1/"))
    assert response.status_code == 200 and "Location" not in response
    assert response["HX-Redirect"] == f"{reverse('login')}?next=/recordings/1/"
    # now logged out: the same request is refused the same way by the login requirement
    response = client.get(poll, **_htmx("/recordings/1/?tab=beats"))
    assert response["HX-Redirect"] == f"{reverse('login')}?next=/recordings/1/%3Ftab%3Dbeats"
    # a page from another site, or a header that is no URL, is no page to come back to
    for elsewhere in ("https://elsewhere.example/x", "http://[::1", "not a url"):
        response = client.get(poll, HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=elsewhere)
        assert response["HX-Redirect"] == f"{reverse('login')}?next=/", elsewhere
    # an ordinary request still gets an ordinary redirect, back to itself
    response = client.get(poll)
    assert (
        response.status_code == 302
        and response["Location"] == f"{reverse('login')}?next=/recordings/1/status/%3Fwas%3Dqueued"
    )
