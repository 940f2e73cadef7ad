"""List pages as plain dicts: the same JSON as the serializers in api/serializers.py (which stay the
schema's source and serve single objects), without DRF's per-field machinery on every row of a page.

tests/api/test_rows.py checks each function against its serializer on full pages.
"""

from datetime import date, datetime

from django.urls import reverse
from django.utils import timezone

from diagnostics.models import Diagnosis, ECGRecording

PATIENT_FIELDS = ("id", "mrn", "family_name", "given_name", "date_of_birth", "sex", "created_at", "updated_at")


def when(value: datetime | None, tz=None) -> str | None:
    """A date-time as DRF writes it: in the current time zone (or ``tz``, looked up once per page), ISO 8601,
    UTC as Z."""
    if value is None:
        return None
    text = value.astimezone(tz or timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def patient_values(queryset):
    """Patients as dicts of what a row shows (paginate this, then patient_rows)."""
    return queryset.values(*PATIENT_FIELDS)


def patient_rows(rows: list[dict]) -> list[dict]:
    """Rows of a page of patient_values."""
    tz = timezone.get_current_timezone()
    for row in rows:
        row["date_of_birth"] = day(row["date_of_birth"])
        row["created_at"] = when(row["created_at"], tz)
        row["updated_at"] = when(row["updated_at"], tz)
    return rows


def _model_ref(version) -> dict:
    return {"id": version.id, "task": version.task, "version": version.version}


def _review(review, recording_id: int) -> dict:
    return {
        "id": review.id,
        "diagnosis": review.diagnosis_id,
        "recording": recording_id,
        "decision": review.decision,
        "note": review.note,
        "reviewer": review.reviewer.username,
        "created_at": when(review.created_at),
    }


def diagnosis_row(diagnosis: Diagnosis) -> dict:
    review = diagnosis.latest_review()
    rhythm = diagnosis.rhythm
    return {
        "id": diagnosis.id,
        "recording": diagnosis.recording_id,
        "beat_count": diagnosis.beat_count,
        "classes": {c: {"count": n, "percent": round(p, 3)} for c, n, p in diagnosis.class_counts()},
        "heart_rate_bpm": diagnosis.heart_rate_bpm,
        "mi_screen": diagnosis.mi_screen,
        "mi_score": diagnosis.mi_score,
        "mi_threshold": diagnosis.mi_threshold,
        "mi_flag": diagnosis.mi_flag,
        "heartbeat_model": _model_ref(diagnosis.heartbeat_model),
        "classification_context": "record" if diagnosis.classified_in_context else "single_beat",
        "mi_model": _model_ref(diagnosis.mi_model),
        "latest_review": _review(review, diagnosis.recording_id) if review else None,
        "rhythm": None if rhythm is None else {k: v for k, v in rhythm.items() if k != "trend"},
        "created_at": when(diagnosis.created_at),
    }


RECORDING_FIELDS = (
    "id",
    "patient_id",
    "kind",
    "status",
    "error_message",
    "progress_done",
    "progress_total",
    "input_format",
    "original_filename",
    "sampling_rate",
    "lead",
    "leads",
    "sample_count",
    "input_beat_count",
    "sha256",
    "created_at",
    "started_at",
    "finished_at",
)


def recording_values(queryset):
    """Recordings as dicts of what a row shows (paginate this, then recording_rows)."""
    return queryset.values(*RECORDING_FIELDS)


def recording_rows(rows: list[dict], diagnoses: dict[int, Diagnosis]) -> list[dict]:
    """Rows of a page of recording_values; ``diagnoses`` by recording id, for those that are done."""
    base = reverse("api:recording-list")
    tz = timezone.get_current_timezone()
    out = []
    for r in rows:
        diagnosis = diagnoses.get(r["id"]) if r["status"] == ECGRecording.Status.DONE else None
        link = f"{base}/{r['id']}"
        out.append(
            {
                "id": r["id"],
                "patient": r["patient_id"],
                "kind": r["kind"],
                "status": r["status"],
                "error_message": r["error_message"],
                "progress": {"done": r["progress_done"], "total": r["progress_total"]},
                "input_format": r["input_format"],
                "original_filename": r["original_filename"],
                "sampling_rate": r["sampling_rate"],
                "lead": r["lead"],
                "leads": list(r["leads"] or []),
                "sample_count": r["sample_count"],
                "input_beat_count": r["input_beat_count"],
                "sha256": r["sha256"],
                "created_at": when(r["created_at"], tz),
                "started_at": when(r["started_at"], tz),
                "finished_at": when(r["finished_at"], tz),
                "diagnosis": diagnosis_row(diagnosis) if diagnosis else None,
                "links": {"self": link, "beats": f"{link}/beats", "events": f"{link}/events", "fhir": f"{link}/fhir"},
            }
        )
    return out
