from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User

from .models import Patient, normal_mrn
from .search import search_words


def patient_list(*, user: User, search: str = "", mrn: str | None = None) -> QuerySet[Patient]:
    """The clinic's patients whose MRN or names hold every word of ``search``, compared without case or accents
    ("muller" finds "Müller", "José" finds "Jose"); with ``mrn``, only the one whose MRN is that, compared without
    case (as MRNs are unique)."""
    qs = Patient.objects.filter(clinic_id=user.clinic_id)  # type: ignore[misc]  # None (no clinic) matches nothing
    if mrn is not None:
        qs = qs.filter(mrn__iexact=normal_mrn(mrn))
    for word in search_words(search):
        qs = qs.filter(search_text__contains=word)
    return qs


def patient_get(*, user: User, patient_id: int, for_update: bool = False) -> Patient:
    """The patient if it belongs to the user's clinic; 404 otherwise, never 403. ``for_update`` locks its row
    to the end of the caller's transaction."""
    patients = Patient.objects.select_for_update() if for_update else Patient.objects
    return get_object_or_404(patients, pk=patient_id, clinic_id=user.clinic_id)
