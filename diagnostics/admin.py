from django.contrib import admin
from django.template.response import TemplateResponse
from django.utils.text import Truncator

from accounts import audit
from accounts.admin import ClinicScopedAdmin, ReadOnlyAdmin
from accounts.models import AuditEvent

from .models import Interpretation, RecordingMove


@admin.register(Interpretation)
class InterpretationAdmin(ReadOnlyAdmin, ClinicScopedAdmin):
    """The doctors' signed interpretations, every version: read only, as the rows are append-only (a database
    trigger refuses UPDATE and DELETE; a doctor amends by signing again). A clinic's administrators see their
    clinic's, superusers every clinic's. Its pages show clinical text: each view is in the audit trail."""

    list_display = ["id", "recording", "clinic", "signed_by", "created_at", "amends", "undecided_at_signing", "excerpt"]
    list_filter = [("clinic", admin.RelatedOnlyFieldListFilter), ("recording", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["text", "reason", "author__username", "author__last_name", "=recording__patient__mrn"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "recording",
        "clinic",
        "author",
        "created_at",
        "amends",
        "reason",
        "undecided_at_signing",
        "text",
    ]
    fields = tuple(readonly_fields)

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("recording__patient", "clinic", "author")
        return qs if request.user.is_superuser else qs.filter(clinic_id=request.user.clinic_id)

    @admin.display(description="signed by", ordering="author__last_name")
    def signed_by(self, obj: Interpretation) -> str:
        return obj.author.display_name

    @admin.display(description="text")
    def excerpt(self, obj: Interpretation) -> str:
        return Truncator(obj.text).chars(80)

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        self._audit_view(request, response, "")
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        self._audit_view(request, response, object_id)
        return response

    def _audit_view(self, request, response, object_id: str) -> None:
        _audit_admin_view(request, response, "interpretation", object_id)


@admin.register(RecordingMove)
class RecordingMoveAdmin(ReadOnlyAdmin, ClinicScopedAdmin):
    """Recordings moved from the patient they were filed under to the right one: read only, as the rows are
    append-only (a database trigger refuses UPDATE and DELETE). Scoped to the clinic, each view audited, as the
    interpretations' pages are: they name patients."""

    list_display = ["id", "recording", "clinic", "from_patient", "to_patient", "moved_by", "created_at", "reason"]
    list_filter = [("clinic", admin.RelatedOnlyFieldListFilter), ("recording", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["reason", "moved_by__username", "=from_patient__mrn", "=to_patient__mrn"]
    date_hierarchy = "created_at"
    readonly_fields = ["recording", "clinic", "from_patient", "to_patient", "moved_by", "created_at", "reason"]
    fields = tuple(readonly_fields)

    def get_queryset(self, request):
        qs = (
            super()
            .get_queryset(request)
            .select_related("recording", "clinic", "from_patient", "to_patient", "moved_by")
        )
        return qs if request.user.is_superuser else qs.filter(clinic_id=request.user.clinic_id)

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        _audit_admin_view(request, response, "recording_move", "")
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        _audit_admin_view(request, response, "recording_move", object_id)
        return response


def _audit_admin_view(request, response, object_type: str, object_id: str) -> None:
    if isinstance(response, TemplateResponse) and response.status_code == 200:  # shown, not refused or redirected
        audit.record(request, AuditEvent.Action.VIEW, object_type=object_type, object_id=object_id, channel="admin")
