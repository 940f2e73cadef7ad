from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path

admin.site.site_header = "ECG Analyzer administration"
admin.site.site_title = "ECG Analyzer admin"


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


# The API first: a path is matched against each include in turn, and each that fails costs an exception.
urlpatterns = [
    path("api/v1/", include("api.urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("patients/", include("patients.urls")),
    path("healthz", healthz, name="healthz"),
    path("", include("diagnostics.exports")),
    path("", include("diagnostics.urls")),
]
