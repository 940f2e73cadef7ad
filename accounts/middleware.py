import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone

# Paths reachable without logging in; everything else requires a login.
PUBLIC_PREFIXES = ("/accounts/login/", "/admin/login/", "/static/", "/healthz")
LOGIN_PATHS = ("/accounts/login/", "/admin/login/")
# Requests that do not count as activity for the idle timeout (a page polling its status).
PASSIVE_VIEWS = {"recording-status"}


class LoginRequiredMiddleware:
    """Deny by default: every page requires a logged-in user."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if request.user.is_authenticated or path.startswith(PUBLIC_PREFIXES) or path.startswith("/api/"):
            return self.get_response(request)
        if path.startswith("/admin/"):
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)


class IdleTimeoutMiddleware:
    """Log a browser session out after ECG_IDLE_TIMEOUT_SECONDS without activity."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated and hasattr(request, "session") and not request.path.startswith("/api/"):
            now = time.time()
            last = request.session.get("last_activity", now)
            if now - last > settings.ECG_IDLE_TIMEOUT_SECONDS:
                logout(request)
                return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
            response = self.get_response(request)
            match = getattr(request, "resolver_match", None)
            if (match is None or match.view_name not in PASSIVE_VIEWS) and hasattr(request, "user") and request.user.is_authenticated:
                request.session["last_activity"] = now
            return response
        return self.get_response(request)


def locked_out(username: str, ip: str | None) -> bool:
    """Too many failed logins for this username, or from this address, within the cool-off window."""
    from .models import AuditEvent

    since = timezone.now() - timedelta(seconds=settings.ECG_LOCKOUT_SECONDS)
    failures = AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_FAILED, created_at__gte=since)
    by_user = failures.filter(username=username).count() if username else 0
    by_ip = failures.filter(ip=ip).count() if ip else 0
    return by_user >= settings.ECG_LOCKOUT_FAILURES or by_ip >= 4 * settings.ECG_LOCKOUT_FAILURES


class LoginLockoutMiddleware:
    """Refuse password logins with 429 after repeated failures, for a cool-off period."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and request.path in LOGIN_PATHS:
            from . import audit
            from .models import AuditEvent

            username = request.POST.get("username", "")[:150]
            if locked_out(username, audit.client_ip(request)):
                audit.record(request, AuditEvent.Action.LOCKED_OUT, username=username, status_code=429)
                minutes = max(1, settings.ECG_LOCKOUT_SECONDS // 60)
                return HttpResponse(
                    f"Too many failed logins. Try again in {minutes} minutes.",
                    status=429, content_type="text/plain", headers={"Retry-After": str(settings.ECG_LOCKOUT_SECONDS)},
                )
        return self.get_response(request)
