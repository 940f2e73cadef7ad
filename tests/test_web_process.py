"""The web process serves pages and accepts uploads without importing TensorFlow."""

import os
import subprocess
import sys

import pytest

from .data import REPO_ROOT

SCRIPT = r"""
import sys
from ecgsite.wsgi import application  # noqa: F401 - loads settings, apps and middleware
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from accounts.models import User
from patients.models import Patient
from diagnostics.models import ECGRecording

admin.autodiscover()
client = Client()
client.force_login(User.objects.get(username="staff_a"))
patient = Patient.objects.get(mrn="A-0001")
for url in [reverse("dashboard"), reverse("patient-list"), reverse("patient-detail", args=[patient.pk])]:
    assert client.get(url).status_code == 200, url
with open(sys.argv[1], "rb") as fh:
    response = client.post(reverse("recording-upload", args=[patient.pk]), {"kind": "beats", "files": fh})
assert response.status_code == 302, response.content[:300]
admin_client = Client()
admin_client.force_login(User.objects.get(username="admin"))
assert admin_client.get(reverse("admin:mlmodels_modelversion_changelist")).status_code == 200
from rest_framework.test import APIClient
api = APIClient()
api.force_authenticate(User.objects.get(username="staff_a"))
for url in ["/api/v1/patients", "/api/v1/recordings", "/api/v1/model-versions", "/api/v1/schema/"]:
    assert api.get(url).status_code == 200, url
recording = ECGRecording.objects.get()
assert api.get(f"/api/v1/recordings/{recording.pk}").status_code == 200
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {"tensorflow", "keras", "tf_keras"})
print("HEAVY", heavy)
print("RECORDINGS", ECGRecording.objects.count())
"""


@pytest.mark.django_db(transaction=True)
def test_the_web_process_never_imports_tensorflow(staff_a, admin_a, patient_a, tmp_path):
    from django.db import connection

    from .helpers import beat_csv

    csv = tmp_path / "b.csv"
    csv.write_bytes(beat_csv(5))
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "ALLOWED_HOSTS": "testserver",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "CELERY_QUEUE": "web-process-test-unconsumed",
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(csv)], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "HEAVY []" in result.stdout
    assert "RECORDINGS 1" in result.stdout
