"""Domain errors: what a service refuses, in words for people, without any HTTP.

Each channel maps them to a response in one place: the API in ``api.exceptions.exception_handler``,
the pages in ``ecgsite.middleware.ApplicationErrorMiddleware`` (forms may show one beside a field).
"""


class ApplicationError(Exception):
    """A rule of the application refused the request; ``message`` says why, ``field`` names the input."""

    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class Invalid(ApplicationError):
    """The input is malformed or breaks a rule of its content."""


class NotAllowed(ApplicationError):
    """The user may not do this (role or clinic)."""

    code = "permission_denied"


class NotFound(ApplicationError):
    code = "not_found"


class Conflict(ApplicationError):
    """The request clashes with the current state (a taken key, a state that does not allow it)."""

    code = "conflict"


class UploadRefused(Invalid):
    """An upload whose content cannot be accepted; nothing of it is stored."""

    code = "invalid_upload"

    def __init__(self, message: str, *, field: str | None = "file", code: str | None = None):
        super().__init__(message, field=field, code=code)


class UploadTooLarge(UploadRefused):
    code = "payload_too_large"


class UnsupportedUpload(UploadRefused):
    """A file of a kind the application does not read."""

    code = "unsupported_media_type"


class StorageUnavailable(ApplicationError):
    """The server could not store an upload (its disk or store full or failing); nothing of it is kept."""

    code = "storage_unavailable"


class PreconditionFailed(ApplicationError):
    """The resource changed since the client read it (its tag or time, as the client sent it, is no longer the
    resource's): the write is refused, not made over a change the client did not see."""

    code = "precondition_failed"


class MrnTaken(Conflict):
    code = "mrn_taken"

    def __init__(self, message: str = "Another patient of this clinic has this medical record number."):
        super().__init__(message, field="mrn")


class PatientChanged(Conflict):
    """The patient was saved by someone else since the form was opened: saving it would undo their change."""

    code = "patient_changed"

    def __init__(self, current):
        self.current = current
        super().__init__("This patient was changed by someone else since you opened the form.")


class ReviewRefused(Conflict):
    """A review the diagnosis does not admit (it is not flagged for MI)."""

    code = "not_flagged"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"

    def __init__(
        self,
        message: str = "This Idempotency-Key was already used with a different request (another body or endpoint).",
    ):
        super().__init__(message, field="Idempotency-Key")


class ArtifactRegistered(Conflict):
    """An artifact registered already, asked for under another version name or threshold."""

    code = "artifact_registered"


class ModelRejected(Invalid):
    """A model artifact that cannot be registered (unreadable, wrong shape, a taken version)."""

    code = "invalid_model"
