"""The list pages on the embedded database (SQLite, what `make run` uses with no environment set).

api.pages reads a page, its count and its audit row in one PostgreSQL statement (WITH ... INSERT,
LATERAL, xmin); on any other database the lists must take DRF's paginator instead of failing. Run in
a child process, since the suite's own database is PostgreSQL.
"""

import json

from tests.test_settings import start

SCRIPT = """
import json
import django

django.setup()
from django.core.management import call_command

call_command("migrate", verbosity=0)
from rest_framework.test import APIClient

from accounts.models import AuditEvent, Clinic, User
from api.services import api_token_create
from patients.models import Patient

clinic, other = Clinic.objects.create(name="A"), Clinic.objects.create(name="B")
user = User.objects.create_user("staff", password="not-used-here-1", clinic=clinic, role=User.Role.STAFF)
for i in range(5):
    Patient.objects.create(clinic=clinic, mrn=f"P-{i}", family_name="Family", given_name=f"G{i}")
Patient.objects.create(clinic=other, mrn="B-1", family_name="Other", given_name="Clinic")
client = APIClient()
client.credentials(HTTP_AUTHORIZATION="Token " + api_token_create(user=user)[1])
out = {}
for path in ("/api/v1/patients", "/api/v1/patients?page_size=2&page=2", "/api/v1/recordings", "/api/v1/diagnoses"):
    before = AuditEvent.objects.count()
    response = client.get(path, HTTP_HOST="127.0.0.1")
    body = response.json() if response["Content-Type"].startswith("application/json") else None
    out[path] = {
        "status": response.status_code,
        "count": body and body.get("count"),
        "mrns": [p.get("mrn") for p in body.get("results", [])] if body else None,
        "audit_rows": AuditEvent.objects.count() - before,
    }
print(json.dumps(out))
"""


def test_the_api_lists_answer_on_the_embedded_sqlite_database(tmp_path):
    result = start(SCRIPT, ECG_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    patients = out["/api/v1/patients"]
    assert (patients["status"], patients["count"], patients["audit_rows"]) == (200, 5, 1)
    assert sorted(patients["mrns"]) == [f"P-{i}" for i in range(5)]  # clinic B's patient never shows
    page = out["/api/v1/patients?page_size=2&page=2"]
    assert (page["status"], page["count"], len(page["mrns"])) == (200, 5, 2)
    assert out["/api/v1/recordings"]["status"] == 200 and out["/api/v1/recordings"]["count"] == 0
    assert out["/api/v1/diagnoses"]["status"] == 200
