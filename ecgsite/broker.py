"""Sending tasks to the broker, from web processes and workers alike.

A publish to a broker that is down fails in about a second, and to one that hangs (accepts connections and answers
nothing) in 5 to 20 s (CELERY_TASK_PUBLISH_RETRY_POLICY). One request may publish many messages: an activation sends
every queued recording again, a doctor's correction its rhythm's recomputation and a notice per webhook. Each had
waited as long in turn, so a request outlived the web server's timeout and its user was answered with an error for a
write that had committed. Once a publish fails, this process tries none for ``RETRY_SECONDS``: what is not sent is
sent by the periodic sweep, from what PostgreSQL holds (queued recordings, rhythms outdated, deliveries pending).
"""

import logging
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)
RETRY_SECONDS = 5.0
_away_until = 0.0


def publish(send: Callable[[], object], what: str) -> bool:
    """Call ``send`` (a task's ``delay``) unless a publish of this process failed within ``RETRY_SECONDS``; False if
    it was not sent (``what`` names it in the log)."""
    global _away_until
    if time.monotonic() < _away_until:
        logger.warning("the broker failed a moment ago: %s not sent now; the periodic sweep sends it", what)
        return False
    try:
        send()
    except Exception:
        logger.exception("could not send %s; the periodic sweep sends it", what)
        _away_until = time.monotonic() + RETRY_SECONDS
        return False
    return True
