"""The second sign-in step (TOTP) for administrators and doctors, with enrolment and recovery codes.

With ECG_REQUIRE_2FA on, SecondFactorMiddleware sends a user who needs a second factor here after
the password, before any page (the admin site and the review pages included) opens; API tokens are
not affected. A user with no authenticator yet enrols on first sign-in: a secret shown as text and
as a QR code drawn server-side (inline SVG), confirmed by one code, then ten one-time recovery codes.

The key being enrolled belongs to the session that was shown it: whoever else signs in with the password and
opens the setup page gets a key of their own, and the earlier one stops working, so a key seen by someone
holding only the password is never the one the user confirms.
"""

import base64
import math
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import devices_for_user, user_has_device
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import audit
from .lockout import wait_phrase
from .models import AuditEvent, User

RECOVERY_CODES = 10
PENDING = "two_factor_pending"  # in the session: the id of the unconfirmed device (key) this session was shown
REPLACED = (
    "The key shown before no longer works: setting up the authenticator was started again, in another window or "
    "by someone else signing in as you. Remove that entry from your app, scan the new key below and enter its "
    "code. If you did not start it, tell your administrator."
)


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )


def _next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse(settings.LOGIN_REDIRECT_URL)


def _with_next(name: str, target: str) -> str:
    from urllib.parse import urlencode

    return f"{reverse(name)}?{urlencode({'next': target})}"


@never_cache
@require_http_methods(["GET", "POST"])
def verify(request):
    """The code from the authenticator app (or a recovery code) after the password."""
    target = _next(request)
    if not user_has_device(request.user):
        return redirect(_with_next("two-factor-setup", target))
    if request.user.is_verified():
        return HttpResponseRedirect(target)
    form = CodeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        device, wait = _match(request.user, form.data.get("code", "").strip().replace(" ", ""))
        if device is not None:
            otp_login(request, device)
            audit.record(request, AuditEvent.Action.LOGIN, user=request.user, object_type="second_factor")
            return HttpResponseRedirect(target)
        if wait:
            if not _refusal_audited(request.user):
                audit.record(
                    request,
                    AuditEvent.Action.LOCKED_OUT,
                    user=request.user,
                    object_type="second_factor",
                    status_code=429,
                )
            form.add_error("code", f"Too many wrong codes: wait {wait_phrase(wait)}, then enter the current code.")
            response = render(
                request, "registration/two_factor_verify.html", {"form": form, "next": target}, status=429
            )
            response["Retry-After"] = str(wait)
            return response
        audit.record(
            request,
            AuditEvent.Action.LOGIN_FAILED,
            user=request.user,
            username=request.user.get_username(),
            object_type="second_factor",
            status_code=400,
        )
        form.add_error("code", "That code is not valid (or was used already). Enter the current code from your app.")
        status = 400
    return render(request, "registration/two_factor_verify.html", {"form": form, "next": target}, status=status)


def _match(user, code: str) -> tuple[Device | None, int]:
    """The device that accepts ``code``, else None and: 0 when some device checked the code, or, when the
    throttle refused it on every device unchecked, the seconds until one of them will check a code again."""
    now = timezone.now()
    waits: list[int] = []
    with transaction.atomic():
        for device in devices_for_user(user, for_verify=True):
            allowed, why = device.verify_is_allowed()
            if not allowed:
                until = (why or {}).get("locked_until")
                waits.append(max(1, math.ceil((until - now).total_seconds())) if until else 1)
            elif device.verify_token(code):
                return device, 0
            else:
                waits.append(0)
    return None, min(waits, default=0)


def _refusal_audited(user) -> bool:
    """Whether a code-step try of ``user`` refused unchecked is already in the audit trail within the lockout
    window: a flood of refused tries writes one row, not one each (as for refused passwords)."""
    since = timezone.now() - timedelta(seconds=settings.ECG_LOCKOUT_SECONDS)
    return AuditEvent.objects.filter(
        action=AuditEvent.Action.LOCKED_OUT, user=user, object_type="second_factor", created_at__gte=since
    ).exists()


@never_cache  # the key and the recovery codes are shown once
@require_http_methods(["GET", "POST"])
def setup(request):
    """Enrol an authenticator: its secret as text and QR code, confirmed by one code; then recovery codes.

    The key is this session's: a visit with none pending here makes a new one (and ends any other session's),
    and only this session can confirm it. A code sent after the key was replaced is refused with a new key.
    """
    target = _next(request)
    form = CodeForm(request.POST if request.method == "POST" else None)
    status = 200
    with transaction.atomic():
        User.objects.select_for_update().filter(pk=request.user.pk).first()  # one enrolment step per user at a time
        if user_has_device(request.user):
            if not request.user.is_verified():
                return redirect(_with_next("two-factor", target))
            # Enrolled already: a new phone is enrolled after an administrator's reset, not from a signed-in session
            # (someone at an unattended workstation took the second factor over here, the owner's phone shut out).
            messages.info(
                request,
                "Your authenticator is set up. For a new or lost phone, ask your clinic's administrator to reset "
                "your second factor; you enrol the new one at your next sign-in.",
            )
            return HttpResponseRedirect(target)
        had_pending = PENDING in request.session
        device, created = _pending_device(request)
        if request.method == "POST" and created:  # not the key this session was shown, if it was shown one
            form.add_error("code", REPLACED)
            status = 400
        elif request.method == "POST":
            code = form.data.get("code", "").strip().replace(" ", "")
            allowed, _why = device.verify_is_allowed()
            if allowed and code.isdigit() and device.verify_token(code):
                TOTPDevice.objects.filter(user=request.user).exclude(pk=device.pk).delete()
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                del request.session[PENDING]
                codes = _recovery_codes(request.user)
                otp_login(request, device)
                audit.record(request, AuditEvent.Action.LOGIN, user=request.user, object_type="second_factor")
                return render(request, "registration/two_factor_recovery.html", {"codes": codes, "next": target})
            form.add_error(
                "code",
                "That code does not match. Check the time on your phone and enter the current code."
                if allowed
                else "Too many wrong codes: wait a few seconds, then enter the current code.",
            )
            status = 400
        elif created and had_pending:
            messages.warning(request, REPLACED)
    secret = base64.b32encode(device.bin_key).decode()
    context = {
        "form": form,
        "next": target,
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "qr_svg": _qr_svg(device.config_url),
    }
    return render(request, "registration/two_factor_setup.html", context, status=status)


def _pending_device(request) -> tuple[TOTPDevice, bool]:
    """This session's unconfirmed device, or a new one (the user's other unconfirmed ones deleted, so that
    whichever session was shown them can no longer confirm them), and whether it is new."""
    pending = request.session.get(PENDING)
    device = TOTPDevice.objects.filter(pk=pending, user=request.user, confirmed=False).first() if pending else None
    if device is not None:
        return device, False
    TOTPDevice.objects.filter(user=request.user, confirmed=False).delete()
    device = TOTPDevice.objects.create(user=request.user, name="authenticator", confirmed=False)
    request.session[PENDING] = device.pk
    return device, True


def _recovery_codes(user) -> list[str]:
    """Ten new one-time codes for when the phone is lost; any earlier ones stop working."""
    device, _created = StaticDevice.objects.get_or_create(user=user, name="recovery", defaults={"confirmed": True})
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def _qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code: drawn here, so the page loads no script or image from elsewhere."""
    import segno

    return segno.make(uri, error="m").svg_inline(scale=4, dark="#111", light="#fff", title="Authenticator QR code")
