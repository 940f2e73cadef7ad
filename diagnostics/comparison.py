"""Two of a patient's Holter recordings side by side: the figures a doctor compares between serial recordings (before
and after an ablation, a new drug, a pacemaker's adjustment), each with its change."""

from dataclasses import dataclass

from ecg.clock import clock, seconds_cut

from .holter import ectopic_share, share_said
from .models import ECGRecording


@dataclass(frozen=True)
class Row:
    label: str
    values: tuple[str, str]
    change: str = ""  # the later recording against the earlier: "+12", "−3.4", "" where not a number or the same
    group: str = ""  # the heading it stands under
    tone: str = ""  # "danger" where either side holds a life-threatening rhythm


# Counts of beats and episodes grow with the time a recording ran: between recordings whose lengths differ by more
# than this share of the longer, a count's change says more about the recorder than about the heart.
LENGTHS_DIFFER = 0.1


def comparable(recording: ECGRecording) -> bool:
    """Whether a recording has a Holter summary to compare: a signal recording analysed to the end."""
    diagnosis = getattr(recording, "diagnosis", None) if recording.status == ECGRecording.Status.DONE else None
    return diagnosis is not None and bool(diagnosis.rhythm)


def in_time_order(recordings: list[ECGRecording]) -> list[ECGRecording]:
    """The earlier recording first, by when it was recorded where its file stated it, else when it was uploaded."""
    return sorted(recordings, key=lambda r: (r.recorded_at or r.created_at, r.pk))


def lengths_differ(earlier: ECGRecording, later: ECGRecording) -> str:
    """Where the two recordings ran for lengths that differ by more than LENGTHS_DIFFER, what the page says of it
    (the counts' change is then not given); else ""."""
    a, b = (_figures(r)["duration_s"] for r in (earlier, later))
    if not a or not b or abs(a - b) <= LENGTHS_DIFFER * max(a, b):
        return ""
    longer, shorter = (later, earlier) if b > a else (earlier, later)
    ratio = max(a, b) / min(a, b)
    return (
        f"Recording {longer.pk} ran {ratio:,.1f} times as long as recording {shorter.pk} "
        f"({clock(max(a, b))} against {clock(min(a, b))} analysed): counts of beats and episodes grow with the time "
        "a recording ran, so their change is not compared; compare the rates and burdens."
    )


# Supraventricular ectopy leaves out the beats inside atrial fibrillation or flutter: between recordings whose AF
# burdens differ by this many points or more, its change says as much about the AF as about the ectopy.
AF_BURDENS_DIFFER = 5.0


def af_differs(earlier: ECGRecording, later: ECGRecording) -> str:
    """Where the two recordings' AF burdens differ by AF_BURDENS_DIFFER points or more, what the page says of the
    supraventricular ectopy's change; else ""."""
    a, b = (_figures(r)["af_burden"] for r in (earlier, later))
    if a is None or b is None or abs(a - b) < AF_BURDENS_DIFFER:
        return ""
    return (
        f"Supraventricular ectopy leaves out the beats inside atrial fibrillation or flutter, which took {a:.1f} % "
        f"of recording {earlier.pk} and {b:.1f} % of recording {later.pk}: its change says as much about the "
        "AF as about the ectopy."
    )


def _number(value: float | int | None, places: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{places}f}"


def _change(a: float | int | None, b: float | int | None, places: int = 0, unit: str = "") -> str:
    """The change from ``a`` to ``b`` as shown (each rounded to ``places`` first, as `_number` writes it): 56.7 and
    57.4 bpm read "57" and "57", and their change is none, not "+1"."""
    if a is None or b is None:
        return ""
    difference = round(round(b, places) - round(a, places), places)
    if difference == 0:
        return "no change"
    sign = "+" if difference > 0 else "−"  # a minus sign, not a hyphen
    return f"{sign}{abs(difference):,.{places}f}{unit}"


def _figures(recording: ECGRecording) -> dict:
    """The numbers compared, from the recording's stored summary (None where it has none to give), the events a doctor
    rejected left out where the list read them (``rhythm_reviewed.rhythms_standing_attach``)."""
    rhythm = getattr(recording, "rhythm_standing", recording.diagnosis.rhythm) or {}
    rate = rhythm.get("heart_rate") or {}
    fs = recording.sampling_rate or 0
    longest = (rhythm.get("pauses") or {}).get("longest")
    counts = rhythm.get("event_counts") or {}
    hrv = rhythm.get("hrv") or {}
    out = {
        "duration_s": rhythm.get("duration_s"),
        "beats_analysed": rhythm.get("beats_analysed"),
        "hr_mean": rate.get("mean_bpm"),
        "hr_min": (rate.get("hr_min") or {}).get("bpm"),
        "hr_max": (rate.get("hr_max") or {}).get("bpm"),
        "sdnn": None if hrv.get("reason") else hrv.get("sdnn_ms"),
        "af_burden": (rhythm.get("af") or {}).get("burden_pct"),
        "af_episodes": (rhythm.get("af") or {}).get("episodes"),
        "alarms": getattr(recording, "alarms_standing", None),
        "vt": counts.get("vt", 0),
        "svt": counts.get("svt", 0),
        "pauses": (rhythm.get("pauses") or {}).get("count"),
        "longest_pause": seconds_cut((longest["end"] - longest["start"]) / fs) if longest and fs else None,
    }
    for kind in ("ventricular", "supraventricular"):
        ectopy = rhythm.get(kind) or {}
        out[kind] = {name: ectopy.get(name) for name in ("total", "burden_pct", "couplets", "runs")}
        if (
            rhythm.get("beats_analysed") == 0
        ):  # a strip with no beat found (VF throughout): a share of none is no figure
            out[kind]["burden_pct"] = None
        out[kind]["share"] = ectopic_share(rhythm, kind)
        out[kind]["bigeminy"] = ectopy.get("bigeminy_episodes")
        out[kind]["longest_run"] = (ectopy.get("longest_run") or {}).get("beats")
    return out


def rows(earlier: ECGRecording, later: ECGRecording) -> list[Row]:
    """The comparison's rows: each figure of the two recordings' Holter summaries and how the later differs."""
    a, b = _figures(earlier), _figures(later)
    out: list[Row] = []
    differ = bool(lengths_differ(earlier, later))

    def count_change(first: float | int | None, second: float | int | None) -> str:
        if differ and first is not None and second is not None:
            return "not compared"
        return _change(first, second)

    def add(
        label: str,
        key: str,
        places: int = 0,
        unit: str = "",
        group: str = "",
        of=None,
        counted: bool = False,
        share: bool = False,
    ) -> None:
        first, second = (of(f) if of else f.get(key) for f in (a, b))
        change = count_change(first, second) if counted else _change(first, second, places, unit)
        if (
            share
            and first is not None
            and second is not None
            and (0 < first < 0.1 or 0 < second < 0.1)
            and 0 < abs(second - first) < 0.1
        ):
            # beside a share written "< 0.1" a change of under a tenth is said so, not rounded to "+0.1" or none
            change = f"{'up' if second > first else 'down'} by under 0.1{unit}"
        # a burden written as the summary and the patient page write it ("< 0.1" for a share that rounds to none)
        said = [share_said(v) if share and v is not None else _number(v, places) for v in (first, second)]
        out.append(Row(label, (said[0], said[1]), change, group))

    def analysed(f: dict) -> str:
        return clock(f["duration_s"]) if f["duration_s"] is not None else "—"

    out.append(Row("Analysed", (analysed(a), analysed(b)), group="Recording"))
    add("Beats analysed", "beats_analysed", group="Recording", counted=True)
    alarms = (a["alarms"], b["alarms"])
    out.append(
        Row(
            "VF/VFL or asystole episodes (standing after review)",
            (_number(alarms[0]), _number(alarms[1])),
            count_change(*alarms),
            "Life-threatening rhythm",
            "danger" if any(alarms) else "",
        )
    )
    group = "Heart rate"
    add("Mean heart rate (bpm)", "hr_mean", group=group)
    add("Minimum, over 8 beats (bpm)", "hr_min", group=group)
    add("Maximum, over 8 beats (bpm)", "hr_max", group=group)
    add("SDNN (ms)", "sdnn", group=group)
    group = "Atrial fibrillation / flutter"
    add("Burden (%)", "af_burden", 1, " points", group, share=True)
    add("Episodes", "af_episodes", group=group, counted=True)
    for kind, label in (("ventricular", "Ventricular ectopy"), ("supraventricular", "Supraventricular ectopy")):

        def beats(f: dict, kind: str = kind) -> str:
            share = f[kind]["share"]
            return f"{_number(f[kind]['total'])}{f' ({share})' if share else ''}"

        out.append(Row("Ectopic beats", (beats(a), beats(b)), count_change(a[kind]["total"], b[kind]["total"]), label))
        add(
            "Burden (% of the beats analysed)",
            "",
            1,
            " points",
            label,
            of=lambda f, k=kind: f[k]["burden_pct"],
            share=True,
        )
        add("Couplets", "", group=label, of=lambda f, k=kind: f[k]["couplets"], counted=True)
        add("Runs of 3 or more", "", group=label, of=lambda f, k=kind: f[k]["runs"], counted=True)
        add("Longest run (beats)", "", group=label, of=lambda f, k=kind: f[k]["longest_run"])
        if kind == "ventricular":
            add("Ventricular tachycardia episodes", "vt", group=label, counted=True)
            add("Bigeminy episodes", "", group=label, of=lambda f: f["ventricular"]["bigeminy"], counted=True)
        else:
            add("Supraventricular tachycardia episodes", "svt", group=label, counted=True)
    group = "Pauses"
    add("Pauses of 2 s or more", "pauses", group=group, counted=True)
    add("Longest pause (s)", "longest_pause", 2, " s", group)
    return out
