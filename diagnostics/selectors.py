from django.db.models import Exists, OuterRef, QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User
from patients.models import Patient

from .models import Beat, Diagnosis, ECGRecording, Review


def recording_list(*, user: User) -> QuerySet[ECGRecording]:
    return ECGRecording.objects.filter(clinic_id=user.clinic_id).select_related("patient", "diagnosis")


def recording_list_for_patient(*, user: User, patient: Patient) -> QuerySet[ECGRecording]:
    return recording_list(user=user).filter(patient=patient)


def recording_get(*, user: User, recording_id: int) -> ECGRecording:
    """The recording if it belongs to the user's clinic; 404 otherwise, never 403."""
    return get_object_or_404(
        ECGRecording.objects.select_related("patient", "uploaded_by"), pk=recording_id, clinic_id=user.clinic_id
    )


def beat_list(*, recording: ECGRecording) -> QuerySet[Beat]:
    return recording.beats.all()


def diagnosis_get(*, user: User, diagnosis_id: int) -> Diagnosis:
    return get_object_or_404(
        Diagnosis.objects.select_related("recording__patient", "heartbeat_model", "mi_model"),
        pk=diagnosis_id,
        clinic_id=user.clinic_id,
    )


def review_queue(*, user: User) -> QuerySet[Diagnosis]:
    """The clinic's flagged MI diagnoses: unreviewed first, then highest MI score first."""
    reviewed = Review.objects.filter(diagnosis=OuterRef("pk"))
    return (
        Diagnosis.objects.filter(clinic_id=user.clinic_id, mi_flag=True)
        .annotate(reviewed=Exists(reviewed))
        .select_related("recording__patient")
        .order_by("reviewed", "-mi_score", "created_at")
    )
