import errno
import logging
import uuid

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from . import services

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
STORAGE_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def try_token(task_id: str, tries: int) -> str:
    """The claim token of one try of a classification task (a retry is a try of the same task id)."""
    return f"{task_id}.{tries}"


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=5)
def classify_recording(self, recording_id: int) -> str:
    task_id, tries = self.request.id or uuid.uuid4().hex, self.request.retries or 0
    # Each try claims under its own token and takes over the claim its earlier tries held for it; a second
    # copy of one try's message (a broker's redelivery while it runs) finds the claim live and stops.
    token = try_token(task_id, tries)
    try:
        # A database restart retries the task (below), and the retry claims the recording again: each such retry
        # adds an attempt to the budget, so only crashes (a worker killed, redelivering the same message) use it
        # up; three restarts had failed a good upload as "kept crashing".
        return services.recording_classify(
            recording_id=recording_id,
            claim_token=token,
            max_attempts=MAX_ATTEMPTS + tries,
            takes_over=[try_token(task_id, earlier) for earlier in range(tries)],
        )
    except (OperationalError, InterfaceError) as exc:  # database restarting: try again shortly
        # within half the lease, so the retry comes while the claim still holds (its last renewal is at most a
        # renewal period old) and the sweep has not sent the recording to another worker meanwhile
        countdown = min(5 * 2**self.request.retries, settings.ECG_PROCESSING_LEASE_SECONDS / 2)
        raise self.retry(exc=exc, countdown=countdown)
    except Exception as exc:
        if isinstance(exc, OSError) and exc.errno in STORAGE_FULL:
            # The results could not be stored (a full disk or store, which may pass): later, not failed at once
            logger.exception("storing the results of recording %s failed", recording_id)
            if self.request.retries < self.max_retries:
                countdown = min(300, 30 * 2**self.request.retries)
                # the claim is held until the retry comes, or the sweep would send the recording to another
                # worker as abandoned and a fresh message would find the crash budget spent
                services.recording_claim_hold(recording_id=recording_id, claim_token=token, seconds=countdown)
                raise self.retry(exc=exc, countdown=countdown) from exc
            reason = (
                "The results could not be stored (the server's storage is full); please retry later or contact support."
            )
        else:
            logger.exception("classifying recording %s failed", recording_id)
            reason = f"Internal error while classifying ({type(exc).__name__}); please retry or contact support."
        # not where another try holds it now (this one's claim lost): that try's outcome stands
        ours = [token, *(try_token(task_id, earlier) for earlier in range(tries))]
        if not services.recording_fail(recording_id=recording_id, reason=reason, claims=ours):
            if services.recording_held_by_another(recording_id=recording_id, claims=ours):
                return "lost-claim"
        return "failed"


@shared_task
def requeue_stale_recordings() -> dict | None:
    """The periodic sweep, for an installation that runs `celery beat` (every worker sweeps anyway)."""
    from ecgsite.housekeeping import sweep

    return sweep()


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=5)
def recompute_rhythm(self, recording_id: int) -> str:
    """The rhythm analysis of a recording over its beats' classes as corrected (diagnostics.corrections). Safe to
    run twice or at once, and after a worker was lost (the message comes again): only the run that saw the latest
    correction writes."""
    from . import corrections

    try:
        # a try after a database error is no crash: it adds an attempt to the budget (as classify_recording's do)
        return corrections.recording_rhythm_recompute(
            recording_id=recording_id, max_attempts=MAX_ATTEMPTS + (self.request.retries or 0)
        )
    except (OperationalError, InterfaceError) as exc:  # database restarting: try again shortly
        raise self.retry(exc=exc, countdown=min(5 * 2**self.request.retries, 60))
    except Exception as exc:
        logger.exception("recomputing the rhythm of recording %s failed", recording_id)
        corrections.rhythm_recompute_failed(
            recording_id=recording_id,
            reason=f"Internal error while recomputing the rhythm ({type(exc).__name__}); please contact support.",
        )
        return "failed"
