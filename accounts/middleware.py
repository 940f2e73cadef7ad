from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.urls import reverse

# Paths reachable without logging in; everything else requires a login.
PUBLIC_PREFIXES = ("/accounts/login/", "/static/", "/healthz")


class LoginRequiredMiddleware:
    """Deny by default: every page requires a logged-in user with a clinic."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if request.user.is_authenticated or path.startswith(PUBLIC_PREFIXES) or path.startswith("/api/"):
            return self.get_response(request)
        if path.startswith("/admin/"):
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
