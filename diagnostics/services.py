import hashlib
import io
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import numpy as np
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.dispatch import Signal
from django.utils import timezone

from accounts.models import User
from ecg.constants import AAMI_CLASSES, RHYTHM_VERSION
from ecg.io.errors import SignalError
from ecgsite.broker import publish
from ecgsite.errors import (
    ApplicationError,
    Conflict,
    IdempotencyKeyReused,
    Invalid,
    NotAllowed,
    NotFound,
    ReviewRefused,
    StorageUnavailable,
    UploadRefused,
)
from ecgsite.text import character_said, invisible_character, kind_said
from mlmodels.models import ModelVersion
from mlmodels.selectors import active_model_versions
from patients.models import Patient

from . import holter, ingestion
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
    IdempotencyRecord,
    Interpretation,
    RecordingMove,
    Review,
    RhythmInputs,
)

logger = logging.getLogger(__name__)

# ``amends`` of an interpretation, ``seen`` of a review, not given: what the doctor read is not checked (an API client
# that does not say which it read)
UNCHECKED = object()
PROGRESS_CHUNK = 4096
QUEUED_RESEND_FACTOR = 4
BEAT_INSERT_CHUNK = 10000
SIGNAL_EXTENSIONS = {"wfdb": ".zip", "edf": ".edf", "csv": ".csv", "json": ".json", "dicom": ".dcm", "aecg": ".xml"}
# Sent, with ``recording_id``, when a recording becomes failed (_mark_failed): once per failure, inside the
# failing transaction, so a receiver's writes commit or roll back with it (api.webhooks: recording.failed).
recording_failed = Signal()
# A client's condition on a write to a recording (the API's If-Match): called under the recording's lock before anything
# is written; what it raises refuses the write.
Precondition = Callable[[], None]


def recording_submit(
    *,
    user: User,
    patient: Patient,
    parsed: ingestion.ParsedUpload,
    data: bytes | File,
    filename: str,
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> ECGRecording:
    """Store a validated upload (bytes, or a file streamed in pieces) as a queued recording; the
    classification task runs after commit.

    With an ``idempotency_key`` the same key and ``fingerprint`` (a digest of the request) return the
    recording first made for them, also when both requests race; ``replayed`` on the result says so.
    The same key with another fingerprint raises IdempotencyKeyReused. A file given is closed once
    stored; a stored file whose recording is not kept is deleted.
    """
    if patient.clinic_id != user.clinic_id:
        raise NotAllowed("the patient belongs to another clinic")
    if idempotency_key is not None:
        seen = recording_submission_replay(user=user, idempotency_key=idempotency_key, fingerprint=fingerprint)
        if seen is not None:
            return seen
    # A signal's stored name says what it holds, as its format was judged by content (an EDF file
    # named .csv is stored as .edf, a WFDB record as the zip it is kept in); a beat file's name is
    # what its reader goes by.
    ext = SIGNAL_EXTENSIONS.get(parsed.input_format) if parsed.kind == ECGRecording.Kind.SIGNAL else None
    ext = ext or ingestion.file_extension(filename) or ".csv"
    content = ContentFile(data) if isinstance(data, bytes) else data
    sha256 = parsed.extras.get("sha256")  # a large upload's, taken as it was written
    if sha256 is None:
        digest = hashlib.sha256()
        for chunk in content.chunks():  # a large upload is never read whole
            digest.update(chunk)
        sha256 = digest.hexdigest()
    name = f"recordings/{uuid.uuid4().hex}{ext}"
    try:
        stored_name = default_storage.save(name, content)
    except OSError as exc:
        # A full or failing disk: what was written of the file goes too (a part of it had stayed behind),
        # and the client is told to try later, not that the request was wrong.
        logger.exception("could not store an upload as %s", name)
        _delete_quietly(name)
        raise StorageUnavailable(
            "The server could not store the upload (its storage is full or failing); nothing was kept. Try again later."
        ) from exc
    finally:
        # The local storage moves a temporary upload file into place; its close() knows the file may be
        # gone, whereas left open it is unlinked again when collected and the failure logged.
        content.close()
    try:
        with transaction.atomic():
            recording = ECGRecording(
                clinic_id=user.clinic_id,
                patient=patient,
                uploaded_by=user,
                original_filename=filename[:255],
                input_format=parsed.input_format,
                kind=parsed.kind,
                sampling_rate=parsed.fs,
                lead=parsed.lead,
                leads=parsed.leads,
                sample_count=parsed.sample_count,
                recorded_at=parsed.recorded_at,
                input_beat_count=len(parsed.beats) if parsed.beats is not None else None,
                sha256=sha256,
            )
            recording.file.name = stored_name
            recording.save()
            if idempotency_key is not None:
                _idempotency_remember(
                    user=user, idempotency_key=idempotency_key, fingerprint=fingerprint, made=recording
                )
            transaction.on_commit(lambda: enqueue_classification(recording.pk))
    except IntegrityError:
        default_storage.delete(stored_name)
        seen = None
        if idempotency_key is not None:  # the same key arrived twice at once; the other request won
            seen = recording_submission_replay(user=user, idempotency_key=idempotency_key, fingerprint=fingerprint)
        if seen is None:
            raise
        return seen
    except BaseException:
        default_storage.delete(stored_name)
        raise
    recording.replayed = False
    return recording


def _delete_quietly(name: str) -> None:
    try:
        default_storage.delete(name)
    except Exception:  # nothing there, or the storage failing still: the failure was logged already
        logger.warning("could not remove the stored file %s", name)


def recording_submission_replay(*, user: User, idempotency_key: str, fingerprint: str) -> ECGRecording | None:
    """The recording already submitted with this key (``replayed`` set), None if the key is new."""
    return idempotency_replay(user=user, idempotency_key=idempotency_key, fingerprint=fingerprint, kind=ECGRecording)


# What an Idempotency-Key can stand for, and the field of IdempotencyRecord that names it.
Made = TypeVar(
    "Made", ECGRecording, Review, Interpretation, EventReview, RecordingMove, DiaryEntry, DiaryActivity, BeatCorrection
)
_IDEMPOTENCY_TARGETS: dict[type, str] = {
    ECGRecording: "recording",
    Review: "review",
    Interpretation: "interpretation",
    EventReview: "event_review",
    RecordingMove: "recording_move",
    DiaryEntry: "diary_entry",
    DiaryActivity: "diary_activity",
    BeatCorrection: "beat_correction",
}


def idempotency_fingerprint(*, method: str, path: str, body: object) -> str:
    """The digest an Idempotency-Key is held to for a JSON write: the method, the path and the body as canonical
    JSON (keys sorted, no spaces, whole numbers alike however written: ingestion.json_numbers_canonical), so the
    same request sent again with other spacing, key order or ``5`` for ``5.0`` is the same request, and the same
    body sent to another endpoint (another recording's interpretations) is not."""
    canonical = json.dumps(ingestion.json_numbers_canonical(body), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method.upper()} {path}\n{canonical}".encode()).hexdigest()


def idempotency_replay(*, user: User, idempotency_key: str, fingerprint: str, kind: type[Made]) -> Made | None:
    """The ``kind`` of object the request first sent with this key made (``replayed`` set on it), None if the
    key is new or has expired. IdempotencyKeyReused if the key went with another request: another fingerprint,
    or another kind of write."""
    target = _IDEMPOTENCY_TARGETS[kind]
    seen = (
        IdempotencyRecord.objects.filter(user=user, key=idempotency_key, created_at__gte=_idempotency_cutoff())
        .select_related(target)
        .first()
    )
    if seen is None:
        return None
    made = getattr(seen, target)
    if made is None or seen.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    made.replayed = True
    return made


def _idempotency_remember(*, user: User, idempotency_key: str, fingerprint: str, made: Made) -> None:
    """Keep the key for ``made``, in the transaction that makes it: a request racing it with the same key is
    refused by the unique (user, key) constraint. An expired record of the key gives way."""
    idempotency_records_expired().filter(user=user, key=idempotency_key).delete()
    target = {_IDEMPOTENCY_TARGETS[type(made)]: made}
    IdempotencyRecord.objects.create(user=user, key=idempotency_key, fingerprint=fingerprint, **target)


def idempotent_write(
    *, user: User, idempotency_key: str | None, fingerprint: str, kind: type[Made], write: Callable[[], Made]
) -> Made:
    """``write()`` (a service that makes one ``kind``), once per key: with an ``idempotency_key``, the same key and
    ``fingerprint`` return what the first request made (``replayed`` set; nothing is written, so no webhook is
    sent), also when both requests race; the same key with another fingerprint raises IdempotencyKeyReused. A
    write that fails keeps nothing, the key included."""
    if idempotency_key is not None:
        seen = idempotency_replay(user=user, idempotency_key=idempotency_key, fingerprint=fingerprint, kind=kind)
        if seen is not None:
            return seen
    try:
        with transaction.atomic():
            made = write()
            if idempotency_key is not None:
                _idempotency_remember(user=user, idempotency_key=idempotency_key, fingerprint=fingerprint, made=made)
    except (IntegrityError, ApplicationError):
        # The same key arrived twice at once and the other request committed first: the unique key refused this
        # one's record, or the write itself refused it (an interpretation signed twice over is "unchanged").
        # It is answered as the other was.
        seen = None
        if idempotency_key is not None:
            seen = idempotency_replay(user=user, idempotency_key=idempotency_key, fingerprint=fingerprint, kind=kind)
        if seen is None:
            raise
        return seen
    made.replayed = False
    return made


def _idempotency_cutoff():
    return timezone.now() - timedelta(hours=settings.API_IDEMPOTENCY_KEY_HOURS)


def idempotency_records_expired():
    """Keys older than API_IDEMPOTENCY_KEY_HOURS: a request with one of them is a new request."""
    return IdempotencyRecord.objects.filter(created_at__lt=_idempotency_cutoff())


def idempotency_records_purge() -> int:
    """Delete expired idempotency keys; for the periodic sweep."""
    return idempotency_records_expired().delete()[0]


def enqueue_classification(recording_id: int) -> bool:
    """Send the recording to the workers; False if the broker could not be reached."""
    from .tasks import classify_recording

    if settings.CELERY_TASK_ALWAYS_EAGER:
        _local_executor().submit(classify_recording.apply, args=(recording_id,))
        return True
    # broker down: it stays queued, and the sweep enqueues queued recordings again later
    return publish(lambda: classify_recording.delay(recording_id), f"recording {recording_id}")


_executor = None


def _local_executor():
    """Embedded mode: run tasks one at a time in a background thread of this process."""
    global _executor
    if _executor is None:
        from concurrent.futures import ThreadPoolExecutor

        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="classify")
    return _executor


def recordings_requeue_waiting() -> int:
    """Enqueue every queued recording again (after a model activation or by the sweep)."""
    ids = list(ECGRecording.objects.filter(status=ECGRecording.Status.QUEUED).values_list("pk", flat=True))
    for recording_id in ids:
        enqueue_classification(recording_id)
    return len(ids)


def recordings_fill_lead_names() -> tuple[int, list[tuple[int, str]]]:
    """Name the leads of every signal recording stored without them, from its stored file: large uploads
    accepted before their header's lead names were kept. Returns how many were filled and, per
    recording that could not be read, its id and the reason (the others are filled all the same)."""
    from .selectors import recording_stored_signal

    filled, failed = 0, []
    missing = ECGRecording.objects.filter(kind=ECGRecording.Kind.SIGNAL, leads=[]).order_by("pk")
    for recording in missing.iterator():
        try:
            names = list(recording_stored_signal(recording=recording).lead_order)
        except Exception as exc:  # reported, and the other recordings are still filled
            failed.append((recording.pk, f"{type(exc).__name__}: {exc}"))
            continue
        ECGRecording.objects.filter(pk=recording.pk, leads=[]).update(leads=names, updated_at=timezone.now())
        filled += 1
    return filled, failed


def recordings_requeue_stale(*, older_than: timedelta) -> int:
    """Re-enqueue recordings queued for longer than ``older_than`` (a lost message) or whose lease was not
    renewed for that long (a dead worker or host: a live one renews it while it works, see RecordingLease).

    A taken-over recording is sent at most once per ``older_than``, a queued one once per ``older_than`` x
    QUEUED_RESEND_FACTOR, so neither a backlog nor busy workers fill the queue with copies of messages.
    """
    from django.core.cache import caches

    cutoff = timezone.now() - older_than
    rows = ECGRecording.objects.filter(
        Q(status=ECGRecording.Status.QUEUED, created_at__lt=cutoff)
        | Q(status=ECGRecording.Status.PROCESSING, claimed_at__lt=cutoff)
    ).values_list("pk", "status")
    cache = caches["api"]
    lease = max(1, int(older_than.total_seconds()))
    count = 0
    for recording_id, status in rows:
        key = f"requeued:{recording_id}"
        # A dead worker's recording is sent once per lease; a queued one once per QUEUED_RESEND_FACTOR leases.
        resend_after = lease * (QUEUED_RESEND_FACTOR if status == ECGRecording.Status.QUEUED else 1)
        if not cache.add(key, 1, timeout=resend_after):
            continue
        if enqueue_classification(recording_id):
            count += 1
        else:
            cache.delete(key)  # not sent: the next sweep tries again
    return count


class RecordingLease:
    """Keeps a claim alive while a worker processes a recording: a thread moves ``claimed_at`` forward
    every ``renew_every`` seconds, with the claim token in the WHERE clause. Once an update finds no row
    the claim was lost (another worker took the recording over) and ``lost`` is set: the work stops and
    writes nothing.
    """

    def __init__(self, recording_id: int, claim_token: str, *, renew_every: float):
        import threading

        self.recording_id = recording_id
        self.claim_token = claim_token
        self.renew_every = renew_every
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{recording_id}", daemon=True)

    def __enter__(self) -> "RecordingLease":
        # Inside a caller's transaction the claim is not committed yet, so no other worker could see it
        # or its renewals: there is nothing to keep alive.
        if not transaction.get_connection().in_atomic_block:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def renew(self) -> bool:
        renewed = ECGRecording.objects.filter(
            pk=self.recording_id, status=ECGRecording.Status.PROCESSING, claim_token=self.claim_token
        ).update(claimed_at=timezone.now())
        if not renewed:
            self.lost.set()
        return bool(renewed)

    def finished_here(self) -> bool:
        """Whether this claim's own work ended the processing (its results or its failure written, the
        claim token still its own): a renewal between that write and the lease's end finds no row to
        renew, and had been logged as a claim lost to another worker."""
        return (
            ECGRecording.objects.filter(pk=self.recording_id, claim_token=self.claim_token)
            .exclude(status__in=[ECGRecording.Status.PROCESSING, ECGRecording.Status.QUEUED])
            .exists()
        )

    def _run(self) -> None:
        from django.db import connection

        renewed_at = time.monotonic()
        try:
            while not self._stop.wait(self.renew_every):
                try:
                    if not self.renew():
                        if not self.finished_here():
                            logger.warning("recording %s: claim lost to another worker; stopping", self.recording_id)
                        return
                    renewed_at = time.monotonic()
                except Exception:  # the database is restarting: keep trying; the final write checks the claim
                    logger.exception("recording %s: could not renew the lease", self.recording_id)
                    # a dropped connection stays closed in this thread until it is closed here: without this
                    # every later renewal failed with "connection already closed" while the database was back
                    connection.close()
                    if time.monotonic() - renewed_at > settings.ECG_PROCESSING_LEASE_SECONDS:
                        # the lease has run out: the sweep gives the recording to another worker; stop now
                        # rather than finish work whose result the claim check will throw away
                        logger.warning("recording %s: lease expired unrenewed; stopping", self.recording_id)
                        self.lost.set()
                        return
        finally:
            connection.close()


def recording_claim_hold(*, recording_id: int, claim_token: str, seconds: float) -> bool:
    """Keep ``claim_token``'s claim for ``seconds`` more (a retry to come): the lease counts from then."""
    return bool(
        ECGRecording.objects.filter(
            pk=recording_id, status=ECGRecording.Status.PROCESSING, claim_token=claim_token
        ).update(claimed_at=timezone.now() + timedelta(seconds=seconds))
    )


def lease_renew_seconds() -> float:
    """How often a worker renews its lease: four times per lease, at most every 10 s."""
    return min(10.0, settings.ECG_PROCESSING_LEASE_SECONDS / 4)


def _claim(recording_id: int, claim_token: str, max_attempts: int = 3, *, takes_over: Sequence[str] = ()) -> bool:
    """queued → processing, only if still queued (or abandoned by a dead worker, or held by ``takes_over``).

    ``takes_over`` names the claims of the same task's earlier tries (a retry after a database error or a
    full disk takes over the claim its try held for it). A claim under ``claim_token`` itself is not taken
    again while its lease lives: that is a second copy of the message running (a broker redelivers a message
    still being worked on after its visibility timeout, or delivers it twice), and both copies had run to the
    end, each counting an attempt. So a copy redelivered at once after its worker process died
    (reject_on_worker_lost) finds the lease still live and stops too: the sweep sends the recording again
    once the lease has run out (within ECG_PROCESSING_LEASE_SECONDS and a sweep interval), as for a worker
    host that died; a copy redelivered after the visibility timeout finds it run out and takes over.

    A recording whose earlier attempts all died (a crash that takes the worker down) is
    marked failed instead of being claimed again, so redelivery is bounded.
    """
    now = timezone.now()
    lease = now - timedelta(seconds=settings.ECG_PROCESSING_LEASE_SECONDS)
    claimable = ECGRecording.objects.filter(
        Q(status=ECGRecording.Status.QUEUED)
        | Q(status=ECGRecording.Status.PROCESSING, claimed_at__lt=lease)
        | Q(status=ECGRecording.Status.PROCESSING, claim_token__in=list(takes_over)),
        pk=recording_id,
    )
    updated = claimable.filter(attempts__lt=max_attempts).update(
        status=ECGRecording.Status.PROCESSING,
        claim_token=claim_token,
        claimed_at=now,
        started_at=now,
        attempts=F("attempts") + 1,
        progress_done=0,
        error_message="",
        updated_at=now,
    )
    if updated == 0:
        _mark_failed(
            # not while an attempt holds a live lease: a second copy of its message (a broker's redelivery) had
            # failed a recording whose last attempt was running normally. A crashed attempt's lease runs out,
            # and the sweep's new message then finds the budget spent.
            claimable.filter(attempts__gte=max_attempts).exclude(
                status=ECGRecording.Status.PROCESSING, claimed_at__gte=lease
            ),
            recording_id,
            f"Gave up after {max_attempts} attempts; the analysis kept crashing. Check the file, or contact support.",
            now=now,
        )
    return updated == 1


def _load_input(recording: ECGRecording, *, with_context: bool):
    """Beats (n, 187), their positions in the original signal (or None) and, for a signal, its rhythm
    input and, when its record-level model is active, that model's inputs; from the stored file."""
    from .signal_uploads import SignalInput, beats_from_stored_signal

    if recording.kind == ECGRecording.Kind.SIGNAL:
        return beats_from_stored_signal(recording, with_context=with_context)
    assert recording.file.name is not None  # the file is required
    with default_storage.open(recording.file.name, "rb") as fh:
        data = fh.read()
    parsed = ingestion.parse_beats(filename=recording.file.name, data=data)
    assert parsed.beats is not None  # parse_beats returns beats or raises
    return SignalInput(parsed.beats, None, None, None)


def recording_classify(
    *, recording_id: int, claim_token: str, max_attempts: int = 3, takes_over: Sequence[str] = ()
) -> str:
    """Classify one recording; safe to call again for the same recording (redelivery). ``claim_token`` is
    this try's own; ``takes_over`` the claims of the same task's earlier tries (`_claim`)."""
    models = active_model_versions()
    heartbeat, mi = models.get(ModelVersion.Task.HEARTBEAT), models.get(ModelVersion.Task.MI)
    if heartbeat is None or mi is None:
        return "waiting-for-models"  # stays queued; activation re-enqueues it
    if not _claim(recording_id, claim_token, max_attempts, takes_over=takes_over):
        return "not-claimed"
    with RecordingLease(recording_id, claim_token, renew_every=lease_renew_seconds()) as lease:
        return _classify_claimed(recording_id, claim_token, models, lease)


def _classify_claimed(recording_id: int, claim_token: str, models: dict, lease: "RecordingLease") -> str:
    heartbeat, mi = models[ModelVersion.Task.HEARTBEAT], models[ModelVersion.Task.MI]
    recording = ECGRecording.objects.get(pk=recording_id)
    assert recording.file.name is not None  # the file is required
    # Continuous signals go to the record-level model when one is active; beat rows carry no timing.
    record_model = models.get(ModelVersion.Task.HEARTBEAT_RECORD)
    with_context = record_model is not None and recording.kind == ECGRecording.Kind.SIGNAL
    try:
        inputs = _load_input(recording, with_context=with_context)
    except (UploadRefused, SignalError) as exc:
        _fail(recording_id, claim_token, str(getattr(exc, "message", exc)))
        return "failed"
    beats, positions, heart_rate = inputs.beats, inputs.positions, inputs.heart_rate
    classifier = record_model if inputs.context is not None and record_model is not None else heartbeat
    ECGRecording.objects.filter(pk=recording_id).update(progress_total=len(beats), updated_at=timezone.now())

    from mlmodels.registry import classify_beats, classify_in_context, mi_probabilities

    batch = settings.ECG_INFERENCE_BATCH_SIZE
    mi_input = inputs.mi
    # The MI model reads beat rows (its own input format) or the beats of a lead the screen accepts.
    mi_beats = beats if mi_input is None else mi_input.beats
    class_parts, mi_parts = [], []
    for start in range(0, len(beats), PROGRESS_CHUNK):  # progress is visible while long recordings run
        if lease.lost.is_set():
            return "lost-claim"
        part = slice(start, start + PROGRESS_CHUNK)
        if inputs.context is not None:
            scores = classify_in_context(inputs.context, part, model_version=classifier, batch_size=batch)
        else:
            scores = classify_beats(beats[part], heartbeat=heartbeat, batch_size=batch)
        if mi_beats is not None:
            mi_parts.append(mi_probabilities(mi_beats[part], mi=mi, batch_size=batch))
        class_parts.append(scores)
        # a progress tick is a change of what the recording shows (its ``progress``), so of its updated_at too
        ECGRecording.objects.filter(pk=recording_id, claim_token=claim_token).update(
            progress_done=min(len(beats), start + PROGRESS_CHUNK), updated_at=timezone.now()
        )
    # a strip in VF may hold no beat to classify (signal_uploads.beats_from_stored_signal)
    class_scores = np.concatenate(class_parts) if class_parts else np.zeros((0, len(classifier.class_labels)))
    mi_scores = np.concatenate(mi_parts) if mi_parts else None
    labels = [str(label).upper() for label in classifier.class_labels]
    column = {c: labels.index(c) for c in AAMI_CLASSES}
    if inputs.context is not None and positions is not None and inputs.rhythm is not None:
        from ecg.models.decision import record_classes  # the record-level model's classes, its rules included

        predicted = record_classes(
            class_scores,
            labels,
            positions,
            float(inputs.rhythm["fs"]),
            measures=inputs.rhythm.get("measures"),
            morphology=inputs.context.morphology,
        )
    else:
        from ecg.models.decision import most_probable_classes  # a beat-format model's classes

        predicted = most_probable_classes(class_scores, labels)
    # the shapes of each class's beats, while the context is held (a Holter system's templates, which a doctor corrects)
    families = None if inputs.context is None else beat_families_of(inputs.context, predicted)
    screen = _mi_screen(
        mi_input,
        predicted=predicted,
        p_n=class_scores[:, column["N"]],
        mi_scores=mi_scores,
        threshold=mi.effective_threshold,
        positions=positions,
    )
    rhythm = None
    if positions is not None and inputs.rhythm is not None:  # from the classifier's own positions and classes
        from ecg.rhythm import analyse_rhythm

        rhythm = analyse_rhythm(signal=None, r_peaks=positions, classes=predicted, **inputs.rhythm)
        # the recording's mean rate as the Holter summary states it: beats inside VF/VFL and the
        # intervals across it left out (VF yields no beats, and counted in it reads as a slow rate)
        heart_rate = rhythm.summary["heart_rate"]["mean_bpm"]

    if lease.lost.is_set():
        return "lost-claim"
    # This attempt's own file (another worker that took the recording over writes its own): removed again unless
    # the results that name it are committed, so a failed write or a lost claim leaves no file behind, and an
    # earlier attempt's file is removed once these results replace it.
    stem = recording.file.name.rsplit("/", 1)[-1].split(".")[0]
    buffer = io.BytesIO()
    np.save(buffer, beats.astype(np.float32))
    beats_name = f"recordings/{stem}.{uuid.uuid4().hex[:8]}.beats.npy"
    try:
        beats_name = default_storage.save(beats_name, ContentFile(buffer.getvalue()))
        outcome, replaced = _write_results(
            recording_id,
            claim_token,
            beats=beats,
            positions=positions,
            predicted=predicted,
            class_scores=class_scores,
            column=column,
            mi_scores=mi_scores,
            heart_rate=heart_rate,
            screen=screen,
            classifier=classifier,
            mi=mi,
            rhythm=rhythm,
            families=families,
            lead_names=inputs.lead_names,
            rhythm_inputs=inputs.rhythm if rhythm is not None else None,
            beats_name=beats_name,
        )
    except BaseException as exc:
        # A connection lost during COMMIT may have committed: the file goes only once the recording is read not
        # to name it (kept, an orphan, when that cannot be read either)
        if not isinstance(exc, DatabaseError) or not _names_beats_file(recording_id, beats_name):
            _delete_quietly(beats_name)  # a part of it, where the storage failed while writing it
        raise
    if outcome != "done":
        default_storage.delete(beats_name)
    elif replaced and replaced != beats_name:
        default_storage.delete(replaced)
    return outcome


# A classification's beats file is saved just before the transaction that names it, seconds before (a claim is lost
# within ECG_PROCESSING_LEASE_SECONDS, and a lost claim's file is removed): one this old that no recording names was
# left by a worker killed in between, or while it wrote the file.
BEATS_FILE_ORPHAN_AGE = timedelta(hours=1)


def beats_files_orphaned_remove(*, older_than: timedelta = BEATS_FILE_ORPHAN_AGE) -> int:
    """Remove the stored beats files (``recordings/*.beats.npy``) older than ``older_than`` that no recording names;
    for the periodic sweep. How many were removed."""
    try:
        _, files = default_storage.listdir("recordings")
    except FileNotFoundError:  # nothing stored yet
        return 0
    cutoff = timezone.now() - older_than
    names = [f"recordings/{f}" for f in files if f.endswith(".beats.npy")]
    removed = 0
    for start in range(0, len(names), 1000):
        chunk = names[start : start + 1000]
        named = set(ECGRecording.objects.filter(beats_file__in=chunk).values_list("beats_file", flat=True))
        for name in chunk:
            if name in named:
                continue
            try:
                if default_storage.get_modified_time(name) >= cutoff:
                    continue
            except OSError:  # removed meanwhile (its worker's own clean-up)
                continue
            default_storage.delete(name)
            removed += 1
    if removed:
        logger.warning("removed %d beats file(s) no recording names, left by workers stopped while writing", removed)
    return removed


def _names_beats_file(recording_id: int, beats_name: str) -> bool:
    """Whether the recording names ``beats_name`` (True when the database cannot say)."""
    from django.db import connection

    try:
        if not connection.in_atomic_block:
            connection.close()  # the one that failed; a new one reads what was committed
        return ECGRecording.objects.filter(pk=recording_id, beats_file=beats_name).exists()
    except DatabaseError:
        return True


def _write_results(
    recording_id: int,
    claim_token: str,
    *,
    beats,
    positions,
    predicted,
    class_scores,
    column,
    mi_scores,
    heart_rate,
    screen,
    classifier,
    mi,
    rhythm,
    families=None,
    lead_names: Sequence[str] = (),
    rhythm_inputs: dict | None = None,
    beats_name: str,
) -> tuple[str, str]:
    """One transaction: the results in, the recording done; ("lost-claim", "") if another worker holds it now.
    Also the name of the beats file these results replace ("" if none)."""
    with transaction.atomic():
        locked = ECGRecording.objects.select_for_update().get(pk=recording_id)
        if locked.status != ECGRecording.Status.PROCESSING or locked.claim_token != claim_token:
            return "lost-claim", ""  # another worker took it over; it writes the results
        replaced = locked.beats_file.name or ""
        Beat.objects.filter(recording_id=recording_id).delete()
        Event.objects.filter(recording_id=recording_id).delete()
        Diagnosis.objects.filter(recording_id=recording_id).delete()
        BeatFamily.objects.filter(recording_id=recording_id).delete()
        of_beat = None if families is None else families.of_beat
        for start in range(0, len(beats), BEAT_INSERT_CHUNK):  # a 24-hour recording's ~100 k rows, a slice at a time
            Beat.objects.bulk_create(
                [
                    Beat(
                        recording_id=recording_id,
                        index=i,
                        position=None if positions is None else int(positions[i]),
                        aami_class=predicted[i],
                        p_n=float(class_scores[i, column["N"]]),
                        p_s=float(class_scores[i, column["S"]]),
                        p_v=float(class_scores[i, column["V"]]),
                        p_f=float(class_scores[i, column["F"]]),
                        p_q=float(class_scores[i, column["Q"]]),
                        mi_probability=None if mi_scores is None else float(mi_scores[i]),
                        family=None if of_beat is None or of_beat[i] < 0 else int(of_beat[i]),
                    )
                    for i in range(start, min(len(beats), start + BEAT_INSERT_CHUNK))
                ],
                batch_size=2000,
            )
        Diagnosis.objects.create(
            recording_id=recording_id,
            clinic_id=locked.clinic_id,
            beat_count=len(beats),
            **{f"count_{c.lower()}": int(np.sum(predicted == c)) for c in AAMI_CLASSES},
            heart_rate_bpm=heart_rate,
            mi_status=screen.status,
            mi_reason=screen.reason,
            mi_lead=screen.lead or "",
            mi_beats_used=screen.beats_used,
            mi_scored_beats=[int(i) for i in screen.scored],
            mi_score=screen.score,
            mi_threshold=screen.threshold,
            mi_flag=screen.flag,
            heartbeat_model=classifier,
            mi_model=mi,
            rhythm=None if rhythm is None else rhythm_summary(rhythm),
            rhythm_version=None if rhythm is None else RHYTHM_VERSION,
        )
        RhythmInputs.objects.filter(recording_id=recording_id).delete()
        if rhythm_inputs is not None:
            RhythmInputs.objects.create(recording_id=recording_id, **rhythm_inputs_row(rhythm_inputs))
        if families is not None:
            BeatFamily.objects.bulk_create(family_rows(recording_id, families, lead_names))
        if rhythm is not None:
            Event.objects.bulk_create(
                [Event(recording_id=recording_id, clinic_id=locked.clinic_id, **e.as_dict()) for e in rhythm.events],
                batch_size=2000,
            )
        locked.status = ECGRecording.Status.DONE
        locked.finished_at = timezone.now()
        locked.progress_done = len(beats)
        locked.beats_file.name = beats_name
        locked.save(update_fields=["status", "finished_at", "progress_done", "beats_file"])
    return "done", replaced


def _mi_screen(
    mi_input, *, predicted: np.ndarray, p_n: np.ndarray, mi_scores: np.ndarray | None, threshold: float, positions
):
    """The MI screen of a classified recording (ecg.processing.mi_screen)."""
    from ecg.processing import mi_screen

    if mi_input is None:  # beat rows: the MI model's own input format, but no lead and no timing
        assert mi_scores is not None  # computed for every beat row
        about = (
            "beat rows in the MI model's own input format (Kaggle PTB beats, lead II by convention; rows carry "
            "no lead name and no timing, so beat selection and signal-quality checks do not apply)"
        )
        if len(mi_scores) < mi_screen.MIN_BEATS:  # as for a signal: too few beats to speak of the patient
            return mi_screen.MiScreen(
                "not_assessable",
                f"{about}: {len(mi_scores)} {'row' if len(mi_scores) == 1 else 'rows'}, "
                f"fewer than the {mi_screen.MIN_BEATS} beats the screen needs",
                lead=None,
                threshold=threshold,
            )
        score = float(np.mean(mi_scores))
        flag = score >= threshold
        return mi_screen.MiScreen(
            "screened",
            f"{about}: mean MI probability of all {len(mi_scores)} rows",
            lead=None,
            score=score,
            threshold=threshold,
            flag=flag,
            scored=np.arange(len(mi_scores)),
        )
    if len(predicted) < 2:  # a strip in VF/VFL, let in with fewer than two beats
        return mi_screen.too_few_beats(len(predicted), threshold=threshold)
    if mi_scores is None or mi_input.windows is None:
        return mi_screen.not_applicable(mi_input.choice)
    return mi_screen.screen(
        choice=mi_input.choice,
        classes=[str(c) for c in predicted],
        p_n=p_n,
        windows=mi_input.windows,
        r_peaks=positions,
        mi_probabilities=mi_scores,
        threshold=threshold,
    )


def beat_families_of(context, classes: np.ndarray):
    """The families of a recording's beats (ecg.processing.families) from the record-level inputs' windows: the
    analysed lead and, where there is one, the second."""
    from ecg.processing.context import CONTEXT_FS, WINDOW_BEFORE
    from ecg.processing.families import beat_families

    morphology = context.morphology  # (n, window, lead 1, its difference, lead 2, its difference)
    channels = (0, 2) if len(morphology) and bool(np.any(morphology[:, :, 2])) else (0,)
    return beat_families(morphology, classes, r_index=WINDOW_BEFORE, fs=CONTEXT_FS, channels=channels)


def rhythm_inputs_row(rhythm: dict) -> dict:
    """The fields of a RhythmInputs row from ``analyse_rhythm``'s signal-level inputs (SignalInput.rhythm)."""
    buffer = io.BytesIO()
    arrays: dict[str, Any] = {name: np.asarray(values) for name, values in (rhythm.get("measures") or {}).items()}
    np.savez_compressed(buffer, **arrays)
    return {
        "fs": float(rhythm["fs"]),
        "n_samples": int(rhythm["n_samples"]),
        "spans": {
            "vf_found": [e.as_dict() for e in rhythm.get("vf_found") or []],
            "no_signal": [[int(a), int(b)] for a, b in rhythm.get("no_signal") or []],
            "noisy": [[int(a), int(b)] for a, b in rhythm.get("noisy") or []],
        },
        "measures": buffer.getvalue(),
    }


def rhythm_inputs_read(row: RhythmInputs) -> dict:
    """``analyse_rhythm``'s signal-level inputs as the classification gave them, from their RhythmInputs row."""
    from ecg.rhythm.events import Event as RhythmEvent

    with np.load(io.BytesIO(bytes(row.measures)), allow_pickle=False) as stored:
        measures = {name: stored[name] for name in stored.files}
    return {
        "fs": row.fs,
        "n_samples": row.n_samples,
        "vf_found": [RhythmEvent(**e) for e in row.spans.get("vf_found", [])],
        "no_signal": [(int(a), int(b)) for a, b in row.spans.get("no_signal", [])],
        "noisy": [(int(a), int(b)) for a, b in row.spans.get("noisy", [])],
        "measures": measures or None,
    }


def family_rows(recording_id: int, families, lead_names: Sequence[str] = ()) -> list[BeatFamily]:
    """BeatFamily rows of ``families`` (ecg.processing.families.Families), unsaved; templates to three places, with
    the names of the leads they are drawn in (``lead_names``: the analysed lead, then the second the analysis took,
    which need not be the file's next lead) where they are known."""
    from ecg.processing.context import CONTEXT_FS, WINDOW_BEFORE

    rows = []
    for f in families.families:
        template = {
            "fs": CONTEXT_FS,
            "r_s": round(WINDOW_BEFORE / CONTEXT_FS, 4),
            "leads": [[round(float(v), 3) for v in f.template[:, k]] for k in range(f.template.shape[1])],
        }
        if len(lead_names) >= f.template.shape[1]:
            template["lead_names"] = list(lead_names[: f.template.shape[1]])
        rows.append(
            BeatFamily(
                recording_id=recording_id,
                number=f.number,
                aami_class=f.aami_class,
                beats=f.beats,
                rare=f.rare,
                example=f.example,
                template=template,
            )
        )
    return rows


def rhythm_summary(report) -> dict:
    """The stored Holter summary: ecg.rhythm's figures plus the per-minute trend the pages chart."""
    minutes = report.minutes

    def column(values) -> list:
        return [None if np.isnan(v) else round(float(v), 1) for v in values]

    return report.summary | {
        "trend": {
            "minute": [int(m) for m in minutes["minute"]],
            "beats": [int(b) for b in minutes["beats"]],
            "hr_min": column(minutes["hr_min"]),
            "hr_mean": column(minutes["hr_mean"]),
            "hr_max": column(minutes["hr_max"]),
        },
    }


def _mark_failed(rows: QuerySet[ECGRecording], recording_id: int, reason: str, *, now: datetime | None = None) -> bool:
    """The one place a recording becomes failed: ``rows`` (the recording ``recording_id``, filtered by the
    caller's conditions) if it is neither done nor failed already, so each failure keeps its first reason
    and is announced once (``recording_failed``). True if it was marked."""
    now = now or timezone.now()
    with transaction.atomic():  # the failure and its notices (api.webhooks) commit together
        marked = (
            rows.filter(pk=recording_id)
            .exclude(status__in=[ECGRecording.Status.DONE, ECGRecording.Status.FAILED])
            .update(status=ECGRecording.Status.FAILED, error_message=reason[:2000], finished_at=now, updated_at=now)
        )
        if marked:
            try:  # in a savepoint: a fault writing the notices never keeps the recording from failing
                with transaction.atomic():
                    recording_failed.send(sender=ECGRecording, recording_id=recording_id)
            except Exception:
                logger.exception("recording %s failed; its failure notices could not be written", recording_id)
    return bool(marked)


def _fail(recording_id: int, claim_token: str, reason: str) -> None:
    _mark_failed(ECGRecording.objects.filter(claim_token=claim_token), recording_id, reason)


def _recording_changed(recording_id: int) -> None:
    """Stamp a recording changed (``updated_at``) by a write to another row it shows or stands for: a signed
    interpretation, a decision on its MI flag or on one of its rhythm events, its diary."""
    ECGRecording.objects.filter(pk=recording_id).update(updated_at=timezone.now())


def recordings_stamp_naming_user(*, user: User) -> int:
    """Stamp changed (``updated_at``) every recording that names ``user``, after a change of their name (username,
    first or last name): its reviews, rhythm-event reviews, interpretations, moves, diary entries, activities and beat
    corrections show it,
    in the recording, its events, diary, activities, interpretations, moves and FHIR report, so a sync job paging by updated_at reads
    them again. One UPDATE, over the recordings those rows name; how many were stamped."""
    named = (
        Review.objects.filter(reviewer=user)
        .values_list("diagnosis__recording_id")
        .union(
            EventReview.objects.filter(reviewer=user).values_list("event__recording_id"),
            Interpretation.objects.filter(author=user).values_list("recording_id"),
            RecordingMove.objects.filter(moved_by=user).values_list("recording_id"),
            DiaryEntry.objects.filter(entered_by=user).values_list("recording_id"),
            DiaryEntry.objects.filter(removed_by=user).values_list("recording_id"),
            DiaryActivity.objects.filter(entered_by=user).values_list("recording_id"),
            DiaryActivity.objects.filter(removed_by=user).values_list("recording_id"),
            BeatCorrection.objects.filter(made_by=user).values_list("recording_id"),
            BeatCorrection.objects.filter(undone_by=user).values_list("recording_id"),
        )
    )
    return ECGRecording.objects.filter(pk__in=named).update(updated_at=timezone.now())


def recording_fail(*, recording_id: int, reason: str, claims: Sequence[str] | None = None) -> bool:
    """Mark a recording failed (the task gave up on it); one already failed keeps its reason. With ``claims`` (a
    try's own claim token and its earlier tries'), not while another try holds it: a try whose lease ran out while
    it stalled, the recording sent to another worker by the sweep, had failed the recording that worker was
    classifying when it crashed afterwards. True if it was marked."""
    rows = ECGRecording.objects.all()
    if claims is not None:
        rows = rows.exclude(Q(status=ECGRecording.Status.PROCESSING) & ~Q(claim_token__in=list(claims)))
    return _mark_failed(rows, recording_id, reason)


def recording_held_by_another(*, recording_id: int, claims: Sequence[str]) -> bool:
    """Whether a try other than those of ``claims`` is classifying the recording now."""
    return (
        ECGRecording.objects.filter(pk=recording_id, status=ECGRecording.Status.PROCESSING)
        .exclude(claim_token__in=list(claims))
        .exists()
    )


def review_create(
    *,
    user: User,
    diagnosis: Diagnosis,
    decision: str,
    note: str = "",
    idempotency_key: str | None = None,
    fingerprint: str = "",
    precondition: Precondition | None = None,
    seen: int | None | object = UNCHECKED,
    screen_read: str | object = UNCHECKED,
) -> Review:
    """A doctor's decision on a diagnosis flagged for MI; every rule of a review is checked here. With an
    ``idempotency_key``, a retry returns the first review (``idempotent_write``); ``precondition`` as
    recording_move takes it. ``seen`` is the latest review the doctor was shown (None: none): a colleague's
    decision made since is not decided over unseen (``review_changed``); so is an MI screen a beat correction changed
    since ``screen_read`` (the ``mi_screen_stamp`` shown). UNCHECKED checks nothing."""
    return idempotent_write(
        user=user,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        kind=Review,
        write=lambda: _review_create(
            user=user,
            diagnosis=diagnosis,
            decision=decision,
            note=note,
            precondition=precondition,
            seen=seen,
            screen_read=screen_read,
        ),
    )


def note_control_character(note: str) -> str | None:
    """The first control character of a decision's note other than its line breaks and tabs, or the first
    invisible direction character (ecgsite.text.invisible_character), if any."""
    return invisible_character(note, keep="\r\n\t")


def note_refusal(bad: str) -> str:
    """What a note, reason or text holding ``bad`` (note_control_character) is refused with: "holds a control
    character (U+0007)", "holds an invisible direction character (U+202E RIGHT-TO-LEFT OVERRIDE)"."""
    return f"holds {kind_said(bad)} ({character_said(bad)})"


MI_REJECT_NEEDS_REASON = "Say why in the note: rejecting an MI flag needs a reason (e.g. artefact, lead reversal)."


def review_reason_missing(decision: str, note: str) -> bool:
    """Whether a decision on an MI flag lacks the reason it needs: overriding a positive screen (a rejection) is
    explained in its note, as a VF/VFL or asystole rejection is (one click had cleared the flag, saying nothing of
    why); a note of nothing a reader sees (spaces, a zero-width space) is none."""
    return decision == Review.Decision.REJECT and not any(c.isalnum() for c in note)


def _decision_note_check(note: str) -> None:
    """A decision's note keeps its lines and tabs and holds no other control character nor any invisible direction
    character, as every note of the product (PostgreSQL cannot store a NUL at all; the rest reads as nothing, or as a
    line break, in a report, and a direction character reorders the text after it in a spreadsheet or another
    system)."""
    bad = note_control_character(note)
    if bad is not None:
        raise Invalid(
            f"The note {note_refusal(bad)}: remove it and decide again.",
            field="note",
            code="validation_error",
        )


def _review_create(
    *,
    user: User,
    diagnosis: Diagnosis,
    decision: str,
    note: str,
    precondition: Precondition | None,
    seen: int | None | object = UNCHECKED,
    screen_read: str | object = UNCHECKED,
) -> Review:
    if not user.can_review:
        raise NotAllowed("only doctors and administrators review diagnoses")
    if diagnosis.clinic_id != user.clinic_id:
        raise NotAllowed("the diagnosis belongs to another clinic")
    if decision not in Review.Decision.values:
        raise Invalid(f"decision must be one of {', '.join(Review.Decision.values)}", field="decision")
    _decision_note_check(note)
    # The recording locked while deciding, as while signing or moving: a client's precondition holds until the
    # decision is written. The diagnosis is read again under it: a beat correction committed since the caller read
    # it may have left the screen unflagged or not assessable (diagnostics.corrections), and a decision on a flag
    # that no longer stands had been recorded beside it.
    ECGRecording.objects.select_for_update().only("pk").get(pk=diagnosis.recording_id)
    diagnosis = Diagnosis.objects.get(pk=diagnosis.pk)
    if not (diagnosis.mi_screened and diagnosis.mi_flag):
        raise ReviewRefused("Only diagnoses screened and flagged for MI are reviewed.", field="diagnosis")
    if review_reason_missing(decision, note):
        raise Invalid(MI_REJECT_NEEDS_REASON, field="note", code="validation_error")
    if precondition is not None:
        precondition()
    if screen_read is not UNCHECKED and screen_read != diagnosis.mi_screen_stamp:
        raise Conflict(
            f"The MI screen changed since you opened this page (a doctor's beat corrections left beats out): its score "
            f"is now {diagnosis.mi_score:.3f} over {diagnosis.mi_beats_used} beats. Read it, then decide again.",
            code="review_changed",
        )
    if seen is not UNCHECKED:
        since = diagnosis.reviews.exclude(reviewer=user).select_related("reviewer").order_by("-id")
        newer = since.filter(pk__gt=seen).first() if isinstance(seen, int) else since.first()
        if newer is not None:
            raise Conflict(
                f"{newer.reviewer.display_name} recorded “{newer.outcome}” on this MI flag at "
                f"{timezone.localtime(newer.created_at):%Y-%m-%d %H:%M %Z} since you opened it: read their "
                "decision, then decide again.",
                code="review_changed",
            )
    review = Review.objects.create(
        diagnosis=diagnosis, clinic_id=diagnosis.clinic_id, reviewer=user, decision=decision, note=note.strip()
    )
    _recording_changed(diagnosis.recording_id)
    return review


def event_review_create(
    *,
    user: User,
    event: Event,
    decision: str,
    note: str = "",
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> EventReview:
    """A doctor confirms or rejects a rhythm event; earlier decisions stay in the history. With an
    ``idempotency_key``, a retry returns the first decision (``idempotent_write``)."""
    return idempotent_write(
        user=user,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        kind=EventReview,
        write=lambda: _event_review_create(user=user, event=event, decision=decision, note=note),
    )


def _event_review_create(*, user: User, event: Event, decision: str, note: str) -> EventReview:
    if not user.can_review:
        raise NotAllowed("only doctors and administrators review rhythm events")
    if event.clinic_id != user.clinic_id:
        raise NotAllowed("the event belongs to another clinic")
    if decision not in EventReview.Decision.values:
        raise Invalid(f"decision must be one of {', '.join(EventReview.Decision.values)}", field="decision")
    from .selectors import LIFE_THREATENING

    note = note.strip()
    # one click next to Confirm cleared a life-threatening alarm from the dashboard, saying nothing of why; nor does a
    # note of nothing a reader sees (a zero-width space, a control character)
    if (
        decision == EventReview.Decision.REJECT
        and event.type in LIFE_THREATENING
        and not any(c.isalnum() for c in note)
    ):
        raise Invalid(
            "Say why in the note: rejecting a VF/VFL or asystole episode needs a reason (e.g. artefact).",
            field="note",
        )
    _decision_note_check(note)
    review = EventReview.objects.create(
        event=event, clinic_id=event.clinic_id, reviewer=user, decision=decision, note=note
    )
    _recording_changed(event.recording_id)  # its events and its FHIR report say the decision
    return review


# Line breaks as browsers, word processors and other systems send them; each is stored as a line feed.
_LINE_BREAKS = re.compile("\r\n|[\r\u0085\u2028\u2029]")


def interpretation_text_clean(text: str) -> str:
    """An interpretation's text as it is signed: every line break a line feed, no blank lines or spaces around
    it; Invalid (field ``text``) when it is blank, longer than Interpretation.MAX_LENGTH, or holds a control
    character other than a line break or a tab, or an invisible direction character (note_control_character)."""
    text = _LINE_BREAKS.sub("\n", text).strip()
    if not text:
        raise Invalid("Write the interpretation: the text is blank.", field="text", code="validation_error")
    if len(text) > Interpretation.MAX_LENGTH:
        raise Invalid(
            f"The interpretation is {len(text):,} characters long; at most {Interpretation.MAX_LENGTH:,} are allowed.",
            field="text",
            code="validation_error",
        )
    for line_number, line in enumerate(text.split("\n"), 1):
        bad = invisible_character(line, keep="\t")
        if bad is not None:
            column = line.index(bad) + 1
            raise Invalid(
                f"The text {note_refusal(bad)} at line {line_number}, column {column}: of the characters one does "
                "not see only line breaks and tabs are allowed. Remove it and sign again.",
                field="text",
                code="validation_error",
            )
    return text


REASON_MAX_LENGTH = 500


def interpretation_sign(
    *,
    user: User,
    recording: ECGRecording,
    text: str,
    amends: int | None | object = UNCHECKED,
    reason: str = "",
    acknowledge_undecided: bool = False,
    idempotency_key: str | None = None,
    fingerprint: str = "",
    precondition: Precondition | None = None,
) -> Interpretation:
    """A doctor's signed interpretation of a recording's result, or an amendment of the current one (which it
    names, with the ``reason`` it was amended for); earlier versions are kept. Only once the analysis is done,
    only a text that differs from the current one, and only over the version the doctor read (``amends``: its
    id, None for none; a colleague's newer version is not signed over unseen). While a VF/VFL or asystole episode
    of the recording awaits a doctor's decision, only with ``acknowledge_undecided``. With an
    ``idempotency_key``, a retry returns the version first signed (``idempotent_write``), not a refusal as
    unchanged. ``precondition`` as recording_move takes it."""
    return idempotent_write(
        user=user,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        kind=Interpretation,
        write=lambda: _interpretation_sign(
            user=user,
            recording=recording,
            text=text,
            amends=amends,
            reason=reason,
            acknowledge_undecided=acknowledge_undecided,
            precondition=precondition,
        ),
    )


def interpretation_reason_clean(reason: str) -> str:
    """An amendment's reason as kept: one line (line breaks as spaces), stripped; Invalid (field ``reason``) when
    blank, longer than REASON_MAX_LENGTH or holding a control character."""
    return _reason_clean(
        reason, blank="Say why the interpretation is amended: the reason is kept with the amendment.", then="sign"
    )


def _reason_clean(reason: str, *, blank: str | None, then: str, field: str = "reason") -> str:
    """A reason kept with a write: one line (line breaks, tabs and runs of spaces as one space), stripped; Invalid
    (``field``, the reason or a note) saying ``blank`` when it is blank (None: it may be), or that it is too long
    or holds a control character or an invisible direction character (to remove before trying to ``then`` again)."""
    reason = " ".join(reason.split())
    if not reason and blank is not None:
        raise Invalid(blank, field=field, code="validation_error")
    if len(reason) > REASON_MAX_LENGTH:
        raise Invalid(
            f"The {field} is {len(reason):,} characters long; at most {REASON_MAX_LENGTH} are allowed.",
            field=field,
            code="validation_error",
        )
    bad = invisible_character(reason)
    if bad is not None:
        raise Invalid(
            f"The {field} {note_refusal(bad)}: remove it and {then} again.",
            field=field,
            code="validation_error",
        )
    return reason


def _interpretation_sign(
    *,
    user: User,
    recording: ECGRecording,
    text: str,
    amends: int | None | object = UNCHECKED,
    reason: str = "",
    acknowledge_undecided: bool = False,
    precondition: Precondition | None = None,
) -> Interpretation:
    if not user.can_review:
        raise NotAllowed("only doctors and administrators sign interpretations")
    if recording.clinic_id != user.clinic_id:
        raise NotAllowed("the recording belongs to another clinic")
    # Locked while signing: two doctors signing at once each amend the version the other did not sign over.
    locked = ECGRecording.objects.select_for_update().get(pk=recording.pk)
    if precondition is not None:
        precondition()
    if locked.status == ECGRecording.Status.FAILED:
        raise Conflict(
            "The analysis of this recording failed: there is no result to interpret.", code="recording_failed"
        )
    if locked.status != ECGRecording.Status.DONE or not Diagnosis.objects.filter(recording=locked).exists():
        raise Conflict(
            f"The recording is {locked.get_status_display().lower()}: it can be interpreted once its analysis is done.",
            code="not_ready",
        )
    if Diagnosis.objects.filter(
        recording=locked, rhythm_outdated_at__isnull=False, rhythm_recompute_error=""
    ).exists():  # the rhythm figures the doctor read are being replaced (diagnostics.corrections)
        raise Conflict(
            "The rhythm is being recomputed over beat classes a doctor corrected: sign once it is, over the figures "
            "as they will be.",
            code="rhythm_recomputing",
        )
    text = interpretation_text_clean(text)
    current = locked.interpretations.select_related("author").order_by("-id").first()
    if amends is not UNCHECKED and amends != (current.pk if current else None):
        newer = (
            f"{current.author.display_name} signed a newer version at "
            f"{timezone.localtime(current.created_at):%Y-%m-%d %H:%M %Z} since the one you read"
            if current
            else "The version you amend is not the recording's current one"
        )
        raise Conflict(f"{newer}: read it, then sign again over it.", code="interpretation_changed")
    if current is not None and current.text == text:
        raise Invalid(
            "The text is unchanged from the current interpretation: change it to sign an amendment.",
            field="text",
            code="unchanged",
        )
    reason = interpretation_reason_clean(reason) if current is not None else ""
    undecided = locked.events.filter(type__in=("vf", "asystole"), reviews__isnull=True).count()
    if undecided and not acknowledge_undecided:
        raise Conflict(
            f"{undecided} VF/VFL or asystole episode{'s' if undecided != 1 else ''} of this recording "
            f"await{'s' if undecided == 1 else ''} a doctor's decision: decide on "
            f"{'it' if undecided == 1 else 'them'} first, or sign saying you sign with "
            f"{'it' if undecided == 1 else 'them'} undecided.",
            code="episodes_undecided",
        )
    interpretation = Interpretation.objects.create(
        recording=locked,
        clinic_id=locked.clinic_id,
        author=user,
        text=text,
        reason=reason,
        undecided_at_signing=undecided,
        amends=current,
    )
    _recording_changed(locked.pk)
    return interpretation


@transaction.atomic
def recording_move(
    *,
    recording: ECGRecording,
    patient: Patient,
    by: User,
    reason: str,
    seen_patient_id: int | None = None,
    idempotency_key: str | None = None,
    fingerprint: str = "",
    precondition: Precondition | None = None,
) -> RecordingMove:
    """File a recording filed under the wrong patient under ``patient``, the right one, saying why; the move is
    kept (RecordingMove) and every part of the recording (its results, reviews, interpretations, FHIR report)
    follows it. Only doctors and administrators of the recording's clinic, only to a patient of that clinic (one of
    another clinic is not found, as an unknown one), only to another patient than the one it is under. A recording
    still queued or processing is moved too: the worker never writes the patient. With ``seen_patient_id`` (the
    patient the page showed it under) a recording moved by someone else since is refused (Conflict), not moved on
    from a patient the doctor did not see. With an ``idempotency_key``, a retry returns the first move
    (``idempotent_write``). ``precondition`` (an API client's If-Match) is called under the recording's lock before
    anything is written, once the key is known new: what it raises refuses the move, and the same request that won
    a race with this one is answered instead."""
    return idempotent_write(
        user=by,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        kind=RecordingMove,
        write=lambda: _recording_move(
            recording=recording,
            patient=patient,
            by=by,
            reason=reason,
            seen_patient_id=seen_patient_id,
            precondition=precondition,
        ),
    )


def recording_move_reason_clean(reason: str) -> str:
    """A move's reason as kept: one line, stripped; Invalid (field ``reason``) when blank, longer than
    REASON_MAX_LENGTH or holding a control character (the page checks it before it asks to confirm)."""
    return _reason_clean(
        reason, blank="Say why the recording is moved: the reason is kept with the move.", then="move it"
    )


def _recording_move(
    *,
    recording: ECGRecording,
    patient: Patient,
    by: User,
    reason: str,
    seen_patient_id: int | None,
    precondition: Precondition | None,
) -> RecordingMove:
    if not (by.is_active and by.can_review):
        raise NotAllowed("Only doctors and administrators move a recording to another patient.")
    if by.clinic_id is None or recording.clinic_id != by.clinic_id:
        raise NotFound("No such recording in your clinic.", field="recording")
    if patient.clinic_id != recording.clinic_id:
        # said as of a patient that does not exist: another clinic's patients are not to be found from here
        raise NotFound(f"No patient {patient.pk} in your clinic.", field="patient")
    reason = recording_move_reason_clean(reason)
    # Locked while moving: two moves at once are made one after the other, each from where the other left it. The
    # recording alone (no join): a row locked through a join to its patient is not found again once a move
    # waited for changes the patient.
    locked = ECGRecording.objects.select_for_update().get(pk=recording.pk)
    if precondition is not None:
        precondition()
    current = locked.patient
    if seen_patient_id is not None and current.pk != seen_patient_id:
        if not locked.moves.filter(from_patient_id=seen_patient_id).exists():
            # never filed under that patient: not a colleague's move since, but a client's mistake (a 409 had said
            # the recording "was moved", and a client that reads again and retries on it had retried for ever)
            raise Invalid(
                f"The recording is filed under {current.display_name} (MRN {current.mrn}) and never was under "
                f"patient {seen_patient_id}: give the patient it was read under as from_patient, or leave it out.",
                field="from_patient",
                code="validation_error",
            )
        last = locked.moves.select_related("moved_by").order_by("-id").first()
        since = (
            f" by {last.moved_by.display_name} at {timezone.localtime(last.created_at):%Y-%m-%d %H:%M %Z}"
            if last is not None
            else ""
        )
        raise Conflict(
            f"This recording was moved to {current.display_name} (MRN {current.mrn}){since} since you opened the "
            "form: look at it again before moving it.",
            code="recording_moved",
        )
    if current.pk == patient.pk:
        raise Invalid(
            f"The recording is already filed under {current.display_name} (MRN {current.mrn}): choose the patient "
            "it belongs to.",
            field="patient",
            code="validation_error",
        )
    locked.patient = patient
    locked.save(update_fields=["patient"])  # and updated_at (ECGRecording.save)
    recording.patient, recording.updated_at = patient, locked.updated_at  # the caller's copy reads as stored
    return RecordingMove.objects.create(
        recording=locked,
        clinic_id=locked.clinic_id,
        from_patient=current,
        to_patient=patient,
        moved_by=by,
        reason=reason,
    )


def diary_entry_add(
    *,
    recording: ECGRecording,
    by: User,
    sample: int,
    symptom: str,
    note: str = "",
    idempotency_key: str | None = None,
    fingerprint: str = "",
    precondition: Precondition | None = None,
) -> DiaryEntry:
    """Enter a symptom from the patient's Holter diary at ``sample`` of a signal recording of the user's clinic
    (any member of it: the clinic's staff transcribe diaries); a note is needed for "other" (what the symptom
    was), one line of at most 500 characters. At most MAX_PER_RECORDING a recording, removed ones among them, counted
    under its lock. With an ``idempotency_key``, a retry returns the first entry;
    ``precondition`` as recording_move takes it. The recording is stamped changed (a sync job reads its diary)."""
    return idempotent_write(
        user=by,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        kind=DiaryEntry,
        write=lambda: _diary_entry_add(
            recording=recording, by=by, sample=sample, symptom=symptom, note=note, precondition=precondition
        ),
    )


def _diary_entry_add(
    *, recording: ECGRecording, by: User, sample: int, symptom: str, note: str, precondition: Precondition | None
) -> DiaryEntry:
    if not by.is_active or by.clinic_id is None or recording.clinic_id != by.clinic_id:
        raise NotFound("No such recording in your clinic.", field="recording")
    if recording.kind != ECGRecording.Kind.SIGNAL or not recording.sampling_rate or recording.sample_count is None:
        raise Invalid(
            "This recording holds beat rows, not a signal: a diary entry needs a time in it.",
            field="recording",
            code="validation_error",
        )
    if symptom not in DiaryEntry.Symptom.values:
        raise Invalid(
            f"Choose the symptom: one of {', '.join(DiaryEntry.Symptom.values)}.",
            field="symptom",
            code="validation_error",
        )
    if not 0 <= sample < recording.sample_count:
        length = recording.sample_count / recording.sampling_rate
        raise Invalid(
            f"The moment is outside the recording, which is {length:.0f} s ({recording.sample_count} samples) long.",
            field="time",
            code="validation_error",
        )
    note = _reason_clean(
        note,
        blank="Say what the symptom was in the note." if symptom == DiaryEntry.Symptom.OTHER else None,
        then="enter it",
        field="note",
    )
    # a diary is a page or two of the patient's notes: bounded, counted under the recording's lock (two at once wait).
    # The bound is of the rows kept: a removed entry is kept (marked removed), and had it not counted, entering and
    # removing over and over had stored without end.
    ECGRecording.objects.select_for_update().only("pk").get(pk=recording.pk)
    if precondition is not None:
        precondition()
    full = _diary_full(recording.diary.all(), most=DiaryEntry.MAX_PER_RECORDING, what="entries")
    if full is not None:
        raise Conflict(full, code="diary_full")
    entry = DiaryEntry.objects.create(
        recording=recording, clinic_id=recording.clinic_id, sample=sample, symptom=symptom, note=note, entered_by=by
    )
    _recording_changed(recording.pk)
    return entry


def _diary_full(rows: QuerySet, *, most: int, what: str) -> str | None:
    """Why no more can be entered once a recording's diary has had ``most`` entries or activities (``rows``) entered,
    those removed among them (each is kept, and a removed one counts toward the bound as it did toward what is
    stored); None before."""
    if rows.count() < most:
        return None
    removed = rows.filter(removed_at__isnull=False).count()
    counted = (
        f" ({removed} of them removed: a removed one is kept, marked removed, and counts toward the {most})"
        if removed
        else ""
    )
    return f"This recording's diary holds {most} {what}, as many as one can{counted}: no more can be entered."


def diary_entry_remove(
    *,
    entry: DiaryEntry,
    by: User,
    precondition: Precondition | None = None,
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> bool:
    """Remove a diary entry entered by mistake (the wrong time or symptom: the diary itself is the record, and the
    entry is entered again as it says); any member of the entry's clinic. The entry is kept, marked removed (who,
    when) and out of the diary; the recording is stamped changed. False, and nothing written, when it was removed
    already (a second click, a retried request), unless by this user's request with the same ``idempotency_key``
    and ``fingerprint`` (``_diary_remove``); ``precondition`` as recording_move takes it."""
    if not by.is_active or by.clinic_id is None or entry.clinic_id != by.clinic_id:
        raise NotFound("No such diary entry in your clinic.", field="entry")
    return _diary_remove(
        row=entry, by=by, precondition=precondition, idempotency_key=idempotency_key, fingerprint=fingerprint
    )


Removed = TypeVar("Removed", DiaryEntry, DiaryActivity, BeatCorrection)
DiaryRow = TypeVar("DiaryRow", DiaryEntry, DiaryActivity)


def idempotent_removal(
    *,
    row: Removed,
    by: User,
    remove: Callable[[], bool],
    refresh: tuple[str, ...],
    precondition: Precondition | None,
    idempotency_key: str | None,
    fingerprint: str,
) -> bool:
    """``remove()`` (a soft removal of ``row``: True if it removed it, False if it was removed already), once per key,
    under the lock of ``row``'s recording: a diary entry's or activity's removal, a beat correction's undoing. With an
    ``idempotency_key`` the removal is remembered as a write is (``idempotent_write``), so a retry whose answer was
    lost is answered as the first was (True, nothing removed again; checked before ``precondition``, which the first
    removal changed), also when the two race (``replayed`` set on ``row``); the key already used for another request
    raises IdempotencyKeyReused. ``row``'s ``refresh`` fields are read again after, for the answer."""
    kind = type(row)
    row.replayed = False
    try:
        with transaction.atomic():
            ECGRecording.objects.select_for_update().only("pk").get(pk=row.recording_id)
            if idempotency_key is not None and idempotency_replay(
                user=by, idempotency_key=idempotency_key, fingerprint=fingerprint, kind=kind
            ):
                removed = row.replayed = True
            else:
                if precondition is not None:
                    precondition()
                removed = remove()
                if removed and idempotency_key is not None:
                    _idempotency_remember(user=by, idempotency_key=idempotency_key, fingerprint=fingerprint, made=row)
    except IntegrityError:  # the key taken meanwhile by another request of the user's (the unique key refused it)
        if idempotency_key is None or not idempotency_replay(
            user=by, idempotency_key=idempotency_key, fingerprint=fingerprint, kind=kind
        ):
            raise
        removed = row.replayed = True
    row.refresh_from_db(fields=list(refresh))
    return removed


def _diary_remove(
    *,
    row: DiaryRow,
    by: User,
    precondition: Precondition | None,
    idempotency_key: str | None,
    fingerprint: str,
) -> bool:
    """Mark a diary entry or activity removed (who, when) and stamp its recording changed, once per key
    (``idempotent_removal``)."""

    def remove() -> bool:
        removed = bool(
            type(row)
            .objects.filter(pk=row.pk, removed_at__isnull=True)
            .update(removed_at=timezone.now(), removed_by=by)
        )
        if removed:
            _recording_changed(row.recording_id)
        return removed

    return idempotent_removal(
        row=row,
        by=by,
        remove=remove,
        refresh=("removed_at", "removed_by"),
        precondition=precondition,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
    )


def diary_activity_add(
    *,
    recording: ECGRecording,
    by: User,
    kind: str,
    start: int,
    end: int | None = None,
    note: str = "",
    idempotency_key: str | None = None,
    fingerprint: str = "",
    precondition: Precondition | None = None,
) -> DiaryActivity:
    """Enter an activity from the patient's Holter diary into a signal recording of the user's clinic (any member
    of it, as a symptom is): sleep or exercise from ``start`` to ``end`` (samples, ``end`` inclusive and after
    ``start``), a medicine taken at ``start`` (no end), or "other", either, with a note saying what. A sleep period
    overlapping another is refused (Conflict ``sleep_overlap``): each minute is awake or asleep. At most
    MAX_PER_RECORDING a recording, removed ones among them, counted under its lock. With an ``idempotency_key``, a retry returns the first
    activity; ``precondition`` as recording_move takes it. The recording is stamped changed."""
    return idempotent_write(
        user=by,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        kind=DiaryActivity,
        write=lambda: _diary_activity_add(
            recording=recording, by=by, kind=kind, start=start, end=end, note=note, precondition=precondition
        ),
    )


def _diary_activity_add(
    *,
    recording: ECGRecording,
    by: User,
    kind: str,
    start: int,
    end: int | None,
    note: str,
    precondition: Precondition | None,
) -> DiaryActivity:
    if not by.is_active or by.clinic_id is None or recording.clinic_id != by.clinic_id:
        raise NotFound("No such recording in your clinic.", field="recording")
    if recording.kind != ECGRecording.Kind.SIGNAL or not recording.sampling_rate or recording.sample_count is None:
        raise Invalid(
            "This recording holds beat rows, not a signal: a diary activity needs a time in it.",
            field="recording",
            code="validation_error",
        )
    if kind not in DiaryActivity.Kind.values:
        raise Invalid(
            f"Choose the activity: one of {', '.join(DiaryActivity.Kind.values)}.",
            field="kind",
            code="validation_error",
        )
    length = recording.sample_count / recording.sampling_rate
    for name, sample in (("start", start), ("end", end)):
        if sample is not None and not 0 <= sample < recording.sample_count:
            raise Invalid(
                f"The {'beginning' if name == 'start' else 'end'} is outside the recording, which is {length:.0f} s "
                f"({recording.sample_count} samples) long.",
                field=name,
                code="validation_error",
            )
    label = DiaryActivity.Kind(kind).label.lower()
    if end is None and kind in DiaryActivity.PERIODS:
        raise Invalid(
            f"Give when it ended: {label} is a period, from one time to another.", field="end", code="validation_error"
        )
    if end is not None and kind in DiaryActivity.MOMENTS:
        raise Invalid(
            "A medicine taken is a moment: give when it was taken, without an end.",
            field="end",
            code="validation_error",
        )
    if end is not None and end <= start:
        raise Invalid(
            "The end is not after the beginning: give when it ended, after when it began.",
            field="end",
            code="validation_error",
        )
    note = _reason_clean(
        note,
        blank="Say what the activity was in the note." if kind == DiaryActivity.Kind.OTHER else None,
        then="enter it",
        field="note",
    )
    # bounded (the rows kept, removed ones among them, as a diary's entries) and checked for overlaps under the
    # recording's lock: two at once wait, the second sees the first
    ECGRecording.objects.select_for_update().only("pk").get(pk=recording.pk)
    if precondition is not None:
        precondition()
    full = _diary_full(recording.activities.all(), most=DiaryActivity.MAX_PER_RECORDING, what="activities")
    if full is not None:
        raise Conflict(full, code="activities_full")
    entered = recording.activities.filter(removed_at__isnull=True)
    if kind == DiaryActivity.Kind.SLEEP:
        assert end is not None
        other = entered.filter(kind=kind, start__lte=end, end__gte=start).order_by("start").first()
        if other is not None:
            fs = recording.sampling_rate
            raise Conflict(
                f"This sleep period overlaps the one entered from {holter.at(recording, other.start / fs)} to "
                f"{holter.at(recording, (other.end or other.start) / fs)}: a minute is either awake or asleep. "
                "Remove that one first if it was entered by mistake.",
                field="start",
                code="sleep_overlap",
            )
    activity = DiaryActivity.objects.create(
        recording=recording, clinic_id=recording.clinic_id, kind=kind, start=start, end=end, note=note, entered_by=by
    )
    _recording_changed(recording.pk)
    return activity


def diary_activity_remove(
    *,
    activity: DiaryActivity,
    by: User,
    precondition: Precondition | None = None,
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> bool:
    """Remove a diary activity entered by mistake, as diary_entry_remove removes an entry: any member of its
    clinic; kept, marked removed (who, when), out of the diary and of the heart rate awake and asleep; the recording
    stamped changed. False, and nothing written, when it was removed already, unless by this user's request with
    the same ``idempotency_key`` and ``fingerprint``."""
    if not by.is_active or by.clinic_id is None or activity.clinic_id != by.clinic_id:
        raise NotFound("No such diary activity in your clinic.", field="activity")
    return _diary_remove(
        row=activity, by=by, precondition=precondition, idempotency_key=idempotency_key, fingerprint=fingerprint
    )
