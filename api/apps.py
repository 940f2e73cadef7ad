from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "REST API"

    def ready(self):
        from . import checks, webhooks  # noqa: F401 - the deploy checks; connects the diagnosis signal
