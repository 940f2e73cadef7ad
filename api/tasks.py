import logging

from celery import shared_task
from django.core.exceptions import ValidationError

logger = logging.getLogger(__name__)


@shared_task(bind=True, max_retries=5, acks_late=True)
def deliver_webhook(self, token_id: int, diagnosis_id: int) -> str:
    from diagnostics.models import Diagnosis

    from . import webhooks

    token = webhooks.ApiToken.objects.filter(pk=token_id).exclude(webhook_url="").first()
    diagnosis = Diagnosis.objects.filter(pk=diagnosis_id).first()
    if token is None or diagnosis is None or not token.is_usable:
        return "skipped"
    try:
        webhooks.post(token, diagnosis)
    except ValidationError as exc:  # the URL now resolves somewhere it may not go: retrying cannot help
        logger.warning("webhook %s for diagnosis %s refused: %s", token.prefix, diagnosis_id, " ".join(exc.messages))
        return "refused"
    except Exception as exc:  # network errors, non-2xx answers: try again later
        logger.warning("webhook %s for diagnosis %s failed: %s", token.prefix, diagnosis_id, exc)
        raise self.retry(exc=exc, countdown=min(600, 10 * 2**self.request.retries)) from None
    return "sent"
