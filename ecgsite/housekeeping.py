"""The periodic sweep: recordings of dead workers or lost messages sent again (and rhythms to recompute), webhook
deliveries retried, expired idempotency keys deleted, files left by processes killed while writing them removed.

Every worker calls ``sweep`` from a thread of its main process (ecgsite.celery); a Redis lock lets the
first of them in each interval do the work. The temporary folders of the host are every worker's own chore, and
every web process's (``temporary_leftovers_remove_due``, from a middleware): an upload is read in the web process too.
"""

import logging
import shutil
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.cache import caches

logger = logging.getLogger(__name__)

SWEEP_LOCK_KEY = "sweep-lock"
# The stored beats files are listed once an interval of this lock, not at every round
ORPHANS_LOCK_KEY = "sweep-orphans-lock"
ORPHANS_INTERVAL = timedelta(minutes=30)

# The temporary folders the readers make while they read one file (ecg.io.readers, diagnostics.signal_uploads), for
# seconds: one this old was left by a process killed meanwhile.
TEMPORARY_PREFIXES = ("ecg-wfdb-", "ecg-edf-", "ecg-upload-")
TEMPORARY_MAX_AGE = timedelta(hours=1)


def temporary_leftovers_remove(*, older_than: timedelta = TEMPORARY_MAX_AGE, folder: Path | None = None) -> int:
    """Remove the readers' temporary folders in ``folder`` (this host's temporary folder) not changed for
    ``older_than``; how many."""
    cutoff = time.time() - older_than.total_seconds()
    removed = 0
    for prefix in TEMPORARY_PREFIXES:
        for path in Path(folder or tempfile.gettempdir()).glob(f"{prefix}*"):
            try:
                if path.is_symlink() or not path.is_dir() or path.lstat().st_mtime >= cutoff:
                    continue
                shutil.rmtree(path)
            except OSError:  # removed meanwhile, or not ours to remove
                continue
            removed += 1
    if removed:
        logger.warning("removed %d temporary folder(s) left by processes stopped while reading a file", removed)
    return removed


# A web process runs no sweep thread: it looks at its first request, then at most once this interval
WEB_TEMPORARY_INTERVAL = timedelta(minutes=10)
_web_lock = threading.Lock()
_web_due = 0.0  # time.monotonic() of the next look


def temporary_leftovers_remove_due() -> int | None:
    """This host's temporary folders swept by a web process, if its interval is over (None if not): a web process
    killed while it parsed an upload leaves its folder as a worker does. A comparison on every other request."""
    global _web_due
    now = time.monotonic()
    if now < _web_due or not _web_lock.acquire(blocking=False):
        return None
    try:
        _web_due = now + WEB_TEMPORARY_INTERVAL.total_seconds()
        return temporary_leftovers_remove()
    finally:
        _web_lock.release()


def sweep() -> dict | None:
    """One round of the chores, or None if another worker holds this interval's lock (this host's temporary
    folders are swept all the same)."""
    from api import services as api_services
    from diagnostics import corrections
    from diagnostics import services as diagnostics_services

    temporary = temporary_leftovers_remove()
    if not caches["api"].add(SWEEP_LOCK_KEY, 1, timeout=max(1, int(settings.ECG_SWEEP_INTERVAL_SECONDS * 0.8))):
        return None
    orphans = (
        diagnostics_services.beats_files_orphaned_remove()
        if caches["api"].add(ORPHANS_LOCK_KEY, 1, timeout=int(ORPHANS_INTERVAL.total_seconds()))
        else 0
    )
    return {
        "temporary_folders_removed": temporary,
        "beats_files_removed": orphans,
        "requeued": diagnostics_services.recordings_requeue_stale(
            older_than=timedelta(seconds=settings.ECG_PROCESSING_LEASE_SECONDS)
        ),
        "rhythms_sent_again": corrections.rhythms_requeue_outdated(
            older_than=timedelta(seconds=settings.ECG_PROCESSING_LEASE_SECONDS)
        ),
        "webhooks_due": api_services.webhook_deliveries_due(),
        "idempotency_keys_purged": diagnostics_services.idempotency_records_purge(),
    }
