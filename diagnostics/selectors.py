import json
from typing import cast

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from django.db.models import (
    CharField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    JSONField,
    Max,
    OuterRef,
    PositiveIntegerField,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Concat, NullIf, Trim
from django.shortcuts import get_object_or_404

from accounts.models import User
from ecg.io import readers
from ecg.io.errors import SignalError
from patients.models import Patient

from .models import (
    Beat,
    BeatCorrection,
    BeatFamily,
    Diagnosis,
    DiaryActivity,
    DiaryEntry,
    ECGRecording,
    Event,
    EventReview,
    Interpretation,
    RecordingMove,
    Review,
)
from .signal_uploads import reader_limits, timed_reader_limits


def _reviews_newest_first(path: str = "reviews") -> Prefetch:
    """A diagnosis's reviews, newest first, fetched once for a whole page (Diagnosis.latest_review reads them)."""
    return Prefetch(
        path,
        queryset=Review.objects.select_related("reviewer").order_by("-created_at", "-id"),
        to_attr="reviews_newest_first",
    )


def recording_rows(*, user: User) -> QuerySet[ECGRecording]:
    """The clinic's recordings alone, for a list that reads its rows with values() (the API's)."""
    return ECGRecording.objects.filter(clinic_id=user.clinic_id)  # type: ignore[misc]  # None (no clinic) matches nothing


def recording_list(*, user: User) -> QuerySet[ECGRecording]:
    return (
        recording_rows(user=user)
        .select_related("patient", "diagnosis__heartbeat_model", "diagnosis__mi_model")
        .prefetch_related(_reviews_newest_first("diagnosis__reviews"))
    )


def diagnoses_of_recordings(*, user: User, recording_ids: list[int]) -> dict[int, Diagnosis]:
    """The diagnoses of these recordings of the user's clinic, by recording id, with what a list row shows."""
    if not recording_ids:
        return {}
    diagnoses = (
        Diagnosis.objects.filter(clinic_id=user.clinic_id, recording_id__in=recording_ids)  # type: ignore[misc]
        .select_related("heartbeat_model", "mi_model")
        .prefetch_related(_reviews_newest_first())
    )
    listed = list(diagnoses)
    rejected_events_attach(listed)  # the rhythm summary leaves out the events a doctor rejected
    return {d.recording_id: d for d in listed}


def recording_list_for_patient(*, user: User, patient: Patient) -> QuerySet[ECGRecording]:
    return recording_list(user=user).filter(patient=patient)


def recording_list_with_alarms(*, user: User, patient: Patient) -> QuerySet[ECGRecording]:
    """The patient's recordings, each with how many of its VF/VFL and asystole episodes stand (``alarms_standing``:
    no doctor's latest decision rejects them), for the patient page's rhythm column."""
    latest_decision = EventReview.objects.filter(event=OuterRef("pk")).order_by("-created_at", "-id").values("decision")
    standing = (
        Event.objects.filter(recording=OuterRef("pk"), type__in=LIFE_THREATENING)
        .annotate(latest=Subquery(latest_decision[:1]))
        .filter(Q(latest__isnull=True) | ~Q(latest=EventReview.Decision.REJECT))  # SQL's NULL <> 'reject' is no match
        .values("recording")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return recording_list_for_patient(user=user, patient=patient).annotate(
        alarms_standing=Coalesce(Subquery(standing), 0)
    )


def recording_get(*, user: User, recording_id: int) -> ECGRecording:
    """The recording if it belongs to the user's clinic; 404 otherwise, never 403."""
    return get_object_or_404(
        ECGRecording.objects.select_related("patient", "uploaded_by"), pk=recording_id, clinic_id=user.clinic_id
    )


def recording_move_list(*, recording: ECGRecording) -> QuerySet[RecordingMove]:
    """The recording's moves, in the order made: the patients it was filed under before, who moved it and why."""
    return recording.moves.select_related("from_patient", "to_patient", "moved_by").order_by("id")


def diary_list(*, recording: ECGRecording, removed: bool = False) -> QuerySet[DiaryEntry]:
    """The recording's diary entries in the order of the moments noted, with who entered them; with ``removed``
    those removed as entered by mistake too (each says when and by whom)."""
    entries = recording.diary.select_related("entered_by", "removed_by").order_by("sample", "id")
    return entries if removed else entries.filter(removed_at__isnull=True)


def diary_entry_get(*, user: User, recording_id: int, entry_id: int) -> DiaryEntry:
    """One diary entry of a recording of the user's clinic, removed or not (404 for another clinic's, as for an
    unknown one)."""
    return get_object_or_404(
        DiaryEntry.objects.select_related("recording"), pk=entry_id, recording_id=recording_id, clinic_id=user.clinic_id
    )


def activity_list(*, recording: ECGRecording, removed: bool = False) -> QuerySet[DiaryActivity]:
    """The recording's diary activities (sleep, exercise, medication…) in the order they began, with who entered
    them; with ``removed`` those removed as entered by mistake too."""
    activities = recording.activities.select_related("entered_by", "removed_by").order_by("start", "id")
    return activities if removed else activities.filter(removed_at__isnull=True)


def activity_get(*, user: User, recording_id: int, activity_id: int) -> DiaryActivity:
    """One diary activity of a recording of the user's clinic, removed or not (404 for another clinic's)."""
    return get_object_or_404(
        DiaryActivity.objects.select_related("recording"),
        pk=activity_id,
        recording_id=recording_id,
        clinic_id=user.clinic_id,
    )


def beat_list(
    *,
    recording: ECGRecording,
    classes: list[str] | None = None,
    start: int | None = None,
    end: int | None = None,
    family: int | None = None,
) -> QuerySet[Beat]:
    """A recording's beats in order, or only those of the AAMI ``classes``, or of the shape ``family``
    (BeatFamily.number), or only those whose R-peak lies from sample ``start`` to sample ``end`` (inclusive)."""
    beats = recording.beats.all()
    if classes:
        beats = beats.filter(aami_class__in=classes)
    if family is not None:
        beats = beats.filter(family=family)
    if start is not None:
        beats = beats.filter(position__gte=start)
    if end is not None:
        beats = beats.filter(position__lte=end)
    return beats


def beat_first_at(
    *, recording: ECGRecording, classes: list[str] | None = None, family: int | None = None, position: int
) -> tuple[Beat, int] | None:
    """The first beat of ``beat_list`` (of the ``classes`` or of all, of the ``family`` or of any) whose R-peak is
    at or after sample ``position``, and how many beats of that list come before it; None where no beat is."""
    beats = beat_list(recording=recording, classes=classes, family=family)
    first = beats.filter(position__gte=position).order_by("index").first()
    if first is None:
        return None
    return first, beats.filter(index__lt=first.index).count()


def beat_family_list(*, recording: ECGRecording) -> list[BeatFamily]:
    """A recording's beat families (its shapes, by the class the analysis gave their beats: N, S, V, F, Q, then the
    largest first), each with ``now``: how many of its beats each class holds now ({class: beats}), corrections
    included. Two queries, whatever the number of beats."""
    families = list(recording.beat_families.order_by("number"))
    if not families:
        return families
    now: dict[int, dict[str, int]] = {}
    for number, cls, n in (
        recording.beats.exclude(family=None)
        .order_by()
        .values_list("family", "aami_class")
        .annotate(n=Count("id"))
        .values_list("family", "aami_class", "n")
    ):
        if number is not None:  # (excluded above: for the type checker)
            now.setdefault(number, {})[cls] = n
    for f in families:
        f.now = now.get(f.number, {})  # type: ignore[attr-defined]
    return families


def beats_corrected(*, recording: ECGRecording) -> tuple[int, BeatCorrection | None]:
    """How many of a recording's beats have a class a doctor set (not the analysis's), and the latest correction
    still in force (None where there is none: one query then)."""
    latest = beat_correction_list(recording=recording, undone=False).first()
    if latest is None:
        return 0, None
    diagnosis = getattr(recording, "diagnosis", None)
    return (diagnosis.beats_corrected if diagnosis is not None else 0), latest


def event_list(*, recording: ECGRecording, types: list[str] | None = None) -> QuerySet[Event]:
    """A recording's rhythm events in time order, each with its review history (newest first)."""
    events = recording.events.prefetch_related(
        Prefetch("reviews", queryset=EventReview.objects.select_related("reviewer").order_by("-created_at", "-id"))
    )
    return events.filter(type__in=types) if types else events


def recordings_of_same_file(*, recording: ECGRecording) -> QuerySet[ECGRecording]:
    """The patient's recordings of the very same uploaded bytes made before this one, oldest first."""
    return ECGRecording.objects.filter(
        Q(created_at__lt=recording.created_at) | Q(created_at=recording.created_at, pk__lt=recording.pk),
        patient_id=recording.patient_id,
        clinic_id=recording.clinic_id,
        sha256=recording.sha256,
    ).order_by("created_at", "id")


LIFE_THREATENING = ("vf", "asystole")


def life_threatening_reviews(*, recording: ECGRecording) -> dict[tuple[str, int, int], EventReview]:
    """The latest doctor's decision on each VF/VFL and asystole episode of a recording, by (type, start,
    end): what the alarm box, the report and FHIR say beside the episode."""
    latest: dict[tuple[str, int, int], EventReview] = {}
    for event in event_list(recording=recording, types=list(LIFE_THREATENING)):
        reviews = list(event.reviews.all())
        if reviews:
            latest[(event.type, event.start, event.end)] = reviews[0]
    return latest


def life_threatening_awaiting(*, user: User) -> QuerySet[ECGRecording]:
    """The clinic's analysed recordings with a VF/VFL or asystole episode no doctor has decided on,
    newest first, each with how many such episodes (``unreviewed_events``), the first of them
    (``first_unreviewed_id``) and how many events of the recording come before it in the event list
    (``first_unreviewed_after``), so a link opens the list's page that holds it."""
    waiting = _life_threatening_undecided()
    # counted in a subquery of its own: a count over a join of the recording's events grouped the rows, and
    # PostgreSQL ran the other subqueries once for each of the recording's events (1,722 of a 24-hour recording: 0.8 s)
    unreviewed = waiting.order_by().values("recording").annotate(n=Count("pk")).values("n")
    first = waiting.order_by("start", "id")
    earlier = (
        Event.objects.filter(recording=OuterRef("pk"))
        .filter(
            Q(start__lt=OuterRef("first_unreviewed_start"))
            | Q(start=OuterRef("first_unreviewed_start"), id__lt=OuterRef("first_unreviewed_id"))
        )
        .order_by()
        .values("recording")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        ECGRecording.objects.filter(clinic_id=user.clinic_id, status=ECGRecording.Status.DONE)  # type: ignore[misc]
        .filter(Exists(waiting))
        .annotate(
            unreviewed_events=Subquery(unreviewed),
            first_unreviewed_id=Subquery(first.values("id")[:1]),
            first_unreviewed_start=Subquery(first.values("start")[:1]),
        )
        .annotate(first_unreviewed_after=Coalesce(Subquery(earlier), 0))
        .select_related("patient")
        .order_by("-created_at", "-id")
    )


def _life_threatening_undecided() -> QuerySet[Event]:
    """The VF/VFL and asystole episodes no doctor has decided on of the recording of the outer query."""
    return Event.objects.filter(recording=OuterRef("pk"), type__in=LIFE_THREATENING, reviews__isnull=True)


def event_latest_reviews(*, recording: ECGRecording) -> dict[int, EventReview]:
    """The latest doctor's decision on each of the recording's rhythm events decided on, by event id, in one query
    (with its reviewer): what the exports say beside each event. Not ``event_list``'s prefetch, whose review list per
    event cost a query set each: 1,722 events of a 24-hour recording took most of a second of Python."""
    latest: dict[int, EventReview] = {}
    reviews = EventReview.objects.filter(event__recording_id=recording.pk, clinic_id=recording.clinic_id)
    for review in reviews.select_related("reviewer").order_by("-created_at", "-id"):
        latest.setdefault(review.event_id, review)  # the first met is the newest
    return latest


def event_reviews_latest(*, recording: ECGRecording) -> tuple[list[Event], dict[tuple[str, int, int], EventReview]]:
    """The recording's rhythm events, and the latest doctor's decision on each decided on by (type, start, end): what
    FHIR counts and sets apart (``rejected_on_review``)."""
    events = list(recording.events.all())
    reviews = event_latest_reviews(recording=recording) if events else {}
    latest = {(e.type, e.start, e.end): reviews[e.pk] for e in events if e.pk in reviews}
    return events, latest


def rejected_events_of(*, recording_ids: list[int]) -> dict[int, tuple[list[Event], set[tuple[str, int, int]]]]:
    """For those of the recordings with an event a doctor rejected (the latest decision rejects it), all their events
    and the (type, start, end) of the rejected ones, by recording id, in one query: what the API's rhythm summary
    leaves out (diagnostics.rhythm_reviewed). Recordings with none rejected are not in it."""
    if not recording_ids:
        return {}
    latest = EventReview.objects.filter(event=OuterRef("pk")).order_by("-created_at", "-id").values("decision")
    events = Event.objects.filter(recording_id__in=recording_ids).annotate(latest=Subquery(latest[:1]))
    with_rejected = events.filter(latest=EventReview.Decision.REJECT).values("recording_id")
    out: dict[int, tuple[list[Event], set[tuple[str, int, int]]]] = {}
    for event in events.filter(recording_id__in=with_rejected).order_by("recording_id", "start", "id"):
        listed, rejected = out.setdefault(event.recording_id, ([], set()))
        listed.append(event)
        if event.latest == EventReview.Decision.REJECT:  # type: ignore[attr-defined]
            rejected.add((event.type, event.start, event.end))
    return out


def rejected_events_attach(diagnoses: list[Diagnosis]) -> None:
    """Give each diagnosis its recording's ``rejected_events`` (``rejected_events_of``), read for all in one query."""
    found = rejected_events_of(recording_ids=[d.recording_id for d in diagnoses])
    for diagnosis in diagnoses:
        diagnosis.rejected_events = found.get(diagnosis.recording_id, ([], set()))  # type: ignore[attr-defined]


def rejections_changed_at(*, recording_id: int):
    """When a decision last rejected one of the recording's rhythm events or took a rejection back (a later decision
    on an event once rejected); None if no event was ever rejected."""
    once_rejected = EventReview.objects.filter(decision=EventReview.Decision.REJECT, event__recording_id=recording_id)
    return (
        EventReview.objects.filter(event__in=once_rejected.values("event"))
        .aggregate(latest=Max("created_at"))
        .get("latest")
    )


def rejected_on_review(reviews: dict[tuple[str, int, int], EventReview]) -> set[tuple[str, int, int]]:
    """The episodes (type, start, end) of ``life_threatening_reviews`` or ``event_reviews_latest`` whose latest
    decision rejects them."""
    return {key for key, review in reviews.items() if review.decision == EventReview.Decision.REJECT}


def event_get(*, user: User, event_id: int) -> Event:
    return get_object_or_404(Event.objects.select_related("recording"), pk=event_id, clinic_id=user.clinic_id)


def diagnosis_get(*, user: User, diagnosis_id: int) -> Diagnosis:
    return get_object_or_404(
        Diagnosis.objects.select_related("recording__patient", "heartbeat_model", "mi_model"),
        pk=diagnosis_id,
        clinic_id=user.clinic_id,
    )


def review_queue(*, user: User) -> QuerySet[Diagnosis]:
    """The clinic's screened and flagged MI diagnoses: unreviewed first, then highest MI score first."""
    reviewed = Review.objects.filter(diagnosis=OuterRef("pk"))
    return (
        Diagnosis.objects.filter(  # type: ignore[misc]
            clinic_id=user.clinic_id, mi_status=Diagnosis.MiStatus.SCREENED, mi_flag=True
        )
        .annotate(reviewed=Exists(reviewed))
        .select_related("recording__patient")
        .prefetch_related(_reviews_newest_first())
        .order_by("reviewed", "-mi_score", "created_at", "id")
    )


def beat_get(*, recording: ECGRecording, index: int) -> Beat:
    return get_object_or_404(Beat, recording=recording, index=index)


def beat_marks(*, recording: ECGRecording, start: int, end: int, most: int | None = None) -> list[tuple[int, int, str]]:
    """(index, position, class) of the beats whose R-peak lies in samples ``start``..``end``; with ``most``, at most
    ``most`` + 1 of them (the first), which says whether there are more than ``most``."""
    # position__gte excludes the beats without a position
    marks = recording.beats.filter(position__gte=start, position__lt=end).order_by("position")
    if most is not None:
        marks = marks[: most + 1]
    return cast(list[tuple[int, int, str]], list(marks.values_list("index", "position", "aami_class")))


def beat_counts(*, recording: ECGRecording, start: int, end: int, first: int, step: int, buckets: int) -> dict:
    """The beats whose R-peak lies in samples ``start``..``end`` counted by class in ``buckets`` buckets of ``step``
    samples from sample ``first``: {class: [count of each bucket]}, the classes found only. One query, an answer of at
    most five lists of ``buckets``."""
    bucket = ExpressionWrapper((F("position") - Value(first)) / Value(step), output_field=IntegerField())
    rows = (
        recording.beats.filter(position__gte=start, position__lt=end)
        .annotate(bucket=bucket)
        .values("bucket", "aami_class")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts: dict[str, list[int]] = {}
    for row in rows:
        if 0 <= row["bucket"] < buckets:
            counts.setdefault(row["aami_class"], [0] * buckets)[row["bucket"]] = row["n"]
    return dict(sorted(counts.items()))


def beat_marks_within(*, recording: ECGRecording, spans: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """``beat_marks`` of several stretches (start, end) at once, in one query: (index, position, class) in order of
    position."""
    if not spans:
        return []
    within = Q()
    for start, end in sorted(set(spans)):
        within |= Q(position__gte=start, position__lt=end)
    return cast(
        list[tuple[int, int, str]],
        list(recording.beats.filter(within).order_by("position").values_list("index", "position", "aami_class")),
    )


def recording_list_earlier(*, user: User, recording: ECGRecording) -> QuerySet[ECGRecording]:
    """The patient's other recordings uploaded before this one, newest first: those after it in the list's order
    (of one instant, those of a lower id)."""
    return (
        recording_list_for_patient(user=user, patient=recording.patient)
        .filter(Q(created_at__lt=recording.created_at) | Q(created_at=recording.created_at, pk__lt=recording.pk))
        .select_related("diagnosis")
    )


def review_history(*, diagnosis: Diagnosis) -> QuerySet[Review]:
    return diagnosis.reviews.select_related("reviewer").order_by("-created_at", "-id")


def diagnosis_list(*, user: User) -> QuerySet[Diagnosis]:
    return (
        Diagnosis.objects.filter(clinic_id=user.clinic_id)  # type: ignore[misc]
        .select_related("heartbeat_model", "mi_model")
        .prefetch_related(_reviews_newest_first())
    )


def review_list(*, user: User) -> QuerySet[Review]:
    return Review.objects.filter(clinic_id=user.clinic_id).select_related("reviewer", "diagnosis")  # type: ignore[misc]


def interpretation_list(*, recording: ECGRecording) -> QuerySet[Interpretation]:
    """A recording's signed interpretations, newest (the current one) first, each with its author."""
    # newest by id, assigned while the recording is locked for the signature: two web hosts' clocks may disagree
    return Interpretation.objects.filter(recording=recording).select_related("author").order_by("-id")


def interpretation_current(*, recording: ECGRecording) -> Interpretation | None:
    return interpretation_list(recording=recording).first()


def interpretations_current(*, user: User, recording_ids: list[int]) -> dict[int, Interpretation]:
    """The current interpretation of each of these recordings of the user's clinic that has one, by recording id,
    in one query."""
    if not recording_ids:
        return {}
    newest = Interpretation.objects.filter(recording_id=OuterRef("recording_id")).order_by("-id")
    current = (
        Interpretation.objects.filter(clinic_id=user.clinic_id, recording_id__in=recording_ids)  # type: ignore[misc]
        .filter(pk=Subquery(newest.values("pk")[:1]))
        .select_related("author")
    )
    return {i.recording_id: i for i in current}


def decisions_since(*, recording: ECGRecording, moment) -> dict:
    """The doctors' decisions on a recording's rhythm events and MI flag made after ``moment`` (an interpretation
    signed before them may no longer say what the recording shows): how many of each, and when the latest was."""
    events, flags = (
        model.objects.filter(**{f"{parent}__recording": recording, "created_at__gt": moment}).aggregate(
            n=Count("pk"), latest=Max("created_at")
        )
        for model, parent in ((EventReview, "event"), (Review, "diagnosis"))
    )
    return {
        "events": events["n"],
        "mi_flag": flags["n"],
        "latest": max((t for t in (events["latest"], flags["latest"]) if t is not None), default=None),
    }


def interpretation_awaiting(*, user: User) -> QuerySet[ECGRecording]:
    """The clinic's analysed recordings no doctor has interpreted yet, signals and beat files alike (their reports
    say "Preliminary"), oldest first (the order they are due in): a doctor's worklist. Each row has its
    diagnosis and patient, and, from the selectors that decide them, ``mi_awaiting_review`` (an MI flag no doctor
    reviewed: ``review_queue``) and ``life_threatening_undecided`` (how many VF/VFL or asystole episodes no doctor
    decided on: ``life_threatening_awaiting``'s), all in the one query that reads the rows."""
    mi_awaiting = review_queue(user=user).filter(Q(reviewed=False), recording=OuterRef("pk"))  # its annotation
    undecided = _life_threatening_undecided().order_by().values("recording").annotate(n=Count("pk")).values("n")
    return (
        ECGRecording.objects.filter(clinic_id=user.clinic_id, status=ECGRecording.Status.DONE)  # type: ignore[misc]
        .filter(~Exists(Interpretation.objects.filter(recording=OuterRef("pk"))))
        .annotate(
            mi_awaiting_review=Exists(mi_awaiting),
            life_threatening_undecided=Coalesce(Subquery(undecided), 0),
        )
        .select_related("patient", "diagnosis")
        .defer("diagnosis__rhythm", "diagnosis__mi_scored_beats")  # a day's Holter summary is large: not read here
        .order_by("created_at", "id")
    )


def interpretation_awaiting_count(*, user: User) -> int:
    """How many recordings ``interpretation_awaiting`` lists: counted from the (clinic, status, created_at, id) index
    and the interpretations' recording index alone, none of the rows' joins or flags read."""
    return (
        ECGRecording.objects.filter(clinic_id=user.clinic_id, status=ECGRecording.Status.DONE)  # type: ignore[misc]
        .filter(~Exists(Interpretation.objects.filter(recording=OuterRef("pk"))))
        .count()
    )


def with_interpretation_state(recordings: QuerySet[ECGRecording]) -> QuerySet[ECGRecording]:
    """``recordings``, each with ``signed_by``: who signed its current interpretation, as pages name a person
    (the full name, else the username: User.display_name), None while none is signed (its report is
    preliminary); one subquery in the query that reads the rows."""
    author = "author__"
    full_name = Trim(Concat(f"{author}first_name", Value(" "), f"{author}last_name", output_field=CharField()))
    current = (
        Interpretation.objects.filter(recording=OuterRef("pk"))
        .order_by("-id")
        .annotate(signer=Coalesce(NullIf(full_name, Value("")), f"{author}username", output_field=CharField()))
        .values("signer")[:1]
    )
    return recordings.annotate(signed_by=Subquery(current, output_field=CharField()))


def recording_stored_signal(*, recording: ECGRecording, head: int | None = None) -> readers.Signal:
    """The continuous signal of a stored ``signal`` recording, read by the format it was accepted in.

    The one reader of stored signals: the worker, the viewer and the FHIR export all use it. ``head``: at most that
    many samples over all leads together are wanted, shared equally among them (the FHIR export's bound): a WFDB
    record's leads may then hold only their first share (``readers.read_wfdb``); cut them to it.
    """
    assert recording.file.name is not None  # the file is required
    fmt, lead, limits = recording.input_format, recording.lead or None, reader_limits()
    if fmt == "wfdb":  # extracted from the stored zip straight to a temporary folder, never held as bytes
        with default_storage.open(recording.file.name, "rb") as fh:
            # as it was accepted: no header check or duration limit added since refuses a stored record
            return readers.read_wfdb_zip(
                fh, max_bytes=settings.ECG_MAX_UPLOAD_BYTES * 4, strict=False, head=head, **limits
            )
    with default_storage.open(recording.file.name, "rb") as fh:
        data = fh.read()
    if fmt == "edf":
        return readers.read_edf(data, lead=lead, **limits)
    if fmt == "dicom":
        return readers.read_dicom(data, **timed_reader_limits())
    if fmt == "aecg":
        return readers.read_aecg(data, **timed_reader_limits())
    if fmt == "csv":
        assert recording.sampling_rate is not None  # CSV uploads are refused without one
        # as it was read when it was accepted (an empty line among the samples was skipped before it was refused,
        # a time column giving another rate accepted)
        return readers.read_csv_signal(
            data, recording.sampling_rate, lead=lead, empty_lines_skipped=True, time_checked=False, **limits
        )
    if fmt == "json":
        return readers.read_json_signal(json.loads(data), recording.sampling_rate, **limits)
    raise SignalError(f"recording {recording.pk} has no continuous signal (stored format {fmt!r})")


# what reading a stored file may raise when it cannot be read: a reader's refusal (a limit lowered since it was
# stored), a damaged or missing file
STORED_READ_ERRORS = (SignalError, ValueError, OSError)


def stored_read_failure(exc: Exception) -> str:
    """Why a stored file could not be read, as the viewer and the FHIR export tell it: a reader's own message,
    nothing of the server's internals otherwise."""
    return str(exc) if isinstance(exc, SignalError) else "the file is missing or damaged"


def recording_model_input(*, recording: ECGRecording):
    """The (n, 187) beats the models were given, as stored by the worker; None before classification."""
    if not recording.beats_file.name:
        return None
    with default_storage.open(recording.beats_file.name, "rb") as fh:
        return np.load(fh, allow_pickle=False)


def beat_families(*, recording: ECGRecording) -> QuerySet[BeatFamily]:
    """The recording's beat families (the shapes of each class's beats, a Holter system's templates) by number, as a
    query (the API pages it; ``beat_family_list`` gives each its classes now). Each carries ``beats_corrected``, how
    many of its beats a doctor has made another class than the family's, and ``example_position``, its example beat's
    sample, both read in the database with the families: a page reads its own families' beats alone (the family
    index), not the whole recording's."""
    members = Beat.objects.filter(recording_id=OuterRef("recording_id"), family=OuterRef("number")).order_by()
    corrected = members.exclude(aami_class=OuterRef("aami_class")).values("family").annotate(n=Count("id")).values("n")
    example = Beat.objects.filter(recording_id=OuterRef("recording_id"), index=OuterRef("example")).values("position")
    return recording.beat_families.order_by("number").annotate(
        beats_corrected=Coalesce(Subquery(corrected, output_field=PositiveIntegerField()), 0),
        example_position=Subquery(example[:1]),
    )


def _correction_counts() -> tuple[str, str]:
    """SQL of a correction's beats changed and of its ``previous`` as a count per class, read in the database: a
    family's correction names every one of its beats (50,000 in a day's recording), which a list need not carry."""
    table = BeatCorrection._meta.db_table
    if connection.vendor == "postgresql":
        return (
            f"jsonb_array_length({table}.beat_indices)",
            f"(SELECT COALESCE(jsonb_object_agg(p.key, jsonb_array_length(p.value)), '{{}}'::jsonb) "
            f"FROM jsonb_each({table}.previous) p)",
        )
    return (  # SQLite, the run command's embedded database
        f"json_array_length({table}.beat_indices)",
        f"(SELECT COALESCE(json_group_object(p.key, json_array_length(p.value)), '{{}}') "
        f"FROM json_each({table}.previous) p)",
    )


def beat_correction_list(*, recording: ECGRecording, undone: bool | None = None) -> QuerySet[BeatCorrection]:
    """The recording's beat corrections, newest first, with who made and undid them; ``undone`` True or False for
    those undone or not alone. Each carries ``changed`` (its beats) and ``previous_counts`` ({class: beats}),
    counted in the database: its indices are not read."""
    changed, previous = _correction_counts()
    corrections = (
        recording.beat_corrections.select_related("made_by", "undone_by")
        .defer("beat_indices", "previous")
        .annotate(
            changed=RawSQL(changed, (), output_field=PositiveIntegerField()),
            previous_counts=RawSQL(previous, (), output_field=JSONField()),
        )
        .order_by("-created_at", "-id")
    )
    if undone is not None:
        corrections = corrections.filter(undone_at__isnull=not undone)
    return corrections


def beat_corrections_version(*, recording: ECGRecording, made: list[BeatCorrection] | None = None) -> str:
    """The version of a recording's beat corrections, as a page's correction form sends it back: the latest made and
    how many are undone ("0.0": none). A correction made or undone moves it, never back (an undone one stays
    undone). ``made``: the recording's corrections read already, undone ones too (beat_correction_list), counted
    without a query."""
    if made is None:
        counts = recording.beat_corrections.aggregate(
            latest=Max("id"), undone=Count("id", filter=Q(undone_at__isnull=False))
        )
        latest, undone = counts["latest"] or 0, counts["undone"]
    else:
        latest, undone = max((c.pk for c in made), default=0), sum(c.undone_at is not None for c in made)
    return f"{latest}.{undone}"


def beat_correction_get(*, user: User, recording_id: int, correction_id: int) -> BeatCorrection:
    """One beat correction of a recording of the user's clinic, undone or not, with its indices (404 for another
    clinic's, as for an unknown one)."""
    return get_object_or_404(
        BeatCorrection.objects.select_related("recording", "made_by", "undone_by"),
        pk=correction_id,
        recording_id=recording_id,
        clinic_id=user.clinic_id,
    )
