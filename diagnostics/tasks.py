import logging
import uuid

from celery import shared_task
from django.db import InterfaceError, OperationalError

from . import services

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 3


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=5)
def classify_recording(self, recording_id: int) -> str:
    token = self.request.id or uuid.uuid4().hex
    try:
        return services.recording_classify(recording_id=recording_id, claim_token=token, max_attempts=MAX_ATTEMPTS)
    except (OperationalError, InterfaceError) as exc:  # database restarting: try again shortly
        raise self.retry(exc=exc, countdown=min(60, 5 * 2**self.request.retries))
    except Exception as exc:
        logger.exception("classifying recording %s failed", recording_id)
        services.recording_fail(
            recording_id=recording_id,
            reason=f"Internal error while classifying ({type(exc).__name__}); please retry or contact support.",
        )
        return "failed"


SWEEP_LOCK_KEY = "sweep-lock"


def housekeeping() -> dict | None:
    """The periodic sweep: stale recordings sent again, and the other periodic chores. Every worker
    calls it; the first to take the Redis lock for this interval does the work, the others get None."""
    from datetime import timedelta

    from django.conf import settings
    from django.core.cache import caches

    if not caches["api"].add(SWEEP_LOCK_KEY, 1, timeout=max(1, int(settings.ECG_SWEEP_INTERVAL_SECONDS * 0.8))):
        return None
    return {
        "requeued": services.recordings_requeue_stale(
            older_than=timedelta(seconds=settings.ECG_PROCESSING_LEASE_SECONDS)
        ),
    }


@shared_task
def requeue_stale_recordings() -> dict | None:
    return housekeeping()
