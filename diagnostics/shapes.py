"""The beat shapes page (views.recording_shapes): a recording's beat families class by class, each its mean beat on
ECG paper, and the doctors' corrections of beat classes with what each changed, what it withdrew and whether it was
undone."""

from datetime import datetime

from django.urls import reverse

from ecg.constants import AAMI_CLASSES, AAMI_NAMES
from ecg.io.readers import lead_phrase

from . import holter, plots
from .corrections import beats_said
from .models import BeatCorrection, BeatFamily, ECGRecording, Event


def lead_names(recording: ECGRecording, families: list[BeatFamily]) -> list[str]:
    """The leads the families' templates hold, as a sentence names them: those the analysis stored with them (the
    analysed lead, then the one ecg.processing.context.other_lead took beside it: not always the file's next lead,
    which may be flat or broken). Families found before the names were stored name the second lead only where the
    file has no other to choose from."""
    stored = next((f.template.get("lead_names") for f in families if f.template.get("lead_names")), None)
    if stored:
        return [lead_phrase(str(name)) for name in stored]
    analysed = recording.lead or ""
    others = [name for name in recording.leads or [] if name != analysed]
    names = [lead_phrase(analysed) if analysed else "analysed lead"]
    names.append(lead_phrase(others[0]) if len(others) == 1 else "second lead")
    return names


def family_said(family: BeatFamily) -> str:
    """A family as the page and the history name it: "V shape 2", "rare V shapes". The pages count shapes from 1, as
    they count beats (the API names a family by its number, from 0)."""
    return f"rare {family.aami_class} shapes" if family.rare else f"{family.aami_class} shape {family.number + 1}"


def class_sections(recording: ECGRecording, families: list[BeatFamily], diagnosis) -> list[dict]:
    """Per class (N, S, V, F, Q), those with families: its beats as the analysis classified them, its beats now
    (corrections included), and each family with its drawing, its share of the class, its beats' classes now and the
    links to its example beat in the viewer and its beats in the beat table."""
    scale = plots.template_scale([f.template for f in families])
    leads = lead_names(recording, families)
    page = reverse("recording-detail", args=[recording.pk])
    now_counts = dict((c, n) for c, n, _ in diagnosis.class_counts()) if diagnosis else {}
    sections = []
    for cls in AAMI_CLASSES:
        members = [f for f in families if f.aami_class == cls]
        if not members:
            continue
        total = sum(f.beats for f in members)
        rows = []
        for f in members:
            now: dict[str, int] = getattr(f, "now", {})
            moved = {c: n for c, n in now.items() if c != cls and n}
            rows.append(
                {
                    "family": f,
                    "said": family_said(f),
                    "svg": plots.template_svg(
                        f.template,
                        title=f"Mean beat of {family_said(f)} ({beats_said(f.beats)}), {' and '.join(leads)}",
                        leads=leads,
                        mm_per_unit=scale,
                    ),
                    "share": 100.0 * f.beats / total if total else 0.0,
                    "now": [(c, now[c]) for c in AAMI_CLASSES if now.get(c)] if moved else [],
                    "viewer": f"{page}?beat={f.example}#viewer",
                    "beats": f"{page}?beats_family={f.number}#beat-table",
                }
            )
        sections.append(
            {"cls": cls, "name": AAMI_NAMES[cls], "total": total, "now": now_counts.get(cls, 0), "rows": rows}
        )
    return sections


def correction_rows(recording: ECGRecording, corrections: list[BeatCorrection], families: list[BeatFamily]) -> list:
    """The history's rows, latest first: what each changed (from which class to which, how many beats), its note, who
    made it and when, whether it was undone, and the rhythm events its recomputation withdrew with their decisions.
    The latest correction still in force is the one that can be undone (``undoable``)."""
    by_number = {f.number: f for f in families}
    latest = next((c.pk for c in corrections if c.undone_at is None), None)
    fs = recording.sampling_rate or None
    rows = []
    for c in corrections:
        family = by_number.get(c.family) if c.family is not None else None
        # counted in the database by the list (selectors.beat_correction_list): a family's indices are not read
        changed, previous = c.changed, c.previous_counts  # type: ignore[attr-defined]
        if c.family is None:
            what = f"{beats_said(changed)} chosen"
        else:
            what = family_said(family) if family is not None else f"shape {c.family + 1}"
        rows.append(
            {
                "correction": c,
                "what": what,
                "changes": [(cls, previous[cls]) for cls in AAMI_CLASSES if previous.get(cls)],
                "withdrawn": [_withdrawn(recording, e, fs) for e in c.withdrawn_events or []],
                "undoable": c.pk == latest,
            }
        )
    return rows


def _withdrawn(recording: ECGRecording, event: dict, fs: float | None) -> dict:
    try:
        label = Event.Type(str(event.get("type"))).label
    except ValueError:
        label = str(event.get("type", "event"))
    start = event.get("start")
    return {
        "label": label,
        "at": holter.at(recording, start / fs) if fs and isinstance(start, int) else "",
        "beats": event.get("beats"),
        "decisions": [
            {
                "decision": str(d.get("decision", "")),
                "reviewer": str(d.get("reviewer", "")),
                "note": str(d.get("note", "")),
                "at": _moment(d.get("at")),
            }
            for d in event.get("decisions", [])
        ],
    }


def _moment(text) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None
