"""The audit trail: who viewed, created, updated, exported or reviewed what, and every login.

Page and API requests are recorded by AuditMiddleware from the route that served them, so a
new route is audited by adding it to AUDITED_ROUTES (tests/accounts/test_audit_coverage.py lists
every route and fails for one that is neither audited nor declared not to touch clinical records).
"""

import ipaddress
import logging
import re
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import DatabaseError, connection
from django.db.models import Q
from django.dispatch import receiver

from .models import AuditEvent

logger = logging.getLogger(__name__)

# view name → (object type, URL keyword naming the object, action of a successful write)
A = AuditEvent.Action
AUDITED_ROUTES: dict[str, tuple[str, str | None, str]] = {
    "patient-list": ("patient", None, A.VIEW),
    "patient-create": ("patient", None, A.CREATE),
    "patient-detail": ("patient", "patient_id", A.VIEW),
    "patient-compare": ("patient", "patient_id", A.VIEW),  # two of its recordings side by side
    "patient-edit": ("patient", "patient_id", A.UPDATE),
    "recording-upload": ("recording", None, A.CREATE),
    "recording-detail": ("recording", "recording_id", A.VIEW),
    "recording-beats": ("recording", "recording_id", A.VIEW),
    "recording-signal": ("recording", "recording_id", A.VIEW),
    "recording-rhythm": ("recording", "recording_id", A.VIEW),
    "beat-plot": ("recording", "recording_id", A.VIEW),
    "beat-data": ("recording", "recording_id", A.VIEW),
    # by its recording, whose id the URL gives (its diagnosis's id is another number: a row of "diagnosis 7" read the
    # review page of recording 7, another patient's diagnosis)
    "recording-review": ("recording", "recording_id", A.VIEW),
    "recording-report": ("recording", "recording_id", A.EXPORT),
    "recording-export": ("recording", "recording_id", A.EXPORT),
    "review-queue": ("diagnosis", None, A.VIEW),
    "review-create": ("diagnosis", "diagnosis_id", A.REVIEW),
    "event-review": ("event", "event_id", A.REVIEW),
    "recording-interpret": ("recording", "recording_id", A.REVIEW),  # a doctor signs its interpretation
    "recording-diary": ("recording", "recording_id", A.UPDATE),  # a symptom from the patient's diary entered
    "recording-diary-remove": ("diary_entry", "entry_id", A.UPDATE),  # one entered by mistake removed
    "recording-activity": ("recording", "recording_id", A.UPDATE),  # an activity from the diary entered (sleep…)
    "recording-activity-remove": ("diary_activity", "activity_id", A.UPDATE),  # one entered by mistake removed
    "recording-move": ("recording", "recording_id", A.VIEW),  # the form; its confirmation audits the patient shown
    "recording-move-confirm": ("recording", "recording_id", A.UPDATE),  # filed under another patient
    "recording-shapes": ("recording", "recording_id", A.VIEW),  # its beat shapes and their corrections
    "recording-beat-correct": ("recording", "recording_id", A.UPDATE),  # a doctor changes beats' class
    "recording-beats-correct": ("recording", "recording_id", A.UPDATE),  # beats chosen one by one: their class
    "recording-beat-correction-undo": ("beat_correction", "correction_id", A.UPDATE),  # the latest one undone
    "api:patient-list": ("patient", None, A.CREATE),
    "api:patient-detail": ("patient", "pk", A.UPDATE),
    "api:recording-list": ("recording", None, A.CREATE),
    "api:recording-detail": ("recording", "pk", A.UPDATE),
    "api:recording-beats": ("recording", "pk", A.VIEW),
    "api:recording-events": ("recording", "pk", A.VIEW),
    "api:recording-interpretations": ("recording", "pk", A.REVIEW),  # GET: a view; POST: a signing
    "api:recording-moves": ("recording", "pk", A.VIEW),
    "api:recording-diary": ("recording", "pk", A.UPDATE),  # GET: a view; POST: a symptom entered
    "api:recording-diary-entry": ("diary_entry", "entry_id", A.UPDATE),  # DELETE: one entered by mistake removed
    "api:recording-activities": ("recording", "pk", A.UPDATE),  # GET: a view; POST: an activity entered
    "api:recording-activity": ("diary_activity", "activity_id", A.UPDATE),  # DELETE: one entered by mistake removed
    "api:recording-beat-families": ("recording", "pk", A.VIEW),  # its beat shapes
    "api:recording-beat-corrections": ("recording", "pk", A.UPDATE),  # GET: a view; POST: beats' class changed
    "api:recording-beat-correction": ("beat_correction", "correction_id", A.UPDATE),  # GET: a view; DELETE: undone
    "api:recording-sleep": ("recording", "pk", A.VIEW),  # the heart rate awake and asleep
    "api:recording-move": ("recording", "pk", A.UPDATE),  # filed under another patient
    "api:recording-fhir": ("recording", "pk", A.EXPORT),
    "api:recording-export": ("recording", "pk", A.EXPORT),
    "api:diagnosis-list": ("diagnosis", None, A.VIEW),
    "api:diagnosis-detail": ("diagnosis", "pk", A.VIEW),
    "api:review-list": ("diagnosis", None, A.REVIEW),
    "api:review-detail": ("review", "pk", A.VIEW),
    "api:model-version-list": ("model_version", None, A.CREATE),  # POST: a version registered (reads: below)
    "api:model-version-activate": ("model_version", "pk", A.ACTIVATE),
}
# Audited routes whose reads show no record of a clinic's: only their writes (and refusals) are recorded.
WRITES_ONLY_ROUTES = {"api:model-version-list"}
# Routes that show no clinical record of their own (or only a status poll of one).
NOT_AUDITED_ROUTES = {
    "login",
    "logout",
    "two-factor",  # records its own login and failed-login events (object type second_factor)
    "two-factor-setup",
    "password-change",  # records its own update event (object type password) when the password changes
    "password-change-done",
    "dashboard",  # audited by its view: a visit, not each poll while uploads wait
    "recording-status",
    "healthz",
    "favicon",
    "api:root",  # where the resources are: no record in it
    "api:schema",
    "api:docs",
    "api:schema-without-slash",
    "api:docs-without-slash",
    "api:not-found",
    "api:model-version-detail",
}
_READS = {"GET", "HEAD"}
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}

_CREATED_ID = re.compile(r"/(?:patients|recordings)/(\d+)/")


def client_ip(request) -> str | None:
    """The client's address: the socket's peer, or behind ``ECG_TRUSTED_PROXIES`` proxies the address the
    outermost of them was reached from. Each proxy appends the address it was reached from to
    X-Forwarded-For, so with N of them that is the N-th entry from the right; entries further left are
    whatever the client sent and are never read. A header with fewer entries, or one that is not an
    address, did not come through the proxies: the peer's address is used."""
    peer = _canonical(request.META.get("REMOTE_ADDR") or "") or request.META.get("REMOTE_ADDR") or None
    hops = settings.ECG_TRUSTED_PROXIES
    if not hops:
        return peer
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [a for a in forwarded if a]
    if len(forwarded) < hops:
        return peer
    return _canonical(_without_port(forwarded[-hops])) or peer


def _canonical(text: str) -> str | None:
    """An address as one client has one: an IPv4 address reached over IPv6 (``::ffff:192.0.2.7``, as a
    dual-stack socket reports it) is that IPv4 address; ``None`` for what is not an address."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)


IPV6_CLIENT_PREFIX = 64


def client_network(ip: str | None) -> str | None:
    """What lockouts and throttles count as one client: an IPv4 address, or the /64 an IPv6 address is in
    (the block one subscriber is given, whose addresses a host changes at will: counted apart, each one
    would start afresh)."""
    canonical = _canonical(ip or "")
    if canonical is None:
        return ip or None  # a peer that is no address (a Unix socket's): counted as it is
    address = ipaddress.ip_address(canonical)
    if address.version == 4:
        return canonical
    if any(address in ipaddress.IPv6Network(p) for p in settings.ECG_NAT64_PREFIXES):
        # an IPv4 client reached through a NAT64 gateway (its address in the last 32 bits): each is its own client
        return str(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return str(ipaddress.ip_network(f"{address}/{IPV6_CLIENT_PREFIX}", strict=False))


def from_client(ip: str | None) -> Q:
    """The audit rows of the client at ``ip`` (``client_network``): on PostgreSQL every address of an IPv6
    address's /64; elsewhere (the development SQLite database) the address itself."""
    network = client_network(ip)
    if network is None or "/" not in network or connection.vendor != "postgresql":
        return Q(ip=ip)  # one address (an IPv4 client's, also through NAT64, as the audit trail holds it)
    return Q(ip__in_network=network)


def _without_port(entry: str) -> str:
    """An X-Forwarded-For entry's address without the port some proxies add (``198.51.100.7:4711``,
    ``[2001:db8::1]:443``); a bare IPv6 address as it is."""
    if entry.startswith("["):
        return entry[1:].split("]", 1)[0]
    return entry.rsplit(":", 1)[0] if entry.count(":") == 1 else entry


def record(request, action: str, **fields: Any) -> AuditEvent:
    """Write one audit row; ``fields`` are ``event_fields``' keywords (user, object_type, object_id,
    username, status_code, channel)."""
    return AuditEvent.objects.create(**event_fields(request, action, **fields))


def event_fields(
    request,
    action: str,
    *,
    user=None,
    object_type: str = "",
    object_id="",
    username: str = "",
    status_code: int | None = None,
    channel: str = "web",
) -> dict:
    """The fields of the audit row ``record`` writes (api.pages writes the same row in its page's statement)."""
    user = user if user is not None else getattr(request, "user", None)
    if user is not None and not user.is_authenticated:
        user = None
    clinic_id = getattr(user, "clinic_id", None)
    if user is None and username:  # a failed or refused login: the clinic of the account it named
        from .models import User

        clinic_id = User.objects.filter(username=username).values_list("clinic_id", flat=True).first()
    return {
        "user": user,
        "username": (user.username if user else username)[:150],
        "clinic_id": clinic_id,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id or "")[:64],
        "ip": client_ip(request),
        "channel": channel,
        "path": (request.path or "")[:300],
        "method": request.method or "",
        "status_code": status_code,
    }


class AuditMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(request, "audit_recorded", False):  # written with the read itself (api.pages)
            return response
        event = _route_event(request, response)
        if event is not None:
            try:
                AuditEvent.objects.create(**event)  # after the view's transaction: in autocommit, on its own
            except DatabaseError:
                # A write has committed by now (an upload, a review): answering 500 would have the client send
                # it again, and make it twice (a fault-injection run did). The row goes to the error log whole,
                # to be restored from there. A read whose audit row cannot be written fails, as before.
                if request.method in ("GET", "HEAD", "OPTIONS") or response.status_code >= 400:
                    raise
                logger.exception("audit row not written for a committed %s: %r", request.method, _loggable(event))
        return response


def _loggable(event: dict) -> dict:
    """The row's fields as plain values: a user as its id, an action as its name."""
    return {k: v.pk if hasattr(v, "pk") else getattr(v, "value", v) for k, v in event.items()}


def read_event(request, *, status_code: int) -> dict | None:
    """The row AuditMiddleware would write for this GET answered ``status_code``, before the response exists;
    None if it writes none. A view that writes it sets ``request.audit_recorded`` so the middleware does not."""
    return _route_event(request, None, status_code=status_code)


def channel_of(request) -> str:
    """The channel a page or API request came by: web, api (a session) or token."""
    if not request.path_info.startswith("/api/"):
        return "web"
    return "token" if request.META.get("HTTP_AUTHORIZATION", "").startswith("Token ") else "api"


def _route_event(request, response, *, status_code: int | None = None) -> dict | None:
    status_code = response.status_code if response is not None else status_code
    match = getattr(request, "resolver_match", None)
    user = getattr(request, "user", None)
    if match is None or user is None or not user.is_authenticated or status_code is None:
        return None
    api = request.path_info.startswith("/api/")
    channel = channel_of(request)
    route = AUDITED_ROUTES.get(match.view_name)
    if match.view_name in WRITES_ONLY_ROUTES and request.method not in _WRITES:
        route = None
    # a signed-in user refused a clinical record (another clinic's id, a role's limit): what a security
    # officer looks for, kept with the id asked for and the answer given. A 404 refuses a record when the
    # URL names one (its own id or its patient's) or a write names one in its body (a recording for
    # another clinic's patient, a review of its diagnosis); a list's page past its last refuses none.
    names_a_record = route is not None and (route[1] is not None or bool(match.kwargs) or request.method in _WRITES)
    if route is not None and (status_code == 403 or (status_code == 404 and names_a_record)):
        object_type, kwarg, _ = route
        object_id = match.kwargs.get(kwarg, "") if kwarg else ""
        if not kwarg and match.kwargs:  # the record the URL names is another's (the patient of an upload)
            name, object_id = next(iter(match.kwargs.items()))
            object_type = name.removesuffix("_id")
        return event_fields(
            request, A.DENIED, object_type=object_type, object_id=object_id, status_code=status_code, channel=channel
        )
    if status_code >= 400 or getattr(response, "write_refused", False) or getattr(response, "unchanged", False):
        # a page that refused a write answers with a redirect back to its form (post/redirect/get): nothing was
        # written, so no review or change is recorded (views mark such an answer ``write_refused``); nor is a write
        # that changed nothing (the version already active activated: ``unchanged``)
        return None
    if route is None:
        if channel == "token":
            return event_fields(request, A.TOKEN_USE, status_code=status_code, channel=channel)
        return None
    object_type, kwarg, write_action = route
    action: str
    if request.method in _READS:
        action = A.EXPORT if write_action == A.EXPORT else A.VIEW
    elif request.method in _WRITES and not (not api and status_code == 200):
        action = write_action  # (a page answering 200 to a POST showed its form again: nothing was written)
        if response is not None and response.get("Idempotent-Replayed") == "true":
            action = A.VIEW  # the same request again, answered with what it made: nothing was created twice
    else:
        return None
    object_id = match.kwargs.get(kwarg, "") if kwarg else ""
    if not object_id and (action in {A.CREATE, A.REVIEW} or request.method in _WRITES):
        if response is None:  # known only from the response
            return None
        object_id = _created_id(response, object_type)
    return event_fields(
        request, action, object_type=object_type, object_id=object_id, status_code=status_code, channel=channel
    )


def _created_id(response, object_type: str) -> str:
    data = getattr(response, "data", None)
    if isinstance(data, dict):
        value = data.get(object_type) if object_type == "diagnosis" else data.get("id")
        return str(value) if isinstance(value, (int, str)) else ""
    found = _CREATED_ID.search(response.get("Location", ""))
    return found.group(1) if found else ""


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    if request is not None:
        record(request, AuditEvent.Action.LOGIN, user=user)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if request is not None and user is not None:
        record(request, AuditEvent.Action.LOGOUT, user=user)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    if request is not None:
        from .lockout import username_clean

        record(request, AuditEvent.Action.LOGIN_FAILED, username=username_clean(str(credentials.get("username", ""))))
