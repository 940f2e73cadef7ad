from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import audit
from .models import AuditEvent, Clinic, User


class AuditedAdmin(admin.ModelAdmin):
    """What an administrator adds, changes or deletes in the admin is in the audit trail too (channel admin), not
    only in Django's admin log: user accounts, passwords, tokens, model versions."""

    def log_addition(self, request, obj, message):
        audit.record(request, AuditEvent.Action.CREATE, **_admin_object(obj))
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        audit.record(request, AuditEvent.Action.UPDATE, **_admin_object(obj))
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:  # the delete page's one object, or the delete action's selection
            audit.record(request, AuditEvent.Action.DELETE, **_admin_object(obj))
        return super().log_deletions(request, queryset)


def _admin_object(obj) -> dict:
    return {"object_type": obj._meta.model_name, "object_id": obj.pk, "channel": "admin"}


def audit_admin_action(request, action: str, obj) -> None:
    """An admin action's write (activation, revocation) in the audit trail."""
    audit.record(request, action, **_admin_object(obj))


class ReadOnlyAdmin:
    """For rows that are append-only (a database trigger refuses UPDATE and DELETE): shown, never added,
    changed or deleted through the admin. Put it before the admin class it narrows."""

    def has_add_permission(self, request, obj=None):  # obj=None: as ClinicScopedAdmin's, which it may narrow
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ClinicScopedAdmin(AuditedAdmin):
    """Administrators manage their own clinic; superusers see everything."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_clinic_admin

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    has_add_permission = has_change_permission = has_view_permission

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


@admin.register(Clinic)
class ClinicAdmin(ClinicScopedAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.filter(pk=request.user.clinic_id)

    def has_add_permission(self, request):
        return request.user.is_superuser


@admin.register(User)
class UserAdmin(ClinicScopedAdmin, BaseUserAdmin):
    list_display = ["username", "full_name", "clinic", "role", "is_active", "last_login"]
    # the clinic of each row in the page's one query (a nullable key: the admin's own select_related() skips it)
    list_select_related = ["clinic"]
    # Only the clinics of the users listed (the admin's own clinic), not every clinic's name.
    list_filter = ["role", "is_active", ("clinic", admin.RelatedOnlyFieldListFilter)]

    @admin.display(description="name", ordering="last_name")
    def full_name(self, obj):
        return obj.get_full_name()

    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Person", {"fields": ("first_name", "last_name", "email")}),
        ("Clinic and role", {"fields": ("clinic", "role", "is_active")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "clinic", "role", "password1", "password2")}),
    )
    readonly_fields = ["last_login", "date_joined"]
    actions = ["reset_second_factor"]

    @admin.action(description="Reset the second factor of the selected users (they enrol again at next sign-in)")
    def reset_second_factor(self, request, queryset):
        """A lost or replaced phone: the user's authenticator and recovery codes go, and the next sign-in enrols
        a new one. The queryset is the admin's own (their clinic's users, superusers left out)."""
        reset = 0
        for user in queryset:
            removed = reset_second_factor(user)
            if removed:
                audit.record(
                    request, AuditEvent.Action.UPDATE, object_type="second_factor", object_id=user.pk, channel="admin"
                )
                reset += 1
        skipped = queryset.count() - reset
        message = f"Second factor reset for {reset} user{'s' if reset != 1 else ''}; they enrol again at next sign-in."
        if skipped:
            message += f" {skipped} had none."
        self.message_user(request, message)

    def user_change_password(self, request, id, form_url=""):
        """Set another user's password: not, for a clinic's administrator, a doctor's or another administrator's.
        With it, and the second factor reset (a lost phone, which they may do), they would sign in as that person
        and sign, review and move recordings in their name. The user changes it themselves (Change password), or
        the installation's administrator (a superuser, or manage.py changepassword) sets it."""
        from django.contrib.admin.utils import unquote
        from django.core.exceptions import PermissionDenied

        user = self.get_object(request, unquote(id))
        refusal = password_set_refusal(by=request.user, user=user) if user is not None else None
        if refusal is not None:
            audit.record(
                request,
                AuditEvent.Action.DENIED,
                object_type="password",
                object_id=user.pk,
                status_code=403,
                channel="admin",
            )
            raise PermissionDenied(refusal)
        return super().user_change_password(request, id, form_url)

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        # a superuser who has a clinic set is still no user its administrator manages: reachable, their
        # password could be changed and the account taken over, and with it every clinic's records
        return qs if request.user.is_superuser else qs.filter(clinic_id=request.user.clinic_id, is_superuser=False)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "clinic" and not request.user.is_superuser:
            kwargs["queryset"] = Clinic.objects.filter(pk=request.user.clinic_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_form(self, request, obj=None, **kwargs):
        # The model's check constraint (a clinic unless superuser) names is_superuser, which the form does not
        # edit, so Django's form validation skips it: ask for the clinic here instead of failing in the database.
        form = super().get_form(request, obj, **kwargs)
        if "clinic" in form.base_fields:
            form.base_fields["clinic"].required = not (obj is not None and obj.is_superuser)
        if obj is not None and "role" in form.base_fields:
            form = _role_guarded(form, request, obj)
        return form


class _AuditValueFilter(admin.SimpleListFilter):
    """A filter on one of the trail's columns whose choices are the values of its newest RECENT_ROWS rows (and the one
    chosen): the admin's own filter read every value of the column, a SELECT DISTINCT over the whole trail (hundreds
    of thousands of rows, sorted on disk) on each page. A value older than those is still filtered by its URL."""

    RECENT_ROWS = 10_000

    def lookups(self, request, model_admin):
        newest = model_admin.get_queryset(request).order_by("-created_at")[: self.RECENT_ROWS]
        values = set(newest.values_list(self.parameter_name, flat=True)) - {""}
        if self.value():
            values.add(self.value())
        return [(value, value) for value in sorted(values)]

    def queryset(self, request, queryset):
        return queryset.filter(**{self.parameter_name: self.value()}) if self.value() else queryset


class AuditObjectTypeFilter(_AuditValueFilter):
    title = "object type"
    parameter_name = "object_type"


class AuditChannelFilter(admin.SimpleListFilter):
    """The channels the trail is written from (accounts.audit.channel_of, the admin's): no query for its choices."""

    title = "channel"
    parameter_name = "channel"

    def lookups(self, request, model_admin):
        return [("web", "web"), ("api", "api"), ("token", "token"), ("admin", "admin"), ("command", "command")]

    def queryset(self, request, queryset):
        return queryset.filter(channel=self.value()) if self.value() else queryset


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    """Read-only: the trail is append-only, through the app and the admin alike."""

    list_display = [
        "created_at",
        "username",
        "clinic",
        "action",
        "object_type",
        "object_id",
        "ip",
        "channel",
        "status_code",
    ]
    list_filter = ["action", AuditObjectTypeFilter, AuditChannelFilter, "created_at"]
    search_fields = ["username", "object_id", "ip", "path"]
    # No date_hierarchy: its bar of years (then months, days) was a SELECT DISTINCT over every row of the trail on
    # each page, sorted on disk (0.3 s at 400,000 rows, growing with the trail). The created_at filter narrows by date.
    # The clinic of each row in the page's one query: the key is nullable, which the admin's own select_related()
    # skips, and each of the page's rows read its clinic by a query of its own (100 a page).
    list_select_related = ["clinic"]
    # A filtered page counts its own rows only, not every row of the trail as well (a second count of hundreds of
    # thousands of rows on each page).
    show_full_result_count = False

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        return qs if request.user.is_superuser else qs.filter(clinic_id=request.user.clinic_id)

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_clinic_admin

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)


def password_set_refusal(*, by, user) -> str | None:
    """Why ``by`` may not set ``user``'s password in the admin, or None if they may: a clinic's administrator sets
    their own and the clinic's staff's, not a doctor's or another administrator's (whose account signs)."""
    if by.is_superuser or by.pk == user.pk or not user.can_review:
        return None
    return (
        f"{user.username} makes clinical decisions: a clinic's administrator sets the password of the clinic's staff "
        "only. Only the installation's administrator (a superuser, or manage.py changepassword) sets the password of a "
        "doctor or another administrator; they change it themselves under Change password."
    )


def role_grant_refusal(*, by, user, was: str, role: str) -> str | None:
    """Why ``by`` may not make ``user`` (of role ``was``) a ``role``, or None if they may. A clinic's administrator
    gives a doctor's or an administrator's role to an account no one has signed in to yet (a newcomer: its first
    password is theirs to give), not back to one in use: having set a staff member's password they could make them
    a doctor, or a doctor staff, set the password and make them a doctor again, then sign as that person."""
    signs = {User.Role.DOCTOR, User.Role.ADMIN}
    if by.is_superuser or by.pk == user.pk or was in signs or role not in signs or user.last_login is None:
        return None
    return (
        f"{user.username} has signed in already: a clinic's administrator makes only a new account a doctor or an "
        "administrator. The installation's administrator (a superuser) gives that role to an account in use."
    )


def _role_guarded(form_class, request, user):
    """The user's change form, refusing a role ``role_grant_refusal`` refuses (with an audit row of the try)."""
    was = user.role  # as stored: the form writes the new role into the same instance once cleaned

    class RoleGuardedForm(form_class):
        def clean_role(self):
            role = self.cleaned_data["role"]
            refusal = role_grant_refusal(by=request.user, user=user, was=was, role=role)
            if refusal is not None:
                audit.record(request, AuditEvent.Action.DENIED, object_type="role", object_id=user.pk, channel="admin")
                raise forms.ValidationError(refusal)
            return role

    return RoleGuardedForm


def reset_second_factor(user) -> int:
    """Delete every second-factor device (authenticator, recovery codes) of ``user`` and end their sessions (one
    left signed in with the password alone would enrol the next authenticator: whoever holds it); how many
    devices there were."""
    removed = 0
    for model in (TOTPDevice, StaticDevice):
        removed += model.objects.filter(user=user).delete()[1].get(model._meta.label, 0)
    if removed:
        end_sessions(user.pk)
    return removed


def end_sessions(user_id: int) -> None:
    """Sign the user out everywhere: their open sessions end."""
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    theirs = [
        s.pk
        for s in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if s.get_decoded().get("_auth_user_id") == str(user_id)
    ]
    Session.objects.filter(pk__in=theirs).delete()


# Second-factor devices: django-otp's admin pages show each device's secret key (and the recovery codes),
# with which anyone who can open them passes that user's second sign-in step. Here a superuser sees only
# whose device it is and may delete it (a lost phone: the user enrols again at the next sign-in).
def _otp_device_admin(model):
    class DeviceAdmin(admin.ModelAdmin):
        list_display = ["user", "name", "confirmed"]
        fields = ["user", "name", "confirmed"]
        readonly_fields = fields

        def has_module_permission(self, request):
            return request.user.is_active and request.user.is_superuser

        def has_view_permission(self, request, obj=None):
            return self.has_module_permission(request)

        def has_delete_permission(self, request, obj=None):
            return self.has_module_permission(request)

        def has_add_permission(self, request):
            return False

        def has_change_permission(self, request, obj=None):
            return False

        def log_deletions(self, request, queryset):
            for device in queryset:  # a removed device is a reset second factor, in the audit trail
                audit.record(
                    request,
                    AuditEvent.Action.UPDATE,
                    object_type="second_factor",
                    object_id=device.user_id,
                    channel="admin",
                )
            return super().log_deletions(request, queryset)

        # A device deleted here is a reset second factor as the users page's action makes it: the user's sessions end
        # too (one signed in with the password alone would otherwise enrol the next authenticator: whoever holds it).
        def delete_model(self, request, obj):
            super().delete_model(request, obj)
            end_sessions(obj.user_id)

        def delete_queryset(self, request, queryset):
            users = set(queryset.values_list("user_id", flat=True))
            super().delete_queryset(request, queryset)
            for user_id in users:
                end_sessions(user_id)

    if admin.site.is_registered(model):
        admin.site.unregister(model)
    admin.site.register(model, DeviceAdmin)


_otp_device_admin(TOTPDevice)
_otp_device_admin(StaticDevice)
