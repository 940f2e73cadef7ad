from django.db.models import Exists, OuterRef, QuerySet
from django.shortcuts import get_object_or_404

from accounts.models import User
from patients.models import Patient

from .models import Beat, Diagnosis, ECGRecording, Event, EventReview, Review


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


def event_list(*, recording: ECGRecording, types: list[str] | None = None) -> QuerySet[Event]:
    """A recording's rhythm events in time order, each with its review history (newest first)."""
    from django.db.models import Prefetch

    events = recording.events.prefetch_related(
        Prefetch("reviews", queryset=EventReview.objects.select_related("reviewer").order_by("-created_at", "-id"))
    )
    return events.filter(type__in=types) if types else events


def event_get(*, user: User, event_id: int) -> Event:
    return get_object_or_404(Event.objects.select_related("recording"), pk=event_id, clinic_id=user.clinic_id)


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


def beat_get(*, recording: ECGRecording, index: int) -> Beat:
    return get_object_or_404(Beat, recording=recording, index=index)


def beat_marks(*, recording: ECGRecording, start: int, end: int) -> list[tuple[int, int, str]]:
    """(index, position, class) of the beats whose R-peak lies in samples ``start``..``end``."""
    return list(
        recording.beats.filter(position__gte=start, position__lt=end)
        .order_by("position")
        .values_list("index", "position", "aami_class")
    )


def recording_list_earlier(*, user: User, recording: ECGRecording) -> QuerySet[ECGRecording]:
    """The patient's other recordings uploaded before this one, newest first."""
    return recording_list_for_patient(user=user, patient=recording.patient).filter(
        created_at__lt=recording.created_at
    ).select_related("diagnosis")


def review_history(*, diagnosis: Diagnosis) -> QuerySet[Review]:
    return diagnosis.reviews.select_related("reviewer").order_by("-created_at")


def diagnosis_list(*, user: User) -> QuerySet[Diagnosis]:
    return Diagnosis.objects.filter(clinic_id=user.clinic_id).select_related("heartbeat_model", "mi_model")


def review_list(*, user: User) -> QuerySet[Review]:
    return Review.objects.filter(clinic_id=user.clinic_id).select_related("reviewer", "diagnosis")


def recording_stored_signal(*, recording: ECGRecording):
    """The stored continuous signal (mlmodels.readers.Signal) of a ``signal`` recording, read as at upload."""
    from django.core.files.storage import default_storage

    from .signals import parse_signal_upload

    with default_storage.open(recording.file.name, "rb") as fh:
        data = fh.read()
    parsed, _data, _name = parse_signal_upload(
        {recording.file.name.rsplit("/", 1)[-1]: data}, fs=recording.sampling_rate, lead=recording.lead or None
    )
    return parsed.signal


def recording_model_input(*, recording: ECGRecording):
    """The (n, 187) beats the models were given, as stored by the worker; None before classification."""
    if not recording.beats_file:
        return None
    import numpy as np
    from django.core.files.storage import default_storage

    with default_storage.open(recording.beats_file.name, "rb") as fh:
        return np.load(fh, allow_pickle=False)
