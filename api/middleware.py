from django.middleware.gzip import GZipMiddleware
from django.urls import Resolver404, resolve
from django.utils.cache import patch_vary_headers

API_PREFIX = "/api/"


class TrailingSlashMiddleware:
    """API paths are written without a trailing slash; integration engines often add one. Such a
    path is served as if it had none (no redirect, which would lose a POST's body) when only the
    slash stops it from matching an endpoint."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path.startswith(API_PREFIX) and path.endswith("/") and len(path) > len(API_PREFIX):
            try:
                unmatched = resolve(path).url_name == "not-found"
            except Resolver404:
                unmatched = True
            if unmatched:
                request.path_info = path.rstrip("/")
        return self.get_response(request)


class CompressionMiddleware(GZipMiddleware):
    """API answers compressed for a client that accepts gzip (a 30-minute recording's FHIR Bundle is
    megabytes of JSON and SampledData digits, its beats page hundreds of rows). Only the API: the staff
    pages carry a CSRF token beside what a user typed, which compression would expose to a BREACH-style
    guess. Django marks the ETag weak (``W/``); the API compares tags weakly (``api.views.base``), so a
    tag read compressed still matches in If-None-Match and If-Match."""

    def process_response(self, request, response):
        if not request.path_info.startswith(API_PREFIX):
            return response
        if _gzip_refused(request.META.get("HTTP_ACCEPT_ENCODING", "")):
            patch_vary_headers(response, ("Accept-Encoding",))  # as a compressed answer would say
            return response
        return super().process_response(request, response)


def _gzip_refused(accept_encoding: str) -> bool:
    """Whether the client names gzip with q=0 (RFC 9110 12.5.3: not acceptable), which Django's middleware, looking
    for the word alone, read as asking for it."""
    for part in accept_encoding.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() == "gzip":
            for param in params.split(";"):
                name, _, value = param.strip().partition("=")
                if name.strip().lower() == "q":
                    try:
                        return float(value) == 0.0
                    except ValueError:
                        return False
    return False
