from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Clinics and users"

    def ready(self):
        from . import audit  # noqa: F401 - connects the login signal receivers
