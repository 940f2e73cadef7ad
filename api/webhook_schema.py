"""The webhook notices (api.webhooks) in the OpenAPI schema's ``webhooks`` section (OpenAPI 3.1), so a receiver's
models are generated as the API's are; documentation only: tests/api/test_webhook_schema.py holds the bodies
api.webhooks.payload writes to these schemas, no key more or fewer."""

from drf_spectacular.utils import OpenApiResponse, OpenApiWebhook, extend_schema
from rest_framework import serializers

from diagnostics.models import Diagnosis, Event, EventReview, Review
from ecg.constants import AAMI_CLASSES

from . import webhooks


def _link(what: str, path: str) -> serializers.URLField:
    """A notice's link: absolute, at the installation's address (its SITE_URL setting; api.webhooks.site_address)."""
    return serializers.URLField(help_text=f"{what}: the installation's address (SITE_URL), then `{path}`")


def _event(name: str) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=[name], help_text="What happened")


class DiagnosisNoticeSerializer(serializers.Serializer):
    event = _event(webhooks.DIAGNOSIS_CREATED)
    recording = serializers.IntegerField()
    diagnosis = serializers.IntegerField()
    mi_status = serializers.ChoiceField(choices=Diagnosis.MiStatus.choices)
    mi_flag = serializers.BooleanField(help_text="The MI screen's flag (a doctor's rejection leaves it true)")
    url = _link("The recording's URL", "/api/v1/recordings/{id}")


class DiagnosisReviewedNoticeSerializer(DiagnosisNoticeSerializer):
    event = _event(webhooks.DIAGNOSIS_REVIEWED)
    review = serializers.IntegerField()
    decision = serializers.ChoiceField(choices=Review.Decision.choices)
    reviewed_at = serializers.DateTimeField()
    review_url = _link("The review's URL", "/api/v1/reviews/{id}")


class EventReviewedNoticeSerializer(DiagnosisNoticeSerializer):
    event = _event(webhooks.EVENT_REVIEWED)
    rhythm_event = serializers.IntegerField()
    rhythm_event_type = serializers.ChoiceField(choices=Event.Type.choices)
    decision = serializers.ChoiceField(choices=EventReview.Decision.choices)
    reviewed_at = serializers.DateTimeField()
    events_url = _link("The URL of the recording's events", "/api/v1/recordings/{id}/events")


class RecordingInterpretedNoticeSerializer(DiagnosisNoticeSerializer):
    event = _event(webhooks.RECORDING_INTERPRETED)
    interpretation = serializers.IntegerField()
    signed_by = serializers.CharField(help_text="The signing doctor's name")
    signed_at = serializers.DateTimeField()
    interpretations_url = _link("The URL of the recording's interpretations", "/api/v1/recordings/{id}/interpretations")


class BeatsCorrectedNoticeSerializer(DiagnosisNoticeSerializer):
    event = _event(webhooks.BEATS_CORRECTED)
    correction = serializers.IntegerField(help_text="The correction's id among the recording's beat corrections")
    action = serializers.ChoiceField(choices=["made", "undone"], help_text="Made, or undone (its beats' classes back)")
    to_class = serializers.ChoiceField(choices=list(AAMI_CLASSES), help_text="The class the correction gave the beats")
    family = serializers.IntegerField(
        allow_null=True, help_text="The family corrected; null for beats chosen one by one"
    )
    beats_changed = serializers.IntegerField(help_text="How many beats changed class")
    by = serializers.CharField(help_text="The doctor who made it (or, undone, who undid it)")
    at = serializers.DateTimeField(help_text="When it was made (or undone)")
    rhythm_status = serializers.ChoiceField(
        choices=["recomputing"],
        allow_null=True,
        help_text="The rhythm is being recomputed over the classes as corrected (`rhythm.recomputed` follows); null "
        "for a beat file, which has no rhythm",
    )
    correction_url = _link("The correction's URL", "/api/v1/recordings/{id}/beat-corrections/{correction_id}")


class RhythmRecomputedNoticeSerializer(DiagnosisNoticeSerializer):
    event = _event(webhooks.RHYTHM_RECOMPUTED)
    rhythm_status = serializers.ChoiceField(
        choices=["current", "failed"],
        help_text="`current`: the events and the summary are over the classes as corrected (read them again); "
        "`failed`: they could not be recomputed and stay those from before the correction",
    )
    reason = serializers.CharField(allow_null=True, help_text="Why it failed; null when current")
    recomputed_at = serializers.DateTimeField(allow_null=True, help_text="When it was done; null when it failed")
    events_url = _link("The URL of the recording's events", "/api/v1/recordings/{id}/events")


class RecordingFailedNoticeSerializer(serializers.Serializer):
    event = _event(webhooks.RECORDING_FAILED)
    recording = serializers.IntegerField()
    error = serializers.CharField(help_text="Why the analysis failed (the recording's `error_message`)")
    url = _link("The recording's URL", "/api/v1/recordings/{id}")


class RecordingMovedNoticeSerializer(serializers.Serializer):
    event = _event(webhooks.RECORDING_MOVED)
    recording = serializers.IntegerField()
    url = _link("The recording's URL", "/api/v1/recordings/{id}")
    move = serializers.IntegerField(help_text="The move's id among the recording's moves")
    from_patient = serializers.IntegerField(help_text="The patient the recording was filed under until this move")
    to_patient = serializers.IntegerField(help_text="The patient it was moved to")
    from_patient_url = _link("The URL of the patient it was filed under", "/api/v1/patients/{id}")
    to_patient_url = _link("The URL of the patient it was moved to", "/api/v1/patients/{id}")
    reason = serializers.CharField(help_text="Why it was moved, as the doctor said it")
    moved_at = serializers.DateTimeField()
    moves_url = _link("The URL of the recording's moves", "/api/v1/recordings/{id}/moves")


# Every notice's headers (drf-spectacular draws no parameters for a webhook: api.schema.postprocess adds these).
SIGNATURE_HEADERS = [
    {"name": name, "in": "header", "required": True, "schema": {"type": "string"}, "description": description}
    for name, description in (
        ("X-ECG-Signature", "`sha256=` and the HMAC-SHA256 of the body, keyed with the token's webhook signing secret"),
        ("X-ECG-Timestamp", "Unix seconds when sent"),
        (
            "X-ECG-Signature-Timed",
            "`sha256=` and the same HMAC of the timestamp, `.`, then the body: refuse a timestamp minutes old",
        ),
        ("X-ECG-Delivery", "The notice's id, the same on every retry: drop one already received"),
    )
]
ACKNOWLEDGED = {
    "2XX": OpenApiResponse(description="Received: any 2xx. Anything else (or no answer in 15 s) is retried."),
}


def _webhook(name: str, body: type[serializers.Serializer], summary: str) -> OpenApiWebhook:
    return OpenApiWebhook(
        name=name,
        decorator=extend_schema(
            summary=summary,
            description="POSTed to the token's webhook URL for each event of its clinic.",
            request=body,
            responses=ACKNOWLEDGED,
        ),
    )


NOTICES = {
    webhooks.DIAGNOSIS_CREATED: DiagnosisNoticeSerializer,
    webhooks.DIAGNOSIS_REVIEWED: DiagnosisReviewedNoticeSerializer,
    webhooks.EVENT_REVIEWED: EventReviewedNoticeSerializer,
    webhooks.RECORDING_INTERPRETED: RecordingInterpretedNoticeSerializer,
    webhooks.RECORDING_FAILED: RecordingFailedNoticeSerializer,
    webhooks.RECORDING_MOVED: RecordingMovedNoticeSerializer,
    webhooks.BEATS_CORRECTED: BeatsCorrectedNoticeSerializer,
    webhooks.RHYTHM_RECOMPUTED: RhythmRecomputedNoticeSerializer,
}
diagnosis_created = _webhook(
    webhooks.DIAGNOSIS_CREATED, DiagnosisNoticeSerializer, "A recording's analysis is done: its diagnosis is written"
)
diagnosis_reviewed = _webhook(
    webhooks.DIAGNOSIS_REVIEWED, DiagnosisReviewedNoticeSerializer, "A doctor confirmed or rejected the MI flag"
)
event_reviewed = _webhook(
    webhooks.EVENT_REVIEWED, EventReviewedNoticeSerializer, "A doctor confirmed or rejected a rhythm event"
)
recording_interpreted = _webhook(
    webhooks.RECORDING_INTERPRETED,
    RecordingInterpretedNoticeSerializer,
    "A doctor signed the recording's interpretation, or an amendment of it",
)
recording_failed = _webhook(
    webhooks.RECORDING_FAILED, RecordingFailedNoticeSerializer, "A recording's analysis failed: no diagnosis will come"
)
recording_moved = _webhook(
    webhooks.RECORDING_MOVED,
    RecordingMovedNoticeSerializer,
    "A recording filed under the wrong patient was moved to the right one",
)
beats_corrected = _webhook(
    webhooks.BEATS_CORRECTED,
    BeatsCorrectedNoticeSerializer,
    "A doctor changed beats' classes, or undid such a change: the counts and the report are amended",
)
rhythm_recomputed = _webhook(
    webhooks.RHYTHM_RECOMPUTED,
    RhythmRecomputedNoticeSerializer,
    "The rhythm was recomputed over a doctor's beat corrections (or could not be), or by a newer version of the "
    "analysis (manage.py recompute_rhythm) where its figures or events changed",
)
