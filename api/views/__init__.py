"""The API's endpoints, one module per resource; each calls the apps' selectors and services."""

from .model_versions import ModelVersionViewSet
from .patients import PatientViewSet
from .recordings import RecordingViewSet
from .reviews import DiagnosisViewSet, ReviewViewSet

__all__ = ["DiagnosisViewSet", "ModelVersionViewSet", "PatientViewSet", "RecordingViewSet", "ReviewViewSet"]
