"""Beat corrections: a doctor changes the class of a family of beats or of beats chosen one by one, and the worker
recomputes the rhythm analysis over the classes as corrected (the writes of BeatCorrection, as services.py holds the
other writes: keyword-only, one transaction each, the recording locked).

The classifier's call on a patient it never saw is not the last word (bench/README.md gives its figures on unseen
patients): a Holter system has the analyst go through each template and relabel what it got wrong before the report
is signed. Here a correction changes the beats' class at once, with the diagnosis's class counts; the rhythm analysis
(events, ectopy, AF, the summary) needs the signal again, so the worker recomputes it
(``recording_rhythm_recompute``) and until then the recording says its rhythm is being recomputed. Rhythm events
found again keep their rows and their doctors' decisions; one no longer found is removed, and where it carried
decisions they are kept in the ``withdrawn_events`` of the correction whose making or undoing the recomputation
followed (``_recomputed_after``).
"""

import logging
from datetime import datetime

import numpy as np
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Case, Count, F, Q, Value, When
from django.dispatch import Signal
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import User
from ecg.constants import AAMI_CLASSES, RHYTHM_VERSION
from ecg.io.errors import SignalError
from ecgsite.broker import publish
from ecgsite.errors import Conflict, Invalid, NotAllowed, NotFound, UploadRefused
from mlmodels.models import ModelVersion

from .models import (
    Beat,
    BeatCorrection,
    BeatFamily,
    Diagnosis,
    ECGRecording,
    Event,
    EventReview,
    Review,
    RhythmInputs,
    RhythmRecomputation,
)
from .services import (
    Precondition,
    _load_input,
    _reason_clean,
    _recording_changed,
    beat_families_of,
    family_rows,
    idempotent_removal,
    idempotent_write,
    rhythm_inputs_read,
    rhythm_summary,
)

logger = logging.getLogger(__name__)
UPDATE_CHUNK = 5000  # beats named in one UPDATE
# A recording classified before its rhythm's inputs were kept is read again to recompute: at most this long a one (a
# day's signal and context, read beside the models the worker holds by then, went 600 MB over its memory bound)
SIGNAL_AGAIN_MAX_S = 4 * 3600.0
# Sent in the transaction that writes what they announce, as services.recording_failed is (api.webhooks tells a
# hospital system): a correction made or undone (``correction``, ``undone``); a recording's rhythm recomputed over the
# classes as corrected, or given up (``recording_id``, ``status`` "current" or "failed", ``reason`` when failed).
beats_corrected = Signal()
rhythm_recomputed = Signal()


def beat_correction_make(
    *,
    recording: ECGRecording,
    by: User,
    to_class: str,
    family: int | None = None,
    beats: list[int] | None = None,
    note: str = "",
    idempotency_key: str | None = None,
    fingerprint: str = "",
    precondition: Precondition | None = None,
) -> BeatCorrection:
    """Change to ``to_class`` the class of the beats of ``family`` (a BeatFamily's number: every beat of that shape,
    whatever a later correction made of some) or of the ``beats`` named by index (at most
    BeatCorrection.MAX_BEATS_CHOSEN), on a recording of the user's clinic that is analysed; doctors and administrators
    only. Beats already of that class are left; none left to change is a Conflict (``unchanged``). The diagnosis's
    class counts follow at once; the rhythm analysis is marked outdated and sent to the worker. With an
    ``idempotency_key``, a retry returns the first correction; ``precondition`` as recording_move takes it."""
    return idempotent_write(
        user=by,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
        kind=BeatCorrection,
        write=lambda: _beat_correction_make(
            recording=recording,
            by=by,
            to_class=to_class,
            family=family,
            beats=beats,
            note=note,
            precondition=precondition,
        ),
    )


def _doctor_of(recording: ECGRecording, by: User) -> None:
    if not by.is_active or by.clinic_id is None or recording.clinic_id != by.clinic_id:
        raise NotFound("No such recording in your clinic.", field="recording")
    if not by.can_review:
        raise NotAllowed("only doctors and administrators correct beat classes")


def _chosen(beats: object, beat_count: int) -> list[int]:
    """The beats named one by one: distinct indices of the recording's beats, at most MAX_BEATS_CHOSEN."""
    if not isinstance(beats, list) or not beats:
        raise Invalid("Name the beats to correct: a list of their indices.", field="beats", code="validation_error")
    if len(beats) > BeatCorrection.MAX_BEATS_CHOSEN:
        raise Invalid(
            f"{len(beats):,} beats named; at most {BeatCorrection.MAX_BEATS_CHOSEN:,} can be named in one correction "
            "(a whole family is corrected by its number).",
            field="beats",
            code="validation_error",
        )
    for index in beats:
        if isinstance(index, bool) or not isinstance(index, int):
            raise Invalid(f"A beat's index is a whole number, not {index!r}.", field="beats", code="validation_error")
        if not 0 <= index < beat_count:
            raise Invalid(
                f"There is no beat {index}: this recording's beats are numbered 0 to {beat_count - 1}.",
                field="beats",
                code="validation_error",
            )
    if len(set(beats)) != len(beats):
        raise Invalid("A beat is named twice.", field="beats", code="validation_error")
    return sorted(beats)


def _beat_correction_make(
    *,
    recording: ECGRecording,
    by: User,
    to_class: str,
    family: int | None,
    beats: list[int] | None,
    note: str,
    precondition: Precondition | None,
) -> BeatCorrection:
    _doctor_of(recording, by)
    if to_class not in AAMI_CLASSES:
        raise Invalid(f"The class is one of {', '.join(AAMI_CLASSES)}.", field="to_class", code="validation_error")
    if (family is None) == (beats is None):
        raise Invalid("Name a family or the beats to correct, not both.", field="family", code="validation_error")
    note = _reason_clean(note, blank=None, then="correct the beats", field="note")
    ECGRecording.objects.select_for_update().only("pk").get(pk=recording.pk)
    if precondition is not None:
        precondition()
    diagnosis = Diagnosis.objects.filter(recording_id=recording.pk).first()
    if diagnosis is None:
        raise Conflict("This recording is not analysed yet: its beats are corrected once it is.", code="not_analysed")
    rows = Beat.objects.filter(recording_id=recording.pk)
    if family is not None:
        if isinstance(family, bool) or not isinstance(family, int):
            raise Invalid(f"A family is named by its number, not {family!r}.", field="family", code="validation_error")
        if not BeatFamily.objects.filter(recording_id=recording.pk, number=family).exists():
            raise NotFound(f"This recording has no beat family {family}.", field="family")
        rows = rows.filter(family=family)
    else:
        rows = rows.filter(index__in=_chosen(beats, diagnosis.beat_count))
    previous: dict[str, list[int]] = {}
    for index, cls in rows.exclude(aami_class=to_class).order_by("index").values_list("index", "aami_class"):
        previous.setdefault(cls, []).append(index)
    if not previous:
        raise Conflict(f"These beats are class {to_class} already.", code="unchanged")
    for cls, indices in previous.items():
        _set_class(recording.pk, indices, to=to_class, was=cls)
    correction = BeatCorrection.objects.create(
        recording=recording,
        clinic_id=recording.clinic_id,
        family=family,
        to_class=to_class,
        beat_indices=sorted(i for indices in previous.values() for i in indices),
        previous=previous,
        note=note,
        made_by=by,
    )
    _classes_changed(recording.pk, diagnosis)
    beats_corrected.send(sender=BeatCorrection, correction=correction, undone=False)
    return correction


def _set_class(recording_id: int, indices: list[int], *, to: str, was: str) -> None:
    """Beats ``indices`` (all of class ``was`` now) take class ``to``; ``classified_as`` keeps the analysis's class
    while it differs from the beat's (empty once they agree again)."""
    for start in range(0, len(indices), UPDATE_CHUNK):
        Beat.objects.filter(recording_id=recording_id, index__in=indices[start : start + UPDATE_CHUNK]).update(
            aami_class=to,
            classified_as=Case(
                When(classified_as="", then=Value(was)),  # the analysis's class was the one it had
                When(classified_as=to, then=Value("")),  # back to the analysis's class
                default=F("classified_as"),
            ),
        )


def _classes_changed(recording_id: int, diagnosis: Diagnosis) -> None:
    """After beats changed class: the diagnosis's counts from the beats, its rhythm outdated (and sent to the worker
    once this commits), the recording stamped changed."""
    counts: dict[str, int] = {}
    corrected = 0
    for cls, n, changed in (
        Beat.objects.filter(recording_id=recording_id)
        .values_list("aami_class")
        .annotate(n=Count("id"), changed=Count("id", filter=~Q(classified_as="")))
        .values_list("aami_class", "n", "changed")
    ):
        counts[cls] = n
        corrected += changed
    fields: dict[str, object] = {f"count_{c.lower()}": int(counts.get(c, 0)) for c in AAMI_CLASSES}
    fields["beats_corrected"] = corrected
    fields["figures_once"] = diagnosis.figures_once_with_now()  # a figure this may take out was sent before
    fields.update(_mi_rescreened(recording_id, diagnosis))
    fields["changed_at"] = timezone.now()
    if diagnosis.rhythm is not None:
        fields["rhythm_outdated_at"] = timezone.now()
        fields["rhythm_recompute_error"] = ""  # an earlier run's failure is not this one's (and the sweep skips it)
        fields["rhythm_recompute_attempts"] = 0  # nor are its crashes
        transaction.on_commit(lambda: enqueue_rhythm_recompute(recording_id))
    Diagnosis.objects.filter(pk=diagnosis.pk).update(**fields)
    _recording_changed(recording_id)


def beats_said(count: int) -> str:
    """A number of beats as the messages and pages write it: "1 beat", "1,204 beats"."""
    return f"{count:,} beat{'' if count == 1 else 's'}"


# What the MI screen's reason adds once a doctor's corrections left scored beats out (the classification's reason
# before it, kept whole, so an undo gives it back as it was).
MI_AFTER_CORRECTIONS = " After a doctor's beat corrections: "


def _mi_rescreened(recording_id: int, diagnosis: Diagnosis) -> dict[str, object]:
    """The MI screen's fields over the beats it scored less those a doctor has called S, V, F or Q and the beat just
    before each (ecg.processing.mi_screen leaves ectopic beats and the beat before each out; it does not read the
    classifier's N/S/V/F, which calls many MI beats V, but a doctor's call is another matter): the median of the
    stored MI probabilities of the beats left, flagged against the same threshold, "not_assessable" under
    MIN_BEATS; as classified again once no correction leaves any out. Beats are only ever left out: one a doctor
    calls N was judged by the screen's own rules, which need the signal. A beat is called what the latest correction
    standing that names it made it (a beat made N then V again, back to the analysis's class, is called V). {} where
    nothing was screened from a signal (beat rows, a lead the screen does not read, too few beats to begin with), and
    once a doctor has decided on the MI flag: the screen they decided on stands (their decision had been left beside
    a flag or score a later correction changed, the recording out of the queue as reviewed)."""
    from ecg.processing import mi_screen

    scored = [int(i) for i in diagnosis.mi_scored_beats or []]
    screened_from_signal = diagnosis.mi_lead and diagnosis.mi_status != Diagnosis.MiStatus.NOT_APPLICABLE
    if not screened_from_signal or len(scored) < mi_screen.MIN_BEATS or diagnosis.mi_threshold is None:
        return {}
    if Review.objects.filter(diagnosis_id=diagnosis.pk).exists():
        return {}
    called = _called_ectopic(recording_id)
    base = diagnosis.mi_reason.split(MI_AFTER_CORRECTIONS)[0]
    if not called and base == diagnosis.mi_reason:
        return {}  # none left out, before or now
    out = called | {i - 1 for i in called}
    kept = [i for i in scored if i not in out]
    probability = np.array(
        Beat.objects.filter(recording_id=recording_id).order_by("index").values_list("mi_probability", flat=True),
        dtype=np.float64,
    )
    threshold = float(diagnosis.mi_threshold)
    if len(kept) < mi_screen.MIN_BEATS:
        return {
            "mi_status": Diagnosis.MiStatus.NOT_ASSESSABLE,
            "mi_reason": f"{base}{MI_AFTER_CORRECTIONS}{len(scored) - len(kept)} of the {len(scored)} beats scored "
            f"were called ectopic by a doctor or come just before such a beat; the {len(kept)} left are fewer than "
            f"the {mi_screen.MIN_BEATS} the screen needs.",
            "mi_beats_used": len(kept),
            "mi_score": None,
            "mi_flag": False,
        }
    score = float(np.median(probability[kept]))
    flag = score >= threshold
    reason = base
    if len(kept) < len(scored):
        reason += (
            f"{MI_AFTER_CORRECTIONS}{len(scored) - len(kept)} of the {len(scored)} beats scored left out (called "
            f"ectopic by a doctor, or just before such a beat); {mi_screen.AGGREGATION} MI probability of the "
            f"{len(kept)} left {score:.3f}, {'at or above' if flag else 'below'} the threshold {threshold:.3f}."
        )
    return {
        "mi_status": Diagnosis.MiStatus.SCREENED,
        "mi_reason": reason,
        "mi_beats_used": len(kept),
        "mi_score": score,
        "mi_flag": flag,
    }


def _called_ectopic(recording_id: int, *, at=None) -> set[int]:
    """The beats a doctor's corrections standing (at ``at``; None: now) call S, V, F or Q: each is called what the
    latest of them naming it made it."""
    standing = BeatCorrection.objects.filter(recording_id=recording_id)
    if at is None:
        standing = standing.filter(undone_at__isnull=True)
    else:
        standing = standing.filter(Q(undone_at__isnull=True) | Q(undone_at__gt=at), created_at__lt=at)
    called_as: dict[int, str] = {}
    for to_class, indices in standing.order_by("id").values_list("to_class", "beat_indices"):
        called_as.update(dict.fromkeys(indices, to_class))
    return {int(i) for i, cls in called_as.items() if cls != "N"}


def mi_beats_scored(diagnosis: Diagnosis) -> list[int]:
    """The beats the MI screen's score is over as it stands: those it scored less the ones ``_mi_rescreened`` left
    out for the doctors' corrections (as they stood at the first decision on the flag, after which the screen
    stands), ascending."""
    scored = [int(i) for i in diagnosis.mi_scored_beats or []]
    if MI_AFTER_CORRECTIONS not in diagnosis.mi_reason:
        return scored
    first_decision = (
        Review.objects.filter(diagnosis_id=diagnosis.pk).order_by("created_at").values_list("created_at", flat=True)
    ).first()
    called = _called_ectopic(diagnosis.recording_id, at=first_decision)
    out = called | {i - 1 for i in called}
    return [i for i in scored if i not in out]


def mi_screen_changed_at(diagnosis: Diagnosis) -> list:
    """When doctors' beat corrections, or their undoing, changed the MI screen's beats (``_mi_rescreened``: a beat it
    scored, or the one just after such a beat, called other than N), before the first decision on its flag (after it
    the screen stands); [] for a screen a correction never touches (beat rows, a lead it does not read)."""
    from ecg.processing import mi_screen

    scored = {int(i) for i in diagnosis.mi_scored_beats or []}
    screened_from_signal = diagnosis.mi_lead and diagnosis.mi_status != Diagnosis.MiStatus.NOT_APPLICABLE
    if not screened_from_signal or len(scored) < mi_screen.MIN_BEATS or diagnosis.mi_threshold is None:
        return []
    touches = scored | {i + 1 for i in scored}
    decided = Review.objects.filter(diagnosis_id=diagnosis.pk).order_by("created_at").values_list("created_at")[:1]
    first_decision = next(iter(decided), (None,))[0]
    return [
        when
        for to_class, indices, made, undone in BeatCorrection.objects.filter(recording_id=diagnosis.recording_id)
        .exclude(to_class="N")
        .values_list("to_class", "beat_indices", "created_at", "undone_at")
        if touches.intersection(indices)
        for when in (made, undone)
        if when is not None and (first_decision is None or when < first_decision)
    ]


def beat_correction_undo(
    *,
    correction: BeatCorrection,
    by: User,
    precondition: Precondition | None = None,
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> bool:
    """Undo a correction: its beats take back the class each had before it. Only the latest correction not undone can
    be (a Conflict, ``later_correction``, otherwise: undo the later ones first); doctors and administrators of its
    clinic. The correction is kept, marked undone. False, and nothing written, when it was undone already, unless by
    this user's request with the same ``idempotency_key`` and ``fingerprint`` (its answer lost): True again, nothing
    written, ``replayed`` set, checked before ``precondition`` (which the first undo changed), as a diary entry's
    removal is (services.idempotent_removal)."""
    recording = correction.recording
    _doctor_of(recording, by)

    def undo() -> bool:
        correction.refresh_from_db(fields=["undone_at", "undone_by"])
        if correction.undone_at is not None:
            return False
        later = (
            BeatCorrection.objects.filter(recording_id=recording.pk, undone_at__isnull=True, id__gt=correction.pk)
            .order_by("id")
            .first()
        )
        if later is not None:
            raise Conflict(
                f"A later correction ({beats_said(later.beats_changed)} to {later.to_class}) was made after it: undo "
                "that one first.",
                code="later_correction",
            )
        for cls, indices in correction.previous.items():
            _set_class(recording.pk, indices, to=cls, was=correction.to_class)
        BeatCorrection.objects.filter(pk=correction.pk).update(undone_at=timezone.now(), undone_by=by)
        _classes_changed(recording.pk, Diagnosis.objects.get(recording_id=recording.pk))
        correction.refresh_from_db(fields=["undone_at", "undone_by"])
        beats_corrected.send(sender=BeatCorrection, correction=correction, undone=True)
        return True

    return idempotent_removal(
        row=correction,
        by=by,
        remove=undo,
        refresh=("undone_at", "undone_by"),
        precondition=precondition,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint,
    )


def enqueue_rhythm_recompute(recording_id: int) -> bool:
    """Send a recording's rhythm recomputation to the workers; False if the broker could not be reached (the sweep
    sends it again: ``rhythms_requeue_outdated``)."""
    from .services import _local_executor
    from .tasks import recompute_rhythm

    if settings.CELERY_TASK_ALWAYS_EAGER:
        _local_executor().submit(recompute_rhythm.apply, args=(recording_id,))
        return True
    return publish(lambda: recompute_rhythm.delay(recording_id), f"recording {recording_id}'s rhythm recomputation")


def rhythms_requeue_outdated(*, older_than) -> int:
    """Send again every recomputation asked for longer ago than ``older_than`` and not done (a broker that was down,
    a worker lost); the sweep's. A recomputation that failed with a reason is not sent again. Each request (a
    recording's ``rhythm_outdated_at``) is sent at most once per ``older_than`` x QUEUED_RESEND_FACTOR, as the
    classifications' sweep sends them: one still waiting behind busy workers, or running longer than ``older_than``
    (a day's signal read again), had been sent again at every sweep, the queue filling with copies that each read
    the signal again."""
    from django.core.cache import caches

    from .services import QUEUED_RESEND_FACTOR

    cache = caches["api"]
    resend_after = max(1, int(older_than.total_seconds())) * QUEUED_RESEND_FACTOR
    sent = 0
    for recording_id, asked in Diagnosis.objects.filter(
        rhythm_outdated_at__lt=timezone.now() - older_than, rhythm_recompute_error=""
    ).values_list("recording_id", "rhythm_outdated_at"):
        assert asked is not None  # (filtered on above: for the type checker)
        key = f"rhythm-sent:{recording_id}:{asked.timestamp()}"  # a later correction's request is a new one
        if not cache.add(key, 1, timeout=resend_after):
            continue
        if enqueue_rhythm_recompute(recording_id):
            sent += 1
        else:
            cache.delete(key)  # not sent: the next sweep tries again
    return sent


def recording_rhythm_recompute(*, recording_id: int, max_attempts: int = 3) -> str:
    """The rhythm analysis over the beats' classes as they are now (the worker's, after a correction), over the
    signal-level inputs the classification stored (RhythmInputs: no signal read); for a recording classified before
    they were stored, the signal read again as the classification read it and the same beats found (at most
    ``SIGNAL_AGAIN_MAX_S`` of it). The summary and events are written. Safe to run twice or at once: what it computed
    is written only while no later correction has come meanwhile ("again": the later one's own run writes).
    "current" when nothing is outdated; "failed" with the reason stored when the inputs cannot be had again.

    Each run of a request counts an attempt before it starts: a run whose worker dies (out of memory, say) never
    ends, its message comes again (at once, from a pool whose process was lost; later, from the sweep), and the
    request is given up, failed with the reason, once ``max_attempts`` runs began (the task adds one for each of its
    own tries after a database error, which is no crash)."""
    diagnosis = Diagnosis.objects.select_related("heartbeat_model").filter(recording_id=recording_id).first()
    if diagnosis is None or diagnosis.rhythm_outdated_at is None:
        return "current"
    asked: datetime = diagnosis.rhythm_outdated_at
    this_request = Diagnosis.objects.filter(pk=diagnosis.pk, rhythm_outdated_at=asked)
    if not this_request.filter(rhythm_recompute_attempts__lt=max_attempts).update(
        rhythm_recompute_attempts=F("rhythm_recompute_attempts") + 1
    ):
        if not this_request.exists():
            return "again"  # a later correction's request came meanwhile: its own run writes
        return _recompute_failed(
            diagnosis,
            asked,
            f"Gave up after {max_attempts} attempts: recomputing the rhythm kept stopping the worker. The rhythm "
            "figures are those from before the correction; please contact support.",
        )
    try:
        return _recompute(diagnosis, asked)
    except (OperationalError, InterfaceError):
        raise  # the database restarting: the task tries again
    except Exception as exc:
        # failed for this request alone: a later correction's request, made meanwhile, is not marked failed by it
        logger.exception("recomputing the rhythm of recording %s failed", recording_id)
        return _recompute_failed(
            diagnosis,
            asked,
            f"Internal error while recomputing the rhythm ({type(exc).__name__}); please contact support.",
        )


class Computed:
    """A recording's rhythm analysis computed over its stored beats and classes (``rhythm_computed``), not written."""

    def __init__(self, report, positions: np.ndarray, families, lead_names: tuple[str, ...]) -> None:
        self.report, self.positions, self.families, self.lead_names = report, positions, families, lead_names


def rhythm_computed(diagnosis: Diagnosis) -> Computed | str:
    """The rhythm analysis, by this version of it, over the recording's beats' classes as they are now and the
    signal-level inputs the classification stored (RhythmInputs: no signal read); for a recording classified before
    they were stored, the signal read again as the classification read it and the same beats found (at most
    ``SIGNAL_AGAIN_MAX_S`` of it). The reason, a str, where the inputs cannot be had again. Nothing is written."""
    recording_id = diagnosis.recording_id
    recording = ECGRecording.objects.get(pk=recording_id)
    stored = list(
        Beat.objects.filter(recording_id=recording_id).order_by("index").values_list("position", "aami_class")
    )
    positions = np.array([p for p, _ in stored], dtype=np.int64)
    classes = np.array([c for _, c in stored])
    del stored
    kept = RhythmInputs.objects.filter(recording_id=recording_id).first()
    context, lead_names = None, ()
    if kept is not None:
        rhythm_inputs = rhythm_inputs_read(kept)
        del kept
    else:
        seconds = (recording.sample_count or 0) / (recording.sampling_rate or 1.0)
        if seconds > SIGNAL_AGAIN_MAX_S:
            return (
                f"This recording ({seconds / 3600:.1f} hours) was analysed before the rhythm's inputs were kept, and "
                "reading so long a signal again is beyond the worker's memory: upload it again to correct its rhythm."
            )
        with_context = diagnosis.heartbeat_model.task == ModelVersion.Task.HEARTBEAT_RECORD
        try:
            inputs = _load_input(recording, with_context=with_context)
        except (UploadRefused, SignalError) as exc:
            return f"The signal could not be read again: {getattr(exc, 'message', exc)}"
        if inputs.positions is None or inputs.rhythm is None or not np.array_equal(inputs.positions, positions):
            return "The beats found in the signal now are not those it was analysed with; upload it again."
        rhythm_inputs, context, lead_names = inputs.rhythm, inputs.context, inputs.lead_names
    if any(len(values) != len(positions) for values in (rhythm_inputs.get("measures") or {}).values()):
        return "The rhythm's kept inputs are not those of the recording's beats."
    from ecg.rhythm import analyse_rhythm

    report = analyse_rhythm(signal=None, r_peaks=positions, classes=classes, **rhythm_inputs)
    families = None
    if context is not None and not BeatFamily.objects.filter(recording_id=recording_id).exists():
        # analysed before families were found: found now, from the classes the analysis gave
        analysis = dict(
            Beat.objects.filter(recording_id=recording_id)
            .exclude(classified_as="")
            .values_list("index", "classified_as")
        )
        families = beat_families_of(context, np.array([analysis.get(i, c) for i, c in enumerate(classes)]))
    return Computed(report, positions, families, lead_names)


def _recompute(diagnosis: Diagnosis, asked: datetime) -> str:
    recording_id = diagnosis.recording_id
    computed = rhythm_computed(diagnosis)
    if isinstance(computed, str):
        return _recompute_failed(diagnosis, asked, computed)
    report, positions, families = computed.report, computed.positions, computed.families
    with transaction.atomic():
        locked = ECGRecording.objects.select_for_update().only("pk", "clinic_id").get(pk=recording_id)
        current = Diagnosis.objects.filter(pk=diagnosis.pk).first()
        if current is None or current.rhythm_outdated_at != asked:
            # a beat correction came meanwhile: its own run writes, by this version (an operator's request is done)
            RhythmRecomputation.objects.filter(
                recording_id=recording_id, requested_at=asked, outcome=RhythmRecomputation.Outcome.PENDING
            ).update(outcome=RhythmRecomputation.Outcome.SUPERSEDED, finished_at=timezone.now())
            return "again"
        since = current.rhythm_recomputed_at or current.created_at
        withdrawn = _events_replace(recording_id, locked.clinic_id, report.events)
        if withdrawn:
            for home, events in _withdrawn_homes(recording_id, withdrawn, positions, since).items():
                home.withdrawn_events = [*home.withdrawn_events, *events]
                home.save(update_fields=["withdrawn_events"])
        if families is not None:
            _families_store(recording_id, families, computed.lead_names)
        now = timezone.now()
        Diagnosis.objects.filter(pk=diagnosis.pk).update(
            figures_once=current.figures_once_with_now(),  # a heart rate this may take out was sent before
            rhythm=rhythm_summary(report),
            heart_rate_bpm=report.summary["heart_rate"]["mean_bpm"],
            rhythm_outdated_at=None,
            rhythm_recomputed_at=now,
            rhythm_recompute_error="",
            rhythm_version=RHYTHM_VERSION,
            changed_at=now,
        )
        # an operator's requests this run answers (its own, or one a correction's request came after)
        RhythmRecomputation.objects.filter(
            recording_id=recording_id, requested_at__lte=asked, outcome=RhythmRecomputation.Outcome.PENDING
        ).update(outcome=RhythmRecomputation.Outcome.CHANGED, finished_at=now)
        _recording_changed(recording_id)
        rhythm_recomputed.send(sender=Diagnosis, recording_id=recording_id, status="current", reason="")
    return "done"


def _withdrawn_homes(
    recording_id: int, withdrawn: list[dict], positions: np.ndarray, since: datetime
) -> dict[BeatCorrection | RhythmRecomputation, list[dict]]:
    """Where each event a recomputation withdrew is kept: with the latest change of classes since the rhythm was last
    written (``since``; a correction made, or one undone) that named a beat of the event or the beat either side of
    it; else with the operator's recomputation by a newer version asked for since (`manage.py recompute_rhythm`: the
    analysis changed, not the classes), the latest; else with the change the recomputation follows
    (`_recomputed_after`). Several changes can come before the worker runs: an unrelated one made and undone after
    the one that withdrew a confirmed run had been given it."""
    changes = []
    for correction in BeatCorrection.objects.filter(recording_id=recording_id).filter(
        Q(created_at__gt=since) | Q(undone_at__gt=since)
    ):
        undone = correction.undone_at is not None and correction.undone_at > since
        changes.append((correction.undone_at if undone else correction.created_at, correction.pk, correction))
    changes.sort(key=lambda change: (change[0], change[1]), reverse=True)
    fallback: BeatCorrection | RhythmRecomputation | None = (
        RhythmRecomputation.objects.filter(recording_id=recording_id)
        .filter(Q(requested_at__gt=since) | Q(outcome=RhythmRecomputation.Outcome.PENDING))
        .order_by("-requested_at", "-id")
        .first()
    ) or _recomputed_after(recording_id)
    homes: dict[BeatCorrection | RhythmRecomputation, list[dict]] = {}
    for event in withdrawn:
        first = max(0, int(np.searchsorted(positions, event["start"], side="left")) - 1)
        last = int(np.searchsorted(positions, event["end"], side="right"))  # one past the event's last beat
        home = next((c for _, _, c in changes if any(first <= i <= last for i in c.beat_indices)), fallback)
        if home is not None:
            homes.setdefault(home, []).append(event)
    return homes


def _recomputed_after(recording_id: int) -> BeatCorrection | None:
    """The correction whose making or undoing the recomputation being written follows (called under the recording's
    lock, its request still the latest: no change of classes came since), where the events it withdraws are kept:

    - after a correction made, that correction: the newest one still standing, with none made after it;
    - after an undoing, the correction undone (the one undone last): its undoing set the classes back, and the events
      found over its classes and no longer found without them were withdrawn by it. Not the newest standing one,
      which did not change since the events were found, and there is none once the only correction is undone: the
      decisions would have had no home, or gone to a correction undone earlier that had nothing to do with them.

    Only the latest standing correction can be undone, so those made after the newest standing one are all undone,
    each after it was made: when there are any, the latest change was the undoing of one of them."""
    corrections = BeatCorrection.objects.filter(recording_id=recording_id)
    standing = corrections.filter(undone_at__isnull=True).order_by("-id").first()
    later = corrections.filter(undone_at__isnull=False)
    if standing is not None:
        later = later.filter(id__gt=standing.pk)
    return later.order_by("-undone_at", "-id").first() or standing


def rhythm_recompute_failed(*, recording_id: int, reason: str) -> None:
    """Store why a recomputation failed (the task's, on an error it did not foresee): the recording says so, and the
    sweep does not send it again."""
    diagnosis = Diagnosis.objects.filter(recording_id=recording_id, rhythm_outdated_at__isnull=False).first()
    if diagnosis is not None and diagnosis.rhythm_outdated_at is not None:
        _recompute_failed(diagnosis, diagnosis.rhythm_outdated_at, reason)


def _recompute_failed(diagnosis: Diagnosis, asked: datetime, reason: str) -> str:
    """Store why the recomputation asked for at ``asked`` failed. An operator's request (`manage.py
    recompute_rhythm`) that fails leaves the rhythm as it was, by the version it was computed by: its figures are
    those of the beats' classes as they are, so the recording is not left failed (its report preliminary, its
    signing refused) for want of a newer analysis; the reason is kept with the request."""
    with transaction.atomic():
        ECGRecording.objects.select_for_update().only("pk").filter(pk=diagnosis.recording_id).first()
        request = RhythmRecomputation.objects.filter(
            recording_id=diagnosis.recording_id, requested_at=asked, outcome=RhythmRecomputation.Outcome.PENDING
        )
        if request.exists() and Diagnosis.objects.filter(pk=diagnosis.pk, rhythm_outdated_at=asked).exists():
            now = timezone.now()
            request.update(outcome=RhythmRecomputation.Outcome.FAILED, reason=reason, finished_at=now)
            Diagnosis.objects.filter(pk=diagnosis.pk).update(
                rhythm_outdated_at=None, rhythm_recompute_error="", rhythm_recompute_attempts=0, changed_at=now
            )
            _recording_changed(diagnosis.recording_id)
            return "failed"
        marked = Diagnosis.objects.filter(pk=diagnosis.pk, rhythm_outdated_at=asked).exclude(
            rhythm_recompute_error=reason
        )
        # told once, not again by a retry failing the same way (which changes nothing: changed_at stays)
        if marked.update(rhythm_recompute_error=reason, changed_at=timezone.now()):
            rhythm_recomputed.send(
                sender=Diagnosis, recording_id=diagnosis.recording_id, status="failed", reason=reason
            )
        _recording_changed(diagnosis.recording_id)
    return "failed"


def _families_store(recording_id: int, families, lead_names: tuple[str, ...]) -> None:
    BeatFamily.objects.bulk_create(family_rows(recording_id, families, lead_names))
    for family in families.families:
        members = np.flatnonzero(families.of_beat == family.number).tolist()
        for start in range(0, len(members), UPDATE_CHUNK):
            Beat.objects.filter(recording_id=recording_id, index__in=members[start : start + UPDATE_CHUNK]).update(
                family=family.number
            )


def _events_replace(recording_id: int, clinic_id: int, found: list) -> list[dict]:
    """The recording's events made those ``found`` (ecg.rhythm events): one found again (its type, start and end)
    keeps its row, and so its decisions; one no longer found is removed, and returned, with its decisions, where it
    had any. An event found anew that an earlier recomputation withdrew (a correction undone, a class set back) takes
    back the decisions it had then, each by its doctor at its time: a confirmed VF/VFL episode does not come back
    undecided."""
    restorable = _withdrawn_decisions(recording_id)
    new = {(e.type, e.start, e.end): e for e in found}
    old: dict[tuple, Event] = {}
    gone = []
    for event in Event.objects.filter(recording_id=recording_id).order_by("id"):
        key = (event.type, event.start, event.end)
        if key in new and key not in old:
            old[key] = event
        else:
            gone.append(event)
    withdrawn = []
    withdrawn_at = timezone.now().isoformat(timespec="microseconds")
    for event in gone:
        decisions = [
            {
                "decision": r.decision,
                "reviewer": r.reviewer.get_full_name() or r.reviewer.get_username(),
                "reviewer_id": r.reviewer_id,
                "note": r.note,
                "at": r.created_at.isoformat(),
            }
            for r in event.reviews.select_related("reviewer").order_by("created_at", "id")
        ]
        if decisions:
            withdrawn.append(
                {
                    "type": event.type,
                    "start": event.start,
                    "end": event.end,
                    "beats": event.beats,
                    "decisions": decisions,
                    "withdrawn_at": withdrawn_at,
                }
            )
    Event.objects.filter(pk__in=[e.pk for e in gone]).delete()
    for key, event in new.items():
        kept = old.get(key)
        if kept is not None and (kept.beats != event.beats or kept.rate_bpm != event.rate_bpm):
            Event.objects.filter(pk=kept.pk).update(beats=event.beats, rate_bpm=event.rate_bpm)
    made = Event.objects.bulk_create(
        [Event(recording_id=recording_id, clinic_id=clinic_id, **e.as_dict()) for k, e in new.items() if k not in old],
        batch_size=2000,
    )
    for event in made:
        for d in restorable.get((event.type, event.start, event.end), []):
            if not d.get("reviewer_id") or d.get("decision") not in EventReview.Decision.values:
                continue  # (kept before reviewers were kept by id: told in the correction's history only)
            review = EventReview.objects.create(
                event=event, clinic_id=clinic_id, reviewer_id=d["reviewer_id"], decision=d["decision"], note=d["note"]
            )
            at = parse_datetime(str(d.get("at") or ""))
            if at is not None:
                EventReview.objects.filter(pk=review.pk).update(created_at=at)
    return withdrawn


def _withdrawn_decisions(recording_id: int) -> dict[tuple, list[dict]]:
    """By (type, start, end), the decisions of the recording's events a recomputation withdrew, as last withdrawn: in
    the order withdrawn (``withdrawn_at``), which is not the corrections' order once an undoing's are kept with the
    correction undone (``_recomputed_after``); those kept before the time was, first, in the corrections' order (each
    was then kept with the newest correction)."""
    kept = [
        (e.get("withdrawn_at") or "", correction_id, n, e)
        for correction_id, withdrawn in BeatCorrection.objects.filter(recording_id=recording_id).values_list(
            "id", "withdrawn_events"
        )
        for n, e in enumerate(withdrawn or [])
    ] + [
        (e.get("withdrawn_at") or "", 0, n, e)
        for withdrawn in RhythmRecomputation.objects.filter(recording_id=recording_id)
        .exclude(withdrawn_events=[])
        .values_list("withdrawn_events", flat=True)
        for n, e in enumerate(withdrawn or [])
    ]
    out: dict[tuple, list[dict]] = {}
    for *_order, e in sorted(kept, key=lambda row: row[:3]):
        out[(e.get("type"), e.get("start"), e.get("end"))] = list(e.get("decisions") or [])
    return out


# Written in the audit trail for each recording `manage.py recompute_rhythm` recomputed (or could not)
RECOMPUTE_COMMAND = "manage.py recompute_rhythm"


def rhythm_changes(recording_id: int, computed: Computed, stored_summary: dict | None) -> dict[str, object]:
    """What writing ``computed`` would change of the recording's rhythm, as ``_events_replace`` matches events (by
    type, start and end): events ``kept``, of which ``updated`` (their beats or rate), ``new``, ``withdrawn`` and of
    those ``withdrawn_decided`` (carrying doctors' decisions, kept with the recomputation), whether the ``summary``
    changes, and ``families`` found anew; ``changed`` when any does."""
    new = {(e.type, e.start, e.end): e for e in computed.report.events}
    decided = set(
        EventReview.objects.filter(event__recording_id=recording_id).values_list("event_id", flat=True).distinct()
    )
    seen: set[tuple] = set()
    kept = updated = withdrawn = withdrawn_decided = 0
    for pk, kind, start, end, beats, rate in (
        Event.objects.filter(recording_id=recording_id)
        .order_by("id")
        .values_list("pk", "type", "start", "end", "beats", "rate_bpm")
    ):
        key = (kind, start, end)
        if key in new and key not in seen:
            seen.add(key)
            kept += 1
            updated += int(new[key].beats != beats or new[key].rate_bpm != rate)
        else:
            withdrawn += 1
            withdrawn_decided += int(pk in decided)
    summary = _json_normal(rhythm_summary(computed.report)) != _json_normal(stored_summary)
    counts: dict[str, object] = {
        "kept": kept,
        "updated": updated,
        "new": len(new) - len(seen),
        "withdrawn": withdrawn,
        "withdrawn_decided": withdrawn_decided,
        "summary": summary,
        "families": computed.families is not None,
    }
    counts["changed"] = bool(updated or counts["new"] or withdrawn or summary or computed.families is not None)
    return counts


def _json_normal(value: object) -> object:
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def rhythm_upgrade(*, recording_id: int, include_signed: bool = False, dry_run: bool = False) -> dict[str, object]:
    """Bring a recording's rhythm analysis to this version of it (``RHYTHM_VERSION``), over its stored beats and
    classes, as a beat correction's recomputation does (`manage.py recompute_rhythm`, one recording at a time): the
    recomputation is asked for as a correction asks (the diagnosis's ``rhythm_outdated_at``, with a
    RhythmRecomputation naming the request) and run here by ``recording_rhythm_recompute``, under the recording's
    lock, keeping doctors' decisions on events found again (those no longer found are kept with the request), the
    ``rhythm.recomputed`` notice sent. Computed first: one that changes nothing is only stamped with the version (no
    notice, nothing shown changes); one whose inputs cannot be had again is left as it was, the reason kept.

    Skipped: a recording with no rhythm, one whose rhythm is of this version already (run twice, the second does
    nothing), one a doctor signed an interpretation of (unless ``include_signed``: the report signed must not change
    under the signature unasked), one whose recomputation after a beat correction is pending or failed (the worker's;
    its own run is by this version). A request of this command's left pending (the run was stopped) is run again.
    ``dry_run``: computed, nothing written. The answer's ``outcome`` says which, ``changes`` what changed (or would:
    ``rhythm_changes``), ``reason`` why it failed or was skipped; each recording recomputed, or that could not be, is
    written in the audit trail (channel "command")."""
    from accounts.models import AuditEvent

    from .models import Interpretation

    diagnosis = Diagnosis.objects.select_related("heartbeat_model").filter(recording_id=recording_id).first()
    answer: dict[str, object] = {"recording": recording_id, "changes": None, "reason": ""}
    if diagnosis is None or diagnosis.rhythm is None:
        return {**answer, "outcome": "no_rhythm", "reason": "not analysed, or no rhythm analysis (beat rows)"}
    if diagnosis.rhythm_version == RHYTHM_VERSION and diagnosis.rhythm_outdated_at is None:
        return {**answer, "outcome": "current"}
    signed = Interpretation.objects.filter(recording_id=recording_id).exists()
    if signed and not include_signed:
        return {
            **answer,
            "outcome": "signed",
            "reason": "a doctor signed its interpretation (--include-signed recomputes it)",
        }

    def audited(outcome: str) -> None:
        AuditEvent.objects.create(
            action=AuditEvent.Action.UPDATE,
            object_type="recording",
            object_id=str(recording_id),
            clinic_id=diagnosis.clinic_id,
            channel="command",
            path=RECOMPUTE_COMMAND,
            username="",
        )
        logger.info("%s: recording %s %s", RECOMPUTE_COMMAND, recording_id, outcome)

    if diagnosis.rhythm_outdated_at is not None:
        ours = RhythmRecomputation.objects.filter(
            recording_id=recording_id,
            requested_at=diagnosis.rhythm_outdated_at,
            outcome=RhythmRecomputation.Outcome.PENDING,
        ).exists()
        if not ours:
            state = "failed" if diagnosis.rhythm_recompute_error else "pending"
            return {
                **answer,
                "outcome": "correction",
                "reason": f"its recomputation after a beat correction is {state} (the worker's, by this version)",
            }
        if dry_run:
            return {**answer, "outcome": "pending", "reason": "an earlier run's request, stopped: run again"}
        return _upgrade_run(recording_id, answer, audited)
    computed = rhythm_computed(diagnosis)
    if isinstance(computed, str):
        if dry_run:
            return {**answer, "outcome": "failed", "reason": computed}
        RhythmRecomputation.objects.create(
            recording_id=recording_id,
            clinic_id=diagnosis.clinic_id,
            from_version=diagnosis.rhythm_version,
            to_version=RHYTHM_VERSION,
            requested_at=timezone.now(),
            finished_at=timezone.now(),
            outcome=RhythmRecomputation.Outcome.FAILED,
            reason=computed,
            signed=signed,
        )
        audited("failed")
        return {**answer, "outcome": "failed", "reason": computed}
    changes = rhythm_changes(recording_id, computed, diagnosis.rhythm)
    answer["changes"] = changes
    if dry_run:
        return {**answer, "outcome": "would_change" if changes["changed"] else "would_stay"}
    del computed
    with transaction.atomic():
        ECGRecording.objects.select_for_update().only("pk").get(pk=recording_id)
        current = Diagnosis.objects.filter(pk=diagnosis.pk).first()
        if current is None or current.rhythm_outdated_at is not None or current.changed_at != diagnosis.changed_at:
            # a beat correction came meanwhile (its recomputation is by this version): this one is not needed
            return {**answer, "outcome": "correction", "reason": "a beat correction came while it was computed"}
        now = timezone.now()
        RhythmRecomputation.objects.create(
            recording_id=recording_id,
            clinic_id=diagnosis.clinic_id,
            from_version=diagnosis.rhythm_version,
            to_version=RHYTHM_VERSION,
            requested_at=now,
            finished_at=None if changes["changed"] else now,
            outcome="" if changes["changed"] else RhythmRecomputation.Outcome.UNCHANGED,
            signed=signed,
        )
        if not changes["changed"]:
            Diagnosis.objects.filter(pk=diagnosis.pk).update(rhythm_version=RHYTHM_VERSION)
            audited("unchanged")
            return {**answer, "outcome": "unchanged"}
        # asked for as a beat correction asks (_classes_changed): the recording says its rhythm is being recomputed
        Diagnosis.objects.filter(pk=diagnosis.pk).update(
            rhythm_outdated_at=now, rhythm_recompute_error="", rhythm_recompute_attempts=0, changed_at=now
        )
        _recording_changed(recording_id)
    return _upgrade_run(recording_id, answer, audited)


def _upgrade_run(recording_id: int, answer: dict[str, object], audited) -> dict[str, object]:
    """Run the recomputation asked for (``recording_rhythm_recompute``, as the worker does) and say how it went."""
    ran = recording_rhythm_recompute(recording_id=recording_id)
    request = RhythmRecomputation.objects.filter(recording_id=recording_id).order_by("-requested_at", "-id").first()
    outcome = {"done": "changed", "current": "changed"}.get(ran, ran)
    if ran == "again":
        outcome = "correction"
        answer["reason"] = "a beat correction came while it was recomputed (its recomputation is by this version)"
    elif request is not None and request.outcome == RhythmRecomputation.Outcome.FAILED:
        outcome, answer["reason"] = "failed", request.reason
    audited(outcome)
    return {**answer, "outcome": outcome}
