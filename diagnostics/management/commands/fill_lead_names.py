from django.core.management.base import BaseCommand

from diagnostics import services


class Command(BaseCommand):
    help = (
        "Name the leads of signal recordings stored without them (large uploads accepted before their "
        "header's lead names were kept), from their stored files, so the viewer offers every lead."
    )

    def handle(self, *args, **options):
        filled, failed = services.recordings_fill_lead_names()
        for recording_id, reason in failed:
            self.stderr.write(f"Recording {recording_id}: {reason}")
        self.stdout.write(f"Named the leads of {filled} recording(s); {len(failed)} could not be read.")
