from collections import defaultdict
from pathlib import Path
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand

from mlmodels.models import ModelActivation, ModelVersion
from mlmodels.services import card_read, sha256_of

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


class Command(BaseCommand):
    help = (
        "Register the models shipped in mlmodels/artifacts/. For each task the newest bundled version is "
        "activated when the task has no active version or its active version is an older bundled one; "
        "a version an administrator chose (an older bundled one among them) is left active."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        by_task: dict[str, list[Path]] = defaultdict(list)
        for path in sorted(ARTIFACTS.glob("*.keras")):
            task = card_read(path).get("task")
            if task:
                by_task[task].append(path)
            else:
                self.stderr.write(f"Skipping {path.name}: no model card naming its task")
        if not by_task:
            self.stdout.write("No bundled models.")
        for task, paths in by_task.items():
            bundled = {sha256_of(p) for p in paths}
            active = ModelVersion.objects.filter(task=task, is_active=True).first()
            # an older bundled version an administrator went back to (admin or API) is their choice too: it had
            # been replaced by the newest at every start, the rollback undone by the next deployment
            chosen = active is not None and ModelActivation.objects.filter(model_version=active).values_list(
                "via", flat=True
            ).first() in (ModelActivation.Via.ADMIN, ModelActivation.Via.API)
            upgrade = active is None or (active.sha256 in bundled and not chosen)
            for path in paths:
                call_command("register_model", str(path), activate=upgrade and path == paths[-1], stdout=self.stdout)
