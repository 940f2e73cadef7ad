from functools import cached_property

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """A hospital system's credential: acts as ``user`` (so within the user's clinic and role).

    Only a SHA-256 of the secret is stored; ``prefix`` (not secret) finds the row.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="What the token is for, e.g. the hospital system.")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    webhook_url = models.URLField(
        blank=True, help_text="Optional: POSTed a JSON notice whenever a diagnosis of this clinic is written."
    )
    # Random; the signing secret is an HMAC of it under SECRET_KEY (api.webhooks.signing_secret).
    webhook_salt = models.CharField(max_length=32, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    def clean(self):
        super().clean()
        if self.webhook_url:
            from django.core.exceptions import ValidationError

            from .webhooks import webhook_url_check

            try:
                webhook_url_check(self.webhook_url)
            except ValidationError as exc:
                raise ValidationError({"webhook_url": exc.messages}) from None

    @cached_property
    def decides(self) -> bool:
        """Whether requests with this token may make clinical decisions as its user (review an MI flag, sign an
        interpretation, move a recording, correct beats): only if its user made it, or the installation's
        administrator (a superuser) did, or it was made on the server (``create_api_token``: no ``created_by``).
        One a clinic's administrator made for someone else never does, whatever role its user has since been given
        (api.services.api_token_issuer_refusal keeps them from making one for a doctor; a role changed after would
        otherwise let them sign as a colleague), nor does one made so before that rule. Kept with the token in the
        authentication's cache (it is in the instance's ``__dict__``)."""
        if self.created_by_id is None or self.created_by_id == self.user_id:
            return True
        return self.created_by is not None and self.created_by.is_superuser

    @property
    def is_usable(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()


class WebhookDelivery(models.Model):
    """One notice to one token's webhook, with every attempt's outcome: what the admin sees, and what the
    periodic sweep retries (api.services.webhook_deliver)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RETRYING = "retrying"
        SENT = "sent"
        FAILED = "failed"

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="deliveries")
    clinic = models.ForeignKey("accounts.Clinic", on_delete=models.PROTECT, related_name="+")
    # Kept when a diagnosis is replaced (a recording classified again): the log outlives it.
    diagnosis = models.ForeignKey("diagnostics.Diagnosis", on_delete=models.SET_NULL, null=True, related_name="+")
    # The recording of a notice about a recording (recording.failed), which has no diagnosis.
    recording = models.ForeignKey(
        "diagnostics.ECGRecording", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    event = models.CharField(max_length=32, default="diagnosis.created")
    # What the notice adds about its occasion, fixed when it is logged (a review's id and decision, the rhythm
    # event decided on, when): the body is the same on every attempt, whatever happens after.
    detail = models.JSONField(default=dict, blank=True)
    url = models.URLField(max_length=500)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True, help_text="The receiver's answer.")
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_retry_at"])]

    def __str__(self) -> str:
        return f"{self.event} to {self.url} ({self.status})"
