import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework.throttling import SimpleRateThrottle

from .models import ApiToken

logger = logging.getLogger(__name__)
T = TypeVar("T")

# While the API cache (Redis) is unreachable the API goes on without it, as the staff pages do: requests
# are not throttled and refused tokens are not counted against their address (a token is still checked
# against the database). After a failure this process leaves Redis alone for this many seconds, then one
# request tries it again, so a Redis that hangs costs a request its socket timeout now and then, not
# every request two of them.
API_CACHE_RETRY_SECONDS = 5
_outage_since: float | None = None  # monotonic time of the failure that began the outage
_retry_at = 0.0
_outage_lock = threading.Lock()


def api_cache_call(call: Callable[[], T], default: T) -> T:
    """``call()`` against the API cache, or ``default`` while the cache cannot be reached.

    An outage is logged once per process when it begins (WARNING) and once when it ends (INFO)."""
    global _outage_since, _retry_at
    if _outage_since is not None:
        with _outage_lock:
            now = time.monotonic()
            if _outage_since is not None:
                if now < _retry_at:
                    return default
                _retry_at = now + API_CACHE_RETRY_SECONDS  # this request tries; the others go on without
    try:
        result = call()
    except (RedisConnectionError, RedisTimeoutError) as exc:
        with _outage_lock:
            _retry_at = time.monotonic() + API_CACHE_RETRY_SECONDS
            if _outage_since is None:
                _outage_since = time.monotonic()
                logger.warning(
                    "The API cache (Redis) cannot be reached (%s): API requests are not throttled and refused "
                    "tokens are not counted toward the address lockout until it answers; trying again every %d s",
                    exc,
                    API_CACHE_RETRY_SECONDS,
                )
        return default
    if _outage_since is not None:
        with _outage_lock:
            if _outage_since is not None:
                logger.info(
                    "The API cache (Redis) answers again after %.0f s: throttling and the token lockout resume",
                    time.monotonic() - _outage_since,
                )
                _outage_since = None
    return result


# Redis runs a script atomically: the counter never exists without its expiry.
_INCR_WITH_EXPIRY = """
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
if count == tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""
# A web process takes its share of a window's budget a hundredth of the rate at a time (at most
# LEASE_MAX requests), and serves that many without asking Redis again. The counter in Redis counts
# every request served or still reservable, so all processes together never serve more than the rate;
# a client may be refused a little early (what other processes reserved and did not serve, at most
# LEASE_MAX - 1 each). A rate below LEASE_FRACTION per window is counted request by request.
LEASE_FRACTION = 100
LEASE_MAX = 100
_leases: dict[str, int] = {}  # counter key → requests this process reserved and has not served
_leases_lock = threading.Lock()
_LEASES_MAX = 10_000


class TokenRateThrottle(SimpleRateThrottle):
    """One budget per API token (keyed by its random prefix), shared by all web processes; sessions get one per user.

    A counter per window of the rate's period, instead of DRF's list of every request's time, which is
    read, rewritten and sent back whole on every request; each process reserves its requests from the
    counter in leases (see LEASE_FRACTION), so most requests make no round trip to Redis.
    """

    scope = "api"
    cache = caches["api"]
    duration: int
    num_requests: int

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.prefix}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            # the client's address as lockouts and the audit read it (DRF's get_ident took the whole
            # X-Forwarded-For the client sent: a new one each time was a new budget each time)
            # (an IPv6 client's /64: one host may change its address within it at will)
            from accounts.audit import client_ip, client_network

            ident = f"anon-{client_network(client_ip(request))}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.now = time.time()
        window_key = f"{key}:{int(self.now // self.duration)}"
        with _leases_lock:
            left = _leases.get(window_key, 0)
            if left > 0:
                _leases[window_key] = left - 1
                return True
        lease = min(LEASE_MAX, max(1, self.num_requests // LEASE_FRACTION))
        count = api_cache_call(lambda: self._count(window_key, lease), None)
        if count is None:  # the API cache is unreachable: served unthrottled rather than refused
            return True
        granted = min(lease, self.num_requests - (count - lease))  # the part of the lease within the rate
        if granted <= 0:
            return False
        if granted > 1:
            with _leases_lock:
                if len(_leases) >= _LEASES_MAX:  # old windows' keys; a lost lease only refuses early
                    _leases.clear()
                _leases[window_key] = _leases.get(window_key, 0) + granted - 1
        return True

    def _count(self, key: str, lease: int) -> int:
        """The window's counter after adding ``lease`` to it."""
        cache = self.cache
        if isinstance(cache, RedisCache):
            redis_key = cache.make_and_validate_key(key)
            return int(self._redis_incr()(keys=[redis_key], args=[int(self.duration) + 1, lease]))
        cache.add(key, 0, timeout=self.duration + 1)
        try:
            return cache.incr(key, lease)
        except ValueError:  # expired between add and incr
            cache.set(key, lease, timeout=self.duration + 1)
            return lease

    @classmethod
    def _redis_incr(cls):
        """The window's counter, incremented and given its expiry in one atomic command (EVALSHA).

        Django's RedisCache builds a new client (with its table of reply callbacks) for every call; one per
        process does, on the same connection pool (redis-py clients are thread-safe)."""
        script = cls.__dict__.get("_incr_script")
        if script is None:
            client = cls.cache._cache.get_client(write=True)
            script = cls._incr_script = client.register_script(_INCR_WITH_EXPIRY)
        return script

    def wait(self):
        return self.duration - (time.time() % self.duration)
