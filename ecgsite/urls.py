import sys

from django.contrib import admin
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import redirect
from django.template import loader
from django.templatetags.static import static
from django.urls import include, path
from django.views import defaults

admin.site.site_header = "ECG Analyzer administration"
admin.site.site_title = "ECG Analyzer admin"


def _admin_password_change(request, extra_context=None):
    # the site's own page: audited, a wrong old password a failed login counted toward the lockout
    # (Django's admin page let a borrowed administrator session guess it freely)
    return redirect("password-change")


admin.site.password_change = _admin_password_change  # type: ignore[method-assign]


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


DATABASE_RETRY_AFTER_SECONDS = 30
# PostgreSQL's codes for a connection lost or refused: connection exceptions (class 08), the server shutting down
# or starting (57P01-57P03), too many connections (53300). Other OperationalErrors (a deadlock, a statement
# cancelled, a disk full) are failures to look into, answered 500 as before.
_UNREACHABLE_CLASS, _UNREACHABLE_CODES = "08", {"57P01", "57P02", "57P03", "53300"}


def _database_out_of_reach(exc: BaseException | None) -> bool:
    """Whether ``exc`` says the database could not be reached (no code from a server: the client could not
    connect, or a code of a connection lost), as opposed to one that answered with an error."""
    if isinstance(exc, InterfaceError):  # the connection already closed
        return True
    if not isinstance(exc, OperationalError) or connection.vendor != "postgresql":
        return False
    code = getattr(exc.__cause__, "pgcode", None)
    return code is None or code.startswith(_UNREACHABLE_CLASS) or code in _UNREACHABLE_CODES


def server_error(request):
    """A failure no view handled (logged by Django before this runs): the API's clients parse
    ``error.code``, so under /api/ it is the API's JSON error; the pages keep the error page.

    The database out of reach (restarting, failing over, its connections used up) is no fault of the request:
    503 with Retry-After, which clients and proxies retry, instead of a 500."""
    if _database_out_of_reach(sys.exc_info()[1]):
        if request.path_info.startswith("/api/"):
            message = "The service cannot reach its database just now; send the request again in a moment."
            response = JsonResponse({"error": {"code": "service_unavailable", "message": message}}, status=503)
        else:
            # rendered without the request: its user would be read from the database again
            response = HttpResponse(loader.get_template("503.html").render(), status=503)
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response
    if request.path_info.startswith("/api/"):
        message = "Internal error; please retry or contact support."
        return JsonResponse({"error": {"code": "server_error", "message": message}}, status=500)
    return defaults.server_error(request)


handler500 = server_error


def favicon(request):
    # resolved per request: the static files' manifest may not exist when the URLs are first imported
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))


# The API first: a path is matched against each include in turn, and each that fails costs an exception.
urlpatterns = [
    path("api/v1/", include("api.urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("patients/", include("patients.urls")),
    path("healthz", healthz, name="healthz"),
    # browsers ask for it on pages that name no icon (the admin's): the site's own, not a 404
    path("favicon.ico", favicon, name="favicon"),
    path("", include("diagnostics.exports")),
    path("", include("diagnostics.urls")),
]
