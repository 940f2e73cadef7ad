from .models import ModelVersion


def active_model_versions() -> dict[str, ModelVersion]:
    """The active version of each task, keyed by task."""
    return {mv.task: mv for mv in ModelVersion.objects.filter(is_active=True)}


def model_version_list():
    """Every version of every task (versions are shared by all clinics), by task, the newest made first, then the
    higher id: versions registered at one instant (a script's, a fixture's) keep one order page to page."""
    return ModelVersion.objects.order_by("task", "-created_at", "-id")


def model_version_get(*, model_version_id: int) -> ModelVersion:
    from django.shortcuts import get_object_or_404

    return get_object_or_404(ModelVersion, pk=model_version_id)


def model_version_diagnosed(model_version: ModelVersion) -> int:
    """How many diagnoses (in any clinic) this version made, as their heartbeat or MI model."""
    from django.apps import apps
    from django.db.models import Q

    diagnosis = apps.get_model("diagnostics", "Diagnosis")  # diagnostics depends on this app, not the other way
    return diagnosis.objects.filter(Q(heartbeat_model=model_version) | Q(mi_model=model_version)).count()
