from .models import ModelVersion


def active_model_versions() -> dict[str, ModelVersion]:
    """The active version of each task, keyed by task."""
    return {mv.task: mv for mv in ModelVersion.objects.filter(is_active=True)}
