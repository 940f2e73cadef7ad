import re

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User

from .models import Patient, normal_mrn


def patient_list(*, user: User, search: str = "", mrn: str | None = None) -> QuerySet[Patient]:
    """The clinic's patients whose MRN or names hold every word of ``search``; with ``mrn``, only the one
    whose MRN is that, compared without case (as MRNs are unique)."""
    qs = Patient.objects.filter(clinic_id=user.clinic_id)  # type: ignore[misc]  # None (no clinic) matches nothing
    if mrn is not None:
        qs = qs.filter(mrn__iexact=normal_mrn(mrn))
    # "Meyer, Anna" as the pages write names; a NUL (which PostgreSQL refuses in a string) separates too
    for term in re.split(r"[\s,;\x00]+", search):
        if not term:
            continue
        qs = qs.filter(Q(mrn__icontains=term) | Q(family_name__icontains=term) | Q(given_name__icontains=term))
    return qs


def patient_get(*, user: User, patient_id: int, for_update: bool = False) -> Patient:
    """The patient if it belongs to the user's clinic; 404 otherwise, never 403. ``for_update`` locks its row
    to the end of the caller's transaction."""
    patients = Patient.objects.select_for_update() if for_update else Patient.objects
    return get_object_or_404(patients, pk=patient_id, clinic_id=user.clinic_id)
