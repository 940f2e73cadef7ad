"""What diagnostics does when other apps report something (connected in DiagnosticsConfig.ready)."""

from django.db.models.signals import post_save, pre_save

from accounts.models import User
from mlmodels.signals import model_version_activated

from .services import recordings_requeue_waiting, recordings_stamp_naming_user


def requeue_waiting_recordings(sender, **kwargs) -> None:
    """Recordings queued while no model was active can be classified now."""
    recordings_requeue_waiting()


model_version_activated.connect(requeue_waiting_recordings, dispatch_uid="diagnostics.requeue_waiting_recordings")


# What names a user on the recordings' pages, reports and FHIR (User.display_name)
NAME_FIELDS = ("username", "first_name", "last_name")


def remember_names(sender, instance: User, update_fields=None, raw: bool = False, **kwargs) -> None:
    """Before a user is saved: their names as stored, where the save may change them."""
    instance._names_before = None  # type: ignore[attr-defined]
    if raw or instance.pk is None or (update_fields is not None and not set(update_fields) & set(NAME_FIELDS)):
        return  # loaded from a fixture, new, or a save of other fields (a login's last_login)
    instance._names_before = User.objects.filter(pk=instance.pk).values_list(*NAME_FIELDS).first()  # type: ignore[attr-defined]


def stamp_recordings_naming_renamed_user(sender, instance: User, created: bool, raw: bool = False, **kwargs) -> None:
    """A user renamed, wherever (the admin, a command, a shell): the recordings that name them are stamped changed,
    so a sync job paging by updated_at reads the new name (only the admin's form had done so)."""
    before = getattr(instance, "_names_before", None)
    if created or raw or before is None:
        return
    if tuple(before) != tuple(getattr(instance, name) for name in NAME_FIELDS):
        recordings_stamp_naming_user(user=instance)


pre_save.connect(remember_names, sender=User, dispatch_uid="diagnostics.remember_names")
post_save.connect(stamp_recordings_naming_renamed_user, sender=User, dispatch_uid="diagnostics.stamp_renamed")
