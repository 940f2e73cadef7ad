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
        # A database restart retries the task (below), and the retry claims the recording again: each such retry
        # adds an attempt to the budget, so only crashes (a worker killed, redelivering the same message) use it
        # up; three restarts had failed a good upload as "kept crashing".
        return services.recording_classify(
            recording_id=recording_id, claim_token=token, max_attempts=MAX_ATTEMPTS + (self.request.retries or 0)
        )
    except (OperationalError, InterfaceError) as exc:  # database restarting: try again shortly
        raise self.retry(exc=exc, countdown=min(60, 5 * 2**self.request.retries))
    except Exception as exc:
        logger.exception("classifying recording %s failed", recording_id)
        services.recording_fail(
            recording_id=recording_id,
            reason=f"Internal error while classifying ({type(exc).__name__}); please retry or contact support.",
        )
        return "failed"


@shared_task
def requeue_stale_recordings() -> dict | None:
    """The periodic sweep, for an installation that runs `celery beat` (every worker sweeps anyway)."""
    from ecgsite.housekeeping import sweep

    return sweep()
