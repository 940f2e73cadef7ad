from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from diagnostics import diary, ingestion, rhythm_reviewed, upload_start
from diagnostics import selectors as diagnostics_selectors
from diagnostics.ingestion import sampling_rate_valid
from diagnostics.models import (
    Beat,
    BeatCorrection,
    BeatFamily,
    Diagnosis,
    DiaryActivity,
    DiaryEntry,
    ECGRecording,
    Event,
    EventReview,
    Interpretation,
    RecordingMove,
    Review,
)
from ecg.clock import data_seconds
from ecg.constants import AAMI_CLASSES
from ecg.io.readers import MAX_FS, MIN_FS
from ecgsite.errors import UploadRefused
from mlmodels.models import ModelVersion
from patients.models import Patient, validate_date_of_birth

from .exceptions import ApiError
from .pagination import absolute_url
from .rhythm_schema import RateOverMinutesSerializer, RhythmSummarySerializer

MAX_ID = 2**63 - 1


def _no_surrogates(value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise serializers.ValidationError("The text contains characters that are not valid Unicode.") from None


class Text(serializers.CharField):
    """A CharField that refuses lone surrogates (PostgreSQL cannot store them) and anything but text: DRF's
    turns a JSON number into its digits, so ``{"family_name": 1e400}`` was stored as the name "inf" and
    ``{"mrn": 12345}`` as "12345" (a form's values are always text)."""

    default_error_messages = {"not_text": "Expected text (a JSON string), not {kind}."}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(_no_surrogates)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            kind = {bool: "true or false", int: "a number", float: "a number", list: "a list", dict: "an object"}
            self.fail("not_text", kind=kind.get(type(data), type(data).__name__))
        return super().to_internal_value(data)


START_HELP = (
    "When the recording began, for a file that states no start (beats, a CSV or JSON signal) or whose stated "
    "start could not be read: an ISO 8601 date-time with its offset (2026-12-04T23:50:00+01:00, or Z), or without "
    "one a wall-clock time in the server's TIME_ZONE (a time its clocks skip is 400; one they repeat is read as "
    "the first). Not in the future, not before 1900. A file that states its own start keeps it: a start given "
    "that names another moment is 400 naming this field. Empty or left out: none given."
)


class GivenStart(Text):
    """A recording's start given with its upload (diagnostics.upload_start), as the moment it names."""

    def __init__(self, **kwargs):
        super().__init__(required=False, allow_blank=True, allow_null=True, help_text=START_HELP, **kwargs)

    def run_validation(self, data=serializers.empty):
        text = super().run_validation(data)  # as text first: a JSON number or a lone surrogate is refused as such
        try:
            return upload_start.given_start(text)
        except UploadRefused as exc:
            raise serializers.ValidationError(exc.message) from None


class ObjectId(serializers.IntegerField):
    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)


# Read-only fields that change with every write: one sent back changed is a copy read before another's change
VERSION_FIELDS = ("updated_at",)


# A request serializer that refuses a field it does not know (a misspelt ``given_nmae`` or ``date_of_brith`` would
# otherwise be dropped without a word, and the record stored without it). The read-only fields of a resource are
# known: a client may send back what it was given, but a change to one is refused (``{"id": 99}`` or a new
# ``created_at`` had been dropped and answered 200). A comment, not a docstring: the schema takes a serializer's
# docstring, inherited ones included, as its body's description, and this one is for the code's readers.
class StrictFields:
    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            known = set(self.fields)  # type: ignore[attr-defined]
            unknown = sorted(str(k) for k in data.keys() if k not in known)
            if unknown:
                accepted = ", ".join(n for n, f in self.fields.items() if not f.read_only)  # type: ignore[attr-defined]
                raise serializers.ValidationError({unknown[0]: f"unknown field; this request takes {accepted}."})
            instance = getattr(self, "instance", None)
            if instance is not None:
                for name, field in self.fields.items():  # type: ignore[attr-defined]
                    if field.read_only and name in data and not _unchanged(field, instance, data[name]):
                        if name in VERSION_FIELDS:  # sent back as read, changed since by someone else
                            raise ApiError(
                                f"The resource has changed since it was read (its {name} is now "
                                f"{field.to_representation(field.get_attribute(instance))}): read it again, then "
                                "send the change.",
                                status_code=412,
                                code="precondition_failed",
                                field=name,
                            )
                        raise serializers.ValidationError(
                            {name: "read-only: it cannot be changed; leave it out or send it back as it was given."}
                        )
        return super().to_internal_value(data)  # type: ignore[misc]


def _unchanged(field: serializers.Field, instance, given) -> bool:
    """Whether ``given`` is a read-only field's value as the resource has it (a time in any equal form)."""
    try:
        current = field.get_attribute(instance)
    except (AttributeError, KeyError):
        return False
    if current is None:
        return given is None
    if given == field.to_representation(current):
        return True
    if isinstance(field, serializers.DateTimeField) and isinstance(given, str):
        try:
            return serializers.DateTimeField().to_internal_value(given) == current
        except serializers.ValidationError:
            return False
    return False


# --- errors (documentation only) ----------------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: validation_error, invalid_upload, not_found, …")
    message = serializers.CharField(help_text="For people; names the row, column or field at fault.")
    field = serializers.CharField(required=False, help_text="The request field at fault, if any.")
    details = serializers.JSONField(required=False)


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


class OperationOutcomeDetailsSerializer(serializers.Serializer):
    text = serializers.CharField(help_text="The error's stable code, as in the error JSON (e.g. not_ready).")


class OperationOutcomeIssueSerializer(serializers.Serializer):
    severity = serializers.CharField(help_text="error")
    code = serializers.CharField(help_text="The FHIR issue type: not-found, security, conflict, invalid or exception.")
    diagnostics = serializers.CharField(help_text="The error's message, for people.")
    details = OperationOutcomeDetailsSerializer()


class OperationOutcomeSerializer(serializers.Serializer):
    """An error of a FHIR route, to a client that asked for application/fhir+json (api.fhir.operation_outcome)."""

    resourceType = serializers.CharField(help_text="OperationOutcome")
    issue = OperationOutcomeIssueSerializer(many=True)


# --- patients -----------------------------------------------------------------------------


class PatientSerializer(StrictFields, serializers.ModelSerializer):
    """A patient of the clinic, known by the medical record number (MRN) the clinic gives them."""

    mrn = Text(max_length=64, help_text="Medical record number, unique within the clinic (compared without case).")
    family_name = Text(max_length=150)
    given_name = Text(max_length=150, required=False, allow_blank=True, default="")

    class Meta:
        model = Patient
        fields = ["id", "mrn", "family_name", "given_name", "date_of_birth", "sex", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]
        # PUT replaces the patient (RFC 9110 9.3.4): a field left out is cleared, as given_name always was; a
        # date of birth and sex left out had been kept, so a sync meaning "unknown" kept a stale one. PATCH
        # (PatientUpdateSerializer, partial) changes only what it sends.
        extra_kwargs = {"date_of_birth": {"default": None}, "sex": {"default": Patient.Sex.UNKNOWN}}

    def validate_date_of_birth(self, value):
        try:
            validate_date_of_birth(value, stored=self.instance.date_of_birth if self.instance is not None else None)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        return value


class PatientUpdateSerializer(PatientSerializer):
    mrn = Text(max_length=64, required=False)
    family_name = Text(max_length=150, required=False)


# --- model versions ------------------------------------------------------------------------


class ModelVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "task",
            "version",
            "sha256",
            "input_length",
            "input_fs",
            "class_labels",
            "threshold",
            "metrics",
            "report",
            "provenance",
            "created_at",
            "is_active",
            "activated_at",
        ]
        read_only_fields = fields


class ModelVersionCreateSerializer(StrictFields, serializers.Serializer):
    task = serializers.ChoiceField(choices=ModelVersion.Task.choices)
    version = Text(max_length=64)
    artifact = serializers.FileField(help_text="A .keras file or a Keras 2 .h5 file (converted to .keras).")
    threshold = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=0.0,
        max_value=1.0,
        help_text="The MI model's decision threshold (a recording is flagged at or above it). Only task=mi takes one: "
        "a heartbeat model decides by its most probable class, and one sent with it is refused.",
    )
    class_labels = serializers.ListField(child=Text(max_length=32), required=False)
    report = Text(required=False, allow_blank=True, default="", max_length=100_000)
    provenance = Text(required=False, allow_blank=True, default="", max_length=100_000)
    activate = serializers.BooleanField(required=False, default=False)

    def validate_version(self, value):
        if "/" in value or "\\" in value:
            raise serializers.ValidationError("A version may not contain slashes.")
        return value


class ModelVersionRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = ["id", "task", "version"]


# --- diagnoses and reviews -----------------------------------------------------------------


class ReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)
    reviewer_name = serializers.CharField(
        source="reviewer.display_name", read_only=True, help_text="As pages, reports and FHIR name the reviewer."
    )
    recording = serializers.IntegerField(source="diagnosis.recording_id", read_only=True)

    class Meta:
        model = Review
        fields = ["id", "diagnosis", "recording", "decision", "note", "reviewer", "reviewer_name", "created_at"]
        read_only_fields = fields


class ReviewCreateSerializer(StrictFields, serializers.Serializer):
    diagnosis = ObjectId()
    decision = serializers.ChoiceField(choices=Review.Decision.choices)
    note = Text(
        required=False,
        allow_blank=True,
        default="",
        max_length=4000,
        help_text="Why: required to `reject` (overriding a positive screen), 400 naming `note` without a reason.",
    )
    after = ObjectId(
        required=False,
        allow_null=True,
        help_text="The latest review of the diagnosis the client read (`latest_review.id`; null: none): a colleague's "
        "decision made since is 409 `review_changed`, not decided over unseen. Left out, not checked.",
    )


class ClassCountSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    percent = serializers.FloatField()


class ClassCountsSerializer(serializers.Serializer):
    N = ClassCountSerializer()
    S = ClassCountSerializer()
    V = ClassCountSerializer()
    F = ClassCountSerializer()
    Q = ClassCountSerializer()


class MiScreenSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["screened", "not_applicable", "not_assessable"])
    reason = serializers.CharField()
    lead = serializers.CharField(allow_null=True)
    beats_used = serializers.IntegerField()
    score = serializers.FloatField(allow_null=True)
    threshold = serializers.FloatField(allow_null=True)
    flag = serializers.BooleanField()


RHYTHM_STATUSES = ["current", "recomputing", "failed"]  # Diagnosis.rhythm_status


class DiagnosisListSerializer(serializers.ListSerializer):
    """Diagnoses with the events a doctor rejected read for them all in one query (``rhythm_for_api``)."""

    def to_representation(self, data):
        diagnoses = list(data.all() if hasattr(data, "all") else data)
        diagnostics_selectors.rejected_events_attach(diagnoses)
        return super().to_representation(diagnoses)


class DiagnosisSerializer(serializers.ModelSerializer):
    classes = serializers.SerializerMethodField(help_text="Beats per AAMI class: N, S, V, F, Q.")
    heartbeat_model = ModelVersionRefSerializer(read_only=True)
    mi_model = ModelVersionRefSerializer(read_only=True)
    classification_context = serializers.SerializerMethodField(
        help_text="`record`: each beat classified with its rhythm, both leads and the patient's dominant beat "
        "(continuous signals); `single_beat`: one beat at a time with no timing (beat files), so S beats "
        "cannot be told by their prematurity."
    )
    latest_review = serializers.SerializerMethodField()
    mi_screen = serializers.SerializerMethodField(
        help_text="The MI screen: status screened | not_applicable | not_assessable, the reason, the lead and "
        "number of beats scored, score and threshold (null unless screened) and the flag; only screened and "
        "flagged diagnoses enter the review queue."
    )
    rhythm = serializers.SerializerMethodField(
        help_text="Holter summary of a signal recording (heart rate, HRV, ectopy, AF burden, pauses, VF/VFL); "
        "null for beat files, which carry no timing. Its figures made of events leave out those a doctor rejected "
        "on review, as FHIR does (`rejected` counts them by type); those made of beats are the beats' classes."
    )
    beats_corrected = serializers.IntegerField(
        read_only=True,
        help_text="Beats whose class a doctor changed (`recordings/{id}/beat-corrections`); `classes` counts them "
        "in the class they have now.",
    )
    rhythm_status = serializers.ChoiceField(
        choices=RHYTHM_STATUSES,
        read_only=True,
        allow_null=True,
        help_text="Whether `rhythm` (and the recording's events) is over the beats' classes as they are: `current`; "
        "`recomputing` after a beat correction, until the worker has recomputed it (seconds to minutes: the "
        "figures until then are those from before the correction); `failed` when it could not be "
        "(`rhythm_recompute_error` says why; the figures stay those from before). Null for a beat file, which has "
        "no rhythm.",
    )
    rhythm_recompute_error = serializers.SerializerMethodField(
        help_text="Why the rhythm could not be recomputed after a beat correction; null unless `rhythm_status` is "
        "`failed`."
    )
    rhythm_recomputed_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When the rhythm was last recomputed after a beat correction; null if it never was.",
    )

    class Meta:
        model = Diagnosis
        list_serializer_class = DiagnosisListSerializer
        fields = [
            "id",
            "recording",
            "beat_count",
            "classes",
            "heart_rate_bpm",
            "mi_screen",
            "mi_score",
            "mi_threshold",
            "mi_flag",
            "heartbeat_model",
            "classification_context",
            "mi_model",
            "latest_review",
            "rhythm",
            "beats_corrected",
            "rhythm_status",
            "rhythm_recompute_error",
            "rhythm_recomputed_at",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ClassCountsSerializer)
    def get_classes(self, obj: Diagnosis) -> dict:
        return {c: {"count": n, "percent": round(p, 3)} for c, n, p in obj.class_counts()}

    @extend_schema_field(serializers.ChoiceField(choices=["record", "single_beat"]))
    def get_classification_context(self, obj: Diagnosis) -> str:
        return "record" if obj.classified_in_context else "single_beat"

    @extend_schema_field(MiScreenSerializer)
    def get_mi_screen(self, obj: Diagnosis) -> dict:
        return obj.mi_screen

    @extend_schema_field(ReviewSerializer(allow_null=True))
    def get_latest_review(self, obj: Diagnosis):
        review = obj.latest_review()
        return ReviewSerializer(review).data if review else None

    @extend_schema_field(RhythmSummarySerializer(allow_null=True))
    def get_rhythm(self, obj: Diagnosis):
        return rhythm_reviewed.rhythm_for_api(obj)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_rhythm_recompute_error(self, obj: Diagnosis) -> str | None:
        return obj.rhythm_recompute_error if obj.rhythm_status == "failed" else None


# --- interpretations --------------------------------------------------------------------------


class SignerSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The user's id in this installation.")
    name = serializers.CharField(help_text="As pages, reports and FHIR name the doctor.")


class UploaderSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The user's id in this installation.")
    name = serializers.CharField(help_text="As pages and reports name the person: the full name, else the username.")


class InterpretationSerializer(serializers.ModelSerializer):
    signed_by = serializers.SerializerMethodField()
    signed_at = serializers.DateTimeField(source="created_at", read_only=True)
    amends = serializers.IntegerField(
        source="amends_id",
        read_only=True,
        allow_null=True,
        help_text="The interpretation this one amends (the current one when it was signed); null for the first.",
    )

    class Meta:
        model = Interpretation
        fields = ["id", "recording", "text", "reason", "undecided_at_signing", "signed_by", "signed_at", "amends"]
        read_only_fields = fields
        extra_kwargs = {
            "text": {"help_text": "The doctor's interpretation; lines separated by \\n."},
            "reason": {"help_text": "Why this amendment was signed; empty for the first version."},
            "undecided_at_signing": {
                "help_text": "VF/VFL or asystole episodes no doctor had decided on when it was signed (acknowledged)."
            },
        }

    @extend_schema_field(SignerSerializer)
    def get_signed_by(self, obj: Interpretation) -> dict:
        return {"id": obj.author_id, "name": obj.author.display_name}


class InterpretationCreateSerializer(StrictFields, serializers.Serializer):
    text = Text(
        trim_whitespace=False,
        allow_blank=True,  # refused by the service, with its own message, as on the page
        help_text="The interpretation: at most 4,000 characters once line breaks are written as \\n and the text is "
        "stripped; not blank; no control characters but line breaks and tabs, no invisible direction characters; to "
        "amend, a text that differs from the current one.",
    )
    amends = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="The id of the interpretation read before signing (null: none was signed): when another doctor has "
        "signed a newer one since, 409 `interpretation_changed`, so it is not signed over unseen. Left out: not "
        "checked.",
    )
    reason = Text(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="Why the current interpretation is amended: required for an amendment (one line, at most 500 "
        "characters); not used for the first version.",
    )
    acknowledge_undecided = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Sign although VF/VFL or asystole episodes of the recording await a doctor's decision (without "
        "it, 409 `episodes_undecided` while any does).",
    )


class RecordingMoveSerializer(serializers.ModelSerializer):
    moved_by = serializers.SerializerMethodField()
    moved_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = RecordingMove
        fields = ["id", "recording", "from_patient", "to_patient", "moved_by", "reason", "moved_at"]
        read_only_fields = fields
        extra_kwargs = {
            "from_patient": {"help_text": "The patient the recording was filed under until this move."},
            "to_patient": {"help_text": "The patient it was moved to."},
            "reason": {"help_text": "Why it was moved, as the doctor said it."},
        }

    @extend_schema_field(SignerSerializer)
    def get_moved_by(self, obj: RecordingMove) -> dict:
        return {"id": obj.moved_by_id, "name": obj.moved_by.display_name}


class RecordingMoveCreateSerializer(StrictFields, serializers.Serializer):
    patient = ObjectId(help_text="The patient of the clinic the recording belongs to (404 `not_found` for another).")
    reason = Text(
        allow_blank=True,  # refused by the service, with its own message, as on the page
        trim_whitespace=False,
        help_text="Why the recording is moved: one line, at most 500 characters once stripped; not blank.",
    )
    from_patient = ObjectId(
        required=False,
        help_text="The patient the client read the recording under: when it has been moved since, 409 "
        "`recording_moved`, so it is not moved on from a patient the client did not see. Left out: not checked.",
    )


# --- recordings ----------------------------------------------------------------------------


# Where a recording's parts are (its links; export: the CSV of beats and events; moves: the patients it was filed
# under before; diary, activities and sleep: the patient's diary, its activities and the heart rate awake and asleep;
# beat_families and beat_corrections: the shapes of its beats and a doctor's corrections of their classes)
RECORDING_LINKS = (
    "self",
    "beats",
    "events",
    "fhir",
    "interpretations",
    "moves",
    "export",
    "diary",
    "activities",
    "sleep",
    "beat_families",
    "beat_corrections",
)


class RecordingSerializer(serializers.ModelSerializer):
    progress = serializers.SerializerMethodField()
    diagnosis = serializers.SerializerMethodField()
    interpretation = serializers.SerializerMethodField(
        help_text="The doctor's current signed interpretation (the newest amendment); null until one is signed."
    )
    uploaded_by = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = ECGRecording
        fields = [
            "id",
            "patient",
            "kind",
            "status",
            "error_message",
            "progress",
            "input_format",
            "original_filename",
            "sampling_rate",
            "lead",
            "leads",
            "sample_count",
            "recorded_at",
            "input_beat_count",
            "sha256",
            "uploaded_by",
            "created_at",
            "started_at",
            "finished_at",
            "updated_at",
            "diagnosis",
            "interpretation",
            "links",
        ]
        read_only_fields = fields

    @extend_schema_field(
        {
            "type": "object",
            "properties": {"done": {"type": "integer"}, "total": {"type": "integer"}},
            "required": ["done", "total"],
        }
    )
    def get_progress(self, obj: ECGRecording) -> dict:
        return {"done": obj.progress_done, "total": obj.progress_total}

    @extend_schema_field(
        UploaderSerializer(allow_null=True, help_text="Who uploaded it; null where that user was deleted since.")
    )
    def get_uploaded_by(self, obj: ECGRecording) -> dict | None:
        uploader = obj.uploaded_by
        return None if uploader is None else {"id": uploader.pk, "name": uploader.display_name}

    @extend_schema_field(DiagnosisSerializer(allow_null=True))
    def get_diagnosis(self, obj: ECGRecording):
        diagnosis = getattr(obj, "diagnosis", None) if obj.status == ECGRecording.Status.DONE else None
        return DiagnosisSerializer(diagnosis).data if diagnosis else None

    @extend_schema_field(InterpretationSerializer(allow_null=True))
    def get_interpretation(self, obj: ECGRecording):
        if obj.status != ECGRecording.Status.DONE:  # only a finished analysis is interpreted
            return None
        current = obj.interpretations.select_related("author").order_by("-id").first()
        return InterpretationSerializer(current).data if current else None

    @extend_schema_field(
        {
            "type": "object",
            "description": "Absolute URLs of the recording and its parts, at the host and scheme the request was made "
            "to, as a list's `next` and `previous` are.",
            "properties": {k: {"type": "string", "format": "uri"} for k in RECORDING_LINKS},
            "required": list(RECORDING_LINKS),
        }
    )
    def get_links(self, obj: ECGRecording) -> dict:
        request = self.context.get("request")
        if request is None:
            raise ValueError("a recording's links are absolute URLs: serialize it with the request in its context")
        return {
            "self": absolute_url(request, reverse("api:recording-detail", args=[obj.pk])),
            "beats": absolute_url(request, reverse("api:recording-beats", args=[obj.pk])),
            "events": absolute_url(request, reverse("api:recording-events", args=[obj.pk])),
            "fhir": absolute_url(request, reverse("api:recording-fhir", args=[obj.pk])),
            "interpretations": absolute_url(request, reverse("api:recording-interpretations", args=[obj.pk])),
            "moves": absolute_url(request, reverse("api:recording-moves", args=[obj.pk])),
            "export": absolute_url(request, reverse("api:recording-export", args=[obj.pk])),
            "diary": absolute_url(request, reverse("api:recording-diary", args=[obj.pk])),
            "activities": absolute_url(request, reverse("api:recording-activities", args=[obj.pk])),
            "sleep": absolute_url(request, reverse("api:recording-sleep", args=[obj.pk])),
            "beat_families": absolute_url(request, reverse("api:recording-beat-families", args=[obj.pk])),
            "beat_corrections": absolute_url(request, reverse("api:recording-beat-corrections", args=[obj.pk])),
        }


@extend_schema_field(
    {"type": "array", "items": {"type": "array", "items": {"type": "number"}, "minItems": 187, "maxItems": 188}}
)
class BeatRowsField(serializers.JSONField):
    pass


@extend_schema_field({"type": "array", "items": {"type": "number"}})
class NumbersField(serializers.JSONField):
    pass


@extend_schema_field({"type": "object", "additionalProperties": {"type": "array", "items": {"type": "number"}}})
class LeadsField(serializers.JSONField):
    pass


class FiniteFloat(serializers.FloatField):
    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value != value or value in (float("inf"), float("-inf")):
            self.fail("invalid")
        return value


@extend_schema_field({"type": "number", "format": "double", "minimum": MIN_FS, "maximum": MAX_FS})
class SamplingRate(FiniteFloat):
    """A signal's sampling rate in Hz, held to the readers' limits with their message."""

    def __init__(self, **kwargs):
        super().__init__(validators=[sampling_rate_valid], **kwargs)


class RecordingJsonSerializer(StrictFields, serializers.Serializer):
    """A recording sent as JSON: beat rows, or a signal (one array, or several named leads)."""

    patient = ObjectId()
    kind = serializers.ChoiceField(choices=ECGRecording.Kind.choices)
    beats = BeatRowsField(
        required=False, help_text="kind=beats: rows of 187 values in [0, 1] (a 188th label column 0–4 is allowed)."
    )
    fs = SamplingRate(
        required=False,
        help_text=f"kind=signal: sampling rate in Hz ({MIN_FS:g}–{MAX_FS:g}). Beats (kind=beats) carry none: sent "
        "with them, it is refused.",
    )
    signal = NumbersField(required=False, help_text="kind=signal: one lead's samples (mV).")
    leads = LeadsField(
        required=False,
        help_text='kind=signal: several named leads of equal length (mV), e.g. {"MLII": [...], "V5": [...]}.',
    )
    lead = Text(
        required=False,
        max_length=32,
        help_text="kind=signal: the lead to analyse (default MLII, else II, else the first). Beats (kind=beats) "
        "carry none: sent with them, it is refused, as `fs` is.",
    )
    recorded_at = GivenStart()

    def validate(self, attrs):
        if attrs["kind"] == ECGRecording.Kind.BEATS:
            if "beats" not in attrs:
                raise serializers.ValidationError({"beats": "kind=beats needs the field 'beats' (rows of 187 values)."})
            if "fs" in attrs:
                raise serializers.ValidationError({"fs": ingestion.BEATS_TAKE_NO_FS})
            if attrs.get("lead", "").strip():
                raise serializers.ValidationError({"lead": ingestion.BEATS_TAKE_NO_LEAD})
            extra = {"signal", "leads"} & set(attrs)
            if extra:
                raise serializers.ValidationError({sorted(extra)[0]: "only kind=signal takes this field."})
        else:
            if "beats" in attrs:
                raise serializers.ValidationError({"beats": "only kind=beats takes this field."})
            if ("signal" in attrs) == ("leads" in attrs):
                raise serializers.ValidationError({"signal": "kind=signal needs exactly one of 'signal' or 'leads'."})
            if "fs" not in attrs:
                raise serializers.ValidationError({"fs": "kind=signal needs the sampling rate 'fs' (Hz)."})
        return attrs


class RecordingUploadSerializer(StrictFields, serializers.Serializer):
    """A recording uploaded as files, with the same formats as the upload page."""

    patient = ObjectId()
    kind = serializers.ChoiceField(choices=ECGRecording.Kind.choices)
    file = serializers.ListField(
        child=serializers.FileField(),
        required=False,
        help_text="One beat file (CSV/TXT/XLSX) or a signal (WFDB .hea + .dat or a .zip, EDF, CSV, JSON). Repeat for WFDB.",
    )
    text = Text(required=False, allow_blank=True, help_text="Instead of a file: beat values, one beat per line.")
    fs = SamplingRate(
        required=False,
        help_text=f"Sampling rate (Hz) of a CSV or JSON signal ({MIN_FS:g}–{MAX_FS:g}). A beat file (kind=beats) "
        "carries none: sent with it, it is refused.",
    )
    lead = Text(
        required=False,
        allow_blank=True,
        max_length=32,
        help_text="kind=signal: the lead to analyse (default MLII, else II, else the first). A beat file (kind=beats) "
        "carries none: sent with it, it is refused.",
    )
    recorded_at = GivenStart()


class BeatSerializer(serializers.ModelSerializer):
    probabilities = serializers.SerializerMethodField()
    corrected_from = serializers.SerializerMethodField(
        help_text="The class the analysis gave, where a doctor changed it (`aami_class` is then the doctor's); null "
        "otherwise."
    )
    mi_scored = serializers.SerializerMethodField(
        help_text="Whether the MI screen scored this beat (the diagnosis's `mi_screen.beats_used` are these): its "
        "score is their median (beat rows: mean) where it is screened; a doctor's beat corrections may have left "
        "some out."
    )

    class Meta:
        model = Beat
        fields = [
            "index",
            "position",
            "aami_class",
            "corrected_from",
            "family",
            "probabilities",
            "mi_probability",
            "mi_scored",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "aami_class": {
                "help_text": "The beat's class. For a continuous signal it is decided from the classifier's "
                "probabilities and the beat's context (beats of one shape, rhythm rules), so it can differ from "
                "the most probable class in `probabilities`; where a doctor corrected it, the doctor's "
                "(`corrected_from`)."
            },
            "family": {
                "help_text": "The number of its beat family (`recordings/{id}/beat-families`: the beats of its class "
                "and shape, as the analysis classified them); null where none was found (beat files, recordings "
                "analysed before families were)."
            },
        }

    def get_mi_scored(self, obj: Beat) -> bool:
        return obj.index in self.context.get("mi_scored", ())

    @extend_schema_field(serializers.ChoiceField(choices=list(AAMI_CLASSES), allow_null=True))
    def get_corrected_from(self, obj: Beat) -> str | None:
        return obj.corrected_from or None

    @extend_schema_field(
        {
            "type": "object",
            "properties": {c: {"type": "number"} for c in AAMI_CLASSES},
            "description": "The classifier's own class probabilities for this beat, before the decision rules.",
        }
    )
    def get_probabilities(self, obj: Beat) -> dict:
        return obj.probabilities


class EventReviewSerializer(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username", read_only=True)
    reviewer_name = serializers.CharField(
        source="reviewer.display_name", read_only=True, help_text="As pages, reports and FHIR name the reviewer."
    )

    class Meta:
        model = EventReview
        fields = ["decision", "note", "reviewer", "reviewer_name", "created_at"]
        read_only_fields = fields


class EventSerializer(serializers.ModelSerializer):
    duration_s = serializers.SerializerMethodField(
        help_text="Seconds from `start` to `end`, cut (never rounded up) to hundredths, as the FHIR report's episode "
        "durations; null where the recording has no sampling rate."
    )
    latest_review = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = ["id", "type", "start", "end", "duration_s", "beats", "rate_bpm", "latest_review"]
        read_only_fields = fields

    def get_duration_s(self, obj: Event) -> float | None:
        fs = self.context.get("fs")
        return data_seconds((obj.end - obj.start) / fs) if fs else None

    @extend_schema_field(EventReviewSerializer(allow_null=True))
    def get_latest_review(self, obj: Event):
        reviews = list(obj.reviews.all())  # prefetched, newest first
        return EventReviewSerializer(reviews[0]).data if reviews else None


# --- the patient's diary ---------------------------------------------------------------------


class DiaryNearSerializer(serializers.Serializer):
    event = serializers.IntegerField(help_text="The event's id (`recordings/{id}/events`).")
    type = serializers.ChoiceField(choices=Event.Type.choices)
    offset_s = serializers.IntegerField(help_text="Whole seconds between the event and the noted moment.")
    after = serializers.BooleanField(help_text="Whether the event began after the moment (else it ended before).")
    rejected = serializers.BooleanField(help_text="Whether a doctor's latest decision on the event rejects it.")


class DiaryDuringSerializer(serializers.Serializer):
    event = serializers.IntegerField(help_text="The event's id (`recordings/{id}/events`).")
    type = serializers.ChoiceField(choices=Event.Type.choices)
    rejected = serializers.BooleanField(help_text="Whether a doctor's latest decision on the event rejects it.")


class DiaryRhythmSerializer(serializers.Serializer):
    finding = serializers.CharField(help_text="The rhythm at the moment in a sentence, as the page and report say it.")
    during = DiaryDuringSerializer(many=True, help_text="The rhythm events the moment lies in.")
    near = DiaryNearSerializer(many=True, help_text="Other rhythm events within 60 s of it.")
    rate_bpm = serializers.IntegerField(
        allow_null=True,
        help_text="The heart rate over the beats 5 s either side of the moment; null with fewer than 3, in VF/VFL or "
        "asystole, without signal or in noise.",
    )
    beats = serializers.DictField(
        child=serializers.IntegerField(), help_text="The beats 5 s either side of it, by AAMI class."
    )
    unreadable = serializers.CharField(help_text="Why the ECG cannot be read there (no signal, noise), or empty.")


class DiaryEntrySerializer(serializers.ModelSerializer):
    at_s = serializers.SerializerMethodField(
        help_text="Seconds from the start of the recording to the moment noted, cut to hundredths."
    )
    at = serializers.SerializerMethodField(
        help_text="The moment as a date-time, where the recording's start is known (`recorded_at`); else null."
    )
    entered_by = serializers.SerializerMethodField()
    entered_at = serializers.DateTimeField(source="created_at", read_only=True)
    removed_by = serializers.SerializerMethodField()
    rhythm = serializers.SerializerMethodField()

    class Meta:
        model = DiaryEntry
        fields = [
            "id",
            "recording",
            "sample",
            "at_s",
            "at",
            "symptom",
            "note",
            "entered_by",
            "entered_at",
            "removed_at",
            "removed_by",
            "rhythm",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "sample": {
                "help_text": "The moment noted, in samples of the original signal (as events' `start`): the exact "
                "time is sample / the recording's sampling rate."
            },
            "symptom": {
                "help_text": "A stable code: "
                + ", ".join(f"{symptom} (SNOMED CT {code})" for symptom, (code, _term) in diary.SNOMED_CT.items())
                + ", other (the note says what)."
            },
            "note": {"help_text": "What the diary says beside the symptom, as one line (line breaks as spaces)."},
            "removed_at": {
                "help_text": "When it was removed as entered by mistake (listed only with `?removed=true`); else null."
            },
        }

    @extend_schema_field(SignerSerializer(allow_null=True))
    def get_removed_by(self, obj: DiaryEntry) -> dict | None:
        if obj.removed_by is None:
            return None
        return {"id": obj.removed_by.pk, "name": obj.removed_by.display_name}

    def get_at_s(self, obj: DiaryEntry) -> float:
        return data_seconds(obj.sample / (obj.recording.sampling_rate or 1.0))  # a diary is a signal recording's

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_at(self, obj: DiaryEntry) -> str | None:
        return _moment_at(obj.recording, obj.sample)

    @extend_schema_field(SignerSerializer)
    def get_entered_by(self, obj: DiaryEntry) -> dict:
        return {"id": obj.entered_by_id, "name": obj.entered_by.display_name}

    @extend_schema_field(DiaryRhythmSerializer(allow_null=True))
    def get_rhythm(self, obj: DiaryEntry) -> dict | None:
        diagnosis = getattr(obj.recording, "diagnosis", None)
        rhythm = diagnosis.rhythm if diagnosis is not None else None
        if rhythm is None:
            return None
        found = self.context.get("rhythms", {}).get(obj.pk) or diary.rhythm_at(obj.recording, obj.sample, rhythm)
        return {
            "finding": found["finding"],
            "during": [{"event": d["event"].pk, "type": d["type"], "rejected": d["rejected"]} for d in found["during"]],
            "near": [
                {
                    "event": n["event"].pk,
                    "type": n["type"],
                    "offset_s": n["offset_s"],
                    "after": n["after"],
                    "rejected": n["rejected"],
                }
                for n in found["near"]
            ],
            "rate_bpm": found["rate_bpm"],
            "beats": found["beats"],
            "unreadable": found["unreadable"],
        }


class Seconds(serializers.FloatField):
    """A number of seconds sent as a JSON number: true, false and numbers written as text are refused (a mapping
    error of the sender's would otherwise become a moment at 1 s or 0 s)."""

    default_error_messages = {"not_number": "Expected a number (a JSON number), not {kind}."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, float)):
            self.fail("not_number", kind=type(data).__name__ if not isinstance(data, bool) else "true or false")
        return super().to_internal_value(data)


class WithOffset(serializers.DateTimeField):
    """A date-time that states its offset from UTC: one without is refused, not read in the server's zone (a
    local time on a day the clocks change can be an hour off, or no time at all)."""

    default_error_messages = {"no_offset": "Give the date-time with its offset from UTC (…+01:00 or …Z)."}

    def to_internal_value(self, value):
        from django.utils.dateparse import parse_datetime

        try:
            parsed = parse_datetime(value) if isinstance(value, str) else None
        except ValueError:  # the form of a date-time, but no such date or offset (2026-13-01, +99:00): DRF says so
            parsed = None
        if parsed is not None and parsed.tzinfo is None:
            self.fail("no_offset")
        return super().to_internal_value(value)


# The two ways a diary entry's moment is given: one of them, the other left out or null.
MOMENT_FIELDS = ("at_s", "at")


class DiaryEntryCreateSerializer(StrictFields, serializers.Serializer):
    at_s = Seconds(
        required=False,
        allow_null=True,
        min_value=0,
        help_text="Seconds from the start of the recording to the moment noted, a number (give this or `at`; null "
        "or left out when `at` is given).",
    )
    at = WithOffset(
        required=False,
        allow_null=True,
        help_text="The moment noted as an ISO 8601 date-time with its offset, for a recording whose start is "
        "known, `recorded_at` (give this or `at_s`; null or left out when `at_s` is given).",
    )
    symptom = serializers.ChoiceField(choices=DiaryEntry.Symptom.choices)
    note = Text(
        required=False,
        allow_blank=True,
        allow_null=True,
        trim_whitespace=False,
        help_text="What the diary says beside the symptom: one line, at most 500 characters; required for `other` "
        "(null or left out: none).",
    )

    def validate(self, attrs):
        # a client that writes every field of its model sends the unused one as null: not given, as left out (a
        # note too)
        given = [name for name in MOMENT_FIELDS if attrs.get(name) is not None]
        if len(given) != 1:
            why = "both were given" if given else "neither was given (null counts as not given)"
            raise serializers.ValidationError({"at_s": f"Give the moment noted as at_s or as at, one of them: {why}."})
        return {name: value for name, value in attrs.items() if value is not None}


# --- the diary's activities: sleep, exercise, medication ---------------------------------------------------------


def _moment_s(recording: ECGRecording, sample: int | None) -> float | None:
    return None if sample is None else data_seconds(sample / (recording.sampling_rate or 1.0))


def _moment_at(recording: ECGRecording, sample: int | None) -> str | None:
    """The moment as a date-time, written as the API writes every time (DRF's: in TIME_ZONE with its offset, UTC as
    ``Z``, not isoformat's ``+00:00``): a receiver parses one form."""
    when = diary.moment_datetime(recording, sample) if sample is not None else None
    return serializers.DateTimeField().to_representation(when) if when else None


class DiaryActivitySerializer(serializers.ModelSerializer):
    start_sample = serializers.IntegerField(
        source="start",
        read_only=True,
        help_text="When it began (or the moment), in samples of the original signal, as events' `start`.",
    )
    end_sample = serializers.IntegerField(
        source="end",
        read_only=True,
        allow_null=True,
        help_text="When it ended, in samples, inclusive as events' `end`; null for a moment (a medicine taken).",
    )
    start_s = serializers.SerializerMethodField(help_text="Seconds from the start of the recording, cut to hundredths.")
    end_s = serializers.SerializerMethodField(help_text="Seconds from the start of the recording; null for a moment.")
    start = serializers.SerializerMethodField(
        help_text="When it began as a date-time, where the recording's start is known (`recorded_at`); else null."
    )
    end = serializers.SerializerMethodField(help_text="When it ended as a date-time, as `start`; null for a moment.")
    entered_by = serializers.SerializerMethodField()
    entered_at = serializers.DateTimeField(source="created_at", read_only=True)
    removed_by = serializers.SerializerMethodField()
    heart_rate = serializers.SerializerMethodField(
        help_text="Over a period (sleep, exercise, other with an end): the minutes of the per-minute trend whose middle "
        "lies in it, their mean rate and their lowest and highest over 4 beats; null for a moment and until the "
        "recording is done."
    )

    class Meta:
        model = DiaryActivity
        fields = [
            "id",
            "recording",
            "kind",
            "start_sample",
            "end_sample",
            "start_s",
            "end_s",
            "start",
            "end",
            "note",
            "entered_by",
            "entered_at",
            "removed_at",
            "removed_by",
            "heart_rate",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "kind": {
                "help_text": "A stable code: sleep (asleep, from going to sleep to waking), exercise (exercise or "
                "exertion), medication (a medicine taken: a moment), other (the note says what)."
            },
            "note": {"help_text": "What the diary says beside it, as one line (line breaks as spaces)."},
            "removed_at": {
                "help_text": "When it was removed as entered by mistake (listed only with `?removed=true`); else null."
            },
        }

    @extend_schema_field(serializers.FloatField())
    def get_start_s(self, obj: DiaryActivity) -> float | None:
        return _moment_s(obj.recording, obj.start)

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_end_s(self, obj: DiaryActivity) -> float | None:
        return _moment_s(obj.recording, obj.end)

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_start(self, obj: DiaryActivity) -> str | None:
        return _moment_at(obj.recording, obj.start)

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_end(self, obj: DiaryActivity) -> str | None:
        return _moment_at(obj.recording, obj.end)

    @extend_schema_field(SignerSerializer)
    def get_entered_by(self, obj: DiaryActivity) -> dict:
        return {"id": obj.entered_by_id, "name": obj.entered_by.display_name}

    @extend_schema_field(SignerSerializer(allow_null=True))
    def get_removed_by(self, obj: DiaryActivity) -> dict | None:
        if obj.removed_by is None:
            return None
        return {"id": obj.removed_by.pk, "name": obj.removed_by.display_name}

    @extend_schema_field(RateOverMinutesSerializer(allow_null=True))
    def get_heart_rate(self, obj: DiaryActivity) -> dict | None:
        recording = obj.recording
        diagnosis = getattr(recording, "diagnosis", None) if recording.status == ECGRecording.Status.DONE else None
        over = diary.activity_heart_rate(recording, obj, diagnosis.rhythm if diagnosis is not None else None)
        return rate_over_minutes(recording, over) if over is not None else None


def rate_over_minutes(recording: ECGRecording, over: dict) -> dict:
    """A heart rate over minutes of the trend (ecg.rhythm.sleep.rate_over) as the API gives it: each extreme with its
    minute's start in seconds from the start and, where the file stated when the recording started, as a date-time
    (a minute's number alone had left the client to work out when)."""

    def extreme(found: dict | None) -> dict | None:
        if found is None:
            return None
        return {
            "bpm": found["bpm"],
            "minute": found["minute"],
            "at_s": float(found["minute"] * 60),
            "at": _moment_at(recording, round(found["minute"] * 60 * (recording.sampling_rate or 0))),
        }

    return {
        "minutes": over["minutes"],
        "mean_bpm": over["mean_bpm"],
        "lowest": extreme(over["lowest"]),
        "highest": extreme(over["highest"]),
    }


class DiaryActivityCreateSerializer(StrictFields, serializers.Serializer):
    kind = serializers.ChoiceField(choices=DiaryActivity.Kind.choices)
    start_s = Seconds(
        required=False,
        allow_null=True,
        min_value=0,
        help_text="Seconds from the start of the recording to when it began, a number (give this or `start`).",
    )
    start = WithOffset(
        required=False,
        allow_null=True,
        help_text="When it began as an ISO 8601 date-time with its offset, for a recording whose start is known, "
        "`recorded_at` (give this or `start_s`).",
    )
    end_s = Seconds(
        required=False,
        allow_null=True,
        min_value=0,
        help_text="Seconds from the start to when it ended (or `end`): required for sleep and exercise, none for "
        "medication, either for other; after the beginning.",
    )
    end = WithOffset(
        required=False, allow_null=True, help_text="When it ended as a date-time with its offset (or `end_s`)."
    )
    note = Text(
        required=False,
        allow_blank=True,
        allow_null=True,
        trim_whitespace=False,
        help_text="What the diary says beside it: one line, at most 500 characters; required for `other` (null or "
        "left out: none).",
    )

    def validate(self, attrs):
        # null is not given, as for a diary entry's moment (a client writing every field of its model sends it)
        attrs = {name: value for name, value in attrs.items() if value is not None}
        if ("start_s" in attrs) == ("start" in attrs):
            why = "both were given" if "start_s" in attrs else "neither was given (null counts as not given)"
            raise serializers.ValidationError(
                {"start_s": f"Give when it began as start_s or as start, one of them: {why}."}
            )
        if "end_s" in attrs and "end" in attrs:
            raise serializers.ValidationError({"end_s": "Give when it ended as end_s or as end, not both."})
        return attrs


# --- beat families and a doctor's corrections of beat classes ----------------------------------------------------


class BeatTemplateSerializer(serializers.Serializer):
    fs = serializers.FloatField(help_text="Samples per second of the template (the classifier's rate, not the file's).")
    r_s = serializers.FloatField(help_text="Seconds from the template's first sample to the R peak.")
    leads = serializers.ListField(
        child=serializers.ListField(child=serializers.FloatField()),
        help_text="The family's mean beat, one array per lead (the analysed lead first, then the second where there "
        "is one), in units of the recording's dominant beat (its R wave about 1), not mV.",
    )
    lead_names = serializers.ListField(
        child=serializers.CharField(),
        allow_null=True,
        help_text="The name of the lead each array of `leads` is drawn from, in their order, as the file names them "
        "(the second is the lead the analysis took beside the analysed one, not always the file's next). Null for "
        "families found before the names were stored with them: not guessed.",
    )


class BeatFamilySerializer(serializers.ModelSerializer):
    """A recording's beats of one class and QRS shape, as the analysis classified them (a Holter system's template)."""

    aami_class = serializers.ChoiceField(
        choices=list(AAMI_CLASSES), read_only=True, help_text="The class the analysis gave its beats."
    )
    # example_position and beats_corrected: read with the families (diagnostics.selectors.beat_families)
    example_position = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="The sample of the example beat's R peak in the original signal.",
    )
    template = BeatTemplateSerializer(read_only=True)
    beats_corrected = serializers.IntegerField(
        read_only=True,
        help_text="How many of its beats a doctor has made another class (`beats?family=` lists them with their "
        "class now).",
    )

    class Meta:
        model = BeatFamily
        fields = ["number", "aami_class", "beats", "rare", "example", "example_position", "template", "beats_corrected"]
        read_only_fields = fields
        extra_kwargs = {
            "number": {"help_text": "The family's number in the recording, from 0: `family` in a correction."},
            "beats": {"help_text": "Its beats."},
            "rare": {"help_text": "The class's rarer shapes gathered in one family, not one shape."},
            "example": {"help_text": "The index of the member beat most like the family's mean."},
        }


class StoredInstantField(serializers.DateTimeField):
    """A time kept as an ISO string in a JSON field (a withdrawn event's): written as the API writes every time, in
    TIME_ZONE with its offset, UTC as ``Z`` (DRF passes a string through as it is, ``+00:00``, and a receiver parses
    one form)."""

    def to_representation(self, value):
        if isinstance(value, str):
            value = parse_datetime(value) or value
        return super().to_representation(value)


class WithdrawnDecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=EventReview.Decision.choices)
    reviewer = serializers.CharField(help_text="The doctor's name.")
    note = serializers.CharField(allow_blank=True)
    at = StoredInstantField(help_text="When the doctor decided.")


class WithdrawnEventSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=Event.Type.choices)
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    beats = serializers.IntegerField(allow_null=True, help_text="null for VF/VFL, as an event's")
    decisions = WithdrawnDecisionSerializer(many=True)
    withdrawn_at = StoredInstantField(
        allow_null=True,
        help_text="When the recomputation withdrew it: after the correction's `undone_at`, its undoing did (the events "
        "an undoing withdraws are kept with the correction undone). Null for one withdrawn before this was kept.",
    )


PREVIOUS_COUNTS = {
    "type": "object",
    "properties": {c: {"type": "integer", "minimum": 1} for c in AAMI_CLASSES},
    "additionalProperties": False,
    "description": "How many of its beats were of each class before it (only the classes they were).",
}


class BeatCorrectionSerializer(serializers.ModelSerializer):
    """A doctor's change of the class of some of a recording's beats; in a list without the beats' indices."""

    to_class = serializers.ChoiceField(choices=list(AAMI_CLASSES), read_only=True)
    beats_changed = serializers.SerializerMethodField(help_text="The beats whose class it changed.")
    previous = serializers.SerializerMethodField()
    made_by = serializers.SerializerMethodField()
    undone_by = serializers.SerializerMethodField(help_text="Who undid it; null while it stands.")
    withdrawn_events = WithdrawnEventSerializer(
        many=True,
        read_only=True,
        help_text="Rhythm events the recomputation after it, or after its undoing, no longer found, which carried "
        "doctors' decisions: kept here as they were.",
    )

    class Meta:
        model = BeatCorrection
        fields = [
            "id",
            "recording",
            "family",
            "to_class",
            "beats_changed",
            "previous",
            "note",
            "made_by",
            "created_at",
            "undone_at",
            "undone_by",
            "withdrawn_events",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "family": {"help_text": "The family whose beats it corrected; null for beats chosen one by one."},
            "note": {"help_text": "The doctor's note; empty for none."},
            "undone_at": {"help_text": "When it was undone (its beats given back their class); null while it stands."},
        }

    @extend_schema_field(serializers.IntegerField())
    def get_beats_changed(self, obj: BeatCorrection) -> int:
        changed = getattr(obj, "changed", None)  # counted in the database by the list (beat_correction_list)
        return obj.beats_changed if changed is None else changed

    @extend_schema_field(PREVIOUS_COUNTS)
    def get_previous(self, obj: BeatCorrection) -> dict:
        counts = getattr(obj, "previous_counts", None)
        if counts is None:
            counts = {c: len(indices) for c, indices in obj.previous.items()}
        return {c: counts[c] for c in AAMI_CLASSES if counts.get(c)}

    @extend_schema_field(SignerSerializer)
    def get_made_by(self, obj: BeatCorrection) -> dict:
        return {"id": obj.made_by_id, "name": obj.made_by.display_name}

    @extend_schema_field(SignerSerializer(allow_null=True))
    def get_undone_by(self, obj: BeatCorrection) -> dict | None:
        return None if obj.undone_by is None else {"id": obj.undone_by_id, "name": obj.undone_by.display_name}


class BeatCorrectionDetailSerializer(BeatCorrectionSerializer):
    """A doctor's change of the class of some of a recording's beats, with the beats' indices."""

    beat_indices = serializers.ListField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text="The beats whose class it changed, by index, ascending (a whole family's: up to every beat of the "
        "recording).",
    )

    class Meta(BeatCorrectionSerializer.Meta):
        fields = [*BeatCorrectionSerializer.Meta.fields, "beat_indices"]
        read_only_fields = fields


class WholeNumber(serializers.IntegerField):
    """A JSON whole number: neither text ("3") nor a fraction (3.5) nor true."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class ChosenBeats(serializers.ListField):
    """Beats named by index, refused at once when more than ``max_length``: a ListField checks each item before its
    length, so a body of millions of bad items had been validated one by one, its answer naming each (minutes, and
    hundreds of megabytes)."""

    def to_internal_value(self, data):
        if isinstance(data, list) and self.max_length is not None and len(data) > self.max_length:
            raise serializers.ValidationError(
                f"{len(data):,} beats named; at most {self.max_length:,} can be named in one correction (a whole "
                "family is corrected by its number)."
            )
        return super().to_internal_value(data)


class BeatCorrectionCreateSerializer(StrictFields, serializers.Serializer):
    to_class = serializers.ChoiceField(choices=list(AAMI_CLASSES), help_text="The class the beats are to have.")
    family = WholeNumber(
        required=False,
        min_value=0,
        max_value=32767,
        help_text="The number of a beat family of the recording (`recordings/{id}/beat-families`): every beat of "
        "that shape takes the class, whatever a later correction made of some. Give this or `beats`.",
    )
    beats = ChosenBeats(
        child=WholeNumber(min_value=0, max_value=10**9),
        required=False,
        max_length=BeatCorrection.MAX_BEATS_CHOSEN,
        help_text="The beats to correct, by index (`recordings/{id}/beats`): at most 1,000, each once. Give this or "
        "`family`.",
    )
    note = Text(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="Why, as the doctor says it: one line, at most 500 characters.",
    )
