from django.http import JsonResponse
from django.urls import path, re_path, reverse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny
from rest_framework.routers import SimpleRouter

from . import views

app_name = "api"

router = SimpleRouter(trailing_slash=False)  # api.middleware.TrailingSlashMiddleware accepts one too
router.register("patients", views.PatientViewSet, basename="patient")
router.register("recordings", views.RecordingViewSet, basename="recording")
router.register("diagnoses", views.DiagnosisViewSet, basename="diagnosis")
router.register("reviews", views.ReviewViewSet, basename="review")
router.register("model-versions", views.ModelVersionViewSet, basename="model-version")


class SchemaView(SpectacularAPIView):
    """The schema, generated once per process and version: it is the same for everyone, and public, and each
    generation cost about 0.2 s of CPU, for anyone without a token."""

    _schemas: dict = {}

    def _get_schema_response(self, request):
        from rest_framework.response import Response

        version = self.api_version or request.version or self._get_version_parameter(request)
        if version not in self._schemas:
            generator = self.generator_class(urlconf=self.urlconf, api_version=version, patterns=self.patterns)
            self._schemas[version] = generator.get_schema(request=request, public=self.serve_public)
        return Response(
            data=self._schemas[version],
            headers={"Content-Disposition": f'inline; filename="{self._get_filename(request, version)}"'},
        )


# The schema and its documentation are public: integrators read them before they hold a token.
schema_view = SchemaView.as_view(permission_classes=[AllowAny], authentication_classes=[])
# The split view serves its start-up script as a file of its own (?script), as the CSP requires.
docs_view = SpectacularSwaggerSplitView.as_view(
    url_name="api:schema", permission_classes=[AllowAny], authentication_classes=[]
)

urlpatterns = [
    path("schema/", schema_view, name="schema"),
    path("docs/", docs_view, name="docs"),
    # and without the slash, as every other API path is written (they had been 404 "No such API endpoint.")
    path("schema", schema_view, name="schema-without-slash"),
    path("docs", docs_view, name="docs-without-slash"),
    path("", csrf_exempt(lambda request: root(request)), name="root"),
    *router.urls,
    re_path(r"^", csrf_exempt(lambda request: not_found(request)), name="not-found"),
]


def root(request):
    """The API's base URL: where its resources, schema and documentation are (public, as the schema is). It
    had redirected to itself for ever (its path matched no endpoint, so the trailing slash was dropped, and
    APPEND_SLASH put it back)."""
    if request.method not in ("GET", "HEAD"):
        return JsonResponse(
            {"error": {"code": "method_not_allowed", "message": f'Method "{request.method}" not allowed.'}},
            status=405,
            headers={"Allow": "GET, HEAD"},
        )
    base = request.build_absolute_uri(reverse("api:root"))  # absolute, as every link the API gives
    response = JsonResponse(
        {
            "resources": {prefix: f"{base}{prefix}" for prefix, _viewset, _basename in router.registry},
            "schema": f"{base}schema/",
            "docs": f"{base}docs/",
        }
    )
    # its links are written at the host asked for: a shared cache keyed on the path alone must not keep them
    response["Cache-Control"] = "private, max-age=3600"
    response["Vary"] = "Host"
    return response


def not_found(request):
    """JSON, like every other API answer, for paths no endpoint matches."""
    return JsonResponse({"error": {"code": "not_found", "message": "No such API endpoint."}}, status=404)
