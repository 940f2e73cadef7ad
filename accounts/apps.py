from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default = True  # this module holds the django_otp plugins' configs too: "accounts" means this one
    name = "accounts"
    verbose_name = "Clinics and users"

    def ready(self):
        from . import (
            audit,  # noqa: F401 - connects the login signal receivers
            lookups,  # noqa: F401 - registers ip__in_network
        )


class AuthenticatorAppsConfig(AppConfig):
    """django_otp's TOTP plugin, headed in the admin as what it holds (it read "OTP_TOTP")."""

    name = "django_otp.plugins.otp_totp"
    label = "otp_totp"
    verbose_name = "Second factor: authenticator apps"
    default_auto_field = "django.db.models.AutoField"


class RecoveryCodesConfig(AppConfig):
    """django_otp's static-token plugin, headed in the admin as what it holds (it read "OTP_STATIC")."""

    name = "django_otp.plugins.otp_static"
    label = "otp_static"
    verbose_name = "Second factor: recovery codes"
    default_auto_field = "django.db.models.AutoField"
