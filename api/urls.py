from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny
from rest_framework.routers import SimpleRouter

from . import views

app_name = "api"

router = SimpleRouter(trailing_slash=False)
router.register("patients", views.PatientViewSet, basename="patient")
router.register("recordings", views.RecordingViewSet, basename="recording")
router.register("diagnoses", views.DiagnosisViewSet, basename="diagnosis")
router.register("reviews", views.ReviewViewSet, basename="review")
router.register("model-versions", views.ModelVersionViewSet, basename="model-version")

urlpatterns = [
    # The schema and its documentation are public: integrators read them before they hold a token.
    path("schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny], authentication_classes=[]), name="schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="api:schema", permission_classes=[AllowAny], authentication_classes=[]),
        name="docs",
    ),
    *router.urls,
]
