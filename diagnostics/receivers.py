"""What diagnostics does when other apps report something (connected in DiagnosticsConfig.ready)."""

from mlmodels.signals import model_version_activated

from .services import recordings_requeue_waiting


def requeue_waiting_recordings(sender, **kwargs) -> None:
    """Recordings queued while no model was active can be classified now."""
    recordings_requeue_waiting()


model_version_activated.connect(requeue_waiting_recordings, dispatch_uid="diagnostics.requeue_waiting_recordings")
