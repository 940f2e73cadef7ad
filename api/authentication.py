import hmac
import math
import re
import threading
import time

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import caches
from django.db import transaction
from django.db.models.base import ModelState
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from .models import ApiToken
from .services import TOKEN_PREFIX_LENGTH, api_token_touch, token_hash
from .throttling import api_cache_call

_PREFIX = re.compile(f"[0-9a-f]{{{TOKEN_PREFIX_LENGTH}}}")


# prefix → (monotonic deadline, token with its user): each web process looks a token up at most once
# per API_TOKEN_CACHE_SECONDS, so a revocation elsewhere takes effect within that time.
_tokens: dict[str, tuple[float, ApiToken]] = {}
_tokens_lock = threading.Lock()
_TOKENS_MAX = 10_000
# prefix → when this process last forgot it (monotonic): a lookup begun before is not kept, or a request that read
# the token just before its revocation would put it back in the cache just after, valid for API_TOKEN_CACHE_SECONDS
_forgotten: dict[str, float] = {}


def _token_by_prefix(prefix: str) -> tuple[ApiToken | None, ApiToken | None]:
    """(this request's copy of the token, the cached one or None)."""
    ttl = settings.API_TOKEN_CACHE_SECONDS
    now = time.monotonic()
    cached = _tokens.get(prefix) if ttl else None
    token: ApiToken | None
    if cached is not None and cached[0] > now:
        token = cached[1]
    else:
        token = ApiToken.objects.select_related("user", "created_by").filter(prefix=prefix).first()
        if token is not None:
            token.decides  # noqa: B018 -- worked out now, from the row just read, and copied with the token
        if token is None or not ttl:
            return token, None
        with _tokens_lock:
            if _forgotten.get(prefix, -math.inf) >= now:  # forgotten since it was read: this request only
                return token, None
            if len(_tokens) >= _TOKENS_MAX:
                _tokens.clear()
            _tokens[prefix] = (now + ttl, token)
    # Each request gets its own copies: requests on other threads share the cached ones.
    mine = _copy(token)
    mine.user = _copy(token.user)
    return mine, token


def _copy(instance):
    """A shallow copy of a model instance with its own state and no cached relations: what copy.copy
    gives, without the pickling protocol's cost (half of a cached token's authentication)."""
    new = instance.__class__.__new__(instance.__class__)
    new.__dict__ = instance.__dict__.copy()
    new._state = ModelState()
    new._state.db, new._state.adding = instance._state.db, instance._state.adding
    return new


def _known_valid(prefix: str, secret: str) -> bool:
    cached = _tokens.get(prefix)
    return (
        cached is not None
        and cached[0] > time.monotonic()
        and cached[1].is_usable
        and hmac.compare_digest(cached[1].key_hash, token_hash(secret))
    )


def token_cache_forget(prefix: str) -> None:
    """Drop a token from this process's cache (after a revocation here, so it takes effect at once), and keep a
    lookup of it begun before from putting it back."""
    with _tokens_lock:
        _tokens.pop(prefix, None)
        if len(_forgotten) >= _TOKENS_MAX:
            _forgotten.clear()
        _forgotten[prefix] = time.monotonic()


def user_tokens_forget(user_id: int) -> None:
    """Drop a user's tokens from this process's cache (their user deactivated, given another role or clinic, or
    deleted here), so that the change holds at once in this process, as a revocation does."""
    with _tokens_lock:
        prefixes = [prefix for prefix, (_deadline, token) in _tokens.items() if token.user_id == user_id]
    for prefix in prefixes:
        token_cache_forget(prefix)


def _user_changed(sender, instance, **kwargs) -> None:
    user_tokens_forget(instance.pk)
    # and once it commits: a lookup until then still reads the user as they were
    transaction.on_commit(lambda: user_tokens_forget(instance.pk))


def _token_deleted(sender, instance, **kwargs) -> None:
    token_cache_forget(instance.prefix)
    transaction.on_commit(lambda: token_cache_forget(instance.prefix))


post_save.connect(_user_changed, sender=settings.AUTH_USER_MODEL, dispatch_uid="api-token-cache-user-saved")
post_delete.connect(_user_changed, sender=settings.AUTH_USER_MODEL, dispatch_uid="api-token-cache-user-deleted")
post_delete.connect(_token_deleted, sender=ApiToken, dispatch_uid="api-token-cache-token-deleted")


def _failures_key(ip: str | None) -> str:
    from accounts.audit import client_network

    return f"token-failures:{client_network(ip) or 'unknown'}"  # an IPv6 client's /64, as lockouts count


def token_failures_reset(*, ip: str | None) -> None:
    caches["api"].delete(_failures_key(ip))


def _count_failure(key: str) -> None:
    cache = caches["api"]
    window = settings.ECG_LOCKOUT_SECONDS
    if cache.add(key, 0, timeout=window):  # a new window: when it ends is what a refused address is told
        cache.set(f"{key}:until", time.time() + window, timeout=window)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        cache.set(f"{key}:until", time.time() + window, timeout=window)


def _token_failed(request, prefix: str) -> None:
    """Audit a refused token and count it against the address (DRF throttles only after authentication).

    While the API cache is unreachable the failure is audited but not counted."""
    from accounts import audit
    from accounts.models import AuditEvent

    key = _failures_key(audit.client_ip(request))
    api_cache_call(lambda: _count_failure(key), None)
    audit.record(
        request._request,
        AuditEvent.Action.LOGIN_FAILED,
        user=AnonymousUser(),
        object_type="api_token",
        object_id=prefix[:TOKEN_PREFIX_LENGTH],
        status_code=401,
        channel="token",
    )


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Token <prefix>.<secret>``; the prefix finds the row, the hash is compared in constant time."""

    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        secret = ""
        if len(header) == 2:
            try:
                secret = header[1].decode("ascii")
            except UnicodeDecodeError:
                pass
        prefix, _sep, _rest = secret.partition(".")
        well_formed = bool(_PREFIX.fullmatch(prefix) and _sep)
        # A token this process has just seen valid is no guess: it skips the address's failure count (a
        # Redis round trip). Once the address has failed too often, what is not a valid token is refused
        # with 429, uncounted; a valid one still gets in, so guesses from a shared address (a hospital's
        # NAT or proxy) cannot lock its integrations out.
        locked = not (well_formed and _known_valid(prefix, secret)) and self._address_locked(request)
        if locked and not well_formed:
            raise self._throttled(request)
        if len(header) != 2:
            _token_failed(request, "")
            raise exceptions.AuthenticationFailed(_("Malformed Authorization header; expected 'Token <token>'."))
        if not secret:
            _token_failed(request, "")
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token = cached = None
        if well_formed:
            token, cached = _token_by_prefix(prefix)
        if token is None or not hmac.compare_digest(token.key_hash, token_hash(secret)):
            if locked:
                raise self._throttled(request)
            _token_failed(request, prefix if _PREFIX.fullmatch(prefix) else "")
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.is_usable:
            raise exceptions.AuthenticationFailed(_("The token has expired or was revoked."))
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("The token's user is inactive."))
        api_token_touch(token=token)
        if cached is not None:
            cached.last_used_at = token.last_used_at
        return token.user, token

    @staticmethod
    def _address_locked(request) -> bool:
        """Whether the address has failed too often; not while the API cache is unreachable (nothing is
        counted then: the token is still checked against the database, a secret no one guesses)."""
        from accounts.audit import client_ip

        key = _failures_key(client_ip(request))
        return (api_cache_call(lambda: caches["api"].get(key), None) or 0) >= settings.API_TOKEN_FAILURES

    @staticmethod
    def _throttled(request) -> exceptions.Throttled:
        """429, with the seconds until the address's window of failures ends (the whole window if unknown)."""
        from accounts.audit import client_ip

        key = f"{_failures_key(client_ip(request))}:until"
        until = api_cache_call(lambda: caches["api"].get(key), None)
        wait = settings.ECG_LOCKOUT_SECONDS if until is None else min(settings.ECG_LOCKOUT_SECONDS, until - time.time())
        return exceptions.Throttled(wait=max(1, math.ceil(wait)), detail="Too many invalid tokens from this address.")

    def authenticate_header(self, request):
        return self.keyword
