from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from diagnostics import services


class Command(BaseCommand):
    help = "Enqueue recordings left queued (or abandoned in processing) for longer than --older-than seconds."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", type=int, default=0)

    def handle(self, *args, older_than: int, **options):
        if not 0 <= older_than <= 10 * 365 * 86400:
            raise CommandError("--older-than is a number of seconds from 0 to ten years")
        if older_than:
            count = services.recordings_requeue_stale(older_than=timedelta(seconds=older_than))
        else:
            count = services.recordings_requeue_waiting()
        self.stdout.write(f"Enqueued {count} recording(s).")
