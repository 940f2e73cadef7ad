"""The second sign-in step (TOTP) for administrators and doctors, with enrolment and recovery codes.

With ECG_REQUIRE_2FA on, SecondFactorMiddleware sends a user who needs a second factor here after
the password, before any page (the admin site and the review pages included) opens; API tokens are
not affected. A user with no authenticator yet enrols on first sign-in: a secret shown as text and
as a QR code drawn server-side (inline SVG), confirmed by one code, then ten one-time recovery codes.
"""

import base64

from django import forms
from django.conf import settings
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp import match_token, user_has_device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import audit
from .models import AuditEvent

RECOVERY_CODES = 10


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
        device = match_token(request.user, form.data.get("code", "").strip().replace(" ", ""))
        if device is not None:
            otp_login(request, device)
            audit.record(request, AuditEvent.Action.LOGIN, user=request.user, object_type="second_factor")
            return HttpResponseRedirect(target)
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


@never_cache  # the key and the recovery codes are shown once
@require_http_methods(["GET", "POST"])
def setup(request):
    """Enrol an authenticator: its secret as text and QR code, confirmed by one code; then recovery codes."""
    target = _next(request)
    if user_has_device(request.user) and not request.user.is_verified():
        return redirect(_with_next("two-factor", target))  # replacing a device needs the current one
    device = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=request.user, name="authenticator", confirmed=False)
    form = CodeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        code = form.data.get("code", "").strip().replace(" ", "")
        allowed, _why = device.verify_is_allowed()
        if allowed and code.isdigit() and device.verify_token(code):
            TOTPDevice.objects.filter(user=request.user).exclude(pk=device.pk).delete()
            device.confirmed = True
            device.save(update_fields=["confirmed"])
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
    secret = base64.b32encode(device.bin_key).decode()
    context = {
        "form": form,
        "next": target,
        "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        "qr_svg": _qr_svg(device.config_url),
    }
    return render(request, "registration/two_factor_setup.html", context, status=status)


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
