"""The audit trail: who viewed, created, updated, exported or reviewed what, and every login.

Page and API requests are recorded by AuditMiddleware from the route that served them, so a
new route is audited by adding it to AUDITED_ROUTES (the permission matrix test lists every
route and fails for one that is neither audited nor declared not to touch clinical records).
"""

import re

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from .models import AuditEvent

# view name → (object type, URL keyword naming the object, action for a successful POST)
AUDITED_ROUTES: dict[str, tuple[str, str | None, str]] = {
    "patient-list": ("patient", None, AuditEvent.Action.VIEW),
    "patient-create": ("patient", None, AuditEvent.Action.CREATE),
    "patient-detail": ("patient", "patient_id", AuditEvent.Action.VIEW),
    "patient-edit": ("patient", "patient_id", AuditEvent.Action.UPDATE),
    "recording-upload": ("recording", None, AuditEvent.Action.CREATE),
    "recording-detail": ("recording", "recording_id", AuditEvent.Action.VIEW),
    "recording-beats": ("recording", "recording_id", AuditEvent.Action.VIEW),
    "beat-plot": ("recording", "recording_id", AuditEvent.Action.VIEW),
    "recording-export": ("recording", "recording_id", AuditEvent.Action.EXPORT),
    "review-queue": ("diagnosis", None, AuditEvent.Action.VIEW),
    "review-create": ("diagnosis", "diagnosis_id", AuditEvent.Action.REVIEW),
}
# Routes that show no clinical record of their own (or only a status poll of one).
NOT_AUDITED_ROUTES = {"login", "logout", "dashboard", "recording-status", "healthz"}

_CREATED_ID = re.compile(r"/(?:patients|recordings)/(\d+)/")


def client_ip(request) -> str | None:
    # Behind a proxy, configure it to set REMOTE_ADDR (e.g. gunicorn --forwarded-allow-ips).
    return request.META.get("REMOTE_ADDR") or None


def record(request, action: str, *, user=None, object_type: str = "", object_id="", username: str = "",
           status_code: int | None = None, channel: str = "web") -> AuditEvent:
    user = user if user is not None else getattr(request, "user", None)
    if user is not None and not user.is_authenticated:
        user = None
    clinic_id = getattr(user, "clinic_id", None)
    if user is None and username:  # a failed or refused login: the clinic of the account it named
        from .models import User

        clinic_id = User.objects.filter(username=username).values_list("clinic_id", flat=True).first()
    return AuditEvent.objects.create(
        user=user,
        username=(user.username if user else username)[:150],
        clinic_id=clinic_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id or "")[:64],
        ip=client_ip(request),
        channel=channel,
        path=(request.path or "")[:300],
        method=request.method or "",
        status_code=status_code,
    )


class AuditMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        user = getattr(request, "user", None)
        if match is None or user is None or not user.is_authenticated or response.status_code >= 400:
            return response
        route = AUDITED_ROUTES.get(match.view_name)
        if route is None:
            return response
        object_type, kwarg, post_action = route
        if request.method in {"GET", "HEAD"}:
            action = AuditEvent.Action.EXPORT if post_action == AuditEvent.Action.EXPORT else AuditEvent.Action.VIEW
        elif response.status_code in {301, 302, 303, 200, 201, 204}:
            if request.method == "POST" and response.status_code == 200:
                return response  # a form shown again with errors: nothing was written
            action = post_action
        else:
            return response
        object_id = match.kwargs.get(kwarg, "") if kwarg else ""
        if not object_id and action == AuditEvent.Action.CREATE:
            found = _CREATED_ID.search(response.get("Location", ""))
            object_id = found.group(1) if found else ""
        record(request, action, object_type=object_type, object_id=object_id, status_code=response.status_code,
               channel="api" if request.path.startswith("/api/") else "web")
        return response


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
        record(request, AuditEvent.Action.LOGIN_FAILED, username=str(credentials.get("username", ""))[:150])
