"""The patient's Holter diary: the moment a symptom was noted, read from what the clinic types, and the rhythm at
that moment (symptom-rhythm correlation: palpitations during a run of SVT, or dizziness with nothing but sinus
rhythm, which rules an arrhythmia out as its cause just as firmly)."""

import math
import re
from bisect import bisect_left
from datetime import datetime, timedelta
from typing import cast

from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from ecg.clock import clock, seconds_from_clock
from ecg.rhythm import sleep
from ecgsite.errors import Invalid

from . import holter, selectors
from .models import DiaryActivity, DiaryEntry, ECGRecording, Event

# Events this close to a noted moment are named beside it: a patient writes the time to the minute at best.
NEAR_S = 60.0
# The heart rate and beats at a moment are those of the strip shown for it: 5 s either side.
AROUND_S = 5.0
# A time of day is read as the first moment of the recording at that time of day, which is only one moment in
# recordings up to a day long; longer ones take the time into the recording.
TIME_OF_DAY_MAX_S = 24 * 3600
_TIME_OF_DAY = re.compile(r"([01]?[0-9]|2[0-3])[:.h]([0-5][0-9])(?::([0-5][0-9]))?")


# The symptoms' SNOMED CT codes and preferred terms, for systems that read them by code (the API's schema, FHIR);
# "other" has none: its note says what.
SNOMED_CT: dict[str, tuple[str, str]] = {
    DiaryEntry.Symptom.PALPITATIONS: ("80313002", "Palpitations"),
    DiaryEntry.Symptom.DIZZINESS: ("404640003", "Dizziness"),
    DiaryEntry.Symptom.SYNCOPE: ("271594007", "Syncope"),
    DiaryEntry.Symptom.CHEST_PAIN: ("29857009", "Chest pain"),
    DiaryEntry.Symptom.BREATHLESSNESS: ("267036007", "Dyspnea"),
    DiaryEntry.Symptom.FATIGUE: ("84229001", "Fatigue"),
}

# A diary goes with an ambulatory recording, not a resting ECG's ten seconds.
AMBULATORY_MIN_S = 60.0


def keeps_diary(recording: ECGRecording) -> bool:
    """Whether the recording's page has a diary: a signal recording over a minute long whose analysis did not fail."""
    length = duration_s(recording)
    return (
        recording.kind == ECGRecording.Kind.SIGNAL
        and recording.status != ECGRecording.Status.FAILED
        and length is not None
        and length > AMBULATORY_MIN_S
    )


def reads_time_of_day(recording: ECGRecording) -> bool:
    """Whether the page asks for the time of day (the file stated when the recording started, and it is at most a
    day long) rather than the time into the recording."""
    length = duration_s(recording)
    return recording.recorded_at is not None and length is not None and length <= TIME_OF_DAY_MAX_S


def duration_s(recording: ECGRecording) -> float | None:
    if not recording.sampling_rate or recording.sample_count is None:
        return None
    return recording.sample_count / recording.sampling_rate


def sample_of(recording: ECGRecording, text: str, *, field: str = "time", after: int | None = None) -> int:
    """The sample of the moment ``text`` names: a time of day ("14:32", "14:32:10") where the page asks for one
    (`reads_time_of_day`), else a time into the recording ("2:15:00", "135:00" or seconds). Invalid (naming
    ``field``) saying what to write for anything else, or for a moment outside the recording. A time of day is the
    first moment at that time from the start, or with ``after`` (a sample: the beginning of a period whose end this
    is) the first at or after it, so a night written "23:10" to "06:45" ends the next morning."""
    if recording.kind != ECGRecording.Kind.SIGNAL or not recording.sampling_rate or recording.sample_count is None:
        raise Invalid("This recording holds beat rows, not a signal: a diary entry needs a time in it.", field=field)
    text = text.strip()
    length = recording.sample_count / recording.sampling_rate
    seconds: float | None
    if reads_time_of_day(recording):
        since = None if after is None else after / recording.sampling_rate
        seconds = _seconds_from_time_of_day(recording, text, length, field=field, after_s=since)
    else:
        seconds = seconds_from_clock(text) if text else None
        if seconds is None:
            raise Invalid(
                f"“{text[:20]}” is not a time into the recording: write h:mm:ss, m:ss or seconds (1:23:45, 83:45 "
                "or 5025).",
                field=field,
            )
        if seconds > length or (seconds == length and after is None):  # a period may end where the recording does
            raise Invalid(
                f"{clock(seconds)} is past the end of the recording, which is {clock(length)} long.", field=field
            )
        minutes, _, secs = text.partition(":")
        if text.count(":") == 1 and length > 3600 and int(minutes) < 24:
            # "14:32" on a recording of hours is a clock time as often as 14 min 32 s: asked, not guessed ("83:45",
            # no time of day, is taken)
            why = (
                "it ran for more than a day, so each time of day comes more than once"
                if recording.recorded_at is not None
                else "it does not say when it started"
            )
            raise Invalid(
                f"“{text}” could be a time of day, which this recording's file cannot place ({why}): write the time "
                f"into the recording in full, 0:{int(minutes):02d}:{secs} for {int(minutes)} minutes in.",
                field=field,
            )
    return sample_at(recording, seconds)


def sample_at(recording: ECGRecording, seconds: float) -> int:
    """The first sample at or after a moment ``seconds`` into a recording (1.15 s at 360 Hz is sample 414, not the
    413 that 1.15 * 360 = 413.99999999999994 cut would give): a time in hundredths is read back as it was sent, the
    samples being closer than that above 100 Hz."""
    fs = recording.sampling_rate or 0.0
    return min(math.ceil(seconds * fs - 1e-6), (recording.sample_count or 1) - 1)


def _seconds_from_time_of_day(
    recording: ECGRecording, text: str, length: float, *, field: str = "time", after_s: float | None = None
) -> float:
    started = holter.wall_clock(recording, 0)
    ended = holter.wall_clock(recording, length)
    later = " the next day" if ended.date() != started.date() else ""
    span = f"it ran from {started:%H:%M:%S} to {ended:%H:%M:%S}{later}"
    found = _TIME_OF_DAY.fullmatch(text)
    if found is None:
        raise Invalid(
            f"“{text[:20]}” is not a time of day: write it as the diary gives it, hours and minutes (14:32 or "
            f"14:32:10); {span}.",
            field=field,
        )
    hour, minute, second = int(found[1]), int(found[2]), int(found[3] or 0)
    moment = started.replace(hour=hour, minute=minute, second=second, microsecond=0)
    if moment < started - timedelta(minutes=1):  # after midnight: the next day's
        moment += timedelta(days=1)
    seconds = max(0.0, (moment - started).total_seconds())  # the minute it started in is its start
    if after_s is not None and seconds < after_s:  # the end of a period: the next such time after its beginning
        seconds += TIME_OF_DAY_MAX_S
        if seconds >= length:
            raise Invalid(
                f"{text} is before the beginning, and {text} the next day is outside the recording: {span}.",
                field=field,
            )
    if after_s is not None and length <= seconds < length + 60:
        return length  # a period's end written to the minute, within the minute after the recording ended: its end
    if seconds >= length:
        raise Invalid(f"{text} is outside the recording: {span}.", field=field)
    return seconds


def span_of(recording: ECGRecording, start: str, end: str) -> tuple[int, int | None]:
    """The samples of an activity's "from" and "to" as typed (``sample_of``; an empty "to": no end), Invalid naming
    ``start`` or ``end``: a "to" of the time of day is the first after "from" (across midnight), and one into the
    recording must come after it."""
    first = sample_of(recording, start, field="start")
    if not end.strip():
        return first, None
    last = sample_of(recording, end, field="end", after=first)
    if last <= first:
        raise Invalid(
            f"“{end.strip()[:20]}” is not after “{start.strip()[:20]}”: the end comes after the beginning.",
            field="end",
        )
    return first, last


def moment(recording: ECGRecording, sample: int) -> str:
    """A noted moment as the pages write times: the time of day first where the start is known."""
    return holter.at(recording, sample / recording.sampling_rate) if recording.sampling_rate else "—"


def moment_datetime(recording: ECGRecording, sample: int) -> datetime | None:
    """The noted moment as an aware time where the recording's start is known (the API's ``at``)."""
    if recording.recorded_at is None or not recording.sampling_rate:
        return None
    return timezone.localtime(recording.recorded_at + timedelta(seconds=sample / recording.sampling_rate))


# The rhythm events by seriousness, the most serious first: a symptom a second before VF is "before VF", not
# "after the couplet" nearer to it.
SERIOUSNESS = (
    Event.Type.VF,
    Event.Type.ASYSTOLE,
    Event.Type.VT,
    Event.Type.AF,
    Event.Type.AFL,
    Event.Type.SVT,
    Event.Type.PAUSE,
    Event.Type.BRADY,
    Event.Type.TACHY,
    Event.Type.V_RUN,
    Event.Type.S_RUN,
    Event.Type.BIGEMINY,
    Event.Type.TRIGEMINY,
    Event.Type.V_COUPLET,
    Event.Type.S_COUPLET,
)
# The events near a moment listed beside it: the most serious this many (every VF/VFL, asystole and VT among the
# rest too); the others counted.
NEAR_LISTED = 3
ALWAYS_LISTED = frozenset({Event.Type.VF, Event.Type.ASYSTOLE, Event.Type.VT})


def _serious_first(item: dict) -> tuple[int, float]:
    rank = SERIOUSNESS.index(item["type"]) if item["type"] in SERIOUSNESS else len(SERIOUSNESS)
    return rank, item.get("gap_s", 0.0)


def rhythm_at(recording: ECGRecording, sample: int, rhythm: dict | None) -> dict:
    """What the heart did at a noted moment, from the recording's results (``rhythm``, the diagnosis's summary;
    None before the analysis has finished): the rhythm events under it (``during``) and within NEAR_S of it
    (``near``, the most serious first, each with its offset; ``near_more`` counts those not listed), whether the ECG
    could be read there (``unreadable``: no signal or noise), the beats of the AROUND_S either side by class and
    their rate (none inside VF/VFL, without signal or in noise), and a ``finding`` in words. Each event carries
    ``place``, where it is in the recording page's event list."""
    return rhythms_at(recording, [sample], rhythm)[0]


def rhythms_at(recording: ECGRecording, samples: list[int], rhythm: dict | None) -> list[dict]:
    """``rhythm_at`` of each of ``samples``, in their order, in four queries whatever their number (a diary's
    entries had cost four each: 240 for a full diary, on its page, the report, the CSV, FHIR and the API)."""
    fs = recording.sampling_rate or 0.0
    if rhythm is None or not fs or not samples:
        return [
            {
                "finding": "",
                "during": [],
                "near": [],
                "near_more": 0,
                "rate_bpm": None,
                "beats": {},
                "unreadable": "",
            }
            for _ in samples
        ]
    reach = int(NEAR_S * fs)
    moments = sorted(set(samples))
    near_any = Q()
    for sample in moments:
        near_any |= Q(start__lte=sample + reach, end__gte=sample - reach)
    events = list(recording.events.filter(near_any).prefetch_related("reviews").order_by("start", "id"))
    rejected = {e.pk: bool(reviews := list(e.reviews.all())) and reviews[0].decision == "reject" for e in events}
    # the beats of the strips shown for the moments (ten seconds each)
    span = int(2 * AROUND_S * fs)
    firsts = {sample: strip_start(recording, sample) for sample in moments}
    in_strips = Q()
    for first in sorted(set(firsts.values())):
        in_strips |= Q(position__gte=first, position__lt=first + span)
    marks = list(recording.beats.filter(in_strips).order_by("position").values_list("position", "aami_class"))
    at_positions = [int(position or 0) for position, _ in marks]  # position__gte: none without one
    found = {
        sample: _rhythm_at(
            recording,
            sample,
            rhythm,
            [e for e in events if e.start <= sample + reach and e.end >= sample - reach],
            rejected,
            marks[bisect_left(at_positions, firsts[sample]) : bisect_left(at_positions, firsts[sample] + span)],
        )
        for sample in moments
    }
    # each event listed, its position in the event list's order (start, id): one query for them all
    shown = {cast(Event, item["event"]).pk for f in found.values() for item in f["during"] + f["near"]}
    earlier = Event.objects.filter(recording_id=recording.pk).filter(
        Q(start__lt=OuterRef("start")) | Q(start=OuterRef("start"), id__lt=OuterRef("id"))
    )
    before = dict(
        Event.objects.filter(pk__in=shown)
        .annotate(
            n=Coalesce(Subquery(earlier.order_by().values("recording_id").annotate(n=Count("id")).values("n")), 0)
        )
        .values_list("pk", "n")
    )
    for f in found.values():
        for item in f["during"] + f["near"]:
            shown_event = cast(Event, item["event"])
            item["place"] = holter.event_place(before[shown_event.pk], shown_event.pk)
    return [found[sample] if len(samples) == 1 else _copy(found[sample]) for sample in samples]


def _copy(found: dict) -> dict:
    """A moment's rhythm, its lists its own (two entries at one moment are two rows, each told its offsets)."""
    return found | {"during": [dict(d) for d in found["during"]], "near": [dict(n) for n in found["near"]]}


def _rhythm_at(
    recording: ECGRecording,
    sample: int,
    rhythm: dict,
    events: list[Event],
    rejected: dict[int, bool],
    marks: list[tuple[int | None, str]],
) -> dict:
    """``rhythm_at`` of one moment from the events within NEAR_S of it (start, id order) and the beats of its strip."""
    fs = recording.sampling_rate or 0.0
    during, near = [], []
    for event in events:
        item = {
            "event": event,
            "type": event.type,
            "label": event.get_type_display(),
            "at": moment(recording, event.start),
            "rejected": rejected[event.pk],
        }
        if event.start <= sample <= event.end:
            during.append(item)
        else:
            gap = (event.start - sample) if event.start > sample else (sample - event.end)
            item["gap_s"] = gap / fs
            item["offset_s"] = math.floor(gap / fs)
            item["after"] = event.start > sample
            near.append(item)
    during.sort(key=_serious_first)
    near.sort(key=_serious_first)
    listed = [n for i, n in enumerate(near) if i < NEAR_LISTED or n["type"] in ALWAYS_LISTED]
    unreadable, unread = "", []
    for key, what in (("no_signal", "there is no signal"), ("noise", "the ECG is too noisy to read")):
        spans = [(span["start"], span["end"]) for span in rhythm.get(key) or []]
        unread += spans
        if any(start <= sample <= end for start, end in spans):
            unreadable = what
    # detections inside VF/VFL are waves of the fibrillation, not beats, and those without signal or in noise are no
    # beats to read either (as the strips and the summary read them)
    left_out = [(e.start, e.end) for e in events if e.type == Event.Type.VF] + unread
    positions: list[int] = []
    counts: dict[str, int] = {}
    for position, cls in marks:
        if any(start <= (position or 0) <= end for start, end in left_out):
            continue
        positions.append(int(position or 0))
        counts[cls] = counts.get(cls, 0) + 1
    if unreadable:  # the moment itself cannot be read: no beats to tell of, from either side of it
        positions, counts = [], {}
    standing = [d for d in during if not d["rejected"]]
    no_beats = bool(unreadable) or any(d["type"] in (Event.Type.VF, Event.Type.ASYSTOLE) for d in standing)
    rate = None
    if len(positions) >= 3 and not no_beats:
        rate = round(60.0 * (len(positions) - 1) / ((positions[-1] - positions[0]) / fs))
    return {
        "finding": _finding(standing, [n for n in near if not n["rejected"]], unreadable, rate),
        "during": during,
        "near": listed,
        "near_more": len(near) - len(listed),
        "rate_bpm": rate,
        "beats": dict(sorted(counts.items())),
        "unreadable": unreadable,
    }


def strip_start(recording: ECGRecording, sample: int) -> int:
    """The first sample of the ten seconds shown for a moment: AROUND_S before it, kept inside the recording (near
    its start or end the moment is off the strip's middle)."""
    fs = recording.sampling_rate or 0.0
    around = int(AROUND_S * fs)
    return max(0, min(sample - around, (recording.sample_count or 0) - 2 * around))


def offset_phrase(item: dict) -> str:
    """How far an event near a moment is from it: "12 s after", "within a second before"."""
    when = "after" if item["after"] else "before"
    return f"within a second {when}" if item["offset_s"] < 1 else f"{item['offset_s']} s {when}"


def _finding(during: list[dict], near: list[dict], unreadable: str, rate: float | None) -> str:
    """``during`` and ``near`` the most serious first (rhythm_at)."""
    if during:
        return "During " + ", ".join(d["label"].lower() for d in during) + "."
    said = f"At that moment {unreadable}" if unreadable else "No rhythm event at that moment"
    said += f" (heart rate {rate} bpm)" if rate is not None else ""
    if near:
        worst = near[0]
        return f"{said}; {worst['label'].lower()} {offset_phrase(worst)} it."
    return f"{said}; no rhythm event within a minute of it." if unreadable else f"{said}, nor within a minute of it."


def entry_rows(recording: ECGRecording, entries: list[DiaryEntry], rhythm: dict | None, *, strips: int) -> list[dict]:
    """``entry_row`` of each entry, the rhythm at their moments read at once (rhythms_at); the first ``strips`` of
    them with their strip."""
    found = rhythms_at(recording, [entry.sample for entry in entries], rhythm)
    drawn = entries[:strips] if rhythm is not None else []
    # the strips' VF/VFL episodes and beats read once for them all
    vf = holter.vf_spans(recording) if drawn else []
    width = int(holter.STRIP_S * (recording.sampling_rate or 0.0)) + 1
    beats = selectors.beat_marks_within(
        recording=recording,
        spans=[(start, start + width) for start in {strip_start(recording, e.sample) for e in drawn}],
    )
    return [
        entry_row(recording, e, rhythm, strip=i < strips, found=f, vf=vf, beats=beats)
        for i, (e, f) in enumerate(zip(entries, found, strict=True))
    ]


def entry_row(
    recording: ECGRecording,
    entry: DiaryEntry,
    rhythm: dict | None,
    *,
    strip: bool = True,
    found: dict | None = None,
    vf: list[tuple[int, int]] | None = None,
    beats: list[tuple[int, int, str]] | None = None,
) -> dict:
    """A diary entry as the pages and the report show it: its moment, the symptom as said ("Other: heart racing"),
    the rhythm there (``found``: rhythm_at's, read here if not given) and ten seconds of ECG around it (``vf`` and
    ``beats`` as holter.strip_at takes them)."""
    start = strip_start(recording, entry.sample)
    said = symptom_said(entry)
    title = f"{said} noted at {moment(recording, entry.sample)}"
    if found is None:
        found = rhythm_at(recording, entry.sample, rhythm)
    for item in found["near"]:
        item["offset"] = offset_phrase(item)
    return {
        "entry": entry,
        "symptom": said,
        "at": moment(recording, entry.sample),
        "rhythm": found,
        "strip": (
            holter.strip_at(recording, start, title, vf=vf, moment=(entry.sample, "noted"), beats=beats)
            if strip and rhythm is not None
            else ""
        ),
    }


# A diary entry's mark on the viewer's strip names its symptom in at most this many characters ("Other: …" by a note
# of up to 500): the entry's line in the diary and its description in the viewer say it in full.
MARK_LABEL_MAX = 40


def marks(recording: ECGRecording) -> list[dict]:
    """The diary's entries (none removed) as the trend chart and the viewer mark them, in the order of the moments
    noted: each one's ``id``, ``sample``, ``symptom`` code, ``label`` (as the pages name it, shortened to
    MARK_LABEL_MAX), ``said`` (in full) and ``at`` (the moment as the pages write it). A diary holds at most
    MAX_PER_RECORDING entries: one query, a bounded answer."""
    entries = selectors.diary_list(recording=recording)[: DiaryEntry.MAX_PER_RECORDING]
    found = []
    for entry in entries:
        said = symptom_said(entry)
        label = said if len(said) <= MARK_LABEL_MAX else said[: MARK_LABEL_MAX - 1].rstrip() + "…"
        found.append(
            {
                "id": entry.pk,
                "sample": entry.sample,
                "symptom": entry.symptom,
                "label": label,
                "said": said,
                "at": moment(recording, entry.sample),
            }
        )
    return found


def sleep_spans(recording: ECGRecording) -> list[dict]:
    """The diary's sleep periods (none removed) as the trend chart shades them: each one's ``start`` and ``end`` in
    samples (end inclusive) and ``said`` ("Asleep 23:10:00 (0:20:00 in) to 06:45:00 (7:55:00 in)"), in the order
    they began. A diary holds at most MAX_PER_RECORDING activities: one query, a bounded answer."""
    periods = selectors.activity_list(recording=recording).filter(kind=DiaryActivity.Kind.SLEEP, end__isnull=False)
    return [
        {
            "start": a.start,
            "end": a.end,
            "said": f"Asleep {moment(recording, a.start)} to {moment(recording, cast(int, a.end))}",
        }
        for a in periods[: DiaryActivity.MAX_PER_RECORDING]
    ]


def symptom_said(entry: DiaryEntry) -> str:
    """The symptom as the pages name it: an "other" one by its note, as the diary says it."""
    if entry.symptom == DiaryEntry.Symptom.OTHER and entry.note:
        return f"Other: {entry.note}"
    return entry.get_symptom_display()


def correlation(rows: list[dict]) -> str:
    """The diary in one sentence, as a Holter report opens its symptom section: how many symptoms were noted and
    how many of them fell during a rhythm event (a doctor's rejection withdraws an event), or "" for no entry or
    before the analysis has finished."""
    found = [row["rhythm"] for row in rows if row["rhythm"]["finding"]]
    if not found:
        return ""
    during = sum(1 for r in found if any(not d["rejected"] for d in r["during"]))
    noted = f"{len(found)} symptom{'s' if len(found) != 1 else ''} noted"
    if not during:
        return f"{noted}, none during a rhythm event."
    if during == len(found):
        return f"{noted}, {'' if during == 1 else 'both ' if during == 2 else 'all '}during a rhythm event."
    return f"{noted}, {during} of them during a rhythm event."


# --- activities: sleep, exercise, medication, and the heart rate awake and asleep -------------------------------


def activity_said(activity: DiaryActivity) -> str:
    """The activity as the pages name it: an "other" one by its note."""
    if activity.kind == DiaryActivity.Kind.OTHER and activity.note:
        return f"Other: {activity.note}"
    return activity.get_kind_display()


def duration_said(seconds: float) -> str:
    """A period's length in words: "45 s", "35 min", "7 h 35 min" (cut to the minute, as a clock is)."""
    whole = math.floor(seconds + 1e-9)
    if whole < 60:
        return f"{whole} s"
    hours, minutes = divmod(whole // 60, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _trend_of(recording: ECGRecording, rhythm: dict | None) -> dict | None:
    trend = (rhythm or {}).get("trend")
    if not trend or not trend.get("minute") or not recording.sampling_rate or recording.sample_count is None:
        return None
    return trend


def has_trend(recording: ECGRecording, rhythm: dict | None) -> bool:
    """Whether the results hold the per-minute trend the heart rate over a period, awake and asleep is read from."""
    return _trend_of(recording, rhythm) is not None


def activity_heart_rate(recording: ECGRecording, activity: DiaryActivity, rhythm: dict | None) -> dict | None:
    """The heart rate over a period's minutes (ecg.rhythm.sleep.rate_over: the minutes whose middle lies in it; a
    period holding no minute's middle, under a minute long, the minute its own middle lies in), None for a moment (a
    medicine taken) or before the analysis has finished."""
    trend = _trend_of(recording, rhythm)
    if trend is None or activity.end is None:
        return None
    assert recording.sampling_rate is not None and recording.sample_count is not None
    inside = sleep.minutes_in(
        [(activity.start, activity.end)],
        fs=recording.sampling_rate,
        n_samples=recording.sample_count,
        minutes=len(trend["minute"]),
    )
    if not inside.any():  # shorter than a minute, between two minutes' middles: it had no rate at all
        middle = (activity.start + activity.end) / 2 / (60.0 * recording.sampling_rate)
        inside[min(int(middle), len(inside) - 1)] = True
    return sleep.rate_over(inside, **awake_asleep_columns(trend))


def awake_asleep_columns(trend: dict) -> dict:
    return {
        name: [math.nan if v is None else v for v in trend.get(name) or []]
        for name in ("beats", "hr_min", "hr_mean", "hr_max")
    }


def activity_row(recording: ECGRecording, activity: DiaryActivity, rhythm: dict | None) -> dict:
    """A diary activity as the pages and the report show it: what, from when to when and for how long, and over a
    period the heart rate (the minutes' mean, lowest and highest over 4 beats)."""
    fs = recording.sampling_rate or 1.0
    return {
        "activity": activity,
        "said": activity_said(activity),
        "start": moment(recording, activity.start),
        "end": moment(recording, activity.end) if activity.end is not None else "",
        "duration": duration_said((activity.end - activity.start) / fs) if activity.end is not None else "",
        "heart_rate": activity_heart_rate(recording, activity, rhythm),
    }


def _rejected(event: Event) -> bool:
    reviews = list(event.reviews.all())  # newest first
    return bool(reviews) and reviews[0].decision == "reject"


def awake_asleep(recording: ECGRecording, rhythm: dict | None, activities: list[DiaryActivity]) -> dict | None:
    """The heart rate awake and asleep (ecg.rhythm.sleep.awake_asleep) over the sleep periods among
    ``activities`` (those not removed), and the rhythm events that began asleep by type, the most serious first
    (those a doctor rejected left out, and counted in ``rejected``), each with how many of those that began awake
    ran on into a sleep period (``ran_into_sleep``); None without a sleep period or before the analysis has
    finished. Each column's lowest and highest say their minute's time (``at``)."""
    trend = _trend_of(recording, rhythm)
    periods = [
        (a.start, a.end)
        for a in activities
        if a.kind == DiaryActivity.Kind.SLEEP and a.end is not None and a.removed_at is None
    ]
    if trend is None or not periods:
        return None
    assert recording.sampling_rate is not None and recording.sample_count is not None
    events = list(recording.events.prefetch_related("reviews").order_by("start", "id"))
    standing = [e for e in events if not _rejected(e)]
    figures = sleep.awake_asleep(
        trend=trend,
        fs=recording.sampling_rate,
        n_samples=recording.sample_count,
        sleep=periods,
        event_types=[e.type for e in standing],
        event_starts=[e.start for e in standing],
        event_ends=[e.end for e in standing],
    )
    for side in ("awake", "asleep"):
        for key in ("lowest", "highest"):
            extreme = figures[side][key]
            if extreme is not None:
                extreme["at"] = holter.at(recording, extreme["minute"] * 60.0)
    order = [*SERIOUSNESS, *(t for t in Event.Type.values if t not in SERIOUSNESS)]
    labels = dict(Event.Type.choices)
    figures["events"] = [
        {"type": kind, "label": labels.get(kind, kind), **figures["events"][kind]}
        for kind in sorted(figures["events"], key=lambda t: order.index(t) if t in order else len(order))
    ]
    for side in ("awake", "asleep"):
        figures[side]["time"] = duration_said(60.0 * figures[side]["minutes"])
    # an episode that began awake and ran on into a sleep period (an AF from the evening through the night) is
    # counted awake, where it began: said beside the asleep count, which would otherwise read as none that night
    ran_on: dict[str, int] = {}
    for e in standing:
        began_asleep = any(start <= e.start <= end for start, end in periods)
        if not began_asleep and any(e.start < start <= e.end for start, end in periods):
            ran_on[e.type] = ran_on.get(e.type, 0) + 1
    for item in figures["events"]:
        item["awake"] = item["total"] - item["asleep"]
        item["ran_into_sleep"] = ran_on.get(item["type"], 0)
    figures["sides"] = [figures["awake"], figures["asleep"]]  # the table's columns, in order
    for side in figures["sides"]:  # written as the summary writes its burden (holter.share_said)
        burden = side.get("af_burden_pct")
        side["af_burden_said"] = None if burden is None else holter.share_said(burden)
    # the AF burden's row only where the recording holds atrial fibrillation or flutter
    figures["af_any"] = any(side.get("af_burden_pct") for side in figures["sides"])
    figures["periods"] = len(periods)
    figures["rejected"] = len(events) - len(standing)
    return figures
