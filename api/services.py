import hashlib
import logging
import secrets
import time
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from ecgsite.broker import publish

from .models import ApiToken, WebhookDelivery

TOKEN_PREFIX_LENGTH = 8
logger = logging.getLogger(__name__)


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_token_issuer_refusal(*, user: User, created_by: User | None) -> str | None:
    """Why ``created_by`` may not make a token acting as ``user``, or None if they may.

    A token acts as its user, and a doctor's or an administrator's reviews MI flags, signs interpretations, moves
    recordings and corrects beats, each recorded as that person's decision. So a clinic's administrator makes
    tokens only for themselves and for users who make no such decisions (the clinic's staff); one acting as a
    doctor or another administrator is made by the installation's administrator (a superuser) or on the server
    (``create_api_token``, ``created_by`` None), who can act as anyone already."""
    if created_by is None or created_by.is_superuser or created_by.pk == user.pk or not user.can_review:
        return None
    return (
        f"A token for {user.username} would make clinical decisions recorded as theirs (reviews, signed "
        f"interpretations, moves, beat corrections): a clinic's administrator makes tokens for themselves and for "
        f"the clinic's staff only. The installation's administrator (a superuser) or manage.py create_api_token "
        f"makes a token for a doctor or another administrator."
    )


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
    refusal = api_token_issuer_refusal(user=user, created_by=created_by)
    if refusal is not None:
        raise ValueError(refusal)
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
    # and once it commits: a lookup until then still reads the token unrevoked
    transaction.on_commit(lambda: token_cache_forget(token.prefix))
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


def webhook_deliveries_create(
    *, tokens, event: str = "diagnosis.created", diagnosis=None, recording=None, detail: dict | None = None
) -> list[WebhookDelivery]:
    """Log a notice of ``event`` on ``diagnosis`` (or, for ``recording.failed`` and ``recording.moved``, on
    ``recording``) for each
    token, with ``detail`` for its body (`api.webhooks.payload`), and send them once the transaction commits."""
    subject = diagnosis if diagnosis is not None else recording
    if subject is None:
        raise ValueError("a webhook notice is about a diagnosis or a recording")
    if diagnosis is not None:
        # the MI screen as it stood when the notice was logged: a doctor's beat correction can change it later, and
        # every attempt of a notice sends the same body (payload reads these from the detail before the diagnosis)
        detail = {"mi_status": diagnosis.mi_status, "mi_flag": diagnosis.mi_flag, **(detail or {})}
    recording_id = diagnosis.recording_id if diagnosis is not None else recording.pk
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                token=token,
                clinic_id=subject.clinic_id,
                diagnosis=diagnosis,
                recording_id=recording_id,
                url=token.webhook_url,
                event=event,
                detail=detail or {},
            )
            for token in tokens
        ]
    )
    for delivery in deliveries:
        transaction.on_commit(partial(_webhook_enqueue, delivery.pk))
    return deliveries


def _webhook_enqueue(delivery_id: int) -> None:
    from .tasks import deliver_webhook

    # broker down: the sweep sends it (webhook_deliveries_due)
    publish(lambda: deliver_webhook.delay(delivery_id), f"webhook delivery {delivery_id}")


def webhook_retry_delay(attempts: int) -> timedelta:
    """Back-off after the ``attempts``-th failure: API_WEBHOOK_RETRY_SECONDS, doubled each time, at most 1 h."""
    return timedelta(seconds=min(3600, settings.API_WEBHOOK_RETRY_SECONDS * 2 ** max(0, attempts - 1)))


# How much longer than an attempt's deadline (api.webhooks.DEADLINE_SECONDS) its sending lease is held:
# the URL's check (a DNS answer), reading the delivery and logging the outcome take time too.
SENDING_LEASE_MARGIN_SECONDS = 30


def webhook_sending_lease() -> timedelta:
    """How long a delivery in flight is not sent again by the sweep (a worker that died mid-send): longer
    than an attempt may last, so a second worker never POSTs it while the first still may."""
    from .webhooks import DEADLINE_SECONDS

    return timedelta(seconds=DEADLINE_SECONDS + SENDING_LEASE_MARGIN_SECONDS)


def webhook_deliver(*, delivery_id: int) -> str:
    """One attempt at a delivery that is due; its outcome is logged on the row."""
    from django.core.exceptions import ValidationError

    from . import webhooks

    now = timezone.now()
    due = WebhookDelivery.objects.filter(
        Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=now),
        pk=delivery_id,
        status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING],
    )
    delivery = due.select_related("token__user", "diagnosis", "recording").first()
    if delivery is None:
        return "not-due"  # sent, given up, or another worker is sending it
    # The attempts read stay part of the condition: a worker that claimed it since has counted one more.
    due = due.filter(attempts=delivery.attempts)
    if delivery.attempts >= settings.API_WEBHOOK_MAX_ATTEMPTS:
        # every attempt started (a worker killed mid-POST counts its own, and the sweep sent it again): given up
        # as a failed POST would be, not sent for ever
        due.update(
            status=WebhookDelivery.Status.FAILED,
            next_retry_at=None,
            last_error=f"Given up after {delivery.attempts} attempts (the last one did not finish).",
        )
        return "failed"
    token = delivery.token
    subject = delivery.recording if delivery.event in webhooks.RECORDING_EVENTS else delivery.diagnosis
    # a deactivated user's token is refused by the API (api.authentication): its notices stop with it; one whose user
    # has moved to another clinic acts for that clinic now, and is told nothing more of this one's
    usable = token.is_usable and token.user.is_active
    moved = token.user.clinic_id != delivery.clinic_id
    if subject is None or not usable or moved or not token.webhook_url or token.webhook_url != delivery.url:
        if subject is not None and moved and usable:
            reason = "the token's user belongs to another clinic now"
        elif subject is not None:
            reason = "the token was revoked, its user deactivated or its URL changed"
        elif delivery.event in webhooks.RECORDING_EVENTS:
            reason = "the recording was deleted"
        else:
            reason = "the diagnosis was replaced"
        if not due.update(status=WebhookDelivery.Status.FAILED, next_retry_at=None, last_error=f"Not sent: {reason}."):
            return "not-due"
        return "skipped"
    # The attempt is counted as its lease is taken, before the POST starts: a worker killed mid-POST has
    # counted it, and the sweep's re-send after the lease counts another.
    attempts = delivery.attempts + 1
    claimed = due.update(next_retry_at=now + webhook_sending_lease(), attempts=attempts, last_attempt_at=now) == 1
    if not claimed:
        return "not-due"
    log: dict = {"last_status_code": None}
    try:
        code = webhooks.post(token, subject, delivery.event, delivery_id=delivery.pk, detail=delivery.detail)
    except ValidationError as exc:  # the URL now resolves somewhere it may not go: retrying cannot help
        _delivery_log(delivery_id, **log, status=WebhookDelivery.Status.FAILED, last_error=" ".join(exc.messages))
        return "refused"
    except Exception as exc:  # network errors, a deadline overrun, non-2xx answers: later, with back-off
        log.update(last_error=f"{type(exc).__name__}: {exc}"[:2000], last_status_code=getattr(exc, "status_code", None))
        if attempts >= settings.API_WEBHOOK_MAX_ATTEMPTS:
            _delivery_log(delivery_id, **log, status=WebhookDelivery.Status.FAILED)
            return "failed"
        retry_at = now + webhook_retry_delay(attempts)  # counted from the attempt's start
        _delivery_log(delivery_id, **log, status=WebhookDelivery.Status.RETRYING, next_retry_at=retry_at)
        return "retrying"
    log.update(last_status_code=code, status=WebhookDelivery.Status.SENT, sent_at=timezone.now())
    _delivery_log(delivery_id, **log)
    return "sent"


# How long an attempt's outcome is tried again while the database cannot take it (a restart, a failover): within
# the sending lease, which the sweep waits out before it sends the delivery again.
LOG_RETRY_SECONDS = 20.0


def _delivery_log(delivery_id: int, **fields) -> None:
    """Write an attempt's outcome. A connection the database dropped meanwhile is opened again and the write tried
    again for a while: a notice the receiver has, logged as still being sent, was sent again by the sweep once its
    lease ran out."""
    from django.db import InterfaceError, OperationalError, connection

    fields.setdefault("next_retry_at", None)
    fields.setdefault("last_error", "")
    deadline = time.monotonic() + LOG_RETRY_SECONDS
    pause = 0.2
    while True:
        try:
            WebhookDelivery.objects.filter(pk=delivery_id).update(**fields)
            return
        except (OperationalError, InterfaceError):
            if connection.in_atomic_block or time.monotonic() + pause > deadline:
                raise
            logger.warning("webhook delivery %s: its outcome could not be written yet; trying again", delivery_id)
            connection.close()
            time.sleep(pause)
            pause = min(2.0, pause * 2)


def webhook_deliveries_due() -> int:
    """Send the deliveries whose retry time has come, and any whose first message was lost; for the sweep."""
    now = timezone.now()
    due = WebhookDelivery.objects.filter(
        Q(status=WebhookDelivery.Status.RETRYING, next_retry_at__lte=now)
        | Q(
            status=WebhookDelivery.Status.PENDING,
            next_retry_at__isnull=True,
            created_at__lt=now - webhook_sending_lease(),
        )
        | Q(status=WebhookDelivery.Status.PENDING, next_retry_at__lte=now)
    ).values_list("pk", flat=True)
    ids = list(due)
    for delivery_id in ids:
        _webhook_enqueue(delivery_id)
    return len(ids)
