import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.shortcuts import redirect
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime

from accounts.admin import AuditedAdmin, audit_admin_action
from accounts.models import AuditEvent
from ecgsite.errors import ApplicationError

from . import selectors, services
from .models import ModelActivation, ModelVersion


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

    def _post_clean(self):
        pass  # the instance is made by model_version_register, which validates it


@admin.register(ModelVersion)
class ModelVersionAdmin(AuditedAdmin):
    list_display = ["task", "version", "is_active", "threshold", "headline_metric", "created_at", "created_by"]
    list_select_related = ["created_by"]  # nullable: the admin's own select_related() skips it, a query a row
    list_filter = ["task", "is_active"]
    actions = ["activate"]
    readonly_fields = [
        "sha256",
        "is_active",
        "activated_at",
        "created_by",
        "created_at",
        "metrics_pretty",
        "artifact_stored",
        "activation_history",
    ]

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_clinic_admin

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    # clinic administrators see the versions; the installation's administrators register and activate them
    def has_add_permission(self, request):
        return request.user.manages_models

    def has_change_permission(self, request, obj=None):
        return request.user.manages_models

    def has_delete_permission(self, request, obj=None):
        return False  # diagnoses keep pointing at the versions that produced them

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ModelVersionUploadForm
        return super().get_form(request, obj, **kwargs)

    def add_view(self, request, form_url="", extra_context=None):
        """Register an uploaded artifact through model_version_register, as the API does."""
        if request.method != "POST":
            return super().add_view(request, form_url, extra_context)
        if not self.has_add_permission(request):  # Django's own add view checks it; this POST bypasses that view
            raise PermissionDenied
        form = ModelVersionUploadForm(request.POST, request.FILES)
        if form.is_valid():
            fields = form.cleaned_data
            try:
                version = services.model_version_register(
                    task=fields["task"],
                    version=fields["version"],
                    upload=fields["artifact"],
                    refuse_changes=True,
                    class_labels=fields.get("class_labels"),
                    threshold=fields.get("threshold"),
                    report=fields.get("report", ""),
                    provenance=fields.get("provenance", ""),
                    created_by=request.user,
                )
            except ApplicationError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                self.log_addition(request, version, [{"added": {}}])
                self.message_user(request, f"Registered {version}.", messages.SUCCESS)
                return redirect("admin:mlmodels_modelversion_changelist")
        fieldsets = self.get_fieldsets(request)
        admin_form = helpers.AdminForm(form, list(fieldsets), {}, [], model_admin=self)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Add {self.opts.verbose_name}",
            "adminform": admin_form,
            "object_id": None,
            "original": None,
            "is_popup": False,
            "to_field": None,
            "media": self.media + admin_form.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        return self.render_change_form(request, context, add=True, form_url=form_url)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["task", "version", "artifact", "class_labels", "threshold", "provenance", "report"]
        return [
            "task",
            "version",
            "artifact_stored",
            "sha256",
            "is_active",
            "activated_at",
            "activation_history",
            "class_labels",
            "threshold",
            "metrics_pretty",
            "report",
            "provenance",
            *(["description_fixed"] if self._diagnosed(obj) else []),
            "created_by",
            "created_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        # a version's artifact and threshold do not change (diagnoses record the version that made them):
        # another threshold is another version
        fixed = [*self.readonly_fields, "task", "version", "class_labels", "threshold", "input_length", "input_fs"]
        if self._diagnosed(obj):
            # what a clinician reads of the model behind a diagnosis stays what it was when the diagnosis was made
            # (a superuser could rewrite them after): a typo is put right before the version diagnoses anything
            fixed += ["report", "provenance", "description_fixed"]
        return fixed

    def _diagnosed(self, obj) -> int:
        """How many diagnoses ``obj`` made, read once per request's object."""
        if obj is None:
            return 0
        if not hasattr(obj, "_diagnosed"):
            obj._diagnosed = selectors.model_version_diagnosed(obj)
        return obj._diagnosed

    @admin.display(description="evaluation and provenance")
    def description_fixed(self, obj):
        count = self._diagnosed(obj)
        return (
            f"Fixed, as this version has diagnosed recordings ({count} so far): its evaluation report and training "
            "data provenance are kept as they were when it made them. Register another version to describe a model "
            "otherwise."
        )

    @admin.action(description="Activate the selected version (one per task)", permissions=["change"])
    def activate(self, request, queryset):
        chosen = list(queryset)
        if len({mv.task for mv in chosen}) != len(chosen):
            self.message_user(request, "Choose at most one version per task to activate.", messages.ERROR)
            return redirect(request.get_full_path())
        for mv in chosen:
            try:
                made = services.model_version_activation(
                    model_version=mv, by=request.user, via=ModelActivation.Via.ADMIN
                )
            except ApplicationError as exc:  # its stored artifact is gone or changed: the active version stays
                self.message_user(request, exc.message, messages.ERROR)
                continue
            if made is None:  # nothing changed: nothing to audit
                self.message_user(request, f"{mv} is already the active version: nothing changed.", messages.INFO)
                continue
            audit_admin_action(request, AuditEvent.Action.ACTIVATE, mv)
            self.message_user(request, f"Activated {mv}.", messages.SUCCESS)
        return None

    @admin.display(description="artifact")
    def artifact_stored(self, obj):
        # its name in the store, not a link: stored files are not served over the web (MEDIA_URL)
        return obj.artifact.name or "—"

    @admin.display(description="activations")
    def activation_history(self, obj):
        """When this version became the task's active one and when another replaced it, who chose each and how."""
        rows = ModelActivation.objects.filter(Q(model_version=obj) | Q(previous=obj)).select_related(
            "model_version", "previous", "activated_by"
        )
        if not rows:
            return "—"
        return format_html_join(
            "\n",
            "<div>{}: {} → {}, by {} ({})</div>",
            (
                (
                    localtime(row.activated_at).strftime("%Y-%m-%d %H:%M:%S %Z"),
                    row.previous.version if row.previous else "none",
                    row.model_version.version,
                    row.activated_by.username if row.activated_by else "no user",
                    row.get_via_display() or "before activations were kept",
                )
                for row in rows
            ),
        )

    @admin.display(description="metrics")
    def metrics_pretty(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.metrics, indent=2, sort_keys=True))

    @admin.display(description="headline")
    def headline_metric(self, obj):
        return headline(obj.metrics or {})


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def headline(metrics: dict) -> str:
    """A card's key figure on patients the model never saw, for the versions list: a record-level heartbeat
    model's cross-validated S and V sensitivity / +P, an MI model's recording-level figures (transfer
    protocol, confident MI), an older card's inter-patient macro F1; "—" for a card with none of them (the
    list had shown "—" for every record-level and MI card)."""
    classes = (metrics.get("cv_all") or {}).get("classes") or {}
    shown = [
        f"{name} Se {classes[name]['se']:.1%} +P {classes[name]['ppv']:.1%}"
        for name in ("S", "V")
        if isinstance(classes.get(name), dict)
        and _number(classes[name].get("se"))
        and _number(classes[name].get("ppv"))
    ]
    if shown:
        return "CV " + ", ".join(shown)
    recording = (((metrics.get("transfer") or {}).get("confident_mi") or {}).get("recording")) or {}
    figures = [(key, recording.get(key)) for key in ("roc_auc", "recall", "specificity")]
    if all(_number(value) for _key, value in figures):
        return "recordings: " + ", ".join(f"{key.replace('_', ' ')} {value:.3f}" for key, value in figures)
    for key in ("macro_f1", "roc_auc", "accuracy"):
        for scope in (metrics, metrics.get("inter_patient", {}), metrics.get("recording_level", {})):
            if isinstance(scope, dict) and _number(scope.get(key)):
                return f"{key} {scope[key]:.3f}"
    return "—"
