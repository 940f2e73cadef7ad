"""The list endpoints write their rows as plain dicts (api/rows.py): the same documents, field for field,
as the serializers that describe them in the schema and serve single objects."""

import json

import pytest
from rest_framework.test import APIRequestFactory

from api import serializers
from api.renderers import OrjsonRenderer
from diagnostics.selectors import recording_list
from patients.models import Patient
from patients.selectors import patient_list

from ..factories import done_recordings

pytestmark = pytest.mark.django_db


def test_patient_rows_are_what_the_patient_serializer_writes(api_as, staff_a, clinic_a):
    from datetime import date

    Patient.objects.create(clinic=clinic_a, mrn="R-1", family_name="Ünal", given_name="", date_of_birth=None)
    Patient.objects.create(clinic=clinic_a, mrn="R-2", family_name="Ode", date_of_birth=date(1950, 2, 3), sex="male")
    expected = serializers.PatientSerializer(patient_list(user=staff_a), many=True).data
    response = api_as(staff_a).get("/api/v1/patients", {"page_size": 1000})
    assert response.status_code == 200
    assert response.json()["results"] == json.loads(json.dumps(expected))
    assert len(expected) >= 2


def test_recording_rows_are_what_the_recording_serializer_writes(api_as, staff_a, doctor_a, clinic_a, active_models):
    done_recordings(6, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)
    request = APIRequestFactory().get("/api/v1/recordings")  # the links are at the host asked
    expected = serializers.RecordingSerializer(
        recording_list(user=staff_a), many=True, context={"request": request}
    ).data
    response = api_as(staff_a).get("/api/v1/recordings", {"page_size": 1000})
    assert response.status_code == 200
    rows = response.json()["results"]
    assert rows == json.loads(json.dumps(expected))
    assert any(r["diagnosis"] and r["diagnosis"]["latest_review"] for r in rows)


def test_the_renderer_writes_what_drf_would(settings):
    from decimal import Decimal

    from django.utils import timezone
    from rest_framework.renderers import JSONRenderer

    data = {"a": [1, 2.5, None, True], "when": timezone.now(), "d": Decimal("1.5"), "text": "Müller"}
    assert json.loads(OrjsonRenderer().render(data)) == json.loads(JSONRenderer().render(data))
