import hashlib
import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User

from .models import ApiToken

TOKEN_PREFIX_LENGTH = 8


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_token_create(
    *,
    user: User,
    name: str = "",
    expires_at: datetime | None = None,
    webhook_url: str = "",
    created_by: User | None = None,
) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns it with the secret, which is not stored and cannot be shown again."""
    if not user.is_active:
        raise ValueError(f"user {user.username!r} is inactive")
    if user.clinic_id is None:
        raise ValueError(f"user {user.username!r} belongs to no clinic; API requests are scoped to a clinic")
    while True:
        prefix = secrets.token_hex(TOKEN_PREFIX_LENGTH // 2)
        if not ApiToken.objects.filter(prefix=prefix).exists():
            break
    secret = f"{prefix}.{secrets.token_urlsafe(32)}"
    token = ApiToken(
        user=user,
        name=name,
        prefix=prefix,
        key_hash=token_hash(secret),
        expires_at=expires_at,
        webhook_url=webhook_url,
        webhook_salt=secrets.token_hex(16) if webhook_url else "",
        created_by=created_by,
    )
    token.full_clean()
    token.save()
    return token, secret


@transaction.atomic
def api_token_webhook_set(*, token: ApiToken, webhook_url: str) -> ApiToken:
    """Point the token's webhook at ``webhook_url`` with a new signing secret (api.webhooks.signing_secret)."""
    token.webhook_url = webhook_url
    token.webhook_salt = secrets.token_hex(16) if webhook_url else ""
    token.full_clean()
    token.save(update_fields=["webhook_url", "webhook_salt"])
    return token


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke at once in this process; other web processes refuse it within API_TOKEN_CACHE_SECONDS."""
    from .authentication import token_cache_forget

    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    token_cache_forget(token.prefix)
    return token


def api_token_touch(*, token: ApiToken, min_interval_seconds: int = 60) -> None:
    """Record use, at most once a minute per token so reads do not become writes."""
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() >= min_interval_seconds:
        # Conditional, so web processes holding the same cached token do not all write it.
        cutoff = now - timedelta(seconds=min_interval_seconds)
        ApiToken.objects.filter(pk=token.pk).filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=cutoff)).update(
            last_used_at=now
        )
        token.last_used_at = now
