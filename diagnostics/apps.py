from django.apps import AppConfig


class DiagnosticsConfig(AppConfig):
    name = "diagnostics"

    def ready(self):
        from . import receivers  # noqa: F401 - requeues waiting recordings when a model version is activated
