from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "REST API"

    def ready(self):
        # the deploy checks; the diagnosis signal; the token cache's receivers (a user changed, a token deleted)
        from . import authentication, checks, webhooks  # noqa: F401
