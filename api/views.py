import hashlib
import tempfile
from datetime import datetime, time
from datetime import timezone as datetime_timezone
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.http import HttpResponseNotModified
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.http import parse_etags
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from diagnostics import selectors as diagnostics_selectors
from diagnostics import services as diagnostics_services
from diagnostics.models import ECGRecording
from mlmodels import selectors as mlmodels_selectors
from mlmodels import services as mlmodels_services
from patients import selectors as patients_selectors
from patients import services as patients_services
from patients.models import Patient

from . import fhir, serializers, uploads
from .exceptions import ApiError, Conflict
from .models import IdempotencyRecord
from .permissions import CanReviewOrReadOnly, IsAdminOrReadOnly, IsClinicMember

ID_PATTERN = r"[0-9]{1,18}"
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="An ETag from an earlier response; 304 Not Modified if nothing changed.",
)


# Common to every endpoint: clinic scope, JSON errors, and ETags on reads.
class ApiViewSet(viewsets.GenericViewSet):
    permission_classes = [IsClinicMember]
    lookup_value_regex = ID_PATTERN

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        for name, values in request.query_params.lists():
            if any("\x00" in v for v in values):
                raise ValidationError({name: "The value contains a NUL character."})

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if request.method in ("GET", "HEAD") and response.status_code == 200 and hasattr(response, "render"):
            response.render()
            etag = '"%s"' % hashlib.sha256(response.content).hexdigest()[:32]
            response["ETag"] = etag
            response["Cache-Control"] = "private, no-cache"
            if etag in parse_etags(request.headers.get("If-None-Match", "")) or request.headers.get("If-None-Match") == "*":
                not_modified = HttpResponseNotModified()
                not_modified["ETag"] = etag
                not_modified["Cache-Control"] = "private, no-cache"
                return not_modified
        return response

    def query_int(self, name: str) -> int | None:
        raw = self.request.query_params.get(name)
        if raw in (None, ""):
            return None
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
            raise ValidationError({name: "Expected a positive whole number."})
        return int(raw)

    def query_bool(self, name: str) -> bool | None:
        raw = self.request.query_params.get(name)
        if raw in (None, ""):
            return None
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise ValidationError({name: "Expected true or false."})

    def paginated(self, queryset, serializer_class):
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True).data)


# --- patients -------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List the clinic's patients",
        parameters=[
            OpenApiParameter("search", OpenApiTypes.STR, description="Words matched against MRN and names."),
            IF_NONE_MATCH,
        ],
    ),
    retrieve=extend_schema(summary="A patient", parameters=[IF_NONE_MATCH]),
    create=extend_schema(summary="Create a patient", request=serializers.PatientSerializer),
    update=extend_schema(summary="Replace a patient's details", request=serializers.PatientSerializer),
    partial_update=extend_schema(summary="Change some of a patient's details", request=serializers.PatientUpdateSerializer),
)
class PatientViewSet(ApiViewSet):
    serializer_class = serializers.PatientSerializer
    queryset = Patient.objects.none()

    def list(self, request):
        search = request.query_params.get("search", "")[:200]
        return self.paginated(patients_selectors.patient_list(user=request.user, search=search), serializers.PatientSerializer)

    def retrieve(self, request, pk):
        patient = patients_selectors.patient_get(user=request.user, patient_id=int(pk))
        return Response(serializers.PatientSerializer(patient).data)

    def create(self, request):
        serializer = serializers.PatientSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self._check_mrn(serializer.validated_data["mrn"])
        try:
            patient = patients_services.patient_create(user=request.user, **serializer.validated_data)
        except IntegrityError:
            raise self._mrn_conflict() from None
        return Response(serializers.PatientSerializer(patient).data, status=status.HTTP_201_CREATED)

    def update(self, request, pk, partial=False):
        patient = patients_selectors.patient_get(user=request.user, patient_id=int(pk))
        serializer_class = serializers.PatientUpdateSerializer if partial else serializers.PatientSerializer
        serializer = serializer_class(patient, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        if "mrn" in serializer.validated_data:
            self._check_mrn(serializer.validated_data["mrn"], exclude=patient.pk)
        try:
            patient = patients_services.patient_update(patient=patient, **serializer.validated_data)
        except IntegrityError:
            raise self._mrn_conflict() from None
        return Response(serializers.PatientSerializer(patient).data)

    def partial_update(self, request, pk):
        return self.update(request, pk, partial=True)

    def _check_mrn(self, mrn: str, exclude: int | None = None) -> None:
        clash = Patient.objects.filter(clinic_id=self.request.user.clinic_id, mrn=mrn.strip())
        if exclude is not None:
            clash = clash.exclude(pk=exclude)
        if clash.exists():
            raise self._mrn_conflict()

    @staticmethod
    def _mrn_conflict():
        return Conflict("Another patient of this clinic has this medical record number.", code="mrn_taken", field="mrn")


# --- recordings -----------------------------------------------------------------------------


def _parse_when(name: str, raw: str, *, end: bool) -> datetime:
    invalid = ValidationError({name: "Expected a date (YYYY-MM-DD) or an ISO 8601 date-time."})
    try:
        value = parse_datetime(raw) if "T" in raw or " " in raw else None
        if value is None:
            day = parse_date(raw)
            if day is None:
                raise invalid
            value = datetime.combine(day, time.max if end else time.min)
        if timezone.is_naive(value):
            value = timezone.make_aware(value)
        value.astimezone(datetime_timezone.utc)  # the database compares in UTC
    except (ValueError, OverflowError):
        raise invalid from None
    return value


class FhirJsonRenderer(JSONRenderer):
    media_type = "application/fhir+json"


@extend_schema_view(
    list=extend_schema(
        summary="List the clinic's recordings",
        parameters=[
            OpenApiParameter("patient", OpenApiTypes.INT, description="Only this patient's recordings."),
            OpenApiParameter("status", OpenApiTypes.STR, enum=ECGRecording.Status.values),
            OpenApiParameter("created_after", OpenApiTypes.STR, description="A date or ISO 8601 date-time (inclusive)."),
            OpenApiParameter("created_before", OpenApiTypes.STR, description="A date or ISO 8601 date-time (inclusive)."),
            IF_NONE_MATCH,
        ],
    ),
    retrieve=extend_schema(
        summary="A recording with its status and, once done, its diagnosis",
        description="Poll this with If-None-Match: it answers 304 until something changes.",
        parameters=[IF_NONE_MATCH],
    ),
)
class RecordingViewSet(ApiViewSet):
    serializer_class = serializers.RecordingSerializer
    queryset = ECGRecording.objects.none()
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def list(self, request):
        recordings = diagnostics_selectors.recording_list(user=request.user)
        patient_id = self.query_int("patient")
        if patient_id is not None:
            recordings = recordings.filter(patient_id=patient_id)
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in ECGRecording.Status.values:
                raise ValidationError({"status": f"Expected one of {', '.join(ECGRecording.Status.values)}."})
            recordings = recordings.filter(status=wanted)
        if request.query_params.get("created_after"):
            recordings = recordings.filter(created_at__gte=_parse_when("created_after", request.query_params["created_after"], end=False))
        if request.query_params.get("created_before"):
            recordings = recordings.filter(created_at__lte=_parse_when("created_before", request.query_params["created_before"], end=True))
        return self.paginated(recordings, serializers.RecordingSerializer)

    def retrieve(self, request, pk):
        recording = diagnostics_selectors.recording_get(user=request.user, recording_id=int(pk))
        return Response(serializers.RecordingSerializer(recording).data)

    @extend_schema(
        summary="Upload a recording (JSON or multipart)",
        description=(
            "JSON: `{\"patient\": 1, \"kind\": \"beats\", \"beats\": [[187 numbers], …]}` or "
            "`{\"patient\": 1, \"kind\": \"signal\", \"fs\": 360, \"signal\": [numbers]}` (or `\"leads\": {name: [numbers]}`). "
            "Multipart: `patient`, `kind` and `file` (repeat it for WFDB .hea + .dat), as on the upload page. "
            "The whole upload is validated first; on any defect nothing is stored. "
            "With an Idempotency-Key the same request returns the same recording; the same key with another body is 409."
        ),
        request={
            "application/json": serializers.RecordingJsonSerializer,
            "multipart/form-data": serializers.RecordingUploadSerializer,
        },
        parameters=[
            OpenApiParameter(
                "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
                description="Up to 255 printable characters chosen by the client, e.g. a UUID.",
            )
        ],
        responses={201: serializers.RecordingSerializer},
    )
    def create(self, request):
        key = request.headers.get("Idempotency-Key")
        if key is not None and not (0 < len(key) <= 255 and key.isprintable() and key.isascii()):
            raise ApiError("Idempotency-Key must be 1–255 printable ASCII characters.", code="invalid_idempotency_key", field="Idempotency-Key")
        is_json = not hasattr(request.data, "getlist")
        input_serializer = (serializers.RecordingJsonSerializer if is_json else serializers.RecordingUploadSerializer)(data=request.data)
        input_serializer.is_valid(raise_exception=True)
        fields = input_serializer.validated_data
        patient = patients_selectors.patient_get(user=request.user, patient_id=fields["patient"])
        files = [] if is_json else fields.get("file", [])
        digest = uploads.fingerprint(request.data, files)
        if key is not None:
            seen = IdempotencyRecord.objects.filter(user=request.user, key=key).select_related("recording").first()
            if seen is not None:
                return self._replay(seen, digest)

        if is_json and fields["kind"] == ECGRecording.Kind.BEATS:
            parsed, data, filename = uploads.beats_from_json(fields["beats"])
        elif is_json:
            parsed, data, filename = uploads.signal_from_json(
                fs=fields["fs"], signal=fields.get("signal"), leads=fields.get("leads"), lead=fields.get("lead") or None
            )
        else:
            parsed, data, filename = uploads.from_files(
                kind=fields["kind"], files=files, text=fields.get("text", ""), fs=fields.get("fs"), lead=fields.get("lead", "")
            )
        try:
            with transaction.atomic():
                recording = diagnostics_services.recording_submit(
                    user=request.user, patient=patient, parsed=parsed, data=data, filename=filename
                )
                if key is not None:
                    IdempotencyRecord.objects.create(user=request.user, key=key, fingerprint=digest, recording=recording)
        except IntegrityError:  # the same key arrived twice at once; the other request won
            seen = IdempotencyRecord.objects.filter(user=request.user, key=key).first() if key is not None else None
            if seen is None:
                raise
            default_storage.delete(recording.file.name)
            return self._replay(seen, digest)
        return self._created(recording)

    def _created(self, recording, **headers):
        body = serializers.RecordingSerializer(recording).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Location": body["links"]["self"], **headers})

    def _replay(self, seen: IdempotencyRecord, digest: str):
        if seen.fingerprint != digest:
            raise Conflict(
                "This Idempotency-Key was already used with a different request body.",
                code="idempotency_key_reused", field="Idempotency-Key",
            )
        return self._created(seen.recording, **{"Idempotent-Replayed": "true"})

    @extend_schema(
        summary="The recording's classified beats",
        parameters=[IF_NONE_MATCH],
        responses={200: serializers.BeatSerializer(many=True)},
    )
    @action(detail=True, methods=["get"], url_path="beats", url_name="beats")
    def beats(self, request, pk):
        recording = diagnostics_selectors.recording_get(user=request.user, recording_id=int(pk))
        return self.paginated(diagnostics_selectors.beat_list(recording=recording), serializers.BeatSerializer)

    @extend_schema(
        summary="The recording's result as a FHIR R4 Bundle",
        description=(
            "A Bundle (type collection) with the Patient, a DiagnosticReport, Observations for the beat-class counts, "
            "the MI score and flag, the heart rate (signals), and the ECG as an Observation with valueSampledData "
            "(MDC 131328 and one component per lead). 409 until the recording is done."
        ),
        parameters=[IF_NONE_MATCH],
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="A FHIR R4 Bundle resource.")},
    )
    @action(detail=True, methods=["get"], url_path="fhir", url_name="fhir", renderer_classes=[JSONRenderer, FhirJsonRenderer])
    def fhir(self, request, pk):
        recording = diagnostics_selectors.recording_get(user=request.user, recording_id=int(pk))
        diagnosis = getattr(recording, "diagnosis", None)
        if recording.status != ECGRecording.Status.DONE or diagnosis is None:
            raise Conflict(f"The recording is {recording.status}; its FHIR report exists once it is done.", code="not_ready")
        signal = diagnostics_selectors.recording_stored_signal(recording=recording) if recording.kind == ECGRecording.Kind.SIGNAL else None
        beats = diagnostics_selectors.recording_model_input(recording=recording) if signal is None else None
        return Response(fhir.bundle(recording=recording, diagnosis=diagnosis, signal=signal, beats=beats))


# --- diagnoses and reviews --------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List the clinic's diagnoses",
        description="With flagged=true: the doctors' queue order (unreviewed first, then highest MI score).",
        parameters=[
            OpenApiParameter("flagged", OpenApiTypes.BOOL, description="Only diagnoses whose MI flag is (not) set."),
            OpenApiParameter("recording", OpenApiTypes.INT),
            IF_NONE_MATCH,
        ],
    ),
    retrieve=extend_schema(summary="A diagnosis", parameters=[IF_NONE_MATCH]),
)
class DiagnosisViewSet(ApiViewSet):
    serializer_class = serializers.DiagnosisSerializer
    queryset = ECGRecording.objects.none()

    def list(self, request):
        flagged = self.query_bool("flagged")
        if flagged:
            diagnoses = diagnostics_selectors.review_queue(user=request.user).select_related("heartbeat_model", "mi_model")
        else:
            diagnoses = diagnostics_selectors.diagnosis_list(user=request.user)
            if flagged is False:
                diagnoses = diagnoses.filter(mi_flag=False)
        recording_id = self.query_int("recording")
        if recording_id is not None:
            diagnoses = diagnoses.filter(recording_id=recording_id)
        return self.paginated(diagnoses, serializers.DiagnosisSerializer)

    def retrieve(self, request, pk):
        diagnosis = diagnostics_selectors.diagnosis_get(user=request.user, diagnosis_id=int(pk))
        return Response(serializers.DiagnosisSerializer(diagnosis).data)


@extend_schema_view(
    list=extend_schema(
        summary="List the clinic's reviews, newest first",
        parameters=[OpenApiParameter("diagnosis", OpenApiTypes.INT), IF_NONE_MATCH],
    ),
    retrieve=extend_schema(summary="A review", parameters=[IF_NONE_MATCH]),
    create=extend_schema(
        summary="Confirm or reject a flagged diagnosis (doctors and administrators)",
        request=serializers.ReviewCreateSerializer,
        responses={201: serializers.ReviewSerializer},
    ),
)
class ReviewViewSet(ApiViewSet):
    serializer_class = serializers.ReviewSerializer
    queryset = ECGRecording.objects.none()
    permission_classes = [IsClinicMember, CanReviewOrReadOnly]

    def list(self, request):
        reviews = diagnostics_selectors.review_list(user=request.user)
        diagnosis_id = self.query_int("diagnosis")
        if diagnosis_id is not None:
            reviews = reviews.filter(diagnosis_id=diagnosis_id)
        return self.paginated(reviews, serializers.ReviewSerializer)

    def retrieve(self, request, pk):
        review = get_object_or_404(diagnostics_selectors.review_list(user=request.user), pk=int(pk))
        return Response(serializers.ReviewSerializer(review).data)

    def create(self, request):
        serializer = serializers.ReviewCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = serializer.validated_data
        diagnosis = diagnostics_selectors.diagnosis_get(user=request.user, diagnosis_id=fields["diagnosis"])
        if not diagnosis.mi_flag:
            raise Conflict("Only diagnoses flagged for MI are reviewed.", code="not_flagged", field="diagnosis")
        try:
            review = diagnostics_services.review_create(
                user=request.user, diagnosis=diagnosis, decision=fields["decision"], note=fields["note"]
            )
        except diagnostics_services.ReviewNotAllowed as exc:
            raise PermissionDenied(str(exc)) from None
        return Response(serializers.ReviewSerializer(review).data, status=status.HTTP_201_CREATED)


# --- model versions ----------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        summary="List model versions (shared by all clinics)",
        parameters=[
            OpenApiParameter("task", OpenApiTypes.STR, enum=["heartbeat", "mi"]),
            OpenApiParameter("active", OpenApiTypes.BOOL),
            IF_NONE_MATCH,
        ],
    ),
    retrieve=extend_schema(summary="A model version", parameters=[IF_NONE_MATCH]),
    create=extend_schema(
        summary="Register a model version from a .keras or Keras 2 .h5 file (administrators)",
        request={"multipart/form-data": serializers.ModelVersionCreateSerializer},
        responses={201: serializers.ModelVersionSerializer},
    ),
)
class ModelVersionViewSet(ApiViewSet):
    serializer_class = serializers.ModelVersionSerializer
    queryset = ECGRecording.objects.none()
    permission_classes = [IsClinicMember, IsAdminOrReadOnly]
    parser_classes = [MultiPartParser, FormParser]

    def list(self, request):
        versions = mlmodels_selectors.model_version_list()
        task = request.query_params.get("task")
        if task:
            if task not in ("heartbeat", "mi"):
                raise ValidationError({"task": "Expected heartbeat or mi."})
            versions = versions.filter(task=task)
        active = self.query_bool("active")
        if active is not None:
            versions = versions.filter(is_active=active)
        return self.paginated(versions, serializers.ModelVersionSerializer)

    def retrieve(self, request, pk):
        return Response(serializers.ModelVersionSerializer(mlmodels_selectors.model_version_get(model_version_id=int(pk))).data)

    def create(self, request):
        serializer = serializers.ModelVersionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        artifact = fields.pop("artifact")
        suffix = Path(artifact.name).suffix.lower()
        if suffix not in {".keras", ".h5", ".hdf5"}:
            raise ApiError("The artifact must be a .keras file or a Keras 2 .h5 file.", status_code=415, code="unsupported_media_type", field="artifact")
        if artifact.size > settings.API_MAX_MODEL_BYTES:
            raise ApiError(f"The artifact is larger than {settings.API_MAX_MODEL_BYTES} bytes.", status_code=413, code="payload_too_large", field="artifact")
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / f"upload{suffix}"
            with open(source, "wb") as fh:
                for chunk in artifact.chunks():
                    fh.write(chunk)
            version = mlmodels_services.model_version_register(source=source, created_by=request.user, **fields)
        return Response(serializers.ModelVersionSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Make this the task's active version (administrators)", request=None, responses={200: serializers.ModelVersionSerializer})
    @action(detail=True, methods=["post"], url_path="activate", url_name="activate", parser_classes=[JSONParser, FormParser, MultiPartParser])
    def activate(self, request, pk):
        version = mlmodels_selectors.model_version_get(model_version_id=int(pk))
        version = mlmodels_services.model_version_activate(model_version=version)
        return Response(serializers.ModelVersionSerializer(version).data)
