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


@pytest.mark.django_db
@pytest.mark.parametrize("change", ["create", "rename"])
def test_a_number_taken_by_another_request_after_the_check_is_mrn_taken_not_a_constraint_message(
    staff_a, monkeypatch, change
):
    # Another request's patient committed between the service's check and its validation: the web form answered
    # 500 and the API a 400 naming the database constraint, not "MRN taken"
    other = services.patient_create(user=staff_a, mrn="RC-7", family_name="Other") if change == "rename" else None
    real_full_clean = Patient.full_clean

    def rival_first(self, *args, **kwargs):
        if not Patient.objects.filter(mrn="RC-2").exists():
            Patient.objects.create(clinic=staff_a.clinic, mrn="RC-2", family_name="Rival")
        return real_full_clean(self, *args, **kwargs)

    monkeypatch.setattr(Patient, "full_clean", rival_first)
    with pytest.raises(MrnTaken):
        if other is None:
            services.patient_create(user=staff_a, mrn="rc-2", family_name="Mine")
        else:
            services.patient_update(patient=other, mrn="rc-2")
    # (the rival, inserted in this request's own transaction to stand for the other one, is rolled back with it)
    assert not Patient.objects.filter(mrn__iexact="RC-2").exists()
    if other is not None:
        other.refresh_from_db()
        assert other.mrn == "RC-7"


@pytest.mark.django_db
def test_a_full_width_mrn_is_the_same_number(staff_a, patient_a):
    # "Ａ-０００１" from an East Asian keyboard had been stored beside "A-0001" as a second identity
    with pytest.raises(MrnTaken):
        services.patient_create(user=staff_a, mrn="Ａ-０００１", family_name="Other")
    typed = services.patient_create(user=staff_a, mrn="Ｂ-７", family_name="Other")
    assert Patient.objects.get(pk=typed.pk).mrn == "B-7"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "field, value, code",
    [
        ("family_name", "Z\u202eoë", "U+202E"),  # shown reversed after it in every list
        ("given_name", "Anna\nMarie", "U+000A"),  # a line break into the CSV and FHIR
        ("family_name", "Meyer\u2066", "U+2066"),
        ("mrn", "A-\x07", "U+0007"),
    ],
)
def test_a_name_or_mrn_with_an_invisible_control_character_is_refused(staff_a, field, value, code):
    from django.core.exceptions import ValidationError

    fields = {"mrn": "A-55", "family_name": "Lund", field: value}
    with pytest.raises(ValidationError) as refused:
        services.patient_create(user=staff_a, **fields)
    assert field in refused.value.message_dict and code in refused.value.message_dict[field][0]
    assert not Patient.objects.filter(mrn="A-55").exists()
    # names in any script, with their accents, are fine
    services.patient_create(user=staff_a, mrn="A-56", family_name="Şmith-Ōtake", given_name="Zoë أنا")


@pytest.mark.django_db
def test_a_name_that_grows_under_nfc_past_its_length_is_refused_not_a_server_error(staff_a):
    from django.core.exceptions import ValidationError

    # U+0958 is two characters in NFC: 150 of them are 300, past the column's 150
    with pytest.raises(ValidationError) as refused:
        services.patient_create(user=staff_a, mrn="A-70", family_name="\u0958" * 150)
    assert "family_name" in refused.value.message_dict
    assert not Patient.objects.filter(mrn="A-70").exists()


@pytest.mark.django_db
def test_a_control_character_stored_before_the_check_blocks_no_other_change(staff_a, patient_a):
    Patient.objects.filter(pk=patient_a.pk).update(family_name="Meyer\tAnna")  # stored before the check
    patient_a.refresh_from_db()
    services.patient_update(patient=patient_a, sex="male")
    patient_a.refresh_from_db()
    assert (patient_a.sex, patient_a.family_name) == ("male", "Meyer\tAnna")
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):  # a new one is refused
        services.patient_update(patient=patient_a, given_name="A\tB")


@pytest.mark.django_db
def test_mrns_stored_before_are_made_plain_unless_that_is_another_patients(clinic_a, patient_a, capsys):
    import importlib

    from django.apps import apps

    from ..factories import PatientFactory

    migration = importlib.import_module("patients.migrations.0005_normalise_stored_mrns")
    wide = PatientFactory(clinic=clinic_a, family_name="Wide")
    twin = PatientFactory(clinic=clinic_a, family_name="Twin")
    Patient.objects.filter(pk=wide.pk).update(mrn="Ｂ-０７ ")
    Patient.objects.filter(pk=twin.pk).update(mrn="Ａ-０００１")  # patient_a's A-0001 in full width
    migration.normalise(apps, None)
    assert Patient.objects.get(pk=wide.pk).mrn == "B-07"
    assert Patient.objects.get(pk=twin.pk).mrn == "Ａ-０００１"  # left to merge, and said
    assert f"patient {twin.pk}: MRN 'Ａ-０００１' is another patient's in its plain form" in capsys.readouterr().out
    assert Patient.objects.get(pk=patient_a.pk).mrn == "A-0001"
