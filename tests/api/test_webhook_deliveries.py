"""Webhook deliveries are logged with every attempt, retried with back-off by the periodic sweep, and
shown to administrators; a receiver that keeps failing ends the delivery failed."""

import time

import pytest

from api.models import WebhookDelivery
from api.services import api_token_create, webhook_deliveries_due

from ..helpers import http_receiver
from .conftest import classify_by_hand, submit_beats

pytestmark = pytest.mark.django_db


@pytest.fixture
def flaky_receiver():
    """A local HTTP server answering 503 to the first ``failures[0]`` POSTs, then 204."""
    received: list[float] = []
    failures = [2]

    def answer(headers, body):
        received.append(time.time())
        return 503 if len(received) <= failures[0] else 204

    with http_receiver(answer) as url:
        yield url, received, failures


@pytest.fixture
def deliver_here(deliver_here, settings):
    """Delivery tasks in this process (no worker), as the worker would run them, retried after a second."""
    settings.API_WEBHOOK_RETRY_SECONDS = 1


def diagnose(staff, patient, models, django_capture_on_commit_callbacks):
    recording = submit_beats(staff, patient)
    with django_capture_on_commit_callbacks(execute=True):
        return classify_by_hand(recording, models)


def wait_due(delivery: WebhookDelivery) -> None:
    delivery.refresh_from_db()
    time.sleep(max(0.0, (delivery.next_retry_at.timestamp() - time.time())) + 0.05)


def test_a_failing_endpoint_sees_its_retries_logged_with_back_off(
    flaky_receiver, deliver_here, staff_a, patient_a, active_models, django_capture_on_commit_callbacks
):
    url, received, _failures = flaky_receiver
    api_token_create(user=staff_a, webhook_url=url)
    diagnosis = diagnose(staff_a, patient_a, active_models, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get(diagnosis=diagnosis)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("retrying", 1, 503)
    assert "503" in delivery.last_error
    assert (delivery.next_retry_at - delivery.last_attempt_at).total_seconds() == 1  # API_WEBHOOK_RETRY_SECONDS
    assert webhook_deliveries_due() == 0  # not yet due
    wait_due(delivery)
    assert webhook_deliveries_due() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("retrying", 2, 503)
    assert (delivery.next_retry_at - delivery.last_attempt_at).total_seconds() == 2  # backs off
    wait_due(delivery)
    assert webhook_deliveries_due() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("sent", 3, 204)
    assert delivery.sent_at is not None and delivery.next_retry_at is None and delivery.last_error == ""
    assert len(received) == 3
    assert webhook_deliveries_due() == 0  # nothing more to send


def test_a_receiver_that_keeps_failing_ends_the_delivery_failed(
    flaky_receiver, deliver_here, settings, staff_a, patient_a, active_models, django_capture_on_commit_callbacks
):
    url, received, failures = flaky_receiver
    failures[0] = 100
    settings.API_WEBHOOK_MAX_ATTEMPTS = 2
    api_token_create(user=staff_a, webhook_url=url)
    diagnosis = diagnose(staff_a, patient_a, active_models, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get(diagnosis=diagnosis)
    wait_due(delivery)
    webhook_deliveries_due()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_retry_at) == ("failed", 2, None)
    assert len(received) == 2
    assert webhook_deliveries_due() == 0


def test_administrators_see_the_delivery_log_of_their_clinic_only(
    client,
    flaky_receiver,
    deliver_here,
    admin_a,
    staff_a,
    staff_b,
    patient_a,
    patient_b,
    active_models,
    django_capture_on_commit_callbacks,
):
    url, _received, _failures = flaky_receiver
    api_token_create(user=staff_a, webhook_url=url)
    api_token_create(user=staff_b, webhook_url=url + "/b")
    mine = diagnose(staff_a, patient_a, active_models, django_capture_on_commit_callbacks)
    diagnose(staff_b, patient_b, active_models, django_capture_on_commit_callbacks)
    assert WebhookDelivery.objects.count() == 2
    client.force_login(admin_a)
    page = client.get("/admin/api/webhookdelivery/").content.decode()
    assert "retrying" in page and url in page and url + "/b" not in page
    delivery = WebhookDelivery.objects.get(diagnosis=mine)
    detail = client.get(f"/admin/api/webhookdelivery/{delivery.pk}/change/")
    assert detail.status_code == 200 and "503" in detail.content.decode()
    assert client.post(f"/admin/api/webhookdelivery/{delivery.pk}/delete/", {"post": "yes"}).status_code == 403


def _end_other_sessions() -> None:
    """End every other session of the test database, as a PostgreSQL restart does, from a connection of its own."""
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_notice_received_while_the_database_restarts_is_logged_sent_and_not_sent_again(
    deliver_here, staff_a, patient_a, active_models, django_capture_on_commit_callbacks
):
    """The receiver has the notice, and the database drops the worker's connection before the outcome is written:
    the delivery had stayed claimed and unsent, and the sweep sent it again once its lease ran out."""
    received: list[str] = []

    def answer(headers, body):
        received.append(headers["x-ecg-delivery"])
        _end_other_sessions()  # the delivering worker's connection among them
        return 204

    with http_receiver(answer) as url:
        api_token_create(user=staff_a, webhook_url=url)
        diagnosis = diagnose(staff_a, patient_a, active_models, django_capture_on_commit_callbacks)
        delivery = WebhookDelivery.objects.get(diagnosis=diagnosis)
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("sent", 1, 204)
        assert delivery.next_retry_at is None and delivery.sent_at is not None
        # past the sending lease: the sweep finds nothing to send again
        WebhookDelivery.objects.filter(pk=delivery.pk).update(created_at=delivery.created_at.replace(year=2000))
        assert webhook_deliveries_due() == 0
    assert received == [str(delivery.pk)]
