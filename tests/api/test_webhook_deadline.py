"""A webhook receiver cannot hold a worker (shared with classification) past one attempt's deadline, and
the sweep never sends a delivery again while an attempt at it may still be running.

The receivers here are real servers on this machine speaking HTTP by hand, over TLS too: one answers a
byte every DRIP_SECONDS, one never answers."""

import datetime
import ipaddress
import socket
import socketserver
import ssl
import threading
import time
from contextlib import contextmanager

import pytest
from django.db import connection
from django.utils import timezone

from api import webhooks
from api.models import WebhookDelivery
from api.services import api_token_create, webhook_deliver, webhook_deliveries_due, webhook_sending_lease

from .conftest import submit_beats

DEADLINE = 2  # seconds, for the tests: the production deadline is webhooks.DEADLINE_SECONDS
DRIP_SECONDS = 0.5
DRIP_FOR_SECONDS = 30
# The start of an answer that would take DRIP_FOR_SECONDS at one byte every DRIP_SECONDS, never complete.
DRIPPED = (b"HTTP/1.1 204 No Content\r\nX-Drip: " + b"." * 100)[: int(DRIP_FOR_SECONDS / DRIP_SECONDS)]


class Receiver(socketserver.ThreadingTCPServer):
    """Records each POST (its headers) and answers the first ``slow`` of them as ``manner`` says:
    "drip" (a header byte every DRIP_SECONDS) or "silent" (nothing, for DRIP_FOR_SECONDS); later ones 204."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, manner: str, tls: ssl.SSLContext | None = None, slow: int = 1):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.manner, self.tls, self.slow = manner, tls, slow
        self.posts: list[bytes] = []
        self.posted = threading.Event()
        self.stopping = threading.Event()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.server_address[1]}/hook"


class _Handler(socketserver.BaseRequestHandler):
    server: Receiver

    def handle(self):
        sock = self.request
        sock.settimeout(DRIP_FOR_SECONDS)
        if self.server.tls is not None:
            sock = self.server.tls.wrap_socket(sock, server_side=True)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(65536)
            if not chunk:
                return
            head += chunk
        headers, body = head.split(b"\r\n\r\n", 1)
        length = next(
            int(line.split(b":")[1]) for line in headers.split(b"\r\n") if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += sock.recv(65536)
        self.server.posts.append(headers)
        self.server.posted.set()
        if len(self.server.posts) > self.server.slow:
            sock.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
        elif self.server.manner == "silent":
            self.server.stopping.wait(DRIP_FOR_SECONDS)
        else:
            for byte in DRIPPED:
                if self.server.stopping.wait(DRIP_SECONDS):
                    break
                try:
                    sock.sendall(bytes([byte]))
                except OSError:  # the delivery gave up and closed its end
                    break
        sock.close()


@contextmanager
def running(receiver: Receiver):
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        yield receiver
    finally:
        receiver.stopping.set()
        receiver.shutdown()
        receiver.server_close()


def tls_contexts(directory) -> tuple[ssl.SSLContext, str]:
    """A server context whose certificate, for 127.0.0.1, is signed by a CA of its own; and that CA's file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def certificate(subject, issuer, public_key, signing_key, *, ca: bool, san=None):
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san is not None:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("webhook test CA", "webhook test CA", ca_key.public_key(), ca_key, ca=True)
    leaf = certificate(
        "127.0.0.1",
        "webhook test CA",
        key.public_key(),
        ca_key,
        ca=False,
        san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca.public_bytes(pem))
    (directory / "leaf.pem").write_bytes(
        leaf.public_bytes(pem) + key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(directory / "leaf.pem")
    return server, str(directory / "ca.pem")


@pytest.fixture
def quick_deadline(monkeypatch, settings):
    """Deliveries to this machine, in this process (no worker), with a deadline of DEADLINE seconds."""
    from api.tasks import deliver_webhook

    settings.API_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]  # the receiver runs on this machine
    settings.API_WEBHOOK_RETRY_SECONDS = 1
    monkeypatch.setattr(webhooks, "DEADLINE_SECONDS", DEADLINE)
    monkeypatch.setattr(deliver_webhook, "delay", lambda *args: deliver_webhook.apply(args=args))


def failure_notice(staff, patient, url: str) -> WebhookDelivery:
    """A logged, not yet sent ``recording.failed`` notice to ``url``."""
    token, _secret = api_token_create(user=staff, webhook_url=url)
    recording = submit_beats(staff, patient)
    return WebhookDelivery.objects.create(
        token=token, clinic_id=recording.clinic_id, recording=recording, url=url, event=webhooks.RECORDING_FAILED
    )


@pytest.mark.django_db
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_receiver_dripping_its_answer_ends_the_attempt_at_the_deadline(
    scheme, quick_deadline, staff_a, patient_a, tmp_path, monkeypatch
):
    # one header byte every 0.5 s for 30 s: each read is quick, so a timeout per read never fired and a
    # worker stayed busy for the whole drip
    tls = None
    if scheme == "https":
        tls, ca_file = tls_contexts(tmp_path)
        monkeypatch.setenv("SSL_CERT_FILE", ca_file)  # the delivery verifies the receiver against this CA
    with running(Receiver("drip", tls)) as receiver:
        delivery = failure_notice(staff_a, patient_a, receiver.url)
        started = time.monotonic()
        assert webhook_deliver(delivery_id=delivery.pk) == "retrying"
        elapsed = time.monotonic() - started
    assert DEADLINE <= elapsed < 3 * DEADLINE  # loose: the machine is shared
    assert len(receiver.posts) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("retrying", 1, None)
    assert delivery.last_error.startswith("TimeoutError") and "deadline" in delivery.last_error
    assert (delivery.next_retry_at - delivery.last_attempt_at).total_seconds() == 1  # the usual back-off


@pytest.mark.django_db
def test_a_silent_receiver_is_waited_for_no_longer_than_the_deadline_leaves(
    quick_deadline, staff_a, patient_a, monkeypatch
):
    monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 30)  # a wait for one read is cut to what is left
    with running(Receiver("silent")) as receiver:
        delivery = failure_notice(staff_a, patient_a, receiver.url)
        started = time.monotonic()
        assert webhook_deliver(delivery_id=delivery.pk) == "retrying"
        elapsed = time.monotonic() - started
    assert DEADLINE * 0.9 <= elapsed < 3 * DEADLINE
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and "TimeoutError" in delivery.last_error


def test_the_sending_lease_outlasts_the_deadline():
    assert webhook_sending_lease() >= datetime.timedelta(seconds=webhooks.DEADLINE_SECONDS + 30)


@pytest.mark.django_db(transaction=True)  # the attempt runs in a thread of its own, on its own connection
def test_the_sweep_does_not_send_a_notice_again_while_an_attempt_at_it_runs(quick_deadline, staff_a, patient_a):
    outcome: list[str] = []

    def worker(delivery_id: int):
        try:
            outcome.append(webhook_deliver(delivery_id=delivery_id))
        finally:
            connection.close()

    with running(Receiver("drip")) as receiver:
        delivery = failure_notice(staff_a, patient_a, receiver.url)
        first = threading.Thread(target=worker, args=(delivery.pk,))
        first.start()
        assert receiver.posted.wait(10)
        # mid-POST: the attempt is counted and the lease outlasts what is left of it
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("pending", 1)
        assert delivery.next_retry_at > timezone.now() + datetime.timedelta(seconds=DEADLINE)
        assert webhook_deliveries_due() == 0
        assert webhook_deliver(delivery_id=delivery.pk) == "not-due"  # a message sent again meanwhile
        mid_post = WebhookDelivery.objects.filter(pk=delivery.pk).values().get()
        first.join(3 * DEADLINE)
        assert not first.is_alive() and outcome == ["retrying"]
        assert len(receiver.posts) == 1

        # Had the worker been killed mid-POST, its row would have stayed as it was then: once the lease
        # runs out the sweep sends it again, and the log shows the two POSTs.
        mid_post["next_retry_at"] = timezone.now() - datetime.timedelta(seconds=1)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(**mid_post)
        assert webhook_deliveries_due() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("sent", 2, 204)
    assert len(receiver.posts) == 2
    assert len({line for post in receiver.posts for line in post.split(b"\r\n") if b"X-ECG-Delivery" in line}) == 1


def test_the_delivery_socket_refuses_to_wait_past_its_deadline():
    # what every send and read of an attempt goes through
    sock = webhooks._DeadlineSocket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.deadline = time.monotonic() + 60
        sock.shorten_timeout()
        assert sock.gettimeout() == webhooks.TIMEOUT_SECONDS
        sock.deadline = time.monotonic() + 1
        sock.shorten_timeout()
        assert 0 < sock.gettimeout() <= 1
        sock.deadline = time.monotonic() - 1
        with pytest.raises(socket.timeout, match="deadline"):
            sock.recv(1)  # not even tried
    finally:
        sock.close()


@pytest.mark.django_db
def test_a_delivery_whose_attempts_are_spent_is_given_up_not_sent_again(settings, staff_a, done_recording):
    from datetime import timedelta

    from django.utils import timezone

    from api.models import WebhookDelivery
    from api.services import api_token_create, webhook_deliver

    settings.API_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    token, _ = api_token_create(user=staff_a, webhook_url="http://127.0.0.1:9/hook")
    delivery = WebhookDelivery.objects.create(
        token=token,
        clinic=done_recording.clinic,
        diagnosis=done_recording.diagnosis,
        recording=done_recording,
        event="diagnosis.created",
        url=token.webhook_url,
        status=WebhookDelivery.Status.PENDING,
        attempts=settings.API_WEBHOOK_MAX_ATTEMPTS,  # the last one's worker was killed mid-POST
        next_retry_at=timezone.now() - timedelta(seconds=1),
    )
    assert webhook_deliver(delivery_id=delivery.pk) == "failed"
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED and delivery.attempts == settings.API_WEBHOOK_MAX_ATTEMPTS
    assert "Given up after" in delivery.last_error


@pytest.mark.django_db
def test_a_name_server_that_does_not_answer_ends_the_attempt_within_the_lookups_time(
    quick_deadline, staff_a, patient_a, monkeypatch
):
    # the system resolver (which no test here can make hang) stands in for a name server that never answers:
    # its wait came on top of the deadline, as long as the resolver's timeouts times its attempts and servers
    monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 1)
    delivery = failure_notice(staff_a, patient_a, "http://127.0.0.1:9/hook")
    unanswered = threading.Event()
    monkeypatch.setattr(webhooks, "_resolve", lambda host, port: unanswered.wait(DRIP_FOR_SECONDS) and [])
    started = time.monotonic()
    try:
        assert webhook_deliver(delivery_id=delivery.pk) == "retrying"  # a name server's outage passes
        elapsed = time.monotonic() - started
    finally:
        unanswered.set()
    assert 0.9 <= elapsed < 3 * DEADLINE
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("retrying", 1)
    assert "lookup of the webhook host '127.0.0.1' took longer than 1 s" in delivery.last_error


@pytest.mark.django_db
def test_a_name_without_an_address_at_delivery_is_tried_again_and_refused_when_saved(
    quick_deadline, staff_a, patient_a, monkeypatch
):
    from django.core.exceptions import ValidationError

    monkeypatch.setattr(webhooks, "_resolve", lambda host, port: ["93.184.216.34"])  # when it was saved
    delivery = failure_notice(staff_a, patient_a, "http://hooks.example.org/hook")
    monkeypatch.setattr(webhooks, "_resolve", lambda host, port: [])  # NXDOMAIN, or a resolver's failure
    assert webhook_deliver(delivery_id=delivery.pk) == "retrying"  # it had been given up for good at once
    delivery.refresh_from_db()
    assert delivery.status == "retrying" and "does not resolve to an address" in delivery.last_error
    with pytest.raises(ValidationError, match="does not resolve to an address"):  # the administrator's form
        webhooks.webhook_url_check("http://hooks.example.org/hook")
