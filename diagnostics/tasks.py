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
# A file store that may come back: a network share or an object store's endpoint out of reach for a while.
STORAGE_AWAY = {errno.EIO, errno.ETIMEDOUT, errno.ESTALE, errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH}


def storage_trouble(exc: BaseException) -> str | None:
    """ "full" or "away" where ``exc`` is the file store's passing trouble (a later try may succeed), else None."""
    if isinstance(exc, OSError) and exc.errno in STORAGE_FULL:
        return "full"
    if isinstance(exc, OSError) and exc.errno in STORAGE_AWAY:
        return "away"
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as StoreConnectionError

    if isinstance(exc, StoreConnectionError | HTTPClientError):
        return "away"  # the object store's endpoint refused, timed out or closed the connection
    if isinstance(exc, ClientError) and exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500:
        return "away"  # its 500 / 503 (SlowDown, ServiceUnavailable)
    return None


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
        trouble = storage_trouble(exc)
        if trouble is not None:
            # The file store is full or out of reach, which may pass: later, not failed at once (five more tries over
            # about twelve minutes); a reader's or the model's own error is not retried
            logger.exception("the file store failed for recording %s (%s)", recording_id, trouble)
            if self.request.retries < self.max_retries:
                countdown = min(300, 30 * 2**self.request.retries)
                # the claim is held until the retry comes, or the sweep would send the recording to another
                # worker as abandoned and a fresh message would find the crash budget spent
                services.recording_claim_hold(recording_id=recording_id, claim_token=token, seconds=countdown)
                raise self.retry(exc=exc, countdown=countdown) from exc
            reason = (
                "The results could not be stored (the server's storage is full); please retry later or contact support."
                if trouble == "full"
                else "The server's file storage could not be reached for this recording; please retry later or "
                "contact support."
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
