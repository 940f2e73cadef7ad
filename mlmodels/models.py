from django.conf import settings
from django.db import models
from django.utils import timezone

from ecg.constants import BEAT_FS, BEAT_LENGTH


class ModelVersion(models.Model):
    """A trained Keras artifact for one task; exactly one is active per task."""

    class Task(models.TextChoices):
        HEARTBEAT = "heartbeat", "Heartbeat class of beat rows (AAMI N/S/V/F/Q, no timing context)"
        HEARTBEAT_RECORD = "heartbeat_record", "Heartbeat class in its recording (rhythm and patient context)"
        MI = "mi", "Myocardial infarction screening"

    task = models.CharField(max_length=16, choices=Task.choices)
    version = models.CharField(max_length=64)
    artifact = models.FileField(upload_to="models/", help_text="A .keras file (Keras 2 .h5 files are converted).")
    sha256 = models.CharField(max_length=64, editable=False)
    # the uploaded file's digest (a Keras 2 .h5 is stored converted, under the converted file's sha256)
    source_sha256 = models.CharField(max_length=64, editable=False, blank=True, db_index=True)
    input_length = models.PositiveIntegerField(default=BEAT_LENGTH)
    input_fs = models.FloatField("input sampling rate (Hz)", default=BEAT_FS)
    class_labels = models.JSONField(default=list, blank=True)
    threshold = models.FloatField(
        null=True, blank=True, help_text="MI models: a recording is flagged when its MI score reaches this."
    )
    metrics = models.JSONField(default=dict, blank=True)
    report = models.TextField("evaluation report", blank=True)
    provenance = models.TextField("training data provenance", blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    is_active = models.BooleanField(default=False, editable=False)
    activated_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["task", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["task"], condition=models.Q(is_active=True), name="one_active_model_per_task"
            ),
            models.UniqueConstraint(fields=["task", "version"], name="model_version_unique_per_task"),
        ]

    def __str__(self) -> str:
        return f"{self.task} {self.version}"

    @property
    def effective_threshold(self) -> float:
        return 0.5 if self.threshold is None else self.threshold


class ModelActivation(models.Model):
    """One activation of a version, with the version it replaced: which model analysed a task's recordings from when
    to when, and who chose it (a version's own activated_at is only its latest activation). Append-only."""

    class Via(models.TextChoices):
        ADMIN = "admin", "Admin"
        API = "api", "API"
        COMMAND = "command", "Command (start-up's bundled models, register_model)"

    task = models.CharField(max_length=16, choices=ModelVersion.Task.choices)
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="activations")
    previous = models.ForeignKey(
        ModelVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="the version it replaced",
    )
    activated_at = models.DateTimeField(default=timezone.now, db_index=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    via = models.CharField(max_length=8, choices=Via.choices, blank=True)

    class Meta:
        ordering = ["-activated_at", "-id"]

    # on PostgreSQL a trigger refuses UPDATE and DELETE too (migration 0005)
    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("model activations are append-only: activate another version instead")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("model activations are append-only")

    def __str__(self) -> str:
        before = self.previous.version if self.previous else "none"
        return f"{self.task}: {before} -> {self.model_version.version}"
