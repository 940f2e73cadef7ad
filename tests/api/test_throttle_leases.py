"""The per-token budget is shared by every web process, which reserves it from the counter in leases."""

import secrets
from types import SimpleNamespace

import pytest

from api import throttling
from api.throttling import TokenRateThrottle


def a_user_request():
    user = SimpleNamespace(is_authenticated=True, pk=f"lease-test-{secrets.token_hex(6)}")
    return SimpleNamespace(auth=None, user=user)


@pytest.mark.parametrize("rate, lease", [("500/minute", 5), ("3/minute", 1), ("1000000/minute", throttling.LEASE_MAX)])
def test_processes_sharing_a_budget_never_serve_more_than_the_rate(monkeypatch, rate, lease):
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"api": rate})
    limit = int(rate.split("/")[0])
    request = a_user_request()
    processes = [{}, {}, {}]  # each web process holds its own leases
    served = [0, 0, 0]
    refused = 0
    for i in range(min(limit, 2000) + 50):
        p = i % 3
        monkeypatch.setattr(throttling, "_leases", processes[p])
        if TokenRateThrottle().allow_request(request, None):
            served[p] += 1
        else:
            refused += 1
    assert sum(served) <= limit
    if limit <= 2000:  # the budget ran out: at most the leases the other processes held back are lost
        assert refused >= 50 and sum(served) >= limit - 2 * (lease - 1)
        assert all(0 <= sum(p.values()) <= lease - 1 for p in processes)
    else:
        assert refused == 0
    throttle = TokenRateThrottle()
    key = f"{throttle.get_cache_key(request, None)}:{int(throttle.timer() // throttle.duration)}"
    if isinstance(throttle.cache, throttling.RedisCache):
        counted = int(throttle.cache._cache.get_client().get(throttle.cache.make_and_validate_key(key)) or 0)
        # every served request and every one still reserved is counted in Redis
        assert counted >= sum(served) + sum(sum(p.values()) for p in processes)


def test_a_lease_belongs_to_its_window(monkeypatch):
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"api": "300/minute"})
    monkeypatch.setattr(throttling, "_leases", {})
    request = a_user_request()
    now = [1_000_000 * 60.0]
    monkeypatch.setattr(throttling.time, "time", lambda: now[0])
    assert TokenRateThrottle().allow_request(request, None)
    assert list(throttling._leases.values()) == [2]
    now[0] += 60
    assert TokenRateThrottle().allow_request(request, None)
    assert sorted(throttling._leases.values()) == [2, 2]  # a new window took a new lease from a new counter


@pytest.mark.parametrize("hops", [0, 1])
def test_an_anonymous_budget_is_the_clients_address_not_what_it_writes_in_x_forwarded_for(rf, settings, hops):
    # DRF's ident was the whole X-Forwarded-For the client sent: a new one each time was a new budget each time
    from django.contrib.auth.models import AnonymousUser

    settings.ECG_TRUSTED_PROXIES = hops

    def key(sent: str) -> str:
        request = rf.get("/api/v1/schema/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"{sent}, 198.51.100.7")
        request.auth, request.user = None, AnonymousUser()
        return TokenRateThrottle().get_cache_key(request, None)

    assert key("203.0.113.1") == key("203.0.113.2")
    assert key("203.0.113.1").endswith("198.51.100.7" if hops else "10.0.0.2")


def test_an_anonymous_ipv6_budget_is_the_clients_slash_64(rf):
    from django.contrib.auth.models import AnonymousUser

    def key(address: str) -> str:
        request = rf.get("/api/v1/schema/", REMOTE_ADDR=address)
        request.auth, request.user = None, AnonymousUser()
        return TokenRateThrottle().get_cache_key(request, None)

    assert key("2001:db8:1:2::1") == key("2001:db8:1:2:ffff::9")  # a new address in the /64: the same budget
    assert key("2001:db8:1:2::1") != key("2001:db8:1:3::1")
    assert key("::ffff:198.51.100.7") == key("198.51.100.7")
