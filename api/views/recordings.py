import re
from collections.abc import Callable
from datetime import datetime, time, timedelta
from datetime import timezone as datetime_timezone

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotAcceptable, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from accounts.models import User
from diagnostics import corrections, diary, upload_start
from diagnostics import exports as diagnostics_exports
from diagnostics import selectors as diagnostics_selectors
from diagnostics import services as diagnostics_services
from diagnostics.models import DiaryActivity, ECGRecording, Event
from ecg.constants import AAMI_CLASSES
from ecg.rhythm.sleep import TREND_BEATS
from ecgsite.errors import ApplicationError
from patients import selectors as patients_selectors

from .. import fhir, rows, serializers, uploads
from ..exceptions import ApiError, Conflict
from ..pagination import absolute_url
from ..parsers import BoundedJSONParser
from ..permissions import CanCorrectBeatsOrReadOnly, CanMoveOrReadOnly, CanSignOrReadOnly, IsClinicMember
from ..renderers import FHIR_JSON, CsvRenderer, FhirJsonRenderer, FhirNegotiation, OrjsonRenderer, accepts
from ..rhythm_schema import AwakeAsleepSerializer
from ..schema import ERRORS
from .base import (
    EMPTY_FILTER,
    FILTER_TEXT,
    IF_NONE_MATCH,
    WHOLE_NUMBER,
    ApiViewSet,
    check_preconditions,
    conditional,
    last_modified,
    precondition_parameters,
)

CSV_ONLY = (
    "export.csv answers text/csv only: send Accept: text/csv (or */*); the beats and events are JSON at "
    "recordings/{id}/beats and recordings/{id}/events."
)


def _accepts_csv(request) -> bool:
    """Whether the Accept header admits text/csv (``text/csv;q=0, */*`` does not). Negotiation chooses the JSON
    renderer for "application/json, */*" (axios's default) or "application/json;q=1, text/csv;q=0.5", but CSV is
    this route's one representation, JSON only its errors'."""
    return accepts(request, "text/csv")


# An offset whose "+" reached the query string unencoded, which reads it as a space: "…T06:06:07 01:00".
_SPACED_OFFSET = re.compile(r"(\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d(?::?\d\d)?)$")


def _parse_when(name: str, raw: str, *, end: bool) -> datetime:
    """A list's time bound: a date (its first moment, or with ``end`` its last) or an ISO 8601 date-time, read in
    TIME_ZONE where it gives no offset. A time the zone skips (the hour its clocks go forward) is refused: no moment
    had it; one it repeats (the hour they go back; a day's last moment where they go back at midnight) is read to
    leave nothing out of the inclusive bound, the first for an "after", the second for a "before"."""
    invalid = ValidationError({name: "Expected a date (YYYY-MM-DD) or an ISO 8601 date-time."})
    raw = _SPACED_OFFSET.sub(r"\1+\2", raw)
    try:
        value = parse_datetime(raw) if "T" in raw or " " in raw else None
        whole_day = value is None
        if value is None:
            day = parse_date(raw)
            if day is None:
                raise invalid
            value = datetime.combine(day, time.max if end else time.min)
        if timezone.is_naive(value):
            zone = timezone.get_current_timezone()
            first, second = value.replace(tzinfo=zone, fold=0), value.replace(tzinfo=zone, fold=1)
            # a day whose midnight is skipped begins at the change, which the first reading names
            skipped = first.astimezone(datetime_timezone.utc).astimezone(zone).replace(tzinfo=None) != value
            if skipped and not whole_day:
                raise ValidationError(
                    {
                        name: f"{raw} is no time in {zone} (its clocks skip it): give the date-time with its offset "
                        "from UTC (…+01:00 or …Z)."
                    }
                )
            value = second if end else first
        # the database compares in UTC, and refuses an offset beyond ±15:59 (-23:59 was a 500)
        value = value.astimezone(datetime_timezone.utc)
    except (ValueError, OverflowError):
        raise invalid from None
    return value


def _outside(recording: ECGRecording, length: float, *, as_time: bool) -> str:
    """Why a moment given for a diary entry or activity is refused: outside the recording, which ran ``length``
    seconds; for a moment sent as a date-time, when it ran, written as the API writes times (a client that sent the
    clinic's wall clock with the wrong offset sees the difference)."""
    if not as_time or recording.recorded_at is None:
        return f"The moment is outside the recording, which is {length:.2f} s long."
    start, end = (rows.when(recording.recorded_at + timedelta(seconds=s)) for s in (0.0, length))
    return f"The moment is outside the recording, which ran from {start} to {end} ({length:.2f} s)."


# How the list's time bounds are read, in each one's description (the schema's).
WHEN_READ = (
    " A date, or a date-time without an offset, is read in the server's TIME_ZONE: one its clocks skip is 400, one "
    "they repeat bounds both readings."
)
# The list's time filters, inclusive: (lookup, whether a date alone means its end).
TIME_FILTERS = {
    "created_after": ("created_at__gte", False),
    "created_before": ("created_at__lte", True),
    "updated_after": ("updated_at__gte", False),
    "updated_before": ("updated_at__lte", True),
}
# ?ordering=: the columns each orders by (an id breaks a tie, in the same direction).
ORDERINGS = {
    "-created_at": ("-created_at", "-id"),
    "created_at": ("created_at", "id"),
    "-updated_at": ("-updated_at", "-id"),
    "updated_at": ("updated_at", "id"),
}
DEFAULT_ORDERING = "-created_at"  # the model's, as the pages list them
SYNC = (
    "To keep another system in step, page by `updated_at`: ask `ordering=updated_at&updated_after=<the latest "
    "updated_at seen>`, take the first page, then ask again from the latest `updated_at` on it (inclusive: the rows "
    "of that time come again; keep each id once in a run), until a page's rows all have the `updated_at` asked from, "
    "or it has no `next` (a page of rows seen in an earlier run is no end: their `updated_at` is later than the one "
    "asked from). A page whose rows are all of one time is followed by its `next`. Do not follow `next` through a long list: a row changed meanwhile moves to "
    "the end, and every row after it moves back a place. A change is stamped by the clock of the host writing it, "
    "just before it commits: start each run a minute before the latest `updated_at` seen, so a write committed "
    "late, or stamped by a host whose clock is a little behind, is not missed."
)

# ?type= takes either case too: each type's letters as a character class of both (v_run: [vV]_[rR][uU][nN])
EVENT_TYPES = "|".join("".join(f"[{c}{c.upper()}]" if c.isalpha() else c for c in value) for value in Event.Type.values)
CLASS_LETTERS = "".join(AAMI_CLASSES) + "".join(AAMI_CLASSES).lower()  # ?aami_class= takes either case, as the page


def _require_done(recording: ECGRecording, what: str) -> None:
    """409 ``not_ready`` unless the analysis has finished: an empty result must mean nothing was
    found, never that it has not run. A failed recording is 409 ``recording_failed``, with its reason: it
    will never be done, and a client that waits out ``not_ready`` had polled it for ever."""
    if recording.status == ECGRecording.Status.FAILED:
        reason = f": {recording.error_message}" if recording.error_message else "."
        raise Conflict(f"The analysis of this recording failed, so it has no {what}{reason}", code="recording_failed")
    if recording.status != ECGRecording.Status.DONE or getattr(recording, "diagnosis", None) is None:
        raise Conflict(f"The recording is {recording.status}; its {what} exist once it is done.", code="not_ready")


def _fhir_responses() -> dict:
    """The FHIR route's answers: the Bundle in either media type; errors as the error JSON, or as an
    OperationOutcome to a client that negotiated FHIR JSON."""
    bundle = OpenApiResponse(OpenApiTypes.OBJECT, description="A FHIR R4 Bundle resource.")
    responses: dict = {(200, "application/json"): bundle, (200, FHIR_JSON): bundle}
    errors = {code: ERRORS[code] for code in ("400", "401", "403", "404", "409", "429")}
    errors["406"] = "A media type or _format this route does not write"
    for code, description in errors.items():
        responses[(int(code), "application/json")] = OpenApiResponse(
            serializers.ErrorSerializer, description=description
        )
        if code != "406":  # refused before FHIR JSON was agreed on
            responses[(int(code), FHIR_JSON)] = OpenApiResponse(
                serializers.OperationOutcomeSerializer, description=f"{description} (an OperationOutcome)"
            )
    return responses


@extend_schema_view(
    list=extend_schema(
        summary="List the clinic's recordings",
        parameters=[
            OpenApiParameter("patient", WHOLE_NUMBER, description="Only this patient's recordings."),
            OpenApiParameter("status", OpenApiTypes.STR, enum=ECGRecording.Status.values),
            OpenApiParameter(
                "created_after", FILTER_TEXT, description="A date or ISO 8601 date-time (inclusive)." + WHEN_READ
            ),
            OpenApiParameter(
                "created_before", FILTER_TEXT, description="A date or ISO 8601 date-time (inclusive)." + WHEN_READ
            ),
            OpenApiParameter(
                "updated_after",
                FILTER_TEXT,
                description="A date or ISO 8601 date-time (inclusive): only recordings whose `updated_at` is at it or "
                "later." + WHEN_READ,
            ),
            OpenApiParameter(
                "updated_before",
                FILTER_TEXT,
                description="A date or ISO 8601 date-time (inclusive): only recordings whose `updated_at` is at it or "
                "earlier." + WHEN_READ,
            ),
            OpenApiParameter(
                "ordering",
                OpenApiTypes.STR,
                enum=list(ORDERINGS),
                description="The order of the rows, by `created_at` or `updated_at`, `-` for newest first (rows of one "
                "time in order of id). Left out: newest created first.",
            ),
            IF_NONE_MATCH,
        ],
        description=SYNC,
    ),
    retrieve=extend_schema(
        summary="A recording with its status and, once done, its diagnosis",
        description="Poll this with If-None-Match: it answers 304 until something changes. `Last-Modified` is its "
        "`updated_at`, for If-Unmodified-Since.",
        parameters=[IF_NONE_MATCH],
    ),
)
class RecordingViewSet(ApiViewSet):
    serializer_class = serializers.RecordingSerializer
    query_parameters = {
        "list": ("patient", "status", "created_after", "created_before", "updated_after", "updated_before", "ordering"),
        "beats": ("aami_class", "start", "end", "family"),
        "events": ("type",),
        "fhir": ("_format",),
        "diary": ("removed",),
        "activities": ("removed",),
        "beat_corrections": ("undone",),
    }
    paginated_actions = (
        "list",
        "beats",
        "events",
        "interpretations",
        "moves",
        "diary",
        "activities",
        "beat_families",
        "beat_corrections",
    )
    idempotent_actions = (
        "create",
        "interpretation_sign",
        "move",
        "diary_entry_add",
        "activity_add",
        "diary_entry_remove",
        "activity_remove",
        "beat_correction_undo",
        "beat_correction_make",
    )
    last_modified_actions = ("retrieve", "create", "move")
    tagged_writes = ("move",)
    request_serializers = {
        "create": serializers.RecordingJsonSerializer,  # or multipart, RecordingUploadSerializer: OPTIONS tells one
        "interpretation_sign": serializers.InterpretationCreateSerializer,
        "move": serializers.RecordingMoveCreateSerializer,
        "diary_entry_add": serializers.DiaryEntryCreateSerializer,
        "activity_add": serializers.DiaryActivityCreateSerializer,
        "beat_correction_make": serializers.BeatCorrectionCreateSerializer,
    }
    queryset = ECGRecording.objects.none()
    parser_classes = [BoundedJSONParser, MultiPartParser, FormParser]
    # Writes whose times are JSON numbers (text is refused as a time: a mapping error of the sender's), or a list of
    # them (a beat correction's beats): a form's fields are all text, so a form could never enter one; JSON only, 415
    # otherwise, and the schema says so.
    json_only_actions = ("diary_entry_add", "activity_add", "beat_correction_make")

    def get_parsers(self):
        # asked before the request's action is set (DRF makes the request first): from the method, as DRF will
        request = getattr(self, "request", None)
        action = getattr(self, "action", None)
        if action is None and request is not None and getattr(self, "action_map", None):
            action = self.action_map.get(request.method.lower())
        if action in self.json_only_actions:
            return [BoundedJSONParser()]
        return super().get_parsers()

    def list(self, request):
        filters: list[tuple[str, object]] = []  # (lookup, value), in the order the query applies them
        patient_id = self.query_int("patient")
        if patient_id is not None:
            filters.append(("patient_id", patient_id))
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in ECGRecording.Status.values:
                raise ValidationError({"status": f"Expected one of {', '.join(ECGRecording.Status.values)}."})
            filters.append(("status", wanted))
        for name, (lookup, end) in TIME_FILTERS.items():
            if request.query_params.get(name):
                filters.append((lookup, _parse_when(name, request.query_params[name], end=end)))
        ordering = request.query_params.get("ordering")
        if ordering is not None and ordering not in ORDERINGS:
            raise ValidationError({"ordering": f"Expected one of {', '.join(ORDERINGS)}."})

        def values():
            recordings = diagnostics_selectors.recording_rows(user=request.user)
            for lookup, value in filters:
                recordings = recordings.filter(**{lookup: value})
            return rows.recording_values(recordings.order_by(*ORDERINGS[ordering or DEFAULT_ORDERING]))

        def diagnoses_of(ids: list[int]):
            return diagnostics_selectors.diagnoses_of_recordings(user=request.user, recording_ids=ids)

        def interpretations_of(ids: list[int]):
            return diagnostics_selectors.interpretations_current(user=request.user, recording_ids=ids)

        # the links' base: absolute, at the host and scheme asked, as the page's next and previous
        base = absolute_url(request, reverse("api:recording-list"))

        def with_diagnoses(page: list[dict]) -> list[dict]:
            done = [r["id"] for r in page if r["status"] == ECGRecording.Status.DONE]
            return rows.recording_rows(page, diagnoses_of(done), interpretations_of(done), base=base)

        def from_json(fetched: list[tuple]):
            return rows.recording_results(
                fetched, diagnoses_of, lambda ids: list(values().filter(id__in=ids)), interpretations_of, base=base
            )

        clinic_id = request.user.clinic_id
        shape = None
        if clinic_id is not None:
            # the order is the statement's as the filters are: each its own shape
            name = ("recordings", *[lookup for lookup, _ in filters], f"ordering={ordering or ''}")
            shape = (name, (clinic_id, *[value for _, value in filters]))
        json = (rows.RECORDING_JSON, rows.recording_json_params(base), from_json)
        return self.page_of_rows(values, with_diagnoses, json=json, shape=shape)

    def retrieve(self, request, pk):
        recording = diagnostics_selectors.recording_get(user=request.user, recording_id=int(pk))
        return Response(
            serializers.RecordingSerializer(recording, context={"request": request}).data,
            headers=last_modified(recording.updated_at),
        )

    def _unchanged_since_read(self, recording_id: int) -> Callable[[], None] | None:
        """The request's If-Match and If-Unmodified-Since held to the recording as a read of it gives it now (its
        ETag, its updated_at), for a write to check under the recording's lock; None when it sends neither."""
        request, user = self.request, self.request.user
        if not conditional(request):
            return None
        assert isinstance(user, User)  # IsClinicMember let only a clinic's user this far

        def check() -> None:
            current = diagnostics_selectors.recording_get(user=user, recording_id=recording_id)
            representation = serializers.RecordingSerializer(current, context={"request": request}).data
            check_preconditions(request, representation, current.updated_at)

        return check

    @extend_schema(
        summary="Upload a recording (JSON or multipart)",
        description=(
            'JSON: `{"patient": 1, "kind": "beats", "beats": [[187 numbers], …]}` or '
            '`{"patient": 1, "kind": "signal", "fs": 360, "signal": [numbers]}` (or `"leads": {name: [numbers]}`). '
            "Multipart: `patient`, `kind` and `file` (repeat it for WFDB .hea + .dat), as on the upload page. "
            "Either may give `recorded_at`, when the recording began, for a file that states no start. "
            "The whole upload is validated first; on any defect nothing is stored. "
            "With an Idempotency-Key the same request returns the same recording; the same key with another body is 409."
        ),
        request={
            "application/json": serializers.RecordingJsonSerializer,
            "multipart/form-data": serializers.RecordingUploadSerializer,
        },
        responses={201: serializers.RecordingSerializer},
    )
    def create(self, request):
        key = self.idempotency_key()
        is_json = not hasattr(request.data, "getlist")
        input_serializer = (serializers.RecordingJsonSerializer if is_json else serializers.RecordingUploadSerializer)(
            data=request.data
        )
        input_serializer.is_valid(raise_exception=True)
        fields = input_serializer.validated_data
        patient = patients_selectors.patient_get(user=request.user, patient_id=fields["patient"])
        files = [] if is_json else fields.get("file", [])
        digest = uploads.fingerprint(request.data, files)
        if key is not None:  # a replay answers before the body is parsed again
            seen = diagnostics_services.recording_submission_replay(
                user=request.user, idempotency_key=key, fingerprint=digest
            )
            if seen is not None:
                return self._created(seen)

        if is_json and fields["kind"] == ECGRecording.Kind.BEATS:
            parsed, data, filename = uploads.beats_from_json(fields["beats"])
        elif is_json:
            parsed, data, filename = uploads.signal_from_json(
                fs=fields["fs"], signal=fields.get("signal"), leads=fields.get("leads"), lead=fields.get("lead") or None
            )
        else:
            parsed, data, filename = uploads.from_files(
                kind=fields["kind"],
                files=files,
                text=fields.get("text", ""),
                fs=fields.get("fs"),
                lead=fields.get("lead", ""),
            )
        upload_start.with_given_start(parsed, fields.get("recorded_at"))
        recording = diagnostics_services.recording_submit(
            user=request.user,
            patient=patient,
            parsed=parsed,
            data=data,
            filename=filename,
            idempotency_key=key,
            fingerprint=digest,
        )
        return self._created(recording)

    def perform_content_negotiation(self, request, force=False):
        try:
            return super().perform_content_negotiation(request, force=force)
        except NotAcceptable:
            if getattr(self, "action", None) == "export_csv":
                raise NotAcceptable(CSV_ONLY) from None
            raise

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        renderer = getattr(self.request, "accepted_renderer", None)
        if getattr(self, "action", None) == "export_csv":  # errors are JSON, whatever the client accepts
            self.request.accepted_renderer, self.request.accepted_media_type = OrjsonRenderer(), "application/json"
        elif isinstance(renderer, FhirJsonRenderer) and isinstance(getattr(response, "data", None), dict):
            error = response.data.get("error")
            if isinstance(error, dict):  # a FHIR client reads an OperationOutcome
                response.data = fhir.operation_outcome(
                    status_code=response.status_code, code=str(error["code"]), message=str(error["message"])
                )
        return response

    def _created(self, recording):
        body = serializers.RecordingSerializer(recording, context={"request": self.request}).data
        headers = {"Location": body["links"]["self"], **last_modified(recording.updated_at)}
        if recording.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(body, status=status.HTTP_201_CREATED, headers=headers)

    @extend_schema(
        summary="The recording's classified beats",
        parameters=[
            IF_NONE_MATCH,
            OpenApiParameter(
                "aami_class",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=False,
                pattern=rf"^[{CLASS_LETTERS}](,[{CLASS_LETTERS}])*$",
                description="Only beats of these AAMI classes, comma-separated, in either case (e.g. V,S).",
            ),
            OpenApiParameter(
                "start",
                WHOLE_NUMBER,
                OpenApiParameter.QUERY,
                required=False,
                description="Only beats whose R-peak is at this sample of the original signal or later (signals only).",
            ),
            OpenApiParameter(
                "end",
                WHOLE_NUMBER,
                OpenApiParameter.QUERY,
                required=False,
                description="Only beats whose R-peak is at this sample or earlier (inclusive, as an event's `end`; "
                "signals only): an event's `start` and `end` give its beats.",
            ),
            OpenApiParameter(
                "family",
                WHOLE_NUMBER,
                OpenApiParameter.QUERY,
                required=False,
                description="Only the beats of this beat family (`recordings/{id}/beat-families`), each with its "
                "class now; a number the recording has no family of is 400.",
            ),
        ],
        description=(
            "In order. 409 `not_ready` until the recording is done (an empty list means no beats, never not yet), "
            "`recording_failed` once its analysis failed."
        ),
        responses={200: serializers.BeatSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], url_path="beats", url_name="beats")
    def beats(self, request, pk):
        recording = diagnostics_selectors.recording_get(user=request.user, recording_id=int(pk))
        _require_done(recording, "beats")
        asked = [c for raw in request.query_params.getlist("aami_class") for c in raw.split(",") if c]
        if "aami_class" in request.query_params and not asked:  # commas alone: as empty, no class named
            raise ValidationError({"aami_class": EMPTY_FILTER})
        wanted = [c.upper() for c in asked]
        unknown = sorted(c for c in set(asked) if c.upper() not in AAMI_CLASSES)
        if unknown:
            raise ValidationError(
                {"aami_class": f"Unknown beat class {unknown[0]!r}; expected one of {', '.join(AAMI_CLASSES)}."}
            )
        start, end = self.query_int("start"), self.query_int("end")
        if (start is not None or end is not None) and recording.kind != ECGRecording.Kind.SIGNAL:
            name = "start" if start is not None else "end"
            raise ValidationError({name: "This recording holds beat rows, not a signal: its beats have no sample."})
        if start is not None and end is not None and end < start:
            raise ValidationError({"end": f"{end} is before start ({start})."})
        beats = diagnostics_selectors.beat_list(recording=recording, classes=wanted or None, start=start, end=end)
        family = self.query_int("family")
        if family is not None:
            if not diagnostics_selectors.beat_families(recording=recording).filter(number=family).exists():
                raise ValidationError({"family": f"This recording has no beat family {family}."})
            beats = beats.filter(family=family)
        scored = set(corrections.mi_beats_scored(recording.diagnosis))
        return self.paginated(beats, serializers.BeatSerializer, {"mi_scored": scored})

    @extend_schema(
        summary="The recording's rhythm events (Holter episodes)",
        description=(
            "VF/VFL, asystole, VT and ventricular runs, AF, SVT, couplets, bigeminy, trigeminy, pauses, brady- and "
            "tachycardia, in time order; `start` and `end` are samples of the original signal (`end` inclusive). "
            "Filter with `type` (repeat it, or separate types by commas). 409 `not_ready` until the recording is "
            "done: an empty list means no events were found, never that the analysis has not run "
            "(`recording_failed` once it failed)."
        ),
        parameters=[
            IF_NONE_MATCH,
            OpenApiParameter(
                "type",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=False,
                pattern=rf"^({EVENT_TYPES})(,({EVENT_TYPES}))*$",
                description=f"Only events of these types, comma-separated (e.g. vf,vt), in either case; one of {', '.join(Event.Type.values)}.",
            ),
        ],
        responses={200: serializers.EventSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], url_path="events", url_name="events")
    def events(self, request, pk):
        recording = diagnostics_selectors.recording_get(user=request.user, recording_id=int(pk))
        _require_done(recording, "events")
        # either case, as ?aami_class= (VT and vt are one type)
        wanted = [t.lower() for raw in request.query_params.getlist("type") for t in raw.split(",") if t]
        if "type" in request.query_params and not wanted:  # commas alone: as empty, no type named
            raise ValidationError({"type": EMPTY_FILTER})
        unknown = sorted(set(wanted) - set(Event.Type.values))
        if unknown:
            raise ValidationError(
                {"type": f"Unknown event type {unknown[0]!r}; expected one of {', '.join(Event.Type.values)}."}
            )
        events = diagnostics_selectors.event_list(recording=recording, types=wanted or None)
        page = self.paginate_queryset(events)
        data = serializers.EventSerializer(page, many=True, context={"fs": recording.sampling_rate}).data
        return self.get_paginated_response(data)

    @extend_schema(
        summary="The doctors' signed interpretations of the recording, newest (the current one) first",
        description=(
            "Every version is kept: an amendment names the version it amends (`amends`). The current one is also "
            "the recording's `interpretation`."
        ),
        parameters=[IF_NONE_MATCH],
        responses={200: serializers.InterpretationSerializer(many=True)},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="interpretations",
        url_name="interpretations",
        permission_classes=[IsClinicMember, CanSignOrReadOnly],
    )
    def interpretations(self, request, pk):
        recording = diagnostics_selectors.recording_get(user=request.user, recording_id=int(pk))
        interpretations = diagnostics_selectors.interpretation_list(recording=recording)
        return self.paginated(interpretations, serializers.InterpretationSerializer)

    @extend_schema(
        summary="Sign the recording's interpretation, or an amendment of it (doctors and administrators)",
        description=(
            "Once the recording is done (409 `not_ready` before, `recording_failed` once its analysis failed), and "
            "not while its rhythm is recomputed after a beat correction (409 `rhythm_recomputing`: sign over the "
            "figures as they will be). "
            "Signing again amends the current interpretation, which is kept: the text must differ from it (400 "
            "`unchanged`). Line breaks are stored as \\n and the text stripped; at most 4,000 characters, not blank, "
            "no control characters but line breaks and tabs, no invisible direction characters (400 "
            "`validation_error`). With If-Match (the recording's ETag) or If-Unmodified-Since, a recording changed "
            "since it was read is 412 `precondition_failed`."
        ),
        request=serializers.InterpretationCreateSerializer,
        responses={201: serializers.InterpretationSerializer},
        parameters=precondition_parameters("the recording", "GET recordings/{id}"),
    )
    @interpretations.mapping.post
    def interpretation_sign(self, request, pk):
        key = self.idempotency_key()
        recording = diagnostics_selectors.recording_get(user=request.user, recording_id=int(pk))
        serializer = serializers.InterpretationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        given = serializer.validated_data
        interpretation = diagnostics_services.interpretation_sign(
            user=request.user,
            recording=recording,
            text=given["text"],
            amends=given["amends"] if "amends" in given else diagnostics_services.UNCHECKED,
            reason=given.get("reason", ""),
            acknowledge_undecided=given.get("acknowledge_undecided", False),
            idempotency_key=key,
            fingerprint=self.request_fingerprint(),
            precondition=self._unchanged_since_read(recording.pk),
        )
        headers = {"Idempotent-Replayed": "true"} if interpretation.replayed else {}
        return Response(
            serializers.InterpretationSerializer(interpretation).data, status=status.HTTP_201_CREATED, headers=headers
        )

    @extend_schema(
        summary="The recording's moves: the patients it was filed under before, in the order it was moved",
        description=(
            "Each move names the patient the recording was filed under until then (`from_patient`), the one it was "
            "moved to (`to_patient`), who moved it and why. Empty for a recording never moved."
        ),
        parameters=[IF_NONE_MATCH],
        responses={200: serializers.RecordingMoveSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], url_path="moves", url_name="moves")
    def moves(self, request, pk):
        recording = diagnostics_selectors.recording_get(user=request.user, recording_id=int(pk))
        return self.paginated(
            diagnostics_selectors.recording_move_list(recording=recording), serializers.RecordingMoveSerializer
        )

    @extend_schema(
        summary="Move a recording filed under the wrong patient to the right one (doctors and administrators)",
        description=(
            "The recording, its results, reviews and interpretations are then the patient's: its `patient`, its FHIR "
            "report's subject, the patient's recordings. Any status (a recording still queued or processing too). "
            "The patient must be one of the clinic (404 `not_found` for another), not the one the recording is "
            "under (400 `validation_error`); the reason is required (one line, at most 500 characters). The move "
            "is kept (`links.moves`) and told to webhooks (`recording.moved`). Answers with the recording as it "
            "now is, with its ETag and Last-Modified. With If-Match (the recording's ETag) or If-Unmodified-Since, a "
            "recording changed since it was read is 412 `precondition_failed`."
        ),
        request=serializers.RecordingMoveCreateSerializer,
        responses={200: serializers.RecordingSerializer},
        parameters=precondition_parameters("the recording", "GET recordings/{id}, or the answer of its last move"),
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="move",
        url_name="move",
        permission_classes=[IsClinicMember, CanMoveOrReadOnly],
    )
    def move(self, request, pk):
        key = self.idempotency_key()
        recording = diagnostics_selectors.recording_get(user=request.user, recording_id=int(pk))
        serializer = serializers.RecordingMoveCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        given = serializer.validated_data
        # another clinic's patient is answered as one that does not exist
        patient = patients_selectors.patient_list(user=request.user).filter(pk=given["patient"]).first()
        if patient is None:
            raise ApiError(
                f"No patient {given['patient']} in your clinic.", status_code=404, code="not_found", field="patient"
            )
        move = diagnostics_services.recording_move(
            recording=recording,
            patient=patient,
            by=request.user,
            reason=given["reason"],
            seen_patient_id=given.get("from_patient"),
            idempotency_key=key,
            fingerprint=self.request_fingerprint(),
            precondition=self._unchanged_since_read(recording.pk),
        )
        moved = diagnostics_selectors.recording_get(user=request.user, recording_id=recording.pk)
        headers = last_modified(moved.updated_at)
        if move.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(
            serializers.RecordingSerializer(moved, context={"request": request}).data,
            status=status.HTTP_200_OK,
            headers=headers,
        )

    @extend_schema(
        summary="The recording's result as a FHIR R4 Bundle",
        description=(
            "A Bundle (type collection) with the Patient, a DiagnosticReport, Observations for the beat-class counts, "
            "the MI score and flag, the heart rate (signals), and the ECG as an Observation with valueSampledData "
            "(MDC 131328 and one component per lead; where the stored signal cannot be read, that Observation "
            "without samples, its `dataAbsentReason` `error` and a note saying why, and the report's conclusion says "
            "so), and each symptom of the patient's diary as an Observation "
            "(LOINC 75325-1, its SNOMED CT finding, the rhythm at its moment), and once the diary has a sleep period the "
            "heart rate awake and asleep (`heart-rate-awake`, `heart-rate-asleep`: `recordings/{id}/sleep`'s figures). "
            "409 until the recording is done. Once a doctor has reviewed the MI flag or a VF/VFL or asystole episode, "
            "or signed an interpretation, or a diary entry or sleep period was made or removed after the results, the "
            "report is `amended`, issued at the latest of these (so after a doctor's correction of beat classes or its "
            "undoing, with the beat counts); while the rhythm is recomputed after one (the diagnosis's "
            "`rhythm_status`), the report and the Observations made from the rhythm are `preliminary`; a signed "
            "interpretation leads its `conclusion`, and its doctor is the report's "
            "`resultsInterpreter`, a Practitioner of the Bundle. Asked for "
            "application/fhir+json (Accept, or FHIR's `_format`), errors are OperationOutcomes."
        ),
        parameters=[
            IF_NONE_MATCH,
            OpenApiParameter(
                "_format",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                required=False,
                enum=["json", "application/json", FHIR_JSON],
                description=f"FHIR's format parameter: each value asks for {FHIR_JSON} (it overrides Accept).",
            ),
        ],
        responses=_fhir_responses(),
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="fhir",
        url_name="fhir",
        renderer_classes=[JSONRenderer, FhirJsonRenderer],
        content_negotiation_class=FhirNegotiation,
    )
    def fhir(self, request, pk):
        recording = diagnostics_selectors.recording_get(user=request.user, recording_id=int(pk))
        _require_done(recording, "FHIR report and its parts")
        diagnosis = recording.diagnosis
        signal = beats = unreadable = None
        try:
            if recording.kind == ECGRecording.Kind.SIGNAL:
                signal = diagnostics_selectors.recording_stored_signal(
                    recording=recording, head=settings.API_FHIR_MAX_SAMPLES
                )
            else:
                beats = diagnostics_selectors.recording_model_input(recording=recording)
        except diagnostics_selectors.STORED_READ_ERRORS as exc:
            # the viewer's 422 would withhold results that stand without the waveform: the Bundle says why it lacks it
            unreadable = diagnostics_selectors.stored_read_failure(exc)
        return Response(
            fhir.bundle(recording=recording, diagnosis=diagnosis, signal=signal, beats=beats, unreadable=unreadable)
        )

    @extend_schema(
        summary="The recording's results as CSV (the page's export)",
        description=(
            "The beats (one row each: class, probabilities, MI probability), then, if any, a table of the "
            "rhythm events, then, if any, one of the patient's diary, one of its activities (sleep, exercise, "
            "medication) and one of a doctor's corrections of beat classes (when, who, the family, to which class, "
            "how many beats of each class before, the note, whether undone), as the recording page's CSV export "
            "writes them (cells a spreadsheet would take for "
            "formulas are quoted). Sent as an attachment. 409 `not_ready` until the recording is done "
            "(`recording_failed` once it failed); 406 to a client that "
            "accepts JSON only; errors are JSON."
        ),
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="The CSV (UTF-8), as an attachment."),
            (406, "application/json"): OpenApiResponse(
                serializers.ErrorSerializer, description="The client accepts no text/csv"
            ),
        },
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"export\.csv",
        url_name="export",  # api:recording-export, as the page's is recording-export
        renderer_classes=[CsvRenderer, OrjsonRenderer],
    )
    def export_csv(self, request, pk):
        if not _accepts_csv(request):  # JSON is for its errors, not its body
            raise NotAcceptable(CSV_ONLY)
        request.accepted_renderer, request.accepted_media_type = CsvRenderer(), CsvRenderer.media_type
        recording = diagnostics_selectors.recording_get(user=request.user, recording_id=int(pk))
        _require_done(recording, "results")
        return diagnostics_exports.recording_csv_response(recording)

    @extend_schema(
        summary="The patient's diary: the symptoms noted while wearing the recorder, with the rhythm at each",
        description=(
            "In the order of the moments noted. Each entry's `rhythm` says what the heart did then: the rhythm "
            "events the moment lies in and those within 60 s of it, the beats 5 s either side and their rate, and a "
            "`finding` in words, as the recording's page and report give it; null until the recording is done."
        ),
        parameters=[
            OpenApiParameter(
                "removed",
                OpenApiTypes.BOOL,
                description="true: the entries removed as entered by mistake too (each with `removed_at`), for a "
                "system that copied one to learn of its removal.",
            ),
            IF_NONE_MATCH,
        ],
        responses={200: serializers.DiaryEntrySerializer(many=True)},
    )
    @action(detail=True, methods=["get"], url_path="diary", url_name="diary")
    def diary(self, request, pk):
        recording = diagnostics_selectors.recording_get(user=request.user, recording_id=int(pk))
        removed = self.query_bool("removed")
        entries = diagnostics_selectors.diary_list(recording=recording, removed=bool(removed))
        page = self.paginate_queryset(entries)
        for entry in page:
            entry.recording = recording  # one recording (and diagnosis) read for the page, not one per entry
        diagnosis = getattr(recording, "diagnosis", None)
        rhythm = diagnosis.rhythm if diagnosis is not None else None
        # the rhythm at every entry's moment read at once, not four queries an entry
        rhythms = dict(zip((e.pk for e in page), diary.rhythms_at(recording, [e.sample for e in page], rhythm)))
        data = serializers.DiaryEntrySerializer(page, many=True, context={"rhythms": rhythms}).data
        return self.get_paginated_response(data)

    @extend_schema(
        summary="Enter a symptom from the patient's diary (any member of the clinic)",
        description=(
            "A signal recording's (400 `validation_error` for a beat file). The moment as `at_s`, seconds from its "
            "start, or as `at`, a date-time, for a recording whose start is known (`recorded_at`; the other left out "
            "or null); within the recording (400 naming the field). A note is required for `other`. At most 60 "
            "entries a recording, removed ones among them: each is kept (409 `diary_full`). Any status: a diary may "
            "be entered while the recording is analysed. The recording's `updated_at` moves with its diary."
        ),
        parameters=precondition_parameters("the recording", "GET recordings/{id}"),
        request=serializers.DiaryEntryCreateSerializer,
        responses={201: serializers.DiaryEntrySerializer},
    )
    @diary.mapping.post
    def diary_entry_add(self, request, pk):
        key = self.idempotency_key()
        recording = diagnostics_selectors.recording_get(user=request.user, recording_id=int(pk))
        serializer = serializers.DiaryEntryCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        given = serializer.validated_data
        fs = recording.sampling_rate
        if recording.kind != ECGRecording.Kind.SIGNAL or not fs:
            raise ValidationError({"recording": "This recording holds beat rows, not a signal: a diary needs a time."})
        if "at" in given:
            if recording.recorded_at is None:
                raise ValidationError(
                    {"at": "The recording's file did not say when it started: give the moment as at_s instead."}
                )
            seconds = (given["at"] - recording.recorded_at).total_seconds()
            field = "at"
        else:
            seconds, field = given["at_s"], "at_s"
        length = (recording.sample_count or 0) / fs
        if not (0 <= seconds < length):
            raise ValidationError({field: _outside(recording, length, as_time=field == "at")})
        entry = diagnostics_services.diary_entry_add(
            recording=recording,
            by=request.user,
            sample=diary.sample_at(recording, seconds),
            symptom=given["symptom"],
            note=given.get("note", ""),
            idempotency_key=key,
            fingerprint=self.request_fingerprint(),
            precondition=self._unchanged_since_read(recording.pk),
        )
        headers = {"Idempotent-Replayed": "true"} if entry.replayed else {}
        entry.recording = recording
        return Response(serializers.DiaryEntrySerializer(entry).data, status=status.HTTP_201_CREATED, headers=headers)

    @extend_schema(
        summary="Remove a diary entry entered by mistake (any member of the clinic)",
        description=(
            "The diary itself is the record: an entry with the wrong time or symptom is removed and entered again. "
            "It is kept, marked removed (`removed_at`, `removed_by`; listed with `?removed=true`), so a retried POST "
            "with the key that made it is answered with it, not made again. The recording's `updated_at` moves. "
            "An entry removed already is 404 saying so, unless by this request sent again with the same "
            "Idempotency-Key (its answer lost): that is 204 as the first time, with `Idempotent-Replayed: true`."
        ),
        parameters=precondition_parameters("the recording", "GET recordings/{id}"),
        request=None,
        responses={204: None},
    )
    @action(detail=True, methods=["delete"], url_path=r"diary/(?P<entry_id>[0-9]{1,18})", url_name="diary-entry")
    def diary_entry_remove(self, request, pk, entry_id):
        key = self.idempotency_key()
        entry = diagnostics_selectors.diary_entry_get(user=request.user, recording_id=int(pk), entry_id=int(entry_id))
        if (entry.removed_at is None or key is not None) and diagnostics_services.diary_entry_remove(
            entry=entry,
            by=request.user,
            precondition=self._unchanged_since_read(int(pk)),
            idempotency_key=key,
            fingerprint=self.request_fingerprint(),
        ):
            return self._removed(replayed=entry.replayed)
        raise ApiError(
            f"This diary entry was removed at {timezone.localtime(entry.removed_at):%Y-%m-%d %H:%M:%S %Z}"
            f"{f' by {entry.removed_by.display_name}' if entry.removed_by else ''}.",
            status_code=404,
            code="not_found",
        )

    @staticmethod
    def _removed(*, replayed: bool) -> Response:
        """A removal's 204; a retry of it with its Idempotency-Key says it is the first answer again."""
        return Response(status=status.HTTP_204_NO_CONTENT, headers={"Idempotent-Replayed": "true"} if replayed else {})

    def _seconds_in(
        self, recording: ECGRecording, given: dict, seconds: str, when: str, *, an_end: bool = False
    ) -> tuple[float, str] | None:
        """The moment ``given`` as ``seconds`` (from the start) or ``when`` (a date-time, for a recording whose file
        stated its start), with the field it came as; None for neither. 400 naming the field for a moment outside
        the recording (``an_end``, a period's end, may be the recording's own end)."""
        fs = recording.sampling_rate or 0.0
        if when in given:
            if recording.recorded_at is None:
                raise ValidationError(
                    {when: f"The recording's file did not say when it started: give the moment as {seconds} instead."}
                )
            value, field = (given[when] - recording.recorded_at).total_seconds(), when
        elif seconds in given:
            value, field = given[seconds], seconds
        else:
            return None
        length = (recording.sample_count or 0) / fs
        if not (0 <= value < length or (an_end and value == length)):
            raise ValidationError({field: _outside(recording, length, as_time=field == when)})
        return value, field

    @extend_schema(
        summary="The diary's activities: sleep, exercise, medication, with the heart rate over each period",
        description=(
            "In the order they began. A period's `heart_rate` is the per-minute trend's over it (null for a moment, "
            "and until the recording is done); the heart rate awake and asleep over the sleep periods is at "
            "`recordings/{id}/sleep`."
        ),
        parameters=[
            OpenApiParameter(
                "removed",
                OpenApiTypes.BOOL,
                description="true: the activities removed as entered by mistake too (each with `removed_at`).",
            ),
            IF_NONE_MATCH,
        ],
        responses={200: serializers.DiaryActivitySerializer(many=True)},
    )
    @action(detail=True, methods=["get"], url_path="activities", url_name="activities")
    def activities(self, request, pk):
        recording = diagnostics_selectors.recording_get(user=request.user, recording_id=int(pk))
        removed = self.query_bool("removed")
        page = self.paginate_queryset(diagnostics_selectors.activity_list(recording=recording, removed=bool(removed)))
        for activity in page:
            activity.recording = recording  # one recording (and diagnosis) read for the page
        return self.get_paginated_response(serializers.DiaryActivitySerializer(page, many=True).data)

    @extend_schema(
        summary="Enter an activity from the patient's diary (any member of the clinic)",
        description=(
            "A signal recording's (400 `validation_error` for a beat file). `kind`: sleep and exercise are periods "
            "(an end required, after the beginning), medication a moment (no end), other either, with a note. Times "
            "as seconds from the start (`start_s`, `end_s`) or, for a recording whose start is known (`recorded_at`), "
            "date-times (`start`, `end`); within the recording (400 naming the field). A sleep period overlapping "
            "another is 409 `sleep_overlap`; at most 30 activities a recording, removed ones among them (409 "
            "`activities_full`). Any status. The recording's `updated_at` moves with its diary."
        ),
        parameters=precondition_parameters("the recording", "GET recordings/{id}"),
        request=serializers.DiaryActivityCreateSerializer,
        responses={201: serializers.DiaryActivitySerializer},
    )
    @activities.mapping.post
    def activity_add(self, request, pk):
        key = self.idempotency_key()
        recording = diagnostics_selectors.recording_get(user=request.user, recording_id=int(pk))
        serializer = serializers.DiaryActivityCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        given = serializer.validated_data
        if recording.kind != ECGRecording.Kind.SIGNAL or not recording.sampling_rate:
            raise ValidationError({"recording": "This recording holds beat rows, not a signal: a diary needs a time."})
        began = self._seconds_in(recording, given, "start_s", "start")
        assert began is not None  # the serializer asks for one
        ended = self._seconds_in(recording, given, "end_s", "end", an_end=True)
        start = diary.sample_at(recording, began[0])
        end = diary.sample_at(recording, ended[0]) if ended is not None else None
        if ended is not None and end is not None and end <= start:
            raise ValidationError({ended[1]: "The end is not after the beginning: give when it ended, after it began."})
        # the service names the beginning and end "start" and "end": a refusal names them as sent (an end not sent,
        # in the form the beginning came in), so a client marks the field it filled
        sent = {"start": began[1], "end": ended[1] if ended is not None else began[1].replace("start", "end")}
        try:
            activity = diagnostics_services.diary_activity_add(
                recording=recording,
                by=request.user,
                kind=given["kind"],
                start=start,
                end=end,
                note=given.get("note", ""),
                idempotency_key=key,
                fingerprint=self.request_fingerprint(),
                precondition=self._unchanged_since_read(recording.pk),
            )
        except ApplicationError as refused:
            refused.field = sent.get(refused.field or "", refused.field)
            raise
        headers = {"Idempotent-Replayed": "true"} if activity.replayed else {}
        activity.recording = recording
        return Response(
            serializers.DiaryActivitySerializer(activity).data, status=status.HTTP_201_CREATED, headers=headers
        )

    @extend_schema(
        summary="Remove a diary activity entered by mistake (any member of the clinic)",
        description=(
            "As a diary entry: kept, marked removed (`removed_at`, `removed_by`; listed with `?removed=true`), out of "
            "the heart rate awake and asleep; the recording's `updated_at` moves. One removed already is 404 saying so, "
            "unless by this request sent again with the same Idempotency-Key: 204 as the first time."
        ),
        parameters=precondition_parameters("the recording", "GET recordings/{id}"),
        request=None,
        responses={204: None},
    )
    @action(detail=True, methods=["delete"], url_path=r"activities/(?P<activity_id>[0-9]{1,18})", url_name="activity")
    def activity_remove(self, request, pk, activity_id):
        key = self.idempotency_key()
        activity = diagnostics_selectors.activity_get(
            user=request.user, recording_id=int(pk), activity_id=int(activity_id)
        )
        if (activity.removed_at is None or key is not None) and diagnostics_services.diary_activity_remove(
            activity=activity,
            by=request.user,
            precondition=self._unchanged_since_read(int(pk)),
            idempotency_key=key,
            fingerprint=self.request_fingerprint(),
        ):
            return self._removed(replayed=activity.replayed)
        raise ApiError(
            f"This diary activity was removed at {timezone.localtime(activity.removed_at):%Y-%m-%d %H:%M:%S %Z}"
            f"{f' by {activity.removed_by.display_name}' if activity.removed_by else ''}.",
            status_code=404,
            code="not_found",
        )

    @extend_schema(
        summary="The heart rate awake and asleep, by the sleep periods of the patient's diary",
        description=(
            "Computed when read from the stored per-minute trend and the diary's sleep periods (`recordings/{id}/"
            "activities`, kind `sleep`): a minute is asleep where its middle lies in a sleep period, awake otherwise; "
            "over each, the mean rate over the minutes' R-R intervals and the lowest and highest of their 4-beat "
            "extremes (not the summary's 8-beat minimum and maximum), and the rhythm events by type, how many "
            "began asleep (those a doctor rejected left out). `awake` and `asleep` are null until a sleep period is "
            "entered. 409 `not_ready` until the recording is done (`recording_failed` once it failed)."
        ),
        parameters=[IF_NONE_MATCH],
        responses={200: AwakeAsleepSerializer},
    )
    @action(detail=True, methods=["get"], url_path="sleep", url_name="sleep")
    def sleep(self, request, pk):
        recording = diagnostics_selectors.recording_get(user=request.user, recording_id=int(pk))
        _require_done(recording, "heart rate awake and asleep")
        activities = list(diagnostics_selectors.activity_list(recording=recording))
        figures = diary.awake_asleep(recording, recording.diagnosis.rhythm, activities)
        periods = sum(1 for a in activities if a.kind == DiaryActivity.Kind.SLEEP)
        if figures is None:
            return Response(
                {
                    "sleep_periods": periods,
                    "awake": None,
                    "asleep": None,
                    "events": [],
                    "events_rejected": 0,
                    "extreme_beats": TREND_BEATS,
                }
            )

        def over(side: dict) -> dict:
            return {**serializers.rate_over_minutes(recording, side), "af_burden_pct": side.get("af_burden_pct")}

        return Response(
            {
                "sleep_periods": periods,
                "awake": over(figures["awake"]),
                "asleep": over(figures["asleep"]),
                "events": [{"type": e["type"], "asleep": e["asleep"], "total": e["total"]} for e in figures["events"]],
                "events_rejected": figures["rejected"],
                "extreme_beats": figures["extreme_beats"],
            }
        )

    @extend_schema(
        summary="The recording's beat families: the shapes of each class's beats, as a Holter system's templates",
        description=(
            "Found by the analysis of a continuous signal (none for beat files), by number: each family's class as "
            "classified, its beats, its example beat (its index and the sample of its R peak), its mean beat in "
            "both leads, and how many of its beats a doctor has since made another class. A doctor corrects a "
            "family's beats at once (`POST recordings/{id}/beat-corrections` with its `family`). 409 `not_ready` "
            "until the recording is done (`recording_failed` once it failed)."
        ),
        parameters=[IF_NONE_MATCH],
        responses={200: serializers.BeatFamilySerializer(many=True)},
    )
    @action(detail=True, methods=["get"], url_path="beat-families", url_name="beat-families")
    def beat_families(self, request, pk):
        recording = diagnostics_selectors.recording_get(user=request.user, recording_id=int(pk))
        _require_done(recording, "beat families")
        return self.paginated(
            diagnostics_selectors.beat_families(recording=recording), serializers.BeatFamilySerializer
        )

    @extend_schema(
        summary="A doctor's corrections of the recording's beat classes, newest first",
        description=(
            "Each with how many beats it changed and of which class they were (`previous`), undone or not; without "
            "the beats' indices, which a family's correction has by the thousand: "
            "`recordings/{id}/beat-corrections/{correction_id}` gives them."
        ),
        parameters=[
            OpenApiParameter(
                "undone",
                OpenApiTypes.BOOL,
                description="true: only those undone; false: only those standing. Left out: every one.",
            ),
            IF_NONE_MATCH,
        ],
        responses={200: serializers.BeatCorrectionSerializer(many=True)},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="beat-corrections",
        url_name="beat-corrections",
        permission_classes=[IsClinicMember, CanCorrectBeatsOrReadOnly],
    )
    def beat_corrections(self, request, pk):
        recording = diagnostics_selectors.recording_get(user=request.user, recording_id=int(pk))
        listed = diagnostics_selectors.beat_correction_list(recording=recording, undone=self.query_bool("undone"))
        return self.paginated(listed, serializers.BeatCorrectionSerializer)

    @extend_schema(
        summary="Correct the class of a beat family's beats, or of beats chosen (doctors and administrators)",
        description=(
            "Once the recording is analysed (409 `not_analysed` before). `family`: every beat of that shape "
            "(`recordings/{id}/beat-families`; one the recording has not is 404 naming it), or `beats`: at most "
            "1,000 by index; one of the two. Beats already of `to_class` are left; none left to change is 409 "
            "`unchanged`. The counts (`diagnosis.classes`, `beats_corrected`) follow at once; the rhythm analysis "
            "is recomputed by the worker over the corrected classes (`diagnosis.rhythm_status` is `recomputing` "
            "until it is, and the recording's events may change: those no longer found, with doctors' decisions, "
            "are kept in the correction's `withdrawn_events`). The recording's `updated_at` moves. JSON only."
        ),
        parameters=precondition_parameters("the recording", "GET recordings/{id}"),
        request=serializers.BeatCorrectionCreateSerializer,
        responses={201: serializers.BeatCorrectionDetailSerializer},
    )
    @beat_corrections.mapping.post
    def beat_correction_make(self, request, pk):
        key = self.idempotency_key()
        recording = diagnostics_selectors.recording_get(user=request.user, recording_id=int(pk))
        serializer = serializers.BeatCorrectionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        given = serializer.validated_data
        correction = corrections.beat_correction_make(
            recording=recording,
            by=request.user,
            to_class=given["to_class"],
            family=given.get("family"),
            beats=given.get("beats"),
            note=given.get("note", ""),
            idempotency_key=key,
            fingerprint=self.request_fingerprint(),
            precondition=self._unchanged_since_read(recording.pk),
        )
        headers = {"Idempotent-Replayed": "true"} if correction.replayed else {}
        return Response(
            serializers.BeatCorrectionDetailSerializer(correction).data, status=status.HTTP_201_CREATED, headers=headers
        )

    @extend_schema(
        summary="One correction of the recording's beat classes, with its beats' indices",
        parameters=[IF_NONE_MATCH],
        responses={200: serializers.BeatCorrectionDetailSerializer},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=r"beat-corrections/(?P<correction_id>[0-9]{1,18})",
        url_name="beat-correction",
        permission_classes=[IsClinicMember, CanCorrectBeatsOrReadOnly],
    )
    def beat_correction(self, request, pk, correction_id):
        correction = diagnostics_selectors.beat_correction_get(
            user=request.user, recording_id=int(pk), correction_id=int(correction_id)
        )
        return Response(serializers.BeatCorrectionDetailSerializer(correction).data)

    @extend_schema(
        summary="Undo a correction of beat classes (doctors and administrators)",
        description=(
            "Its beats take back the class each had before it; it is kept, marked undone (`undone_at`, "
            "`undone_by`; `?undone=true` lists it). Only the latest correction standing can be: undo later ones "
            "first (409 `later_correction`). The counts follow at once and the rhythm is recomputed, as after a "
            "correction. One undone already is 404 saying so, unless by this request sent again with the same "
            "Idempotency-Key (its answer lost): that is 204 as the first time, with `Idempotent-Replayed: true`."
        ),
        parameters=precondition_parameters("the recording", "GET recordings/{id}"),
        request=None,
        responses={
            204: None,
            409: OpenApiResponse(serializers.ErrorSerializer, description="A later correction stands: undo it first"),
        },
    )
    @beat_correction.mapping.delete
    def beat_correction_undo(self, request, pk, correction_id):
        correction = diagnostics_selectors.beat_correction_get(
            user=request.user, recording_id=int(pk), correction_id=int(correction_id)
        )
        key = self.idempotency_key()
        if (correction.undone_at is None or key is not None) and corrections.beat_correction_undo(
            correction=correction,
            by=request.user,
            precondition=self._unchanged_since_read(int(pk)),
            idempotency_key=key,
            fingerprint=self.request_fingerprint(),
        ):
            return self._removed(replayed=correction.replayed)
        raise ApiError(
            f"This beat correction was undone at {timezone.localtime(correction.undone_at):%Y-%m-%d %H:%M:%S %Z}"
            f"{f' by {correction.undone_by.display_name}' if correction.undone_by else ''}.",
            status_code=404,
            code="not_found",
        )
