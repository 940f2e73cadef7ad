"""A clinic's patient list is read in its order from an index, however many patients the clinic has."""

import pytest
from django.db import connection

from patients.models import Patient
from patients.selectors import patient_list

pytestmark = pytest.mark.django_db


def test_a_page_of_a_large_clinics_patients_is_read_from_the_index_unsorted(clinic_a, clinic_b, staff_a):
    for clinic, n in ((clinic_a, 3000), (clinic_b, 3000)):
        Patient.objects.bulk_create(
            Patient(clinic=clinic, mrn=f"{clinic.pk}-{i:05d}", family_name=f"F{(i * 7919) % n:05d}", given_name="G")
            for i in range(n)
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE patients_patient")
    plan = patient_list(user=staff_a)[:50].explain()
    assert "patient_clinic_order" in plan and "Sort" not in plan, plan
    assert [p.family_name for p in patient_list(user=staff_a)[:3]] == ["F00000", "F00001", "F00002"]
