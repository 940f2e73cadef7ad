"""The one table from domain errors to HTTP status codes, shared by the API and the pages."""

from django.shortcuts import render

from .errors import (
    ApplicationError,
    Conflict,
    NotAllowed,
    NotFound,
    PreconditionFailed,
    StorageUnavailable,
    UnsupportedUpload,
    UploadTooLarge,
)

STATUS_BY_ERROR: tuple[tuple[type[ApplicationError], int], ...] = (
    (UploadTooLarge, 413),
    (UnsupportedUpload, 415),
    (NotAllowed, 403),
    (NotFound, 404),
    (Conflict, 409),
    (PreconditionFailed, 412),
    (StorageUnavailable, 503),
    (ApplicationError, 400),
)


def status_for(error: ApplicationError) -> int:
    return next(status for kind, status in STATUS_BY_ERROR if isinstance(error, kind))


class ApplicationErrorMiddleware:
    """Pages: a domain error no view handled becomes an error page with its status and message."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, ApplicationError):
            return None
        return render(request, "error.html", {"message": exception.message}, status=status_for(exception))
