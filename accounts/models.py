from django.contrib.auth.models import AbstractUser
from django.db import models


class Clinic(models.Model):
    """A tenant: every patient, recording, diagnosis and review belongs to one clinic."""

    name = models.CharField(max_length=200, unique=True)
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
    def can_review(self) -> bool:
        return self.role in {self.Role.DOCTOR, self.Role.ADMIN}

    @property
    def is_clinic_admin(self) -> bool:
        return self.role == self.Role.ADMIN or self.is_superuser
