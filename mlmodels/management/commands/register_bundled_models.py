from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand

from mlmodels.models import ModelVersion
from mlmodels.services import card_read

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


class Command(BaseCommand):
    help = "Register the models shipped in mlmodels/artifacts/; activate each where its task has no active version."

    def handle(self, *args, **options):
        artifacts = sorted(ARTIFACTS.glob("*.keras"))
        if not artifacts:
            self.stdout.write("No bundled models.")
        for path in artifacts:
            task = card_read(path).get("task")
            if not task:
                self.stderr.write(f"Skipping {path.name}: no model card naming its task")
                continue
            activate = not ModelVersion.objects.filter(task=task, is_active=True).exists()
            call_command("register_model", str(path), activate=activate, stdout=self.stdout)
