import hashlib
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import ApiToken
from api.services import api_token_create, api_token_revoke

pytestmark = pytest.mark.django_db
URL = "/api/v1/patients"


def with_token(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client


def test_a_token_is_stored_only_as_a_hash(staff_a):
    token, secret = api_token_create(user=staff_a)
    assert secret.startswith(token.prefix + ".")
    assert token.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiToken.objects.filter(pk=token.pk).values().get())


def test_a_valid_token_authenticates_and_records_its_use(staff_a):
    token, secret = api_token_create(user=staff_a)
    assert with_token(secret).get(URL).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize(
    "header", ["Token", "Token a b", "Token nonsense", "Token 0123abcd.wrong", "Token \u00e9t\u00e9"]
)
def test_a_bad_token_is_401(staff_a, header):
    api_token_create(user=staff_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["error"]["code"] in {"authentication_failed", "not_authenticated"}


def test_a_token_with_the_right_prefix_but_wrong_secret_is_401(staff_a):
    token, secret = api_token_create(user=staff_a)
    assert with_token(secret[:-2] + "xx").get(URL).status_code == 401


def test_a_revoked_token_is_401(staff_a):
    token, secret = api_token_create(user=staff_a)
    api_token_revoke(token=token)
    assert with_token(secret).get(URL).status_code == 401


def test_a_token_read_just_before_its_revocation_is_not_put_back_in_the_cache(staff_a, monkeypatch, settings):
    # A request that had read the token just before another revoked it put it back in the process's cache just
    # after, where it stayed valid for API_TOKEN_CACHE_SECONDS in the very process that revoked it
    from api import authentication
    from api.models import ApiToken

    settings.API_TOKEN_CACHE_SECONDS = 60
    token, secret = api_token_create(user=staff_a)
    real_lock = authentication._tokens_lock

    class RevokedMeanwhile:  # the cache's lock, taken after the read: the revocation comes first, once
        done = False

        def __enter__(self):
            if not RevokedMeanwhile.done:
                RevokedMeanwhile.done = True
                api_token_revoke(token=ApiToken.objects.get(pk=token.pk))
            return real_lock.__enter__()

        def __exit__(self, *exc):
            return real_lock.__exit__(*exc)

    monkeypatch.setattr(authentication, "_tokens_lock", RevokedMeanwhile())
    assert with_token(secret).get(URL).status_code == 200  # read before the revocation: let in, as it was
    monkeypatch.setattr(authentication, "_tokens_lock", real_lock)
    assert with_token(secret).get(URL).status_code == 401


def test_an_expired_token_is_401(staff_a):
    _token, secret = api_token_create(user=staff_a, expires_at=timezone.now() - timedelta(seconds=1))
    response = with_token(secret).get(URL)
    assert response.status_code == 401 and "expired" in response.json()["error"]["message"]


def test_a_deactivated_users_token_is_401(staff_a):
    _token, secret = api_token_create(user=staff_a)
    staff_a.is_active = False
    staff_a.save()
    assert with_token(secret).get(URL).status_code == 401


def test_anonymous_calls_get_401_not_a_login_redirect(client):
    response = client.get(URL)
    assert response.status_code == 401
    assert "Location" not in response


def test_a_browser_session_is_accepted(client, staff_a):
    client.force_login(staff_a)
    assert client.get(URL).status_code == 200


def test_the_command_prints_a_working_token_once(staff_a, capsys):
    call_command("create_api_token", "--user", "staff_a", "--expires-days", "3")
    secret = capsys.readouterr().out.strip()
    token = ApiToken.objects.get()
    assert token.expires_at > timezone.now() + timedelta(days=2)
    assert with_token(secret).get(URL).status_code == 200


def test_the_command_refuses_an_unknown_user(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no user named 'ghost'"):
        call_command("create_api_token", "--user", "ghost")


def test_requests_beyond_the_tokens_rate_are_429(staff_a, monkeypatch):
    from api.throttling import TokenRateThrottle

    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"api": "3/minute"})
    # The budget is counted per clock minute: start early in one, so the requests below share a window.
    if time.time() % 60 > 40:
        time.sleep(60.5 - time.time() % 60)
    first, second = with_token(api_token_create(user=staff_a)[1]), with_token(api_token_create(user=staff_a)[1])
    assert [first.get(URL).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert second.get(URL).status_code == 200  # each token has its own budget
    response = first.get(URL)
    assert response.json()["error"]["code"] == "throttled" and "Retry-After" in response


def test_an_admin_creates_a_token_in_the_admin_and_sees_it_once(client, admin_a, staff_a):
    client.force_login(admin_a)
    response = client.post(
        "/admin/api/apitoken/add/",
        {"user": staff_a.pk, "name": "HIS", "expires_at_0": "", "expires_at_1": "", "webhook_url": ""},
        follow=True,
    )
    assert response.status_code == 200
    token = ApiToken.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    secret = next(m.split("The new token is ")[1].split(" ")[0] for m in shown if "The new token is" in m)
    assert token.user == staff_a and token.created_by == admin_a
    assert with_token(secret).get(URL).status_code == 200


def test_a_token_already_expired_is_not_created_in_the_admin(client, admin_a, staff_a):
    # its secret would have been shown once, for a token that never works
    client.force_login(admin_a)
    response = client.post(
        "/admin/api/apitoken/add/",
        {
            "user": staff_a.pk,
            "name": "HIS",
            "expires_at_0": "2020-01-01",
            "expires_at_1": "00:00:00",
            "webhook_url": "",
        },
    )
    assert response.status_code == 200 and "The expiry is in the past" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_an_admin_revokes_tokens_in_the_admin(client, admin_a, staff_a):
    token, secret = api_token_create(user=staff_a)
    client.force_login(admin_a)
    client.post("/admin/api/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert with_token(secret).get(URL).status_code == 401


def test_the_admin_refuses_a_token_for_a_user_without_a_clinic(client, db):
    from accounts.models import User

    root = User.objects.create_superuser("root", password="correct-horse-battery")
    client.force_login(root)
    response = client.post(
        "/admin/api/apitoken/add/", {"user": root.pk, "name": "x", "expires_at_0": "", "expires_at_1": ""}
    )
    assert response.status_code == 200 and "choose an active user of a clinic" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_a_clinic_administrator_cannot_make_or_see_a_token_of_a_superuser_in_their_clinic(
    client, admin_a, platform_admin
):
    # a token acts as its user: one of the superuser's registers and activates every clinic's models
    theirs, _secret = api_token_create(user=platform_admin, name="installation")
    client.force_login(admin_a)
    form = client.get("/admin/api/apitoken/add/").content.decode()
    assert f'<option value="{platform_admin.pk}"' not in form and f'<option value="{admin_a.pk}"' in form
    response = client.post(
        "/admin/api/apitoken/add/",
        {"user": platform_admin.pk, "name": "x", "expires_at_0": "", "expires_at_1": "", "webhook_url": ""},
    )
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert list(ApiToken.objects.values_list("pk", flat=True)) == [theirs.pk]
    assert theirs.prefix not in client.get("/admin/api/apitoken/").content.decode()  # nor listed, nor revoked
    assert client.get(f"/admin/api/apitoken/{theirs.pk}/change/").status_code in (302, 404)
    client.post("/admin/api/apitoken/", {"action": "revoke", "_selected_action": [theirs.pk]})
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    # nor the log of its webhook notices (its URL, its prefix)
    from api.models import WebhookDelivery

    WebhookDelivery.objects.create(
        token=theirs, clinic_id=platform_admin.clinic_id, url="https://installation.example/hook", event="x"
    )
    assert "installation.example" not in client.get("/admin/api/webhookdelivery/").content.decode()
    client.force_login(platform_admin)
    assert "installation.example" in client.get("/admin/api/webhookdelivery/").content.decode()


def test_clinic_staff_cannot_reach_tokens_in_the_admin(client, staff_a):
    client.force_login(staff_a)
    assert client.get("/admin/api/apitoken/").status_code in (302, 403)


def test_bad_tokens_from_one_address_are_audited_then_throttled(staff_a, settings):
    from accounts.models import AuditEvent

    settings.API_TOKEN_FAILURES = 3
    for i in range(3):
        response = with_token(f"0123abcd.guess{i}").get("/api/v1/patients")
        assert response.status_code == 401
    events = AuditEvent.objects.filter(action="login_failed", channel="token")
    assert events.count() == 3 and set(events.values_list("ip", flat=True)) == {"127.0.0.1"}
    assert set(events.values_list("object_id", flat=True)) == {"0123abcd"}
    response = with_token("0123abcd.guess4").get("/api/v1/patients")
    assert response.status_code == 429 and response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) > 0
    assert events.count() == 3  # refused before it was checked


def test_bad_tokens_from_one_ipv6_host_count_together_whatever_address_of_its_slash_64_it_takes(staff_a, settings):
    from api.authentication import token_failures_reset

    for network in ("2001:db8:9:1::", "2001:db8:9:2::"):  # counted in the shared cache, across tests and runs
        token_failures_reset(ip=network)
    settings.API_TOKEN_FAILURES = 3
    for i in range(3):
        client = with_token(f"0123abcd.guess{i}")
        assert client.get("/api/v1/patients", REMOTE_ADDR=f"2001:db8:9:1::{i + 1:x}").status_code == 401
    client = with_token("0123abcd.guess4")
    assert client.get("/api/v1/patients", REMOTE_ADDR="2001:db8:9:1:abcd::1").status_code == 429
    assert client.get("/api/v1/patients", REMOTE_ADDR="2001:db8:9:2::1").status_code == 401  # another /64


def test_a_throttled_address_is_told_the_time_left_in_its_window_not_the_whole_window(staff_a, settings, monkeypatch):
    import time
    import types

    from api import authentication

    settings.API_TOKEN_FAILURES = 2
    for i in range(2):
        assert with_token(f"0123abcd.guess{i}").get("/api/v1/patients").status_code == 401
    real = time.time
    monkeypatch.setattr(
        authentication, "time", types.SimpleNamespace(time=lambda: real() + 600, monotonic=time.monotonic)
    )
    response = with_token("0123abcd.guess9").get("/api/v1/patients")
    assert response.status_code == 429
    window = settings.ECG_LOCKOUT_SECONDS
    assert window - 605 <= int(response["Retry-After"]) <= window - 595, response["Retry-After"]


def test_bad_tokens_do_not_count_towards_the_password_lockout(client, staff_a, settings):
    settings.API_TOKEN_FAILURES = 100
    for i in range(25):
        with_token(f"0123abcd.guess{i}").get("/api/v1/patients")
    assert (
        client.post("/accounts/login/", {"username": "staff_a", "password": "correct-horse-battery"}).status_code == 302
    )


def test_a_token_revoked_by_another_process_is_refused_within_the_cache_time(staff_a, settings):
    import time

    settings.API_TOKEN_CACHE_SECONDS = 1
    token, secret = api_token_create(user=staff_a)
    client = with_token(secret)
    assert client.get(URL).status_code == 200
    # As another web process (or the admin on another host) does: this process's cache is not told.
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    time.sleep(1.1)
    response = client.get(URL)
    assert response.status_code == 401 and "revoked" in response.json()["error"]["message"]


def test_a_token_revoked_in_this_process_is_refused_at_once(staff_a, settings):
    settings.API_TOKEN_CACHE_SECONDS = 60
    token, secret = api_token_create(user=staff_a)
    client = with_token(secret)
    assert client.get(URL).status_code == 200
    api_token_revoke(token=ApiToken.objects.get(pk=token.pk))
    assert client.get(URL).status_code == 401


def test_a_user_deactivated_in_this_process_has_their_token_refused_at_once(client, admin_a, staff_a, settings):
    # a revoked token was forgotten at once by the process that revoked it, but a user deactivated in the admin kept
    # acting through their token, read before, for as long as API_TOKEN_CACHE_SECONDS
    settings.API_TOKEN_CACHE_SECONDS = 60
    _token, secret = api_token_create(user=staff_a)
    api = with_token(secret)
    assert api.get(URL).status_code == 200
    client.force_login(admin_a)
    response = client.post(
        f"/admin/accounts/user/{staff_a.pk}/change/",
        {"username": "staff_a", "clinic": staff_a.clinic_id, "role": "staff", "is_active": ""},
    )
    assert response.status_code == 302
    assert api.get(URL).status_code == 401


def test_a_users_new_role_holds_for_their_token_at_once_in_this_process(doctor_a, settings):
    from api.authentication import ApiTokenAuthentication

    settings.API_TOKEN_CACHE_SECONDS = 60
    _token, secret = api_token_create(user=doctor_a)
    assert with_token(secret).get(URL).status_code == 200
    doctor_a.role = "staff"
    doctor_a.save()
    request = with_token(secret).get(URL).wsgi_request
    user, _auth = ApiTokenAuthentication().authenticate(request)
    assert user.role == "staff" and not user.can_review


def test_a_token_is_looked_up_once_per_cache_time(staff_a, settings, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.API_TOKEN_CACHE_SECONDS = 60
    client = with_token(api_token_create(user=staff_a)[1])
    with CaptureQueriesContext(connection) as first:
        assert client.get(URL).status_code == 200
    with CaptureQueriesContext(connection) as second:
        assert client.get(URL).status_code == 200
    lookups = [q for q in first.captured_queries if 'FROM "api_apitoken"' in q["sql"]]
    assert len(lookups) == 1
    assert not [q for q in second.captured_queries if "api_apitoken" in q["sql"]]


def test_a_token_in_use_keeps_working_while_guesses_from_its_address_are_refused(staff_a, settings):
    settings.API_TOKEN_FAILURES = 2
    settings.API_TOKEN_CACHE_SECONDS = 60
    client = with_token(api_token_create(user=staff_a)[1])
    assert client.get(URL).status_code == 200
    for i in range(2):
        assert with_token(f"0123abcd.guess{i}").get(URL).status_code == 401
    assert with_token("0123abcd.guess9").get(URL).status_code == 429
    assert client.get(URL).status_code == 200


def test_a_valid_token_not_seen_lately_still_gets_in_from_an_address_that_guessed_too_often(staff_a, settings):
    # a hospital's integrations share one address (NAT, proxy): guesses from it must not lock them out
    settings.API_TOKEN_FAILURES = 2
    settings.API_TOKEN_CACHE_SECONDS = 0  # as on another web process, or after the cache time
    secret = api_token_create(user=staff_a)[1]
    for i in range(2):
        assert with_token(f"0123abcd.guess{i}").get(URL).status_code == 401
    assert with_token("0123abcd.guess9").get(URL).status_code == 429
    assert with_token("not-a-token").get(URL).status_code == 429
    assert with_token(secret).get(URL).status_code == 200
    assert with_token("0123abcd.guess10").get(URL).status_code == 429


def test_the_rate_counter_lives_in_redis_with_its_expiry(staff_a, monkeypatch):
    from django.core.cache.backends.redis import RedisCache

    from api.throttling import TokenRateThrottle

    cache = TokenRateThrottle.cache
    if not isinstance(cache, RedisCache):
        pytest.skip("no Redis configured: the counter lives in this process")
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"api": "5/minute"})
    secret = api_token_create(user=staff_a)[1]
    client = with_token(secret)
    assert [client.get(URL).status_code for _ in range(2)] == [200, 200]
    redis = cache._cache.get_client(write=True)
    keys = redis.keys(cache.make_key(f"throttle_api_token-{secret.split('.')[0]}:*"))
    assert len(keys) == 1
    assert int(redis.get(keys[0])) == 2
    assert 0 < redis.ttl(keys[0]) <= 61  # counted per minute; never a counter without its expiry


def test_a_token_deleted_in_the_admin_is_refused_at_once(client, platform_admin, staff_a, settings):
    settings.API_TOKEN_CACHE_SECONDS = 60
    token, secret = api_token_create(user=staff_a)
    api = with_token(secret)
    assert api.get(URL).status_code == 200
    client.force_login(platform_admin)
    assert client.post(f"/admin/api/apitoken/{token.pk}/delete/", {"post": "yes"}).status_code == 302
    assert api.get(URL).status_code == 401
