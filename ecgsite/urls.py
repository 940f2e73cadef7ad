from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path

admin.site.site_header = "ECG Analyzer administration"
admin.site.site_title = "ECG Analyzer admin"


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("patients/", include("patients.urls")),
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include("api.urls")),
    path("", include("diagnostics.exports")),
    path("", include("diagnostics.urls")),
]
