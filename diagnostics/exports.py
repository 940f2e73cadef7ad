"""CSV exports of a recording's results, safe to open in a spreadsheet."""

import csv
import io
import itertools
import re
from collections.abc import Iterator

from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path
from django.utils import timezone

from ecg.clock import data_seconds
from ecg.constants import AAMI_CLASSES

from . import corrections, diary, selectors
from .models import Diagnosis, ECGRecording

# The events table that follows the beats, one row per rhythm event.
EVENT_COLUMNS = [
    "patient_mrn",
    "recording",
    "event",
    "type",
    "start_sample",
    "end_sample",
    "start_s",
    "duration_s",
    "beats",
    "rate_bpm",
    "review",
    "event_id",  # the event's id in the API (`event` numbers the recording's events in order, as the pages do)
    "rhythm_status",  # RHYTHM_STATUS
    # after it, added later (a reader taking columns by position keeps its own): the start and end moments as
    # date-times with their offset, where the start of the recording is known, as FHIR's episodes give them
    "start_at",
    "end_at",
]

# Last in each table made from the rhythm analysis (the events, the rhythm at a diary's moments, the heart rate over an
# activity): the diagnosis's rhythm_status, as the API gives it. "recomputing" (or "failed") while the rhythm is being
# recomputed over a doctor's corrected beat classes (or could not be): the rows predate the correction, as FHIR's
# Observations made from them are "preliminary"; "current" otherwise. A column, not a note line, so that a program
# reading the table reads it as any other: a line there in that state alone would break its columns then.
RHYTHM_STATUS = "rhythm_status"


def exported_time(moment) -> str:
    """A date-time as every column of the export writes it: in TIME_ZONE with its offset, as the diary's moments and
    the API's times are ("" for none); a doctor's correction or decision in UTC beside them read hours off."""
    return timezone.localtime(moment).isoformat() if moment else ""


# The patient's diary after the events, one row per symptom noted (not those removed as entered by mistake).
DIARY_COLUMNS = [
    "patient_mrn",
    "recording",
    "entry",
    "sample",
    "at_s",
    "at",  # the moment as a date-time with its offset, where the file stated when the recording started
    "symptom",  # the stable code (the API's)
    "note",
    "finding",
    "during",  # the rhythm events the moment lies in, by type, space-separated
    "rate_bpm",  # of the 10-s strip around the moment
    "entered_by",
    "entry_id",
    "rhythm_status",  # RHYTHM_STATUS: of its finding, events and rate
]

# The diary's activities after its symptoms, one row per activity (not those removed as entered by mistake).
ACTIVITY_COLUMNS = [
    "patient_mrn",
    "recording",
    "activity",
    "kind",  # the stable code (the API's): sleep, exercise, medication, other
    "start_sample",
    "end_sample",  # inclusive; empty for a moment (a medicine taken)
    "start_s",
    "end_s",
    "start",  # as date-times with their offset, where the file stated when the recording started
    "end",
    "note",
    "mean_bpm",  # over a period: the per-minute trend's minutes whose middle lies in it
    "lowest_bpm",  # the lowest and highest of those minutes' 4-beat extremes
    "highest_bpm",
    "minutes",  # the minutes counted (with a rate)
    "entered_by",
    "activity_id",
    "rhythm_status",  # RHYTHM_STATUS: of its heart rate
]

# The heart rate awake and asleep after the activities, where the diary holds a sleep period (diary.awake_asleep, as the
# Holter summary and recordings/{id}/sleep give it): one row per side, awake first.
AWAKE_ASLEEP_COLUMNS = [
    "patient_mrn",
    "recording",
    "side",  # awake or asleep: a minute is asleep where its middle lies in a sleep period
    "minutes",  # the minutes counted (with a rate)
    "mean_bpm",  # over the minutes' R-R intervals
    "lowest_bpm",  # the lowest of the minutes' 4-beat minima (not the summary's 8-beat one)
    "lowest_at_s",  # the start of its minute, in seconds from the start of the recording
    "lowest_at",  # the same as a date-time with its offset, where the file stated when the recording started
    "highest_bpm",  # the highest of the minutes' 4-beat maxima
    "highest_at_s",
    "highest_at",
    "af_burden_pct",  # the share of the minutes counted that AF or flutter no doctor rejected covers
    "rhythm_status",  # RHYTHM_STATUS: of its heart rate and burden
]

# ... then the rhythm events by where they began, one row per type, the most serious first (those a doctor rejected
# left out, as the summary leaves them out).
SLEEP_EVENT_COLUMNS = [
    "patient_mrn",
    "recording",
    "type",
    "began_asleep",
    "began_awake",
    "ran_into_sleep",  # of those that began awake, how many ran on into a sleep period
    "total",
    "rhythm_status",  # RHYTHM_STATUS: of the events counted
]

# A doctor's corrections of beat classes last, one row per correction, undone ones too (the beats table gives each
# beat's class as it is now).
CORRECTION_COLUMNS = [
    "patient_mrn",
    "recording",
    "correction",
    "made_at",
    "made_by",
    "family",  # the beat family whose beats it corrected; empty for beats chosen one by one
    "to_class",
    "beats",  # the beats it changed
    *(f"from_{c}" for c in AAMI_CLASSES),  # how many of them were of each class before it
    "note",
    "undone_at",  # empty while it stands
    "undone_by",
    "correction_id",
]

# The last table: the MI screen, one row, with the doctors' latest decision on its flag (the beats' mi_probability alone
# had not said whether the screen spoke, flagged, or was rejected by a doctor).
MI_SCREEN_COLUMNS = [
    "patient_mrn",
    "recording",
    "mi_status",  # screened, not_applicable or not_assessable, as the API gives it
    "mi_reason",
    "mi_lead",
    "beats_scored",  # the beats marked mi_scored in the beat table
    "mi_score",  # empty unless screened
    "mi_threshold",
    "mi_flag",  # the screen's, true or false; it stays true after a doctor rejects it
    "decision",  # the latest doctor's decision on the flag: confirm or reject; empty while none
    "reviewed_by",
    "reviewed_at",
    "review_note",
    "decisions",  # how many decisions were made on the flag, earlier ones included
]

# A cell starting with one of these is taken for a formula by spreadsheet programs.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# ... and a cell starts at the text's start, and, where the spreadsheet's list separator is ";" (Excel in German,
# French or Dutch settings), after every ";" in it: an MRN "A-9;=cmd|..." opened there held a formula cell.
_CELL_STARTS = re.compile(r"(^|;)(?=\s*[=+\-@\t\r])")


def safe_cell(value) -> str:
    """A text cell as written: each place a spreadsheet may start a cell at that would start a formula gets a "'"
    (the text's start, and after each ";"); numbers as they are."""
    text = "" if value is None else str(value)
    if isinstance(value, (int, float)):
        return text
    return _CELL_STARTS.sub(r"\1'", text)


class _Echo:
    def write(self, value):
        return value


def recording_export(request, recording_id: int):
    recording = selectors.recording_get(user=request.user, recording_id=recording_id)
    if recording.status != recording.Status.DONE:
        return HttpResponse("The recording has no results yet.", status=409, content_type="text/plain")
    return recording_csv_response(recording, spreadsheet=True)


# Spreadsheet programs (Excel) read a CSV without it in the machine's legacy code page: "Müller" opens as "MÃ¼ller"
BYTE_ORDER_MARK = "\ufeff"


def recording_csv_response(recording: ECGRecording, *, spreadsheet: bool = False) -> StreamingHttpResponse:
    """The CSV of a done recording (its beats, then its events), streamed as an attachment. The page's export
    (``spreadsheet``: for a person to open) starts with a UTF-8 byte-order mark; the API's (api.views.recordings)
    sends the same bytes without it, which a program's CSV reader would take into the first column's name. The
    caller scopes and checks it."""
    rows = _csv_rows(recording)
    if spreadsheet:
        rows = itertools.chain([BYTE_ORDER_MARK], rows)
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="recording-{recording.pk}-beats.csv"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


RHYTHM_STATE_FIELDS = ("rhythm", "rhythm_outdated_at", "rhythm_recompute_error", "changed_at")


def _rhythm_state(diagnosis: Diagnosis) -> tuple[str, object, object]:
    """A diagnosis's rhythm_status as the API gives it ("" for a beat file, which has no rhythm), with when it last
    changed and when its rhythm was last asked to be recomputed: two reads that agree saw the same rhythm."""
    return diagnosis.rhythm_status or "", diagnosis.changed_at, diagnosis.rhythm_outdated_at


def _rhythm_state_now(recording: ECGRecording) -> tuple[str, object, object]:
    """The recording's `_rhythm_state` read from the database now."""
    return _rhythm_state(Diagnosis.objects.only(*RHYTHM_STATE_FIELDS).get(recording_id=recording.pk))


# Beat rows are read as plain values and written this many to a piece of the response: a 24-hour recording's 109,494
# beats made into model instances and written one row to a piece had taken seconds of Python.
BEAT_ROWS_AT_ONCE = 2000
BEAT_FIELDS = ("index", "position", "aami_class", *(f"p_{c.lower()}" for c in AAMI_CLASSES), "mi_probability")


def _csv_cell(value) -> str:
    """``value`` as the csv module writes it among other cells (quoted where it must be)."""
    line = io.StringIO()
    csv.writer(line).writerow(["", value])  # not alone: a row of one empty cell is written '""'
    return line.getvalue()[1:-2]


def _beat_rows(recording: ECGRecording, scored: set[int]) -> Iterator[str]:
    """The beat table's rows (its header excepted), in pieces of ``BEAT_ROWS_AT_ONCE`` rows: the text the csv module
    writes for them (the cells that may need quoting, the patient's and the class, are written by it once each; the
    others are numbers), in the memory of one piece whatever the recording's length."""
    patient = recording.patient
    ahead = ",".join(_csv_cell(v) for v in (safe_cell(patient.mrn), safe_cell(patient.display_name), recording.pk))
    # when the recording started (where its file stated it or its uploader gave it), the same in every row
    started = _csv_cell(exported_time(recording.recorded_at))
    classes: dict[str, str] = {}
    rows: list[str] = []
    beats = selectors.beat_list(recording=recording).values_list(*BEAT_FIELDS)
    for index, position, aami_class, p_n, p_s, p_v, p_f, p_q, mi in beats.iterator(chunk_size=BEAT_ROWS_AT_ONCE):
        if (cls := classes.get(aami_class)) is None:
            cls = classes[aami_class] = _csv_cell(aami_class)
        rows.append(
            f"{ahead},{index + 1},{'' if position is None else position},{cls},"
            f"{p_n:.6f},{p_s:.6f},{p_v:.6f},{p_f:.6f},{p_q:.6f},{'' if mi is None else f'{mi:.6f}'},"
            f"{index},{1 if index in scored else ''},{started}\r\n"
        )
        if len(rows) == BEAT_ROWS_AT_ONCE:
            yield "".join(rows)
            rows.clear()
    if rows:
        yield "".join(rows)


def _csv_rows(recording: ECGRecording) -> Iterator[str]:
    patient = recording.patient
    writer = csv.writer(_Echo())

    def rows():
        screen = Diagnosis.objects.only("pk", "recording_id", "mi_scored_beats", "mi_reason").get(
            recording_id=recording.pk
        )
        # the beats the MI screen scored, as it stands (as classify_record's mi_scored): its score is over them where
        # it is screened; where too few for a score, they are the few it found fit to score
        scored = set(corrections.mi_beats_scored(screen))
        yield writer.writerow(
            [
                "patient_mrn",
                "patient_name",
                "recording",
                "beat",
                "sample",
                "aami_class",
                "p_n",
                "p_s",
                "p_v",
                "p_f",
                "p_q",
                "mi_probability",
                "beat_index",  # the beat's index in the API, from 0 (`beat` counts from 1, as the pages do)
                "mi_scored",  # 1 for a beat the MI screen scored (the MI screen table, last, has its result)
                "recorded_at",  # when the recording started, where its file stated it or its uploader gave it
            ]
        )
        yield from _beat_rows(recording, scored)
        fs = recording.sampling_rate or 0
        before = _rhythm_state_now(recording)
        events = list(recording.events.all())
        latest = selectors.event_latest_reviews(recording=recording) if events else {}
        # read again after the events (the rhythm for the diary's rows with it): a correction or a recomputation
        # written between the two reads leaves events of either side, so they are said to be recomputing (they had
        # been said current either way)
        diagnosis = Diagnosis.objects.get(recording_id=recording.pk)
        rhythm_status = before[0] if _rhythm_state(diagnosis) == before else "recomputing"
        if events:  # a second table below the beats, as Holter exports list episodes after the beat list
            yield writer.writerow([])
            yield writer.writerow(EVENT_COLUMNS)
            for n, e in enumerate(events, 1):
                review = latest.get(e.pk)
                yield writer.writerow(
                    [
                        safe_cell(patient.mrn),
                        recording.pk,
                        n,
                        e.type,
                        e.start,
                        e.end,
                        f"{data_seconds(e.start / fs):.2f}" if fs else "",
                        f"{data_seconds((e.end - e.start) / fs):.2f}" if fs else "",
                        e.beats,
                        "" if e.rate_bpm is None else e.rate_bpm,
                        review.decision if review else "",
                        e.pk,
                        rhythm_status,
                        exported_time(diary.moment_datetime(recording, e.start)),
                        exported_time(diary.moment_datetime(recording, e.end)),
                    ]
                )

        noted = list(selectors.diary_list(recording=recording))
        if noted:  # a third table: the symptoms, with the rhythm at each, as the report's diary table
            yield writer.writerow([])
            yield writer.writerow(DIARY_COLUMNS)
            rhythm = diagnosis.rhythm
            rhythms = diary.rhythms_at(recording, [entry.sample for entry in noted], rhythm)
            for n, (entry, found) in enumerate(zip(noted, rhythms, strict=True), 1):
                when = diary.moment_datetime(recording, entry.sample)
                yield writer.writerow(
                    [
                        safe_cell(patient.mrn),
                        recording.pk,
                        n,
                        entry.sample,
                        f"{data_seconds(entry.sample / fs):.2f}" if fs else "",
                        exported_time(when),
                        entry.symptom,
                        safe_cell(entry.note),
                        safe_cell(found["finding"]),
                        " ".join(d["type"] for d in found["during"] if not d["rejected"]),
                        "" if found["rate_bpm"] is None else found["rate_bpm"],
                        safe_cell(entry.entered_by.display_name),
                        entry.pk,
                        rhythm_status,
                    ]
                )

        activities = list(selectors.activity_list(recording=recording))
        if activities:  # a fourth table: sleep, exercise, medication, with the heart rate over each period
            yield writer.writerow([])
            yield writer.writerow(ACTIVITY_COLUMNS)
            rhythm = diagnosis.rhythm
            for n, activity in enumerate(activities, 1):
                rate = diary.activity_heart_rate(recording, activity, rhythm) or {}
                ends = [activity.start, activity.end]
                when = [diary.moment_datetime(recording, s) if s is not None else None for s in ends]
                yield writer.writerow(
                    [
                        safe_cell(patient.mrn),
                        recording.pk,
                        n,
                        activity.kind,
                        activity.start,
                        "" if activity.end is None else activity.end,
                        *(f"{data_seconds(s / fs):.2f}" if fs and s is not None else "" for s in ends),
                        *(exported_time(w) for w in when),
                        safe_cell(activity.note),
                        "" if rate.get("mean_bpm") is None else rate["mean_bpm"],
                        *("" if rate.get(k) is None else rate[k]["bpm"] for k in ("lowest", "highest")),
                        rate.get("minutes", ""),
                        safe_cell(activity.entered_by.display_name),
                        activity.pk,
                        rhythm_status,
                    ]
                )

        figures = diary.awake_asleep(recording, diagnosis.rhythm, activities) if activities else None
        if figures is not None:  # a fifth and a sixth: the heart rate awake and asleep, and the events by where
            # they began; read after the diary's rows: the rhythm read a third time, so that a correction or a
            # recomputation written since the first read marks these rows as well
            sleep_status = rhythm_status if _rhythm_state_now(recording) == before else "recomputing"
            yield writer.writerow([])
            yield writer.writerow(AWAKE_ASLEEP_COLUMNS)
            for side in ("awake", "asleep"):
                over = figures[side]
                extremes = []
                for key in ("lowest", "highest"):
                    found = over[key]
                    if found is None:
                        extremes += ["", "", ""]
                        continue
                    at_s = found["minute"] * 60
                    when = diary.moment_datetime(recording, round(at_s * fs)) if fs else None
                    extremes += [found["bpm"], f"{at_s:.2f}", exported_time(when)]
                yield writer.writerow(
                    [
                        safe_cell(patient.mrn),
                        recording.pk,
                        side,
                        over["minutes"],
                        "" if over["mean_bpm"] is None else over["mean_bpm"],
                        *extremes,
                        "" if over.get("af_burden_pct") is None else over["af_burden_pct"],
                        sleep_status,
                    ]
                )
            if figures["events"]:
                yield writer.writerow([])
                yield writer.writerow(SLEEP_EVENT_COLUMNS)
                for item in figures["events"]:
                    yield writer.writerow(
                        [
                            safe_cell(patient.mrn),
                            recording.pk,
                            item["type"],
                            item["asleep"],
                            item["awake"],
                            item["ran_into_sleep"],
                            item["total"],
                            sleep_status,
                        ]
                    )

        made = list(selectors.beat_correction_list(recording=recording))
        if made:  # the last table: a doctor's corrections of beat classes, in the order made
            yield writer.writerow([])
            yield writer.writerow(CORRECTION_COLUMNS)
            for n, correction in enumerate(reversed(made), 1):
                # counted in the database by beat_correction_list (its indices are not read)
                previous, changed = correction.previous_counts, correction.changed  # type: ignore[attr-defined]
                yield writer.writerow(
                    [
                        safe_cell(patient.mrn),
                        recording.pk,
                        n,
                        exported_time(correction.created_at),
                        safe_cell(correction.made_by.display_name),
                        "" if correction.family is None else correction.family,
                        correction.to_class,
                        changed,
                        *(previous.get(c, 0) for c in AAMI_CLASSES),
                        safe_cell(correction.note),
                        exported_time(correction.undone_at),
                        safe_cell(correction.undone_by.display_name) if correction.undone_by else "",
                        correction.pk,
                    ]
                )

        # last: the MI screen as it stands now, with the doctors' latest decision on its flag
        mi = Diagnosis.objects.get(recording_id=recording.pk)
        decisions = list(selectors.review_history(diagnosis=mi))
        latest = decisions[0] if decisions else None
        yield writer.writerow([])
        yield writer.writerow(MI_SCREEN_COLUMNS)
        yield writer.writerow(
            [
                safe_cell(patient.mrn),
                recording.pk,
                mi.mi_status,
                safe_cell(mi.mi_reason),
                safe_cell(mi.mi_lead_display),
                mi.mi_beats_used,
                "" if mi.mi_score is None else f"{mi.mi_score:.6f}",
                "" if mi.mi_threshold is None else mi.mi_threshold,
                "true" if mi.mi_flag else "false",
                latest.decision if latest else "",
                safe_cell(latest.reviewer.display_name) if latest else "",
                exported_time(latest.created_at) if latest else "",
                safe_cell(latest.note) if latest else "",
                len(decisions),
            ]
        )

    return rows()


urlpatterns = [path("recordings/<int:recording_id>/export.csv", recording_export, name="recording-export")]
