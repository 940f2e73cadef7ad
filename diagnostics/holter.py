"""The Holter report's pieces for pages: clock times (the time of day too where the file stated the start), the
event list with strips, the most significant events."""

import math
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape

from django.core.paginator import Paginator
from django.db.models import Count
from django.utils import timezone

from ecg.clock import clock, seconds_cut
from ecg.io.readers import lead_phrase
from ecg.rhythm.analysis import AF_BURDEN_NOT_MEASURED, burden_of, ectopic_burden
from ecg.rhythm.heart_rate import EXTREMES_MIN_S

from . import plots, rhythm_reviewed, selectors
from .models import ECGRecording, Event

EVENTS_PER_PAGE = 10
STRIP_LEAD_IN_S = 2.0
STRIP_S = 10.0
# events written by their duration alone: VF/VFL has no beats to count (what is detected inside it are waves, not
# beats) and asystole none at all; a pause is one R-R interval, its two bounding beats no rate
DURATION_ONLY = frozenset({Event.Type.VF, Event.Type.ASYSTOLE, Event.Type.PAUSE})


def wall_clock(recording: ECGRecording, seconds: float) -> datetime:
    """The time of day ``seconds`` into a recording whose start is known, on the recorder's clock: its
    start as the site's wall clock, plus the time elapsed (a recorder does not change its clock when the
    zone changes to or from summer time during a recording)."""
    assert recording.recorded_at is not None
    return timezone.localtime(recording.recorded_at).replace(tzinfo=None) + timedelta(seconds=seconds)


def start_of_day(recording: ECGRecording) -> float | None:
    """The seconds after midnight of a recording's first sample on the recorder's clock (`wall_clock`), or None where
    the file did not state when it started: the viewer's and the trend chart's times of day are counted from it."""
    if recording.recorded_at is None:
        return None
    start = wall_clock(recording, 0.0)
    return start.hour * 3600 + start.minute * 60 + start.second + start.microsecond / 1e6


def _amount(change: timedelta) -> str:
    minutes = round(abs(change.total_seconds()) / 60)
    if minutes % 60:
        return f"{minutes} minutes"
    return "an hour" if minutes == 60 else f"{minutes // 60} hours"


def offset_changes(recording: ECGRecording) -> list[tuple[float, timedelta]]:
    """The changes of TIME_ZONE's offset from UTC (summer time) while a recording whose start is known ran: each as
    the seconds into the recording it came at and how far the clocks moved (forward positive)."""
    fs, n = recording.sampling_rate, recording.sample_count
    if recording.recorded_at is None or not fs or not n:
        return []
    zone = timezone.get_default_timezone()
    start, length = recording.recorded_at, n / fs

    def offset(seconds: float) -> timedelta:
        return (start + timedelta(seconds=seconds)).astimezone(zone).utcoffset() or timedelta(0)

    changes = []
    step = 6 * 3600.0  # a zone changes its offset months apart: at most once in a step
    low = 0.0
    while low < length:
        high = min(low + step, length)
        if offset(low) != offset(high):
            a, b = low, high  # the change is in (a, b], narrowed to under a second: zones change on a whole second
            while b - a > 0.5:
                middle = (a + b) / 2
                a, b = (middle, b) if offset(middle) == offset(a) else (a, middle)
            changed = math.floor((start + timedelta(seconds=a)).timestamp()) + 1
            changes.append((changed - start.timestamp(), offset(high) - offset(low)))
        low = high
    return changes


def clock_change(recording: ECGRecording) -> str:
    """What the pages say where the zone's clocks changed while the recording ran: their times of day stay on the
    recorder's clock (`wall_clock`), which after the change is off the local clocks (and the API's, FHIR's and the
    CSV export's date-times, which are the moments themselves at the zone's offset then); "" where none did."""
    changes = offset_changes(recording)
    if not changes:
        return ""
    zone = timezone.get_default_timezone()
    said = "; ".join(
        f"{zone}'s clocks went {'forward' if moved > timedelta(0) else 'back'} {_amount(moved)} {clock(seconds)} into "
        f"the recording, at {wall_clock(recording, seconds):%H:%M:%S} on the recorder's clock"
        for seconds, moved in changes
    )
    net = sum((moved for _, moved in changes), timedelta(0))
    if not net:
        return f"{said}. The times of day here stay on the recorder's clock, which did not change."
    return (
        f"{said}. The times of day here stay on the recorder's clock, which did not change: type a diary time noted "
        f"after it by a clock that changed {_amount(net)} {'earlier' if net > timedelta(0) else 'later'}."
    )


# The trend's time axis in time of day: its ticks on whole multiples of one of these steps (minutes) of the clock,
# whole hours alone on a recording over three hours (static/js/holter.js: MINUTE_STEPS, HOUR_STEPS).
TICK_MINUTES = (1, 2, 5, 10, 15, 30, 60)
TICK_HOURS = (60, 120, 180, 240, 360, 720, 1440)


def clock_ticks(*, span_s: float, day_start: float, every_min: int) -> list[tuple[float, str]]:
    """The ticks of a time axis in time of day over the first ``span_s`` seconds of a recording that started
    ``day_start`` seconds after midnight (`start_of_day`): each time of day that is a whole multiple of
    ``every_min`` minutes, as its seconds into the recording and "HH:MM" (past midnight, the next day's); over a
    recording longer than a day, whose times of day repeat, a midnight is "Day 2", "Day 3" (static/js/holter.js)."""
    step = 60 * every_min
    ticks = []
    clock_s = math.ceil(day_start / step - 1e-9) * step
    days = span_s > 86400  # over a day the clock's times repeat: each midnight after the first day says which day
    while clock_s - day_start <= span_s + 1e-6:
        whole = round(clock_s / 60)
        minute = whole % (24 * 60)
        said = f"Day {whole // (24 * 60) + 1}" if days and minute == 0 else f"{minute // 60:02d}:{minute % 60:02d}"
        ticks.append((clock_s - day_start, said))
        clock_s += step
    return ticks


def at(recording: ECGRecording, seconds: float | None) -> str:
    """A moment of the recording as the pages write it: its time into the recording ("0:12:05"), and, where
    the file stated when the recording started, the time of day first ("00:02:05 (0:12:05 in)")."""
    if recording.recorded_at is None or seconds is None or not math.isfinite(seconds):
        return clock(seconds)
    whole = math.floor(seconds + 1e-9)  # the second it falls in, as `clock` writes it
    try:
        return f"{wall_clock(recording, whole):%H:%M:%S} ({clock(whole)} in)"
    except OverflowError:  # a moment no calendar holds (a time typed far past any recording's end)
        return clock(whole)


# What a list says of a rhythm summary that does not yet follow a doctor's beat correction (Diagnosis.rhythm_status)
RHYTHM_NOT_CURRENT = {
    "recomputing": "Rhythm being recomputed after a beat correction",
    "failed": "Rhythm from before a beat correction",
}


def no_heartbeats(rhythm: dict, fs: float) -> str:
    """What a recording with fewer than two beats found is, in words: a strip recorded in VF/VFL, the only such
    recording let in (``ecg.io.readers.validate_signal``); "" for any other."""
    found = int(rhythm.get("beats_analysed") or 0) + int(rhythm.get("beats_left_out") or 0)
    episodes = rhythm.get("vf") or []
    if found >= 2 or not episodes or not fs:
        return ""
    vf_s = sum((e["end"] - e["start"] + 1) / fs for e in episodes)
    duration = float(rhythm.get("duration_s") or 0)
    # an episode is dated from its first 4-s window's centre to its last's: 3 s short of a strip in VF end to end
    spread = "throughout" if vf_s >= duration - 3.5 else f"for {seconds_cut(vf_s)} s of the {math.floor(duration)} s"
    beats = "no heartbeats" if found == 0 else "one heartbeat detection"
    return (
        f"{beats[0].upper()}{beats[1:]}: ventricular fibrillation {spread} (VF/VFL has no beats to detect), so no "
        "heart-rate, HRV or ectopy figure and no MI screen"
    )


def brief(rhythm: dict | None, alarms_standing: int = 0, rhythm_status: str | None = None) -> list[dict]:
    """A recording's rhythm in a few words for a list of a patient's recordings, so that serial recordings
    compare at a glance: the VF/VFL and asystole episodes no doctor rejected first, then the heart rate (mean,
    8-beat minimum and maximum), AF burden, VT, ventricular and supraventricular ectopic beats and pauses,
    each only where there is something to say. Each item: ``text`` and ``tone`` ("danger", "warn" or "")."""
    if not rhythm:
        return []
    items = []
    if rhythm_status in RHYTHM_NOT_CURRENT:  # the figures after it are from before the correction: said first
        items.append({"text": RHYTHM_NOT_CURRENT[rhythm_status], "tone": "warn"})
    if alarms_standing:
        items.append({"text": f"VF/VFL or asystole: {alarms_standing}", "tone": "danger"})
    rate = rhythm.get("heart_rate") or {}
    if rate.get("mean_bpm") is not None:
        low, high = rate.get("hr_min"), rate.get("hr_max")
        extremes = f" ({low['bpm']:.0f}–{high['bpm']:.0f})" if low and high else ""
        items.append({"text": f"HR {rate['mean_bpm']:.0f}{extremes} bpm", "tone": ""})
    burden = (rhythm.get("af") or {}).get("burden_pct") or 0.0
    if burden:
        items.append({"text": f"AF {share_said(burden)} %", "tone": "warn"})
    counts = rhythm.get("event_counts") or {}
    if counts.get("vt"):
        items.append({"text": f"VT {counts['vt']}", "tone": "warn"})
    # ectopy as the Holter summary counts it (beats in AF or flutter, noise or VF left out), beside the class counts
    # and its share of the beats, which compares across recordings of different lengths where a count does not
    for key, label in (("ventricular", "V"), ("supraventricular", "S")):
        total = int((rhythm.get(key) or {}).get("total") or 0)
        if total:
            share = ectopic_share(rhythm, key)
            items.append({"text": f"{label} ectopy {total}{f' ({share})' if share else ''}", "tone": ""})
    pauses = int((rhythm.get("pauses") or {}).get("count") or 0)
    if pauses:
        items.append({"text": f"{pauses} pause{'s' if pauses != 1 else ''}", "tone": "warn"})
    return items


def hourly_rows(recording: ECGRecording, rhythm: dict) -> list[dict]:
    """The hourly table's rows, each labelled with its hour into the recording or, where the start is known,
    the times of day it spans (the last to the recording's end); over a recording longer than a day, whose times of
    day repeat, those after the first midnight with their day ("Day 2 09:00–10:00"), as the trend chart marks it."""
    rows = []
    end = (recording.sample_count or 0) / recording.sampling_rate if recording.sampling_rate else None
    days = end is not None and end > 86400
    for row in rhythm.get("hourly") or []:
        label = str(row["hour"])
        if recording.recorded_at is not None:
            start_s = 3600 * row["hour"]
            stop_s = min(start_s + 3600, end) if end else start_s + 3600
            first, last = (wall_clock(recording, s) for s in (start_s, stop_s))
            label = f"{first:%H:%M}–{last:%H:%M}"
            day = (first.date() - wall_clock(recording, 0).date()).days + 1
            if days and day > 1:
                label = f"Day {day} {label}"
        rows.append({**row, "label": label})
    return rows


def vf_spans(recording: ECGRecording) -> list[tuple[int, int]]:
    """The recording's VF/VFL episodes (start, end in samples, end inclusive), for `event_strip`."""
    return list(recording.events.filter(type=Event.Type.VF).values_list("start", "end"))


def event_strip(recording: ECGRecording, event: Event, vf: list[tuple[int, int]] | None = None) -> str:
    """Ten seconds of ECG paper from just before the event's onset, its beats labelled by class. Inside VF/VFL
    (``vf``, from `vf_spans`) nothing is labelled: the episode is marked along the top instead, as a
    cardiologist reads it (the detections there are waves of the fibrillation, not beats of a class)."""
    fs = recording.sampling_rate or 0.0
    what = f"{event.get_type_display()} at {at(recording, event.start / fs)}" if fs else event.get_type_display()
    return strip_at(recording, max(0, int(event.start - STRIP_LEAD_IN_S * fs)), what, vf)


def strip_at(
    recording: ECGRecording,
    start: int,
    what: str,
    vf: list[tuple[int, int]] | None = None,
    moment: tuple[int, str] | None = None,
    beats: list[tuple[int, int, str]] | None = None,
) -> str:
    """Ten seconds of ECG paper from sample ``start``, titled ``what`` and the time it starts at, its beats labelled
    by class and VF/VFL marked as `event_strip` says, and ``moment`` (a sample and its label) marked across it (""
    where the stored upload no longer decodes: the lists still show what they list). ``beats``: marks read for
    several strips at once (selectors.beat_marks_within), holding at least this strip's; else read here."""
    try:
        lead = plots.recording_lead(recording)
    except Exception:
        return ""
    fs, n = lead.fs, len(lead.values)
    a = min(start, max(0, n - 1))
    b = min(n, int(a + STRIP_S * fs))
    vf = [(start, end) for start, end in (vf_spans(recording) if vf is None else vf) if start < b and end >= a]
    if beats is None:
        beats = selectors.beat_marks(recording=recording, start=a, end=b)
    marks = [
        ((pos - a) / fs, cls)
        for _, pos, cls in beats
        if a <= pos < b and not any(start <= pos <= end for start, end in vf)
    ]
    episodes = [((max(start, a) - a) / fs, (min(end, b) - a) / fs, "VF/VFL") for start, end in vf]
    note = f"{lead_phrase(lead.name)} · 25 mm/s · " + ("10 mm/mV" if lead.in_mv else "units unknown")
    title = f"{what}: ECG from {at(recording, a / fs)}"
    marked = ((moment[0] - a) / fs, moment[1]) if moment is not None else None
    return plots.paper_svg(
        lead.values[a:b], fs=fs, title=title, marks=marks, episodes=episodes, moment=marked, units_note=note
    )


def event_row(
    recording: ECGRecording, event: Event, *, strip: bool = True, vf: list[tuple[int, int]] | None = None
) -> dict:
    fs = recording.sampling_rate or 0
    reviews = list(event.reviews.all())
    return {
        "event": event,
        # a count of beats and a rate only where the event has them (not VF/VFL, asystole or a pause)
        "counts_beats": event.type not in DURATION_ONLY,
        "start_clock": at(recording, event.start / fs) if fs else "—",
        "duration_s": seconds_cut((event.end - event.start) / fs) if fs else None,
        "latest_review": reviews[0] if reviews else None,
        "submission": uuid.uuid4().hex,  # its decision form's key: sent twice, one decision (views._submitted_once)
        "reviews": reviews,
        "strip": event_strip(recording, event, vf) if strip else "",
    }


def event_place(position: int, event_id: int) -> str:
    """Where an event is on the recording's page: the event list's page holding the event ``position``
    events in (from 0, in time order) and its anchor, to append to the page's URL."""
    return f"?events_page={position // EVENTS_PER_PAGE + 1}#event-{event_id}"


def first_alarm_place(waiting: ECGRecording) -> str:
    """`event_place` of the first undecided VF/asystole episode of a recording from
    `selectors.life_threatening_awaiting` (which annotates it)."""
    return event_place(waiting.first_unreviewed_after, waiting.first_unreviewed_id)  # type: ignore[attr-defined]


def event_type_wanted(request) -> str:
    """The event type the list is narrowed to (``?events_type=``), or "" for every event (an unknown one too)."""
    wanted = request.GET.get("events_type", "")
    return wanted if wanted in Event.Type.values else ""


def event_type_counts(recording: ECGRecording) -> list[dict]:
    """Each event type the recording has, in the list's usual order of gravity, with its label and count: the
    choices above a long Holter's event list (a 24-hour recording's 527 events came in pages of 10 only)."""
    counts = dict(recording.events.order_by().values_list("type").annotate(n=Count("id")))
    return [
        {"type": value, "label": label, "count": counts[value]}
        for value, label in Event.Type.choices
        if value in counts
    ]


def events_page(request, recording: ECGRecording):
    wanted = event_type_wanted(request)
    page = Paginator(
        selectors.event_list(recording=recording, types=[wanted] if wanted else None), EVENTS_PER_PAGE
    ).get_page(request.GET.get("events_page"))
    vf = vf_spans(recording)
    return page, [event_row(recording, e, vf=vf) for e in page]


def significant_events(recording: ECGRecording) -> list[dict]:
    """What a printed Holter report shows strips of: VF, asystole, the longest VT, the fastest SVT, the longest
    pause and the AF onset, each once."""
    events = list(selectors.event_list(recording=recording))
    picks: list[tuple[str, Event]] = []

    def pick(label: str, candidates: list[Event], key) -> None:
        if candidates:
            chosen = max(candidates, key=key)
            for i, (earlier, event) in enumerate(picks):
                if event.pk == chosen.pk:  # one strip per event, under both names
                    picks[i] = (f"{earlier} · {label.lower()}", event)
                    return
            picks.append((label, chosen))

    for kind, label in (("vf", "VF/VFL onset"), ("asystole", "Asystole")):
        pick(label, [e for e in events if e.type == kind], key=lambda e: -e.start)
    pick("Longest VT", [e for e in events if e.type == "vt"], key=lambda e: e.beats)
    pick("Fastest SVT", [e for e in events if e.type == "svt"], key=lambda e: e.rate_bpm or 0)
    # as the summary counts it: asystole is the longest kind of pause
    pick("Longest pause", [e for e in events if e.type in ("pause", "asystole")], key=lambda e: e.end - e.start)
    pick("AF onset", [e for e in events if e.type in ("af", "afl")], key=lambda e: -e.start)
    vf = [(e.start, e.end) for e in events if e.type == Event.Type.VF]
    return [{"label": label, **event_row(recording, e, vf=vf)} for label, e in picks]


def share_said(percent: float) -> str:
    """A burden (per cent) as every page writes it, without its "%": to a tenth, as the comparison rounds its change,
    and "< 0.1" for a share above nothing under a tenth (the summary, the patient page and the comparison had
    written 0.05 % as "0.05", "< 0.1" and "0.1")."""
    if 0 < percent < 0.1:
        return "< 0.1"
    return f"{percent:,.1f}"


def ectopic_share(rhythm: dict, kind: str) -> str:
    """The ectopic burden of ``kind`` ("ventricular" or "supraventricular") as written beside its count: "2.1 %",
    "< 0.1 %", or "" where there is no ectopy of the kind. A report stored before the burden was kept gives it
    from its total and the beats it was over, where it kept those; "" where it did not."""
    ectopy = rhythm.get(kind) or {}
    total = int(ectopy.get("total") or 0)
    burden = ectopy.get("burden_pct")
    if burden is None and rhythm.get("beats_analysed"):
        burden = ectopic_burden(total, int(rhythm["beats_analysed"]))
    if not total or burden is None:
        return ""
    return f"{share_said(burden)} %"


def fast_runs_phrase(ectopy: dict, name: str) -> str:
    """How many of the runs are tachycardia, after their count ("16 runs" beside "Ventricular tachycardia (16)" in
    the event list had left it to the reader): "" for no runs, or a report stored before the count was kept."""
    runs, fast = ectopy.get("runs") or 0, ectopy.get("fast_runs")
    if not runs or fast is None:
        return ""
    if fast == 0:
        return " (none at 100 bpm or faster)"
    return f" ({'all' if fast == runs else f'{fast} of them'} {name} tachycardia, at 100 bpm or faster)"


def rejected_said(rejected: dict[str, int]) -> str:
    """The events a doctor rejected on review, by type, in words: "ventricular tachycardia 1, pause 2"."""
    order = {t: i for i, t in enumerate(Event.Type.values)}
    return ", ".join(
        f"{Event.Type(t).label.lower()} {n}" for t, n in sorted(rejected.items(), key=lambda tn: order.get(tn[0], 99))
    )


def summary_context(recording: ECGRecording, rhythm: dict) -> dict:
    """The stored summary with clock times added where it gives samples; its figures made of events over those no
    doctor rejected (rhythm_reviewed), as FHIR and the API give them, the VF/VFL and asystole episodes each listed
    with its decision all the same."""
    stored = rhythm
    found = selectors.rejected_events_of(recording_ids=[recording.pk]).get(recording.pk, ([], set()))
    rhythm = rhythm_reviewed.rhythm_standing(stored, *found) or stored
    fs = recording.sampling_rate or 0
    extremes = rhythm.get("heart_rate", {})
    times: dict[str, str | int] = {}
    for key in ("hr_min", "hr_max"):
        if extremes.get(key) and fs:
            times[key] = at(recording, extremes[key]["start"] / fs)
    longest = (rhythm.get("pauses") or {}).get("longest")
    times["duration"] = clock(rhythm.get("duration_s"))
    # whole seconds cut, as the clock beside them cuts them (1805.6 s read "0:30:05 (1806 s)")
    times["duration_s"] = math.floor(rhythm.get("duration_s") or 0)
    reviewed = selectors.life_threatening_reviews(recording=recording)
    alarms = (stored.get("vf") or []) + (stored.get("asystole") or [])
    # each episode links to its event in the list, where a doctor decides on it
    places = (
        {
            (kind, start, end): event_place(position, pk)
            for position, (pk, kind, start, end) in enumerate(
                recording.events.order_by("start", "id").values_list("id", "type", "start", "end")
            )
            if kind in selectors.LIFE_THREATENING
        }
        if alarms
        else {}
    )
    rejected = selectors.rejected_on_review(reviewed)
    standing = sum(1 for e in alarms if (e.get("type"), e["start"], e["end"]) not in rejected)
    return {
        "life_threatening_standing": standing,
        "no_heartbeats": no_heartbeats(rhythm, fs),
        "holter": rhythm,
        "holter_rejected": rejected_said(rhythm.get("rejected") or {}),
        # what the AF burden is a share of, as the report was computed (stored reports keep theirs)
        "af_burden_of": burden_of(rhythm.get("af") or {}),
        "af_burden_not_measured": AF_BURDEN_NOT_MEASURED,
        "af_burden": None if (af_pct := (rhythm.get("af") or {}).get("burden_pct")) is None else share_said(af_pct),
        # why a rate has no 8-beat extremes beside its mean (a 10-s strip): said, not a bare dash
        "holter_extremes_note": f" (8-beat extremes are given over {EXTREMES_MIN_S:.0f} s of R-R intervals or more: this "
        "recording's rate is its mean)"
        if extremes.get("mean_bpm") is not None and not extremes.get("hr_min") and not extremes.get("hr_max")
        else "",
        "holter_times": times,
        # of how many beats (the class table's shares are of every detection, VF and noise included)
        "holter_burden": {
            kind: f" ({share} of the {rhythm.get('beats_analysed') or 0:,} beats analysed)"
            if (share := ectopic_share(rhythm, kind))
            else ""
            for kind in ("ventricular", "supraventricular")
        },
        "holter_fast_runs": {
            kind: fast_runs_phrase(rhythm.get(kind) or {}, name)
            for kind, name in (("ventricular", "ventricular"), ("supraventricular", "supraventricular"))
        },
        "longest_pause_s": seconds_cut((longest["end"] - longest["start"]) / fs) if longest and fs else None,
        "longest_pause_at": at(recording, longest["start"] / fs) if longest and fs else None,
        "holter_hours": hourly_rows(recording, rhythm),
        "life_threatening": [
            {
                "type": e["type"],
                "at": at(recording, e["start"] / fs) if fs else "—",
                "duration_s": seconds_cut((e["end"] - e["start"]) / fs) if fs else None,
                # a doctor's latest decision on the episode, shown beside it (a rejected VF is no alarm)
                "review": reviewed.get((e["type"], e["start"], e["end"])),
                "place": places.get((e["type"], e["start"], e["end"]), ""),
            }
            for e in alarms
        ],
    }


def trend_svg(
    trend: dict | None,
    diary: Sequence[tuple[float, str]] = (),
    sleep: Sequence[tuple[float, float, str]] = (),
    day_start: float | None = None,
) -> str:
    """The per-minute heart-rate trend for the printed report (min-max band, mean line), and the patient's diary
    (``diary``: each entry's moment in seconds and what it says, "Palpitations at 0:12:05") marked at its moment by
    a diamond above the time axis and a dashed line up the chart, as the page's chart marks it; the diary's sleep
    periods (``sleep``: start and end in seconds and what they say) shaded behind the band, as the page's chart
    shades them (a slow rate at night is read against them). The time axis is in time of day where the recording's
    start is known (``day_start``, `start_of_day`), as the diary is noted; else in minutes or hours into it."""
    if not trend or not trend.get("minute") or all(v is None for v in trend.get("hr_mean", [0])):
        return ""  # no minute with a rate (a strip in VF throughout): an empty grid is no chart
    minutes = trend["minute"]
    w, h, pad = 720.0, 180.0, 30.0
    top = TREND_TOP_BPM
    n = max(1, len(minutes) - 1)

    def x(i: float) -> float:
        return pad + (w - 2 * pad) * i / n

    def y(bpm: float) -> float:
        return h - pad - (h - 2 * pad) * min(bpm, top) / top

    def points(pairs) -> str:
        return " ".join(f"{a:.1f},{b:.1f}" for a, b in pairs)

    # One band and one line per run of minutes with a rate: a minute without one (VF, no signal,
    # noise) breaks them, so the paper never shows a rate through it; a lone minute is a short bar.
    shapes = []
    for run in _rated_runs(trend):
        if len(run) == 1:
            i = run[0]
            a, b = x(i - 0.25) if n > 1 else x(i), x(i + 0.25) if n > 1 else x(i) + 6
            shapes.append(
                f'<rect x="{a:.1f}" y="{y(trend["hr_max"][i]):.1f}" width="{b - a:.1f}" '
                f'height="{max(1.0, y(trend["hr_min"][i]) - y(trend["hr_max"][i])):.1f}" class="band"/>'
                f'<line x1="{a:.1f}" y1="{y(trend["hr_mean"][i]):.1f}" x2="{b:.1f}" y2="{y(trend["hr_mean"][i]):.1f}" class="mean"/>'
            )
            continue
        band = [(x(i), y(trend["hr_max"][i])) for i in run] + [(x(i), y(trend["hr_min"][i])) for i in reversed(run)]
        shapes.append(
            f'<polygon points="{points(band)}" class="band"/>'
            f'<polyline points="{points((x(i), y(trend["hr_mean"][i])) for i in run)}" class="mean"/>'
        )
    grid = (
        "".join(
            f'<line x1="{pad}" y1="{y(b):.1f}" x2="{w - pad}" y2="{y(b):.1f}" class="minor"/>'
            f'<text x="{pad - 4}" y="{y(b) + 4:.1f}" text-anchor="end" class="note">{b}</text>'
            for b in (50, 100, 150, 200)
        )
        + f'<text x="{pad - 4}" y="12" text-anchor="end" class="note">bpm</text>'
    )

    # past the top of the scale the band is cut at 200 bpm: a mark above the top line says the rate went
    # further (as on the page's chart; ``trend_over`` says how far)
    over = "".join(
        f'<path d="M{x(i) - 4:.1f},{pad - 2:.1f} L{x(i) + 4:.1f},{pad - 2:.1f} L{x(i):.1f},{pad - 9:.1f} Z" class="over"/>'
        for i in _over_top(trend, top)
    )
    ticks: list[tuple[float, str]]
    # time labels as far apart as they need on the 720-unit width, as the page's chart spaces them: minutes up to 3
    # hours, whole hours beyond (at every 5 minutes a 1-3 hour recording's labels had run into each other, and a
    # 24-hour recording's 25 hourly labels before that)
    steps: tuple[int, ...] = TICK_MINUTES if len(minutes) <= 180 else TICK_HOURS
    if day_start is None:  # minutes into the recording: every 5 at least (a 70-s recording's "2 min" lay past its end)
        steps = tuple(s for s in steps if s >= 5)
    every = next((s for s in steps if (w - 2 * pad) * s / n >= TREND_TICK_ROOM), steps[-1])
    if day_start is None:
        ticks = [(m, f"{m // 60} h" if every >= 60 else f"{m} min") for m in range(0, len(minutes) + 1, every)]
    else:  # the clock's whole multiples of that step
        ticks = [(s / 60, said) for s, said in clock_ticks(span_s=60.0 * n, day_start=day_start, every_min=every)]
    # the last label ends at the chart's right edge rather than running past it ("30 min" had printed as "30 m"), and
    # its neighbour is dropped where pulling it inside brought them together ("110 min" under "120 min"), as on the page
    if len(ticks) > 1 and x(ticks[-1][0]) >= w - pad - 20:
        (before, said_before), (_, said_last) = ticks[-2], ticks[-1]
        if w - pad - TREND_CHAR_WIDTH * len(said_last) < x(before) + TREND_CHAR_WIDTH * len(said_before) / 2 + 6:
            del ticks[-2]
    hours = "".join(
        f'<text x="{min(x(m), w - pad):.1f}" y="{h - 8}" text-anchor="{"end" if x(m) >= w - pad - 20 else "middle"}" '
        f'class="note">{said}</text>'
        for m, said in ticks
    )
    # sleep behind everything, the band read across it
    asleep = "".join(
        f'<rect x="{a:.1f}" y="{pad:.1f}" width="{max(1.0, b - a):.1f}" height="{h - 2 * pad:.1f}" class="sleep">'
        f"<title>{escape(said)}</title></rect>"
        for start, end, said in sleep
        for a, b in [(min(max(x(start / 60), pad), w - pad), min(max(x(end / 60), pad), w - pad))]
    )
    # the diary over the band (the rate when a symptom was noted is read across it), a diamond above the time axis
    noted = []
    for seconds, said in diary:
        at_x, base = min(max(x(seconds / 60), pad), w - pad), h - pad - 7
        noted.append(
            f'<line x1="{at_x:.1f}" y1="{pad:.1f}" x2="{at_x:.1f}" y2="{base - 5:.1f}" class="diary-line"/>'
            f'<path d="M{at_x:.1f},{base - 5:.1f} L{at_x + 4:.1f},{base:.1f} L{at_x:.1f},{base + 5:.1f} '
            f'L{at_x - 4:.1f},{base:.1f} Z" class="diary"><title>{escape(said)}</title></path>'
        )
    label = (
        "Heart rate per minute: minimum to maximum band and mean"
        + (", against the time of day" if day_start is not None else "")
        + (", the patient's diary marked" if noted else "")
        + (", sleep shaded" if asleep else "")
    )
    return (
        f'<svg viewBox="0 0 {w:.0f} {h:.0f}" role="img" aria-label="{label}" class="trend">'
        f"<title>Heart rate per minute (bpm)</title>{asleep}{grid}{hours}"
        f"{''.join(shapes)}{over}{''.join(noted)}</svg>"
    )


def trend_diary(count: int) -> str:
    """The printed trend's note on the diary's marks, or "" for a diary without an entry."""
    if not count:
        return ""
    symptoms = f"{count} symptom{'s' if count != 1 else ''}"
    return f"The patient's diary: {symptoms} marked at the moments noted, each listed under Patient diary below."


TREND_TOP_BPM = 200.0  # the printed and the page's charts' scale ends here (static/js/holter.js: TOP_BPM)
TREND_CHAR_WIDTH = 6.0  # about what one character of a time label ("120 min", 11 px) takes, of the 720 units
TREND_TICK_ROOM = 50.0  # the printed trend's time labels ("23:00", "175 min") this far apart at least, of its 720 units


def _over_top(trend: dict, top: float = TREND_TOP_BPM) -> list[int]:
    return [i for i, v in enumerate(trend.get("hr_max") or []) if v is not None and v > top]


def trend_over(trend: dict | None, recording: ECGRecording | None = None) -> str:
    """The printed trend's note on rates past the top of its scale (the page's chart writes the same), its minute
    written as the report writes times (``at``: the time of day first where the file stated the start)."""
    over = _over_top(trend or {})
    if not trend or not over:
        return ""
    maxima = trend["hr_max"]
    highest = max(over, key=lambda i: maxima[i])
    when = at(recording, highest * 60) if recording is not None else clock(highest * 60)
    return (
        f"Rates above {TREND_TOP_BPM:.0f} bpm over 4 beats, past the top of the chart, are marked at its top edge: "
        f"{len(over)} minute{'s' if len(over) != 1 else ''}, the highest {round(maxima[highest])} bpm in the minute "
        f"from {when}."
    )


def _rated_runs(trend: dict) -> list[list[int]]:
    """Runs of consecutive minutes with a minimum, mean and maximum rate."""
    runs: list[list[int]] = []
    previous = None
    for i, values in enumerate(zip(trend["hr_min"], trend["hr_mean"], trend["hr_max"])):
        if any(v is None for v in values):
            continue
        if previous == i - 1:
            runs[-1].append(i)
        else:
            runs.append([i])
        previous = i
    return runs
