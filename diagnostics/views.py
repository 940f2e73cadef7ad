import math
from collections.abc import Callable
from typing import Any, NamedTuple

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import push_url

from accounts import audit
from accounts.models import AuditEvent
from ecg.clock import clock, seconds_from_clock
from ecg.constants import AAMI_CLASSES, AAMI_NAMES, BEAT_FS
from ecgsite.errors import (
    ApplicationError,
    Conflict,
    IdempotencyKeyReused,
    Invalid,
    NotFound,
    PreconditionFailed,
    UploadRefused,
)
from ecgsite.http import status_for
from mlmodels.models import ModelVersion
from mlmodels.selectors import active_model_versions
from patients.models import Patient
from patients.selectors import patient_get, patient_list

from . import corrections, diary, holter, ingestion, plots, selectors, services, shapes, twelve_lead
from .forms import (
    ActivityForm,
    BeatCorrectionForm,
    BeatPickForm,
    DiaryForm,
    EventReviewForm,
    InterpretationForm,
    MoveConfirmForm,
    MoveForm,
    ReviewForm,
    UploadForm,
)
from .models import Beat, BeatCorrection, BeatFamily, Diagnosis, ECGRecording, Event, Interpretation

BEATS_PER_PAGE = 50
INTERPRET_PER_PAGE = 20  # the dashboard's worklist of recordings awaiting interpretation


def dashboard(request):
    if not request.htmx:  # it lists patients, scores and flags: a visit is audited, its polls are not
        audit.record(request, AuditEvent.Action.VIEW, object_type="dashboard")
    # each done recording says whether its report is signed or preliminary (one subquery in each list's query)
    recordings = selectors.with_interpretation_state(selectors.recording_list(user=request.user))
    today = timezone.localdate()
    today_qs = recordings.filter(created_at__date=today)
    pending = recordings.filter(status__in=[ECGRecording.Status.QUEUED, ECGRecording.Status.PROCESSING])
    failed = recordings.filter(status=ECGRecording.Status.FAILED)
    awaiting = selectors.review_queue(user=request.user).filter(reviewed=False)
    life_threatening = selectors.life_threatening_awaiting(user=request.user)
    alarms = list(life_threatening[:20])
    for r in alarms:  # the first episode awaiting a decision, on the event list's page that holds it
        r.alarm_place = holter.first_alarm_place(r)
    worklist = _interpretation_worklist(request) if request.user.can_review else {"in_all": 0, "page": 1}
    context = {
        "life_threatening": alarms,
        "to_interpret": worklist,
        "today_date": today,
        "today": today_qs[:20],
        "pending": pending[:20],
        "failed": failed[:20],
        "awaiting_review": awaiting[:20],
        "counts": {
            "today": today_qs.count(),
            "pending": pending.count(),
            "failed": failed.count(),
            "awaiting": awaiting.count(),
            "life_threatening": life_threatening.count(),
            "to_interpret": worklist["in_all"],
        },
        "models_missing": _missing_models(),
    }
    return render(request, "diagnostics/dashboard.html", context)


def _interpretation_worklist(request) -> dict:
    """A doctor's worklist: a page (``interpret_page``) of the recordings awaiting interpretation, oldest first,
    each with what it is (``what``) and its flags, and how many there are in all (a page past the end, the list
    having shortened meanwhile, is the first page). The count is a query of its own, read from an index alone: as a
    window over the page's query it had joined every awaiting recording's patient and diagnosis (97 ms for 4,258)."""
    awaiting = selectors.interpretation_awaiting(user=request.user)
    asked = request.GET.get("interpret_page", "")
    number = int(asked) if asked.isascii() and asked.isdigit() and len(asked) < 7 and int(asked) > 0 else 1
    rows = list(awaiting[(number - 1) * INTERPRET_PER_PAGE : number * INTERPRET_PER_PAGE])
    if not rows and number > 1:
        number, rows = 1, list(awaiting[:INTERPRET_PER_PAGE])
    for r in rows:
        r.what = _recording_what(r)  # type: ignore[attr-defined]
    in_all = selectors.interpretation_awaiting_count(user=request.user) if rows else 0
    first = (number - 1) * INTERPRET_PER_PAGE
    return {
        "rows": rows,
        "page": number,
        "in_all": in_all,
        "first": first + 1,
        "last": first + len(rows),
        "more": in_all - first - len(rows),
        "previous": number - 1,
        "next": number + 1,
    }


def _recording_what(recording: ECGRecording) -> str:
    """What a recording holds, in a few words: a signal's length and kind, a beat file's number of beats."""
    if recording.kind == ECGRecording.Kind.BEATS:
        beats = recording.diagnosis.beat_count
        return f"beat file, {corrections.beats_said(beats)}"
    seconds = (
        recording.sample_count / recording.sampling_rate if recording.sample_count and recording.sampling_rate else None
    )
    if twelve_lead.is_twelve_lead(recording.leads or []):
        kind = "12-lead"
    else:  # as the report reads it: a recording that is not a 12-lead is ambulatory, its rhythm first
        kind = "rhythm strip" if seconds is not None and seconds < 60 else "Holter"
    return f"{kind}, {clock(seconds)}" if seconds is not None else kind


def _missing_models() -> list[str]:
    active = active_model_versions()
    return [label for task, label in ModelVersion.Task.choices if task not in active]


@require_http_methods(["GET", "POST"])
def recording_upload(request, patient_id: int):
    patient = patient_get(user=request.user, patient_id=patient_id)
    form = UploadForm(request.POST if request.method == "POST" else None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                parsed, data, filename = form.parse()
            except UploadRefused as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                status = status_for(exc)
            else:
                recording = _submit_once(request, form, patient=patient, parsed=parsed, data=data, filename=filename)
                messages.success(request, "Upload accepted; classification is queued.")
                return _replayed(redirect("recording-detail", recording_id=recording.pk), recording)
        else:
            status = 400
    return render(
        request,
        "diagnostics/upload.html",
        {
            "form": form,
            "patient": patient,
            "models_missing": _missing_models(),
            "files_sent": len(request.FILES.getlist("files")),  # a browser does not keep them on the page shown again
        },
        status=status,
    )


def _submit_once(request, form, **upload) -> ECGRecording:
    """The upload's recording: the one already made for this page's submission when the same upload
    arrives again (a double click, a resent form), a new one otherwise (the page's form reused, by the
    back button, for another file)."""
    submission = form.submission_key()
    if submission:
        fingerprint = form.submission_fingerprint(upload["patient"].pk)
        for key in _page_keys("upload-page", submission, fingerprint):
            try:
                recording = services.recording_submit(
                    user=request.user, idempotency_key=key, fingerprint=fingerprint, **upload
                )
            except IdempotencyKeyReused:
                continue
            if recording.status != ECGRecording.Status.FAILED:  # sending a failed upload again is a retry
                return recording
            break
    return services.recording_submit(user=request.user, **upload)


def _page_keys(page: str, submission: str, fingerprint: str) -> tuple[str, str]:
    """The idempotency keys of a page's submission: its own, then, for the page's form reused for something else
    (by the back button), one of that submission, so that it too is made once however often it is sent."""
    return f"{page}:{submission}", f"{page}:{submission}:{fingerprint[:16]}"


def _replayed(response, made) -> HttpResponse:
    """The page's answer, marked as a replay where nothing was made: audited as a view, not a second write."""
    if getattr(made, "replayed", False):
        response["Idempotent-Replayed"] = "true"
    return response


def recording_detail(request, recording_id: int):
    recording = selectors.recording_get(user=request.user, recording_id=recording_id)
    return _detail_page(request, recording)


def _detail_page(request, recording: ECGRecording):
    """The recording's page; after a refused signature, the interpretation form with the text as it was sent and
    the reason (kept in the session by ``recording_interpret``, shown once)."""
    context = _result_context(request, recording)
    diagnosis = context["diagnosis"]
    context["models_missing"] = _missing_models() if recording.is_pending else []
    # the same file uploaded for this patient before (a second upload of one record, or a resend): said, not
    # refused, as analysing it again with another model is a reason to send it again
    context["same_file"] = selectors.recordings_of_same_file(recording=recording)[:3]
    # the patients it was filed under before, whose pages no longer list it
    context["moves"] = list(selectors.recording_move_list(recording=recording))
    if diagnosis:
        context.update(_beat_table(request, recording), beat_classes=_beat_class_choices(diagnosis))
        context["beats_corrected"], context["latest_correction"] = selectors.beats_corrected(recording=recording)
        context["has_shapes"] = context["latest_correction"] is not None or recording.beat_families.exists()
        if context["beat_pick"] is not None:  # the viewer's form calling the beat selected another class
            seen = context["beat_pick"].initial["seen"]
            context["viewer_correct"] = BeatPickForm(
                initial={"then": "viewer", "seen": seen}, auto_id="viewer-correct-%s"
            )
        _beat_pick_draft(request, recording, context)
        if diagnosis.rhythm:
            context.update(holter.summary_context(recording, diagnosis.rhythm))
            context["events_page"], context["event_rows"] = holter.events_page(request, recording)
            context["events_type"] = holter.event_type_wanted(request)
            context["event_types"] = holter.event_type_counts(recording)
            context["event_review_form"] = EventReviewForm() if request.user.can_review else None
    context.update(_interpretation_context(request, recording, diagnosis))
    if diary.keeps_diary(recording):
        context.update(_diary_context(request, recording, diagnosis))
    _messages_in_place(request, context)
    return render(request, "diagnostics/recording_detail.html", context)


# What a refused diary entry was typed as and why, per recording, from the refusing POST to the page it redirects to.
DIARY_DRAFT_SESSION_KEY = "diary-draft:{}"
# At most this much of each field a refused form's draft keeps (and shows again): a session, stored in the database,
# holds no megabyte pasted by mistake into a note of at most 500 characters.
DRAFT_FIELD_CHARS = 1000


def _diary_context(request, recording: ECGRecording, diagnosis) -> dict:
    """The diary section: its entries with the rhythm at each, and the form to enter one (after a refusal, as it
    was typed, with the reason beside the field at fault)."""
    rhythm = diagnosis.rhythm if diagnosis else None
    entries = list(selectors.diary_list(recording=recording))
    rows = diary.entry_rows(recording, entries, rhythm, strips=len(entries))
    form = DiaryForm()
    draft = request.session.pop(DIARY_DRAFT_SESSION_KEY.format(recording.pk), None)
    if isinstance(draft, dict):
        form = DiaryForm({name: str(draft.get(name, ""))[:DRAFT_FIELD_CHARS] for name in ("time", "symptom", "note")})
        form.is_valid()
        at_fault = str(draft.get("field")) if draft.get("field") in ("time", "symptom", "note") else "time"
        form.add_error(at_fault, str(draft.get("error") or "The entry was not made."))
        # the focus is put on it by app.js (the first field in error): a page opened at #diary-form does not
        # autofocus, as browsers leave the focus alone at a fragment
        form.fields[at_fault].widget.attrs.update(
            {"aria-invalid": "true", "aria-describedby": f"diary-{at_fault}-error"}
        )
    started = holter.wall_clock(recording, 0) if diary.reads_time_of_day(recording) else None
    return {
        "diary_rows": rows,
        "diary_correlation": diary.correlation(rows),
        "diary_form": form,
        "diary_started": started,
        "diary_length": clock(diary.duration_s(recording)),
        **_activities_context(request, recording, diagnosis),
    }


# What a refused activity was typed as and why, per recording (as DIARY_DRAFT_SESSION_KEY for a symptom).
ACTIVITY_DRAFT_SESSION_KEY = "activity-draft:{}"
ACTIVITY_FIELDS = ("kind", "start", "end", "note")


def _activities_context(request, recording: ECGRecording, diagnosis) -> dict:
    """The diary's activities with the heart rate over each period, the form to enter one (after a refusal, as it
    was typed, the reason beside the field at fault) and, once the analysis is done and a sleep period entered, the
    heart rate awake and asleep (shown in the Holter summary)."""
    rhythm = diagnosis.rhythm if diagnosis else None
    activities = list(selectors.activity_list(recording=recording))
    form = ActivityForm(prefix="activity")
    draft = request.session.pop(ACTIVITY_DRAFT_SESSION_KEY.format(recording.pk), None)
    if isinstance(draft, dict):
        form = ActivityForm(
            {f"activity-{name}": str(draft.get(name, ""))[:DRAFT_FIELD_CHARS] for name in ACTIVITY_FIELDS},
            prefix="activity",
        )
        form.is_valid()
        at_fault = str(draft.get("field")) if draft.get("field") in ACTIVITY_FIELDS else "start"
        form.add_error(at_fault, str(draft.get("error") or "The activity was not entered."))
    done = recording.status == ECGRecording.Status.DONE
    return {
        "activity_rows": [diary.activity_row(recording, a, rhythm) for a in activities],
        "activity_form": form,
        "awake_asleep": diary.awake_asleep(recording, rhythm, activities) if done else None,
    }


@require_POST
def recording_diary(request, recording_id: int):
    """A symptom from the patient's diary entered (any member of the clinic): back to the diary, at the entry; a
    refusal goes back to the form as typed, the reason beside the field at fault."""
    recording = selectors.recording_get(user=request.user, recording_id=recording_id)
    form = DiaryForm(request.POST)
    typed = {name: request.POST.get(name, "")[:DRAFT_FIELD_CHARS] for name in ("time", "symptom", "note")}
    target = reverse("recording-detail", args=[recording.pk])

    def refused(error: str, field: str):
        request.session[DIARY_DRAFT_SESSION_KEY.format(recording.pk)] = typed | {"error": error, "field": field}
        return _refused(redirect(target + "#diary-form"))

    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        return refused(" ".join(str(e) for e in errors), field)
    fields = form.cleaned_data
    if not fields["symptom"]:
        return refused("Choose the symptom the diary names.", "symptom")
    try:
        sample = diary.sample_of(recording, fields["time"])
        sent = {"recording": recording.pk, "sample": sample, "symptom": fields["symptom"], "note": fields["note"]}
        entry = _once(
            form,
            page="diary-page",
            sent=sent,
            write=lambda **key: services.diary_entry_add(
                recording=recording,
                by=request.user,
                sample=sample,
                symptom=fields["symptom"],
                note=fields["note"],
                **key,
            ),
        )
    except Invalid as exc:
        return refused(exc.message, exc.field if exc.field in ("time", "symptom", "note") else "time")
    except Conflict as exc:  # the diary is full
        messages.error(request, exc.message, extra_tags="diary")
        return _refused(redirect(target + "#diary"))
    messages.success(
        request, f"{diary.symptom_said(entry)} at {diary.moment(recording, entry.sample)} entered.", extra_tags="diary"
    )
    # back to the form, where the next line of the diary is entered (the list, above it, shows the entry)
    return _replayed(redirect(target + "#diary-form"), entry)


@require_POST
def diary_remove(request, recording_id: int, entry_id: int):
    """A diary entry entered by mistake removed (any member of the clinic; audited): back to the diary."""
    entry = selectors.diary_entry_get(user=request.user, recording_id=recording_id, entry_id=entry_id)
    recording = entry.recording
    said = f"{diary.symptom_said(entry)} at {diary.moment(recording, entry.sample)}"
    target = reverse("recording-detail", args=[recording.pk]) + "#diary"
    if services.diary_entry_remove(entry=entry, by=request.user):
        messages.success(request, f"The diary entry “{said}” was removed.", extra_tags="diary")
        return redirect(target)
    # a second click, or a colleague's removal first: nothing more to do
    messages.info(request, f"The diary entry “{said}” had been removed already.", extra_tags="diary")
    return _refused(redirect(target))


@require_POST
def recording_activity(request, recording_id: int):
    """An activity from the patient's diary entered (any member of the clinic): back to the activities; a refusal
    goes back to the form as typed, the reason beside the field at fault (as a symptom's)."""
    recording = selectors.recording_get(user=request.user, recording_id=recording_id)
    form = ActivityForm(request.POST, prefix="activity")
    typed = {name: request.POST.get(f"activity-{name}", "")[:DRAFT_FIELD_CHARS] for name in ACTIVITY_FIELDS}
    target = reverse("recording-detail", args=[recording.pk])

    def refused(error: str, field: str):
        request.session[ACTIVITY_DRAFT_SESSION_KEY.format(recording.pk)] = typed | {"error": error, "field": field}
        return _refused(redirect(target + "#activity-form"))

    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        return refused(" ".join(str(e) for e in errors), field)
    fields = form.cleaned_data
    if not fields["kind"]:
        return refused("Choose the activity the diary names.", "kind")
    try:
        start, end = diary.span_of(recording, fields["start"], fields["end"])
        sent = {"recording": recording.pk, "kind": fields["kind"], "start": start, "end": end, "note": fields["note"]}
        activity = _once(
            form,
            page="activity-page",
            sent=sent,
            write=lambda **key: services.diary_activity_add(
                recording=recording,
                by=request.user,
                kind=fields["kind"],
                start=start,
                end=end,
                note=fields["note"],
                **key,
            ),
        )
    except Invalid as exc:
        return refused(exc.message, exc.field if exc.field in ACTIVITY_FIELDS else "start")
    except Conflict as exc:
        if exc.field in ACTIVITY_FIELDS:  # a sleep period over another: beside its "from"
            return refused(exc.message, exc.field)
        messages.error(request, exc.message, extra_tags="activities")  # the diary is full
        return _refused(redirect(target + "#activities"))
    row = diary.activity_row(recording, activity, None)
    when = f"from {row['start']} to {row['end']}" if row["end"] else f"at {row['start']}"
    messages.success(request, f"{row['said']} {when} entered.", extra_tags="activities")
    return _replayed(redirect(target + "#activity-form"), activity)


@require_POST
def activity_remove(request, recording_id: int, activity_id: int):
    """A diary activity entered by mistake removed (any member of the clinic; audited): back to the activities."""
    activity = selectors.activity_get(user=request.user, recording_id=recording_id, activity_id=activity_id)
    row = diary.activity_row(activity.recording, activity, None)
    said = f"{row['said']} {'from' if row['end'] else 'at'} {row['start']}"
    target = reverse("recording-detail", args=[activity.recording_id]) + "#activities"
    if services.diary_activity_remove(activity=activity, by=request.user):
        messages.success(request, f"The activity “{said}” was removed.", extra_tags="activities")
        return redirect(target)
    messages.info(request, f"The activity “{said}” had been removed already.", extra_tags="activities")
    return _refused(redirect(target))


# What a refused beat correction was typed as and why, per recording, from the refusing POST to the shapes page.
SHAPES_DRAFT_SESSION_KEY = "shapes-draft:{}"
CORRECTION_FIELDS = ("to_class", "note")
CORRECTED_MEANWHILE = "A colleague corrected this recording's beats meanwhile: look again. Nothing was changed."


def _require_corrector(user) -> None:
    if not user.can_review:
        raise PermissionDenied("Only doctors and administrators correct beat classes.")


def recording_shapes(request, recording_id: int):
    """The recording's beat shapes (its families: a Holter system's templates) class by class, each its mean beat,
    and for doctors and administrators a form to call a family's beats another class; then the corrections made,
    with the latest one still in force to undo."""
    recording = selectors.recording_get(user=request.user, recording_id=recording_id)
    diagnosis = getattr(recording, "diagnosis", None) if recording.status == ECGRecording.Status.DONE else None
    families = selectors.beat_family_list(recording=recording) if diagnosis else []
    made = list(selectors.beat_correction_list(recording=recording)) if diagnosis else []
    sections = shapes.class_sections(recording, families, diagnosis)
    can_correct = diagnosis is not None and request.user.can_review
    if can_correct:
        draft = request.session.pop(SHAPES_DRAFT_SESSION_KEY.format(recording.pk), None)
        seen = selectors.beat_corrections_version(recording=recording, made=made)
        for row in (row for section in sections for row in section["rows"]):
            row["form"] = _correction_form(row["family"], draft, seen)
    rows = shapes.correction_rows(recording, made, families)
    for row in rows:
        row["undoable"] = row["undoable"] and can_correct
    # an undo's message in the corrections, where the page scrolls back to, not at the top out of view
    said = list(messages.get_messages(request))
    return render(
        request,
        "diagnostics/shapes.html",
        {
            "messages": [m for m in said if m.extra_tags != "corrections" or not diagnosis],
            "corrections_messages": [m for m in said if m.extra_tags == "corrections" and diagnosis],
            "recording": recording,
            "diagnosis": diagnosis,
            "rhythm_recomputing": _rhythm_recomputing(diagnosis),
            "sections": sections,
            "corrections": rows,
            "can_correct": can_correct,
            # the leads the shapes are drawn in (a single-lead recording's one)
            "leads": shapes.lead_names(recording, families)[
                : max((len(f.template.get("leads", [])) for f in families), default=0)
            ],
        },
    )


def _correction_form(family: BeatFamily, draft, seen: str) -> BeatCorrectionForm:
    """A family's correction form, over the corrections as the page shows them (``seen``): empty, or as it was typed
    with the reason beside the field at fault where the correction refused just before was of this family."""
    auto_id = f"family-{family.number}-%s"
    if not isinstance(draft, dict) or draft.get("family") != family.number:
        return BeatCorrectionForm(initial={"family": family.number, "seen": seen}, auto_id=auto_id)
    typed = {name: str(draft.get(name, ""))[:DRAFT_FIELD_CHARS] for name in CORRECTION_FIELDS}
    form = BeatCorrectionForm({**typed, "family": family.number, "seen": seen}, auto_id=auto_id)
    form.is_valid()
    at_fault = str(draft.get("field")) if draft.get("field") in CORRECTION_FIELDS else "to_class"
    form.add_error(at_fault, str(draft.get("error") or "The beats were not corrected."))
    return form


@require_POST
def beat_correct(request, recording_id: int):
    """A doctor calls a family's beats another class (diagnostics.corrections): back to the shapes page, which shows
    the counts as they are now; a refusal goes back to the family's form as typed, the reason beside the field."""
    # the recording first: another clinic's staff get its 404, not a 403 that says it exists
    recording = selectors.recording_get(user=request.user, recording_id=recording_id)
    _require_corrector(request.user)
    form = BeatCorrectionForm(request.POST)
    target = reverse("recording-shapes", args=[recording.pk])
    if not form.is_valid() and "family" in form.errors:
        messages.error(request, "The correction named no beat shape: choose the class beside the shape's drawing.")
        return _refused(redirect(target))
    family = form.cleaned_data["family"]

    def refused(error: str, field: str):
        typed = {name: request.POST.get(name, "")[:DRAFT_FIELD_CHARS] for name in CORRECTION_FIELDS}
        request.session[SHAPES_DRAFT_SESSION_KEY.format(recording.pk)] = typed | {
            "error": error,
            "field": field,
            "family": family,
        }
        return _refused(redirect(f"{target}#family-{family}-form"))

    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        return refused(" ".join(str(e) for e in errors), field if field in CORRECTION_FIELDS else "to_class")
    to_class, note = form.cleaned_data["to_class"], form.cleaned_data["note"]
    if not to_class:
        return refused("Choose the class to call these beats.", "to_class")
    try:
        made = _once(
            form,
            page="shapes-page",
            sent={"recording": recording.pk, "family": family, "to_class": to_class, "note": note},
            write=lambda **key: corrections.beat_correction_make(
                recording=recording,
                by=request.user,
                to_class=to_class,
                family=family,
                note=note,
                precondition=_corrections_unchanged(recording, form.cleaned_data["seen"]),
                **key,
            ),
        )
    except PreconditionFailed:
        return refused(CORRECTED_MEANWHILE, "to_class")
    except NotFound:  # a shape this recording does not have (a page from before it was analysed again)
        messages.error(request, f"This recording has no beat shape {family + 1}: look at its shapes again.")
        return _refused(redirect(target))
    except (Invalid, Conflict) as exc:
        at_fault = str(getattr(exc, "field", None) or "")
        return refused(exc.message, at_fault if at_fault in CORRECTION_FIELDS else "to_class")
    changed = made.beats_changed
    shape = recording.beat_families.filter(number=family).first()
    messages.success(
        request,
        f"{corrections.beats_said(changed)} of {shapes.family_said(shape) if shape else f'shape {family + 1}'} "
        f"{'is' if changed == 1 else 'are'} now {to_class} ({AAMI_NAMES[to_class].lower()})."
        + (" The rhythm is being recomputed over the corrected classes." if _rhythm_outdated(recording) else ""),
    )
    return _replayed(redirect(target), made)


def _corrections_unchanged(recording: ECGRecording, seen: str):
    """The check, under the recording's lock, that its corrections are still as the page showed them (``seen``, the
    form's version; none from a page from before the forms sent it: not checked)."""
    if not seen:
        return None

    def check() -> None:
        if selectors.beat_corrections_version(recording=recording) != seen:
            raise PreconditionFailed(CORRECTED_MEANWHILE, field="seen")

    return check


def _rhythm_outdated(recording: ECGRecording) -> bool:
    return Diagnosis.objects.filter(recording_id=recording.pk, rhythm_outdated_at__isnull=False).exists()


@require_POST
def beat_correction_undo(request, recording_id: int, correction_id: int):
    """The latest correction still in force undone (doctors and administrators): back to the history, saying so, or
    why not (a later correction to undo first)."""
    correction = selectors.beat_correction_get(
        user=request.user, recording_id=recording_id, correction_id=correction_id
    )
    _require_corrector(request.user)  # after the 404 of another clinic's correction, as beat_correct
    target = reverse("recording-shapes", args=[recording_id]) + "#corrections"
    said = f"The correction of {corrections.beats_said(correction.beats_changed)} to {correction.to_class}"
    try:
        undone = corrections.beat_correction_undo(correction=correction, by=request.user)
    except Conflict as exc:
        messages.error(request, exc.message, extra_tags="corrections")
        return _refused(redirect(target))
    if not undone:  # a second click, or a colleague's undo first
        messages.info(request, f"{said} had been undone already.", extra_tags="corrections")
        return _refused(redirect(target))
    messages.success(request, f"{said} was undone: each beat has the class it had before it.", extra_tags="corrections")
    return redirect(target)


# What a refused correction of beats chosen one by one was sent as and why, per recording, from the refusing POST to
# the recording's page: the beat table's form (the beats ticked again) or the viewer's.
PICK_DRAFT_SESSION_KEY = "beat-pick-draft:{}"
PICK_BACK_PARAMS = ("page", "beats_class", "beats_family")  # the beat table's page the beats were ticked on


def _pick_back(back: str) -> str:
    """The query of the beat table's page the ticks were made on, as the form sent it: its page, class and shape
    only, so that the redirect goes back to that page of the table and nowhere else."""
    asked = QueryDict(back[:200])
    kept = QueryDict(mutable=True)
    for name in PICK_BACK_PARAMS:
        value = asked.get(name, "")
        if value and len(value) <= 12 and value.isascii() and value.isalnum():
            kept[name] = value
    return kept.urlencode()


def _beats_said(indices: list[int]) -> str:
    """Beats by the numbers the table and the viewer give them (from 1): "beat 4", "beats 4, 9 and 12", and past
    a few, how many."""
    numbers = [f"{i + 1:,}" for i in indices]
    if len(numbers) == 1:
        return f"beat {numbers[0]}"
    if len(numbers) <= 6:
        return f"beats {', '.join(numbers[:-1])} and {numbers[-1]}"
    return f"{len(numbers):,} beats ({', '.join(numbers[:3])} … {numbers[-1]})"


@require_POST
def beats_correct(request, recording_id: int):
    """A doctor calls beats chosen one by one another class (diagnostics.corrections): those ticked in the beat table,
    back to the same page of the table, or the one selected in the ECG viewer (``then=viewer``), back to the viewer
    with the beat selected again. A refusal goes back there too, with the reason beside the form and what was sent
    (the ticks, the class, the note) as it was."""
    recording = selectors.recording_get(user=request.user, recording_id=recording_id)
    _require_corrector(request.user)  # after the 404 of another clinic's recording, as beat_correct
    form = BeatPickForm(request.POST)
    valid = form.is_valid()
    in_viewer = request.POST.get("then") == "viewer"
    ticked = form.cleaned_data.get("beats", []) if "beats" not in form.errors else []
    page = reverse("recording-detail", args=[recording.pk])
    if in_viewer:
        target = page + (f"?beat={ticked[0]}" if len(ticked) == 1 else "") + "#viewer"
    else:
        back = _pick_back(request.POST.get("back", ""))
        target = page + (f"?{back}" if back else "") + "#beat-pick"

    def refused(error: str, field: str):
        typed = {name: request.POST.get(name, "")[:DRAFT_FIELD_CHARS] for name in CORRECTION_FIELDS}
        request.session[PICK_DRAFT_SESSION_KEY.format(recording.pk)] = typed | {
            "error": error,
            "field": field if field in (*CORRECTION_FIELDS, "beats") else "beats",
            "beats": ticked[: BeatCorrection.MAX_BEATS_CHOSEN],
            "then": "viewer" if in_viewer else "table",
        }
        return _refused(redirect(target))

    if not valid:
        field, errors = next(iter(form.errors.items()))
        return refused(" ".join(str(e) for e in errors), field)
    to_class, note = form.cleaned_data["to_class"], form.cleaned_data["note"]
    if not ticked:
        return refused("Tick the beats to change first: none was ticked.", "beats")
    if not to_class:
        return refused("Choose the class to call these beats.", "to_class")
    try:
        made = _once(
            form,
            page="beat-pick",
            sent={"recording": recording.pk, "beats": ticked, "to_class": to_class, "note": note},
            write=lambda **key: corrections.beat_correction_make(
                recording=recording,
                by=request.user,
                to_class=to_class,
                beats=ticked,
                note=note,
                precondition=_corrections_unchanged(recording, form.cleaned_data["seen"]),
                **key,
            ),
        )
    except PreconditionFailed:  # the ticks are kept: the beats may be looked at again and sent as they are
        return refused(CORRECTED_MEANWHILE, "beats")
    except (Invalid, Conflict) as exc:
        field = str(getattr(exc, "field", None) or "beats")
        # in the page's numbers where the beats were refused (a refused note beside the note, as said)
        return refused((field == "beats" and _no_such_beat(recording, ticked)) or exc.message, field)
    changed = made.beat_indices
    said = _beats_said(changed)
    left = len(ticked) - len(changed)
    messages.success(
        request,
        f"{said[0].upper()}{said[1:]} {'is' if len(changed) == 1 else 'are'} now {to_class} "
        f"({AAMI_NAMES[to_class].lower()})."
        + (f" {left:,} of the beats chosen {'was' if left == 1 else 'were'} {to_class} already." if left else "")
        + (" The rhythm is being recomputed over the corrected classes." if _rhythm_outdated(recording) else ""),
        extra_tags="viewer" if in_viewer else "beat-pick",
    )
    return _replayed(redirect(target), made)


def _no_such_beat(recording: ECGRecording, ticked: list[int]) -> str:
    """Where the service refused beats past the recording's last (it names them by index, from 0, as the API does),
    the refusal in the page's numbers, from 1; else nothing. Asked only on a refusal: the service decides, in its
    order (too many beats named is said before a beat that is not there)."""
    if len(ticked) > BeatCorrection.MAX_BEATS_CHOSEN:
        return ""
    count = Diagnosis.objects.filter(recording_id=recording.pk).values_list("beat_count", flat=True).first()
    missing = None if count is None else next((i for i in ticked if i >= count), None)
    if missing is None:
        return ""
    return f"There is no beat {missing + 1:,}: this recording's beats are numbered 1 to {count:,}."


def _beat_pick_draft(request, recording: ECGRecording, context: dict) -> None:
    """The correction of beats chosen one by one refused just before, once: the beat table's form as it was sent
    (its beats ticked again) with the reason beside the field at fault, or the viewer's reason and class."""
    draft = request.session.pop(PICK_DRAFT_SESSION_KEY.format(recording.pk), None)
    if not isinstance(draft, dict):
        return
    error = str(draft.get("error") or "The beats' class was not changed.")
    field = str(draft.get("field") or "beats")
    ticked = {i for i in draft.get("beats") or [] if isinstance(i, int)}
    if draft.get("then") == "viewer":
        context["viewer_correct_error"] = error
        if context.get("viewer_correct") is not None:
            context["viewer_correct"].initial["to_class"] = str(draft.get("to_class", ""))
        return
    if context.get("beat_pick") is None:
        return
    typed = {name: str(draft.get(name, "")) for name in CORRECTION_FIELDS}
    shown = context["beat_pick"].initial  # the table's place and the corrections' version, as they are now
    form = BeatPickForm({**typed, "back": shown.get("back", ""), "seen": shown.get("seen", "")}, auto_id="beat-pick-%s")
    form.is_valid()
    form.errors.clear()
    form.add_error(field if field in CORRECTION_FIELDS else None, error)
    context.update(beat_pick=form, beat_pick_ticked=ticked)


# The text of a refused signature and the reason, per recording, from the refusing POST to the page it redirects to
# (at most this many characters of the text: a session holds no megabyte pasted by mistake).
DRAFT_SESSION_KEY = "interpretation-draft:{}"
DRAFT_MAX_CHARS = 20 * Interpretation.MAX_LENGTH


def _interpretation_refused(request, recording: ECGRecording, text: str, error: str, field: str = "text"):
    """Post/redirect/get: the recording's page at its interpretation, which shows the text (and an amendment's
    reason) as typed and why it was refused, beside the field at fault (a page rendered at the form's URL answered
    its own relative links, and a reload, with 405)."""
    request.session[DRAFT_SESSION_KEY.format(recording.pk)] = {
        "text": text[:DRAFT_MAX_CHARS],
        "reason": request.POST.get("reason", "")[:DRAFT_MAX_CHARS],
        "error": error,
        "field": "reason" if field == "reason" else "text",
    }
    return _refused(redirect(reverse("recording-detail", args=[recording.pk]) + "#interpretation"))


def _refused(response):
    """A redirect back to a form whose write was refused: nothing to record as written (accounts.audit)."""
    response.write_refused = True
    return response


def _refused_form(request, recording: ECGRecording) -> InterpretationForm | None:
    """The form of the signature refused just before, as it was sent and with its reason, once; None without one."""
    draft = request.session.pop(DRAFT_SESSION_KEY.format(recording.pk), None)
    if not isinstance(draft, dict):
        return None
    form = InterpretationForm({"text": str(draft.get("text", "")), "reason": str(draft.get("reason", ""))})
    form.errors.pop("text", None)  # (the field's own check, a NUL character, is the reason kept: said once)
    at_fault = "reason" if draft.get("field") == "reason" else "text"
    form.add_error(at_fault, str(draft.get("error") or "The interpretation was not signed."))
    form.fields[at_fault].widget.attrs.update(
        {
            "aria-invalid": "true",
            "aria-describedby": "interpretation-reason-error" if at_fault == "reason" else "interpretation-error",
            "autofocus": True,  # the reason and the text, not the top of a long page, 18 tabs away
        }
    )
    form.fields["text"].widget.attrs["data-draft-server"] = "true"  # a script's draft in this tab never replaces it
    return form


def _interpretation_context(request, recording: ECGRecording, diagnosis) -> dict:
    """The interpretation section: the current version, the one it amends and the earlier ones, and for a doctor
    the form (the current text to amend, or the text of a refused signature with its reason) with how many VF/VFL
    and asystole episodes await a decision."""
    form = _refused_form(request, recording)
    versions = list(selectors.interpretation_list(recording=recording)) if diagnosis else []
    current = versions[0] if versions else None
    context: dict[str, object] = {
        "interpretation": current,
        "interpretation_amends": next((v for v in versions if current and v.pk == current.amends_id), None),
        "interpretation_earlier": versions[1:],
        "interpretation_decisions_since": selectors.decisions_since(recording=recording, moment=current.created_at)
        if current
        else None,
        "interpretation_form": form,
    }
    if diagnosis and request.user.can_review:
        if form is None:
            form = InterpretationForm(initial={"text": current.text} if current else None)
            context["interpretation_form"] = form
        # the version shown is the one signed over: a colleague's newer one, signed since, refuses the signature
        form.fields["amends"].initial = current.pk if current else None
        if form.is_bound:  # a refused form's data: the version now shown, not the one it was sent over
            form.data = {**form.data, "amends": current.pk if current else ""}
        # this tab's draft belongs to this doctor and to the version shown: another who signs in at this browser,
        # or a colleague's version signed since, does not get it restored over what the page now shows
        form.fields["text"].widget.attrs["data-draft-key"] = (
            f"{DRAFT_SESSION_KEY.format(recording.pk)}:{request.user.pk}:{current.pk if current else 0}"
        )
        waiting = selectors.life_threatening_awaiting(user=request.user).filter(pk=recording.pk).first()
        if waiting is not None:  # annotated by the selector
            context["interpretation_alarms"] = waiting.unreviewed_events  # type: ignore[attr-defined]
            context["interpretation_alarm_place"] = holter.first_alarm_place(waiting)
    return context


def _messages_in_place(request, context: dict) -> None:
    """An event review's message beside that event, and a signature's in the interpretation section, where the
    page scrolls to, not at the page's top out of view (the messages for events not on this page stay at the
    top)."""
    rows = {f"event-{row['event'].pk}": row for row in context.get("event_rows", [])}
    top = []
    for message in messages.get_messages(request):
        if message.extra_tags == "interpretation":
            context.setdefault("interpretation_messages", []).append(message)
        elif message.extra_tags == "diary" and "diary_rows" in context:
            context.setdefault("diary_messages", []).append(message)
        elif message.extra_tags == "activities" and "activity_rows" in context:
            context.setdefault("activity_messages", []).append(message)
        elif message.extra_tags == "beat-pick" and context.get("beat_pick") is not None:
            context.setdefault("beat_pick_messages", []).append(message)
            # the correction made: the ticks the page's script kept for it are done with
            context["beat_pick_done"] = context.get("beat_pick_done") or message.level == messages.SUCCESS
        elif message.extra_tags == "viewer" and context.get("viewer_correct") is not None:
            context.setdefault("viewer_messages", []).append(message)
        elif message.extra_tags in rows:
            rows[message.extra_tags].setdefault("messages", []).append(message)
        else:
            top.append(message)
    context["messages"] = top


@require_POST
def recording_interpret(request, recording_id: int):
    """A doctor signs the recording's interpretation, or an amendment of it, and is taken back to it, or with
    ``then=next`` to the next recording awaiting interpretation; a refusal takes the doctor back to the form with
    the text as typed and the reason beside it."""
    if not request.user.can_review:
        raise PermissionDenied("Only doctors and administrators sign interpretations.")
    recording = selectors.recording_get(user=request.user, recording_id=recording_id)
    form = InterpretationForm(request.POST)
    typed = request.POST.get("text", "")
    if not form.is_valid():  # a NUL character (the field's own check), a malformed hidden field
        said = " ".join(str(e) for errors in form.errors.values() for e in errors)
        return _interpretation_refused(request, recording, typed, said)
    try:
        interpretation = services.interpretation_sign(
            user=request.user,
            recording=recording,
            text=form.cleaned_data["text"],
            # a page sends the version it showed (empty: none); a form from before the field was added is not checked
            amends=form.cleaned_data["amends"] if "amends" in request.POST else services.UNCHECKED,
            reason=form.cleaned_data["reason"],
            acknowledge_undecided=form.cleaned_data["acknowledge_undecided"],
        )
    except (Invalid, Conflict) as exc:
        return _interpretation_refused(request, recording, typed, exc.message, getattr(exc, "field", None) or "text")
    request.session.pop(DRAFT_SESSION_KEY.format(recording.pk), None)
    what = "Amended interpretation" if interpretation.amends_id else "Interpretation"
    if request.POST.get("then") != "next":
        messages.success(request, f"{what} signed.", extra_tags="interpretation")
        return redirect(reverse("recording-detail", args=[recording.pk]) + "#interpretation")
    # a morning's batch: the next recording due (oldest first), at its interpretation
    following = selectors.interpretation_awaiting(user=request.user).exclude(pk=recording.pk).first()
    signed = f"{what} of recording {recording.pk} ({recording.patient.display_name}) signed."
    if following is None:
        messages.success(request, f"{signed} No other recording awaits interpretation.")
        return redirect("dashboard")
    messages.success(request, f"{signed} This is the next awaiting interpretation.", extra_tags="interpretation")
    return redirect(reverse("recording-detail", args=[following.pk]) + "#interpretation")


def _require_mover(user) -> None:
    if not user.can_review:
        raise PermissionDenied("Only doctors and administrators move a recording to another patient.")


@require_http_methods(["GET", "POST"])
def recording_move(request, recording_id: int):
    """Filed under the wrong patient? A doctor gives the right patient's MRN and the reason, then confirms the move
    on a page naming both patients (``recording_move_confirm`` makes it)."""
    _require_mover(request.user)
    recording = selectors.recording_get(user=request.user, recording_id=recording_id)
    if request.method == "GET":
        # back from the confirmation (its breadcrumb or the browser's Back): the MRN and reason given are kept
        pending = _pending_move(request, recording)
        initial = {"mrn": pending[0].mrn, "reason": pending[1]["reason"]} if pending else None
        return _move_page(request, recording, MoveForm(initial=initial))
    form = MoveForm(request.POST)
    if not form.is_valid():
        return _move_page(request, recording, form)
    mrn = form.cleaned_data["mrn"].strip()
    patient = patient_list(user=request.user, mrn=mrn).first() if mrn else None
    if patient is None:
        form.add_error("mrn", f"No patient of your clinic has the MRN “{mrn}”: check it, or create the patient first.")
        return _move_page(request, recording, form)
    if patient.pk == recording.patient_id:
        form.add_error(
            "mrn",
            f"The recording is already filed under {patient.display_name} (MRN {patient.mrn}): give the MRN "
            "of the patient it belongs to.",
        )
        return _move_page(request, recording, form)
    try:
        reason = services.recording_move_reason_clean(form.cleaned_data["reason"])
    except Invalid as exc:
        form.add_error("reason", exc.message)
        return _move_page(request, recording, form)
    # The confirmation is a page of its own (post/redirect/get): Back from the recording's page after the move, or
    # a reload, showed the browser's "Confirm Form Resubmission" instead.
    request.session[_PENDING_MOVE.format(recording.pk)] = {
        "patient": patient.pk,
        "reason": reason,
        "seen_patient": recording.patient_id,
    }
    response = redirect("recording-move-confirm", recording_id=recording.pk)
    response.status_code = 303
    request.audit_recorded = True  # nothing written, nothing shown yet: the confirmation's page is audited
    return response


_PENDING_MOVE = "move-pending-{}"  # the session's move of a recording, given and not yet confirmed


def _pending_move(request, recording: ECGRecording) -> tuple[Patient, dict] | None:
    """The move of ``recording`` this session has given and not yet confirmed, with its patient (still of the
    clinic), or None."""
    pending = request.session.get(_PENDING_MOVE.format(recording.pk))
    if not isinstance(pending, dict) or not isinstance(pending.get("patient"), int):
        return None
    patient = patient_list(user=request.user).filter(pk=pending["patient"]).first()
    return (patient, pending) if patient is not None else None


def _move_confirm_page(request, recording: ECGRecording):
    pending = _pending_move(request, recording)
    if pending is None:  # none given in this session (or its patient gone): the form
        return redirect("recording-move", recording_id=recording.pk)
    patient, fields = pending
    # the page names the patient asked for: a view of that patient's record
    audit.record(request, AuditEvent.Action.VIEW, object_type="patient", object_id=patient.pk)
    confirm = MoveConfirmForm(initial=fields)
    return render(
        request,
        "diagnostics/move_confirm.html",
        {
            "recording": recording,
            "from_patient": recording.patient,
            "to_patient": patient,
            "reason": fields["reason"],
            "form": confirm,
        },
    )


def _move_page(request, recording: ECGRecording, form: MoveForm, *, status: int | None = None):
    context = {"recording": recording, "form": form}
    return render(request, "diagnostics/move.html", context, status=status or (400 if form.errors else 200))


@require_http_methods(["GET", "POST"])
def recording_move_confirm(request, recording_id: int):
    """The page naming both patients (GET, from the move this session gave), and the move confirmed (POST): made once
    however often the button is pressed, then the recording's page says so. A refusal (the recording moved by
    someone else since, a reason no longer taken) is the move form again, saying why."""
    _require_mover(request.user)
    recording = selectors.recording_get(user=request.user, recording_id=recording_id)
    if request.method == "GET":
        return _move_confirm_page(request, recording)
    form = MoveConfirmForm(request.POST)
    if not form.is_valid():
        again = MoveForm({"mrn": "", "reason": request.POST.get("reason", "")})
        again.is_valid()  # (bound, so that it can say why)
        again.add_error(None, "The confirmation was incomplete: give the patient's MRN and the reason again.")
        return _move_page(request, recording, again)
    fields = form.cleaned_data
    patient = patient_list(user=request.user).filter(pk=fields["patient"]).first()
    try:
        if patient is None:  # another clinic's, or none: as the service says it
            raise NotFound(f"No patient {fields['patient']} in your clinic.", field="patient")
        made = _once(
            form,
            page="move-page",
            sent={"recording": recording.pk, "patient": patient.pk, "reason": fields["reason"]},
            write=lambda **key: services.recording_move(
                recording=recording,
                patient=patient,
                by=request.user,
                reason=fields["reason"],
                seen_patient_id=fields["seen_patient"],
                **key,
            ),
        )
    except ApplicationError as exc:
        again = MoveForm({"mrn": patient.mrn if patient else "", "reason": fields["reason"]})
        again.is_valid()
        again.add_error(None, exc.message)
        return _move_page(request, recording, again, status=status_for(exc))
    moved_to = made.to_patient
    request.session.pop(_PENDING_MOVE.format(recording.pk), None)
    messages.success(
        request,
        f"Recording {recording.pk} moved to {moved_to.display_name} (MRN {moved_to.mrn}). Reason: {made.reason}",
    )
    return _replayed(redirect("recording-detail", recording_id=recording.pk), made)


def recording_rhythm(request, recording_id: int):
    """The per-minute heart-rate trend, every event, the diary's entries and its sleep periods, for the trend chart
    and the viewer's marks and steps."""
    recording = selectors.recording_get(user=request.user, recording_id=recording_id)
    diagnosis = getattr(recording, "diagnosis", None) if recording.status == ECGRecording.Status.DONE else None
    rhythm = diagnosis.rhythm if diagnosis else None
    events = selectors.event_list(recording=recording).values("id", "type", "start", "end", "beats", "rate_bpm")
    return JsonResponse(
        {
            "fs": recording.sampling_rate,
            "samples": recording.sample_count,
            # where the file stated when it started, the seconds after midnight of its first sample (else null): the
            # chart's time axis and cursor then give the time of day, as the diary does
            "start_of_day": None if (day_start := holter.start_of_day(recording)) is None else round(day_start, 3),
            "trend": rhythm.get("trend") if rhythm else None,
            "events": [dict(e, label=Event.Type(e["type"]).label) for e in events] if rhythm else [],
            "diary": diary.marks(recording) if diary.keeps_diary(recording) else [],
            "sleep": diary.sleep_spans(recording) if diary.keeps_diary(recording) else [],
        }
    )


@require_POST
def event_review(request, event_id: int):
    if not request.user.can_review:
        raise PermissionDenied("Only doctors and administrators review rhythm events.")
    event = selectors.event_get(user=request.user, event_id=event_id)
    # back to the page of events the doctor was on (a later page of a long Holter's events)
    page, kind = request.POST.get("events_page", ""), request.POST.get("events_type", "")
    query = f"?events_page={int(page)}" if page.isascii() and page.isdigit() and 1 < int(page[:9]) else ""
    if kind in Event.Type.values:  # and to the list narrowed to one type, as it was
        query += f"{'&' if query else '?'}events_type={kind}"
    target = reverse("recording-detail", args=[event.recording_id]) + f"{query}#event-{event.pk}"
    form = EventReviewForm(request.POST)
    if not form.is_valid():
        # the field at fault named: a note too long (or holding a NUL) had been told to choose confirm or reject
        field = "decision" if "decision" in form.errors else next(iter(form.errors))
        said = (
            "Choose confirm or reject for the event."
            if field == "decision"
            else f"The {field} was not accepted: {' '.join(str(e) for e in form.errors[field])} Nothing was recorded."
        )
        messages.error(request, said, extra_tags=f"event-{event.pk}")
        return _refused(redirect(target))
    try:
        made = _submitted_once(request, form, services.event_review_create, page="event-page", event=event)
    except Invalid as exc:  # a VF/asystole rejection without its reason
        messages.error(request, exc.message, extra_tags=f"event-{event.pk}")
        return _refused(redirect(target))
    messages.success(
        request, f"{event.get_type_display()} {form.cleaned_data['decision']}ed.", extra_tags=f"event-{event.pk}"
    )
    return _replayed(redirect(target), made)


def recording_status(request, recording_id: int):
    """The live status fragment; once processing ends, or the rhythm's recomputation after a beat correction, the
    page reloads to show the results."""
    recording = selectors.recording_get(user=request.user, recording_id=recording_id)
    diagnosis = getattr(recording, "diagnosis", None) if recording.status == ECGRecording.Status.DONE else None
    recomputing = _rhythm_recomputing(diagnosis)
    response = render(
        request,
        "diagnostics/_status.html",
        {
            "recording": recording,
            "rhythm_recomputing": recomputing,
            "models_missing": _missing_models() if recording.is_pending else [],
        },
    )
    was = request.GET.get("was")
    if (not recording.is_pending and was in {"queued", "processing"}) or (was == "recomputing" and not recomputing):
        response["HX-Refresh"] = "true"
    return response


def _rhythm_recomputing(diagnosis: Diagnosis | None) -> bool:
    """Whether the worker is recomputing the rhythm after a beat correction (not once it has said it cannot)."""
    return bool(diagnosis and diagnosis.rhythm_outdated_at and not diagnosis.rhythm_recompute_error)


BEAT_TABLE_PARAMS = ("page", "beats_class", "beats_at", "beats_family", "beat")


class _Jump(NamedTuple):
    page: int | None  # the page to show (None: the one asked for)
    beat: Beat | None  # the beat gone to
    note: str  # where the table went
    error: str  # why it went nowhere, or to the last page


def _beat_jump(
    recording: ECGRecording, aami_class: str, asked: str, paginator: Paginator, family: int | None = None
) -> _Jump:
    """The page of ``paginator`` (the beats of ``aami_class``, or of every class; of the shape ``family``, or of
    any) holding the first beat at or after the time ``asked``; the last page where the time is after its last
    beat."""
    fs = recording.sampling_rate
    if recording.kind != ECGRecording.Kind.SIGNAL or not fs:
        return _Jump(None, None, "", "This recording holds beat rows, not a signal: its beats have no time to go to.")
    seconds = seconds_from_clock(asked)
    if seconds is None:
        return _Jump(
            None,
            None,
            "",
            f"“{asked[:20]}” is not a time into the recording: write h:mm:ss, m:ss or seconds (1:23:45, 83:45 "
            "or 5025).",
        )
    seconds = math.floor(seconds)  # the second it falls in, as the page writes times: the table goes where it says
    kind = f"{aami_class} beat" if aami_class else "beat"
    if recording.sample_count is not None and seconds * fs >= recording.sample_count:
        length = clock(recording.sample_count / fs)
        error = f"{clock(seconds)} is past the end of the recording, which is {length} long."
        if recording.recorded_at is not None:  # a time of day typed for the time into the recording
            started = holter.wall_clock(recording, 0)
            error += f" It started at {started:%H:%M:%S}: the time is counted from there (0:00:00)."
        return _Jump(paginator.num_pages, None, "", error)
    found = selectors.beat_first_at(
        recording=recording,
        classes=[aami_class] if aami_class else None,
        family=family,
        position=math.ceil(seconds * fs),
    )
    if found is None:
        return _Jump(paginator.num_pages, None, "", f"No {kind} at or after {holter.at(recording, seconds)}.")
    beat, before = found
    assert beat.position is not None  # beat_first_at compares it
    note = (
        f"Beat {beat.index + 1} at {holter.at(recording, beat.position / fs)} is the first {kind} at or after "
        f"{holter.at(recording, seconds)}."
    )
    return _Jump(before // BEATS_PER_PAGE + 1, beat, note, "")


def _beat_table(request, recording: ECGRecording) -> dict:
    """The beat table's page and the line above it: the beats of one class (``?beats_class=``) or all, at the page
    asked for (``?page=``) or at the page holding the first beat at or after a time into the recording
    (``?beats_at=``). An input it cannot follow is said on that line, beside the form, and the table shown as if
    it had not been given: never an error status, which an htmx swap of the table would drop unsaid. The page's
    other query parameters are kept by the form and the pager's links."""
    kept = request.GET.copy()
    for name in BEAT_TABLE_PARAMS:
        kept.pop(name, None)
    asked_class = request.GET.get("beats_class", "").strip()
    aami_class = asked_class.upper() if asked_class.upper() in AAMI_CLASSES else ""
    class_error = ""
    if asked_class and not aami_class:
        class_error = f"There is no beat class “{asked_class[:20]}”: choose N, S, V, F or Q. Every beat is shown."
    classes = [aami_class] if aami_class else None
    family, family_error = _beat_family_wanted(request, recording)
    number = None if family is None else family.number
    paginator = Paginator(selectors.beat_list(recording=recording, classes=classes, family=number), BEATS_PER_PAGE)
    page_number: int | str | None = request.GET.get("page")
    asked_at = request.GET.get("beats_at", "").strip()
    jump = _beat_jump(recording, aami_class, asked_at, paginator, number) if asked_at else None
    if jump is not None:
        page_number = jump.page or page_number
    page = paginator.get_page(page_number)
    fs = recording.sampling_rate if recording.kind == ECGRecording.Kind.SIGNAL else None
    diagnosis = getattr(recording, "diagnosis", None)
    query = kept.copy()
    if aami_class:
        query["beats_class"] = aami_class
    every_shape = query.copy()  # the same table of every shape (the family filter's "show every shape")
    if family is not None:
        query["beats_family"] = str(family.number)
    return {
        "beats_family": family,
        "beats_family_said": "" if family is None else shapes.family_said(family),
        "beats_family_error": family_error,
        "beats_every_shape": every_shape.urlencode(),
        "beat_page": page,
        "beat_rows": [
            (b, holter.at(recording, b.position / fs) if fs and b.position is not None else "—") for b in page
        ],
        "beats_by_rule": any(b.by_rule for b in page),  # the table's footnote, only where a beat has the mark
        # the MI probability column wherever the MI model read the beats: where the screen applies, assessed or not
        # (an ambulatory recording's column was empty throughout)
        "beats_mi": diagnosis is not None and diagnosis.mi_status != Diagnosis.MiStatus.NOT_APPLICABLE,
        "beats_class": aami_class,
        "beats_at": asked_at,
        "beats_class_error": class_error,
        "beats_at_error": "" if jump is None else jump.error,
        "beats_landed": None if jump is None or jump.beat is None else jump.beat.index,
        "beats_landed_note": "" if jump is None else jump.note,
        "beats_query": query.urlencode(),
        "beats_kept": [(name, value) for name, values in kept.lists() for value in values],
        "beat_pick": _beat_pick_form(request, recording, query, page.number),
        "beat_pick_ticked": (),  # the beats of a refused correction, ticked again (_beat_pick_draft)
    }


def _beat_pick_form(request, recording: ECGRecording, query: QueryDict, page: int) -> BeatPickForm | None:
    """For doctors and administrators, the form calling the beats ticked on the table's page another class; it
    sends the page's place in the table (its class, shape and number) to come back to."""
    if not request.user.can_review or recording.status != ECGRecording.Status.DONE:
        return None
    back = QueryDict(mutable=True)
    for name in ("beats_class", "beats_family"):
        if value := query.get(name):
            back[name] = str(value)
    back["page"] = str(page)
    seen = selectors.beat_corrections_version(recording=recording)
    return BeatPickForm(initial={"back": back.urlencode(), "then": "table", "seen": seen}, auto_id="beat-pick-%s")


def _beat_family_wanted(request, recording: ECGRecording) -> tuple[BeatFamily | None, str]:
    """The beat family the table is narrowed to (``?beats_family=``, its number: the shapes page's links), and why
    none is where the number names no family of the recording."""
    asked = request.GET.get("beats_family", "").strip()
    if not asked:
        return None, ""
    family = None
    if asked.isascii() and asked.isdigit() and len(asked) < 6:
        family = recording.beat_families.filter(number=int(asked)).first()
    if family is None:
        said = f"{int(asked) + 1}" if asked.isascii() and asked.isdigit() and len(asked) < 6 else f"“{asked[:20]}”"
        return None, f"This recording has no beat shape {said}: beats of every shape are shown."
    return family, ""


def _beat_class_choices(diagnosis: Diagnosis) -> list[tuple[str, str, int]]:
    """The beat table's class filter: (class, name, beats), All first; the counts are the diagnosis's, not a count
    of a 24-hour recording's beats per class at each visit."""
    return [("", "All", diagnosis.beat_count)] + [(c, AAMI_NAMES[c], n) for c, n, _ in diagnosis.class_counts()]


def recording_beats(request, recording_id: int):
    """The beat table alone, for htmx (its pager and its form), with the line above it out of band. The recording's
    page at the table's class, shape and page goes into the address bar, so a reload (the page's own once the rhythm
    is recomputed, or the user's) shows the table as it was left, and the beats ticked on it."""
    recording = selectors.recording_get(user=request.user, recording_id=recording_id)
    table = _beat_table(request, recording)
    response = render(request, "diagnostics/_beats.html", {"recording": recording, "beats_fragment": True, **table})
    if request.htmx and not request.htmx.history_restore_request:
        shown = QueryDict(table["beats_query"], mutable=True)
        shown["page"] = str(table["beat_page"].number)
        push_url(response, f"{reverse('recording-detail', args=[recording.pk])}?{shown.urlencode()}#beats")
    return response


def beat_plot(request, recording_id: int, index: int):
    recording = selectors.recording_get(user=request.user, recording_id=recording_id)
    beat = selectors.beat_list(recording=recording).filter(index=index).first()
    if beat is None:
        return HttpResponse("No such beat.", status=404)
    values = plots.beat_values(recording, index)
    return render(
        request,
        "diagnostics/_beat_plot.html",
        {"recording": recording, "beat": beat, "svg": plots.beat_svg(values, title=f"Beat {index + 1}")},
    )


def review_queue(request):
    if not request.user.can_review:
        raise PermissionDenied("Only doctors and administrators review MI cases.")
    page = Paginator(selectors.review_queue(user=request.user), 25).get_page(request.GET.get("page"))
    return render(request, "diagnostics/review_queue.html", {"page": page})


@require_POST
def review_create(request, diagnosis_id: int):
    if not request.user.can_review:
        raise PermissionDenied("Only doctors and administrators review MI cases.")
    diagnosis = selectors.diagnosis_get(user=request.user, diagnosis_id=diagnosis_id)
    form = ReviewForm(request.POST)
    if not form.is_valid():  # the review page again, the note kept and the error beside the decision
        recording = selectors.recording_get(user=request.user, recording_id=diagnosis.recording_id)
        return _review_page(request, recording, form, status=400)
    try:
        made = _submitted_once(request, form, services.review_create, page="review-page", diagnosis=diagnosis)
    except Conflict as exc:
        if exc.code != "review_changed":
            raise
        # a colleague decided meanwhile: the page again with their decision in it, the doctor's choice and note kept
        recording = selectors.recording_get(user=request.user, recording_id=diagnosis.recording_id)
        again = ReviewForm(initial={"decision": form.cleaned_data["decision"], "note": form.cleaned_data["note"]})
        return _review_page(request, recording, again, status=409, refused=exc.message)
    messages.success(request, "Review recorded.")
    if request.POST.get("next") == "queue":
        return _replayed(redirect("review-queue"), made)
    if request.POST.get("next") == "review":
        return _replayed(redirect("recording-review", recording_id=diagnosis.recording_id), made)
    return _replayed(redirect("recording-detail", recording_id=diagnosis.recording_id), made)


def _submitted_once(request, form: ReviewForm, write: Callable[..., Any], *, page: str, **target) -> Any:
    """A doctor's decision (``write``: an MI review, an event's review), once for this page's submission: the form
    sent again (a double click, a resent page) records no second decision and sends no second notice; the page's
    form reused for another decision is a new one, made once too."""
    fields = form.review()
    return _once(
        form,
        page=page,
        sent=fields | {name: obj.pk for name, obj in target.items()},
        write=lambda **key: write(user=request.user, **target, **fields, **key),
    )


def _once(form, *, page: str, sent: dict, write: Callable[..., Any]) -> Any:
    """``write(idempotency_key=..., fingerprint=...)`` once per submission of the page's ``form`` (SubmittedOnce),
    ``sent`` being what it asks for; ``write()`` without a key when the form sent none."""
    submission = form.submission_key()
    if submission:
        fingerprint = ingestion.submission_fingerprint(sent)
        for key in _page_keys(page, submission, fingerprint):
            try:
                return write(idempotency_key=key, fingerprint=fingerprint)
            except IdempotencyKeyReused:
                continue
    return write()


class BadParameter(ValueError):
    pass


def _int_param(request, name: str, default: int) -> int:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError
        return int(value)
    except (ValueError, OverflowError):
        raise BadParameter(f"{name} must be a finite number of samples") from None


def recording_signal(request, recording_id: int):
    """The analysed lead (or ``lead``, any lead of the file) between samples ``start`` and ``end`` as a
    min/max envelope of about ``px`` points, with the beats found there (``beats``: each one's index, position and
    class, up to MARKS_PER_PX a point; beyond, ``beats`` null and ``beat_counts`` their counts by class in the
    envelope's buckets: ``start``, ``step``, ``classes`` {class: [count of each bucket]}) and the stretches the file
    marks as lost (``lost``: [start, end] samples, end inclusive; the envelope holds the line drawn
    across them), and on the analysed lead the stretches its analysis found too noisy to read
    (``noise``, the same form)."""
    recording = selectors.recording_get(user=request.user, recording_id=recording_id)
    if recording.kind != ECGRecording.Kind.SIGNAL:
        raise Http404("This recording holds beat rows, not a continuous signal.")
    asked = request.GET.get("lead") or None
    # the analysed lead is always one, also where the file's other leads were not listed
    listed = recording.leads or []
    known_leads = listed if recording.lead in listed else [*listed, recording.lead]
    if asked is not None and asked not in known_leads:
        known = ", ".join(known_leads)
        return JsonResponse({"error": f"lead {asked[:40]!r} not found; available leads: {known}"}, status=400)
    try:
        lead = plots.recording_lead(recording, asked)
    except selectors.STORED_READ_ERRORS as exc:
        message = selectors.stored_read_failure(exc)
        return JsonResponse({"error": f"the stored signal could not be read: {message}"}, status=422)
    n = len(lead.values)
    try:
        start = _int_param(request, "start", 0)
        end = _int_param(request, "end", n)
        px = _int_param(request, "px", 1000)
    except BadParameter as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    data = plots.envelope(lead.values, start=start, end=end, px=px)
    # the beats bounded as the samples are: each one marked up to MARKS_PER_PX a pixel, else counted by class in the
    # envelope's buckets (a day's window held 100,000 marks)
    most = plots.MARKS_PER_PX * max(1, min(px, plots.MAX_PX))
    beats = selectors.beat_marks(recording=recording, start=max(0, start), end=min(n, end), most=most)
    counts = None
    if len(beats) > most:
        beats = []
        counts = {
            "start": data["start"],
            "step": data["step"],
            "classes": selectors.beat_counts(
                recording=recording,
                start=max(0, start),
                end=min(n, end),
                first=data["start"],
                step=data["step"],
                buckets=len(data["min"]),
            ),
        }
    data.update(
        fs=lead.fs,
        samples=n,
        lead=lead.name,
        units=lead.units,
        beats=None
        if counts
        else {"index": [b[0] for b in beats], "position": [b[1] for b in beats], "class": [b[2] for b in beats]},
        beat_counts=counts,
        lost=[[a, b] for a, b in lead.lost if b >= start and a < end],
        noise=[[a, b] for a, b in _noise(recording) if b >= start and a < end]
        if lead.name == plots.recording_lead(recording).name
        else [],
    )
    return JsonResponse(data)


def _noise(recording: ECGRecording) -> list[tuple[int, int]]:
    """The stretches of the analysed lead its rhythm analysis left out as too noisy to read."""
    diagnosis = getattr(recording, "diagnosis", None)
    rhythm = getattr(diagnosis, "rhythm", None) or {}
    return [(int(s["start"]), int(s["end"])) for s in rhythm.get("noise", [])]


def beat_data(request, recording_id: int, index: int):
    """One beat: its class, probabilities and model-input values (187 at 120 Hz)."""
    recording = selectors.recording_get(user=request.user, recording_id=recording_id)
    beat = selectors.beat_get(recording=recording, index=index)
    values = plots.beat_values(recording, index)
    return JsonResponse(
        {
            "index": beat.index,
            "count": recording.progress_total or selectors.beat_list(recording=recording).count(),
            "position": beat.position,
            "class": beat.aami_class,
            "class_name": AAMI_NAMES.get(beat.aami_class, ""),
            "by_rule": beat.by_rule,
            "corrected_from": beat.corrected_from,  # the analysis's class, where a doctor changed it
            # as stored: the panel rounds them as the beat table does (cut to 4 places first, 0.34648 read 0.347
            # there against the table's 0.346)
            "probabilities": dict(beat.probabilities),
            "mi_probability": beat.mi_probability,
            "fs": BEAT_FS,
            "values": None if values is None else [round(float(v), 4) for v in values],
        }
    )


def _viewer(recording: ECGRecording, request=None) -> dict:
    """URLs and facts the viewer script reads from its element's data attributes; the beat the page was opened at
    (``?beat=``, an index: the shapes page's "Show in viewer"), selected and in view once it loads."""
    asked = request.GET.get("beat", "") if request is not None else ""
    beat_url = reverse("beat-data", args=[recording.pk, 0]).replace("/0/data/", "/{i}/data/")
    return {
        "kind": recording.kind,
        "signal_url": reverse("recording-signal", args=[recording.pk])
        if recording.kind == ECGRecording.Kind.SIGNAL
        else "",
        "beat_url": beat_url,
        "rhythm_url": reverse("recording-rhythm", args=[recording.pk])
        if recording.kind == ECGRecording.Kind.SIGNAL
        else "",
        # where the file stated when it started: the seconds after midnight of its first sample, so the viewer
        # writes times of day as the event list does
        "start_of_day": "" if (day_start := holter.start_of_day(recording)) is None else f"{day_start:.3f}",
        "select": str(int(asked)) if asked.isascii() and asked.isdigit() and len(asked) < 9 else "",
    }


def _require_reviewer(user) -> None:
    if not user.can_review:
        raise PermissionDenied("Only doctors and administrators review MI cases.")


def _result_context(request, recording: ECGRecording) -> dict:
    diagnosis = getattr(recording, "diagnosis", None) if recording.status == ECGRecording.Status.DONE else None
    svg = twelve_lead.recording_twelve_lead_svg(recording) if diagnosis else ""
    return {
        "recording": recording,
        "diagnosis": diagnosis,
        "rhythm_recomputing": _rhythm_recomputing(diagnosis),
        "reviews": selectors.review_history(diagnosis=diagnosis) if diagnosis else [],
        "latest_review": diagnosis.latest_review() if diagnosis else None,
        "viewer": _viewer(recording, request) if diagnosis else None,
        "twelve_lead": svg,
        # the captions give the paper's scale only where the file stated its units
        "twelve_lead_in_mv": 'data-in-mv="true"' in svg,
        "aami_names": list(AAMI_NAMES.items()),
        # the zone's clocks changed while it ran: its times of day stay on the recorder's clock, which did not
        "clock_change": holter.clock_change(recording),
    }


MI_EXPLANATION_ROWS = 60


def _mi_explanation(recording: ECGRecording, diagnosis) -> dict | None:
    """The beats the MI screen scored, their MI probabilities and positions, for the review page."""
    if diagnosis is None or not diagnosis.mi_screened or diagnosis.mi_score is None or not diagnosis.mi_scored_beats:
        return None
    threshold = diagnosis.mi_threshold
    fs = recording.sampling_rate
    beats: list[dict] = [
        {
            **row,
            "seconds": row["position"] / fs if fs and row["position"] is not None else None,
            "above": row["mi_probability"] is not None and row["mi_probability"] >= threshold,
        }
        # the beats its score is over now: a doctor's beat corrections may have left some of those it scored out
        for row in recording.beats.filter(index__in=corrections.mi_beats_scored(diagnosis))
        .order_by("index")
        .values("index", "position", "aami_class", "p_n", "mi_probability")
    ]
    width = max(100, len(beats))
    step = width / max(1, len(beats))
    points = [
        {
            "x": round(i * step + 0.1 * step, 2),
            "y": round(95 - 90 * (b["mi_probability"] or 0.0), 2),
            "height": round(90 * (b["mi_probability"] or 0.0), 2),
            "above": b["above"],
            "number": b["index"] + 1,
            "probability": b["mi_probability"],
        }
        for i, b in enumerate(beats)
    ]
    return {
        "count": len(beats),
        "left_out": max(0, len(diagnosis.mi_scored_beats) - len(beats)),
        "above": sum(b["above"] for b in beats),
        "beats": beats[:MI_EXPLANATION_ROWS],
        "shown": min(len(beats), MI_EXPLANATION_ROWS),
        "points": points,
        "width": width,
        "bar": round(0.8 * step, 2),
        "threshold_y": round(95 - 90 * threshold, 2),
    }


def recording_review(request, recording_id: int):
    """The doctor's review page: the ECG, the MI score against its threshold and the beats it came
    from, history, decision."""
    _require_reviewer(request.user)
    recording = selectors.recording_get(user=request.user, recording_id=recording_id)
    return _review_page(request, recording, ReviewForm())


def _review_page(request, recording: ECGRecording, form: ReviewForm, status: int = 200, refused: str = ""):
    context = _result_context(request, recording)
    if not form.is_bound and context["latest_review"] is not None:
        form.fields["after"].initial = context["latest_review"].pk  # the decision this page shows
    if not form.is_bound and context["diagnosis"] is not None:
        form.fields["screen"].initial = context["diagnosis"].mi_screen_stamp  # and the screen
    context.update(
        review_refused=refused,
        mi_explanation=_mi_explanation(recording, context["diagnosis"]),
        earlier=selectors.recording_list_earlier(user=request.user, recording=recording)[:10],
        review_form=form if context["diagnosis"] else None,
        models_missing=_missing_models() if recording.is_pending else [],
    )
    # VF/VFL and asystole are decided in the recording page's event list, not here: say so, and where
    waiting = selectors.life_threatening_awaiting(user=request.user).filter(pk=recording.pk).first()
    if waiting is not None:  # annotated by the selector
        context["alarms_waiting"] = waiting.unreviewed_events  # type: ignore[attr-defined]
        context["alarm_place"] = holter.first_alarm_place(waiting)
    return render(request, "diagnostics/review.html", context, status=status)


# The diary entries a printed report shows the strips of (a page each few): every entry is in its table.
REPORT_DIARY_MAX = 12


def recording_report(request, recording_id: int):
    """A printable report: patient, plot, summary, model versions, reviewer and decision."""
    recording = selectors.recording_get(user=request.user, recording_id=recording_id)
    context = _result_context(request, recording)
    if context["diagnosis"]:
        # with the version it amends and who signed that: the report names it
        versions = selectors.interpretation_list(recording=recording).select_related("amends__author")
        context["interpretation"] = versions.first()
        if context["interpretation"] is not None:
            context["interpretation_decisions_since"] = selectors.decisions_since(
                recording=recording, moment=context["interpretation"].created_at
            )
        beats = list(selectors.beat_list(recording=recording)[:200])
        context["strip"] = plots.report_strip(recording, beats)
        context["beat_corrections"] = list(selectors.beat_correction_list(recording=recording, undone=False))
        rhythm = context["diagnosis"].rhythm
        if rhythm:
            context.update(holter.summary_context(recording, rhythm))
            # every entry in the table and on the trend, the strips of the first REPORT_DIARY_MAX (a diary holds at
            # most 60)
            entries = list(selectors.diary_list(recording=recording))
            rows = diary.entry_rows(recording, entries, rhythm, strips=REPORT_DIARY_MAX)
            noted = [
                (row["entry"].sample / recording.sampling_rate, f"{row['symptom']} at {row['at']}") for row in rows
            ]
            fs = recording.sampling_rate or 1.0
            slept = [(p["start"] / fs, p["end"] / fs, p["said"]) for p in diary.sleep_spans(recording)]
            context["trend_svg"] = holter.trend_svg(
                rhythm.get("trend"), noted, slept, day_start=holter.start_of_day(recording)
            )
            context["trend_sleep"] = bool(slept) and bool(context["trend_svg"])
            context["trend_over"] = holter.trend_over(rhythm.get("trend"), recording)
            context["trend_diary"] = holter.trend_diary(len(noted)) if context["trend_svg"] else ""
            context["significant"] = holter.significant_events(recording)
            context["diary_rows"] = rows
            context["diary_strips"] = [row for row in rows if row["strip"]]
            context["diary_correlation"] = diary.correlation(rows)
            activities = list(selectors.activity_list(recording=recording))
            context["activity_rows"] = [diary.activity_row(recording, a, rhythm) for a in activities]
            context["awake_asleep"] = diary.awake_asleep(recording, rhythm, activities)
    # a report printed before a move named another patient: this one says whose record it was filed under before
    context["moves"] = list(selectors.recording_move_list(recording=recording))
    context["printed_at"] = timezone.now()
    return render(request, "diagnostics/report.html", context)
