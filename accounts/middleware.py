import time
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect

# Paths reachable without logging in; everything else requires a login.
PUBLIC_PREFIXES = ("/accounts/login/", "/admin/login/", "/static/", "/healthz", "/favicon.ico")
LOGIN_PATHS = ("/accounts/login/", "/admin/login/")
# Paths a user who still owes the second sign-in step may reach.
SECOND_FACTOR_EXEMPT = ("/accounts/login/", "/accounts/logout/", "/accounts/two-factor/", "/admin/logout/", "/static/")
# Requests that do not count as activity for the idle timeout (a page polling its status) ...
PASSIVE_VIEWS = {"recording-status"}
# ... and views whose htmx polls do not either (the dashboard refreshing while uploads wait).
PASSIVE_POLLS = {"dashboard"}


def has_session_cookie(request) -> bool:
    """Whether the request may carry a logged-in session. Without the cookie Django's request.user is
    anonymous, so the session-user checks below can skip loading it (API token requests carry none)."""
    return settings.SESSION_COOKIE_NAME in request.COOKIES


def _page_path(request) -> str:
    """The path to come back to: for an htmx request the page it was made from (its HX-Current-URL, on
    this site only), not the fragment it asked for; for a form's POST the page it was sent from (its
    Referer, on this site only; the login's GET of a POST-only path had answered 405 with an empty page);
    else the request's own."""
    htmx = getattr(request, "htmx", None)
    if htmx:
        try:
            return htmx.current_url_abs_path or "/"
        except ValueError:  # a header that is no URL (urlsplit refuses it): no page to come back to
            return "/"
    if request.method not in ("GET", "HEAD"):
        referer = request.headers.get("Referer", "")
        if referer and url_has_allowed_host_and_scheme(
            referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            parts = urlsplit(referer)
            return parts.path + (f"?{parts.query}" if parts.query else "") or "/"
        return "/"
    return request.get_full_path()


def to_page(request, url: str) -> HttpResponseRedirect | HttpResponseClientRedirect:
    """A redirect to ``url``. An htmx request (a polled status, a page of beats) gets HX-Redirect, so the
    whole page goes there: a plain redirect is followed inside the request, and the login page would be
    swapped into the fragment."""
    if getattr(request, "htmx", None):
        return HttpResponseClientRedirect(url)
    return HttpResponseRedirect(url)


def to_login(request, login_url: str) -> HttpResponseRedirect | HttpResponseClientRedirect:
    """The login page, then back to the page the request came from (`_page_path`)."""
    return to_page(request, redirect_to_login(_page_path(request), login_url).url)


class LoginRequiredMiddleware:
    """Deny by default: every page requires a logged-in user."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        # The path first: reading request.user loads the session, which public and API paths do not need.
        if path.startswith(PUBLIC_PREFIXES) or path.startswith("/api/") or request.user.is_authenticated:
            return self.get_response(request)
        if path.startswith("/admin/"):
            return to_login(request, reverse("admin:login"))
        return to_login(request, settings.LOGIN_URL)


class IdleTimeoutMiddleware:
    """Log a session out after ECG_IDLE_TIMEOUT_SECONDS without activity, for pages and the API alike."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if has_session_cookie(request) and request.user.is_authenticated and hasattr(request, "session"):
            now = time.time()
            last = request.session.get("last_activity", now)
            if now - last > settings.ECG_IDLE_TIMEOUT_SECONDS:
                logout(request)
                if request.path_info.startswith("/api/"):
                    # DRF's session authentication now finds no user: a token still works, the idle session does not.
                    return self.get_response(request)
                minutes = max(1, round(settings.ECG_IDLE_TIMEOUT_SECONDS / 60))
                said = f"You were signed out after {minutes} minute{'s' if minutes != 1 else ''} without activity"
                if request.method not in ("GET", "HEAD"):
                    # a doctor's decision sent after the timeout: say it was not kept, on the page it came from
                    said += "; what you sent was not saved. Sign in and send it again"
                messages.warning(request, said + ".")
                return to_login(request, settings.LOGIN_URL)
            response = self.get_response(request)
            match = getattr(request, "resolver_match", None)
            if (
                (match is None or match.view_name not in PASSIVE_VIEWS)
                and not (match is not None and match.view_name in PASSIVE_POLLS and request.headers.get("HX-Request"))
                and hasattr(request, "user")
                and request.user.is_authenticated
            ):
                request.session["last_activity"] = now
            return response
        return self.get_response(request)


def _locked_out(request, wait: int):
    """The login page again (429), saying how long to wait, the name and the page asked for kept."""
    from django.contrib.auth.forms import AuthenticationForm
    from django.shortcuts import render

    from .lockout import wait_phrase

    form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
    context = {
        "form": form,
        "next": request.POST.get("next", ""),
        "lockout_message": f"Too many failed logins. Try again in {wait_phrase(wait)}.",
    }
    response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(wait)
    return response


class LoginLockoutMiddleware:
    """Refuse password logins with 429 while accounts.lockout says this name must wait at this address."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and request.path_info in LOGIN_PATHS:
            from . import audit
            from .lockout import (
                ADDRESS,
                BUSY_RETRY_SECONDS,
                LoginBusy,
                login_refusal,
                one_try_at_a_time,
                refusal_audited,
                username_clean,
            )
            from .models import AuditEvent

            username = username_clean(request.POST.get("username", ""))
            ip = audit.client_ip(request)
            try:
                with one_try_at_a_time(username, ip):
                    wait, whole_address, held = login_refusal(username=username, ip=ip)
                    if wait:
                        if not refusal_audited(username=username, ip=ip, whole_address=whole_address):
                            audit.record(
                                request,
                                AuditEvent.Action.LOCKED_OUT,
                                username=username,
                                object_type=ADDRESS if whole_address else "",
                                status_code=429,
                            )
                        return _locked_out(request, wait)
                    response = self.get_response(request)
            except LoginBusy:  # one of a flood of tries at once: not checked, not counted
                return _locked_out(request, BUSY_RETRY_SECONDS)
            # signed in (302: on, or to the second factor), or answered as a name not known here is
            return response if not held or response.status_code == 302 else _locked_out(request, held)
        return self.get_response(request)


class SecondFactorMiddleware:
    """With ECG_REQUIRE_2FA, a user whose role needs a second factor sees no page until they passed it.

    Pages (the admin site and the review pages among them) redirect to the TOTP step; on the API an
    unverified session counts as no login at all, while API tokens work as before.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not (settings.ECG_REQUIRE_2FA and has_session_cookie(request)):
            return self.get_response(request)
        user = request.user
        if (
            user.is_authenticated
            and user.needs_second_factor
            and not user.is_verified()
            and not request.path_info.startswith(SECOND_FACTOR_EXEMPT)
        ):
            if request.path_info.startswith("/api/"):
                request.user = AnonymousUser()
                return self.get_response(request)
            return to_page(request, f"{reverse('two-factor')}?{urlencode({'next': _page_path(request)})}")
        return self.get_response(request)
