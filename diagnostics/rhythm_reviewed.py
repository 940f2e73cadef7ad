"""The Holter summary with the rhythm events a doctor rejected on review left out, as FHIR and the API give it: a
rejected VT or pause flags nothing and is counted in none of the figures made of events, as a rejected VF/VFL or
asystole already was not; how many of each kind were left out is said beside them (``rejected``). The figures made of
beats (ectopic totals and burden, the hourly table, heart rate) are the beats' classes, which a doctor changes by a
correction of beat classes, not by rejecting an event."""

import copy
from collections import Counter
from collections.abc import Collection, Sequence

from . import selectors
from .models import Diagnosis, Event

Key = tuple[str, int, int]  # (type, start, end): an event as the summary and the events both name it

# Ectopy events by the summary's side: its runs (the fast ones apart) and couplets.
RUNS = {"ventricular": ("v_run", "vt"), "supraventricular": ("s_run", "svt")}
FAST_RUNS = {"ventricular": "vt", "supraventricular": "svt"}
COUPLETS = {"ventricular": "v_couplet", "supraventricular": "s_couplet"}
PATTERNS = {"bigeminy_episodes": "bigeminy", "trigeminy_episodes": "trigeminy"}  # ventricular
ECTOPY_EVENTS = {
    "ventricular": frozenset({*RUNS["ventricular"], COUPLETS["ventricular"], *PATTERNS.values()}),
    "supraventricular": frozenset({*RUNS["supraventricular"], COUPLETS["supraventricular"]}),
}
AF_TYPES = ("af", "afl")


def key_of(event, kind: str | None = None) -> Key:
    """An event's key; a summary's episode of the list of ``kind`` (those stored before episodes named their type)."""
    if isinstance(event, dict):
        return (event.get("type") or kind or "", int(event["start"]), int(event["end"]))
    return (event.type, int(event.start), int(event.end))


def _as_dict(event: Event) -> dict:
    """An event as the summary stores one (ecg.rhythm.events.Event.as_dict)."""
    return {
        "type": event.type,
        "start": event.start,
        "end": event.end,
        "beats": event.beats,
        "rate_bpm": event.rate_bpm,
    }


def _readable_samples(event, spans: list[dict]) -> int:
    """An episode's samples as the AF duration counts them: its length less what of it lies without signal or in
    noise (ecg.rhythm.analysis)."""
    inside = sum(max(0, min(event.end, s["end"]) - max(event.start, s["start"])) for s in spans)
    return event.end - event.start - inside


def rhythm_standing(rhythm: dict | None, events: Sequence[Event], rejected: Collection[Key]) -> dict | None:
    """``rhythm`` (a stored Holter summary) over the events no doctor rejected: ``events`` are the recording's (all of
    them, or those of the kinds rejected), ``rejected`` the keys of those whose latest decision rejects them. Adds
    ``rejected``, the events left out by type. The stored summary is not changed."""
    if rhythm is None:
        return None
    out = copy.deepcopy(rhythm)
    gone = [e for e in events if key_of(e) in rejected]
    counts = Counter(e.type for e in gone)
    out["rejected"] = dict(sorted(counts.items()))
    if not gone:
        return out
    standing = [e for e in events if key_of(e) not in rejected]

    def longest(types: Collection[str], measure) -> dict | None:
        candidates = [e for e in standing if e.type in types and measure(e) is not None]
        return _as_dict(max(candidates, key=measure)) if candidates else None  # the first of the longest

    for kind in ("vf", "asystole"):
        if kind in out:
            out[kind] = [e for e in out[kind] or [] if key_of(e, kind) not in rejected]
    if "event_counts" in out:
        left = {t: n - counts.get(t, 0) for t, n in (out["event_counts"] or {}).items()}
        out["event_counts"] = {t: n for t, n in left.items() if n > 0}
    for side, runs in RUNS.items():
        figures = out.get(side)
        if not figures:
            continue
        for name, less in (
            ("runs", sum(counts[t] for t in runs)),
            ("fast_runs", counts[FAST_RUNS[side]]),
            ("couplets", counts[COUPLETS[side]]),
            *((name, counts[t]) for name, t in PATTERNS.items() if side == "ventricular"),
        ):
            if name in figures:
                figures[name] = max(0, int(figures[name]) - less)
        for name, measure in (("longest_run", lambda e: e.beats), ("fastest_run", lambda e: e.rate_bpm)):
            if figures.get(name) and key_of(figures[name]) in rejected:
                figures[name] = longest(runs, measure)
    pauses = out.get("pauses")
    if pauses:
        pauses["count"] = max(0, int(pauses.get("count") or 0) - counts["pause"] - counts["asystole"])
        if pauses.get("longest") and key_of(pauses["longest"]) in rejected:
            pauses["longest"] = longest(("pause", "asystole"), lambda e: e.end - e.start)
    af = out.get("af")
    if af and any(counts[t] for t in AF_TYPES):
        af["episodes"] = max(0, int(af.get("episodes") or 0) - sum(counts[t] for t in AF_TYPES))
        if "flutter_episodes" in af:
            af["flutter_episodes"] = max(0, int(af["flutter_episodes"]) - counts["afl"])
        # the burden over the time that could be read, as the analysis took it: the rejected episodes' share of
        # the AF time taken out of both the duration and the burden
        spans = [*(out.get("no_signal") or []), *(out.get("noise") or [])]
        episodes = [e for e in events if e.type in AF_TYPES]
        whole = sum(_readable_samples(e, spans) for e in episodes)
        kept = sum(_readable_samples(e, spans) for e in episodes if key_of(e) not in rejected)
        share = kept / whole if whole > 0 else 0.0
        af["duration_s"] = round(float(af.get("duration_s") or 0.0) * share, 1)
        if af.get("burden_pct") is not None:  # None: not measured (too little read for AF to be called)
            af["burden_pct"] = round(float(af["burden_pct"]) * share, 2)
    return out


def rejected_by_side(rejected_counts: dict[str, int]) -> dict[str, int]:
    """The ectopy events left out (``rhythm_standing``'s ``rejected``), by the summary's side."""
    return {side: sum(n for t, n in rejected_counts.items() if t in types) for side, types in ECTOPY_EVENTS.items()}


def rhythm_for_api(diagnosis: Diagnosis) -> dict | None:
    """The diagnosis's Holter summary as the API gives it: without the per-minute trend (for the pages), over the
    events no doctor rejected on review, as FHIR counts them (diagnostics.rhythm_reviewed), ``rejected`` saying how
    many of each kind were left out. The rejected events come with a list's diagnoses (``rejected_events``, read for
    the page at once); a diagnosis alone reads its own."""
    if diagnosis.rhythm is None:
        return None
    found = getattr(diagnosis, "rejected_events", None)
    if found is None:
        found = selectors.rejected_events_of(recording_ids=[diagnosis.recording_id]).get(
            diagnosis.recording_id, ([], set())
        )
    summary = {k: v for k, v in diagnosis.rhythm.items() if k != "trend"}  # the per-minute trend is for the pages
    return rhythm_standing(summary, *found)


def rhythms_standing_attach(recordings: Sequence) -> None:
    """Give each analysed recording of a list its ``rhythm_standing`` (its diagnosis's summary less the events a doctor
    rejected), the rejected events of all read in one query: the patient page's rhythm column and the comparison of
    two recordings say what FHIR and the API say."""
    done = [r for r in recordings if getattr(r, "diagnosis", None) is not None and r.diagnosis.rhythm is not None]
    found = selectors.rejected_events_of(recording_ids=[r.pk for r in done])
    for recording in done:
        recording.rhythm_standing = rhythm_standing(recording.diagnosis.rhythm, *found.get(recording.pk, ([], set())))
