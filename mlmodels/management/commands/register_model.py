from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ecgsite.errors import ApplicationError
from mlmodels import services
from mlmodels.models import ModelVersion


class Command(BaseCommand):
    help = "Register a .keras (or Keras 2 .h5) artifact as a model version; reads a JSON model card beside it."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--task", choices=ModelVersion.Task.values)
        parser.add_argument("--model-version", dest="model_version")
        parser.add_argument("--threshold", type=float)
        parser.add_argument("--activate", action="store_true")

    def handle(self, *args, path: Path, task, model_version, threshold, activate, **options):
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        card = services.card_read(path)
        task = task or card.get("task")
        version = model_version or card.get("version") or path.stem
        if not task:
            raise CommandError(
                f"give --task ({', '.join(ModelVersion.Task.values)}); the artifact has no model card naming it"
            )
        md = path.with_suffix(".md")
        try:
            mv = services.model_version_register(
                task=task,
                version=version,
                source=path,
                class_labels=card.get("class_labels"),
                threshold=threshold if threshold is not None else card.get("threshold"),
                metrics=card.get("metrics") or {},
                report=md.read_text() if md.exists() else "",
                provenance=card.get("training_data", ""),
                activate=activate,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        state = "active" if mv.is_active else "inactive"
        self.stdout.write(f"Registered {mv} ({state}, sha256 {mv.sha256[:12]}…)")
