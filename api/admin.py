from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from accounts import audit
from accounts.admin import ClinicScopedAdmin, audit_admin_action
from accounts.models import AuditEvent

from .models import ApiToken, WebhookDelivery
from .services import api_token_create, api_token_issuer_refusal, api_token_revoke, api_token_webhook_set
from .webhooks import signing_secret


class ApiTokenForm(forms.ModelForm):
    webhook_url = forms.URLField(
        required=False, assume_scheme="https", help_text=ApiToken._meta.get_field("webhook_url").help_text
    )

    class Meta:
        model = ApiToken
        fields = ["user", "name", "expires_at", "webhook_url"]

    # the request making the token (ApiTokenAdmin.get_form sets it on the form class it makes for the request)
    request = None

    def clean_user(self):
        user = self.cleaned_data["user"]
        if user is not None and (user.clinic_id is None or not user.is_active):
            raise forms.ValidationError("API tokens act within a clinic: choose an active user of a clinic.")
        if user is not None and self.instance.pk is None:
            refusal = api_token_issuer_refusal(user=user, created_by=self.request.user if self.request else None)
            if refusal is not None:
                # a try at a credential acting as someone else: in the audit trail, naming the user it would act as
                audit.record(
                    self.request, AuditEvent.Action.DENIED, object_type="user", object_id=user.pk, channel="admin"
                )
                raise forms.ValidationError(refusal)
        return user

    def clean_expires_at(self):
        expires_at = self.cleaned_data.get("expires_at")
        if expires_at is not None and self.instance.pk is None and expires_at <= timezone.now():
            # its secret would be shown once, for a token that never works
            raise forms.ValidationError("The expiry is in the past: the token would never work.")
        return expires_at


@admin.register(ApiToken)
class ApiTokenAdmin(ClinicScopedAdmin):
    form = ApiTokenForm
    list_display = [
        "prefix",
        "name",
        "user",
        "created_by",
        "decides",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__username"]
    fields = [
        "user",
        "name",
        "expires_at",
        "webhook_url",
        "prefix",
        "created_at",
        "created_by",
        "decides",
        "revoked_at",
        "last_used_at",
    ]
    readonly_fields = ["prefix", "created_at", "created_by", "decides", "revoked_at", "last_used_at"]
    actions = ["revoke"]

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("user", "created_by")
        # a clinic's administrator sees its users' tokens, not those of a superuser whose account sits in it
        return (
            qs
            if request.user.is_superuser
            else qs.filter(user__clinic_id=request.user.clinic_id, user__is_superuser=False)
        )

    @admin.display(description="makes clinical decisions", boolean=True)
    def decides(self, obj):
        """Whether the token reviews, signs, moves and corrects as its user (ApiToken.decides): made by its user, by
        a superuser or on the server; one a clinic's administrator made for someone else does not."""
        return obj.decides

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return fields if obj else [f for f in fields if f != "decides"]  # known once the token is made

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.request = request  # a class made for this request: who may make a token for whom (clean_user)
        return form

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (["user"] if obj else [])

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user" and not request.user.is_superuser:
            from accounts.models import User

            # Not a superuser whose account sits in the clinic: a token acts as its user, and one of theirs
            # registers and activates the models every clinic is diagnosed with (as the users list hides them).
            kwargs["queryset"] = User.objects.filter(
                clinic_id=request.user.clinic_id, is_active=True, is_superuser=False
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            if "webhook_url" in form.changed_data:
                api_token_webhook_set(token=obj, webhook_url=obj.webhook_url)
                self._show_signing_secret(request, obj)
            return
        token, secret = api_token_create(
            user=obj.user,
            name=obj.name,
            expires_at=obj.expires_at,
            webhook_url=obj.webhook_url,
            created_by=request.user,
        )
        obj.pk = token.pk
        obj.refresh_from_db()
        messages.warning(
            request, f"The new token is {secret} — copy it now; it is stored hashed and cannot be shown again."
        )
        self._show_signing_secret(request, obj)

    def _show_signing_secret(self, request, token):
        if token.webhook_url:
            messages.warning(
                request,
                f"The webhook signing secret is {signing_secret(token)} — give it to the receiver now; "
                "it is not shown again (X-ECG-Signature is an HMAC-SHA256 of the body keyed with it).",
            )

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        revoked = 0
        for token in queryset.filter(revoked_at__isnull=True):
            api_token_revoke(token=token)
            audit_admin_action(request, AuditEvent.Action.UPDATE, token)
            revoked += 1
        if revoked:
            self.message_user(request, f"Revoked {revoked} token(s) at {timezone.now():%Y-%m-%d %H:%M} UTC.")
        else:
            self.message_user(request, "The selected tokens were revoked already; nothing changed.", messages.WARNING)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ClinicScopedAdmin):
    """The delivery log: read only, each row one notice with its attempts and the next retry."""

    list_display = ["created_at", "event", "token", "url", "status", "attempts", "last_status_code", "next_retry_at"]
    list_filter = ["status", "event"]
    search_fields = ["url", "token__prefix", "token__name"]
    readonly_fields = [
        "event",
        "token",
        "diagnosis",
        "recording",
        "url",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "last_attempt_at",
        "next_retry_at",
        "sent_at",
        "created_at",
    ]
    fields = tuple(readonly_fields)

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("token")
        # not the deliveries of a superuser's token (its URL, its prefix), as the token list leaves those out
        return (
            qs
            if request.user.is_superuser
            else qs.filter(clinic_id=request.user.clinic_id, token__user__is_superuser=False)
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
