"""Bring stored recordings' rhythm analysis to this version of it (diagnostics.corrections.rhythm_upgrade)."""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q

from accounts.models import Clinic
from diagnostics.corrections import rhythm_upgrade
from diagnostics.models import Diagnosis, ECGRecording
from ecg.constants import RHYTHM_VERSION

CHUNK = 500  # recordings' ids read at a time (one recording is recomputed at a time)


class Command(BaseCommand):
    help = (
        "Recompute the rhythm analysis (events, summary, hourly table) of recordings analysed by an earlier version "
        "of it, over their stored beats and classes, as a beat correction's recomputation does: doctors' decisions on "
        "events found again are kept. One recording at a time, in this process; run again, it goes on where it "
        "stopped. Recordings a doctor signed an interpretation of are left unless --include-signed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="every clinic's recordings")
        parser.add_argument("--clinic", type=int, action="append", default=[], help="a clinic's id (repeatable)")
        parser.add_argument("--recording", type=int, action="append", default=[], help="a recording's id (repeatable)")
        parser.add_argument("--dry-run", action="store_true", help="say what would change, write nothing")
        parser.add_argument("--include-signed", action="store_true", help="recompute signed recordings too")

    def handle(self, *args, **options):
        clinics, recordings = options["clinic"], options["recording"]
        if options["all"] == bool(clinics or recordings):
            raise CommandError("Say which recordings: --all, or --clinic ID and/or --recording ID.")
        missing = sorted(set(clinics) - set(Clinic.objects.filter(pk__in=clinics).values_list("pk", flat=True)))
        if missing:
            raise CommandError(f"No clinic {', '.join(map(str, missing))}.")
        missing = sorted(
            set(recordings) - set(ECGRecording.objects.filter(pk__in=recordings).values_list("pk", flat=True))
        )
        if missing:
            raise CommandError(f"No recording {', '.join(map(str, missing))}.")
        scope = Diagnosis.objects.all()
        if clinics:
            scope = scope.filter(clinic_id__in=clinics)
        if recordings:
            scope = scope.filter(recording_id__in=recordings)
        wanted = scope.filter(rhythm__isnull=False).filter(
            Q(rhythm_version__isnull=True) | Q(rhythm_version__lt=RHYTHM_VERSION) | Q(rhythm_outdated_at__isnull=False)
        )
        # named but not to be recomputed (current already, or no rhythm): said so, not passed over in silence
        left = sorted(
            set(recordings) - set(wanted.filter(recording_id__in=recordings).values_list("recording_id", flat=True))
        )
        tally: dict[str, int] = {}
        after = 0
        while True:
            ids = list(
                wanted.filter(recording_id__gt=after)
                .order_by("recording_id")
                .values_list("recording_id", flat=True)[:CHUNK]
            )
            for recording_id in ids:
                answer = rhythm_upgrade(
                    recording_id=recording_id,
                    include_signed=options["include_signed"],
                    dry_run=options["dry_run"],
                )
                outcome = str(answer["outcome"])
                tally[outcome] = tally.get(outcome, 0) + 1
                if outcome != "current":
                    self.stdout.write(_line(answer))
            if len(ids) < CHUNK:
                break
            after = ids[-1]
        for recording_id in left:
            self.stdout.write(_line(rhythm_upgrade(recording_id=recording_id, dry_run=True)))
        done = ", ".join(f"{n} {outcome.replace('_', ' ')}" for outcome, n in sorted(tally.items())) or "none"
        verb = "Would recompute" if options["dry_run"] else "Recomputed"
        self.stdout.write(f"{verb} to rhythm analysis version {RHYTHM_VERSION}: {done}.")


def _line(answer: dict) -> str:
    line = f"Recording {answer['recording']}: {str(answer['outcome']).replace('_', ' ')}"
    changes = answer.get("changes")
    if changes:
        line += (
            f"; events {changes['kept']} kept ({changes['updated']} updated), {changes['new']} new, "
            f"{changes['withdrawn']} withdrawn ({changes['withdrawn_decided']} with doctors' decisions, kept); "
            f"summary {'changed' if changes['summary'] else 'unchanged'}"
        )
        if changes["families"]:
            line += "; beat families found"
    if answer.get("reason"):
        line += f" ({answer['reason']})"
    return line
