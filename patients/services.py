import datetime

from django.db import IntegrityError, transaction

from accounts.models import User
from ecgsite.errors import MrnTaken, PatientChanged

from .models import Patient, normal_mrn


@transaction.atomic
def patient_create(
    *,
    user: User,
    mrn: str,
    family_name: str,
    given_name: str = "",
    date_of_birth: datetime.date | None = None,
    sex: str = Patient.Sex.UNKNOWN,
) -> Patient:
    patient = Patient(
        clinic_id=user.clinic_id,  # type: ignore[misc]  # a user without a clinic fails full_clean
        mrn=mrn.strip(),
        family_name=family_name.strip(),
        given_name=given_name.strip(),
        date_of_birth=date_of_birth,
        sex=sex,
        created_by=user,
    )
    _save(patient)
    return patient


@transaction.atomic
def patient_update(*, patient: Patient, seen_version: str | None = None, **fields) -> Patient:
    """Change the patient's fields. With ``seen_version`` (``version_of`` the patient as its form was opened), a
    patient saved by someone else since raises PatientChanged, holding the patient as it is now."""
    allowed = {"mrn", "family_name", "given_name", "date_of_birth", "sex"}
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"cannot update {', '.join(sorted(unknown))}")
    if seen_version is not None:
        current = Patient.objects.select_for_update().get(pk=patient.pk)
        if version_of(current) != seen_version:
            raise PatientChanged(current)
    for name, value in fields.items():
        setattr(patient, name, value.strip() if isinstance(value, str) else value)
    _save(patient)
    return patient


def version_of(patient: Patient) -> str:
    """What a form keeps of the patient it was opened on, to tell whether it was saved since."""
    return patient.updated_at.isoformat() if patient.updated_at else ""


def _save(patient: Patient) -> None:
    """Save a checked patient; a medical record number already used in the clinic raises MrnTaken.

    Numbers are compared without case: "a-1001" beside "A-1001" would be a second identity for one
    patient in the clinic's records."""
    patient.mrn = normal_mrn(patient.mrn)  # as it is stored (Patient.clean), before it is compared
    clash = Patient.objects.filter(clinic_id=patient.clinic_id, mrn__iexact=patient.mrn).exclude(pk=patient.pk)
    if clash.exists():
        raise MrnTaken()
    # The number's uniqueness is the insert's to decide (below): re-checked here, a number another request
    # took since the check above was a ValidationError naming the database constraint, not MrnTaken.
    patient.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            patient.save()
    except IntegrityError:  # another request took the number between the check and the insert
        raise MrnTaken() from None
