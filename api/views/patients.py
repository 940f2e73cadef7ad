from django.db import transaction
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from patients import selectors as patients_selectors
from patients import services as patients_services
from patients.models import Patient
from patients.search import search_words

from .. import rows, serializers
from ..pagination import absolute_url
from .base import (
    EMPTY_FILTER,
    FILTER_TEXT,
    IF_MATCH,
    IF_NONE_MATCH,
    IF_UNMODIFIED_SINCE,
    ApiViewSet,
    check_preconditions,
    last_modified,
)


@extend_schema_view(
    list=extend_schema(
        summary="List the clinic's patients",
        parameters=[
            OpenApiParameter(
                "search",
                FILTER_TEXT,
                description="Words matched against MRN and names, without case or accents (separated by spaces, commas "
                "or semicolons; separators alone are refused as empty).",
            ),
            OpenApiParameter(
                "mrn",
                FILTER_TEXT,
                description="Only the patient with this medical record number (exact, compared without case).",
            ),
            IF_NONE_MATCH,
        ],
    ),
    retrieve=extend_schema(summary="A patient", parameters=[IF_NONE_MATCH]),
    create=extend_schema(summary="Create a patient", request=serializers.PatientSerializer),
    update=extend_schema(
        summary="Replace a patient's details",
        request=serializers.PatientSerializer,
        parameters=[IF_MATCH, IF_UNMODIFIED_SINCE],
    ),
    partial_update=extend_schema(
        summary="Change some of a patient's details",
        request=serializers.PatientUpdateSerializer,
        parameters=[IF_MATCH, IF_UNMODIFIED_SINCE],
    ),
)
class PatientViewSet(ApiViewSet):
    serializer_class = serializers.PatientSerializer
    queryset = Patient.objects.none()
    query_parameters = {"list": ("search", "mrn")}
    last_modified_actions = ("retrieve", "create", "update", "partial_update")

    def list(self, request):
        search = request.query_params.get("search", "")[:200]
        if "search" in request.query_params and not search_words(search):
            # separators alone (", " from an unset family and given name) have no word to find: as empty, refused,
            # where every patient had been answered
            raise ValidationError({"search": EMPTY_FILTER})
        mrn = request.query_params.get("mrn")
        clinic_id = request.user.clinic_id
        return self.page_of_rows(
            lambda: rows.patient_values(patients_selectors.patient_list(user=request.user, search=search, mrn=mrn)),
            rows.patient_rows,
            json=(rows.PATIENT_JSON, (), rows.page_results),
            # A search's words are matched with LIKE patterns the ORM writes, an MRN without case: those pages
            # build their query.
            shape=(("patients",), (clinic_id,))
            if not search.split() and mrn is None and clinic_id is not None
            else None,
        )

    def retrieve(self, request, pk):
        patient = patients_selectors.patient_get(user=request.user, patient_id=int(pk))
        return Response(serializers.PatientSerializer(patient).data, headers=last_modified(patient.updated_at))

    def create(self, request):
        serializer = serializers.PatientSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        patient = patients_services.patient_create(user=request.user, **serializer.validated_data)
        return Response(
            serializers.PatientSerializer(patient).data,
            status=status.HTTP_201_CREATED,
            headers={
                "Location": absolute_url(request, reverse("api:patient-detail", args=[patient.pk])),
                **last_modified(patient.updated_at),
            },
        )

    def update(self, request, pk, partial=False):
        with transaction.atomic():
            # locked from the precondition's check to the write: two systems sending a change on one ETag at
            # once had both passed the check, the second overwriting the first
            patient = patients_selectors.patient_get(user=request.user, patient_id=int(pk), for_update=True)
            check_preconditions(request, serializers.PatientSerializer(patient).data, patient.updated_at)
            serializer_class = serializers.PatientUpdateSerializer if partial else serializers.PatientSerializer
            serializer = serializer_class(patient, data=request.data, partial=partial)
            serializer.is_valid(raise_exception=True)
            patient = patients_services.patient_update(patient=patient, **serializer.validated_data)
        return Response(serializers.PatientSerializer(patient).data, headers=last_modified(patient.updated_at))

    def partial_update(self, request, pk):
        return self.update(request, pk, partial=True)
