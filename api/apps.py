from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "REST API"

    def ready(self):
        from . import webhooks  # noqa: F401 - connects the diagnosis signal
