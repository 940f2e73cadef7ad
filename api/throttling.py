import time

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import SimpleRateThrottle

from .models import ApiToken

# Redis runs a script atomically: the counter never exists without its expiry.
_INCR_WITH_EXPIRY = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


class TokenRateThrottle(SimpleRateThrottle):
    """One budget per API token (keyed by its random prefix), shared by all web processes; sessions get one per user.

    A counter per window of the rate's period (one INCR round trip to Redis), instead of DRF's list of
    every request's time, which is read, rewritten and sent back whole on every request.
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
            ident = f"anon-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.now = time.time()
        window = int(self.now // self.duration)
        count = self._count(f"{key}:{window}")
        return count <= self.num_requests

    def _count(self, key: str) -> int:
        cache = self.cache
        if isinstance(cache, RedisCache):
            redis_key = cache.make_and_validate_key(key)
            return int(self._redis_incr()(keys=[redis_key], args=[int(self.duration) + 1]))
        cache.add(key, 0, timeout=self.duration + 1)
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=self.duration + 1)
            return 1

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
