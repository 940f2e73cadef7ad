import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecgsite.settings")

app = Celery("ecgsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.beat_schedule = {
    "requeue-stale-recordings": {"task": "diagnostics.tasks.requeue_stale_recordings", "schedule": 300.0},
}
