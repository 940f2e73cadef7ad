"""Every error is JSON: ``{"error": {"code": <stable>, "message": <for people>, "field": …, "details": …}}``."""

from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ecgsite.errors import ApplicationError
from ecgsite.http import status_for

STORAGE_RETRY_AFTER_SECONDS = 60


class ApiError(exceptions.APIException):
    """An error with an explicit status and stable code."""

    def __init__(self, message: str, *, status_code: int = 400, code: str = "invalid", field: str | None = None):
        super().__init__(message, code)
        self.status_code = status_code
        self.field = field


class Conflict(ApiError):
    def __init__(self, message: str, *, code: str = "conflict", field: str | None = None):
        super().__init__(message, status_code=status.HTTP_409_CONFLICT, code=code, field=field)


def _first_message(detail) -> tuple[str, str | None]:
    """The first human message of a DRF error detail, and the field it belongs to."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            message, sub = _first_message(value)
            field = key if key != "non_field_errors" else None
            if sub and field:
                field = f"{field}.{sub}"
            return message, field or sub
    if isinstance(detail, list) and detail:
        message, sub = _first_message(detail[0])
        return message, sub
    return str(detail), None


STATUS_CODES = {
    400: "validation_error",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "throttled",
}


def _as_lists(detail):
    """A validation error's details in one shape, a serializer's: every field's messages as a list of strings
    (``{"type": "Unknown event type"}`` beside ``{"mrn": ["This field is required."]}`` had made a client handle
    both); a nested field's errors stay nested."""
    if isinstance(detail, dict):
        return {str(key): _as_lists(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_as_lists(item) if isinstance(item, (dict, list)) else str(item) for item in detail]
    return [str(detail)]


def _body(code: str, message: str, field: str | None = None, details=None) -> dict:
    error = {"code": code, "message": message}
    if field:
        error["field"] = field
    if details is not None:
        error["details"] = details
    return {"error": error}


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        # a rule's refusal of a field carries the same details as a serializer's (README: {"field": [messages]})
        details = {exc.field: [exc.message]} if exc.code == "validation_error" and exc.field else None
        response = Response(_body(exc.code, exc.message, exc.field, details), status=status_for(exc))
        if response.status_code == 503:  # the storage full or failing: a client's retry waits this long first
            response["Retry-After"] = str(STORAGE_RETRY_AFTER_SECONDS)
        return response
    if isinstance(exc, RequestDataTooBig):
        return Response(_body("payload_too_large", "The request body is too large."), status=413)
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return Response(_body("payload_too_large", str(exc) or "Too many fields or files."), status=413)
    if isinstance(exc, DjangoValidationError):
        messages = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        message, field = _first_message(messages)
        return Response(_body("validation_error", message, field, _as_lists(messages)), status=400)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = STATUS_CODES.get(response.status_code, "error")
    field = getattr(exc, "field", None)
    details = None
    if isinstance(exc, exceptions.ValidationError):
        message, field = _first_message(exc.detail)
        details = _as_lists(exc.detail)
    elif isinstance(exc, ApiError):
        code = exc.get_codes()
        message = str(exc.detail)
    else:
        message = str(exc.detail) if hasattr(exc, "detail") else str(exc)
        if isinstance(exc, exceptions.AuthenticationFailed):
            code = "authentication_failed"
        elif isinstance(exc, exceptions.ParseError):
            code = "parse_error"
    response.data = _body(code, message, field, details)
    return response
