import logging
import os
import threading

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecgsite.settings")

app = Celery("ecgsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
logger = logging.getLogger(__name__)


@app.on_after_finalize.connect
def _schedule_sweep(sender, **kwargs):
    # For `celery beat`, if an installation runs one; every worker sweeps anyway (see _start_sweeper).
    from django.conf import settings

    sender.add_periodic_task(
        float(settings.ECG_SWEEP_INTERVAL_SECONDS),
        sender.signature("diagnostics.tasks.requeue_stale_recordings"),
        name="requeue-stale-recordings",
    )


_sweeper_stop = threading.Event()


def _sweep_forever(interval: float) -> None:
    from django.db import connection

    from .housekeeping import sweep

    while not _sweeper_stop.wait(interval):
        try:
            sweep()
        except Exception:  # Redis or PostgreSQL away: the next round tries again
            logger.exception("the periodic sweep failed")
        finally:
            connection.close()


@worker_ready.connect
def _start_sweeper(sender=None, **kwargs):
    """Each worker runs the periodic sweep in a thread of its main process, so recordings of a dead
    worker or host are taken over wherever workers run, with or without a beat scheduler; a Redis
    lock lets one worker sweep per interval."""
    from django.conf import settings

    _sweeper_stop.clear()
    threading.Thread(
        target=_sweep_forever, args=(float(settings.ECG_SWEEP_INTERVAL_SECONDS),), name="sweeper", daemon=True
    ).start()


@worker_shutdown.connect
def _stop_sweeper(sender=None, **kwargs):
    _sweeper_stop.set()
