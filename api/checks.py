"""Deployment checks of the API's settings (``manage.py check --deploy``)."""

from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def site_url_is_https(app_configs, **kwargs):
    """Webhook notices give their links at SITE_URL, and a receiver follows them with its token: in production
    they must be the site's https address, not the development server's default."""
    if urlparse(settings.SITE_URL).scheme == "https":
        return []
    return [
        Warning(
            f"SITE_URL is {settings.SITE_URL!r}: webhook notices would link there, and a receiver would send its "
            "API token to it in the clear.",
            hint="Set SITE_URL (or CSRF_TRUSTED_ORIGINS) to the https address clients reach the site at.",
            id="api.W001",
        )
    ]
