from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from accounts import audit
from accounts.models import AuditEvent
from diagnostics.models import ECGRecording
from mlmodels import selectors as mlmodels_selectors
from mlmodels import services as mlmodels_services
from mlmodels.models import ModelActivation, ModelVersion

from .. import serializers
from ..pagination import absolute_url
from ..parsers import BoundedJSONParser
from ..permissions import IsAdminOrReadOnly, IsClinicMember
from .base import IF_NONE_MATCH, ApiViewSet


@extend_schema_view(
    list=extend_schema(
        summary="List model versions (shared by all clinics)",
        parameters=[
            OpenApiParameter("task", OpenApiTypes.STR, enum=list(ModelVersion.Task.values)),
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
    query_parameters = {"list": ("task", "active")}
    queryset = ECGRecording.objects.none()
    permission_classes = [IsClinicMember, IsAdminOrReadOnly]
    parser_classes = [MultiPartParser, FormParser]
    request_serializers = {"create": serializers.ModelVersionCreateSerializer, "activate": None}

    def list(self, request):
        versions = mlmodels_selectors.model_version_list()
        task = request.query_params.get("task")
        if task:
            if task not in ModelVersion.Task.values:
                raise ValidationError({"task": "Expected one of " + ", ".join(ModelVersion.Task.values) + "."})
            versions = versions.filter(task=task)
        active = self.query_bool("active")
        if active is not None:
            versions = versions.filter(is_active=active)
        return self.paginated(versions, serializers.ModelVersionSerializer)

    def retrieve(self, request, pk):
        return Response(
            serializers.ModelVersionSerializer(mlmodels_selectors.model_version_get(model_version_id=int(pk))).data
        )

    def create(self, request):
        serializer = serializers.ModelVersionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        activate = fields.pop("activate", False)
        version = mlmodels_services.model_version_register(
            upload=fields.pop("artifact"), created_by=request.user, refuse_changes=True, **fields
        )
        # the registration is audited by the route; its activation is one more change (none for the version already
        # active)
        if activate and mlmodels_services.model_version_activation(
            model_version=version, by=request.user, via=ModelActivation.Via.API
        ):
            audit.record(
                request,
                AuditEvent.Action.ACTIVATE,
                object_type="model_version",
                object_id=version.pk,
                channel=audit.channel_of(request),
            )
        return Response(
            serializers.ModelVersionSerializer(version).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": absolute_url(request, reverse("api:model-version-detail", args=[version.pk]))},
        )

    @extend_schema(
        summary="Make this the task's active version (administrators)",
        request=None,
        responses={200: serializers.ModelVersionSerializer},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="activate",
        url_name="activate",
        parser_classes=[BoundedJSONParser, FormParser, MultiPartParser],
    )
    def activate(self, request, pk):
        version = mlmodels_selectors.model_version_get(model_version_id=int(pk))
        made = mlmodels_services.model_version_activation(
            model_version=version, by=request.user, via=ModelActivation.Via.API
        )
        response = Response(serializers.ModelVersionSerializer(version).data)
        if made is None:  # the version already active: answered as it is, and no activation audited
            response.unchanged = True
        return response
