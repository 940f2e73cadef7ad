import json
import tempfile
from pathlib import Path

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.utils.html import format_html

from . import services
from .models import ModelVersion


class ModelVersionUploadForm(forms.ModelForm):
    artifact = forms.FileField(help_text="A .keras file, or a Keras 2 .h5 file (converted to .keras on upload).")
    class_labels = forms.CharField(
        required=False, help_text="Comma-separated, in output order. Default: N,S,V,F,Q (heartbeat) or normal,mi (MI)."
    )

    class Meta:
        model = ModelVersion
        fields = ["task", "version", "artifact", "class_labels", "threshold", "provenance", "report"]

    def clean_class_labels(self):
        raw = self.cleaned_data.get("class_labels") or ""
        return [label.strip() for label in raw.split(",") if label.strip()]

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("artifact")
        if self.errors or upload is None:
            return cleaned
        suffix = Path(upload.name).suffix.lower()
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / f"upload{suffix}"
            with open(src, "wb") as fh:
                for chunk in upload.chunks():
                    fh.write(chunk)
            try:
                self.registered = services.model_version_register(
                    task=cleaned["task"],
                    version=cleaned["version"],
                    source=src,
                    class_labels=cleaned.get("class_labels"),
                    threshold=cleaned.get("threshold"),
                    report=cleaned.get("report", ""),
                    provenance=cleaned.get("provenance", ""),
                    created_by=self.request_user,
                )
            except ValidationError as exc:
                raise forms.ValidationError(exc.messages) from None
        return cleaned

    def _post_clean(self):
        pass  # model_version_register validated and saved the new version in clean()


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["task", "version", "is_active", "threshold", "headline_metric", "created_at", "created_by"]
    list_filter = ["task", "is_active"]
    actions = ["activate"]
    readonly_fields = ["sha256", "is_active", "activated_at", "created_by", "created_at", "metrics_pretty", "artifact"]

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_clinic_admin

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_delete_permission(self, request, obj=None):
        return False  # diagnoses keep pointing at the versions that produced them

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ModelVersionUploadForm
            form = super().get_form(request, obj, **kwargs)
            form.request_user = request.user
            return form
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["task", "version", "artifact", "class_labels", "threshold", "provenance", "report"]
        return ["task", "version", "artifact", "sha256", "is_active", "activated_at", "class_labels", "threshold",
                "metrics_pretty", "report", "provenance", "created_by", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [*self.readonly_fields, "task", "version", "class_labels", "input_length", "input_fs"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        # New versions were converted and saved by the form (model_version_register).

    def save_form(self, request, form, change):
        if not change:
            return form.registered
        return super().save_form(request, form, change)

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)

    @admin.action(description="Activate the selected version (one per task)")
    def activate(self, request, queryset):
        chosen = list(queryset)
        if len({mv.task for mv in chosen}) != len(chosen):
            self.message_user(request, "Choose at most one version per task to activate.", messages.ERROR)
            return redirect(request.get_full_path())
        for mv in chosen:
            services.model_version_activate(model_version=mv)
            self.message_user(request, f"Activated {mv}.", messages.SUCCESS)
        return None

    @admin.display(description="metrics")
    def metrics_pretty(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.metrics, indent=2, sort_keys=True))

    @admin.display(description="headline")
    def headline_metric(self, obj):
        m = obj.metrics or {}
        for key in ("macro_f1", "roc_auc", "accuracy"):
            for scope in (m, m.get("inter_patient", {}), m.get("recording_level", {})):
                if isinstance(scope, dict) and isinstance(scope.get(key), (int, float)):
                    return f"{key} {scope[key]:.3f}"
        return "—"
