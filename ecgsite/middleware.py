"""Response headers that hold in every mode (Django 5.2 has no Content-Security-Policy of its own)."""

from . import housekeeping

# Scripts and styles come only from our static files: no inline <script>, <style>, style= or on*= handlers.
# data: images are the icons inside Swagger UI's and the admin's style sheets.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in [
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "hid",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    ]
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        # Pages hold patient data: no copy kept by the browser (disk cache, back/forward cache) for the
        # next person at a shared clinic computer. Static files and the API's ETag reads set their own.
        response.headers.setdefault("Cache-Control", "no-store")
        return response


class TemporaryLeftoversMiddleware:
    """Sweeps this host's temporary folders left by a web process killed while reading an upload (see
    ecgsite.housekeeping.temporary_leftovers_remove_due): at the process's first request, then every interval."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        housekeeping.temporary_leftovers_remove_due()
        return self.get_response(request)


# Routes that take files, by URL name, and the body each may send; every other route at most SMALL_BODY_BYTES.
SMALL_BODY_BYTES = 1024 * 1024
_UPLOAD_ROUTES = {"recording-upload", "api:recording-list"}
_MODEL_ROUTES = {"api:model-version-list", "admin:mlmodels_modelversion_add"}


def body_limit(url_name: str) -> int:
    """The most a request to ``url_name`` may send, multipart's own bytes included: twice the upload limit on
    upload routes (so that the upload's own check, which names the sizes and says a .zip may fit, answers a
    record somewhat over it), the model limit and a MiB on model routes, SMALL_BODY_BYTES elsewhere."""
    from django.conf import settings

    if url_name in _UPLOAD_ROUTES:
        return 2 * settings.ECG_MAX_UPLOAD_BYTES + SMALL_BODY_BYTES
    if url_name in _MODEL_ROUTES:
        return settings.API_MAX_MODEL_BYTES + SMALL_BODY_BYTES
    return SMALL_BODY_BYTES


class RequestBodyLimitMiddleware:
    """413 for a body its Content-Length says is larger than its route takes, before anything reads it.

    Django bounds form fields (DATA_UPLOAD_MAX_MEMORY_SIZE) but not files, which it writes to a temporary
    file as they come: a 400 MiB POST to the login page, with no session or CSRF token, was written whole
    before the CSRF check refused it (reading the token parses the body). A body without a Content-Length
    is not read by Django at all."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > SMALL_BODY_BYTES:
            limit = max(body_limit(_view_name(path)) for path in _spellings(request.path_info))
            if length > limit:
                return _too_large(request, length, limit)
        return self.get_response(request)


def _spellings(path: str) -> tuple[str, ...]:
    # the API takes its paths with a trailing slash too (api.middleware.TrailingSlashMiddleware, later in the chain)
    return (path, path[:-1]) if path.startswith("/api/") and path.endswith("/") else (path,)


def _view_name(path: str) -> str:
    from django.urls import Resolver404, resolve

    try:
        return resolve(path).view_name
    except Resolver404:
        return ""


def _too_large(request, length: int, limit: int):
    from django.http import HttpResponse, JsonResponse

    message = f"The request body is {length} bytes; this address takes at most {limit}."
    response: HttpResponse
    if request.path_info.startswith("/api/"):
        response = JsonResponse({"error": {"code": "payload_too_large", "message": message}}, status=413)
    else:
        response = HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
    response["Connection"] = "close"  # the body is not read: the connection cannot carry another request
    return response
