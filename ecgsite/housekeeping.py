"""The periodic sweep: recordings of dead workers or lost messages sent again (and rhythms to recompute), webhook
deliveries retried, expired idempotency keys deleted.

Every worker calls ``sweep`` from a thread of its main process (ecgsite.celery); a Redis lock lets the
first of them in each interval do the work.
"""

from datetime import timedelta

from django.conf import settings
from django.core.cache import caches

SWEEP_LOCK_KEY = "sweep-lock"


def sweep() -> dict | None:
    """One round of the chores, or None if another worker holds this interval's lock."""
    from api import services as api_services
    from diagnostics import corrections
    from diagnostics import services as diagnostics_services

    if not caches["api"].add(SWEEP_LOCK_KEY, 1, timeout=max(1, int(settings.ECG_SWEEP_INTERVAL_SECONDS * 0.8))):
        return None
    return {
        "requeued": diagnostics_services.recordings_requeue_stale(
            older_than=timedelta(seconds=settings.ECG_PROCESSING_LEASE_SECONDS)
        ),
        "rhythms_sent_again": corrections.rhythms_requeue_outdated(
            older_than=timedelta(seconds=settings.ECG_PROCESSING_LEASE_SECONDS)
        ),
        "webhooks_due": api_services.webhook_deliveries_due(),
        "idempotency_keys_purged": diagnostics_services.idempotency_records_purge(),
    }
