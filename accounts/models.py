import uuid

from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import IntegrityError, models


class Installation(models.Model):
    """This installation's own id, made once and kept whatever its keys: the identifier systems and ids it sends
    other systems (FHIR) carry it, so two installations' records are never taken for one."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    @classmethod
    def current(cls) -> "Installation":
        try:
            return cls.objects.get_or_create(pk=1)[0]
        except IntegrityError:  # made at the same moment by another process
            return cls.objects.get(pk=1)


class Clinic(models.Model):
    """A tenant: every patient, recording, diagnosis and review belongs to one clinic."""

    name = models.CharField(max_length=200, unique=True)
    mrn_system = models.CharField(
        "MRN identifier system",
        max_length=255,
        blank=True,
        validators=[
            RegexValidator(
                r"^(urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:\S+|https?://\S+)$",
                "Enter a URI: urn:oid:…, urn:…, or http(s)://…",
            )
        ],
        help_text="The URI of the system that assigns this clinic's MRNs (the hospital's, e.g. urn:oid:1.2.36.146.595.217.0.1), "
        "sent as the Patient's identifier system in FHIR so the receiving system can match its patients. Blank: an "
        "identifier system of this installation's own.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    class Role(models.TextChoices):
        STAFF = "staff", "Clinic staff"
        DOCTOR = "doctor", "Doctor"
        ADMIN = "admin", "Administrator"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, null=True, blank=True, related_name="users")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.STAFF)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(clinic__isnull=False) | models.Q(is_superuser=True),
                name="user_has_clinic_unless_superuser",
            ),
        ]

    def save(self, *args, **kwargs):
        # Only administrators reach the Django admin; clinic staff never do.
        self.is_staff = self.is_superuser or self.role == self.Role.ADMIN
        super().save(*args, **kwargs)

    @property
    def display_name(self) -> str:
        """How pages, reports and FHIR name the person: the full name, else the username."""
        return self.get_full_name() or self.username

    @property
    def needs_second_factor(self) -> bool:
        """Administrators and doctors pass a TOTP step after the password (when ECG_REQUIRE_2FA is on)."""
        return self.is_superuser or self.role in {self.Role.DOCTOR, self.Role.ADMIN}

    @property
    def can_review(self) -> bool:
        return self.role in {self.Role.DOCTOR, self.Role.ADMIN}

    @property
    def is_clinic_admin(self) -> bool:
        return self.role == self.Role.ADMIN or self.is_superuser

    @property
    def manages_models(self) -> bool:
        """Model versions serve every clinic of the installation: registering or activating one is the
        installation's administrators' (superusers'), not one clinic's (which would decide how the other
        clinics' patients are diagnosed)."""
        return self.is_active and self.is_superuser


class AuditEvent(models.Model):
    """Who did what to which record, when and from where. Append-only."""

    class Action(models.TextChoices):
        VIEW = "view", "View"
        CREATE = "create", "Create"
        UPDATE = "update", "Update"
        EXPORT = "export", "Export"
        REVIEW = "review", "Review"
        LOGIN = "login", "Login"
        LOGIN_FAILED = "login_failed", "Failed login"
        LOCKED_OUT = "locked_out", "Locked out"
        LOGOUT = "logout", "Logout"
        TOKEN_USE = "token_use", "API token use"
        ACTIVATE = "activate", "Activate model"
        DENIED = "denied", "Access denied"
        DELETE = "delete", "Delete"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # PROTECT: the trail is append-only (the database refuses to blank its rows), so a user or clinic it names is
    # kept (deactivate the user instead); SET_NULL had the deletion fail with a database error, a 500
    user = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    username = models.CharField(max_length=150, blank=True)
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=16, choices=Action.choices, db_index=True)
    object_type = models.CharField(max_length=32, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    channel = models.CharField(max_length=8, blank=True, help_text="web, api or admin")
    path = models.CharField(max_length=300, blank=True)
    method = models.CharField(max_length=8, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["clinic", "-created_at"]),
            models.Index(fields=["username", "action", "-created_at"]),
        ]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit events are append-only")
