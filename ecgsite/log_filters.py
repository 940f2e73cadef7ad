"""Logging filters of the project's LOGGING setting."""

import logging


class RefusalWithoutTraceback(logging.Filter):
    """Django logs each refused request (403: a role that may not, a CSRF failure) with the traceback of the
    PermissionDenied it raised: a log full of stack frames for what is a decision, not a failure. The line
    stays (the path and status); its traceback goes. A 500's is kept whole."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
