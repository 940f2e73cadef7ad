from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response

from diagnostics import selectors as diagnostics_selectors
from diagnostics import services as diagnostics_services
from diagnostics.models import ECGRecording

from .. import serializers
from ..pagination import absolute_url
from ..permissions import CanReviewOrReadOnly, IsClinicMember
from .base import IF_NONE_MATCH, WHOLE_NUMBER, ApiViewSet


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
    retrieve=extend_schema(summary="A diagnosis", parameters=[IF_NONE_MATCH]),
)
class DiagnosisViewSet(ApiViewSet):
    serializer_class = serializers.DiagnosisSerializer
    query_parameters = {"list": ("flagged", "recording")}
    queryset = ECGRecording.objects.none()

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
        return Response(serializers.DiagnosisSerializer(diagnosis).data)


@extend_schema_view(
    list=extend_schema(
        summary="List the clinic's reviews, newest first",
        parameters=[OpenApiParameter("diagnosis", WHOLE_NUMBER), IF_NONE_MATCH],
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
    query_parameters = {"list": ("diagnosis",)}
    queryset = ECGRecording.objects.none()
    permission_classes = [IsClinicMember, CanReviewOrReadOnly]
    idempotent_actions = ("create",)

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
        )
        headers = {"Location": absolute_url(request, reverse("api:review-detail", args=[review.pk]))}
        if review.replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(serializers.ReviewSerializer(review).data, status=status.HTTP_201_CREATED, headers=headers)
