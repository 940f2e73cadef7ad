from collections.abc import Callable
from datetime import datetime

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response

from accounts.models import User
from diagnostics import selectors as diagnostics_selectors
from diagnostics import services as diagnostics_services
from diagnostics.models import Diagnosis, ECGRecording

from .. import serializers
from ..pagination import absolute_url
from ..permissions import CanReviewOrReadOnly, IsClinicMember
from .base import (
    IF_NONE_MATCH,
    WHOLE_NUMBER,
    ApiViewSet,
    check_preconditions,
    conditional,
    last_modified,
    precondition_parameters,
)


@extend_schema_view(
    list=extend_schema(
        summary="List the clinic's diagnoses",
        description="With flagged=true: the doctors' queue order (unreviewed first, then highest MI score).",
        parameters=[
            OpenApiParameter("flagged", OpenApiTypes.BOOL, description="Only diagnoses whose MI flag is (not) set."),
            OpenApiParameter("recording", WHOLE_NUMBER),
            IF_NONE_MATCH,
        ],
    ),
    retrieve=extend_schema(
        summary="A diagnosis",
        description="`Last-Modified` is the latest of when it was made, its latest review, a doctor's correction of "
        "beat classes, its undoing or the rhythm recomputed after one, and a decision rejecting a rhythm event or "
        "taking a rejection back, for If-Unmodified-Since.",
        parameters=[IF_NONE_MATCH],
    ),
)
class DiagnosisViewSet(ApiViewSet):
    serializer_class = serializers.DiagnosisSerializer
    query_parameters = {"list": ("flagged", "recording")}
    queryset = ECGRecording.objects.none()
    last_modified_actions = ("retrieve",)

    def list(self, request):
        flagged = self.query_bool("flagged")
        if flagged:
            diagnoses = diagnostics_selectors.review_queue(user=request.user).select_related(
                "heartbeat_model", "mi_model"
            )
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
        return Response(
            serializers.DiagnosisSerializer(diagnosis).data, headers=last_modified(diagnosis_changed_at(diagnosis))
        )


def diagnosis_changed_at(diagnosis: Diagnosis) -> datetime:
    """When what a diagnosis shows last changed: when it was made, its latest review, or a beat correction, its undoing
    or the rhythm recomputed after one (``changed_at``: its counts, ``beats_corrected`` and ``rhythm`` changed, which
    had moved its ETag and not its Last-Modified), or a decision that rejected a rhythm event or took a rejection back
    (its ``rhythm`` leaves the rejected ones out)."""
    review = diagnosis.latest_review()
    times = [diagnosis.created_at, review.created_at if review is not None else None, diagnosis.changed_at]
    if diagnosis.rhythm is not None:  # its rhythm leaves out the events a doctor rejected
        times.append(diagnostics_selectors.rejections_changed_at(recording_id=diagnosis.recording_id))
    return max(t for t in times if t is not None)


@extend_schema_view(
    list=extend_schema(
        summary="List the clinic's reviews, newest first",
        parameters=[OpenApiParameter("diagnosis", WHOLE_NUMBER), IF_NONE_MATCH],
    ),
    retrieve=extend_schema(summary="A review", parameters=[IF_NONE_MATCH]),
    create=extend_schema(
        summary="Confirm or reject a flagged diagnosis (doctors and administrators)",
        description="With If-Match (the diagnosis's ETag) or If-Unmodified-Since, a diagnosis reviewed since it was "
        "read is 412 `precondition_failed`.",
        request=serializers.ReviewCreateSerializer,
        responses={201: serializers.ReviewSerializer},
        parameters=precondition_parameters("the diagnosis", "GET diagnoses/{id}"),
    ),
)
class ReviewViewSet(ApiViewSet):
    serializer_class = serializers.ReviewSerializer
    query_parameters = {"list": ("diagnosis",)}
    queryset = ECGRecording.objects.none()
    permission_classes = [IsClinicMember, CanReviewOrReadOnly]
    idempotent_actions = ("create",)
    request_serializers = {"create": serializers.ReviewCreateSerializer}

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
        key = self.idempotency_key()
        serializer = serializers.ReviewCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = serializer.validated_data
        diagnosis = diagnostics_selectors.diagnosis_get(user=request.user, diagnosis_id=fields["diagnosis"])
        review = diagnostics_services.review_create(
            user=request.user,
            diagnosis=diagnosis,
            decision=fields["decision"],
            note=fields["note"],
            idempotency_key=key,
            fingerprint=self.request_fingerprint(),
            precondition=self._unchanged_since_read(diagnosis.pk),
            seen=fields["after"] if "after" in fields else diagnostics_services.UNCHECKED,
        )
        headers = {"Location": absolute_url(request, reverse("api:review-detail", args=[review.pk]))}
        if review.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(serializers.ReviewSerializer(review).data, status=status.HTTP_201_CREATED, headers=headers)

    def _unchanged_since_read(self, diagnosis_id: int) -> Callable[[], None] | None:
        """The request's If-Match and If-Unmodified-Since held to the diagnosis as a read of it gives it now, for the
        review to check under its recording's lock; None when it sends neither."""
        request, user = self.request, self.request.user
        if not conditional(request):
            return None
        assert isinstance(user, User)  # IsClinicMember let only a clinic's user this far

        def check() -> None:
            current = diagnostics_selectors.diagnosis_get(user=user, diagnosis_id=diagnosis_id)
            check_preconditions(request, serializers.DiagnosisSerializer(current).data, diagnosis_changed_at(current))

        return check
