"""Optional per-token webhooks: a POST to the token's URL whenever a diagnosis of its clinic is written.

The body is ``{"event": "diagnosis.created", "recording": id, "diagnosis": id, "mi_flag": bool, "url": path}``,
signed with ``X-ECG-Signature: sha256=<HMAC-SHA256 of the body, keyed with the SHA-256 hex of the token>``,
so a receiver that holds the token can check it.
"""

import hashlib
import hmac
import json
import logging
import urllib.request

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone

from diagnostics.models import Diagnosis

from .models import ApiToken

logger = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10


def subscribed_tokens(clinic_id: int):
    now = timezone.now()
    return (
        ApiToken.objects.filter(user__clinic_id=clinic_id, user__is_active=True, revoked_at__isnull=True)
        .exclude(webhook_url="")
        .exclude(expires_at__lt=now)
    )


@receiver(post_save, sender=Diagnosis, dispatch_uid="api-diagnosis-webhooks")
def _diagnosis_written(sender, instance: Diagnosis, created: bool, **kwargs):
    if not created:
        return
    token_ids = list(subscribed_tokens(instance.clinic_id).values_list("pk", flat=True))
    if not token_ids:
        return
    from .tasks import deliver_webhook

    for token_id in token_ids:
        transaction.on_commit(lambda token_id=token_id: deliver_webhook.delay(token_id, instance.pk))


def payload(diagnosis: Diagnosis) -> bytes:
    return json.dumps(
        {
            "event": "diagnosis.created",
            "recording": diagnosis.recording_id,
            "diagnosis": diagnosis.pk,
            "mi_flag": diagnosis.mi_flag,
            "url": reverse("api:recording-detail", args=[diagnosis.recording_id]),
        }
    ).encode()


def signature(token: ApiToken, body: bytes) -> str:
    return "sha256=" + hmac.new(token.key_hash.encode(), body, hashlib.sha256).hexdigest()


def post(token: ApiToken, diagnosis: Diagnosis) -> int:
    body = payload(diagnosis)
    request = urllib.request.Request(
        token.webhook_url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "X-ECG-Signature": signature(token, body), "User-Agent": "ecg-analyzer"},
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - admin-set URL
        return response.status
