import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecgsite.settings")

app = Celery("ecgsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _schedule_sweep(sender, **kwargs):
    from django.conf import settings

    sender.add_periodic_task(
        float(settings.ECG_SWEEP_INTERVAL_SECONDS),
        sender.signature("diagnostics.tasks.requeue_stale_recordings"),
        name="requeue-stale-recordings",
    )
