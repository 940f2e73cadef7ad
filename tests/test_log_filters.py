"""A refused request is logged as a line, not with a traceback; a server error keeps its traceback."""

import logging

import pytest
from django.urls import reverse

from .conftest import client_for


@pytest.mark.django_db
def test_a_403_is_logged_without_its_traceback(client, staff_a, caplog):
    client_for(client, staff_a)
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get(reverse("review-queue"))  # staff may not review
    assert response.status_code == 403
    refused = [r for r in caplog.records if r.name == "django.request" and getattr(r, "status_code", None) == 403]
    assert refused and all(r.exc_info is None for r in refused)
    assert "Traceback" not in caplog.text and "Forbidden" in caplog.text


def test_a_server_errors_traceback_is_kept():
    from ecgsite.log_filters import RefusalWithoutTraceback

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record = logging.LogRecord(
            "django.request", logging.ERROR, __file__, 1, "Internal Server Error", (), sys.exc_info()
        )
    record.status_code = 500
    assert RefusalWithoutTraceback().filter(record) and record.exc_info is not None
