"""Optional per-token webhooks: a POST to the token's URL whenever a diagnosis of its clinic is written,
whenever a doctor reviews its MI flag or one of its rhythm events, whenever a doctor signs (or amends) a
recording's interpretation, whenever one of its recordings fails, whenever one is moved to another patient, and whenever a doctor corrects its
beats' classes (and the rhythm is recomputed over them).

The body is ``{"event": "diagnosis.created" | "diagnosis.reviewed" | "event.reviewed" | "recording.interpreted",
"recording": id, "diagnosis": id, "mi_status": "screened" | "not_applicable" | "not_assessable", "mi_flag": bool,
"url": the recording's URL}`` (a review's notice adds which decision: `review_detail`, `event_review_detail`; a
signature's which interpretation, by whom and when: `interpretation_detail`), or for a failed recording
``{"event": "recording.failed", "recording": id, "error": the recording's error message, "url": its URL}``, or
for a recording moved ``{"event": "recording.moved", "recording": id, "url": its URL}`` with which patients, why
and when (`move_detail`); a doctor's beat correction made or undone is ``beats.corrected`` (`correction_detail`), and
the rhythm recomputed over it (or given up) ``rhythm.recomputed`` (`rhythm_detail`), each with the diagnosis's body;
every URL absolute at SITE_URL (site_address), signed with ``X-ECG-Signature: sha256=<HMAC-SHA256 of the body>``
keyed with the token's signing secret, shown to the administrator once. The secret is an HMAC of a random
per-token salt under the server's SECRET_KEY, so reading the database is not enough to forge a signature.

The URL is an administrator's input that the server will connect to: it must name a public address
(no loopback, private, link-local, multicast, reserved or unspecified address, IPv4 or IPv6, mapped or
embedded) unless API_WEBHOOK_ALLOWED_HOSTS names it, and use https in production. Delivery checks it
again, connects to the very address it checked (no second DNS answer) and follows no redirect.

A receiver cannot hold a worker (shared with classification) for longer than DEADLINE_SECONDS per
attempt: every wait on its socket is cut to what is left of that, so answering one byte at a time does
not keep the delivery going, and the host's lookup has TIMEOUT_SECONDS of it. The sending lease
(api.services.webhook_sending_lease) is derived from it.
"""

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import math
import socket
import ssl
import threading
import time
from typing import cast
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from rest_framework import serializers

from diagnostics.corrections import beats_corrected, rhythm_recomputed
from diagnostics.models import (
    BeatCorrection,
    Diagnosis,
    ECGRecording,
    EventReview,
    Interpretation,
    RecordingMove,
    Review,
)
from diagnostics.services import recording_failed

from .models import ApiToken

logger = logging.getLogger(__name__)
DIAGNOSIS_CREATED = "diagnosis.created"
DIAGNOSIS_REVIEWED = "diagnosis.reviewed"  # a doctor's decision on the MI flag
EVENT_REVIEWED = "event.reviewed"  # a doctor's decision on a rhythm event
RECORDING_INTERPRETED = "recording.interpreted"  # a doctor signed the recording's interpretation, or amended it
RECORDING_FAILED = "recording.failed"  # the analysis of a recording failed: no diagnosis will come
RECORDING_MOVED = "recording.moved"  # a recording filed under the wrong patient was moved to the right one
BEATS_CORRECTED = (
    "beats.corrected"  # a doctor changed beats' classes, or undid such a change: counts and report amended
)
RHYTHM_RECOMPUTED = "rhythm.recomputed"  # the rhythm over the corrected classes is done (or could not be)
# The notices about a recording rather than its diagnosis (a recording may be moved before it has one).
RECORDING_EVENTS = (RECORDING_FAILED, RECORDING_MOVED)
TIMEOUT_SECONDS = 10  # the longest wait for one step (connecting, a send, a read) of a delivery
# The longest one attempt may take, whatever the receiver does: connecting, sending, its whole answer.
DEADLINE_SECONDS = 15
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class WebhookError(Exception):
    def __init__(self, message: str, *, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


class LookupFailed(OSError):
    """The webhook host's name found no address, or none in time: at delivery, tried again later (a name
    server's outage passes); when an administrator saves the URL, a refusal."""


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


# Lookups under way at once in this process. The system's resolver cannot be interrupted, so a lookup
# that hangs keeps its (daemon) thread until the resolver gives up; these slots bound how many can.
_LOOKUP_SLOTS = threading.BoundedSemaphore(8)


def _resolve_within(host: str, port: int, seconds: float) -> list[str]:
    """`_resolve` given at most ``seconds``: a name server that does not answer held a delivery's worker for
    as long as the system resolver waits (its timeout times its attempts times the name servers), on top
    of the delivery's deadline."""
    started = time.monotonic()
    too_long = LookupFailed(f"the lookup of the webhook host {host!r} took longer than {max(seconds, 0):.0f} s")
    if seconds <= 0:
        raise too_long
    if not _LOOKUP_SLOTS.acquire(timeout=seconds):
        raise LookupFailed(f"no lookup of the webhook host {host!r} could start: too many lookups are waiting")
    answer: dict = {}
    done = threading.Event()

    def look_up() -> None:
        try:
            answer["addresses"] = _resolve(host, port)
        except BaseException as exc:  # handed to the caller
            answer["error"] = exc
        finally:
            _LOOKUP_SLOTS.release()
            done.set()

    try:
        threading.Thread(target=look_up, name="webhook-lookup", daemon=True).start()
    except BaseException:  # no thread could start: the slot is given back, or eight such failures held them all
        _LOOKUP_SLOTS.release()
        raise
    if not done.wait(max(0.0, seconds - (time.monotonic() - started))):
        raise too_long
    if "error" in answer:
        raise answer["error"]
    return answer["addresses"]


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour:
        return ip.sixtofour
    return ip.teredo[1] if ip.teredo else None


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)) is not None:
        return _is_public(inner)
    return ip.is_global and not (
        ip.is_multicast or ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_unspecified
    )


def _allow_listed(host: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    for entry in settings.API_WEBHOOK_ALLOWED_HOSTS:
        entry = entry.strip().lower().rstrip(".")
        if entry == host:
            return True
        try:
            if ip in ipaddress.ip_network(entry.strip("[]"), strict=False):
                return True
        except ValueError:
            continue
    return False


def webhook_url_check(url: str, *, lookup_seconds: float = TIMEOUT_SECONDS, delivering: bool = False) -> tuple:
    """The URL's parts and the addresses to connect to; ValidationError when the URL may not be used. The
    host's lookup takes at most ``lookup_seconds``; when ``delivering``, a lookup that finds no address (or
    none in time) is LookupFailed, to be tried again, not a refusal."""
    parts = urlsplit(url)
    schemes = {"https"} if settings.PRODUCTION else {"https", "http"}
    if parts.scheme not in schemes:
        raise ValidationError(
            f"the webhook URL must use {' or '.join(sorted(schemes))}, not {parts.scheme or 'nothing'!r}"
        )
    if parts.username or parts.password:
        raise ValidationError("the webhook URL must not carry a user name or password")
    try:
        host, port = (parts.hostname or "").rstrip("."), parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValidationError("the webhook URL has a malformed port") from None
    if not host:
        raise ValidationError("the webhook URL names no host")
    try:
        addresses = _resolve_within(host, port, lookup_seconds)
        if not addresses:
            raise LookupFailed(f"the webhook host {host!r} does not resolve to an address")
    except LookupFailed as exc:
        if delivering:
            raise
        raise ValidationError(str(exc)) from None
    for address in addresses:
        ip = ipaddress.ip_address(address)
        if not _is_public(ip) and not _allow_listed(host, ip):
            # The address goes to the log, for the installation's administrator, not into the answer: a clinic's
            # administrator who sets webhooks would otherwise learn what the network's internal names resolve to.
            logger.warning("webhook host %r refused: it resolves to %s, not a public address", host, address)
            raise ValidationError(
                f"the webhook host {host!r} resolves to an address that is not public (loopback, private, "
                "link-local, multicast or reserved); the installation's administrator may list it in "
                "API_WEBHOOK_ALLOWED_HOSTS if the server may reach it"
            )
    return parts, host, port, addresses


def subscribed_tokens(clinic_id: int):
    now = timezone.now()
    return (
        ApiToken.objects.filter(user__clinic_id=clinic_id, user__is_active=True, revoked_at__isnull=True)
        .exclude(webhook_url="")
        .exclude(expires_at__lt=now)
    )


@receiver(post_save, sender=Diagnosis, dispatch_uid="api-diagnosis-webhooks")
def _diagnosis_written(sender, instance: Diagnosis, created: bool, **kwargs):
    if not created:
        return
    from .services import webhook_deliveries_create

    webhook_deliveries_create(diagnosis=instance, tokens=subscribed_tokens(instance.clinic_id))


@receiver(post_save, sender=Review, dispatch_uid="api-review-webhooks")
def _review_written(sender, instance: Review, created: bool, **kwargs):
    """A doctor's decision on an MI flag: the receiving system hears of it as it heard of the diagnosis."""
    if created:
        from .services import webhook_deliveries_create

        tokens = subscribed_tokens(instance.clinic_id)
        webhook_deliveries_create(
            diagnosis=instance.diagnosis, tokens=tokens, event=DIAGNOSIS_REVIEWED, detail=review_detail(instance)
        )


@receiver(post_save, sender=EventReview, dispatch_uid="api-event-review-webhooks")
def _event_review_written(sender, instance: EventReview, created: bool, **kwargs):
    """A doctor's decision on a rhythm event (a VF episode rejected as artefact, say)."""
    if not created:
        return
    diagnosis = Diagnosis.objects.filter(recording_id=instance.event.recording_id).first()
    if diagnosis is not None:
        from .services import webhook_deliveries_create

        tokens = subscribed_tokens(instance.clinic_id)
        webhook_deliveries_create(
            diagnosis=diagnosis, tokens=tokens, event=EVENT_REVIEWED, detail=event_review_detail(instance)
        )


@receiver(post_save, sender=Interpretation, dispatch_uid="api-interpretation-webhooks")
def _interpretation_written(sender, instance: Interpretation, created: bool, **kwargs):
    """A doctor signed the recording's interpretation (or an amendment): the report is now a signed one."""
    if not created:
        return
    diagnosis = Diagnosis.objects.filter(recording_id=instance.recording_id).first()
    if diagnosis is not None:  # always, as only a finished analysis is interpreted
        from .services import webhook_deliveries_create

        tokens = subscribed_tokens(instance.clinic_id)
        webhook_deliveries_create(
            diagnosis=diagnosis, tokens=tokens, event=RECORDING_INTERPRETED, detail=interpretation_detail(instance)
        )


@receiver(recording_failed, dispatch_uid="api-recording-failed-webhooks")
def _recording_failed(sender, recording_id: int, **kwargs):
    """A recording became failed (sent once per failure, in its transaction): the uploader stops waiting."""
    recording = ECGRecording.objects.only("pk", "clinic_id").get(pk=recording_id)
    from .services import webhook_deliveries_create

    tokens = subscribed_tokens(recording.clinic_id)
    webhook_deliveries_create(recording=recording, tokens=tokens, event=RECORDING_FAILED)


@receiver(post_save, sender=RecordingMove, dispatch_uid="api-recording-move-webhooks")
def _recording_moved(sender, instance: RecordingMove, created: bool, **kwargs):
    """A recording was moved to another patient: a receiving system that filed its results under the first one
    corrects its own records."""
    if not created:
        return
    from .services import webhook_deliveries_create

    tokens = subscribed_tokens(instance.clinic_id)
    webhook_deliveries_create(
        recording=instance.recording, tokens=tokens, event=RECORDING_MOVED, detail=move_detail(instance)
    )


@receiver(beats_corrected, dispatch_uid="api-beats-corrected-webhooks")
def _beats_corrected(sender, correction: BeatCorrection, undone: bool, **kwargs):
    """A doctor corrected beats' classes or undid a correction: the counts and the report a system holds are amended
    (the FHIR report reads ``amended``), and its rhythm is being recomputed (``rhythm.recomputed`` follows)."""
    diagnosis = Diagnosis.objects.filter(recording_id=correction.recording_id).first()
    if diagnosis is not None:  # always: only an analysed recording's beats are corrected
        from .services import webhook_deliveries_create

        tokens = subscribed_tokens(correction.clinic_id)
        webhook_deliveries_create(
            diagnosis=diagnosis,
            tokens=tokens,
            event=BEATS_CORRECTED,
            detail=correction_detail(correction, diagnosis, undone=undone),
        )


@receiver(rhythm_recomputed, dispatch_uid="api-rhythm-recomputed-webhooks")
def _rhythm_recomputed(sender, recording_id: int, status: str, reason: str = "", **kwargs):
    """The rhythm over corrected classes was recomputed (its events and summary may have changed: fetch them again;
    the FHIR report is final again) or could not be (the figures stay those from before the correction)."""
    diagnosis = Diagnosis.objects.filter(recording_id=recording_id).first()
    if diagnosis is not None:
        from .services import webhook_deliveries_create

        tokens = subscribed_tokens(diagnosis.clinic_id)
        webhook_deliveries_create(
            diagnosis=diagnosis,
            tokens=tokens,
            event=RHYTHM_RECOMPUTED,
            detail=rhythm_detail(diagnosis, status=status, reason=reason),
        )


def payload(subject: Diagnosis | ECGRecording, event: str = DIAGNOSIS_CREATED, detail: dict | None = None) -> bytes:
    """The notice's body: what happened and where to read it (the receiver fetches the recording, its
    events or its FHIR Bundle, which carry the doctors' decisions). ``subject`` is the diagnosis, or for
    ``recording.failed`` and ``recording.moved`` the recording; ``detail`` (`review_detail`, `event_review_detail`,
    `interpretation_detail`, `move_detail`, `correction_detail`, `rhythm_detail`) says which decision, signature,
    move, correction or recomputation a ``diagnosis.reviewed``, ``event.reviewed``, ``recording.interpreted``,
    ``recording.moved``, ``beats.corrected`` or ``rhythm.recomputed`` notice is about."""
    if isinstance(subject, ECGRecording):
        body = {"event": event, "recording": subject.pk}
        if event == RECORDING_FAILED:
            body["error"] = subject.error_message
        body["url"] = site_address(reverse("api:recording-detail", args=[subject.pk]))
    else:
        body = {
            "event": event,
            "recording": subject.recording_id,
            "diagnosis": subject.pk,
            "mi_status": subject.mi_status,
            "mi_flag": subject.mi_flag,
            "url": site_address(reverse("api:recording-detail", args=[subject.recording_id])),
        }
    return json.dumps({**body, **(detail or {})}).encode()


def site_address(path: str) -> str:
    """``path`` (reverse()'s) as an absolute URL at SITE_URL, as the API's resources give their links: a notice is
    written by a worker or after a request, with no request whose host it could be given at. SITE_URL holds the
    path the site is served under, which reverse() adds in a request made under it."""
    return f"{settings.SITE_URL}/{path.removeprefix(get_script_prefix()).lstrip('/')}"


def _instant(moment) -> str:
    """A time as the API's resources write it (DRF: in TIME_ZONE with its offset, UTC as ``Z``), so a receiver parses
    one form."""
    return serializers.DateTimeField().to_representation(moment)


def review_detail(review: Review) -> dict:
    """A ``diagnosis.reviewed`` notice's own part: which decision (two decisions on one flag had sent
    identical bodies, and after a rejection ``mi_flag`` still reads true: the flag is the screen's)."""
    return {
        "review": review.pk,
        "decision": review.decision,
        "reviewed_at": _instant(review.created_at),
        "review_url": site_address(reverse("api:review-detail", args=[review.pk])),
    }


def event_review_detail(review: EventReview) -> dict:
    """An ``event.reviewed`` notice's own part: the rhythm event decided on and the decision."""
    return {
        "rhythm_event": review.event_id,
        "rhythm_event_type": review.event.type,
        "decision": review.decision,
        "reviewed_at": _instant(review.created_at),
        "events_url": site_address(reverse("api:recording-events", args=[review.event.recording_id])),
    }


def interpretation_detail(interpretation: Interpretation) -> dict:
    """A ``recording.interpreted`` notice's own part: which interpretation, who signed it and when (the text is
    read from the recording or its interpretations, over the API)."""
    return {
        "interpretation": interpretation.pk,
        "signed_by": interpretation.author.display_name,
        "signed_at": _instant(interpretation.created_at),
        "interpretations_url": site_address(
            reverse("api:recording-interpretations", args=[interpretation.recording_id])
        ),
    }


def correction_detail(correction: BeatCorrection, diagnosis: Diagnosis, *, undone: bool) -> dict:
    """A ``beats.corrected`` notice's own part: which correction, made or undone, by whom and when, and the rhythm's
    state then ("recomputing" until ``rhythm.recomputed``; null for a beat file, which has no rhythm)."""
    by, at = (correction.undone_by, correction.undone_at) if undone else (correction.made_by, correction.created_at)
    assert by is not None and at is not None  # (an undone correction has both: for the type checker)
    return {
        "correction": correction.pk,
        "action": "undone" if undone else "made",
        "to_class": correction.to_class,
        "family": correction.family,
        "beats_changed": correction.beats_changed,
        "by": by.display_name,
        "at": _instant(at),
        "rhythm_status": diagnosis.rhythm_status,
        "correction_url": site_address(
            reverse("api:recording-beat-correction", args=[correction.recording_id, correction.pk])
        ),
    }


def rhythm_detail(diagnosis: Diagnosis, *, status: str, reason: str) -> dict:
    """A ``rhythm.recomputed`` notice's own part: "current" (the events and summary are over the classes as
    corrected: read them again) or "failed" with the reason (they stay those from before the correction)."""
    current = status == "current"
    return {
        "rhythm_status": status,
        "reason": None if current else reason,
        "recomputed_at": _instant(diagnosis.rhythm_recomputed_at)
        if current and diagnosis.rhythm_recomputed_at
        else None,
        "events_url": site_address(reverse("api:recording-events", args=[diagnosis.recording_id])),
    }


def move_detail(move: RecordingMove) -> dict:
    """A ``recording.moved`` notice's own part: from which patient to which, why and when, fixed as the move was
    made (the patients' names are read over the API, not sent)."""
    return {
        "move": move.pk,
        "from_patient": move.from_patient_id,
        "to_patient": move.to_patient_id,
        "from_patient_url": site_address(reverse("api:patient-detail", args=[move.from_patient_id])),
        "to_patient_url": site_address(reverse("api:patient-detail", args=[move.to_patient_id])),
        "reason": move.reason,
        "moved_at": _instant(move.created_at),
        "moves_url": site_address(reverse("api:recording-moves", args=[move.recording_id])),
    }


def signing_secret(token: ApiToken) -> str:
    if not token.webhook_salt:
        raise WebhookError(f"token {token.prefix} has no webhook signing secret; set its webhook URL again")
    return salted_hmac("ecg-analyzer.webhook", token.webhook_salt, algorithm="sha256").hexdigest()


def signature(token: ApiToken, body: bytes) -> str:
    return "sha256=" + hmac.new(signing_secret(token).encode(), body, hashlib.sha256).hexdigest()


class _DeadlineSocket(socket.socket):
    """A socket whose every wait is at most TIMEOUT_SECONDS and at most what is left before ``deadline``
    (time.monotonic()), past which it raises socket.timeout: a timeout per read alone lets a receiver
    that answers one byte every few seconds keep the delivery going for as long as it likes."""

    deadline = math.inf

    def shorten_timeout(self) -> None:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise self._overrun()
        self.settimeout(min(TIMEOUT_SECONDS, remaining))

    def _overrun(self) -> TimeoutError:
        return TimeoutError(f"the receiver took longer than the {DEADLINE_SECONDS} s deadline of a delivery")

    def within_deadline(self, operation, *args, **kwargs):
        self.shorten_timeout()
        try:
            return operation(*args, **kwargs)
        except TimeoutError:
            if time.monotonic() >= self.deadline:  # the deadline, not a silence of TIMEOUT_SECONDS: say so
                raise self._overrun() from None
            raise

    def connect(self, *args, **kwargs):
        return self.within_deadline(super().connect, *args, **kwargs)

    def send(self, *args, **kwargs):
        return self.within_deadline(super().send, *args, **kwargs)

    def sendall(self, *args, **kwargs):
        return self.within_deadline(super().sendall, *args, **kwargs)

    def recv(self, *args, **kwargs):
        return self.within_deadline(super().recv, *args, **kwargs)

    def recv_into(self, *args, **kwargs):
        return self.within_deadline(super().recv_into, *args, **kwargs)


class _DeadlineSSLSocket(_DeadlineSocket, ssl.SSLSocket):
    """As above over TLS (http.client reads through recv_into, which the deadline comes before)."""


def _connect(address: str, port: int, deadline: float) -> _DeadlineSocket:
    """A TCP connection to ``address``, an IP address checked beforehand (never a name to resolve)."""
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    sock = _DeadlineSocket(family, socket.SOCK_STREAM)
    sock.deadline = deadline
    try:
        sock.connect((address, port))
    except BaseException:
        sock.close()
        raise
    return sock


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to an address checked beforehand; the Host header still names the host. No wait on the
    receiver goes past ``deadline`` (time.monotonic())."""

    def __init__(self, host: str, port: int, address: str, *, deadline: float, **kwargs):
        super().__init__(host, port, **kwargs)
        self._address = address
        self._deadline = deadline

    def connect(self):
        self.sock = _connect(self._address, self.port, self._deadline)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """As above, with TLS verified against the host's name."""

    def __init__(self, host: str, port: int, address: str, *, deadline: float, **kwargs):
        context = ssl.create_default_context()
        context.sslsocket_class = _DeadlineSSLSocket
        super().__init__(host, port, context=context, **kwargs)
        self._address = address
        self._deadline = deadline

    def connect(self):
        sock = _connect(self._address, self.port, self._deadline)
        # The handshake waits at most what is left (the TLS socket takes the timeout over).
        tls = cast(_DeadlineSSLSocket, sock.within_deadline(self._context.wrap_socket, sock, server_hostname=self.host))
        tls.deadline = self._deadline
        self.sock = tls


def timed_signature(token: ApiToken, timestamp: str, body: bytes) -> str:
    """The signature of ``timestamp`` "." ``body``: a receiver that checks it and refuses old timestamps
    refuses a notice replayed later (the body's own signature alone cannot tell)."""
    message = timestamp.encode() + b"." + body
    return "sha256=" + hmac.new(signing_secret(token).encode(), message, hashlib.sha256).hexdigest()


def post(
    token: ApiToken,
    subject: Diagnosis | ECGRecording,
    event: str = DIAGNOSIS_CREATED,
    delivery_id: int | None = None,
    detail: dict | None = None,
) -> int:
    """POST the notice; its status code, or WebhookError for another answer, socket.timeout past
    DEADLINE_SECONDS (counted from here: the URL's check again, its lookup included, takes part of it),
    LookupFailed or another OSError."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    parts, host, port, addresses = webhook_url_check(
        token.webhook_url, lookup_seconds=min(TIMEOUT_SECONDS, DEADLINE_SECONDS), delivering=True
    )
    body = payload(subject, event, detail)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-ECG-Signature": signature(token, body),
        "X-ECG-Timestamp": timestamp,
        "X-ECG-Signature-Timed": timed_signature(token, timestamp, body),
        "User-Agent": "ecg-analyzer",
    }
    if delivery_id is not None:  # the same on every attempt: a receiver drops a notice it already has
        headers["X-ECG-Delivery"] = str(delivery_id)
    connection_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(host, port, addresses[0], deadline=deadline, timeout=TIMEOUT_SECONDS)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers=headers)
        status = connection.getresponse().status
    finally:
        connection.close()
    if not 200 <= status < 300:
        raise WebhookError(f"the receiver answered {status}; redirects are not followed", status_code=status)
    return status
