import pytest

from ecgsite.errors import MrnTaken
from patients import services
from patients.models import Patient


@pytest.mark.django_db
def test_a_medical_record_number_taken_in_the_clinic_raises_mrn_taken(staff_a, patient_a):
    with pytest.raises(MrnTaken):
        services.patient_create(user=staff_a, mrn=f" {patient_a.mrn} ", family_name="Other")
    assert Patient.objects.filter(mrn=patient_a.mrn).count() == 1


@pytest.mark.django_db
def test_renaming_a_patient_to_a_taken_number_raises_mrn_taken(staff_a, patient_a):
    other = services.patient_create(user=staff_a, mrn="A-9999", family_name="Other")
    with pytest.raises(MrnTaken):
        services.patient_update(patient=other, mrn=patient_a.mrn)
    other.refresh_from_db()
    assert other.mrn == "A-9999"


@pytest.mark.django_db
def test_the_database_holds_one_mrn_in_any_case_when_the_services_check_is_raced(staff_a):
    # two requests racing past the service's check: "RC-1" and "rc-1" were both stored
    from django.db import IntegrityError, transaction

    from patients.models import Patient

    Patient.objects.create(clinic=staff_a.clinic, mrn="RC-1", family_name="One")
    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.create(clinic=staff_a.clinic, mrn="rc-1", family_name="Two")
