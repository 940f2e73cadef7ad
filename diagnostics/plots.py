"""Signal data for the viewer and server-rendered SVG plots: nothing is fetched from the network.

The web process reads stored uploads with ``ecg.io.readers`` only (numpy, wfdb, pyedflib):
never TensorFlow.
"""

import math
import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.utils.html import escape

from ecg.constants import BEAT_FS, BEAT_LENGTH
from ecg.io.readers import lead_phrase

from . import selectors
from .models import ECGRecording

WIDTH, HEIGHT, MARGIN = 640, 220, 28
MAX_PX = 8000
# The beats of a window come one by one up to this many a point of its envelope, else counted in its buckets
MARKS_PER_PX = 2


@dataclass(frozen=True)
class Lead:
    values: np.ndarray  # float32, in mV when ``units`` is "mV"
    fs: float
    name: str
    units: str | None
    lost: tuple[tuple[int, int], ...] = ()  # samples the file marks as lost (bridged in ``values``), end inclusive

    @property
    def in_mv(self) -> bool:
        return self.units == "mV"


class _LRU:
    """A small per-process cache, so panning does not re-parse the stored upload.

    Bounded by entries and by bytes (a 26-hour recording's lead is ~130 MB); the newest entry always stays.
    """

    def __init__(self, size: int, max_bytes: int):
        self.size, self.max_bytes, self.items, self.lock = size, max_bytes, OrderedDict[Any, Any](), threading.Lock()

    def get(self, key, load):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = load()
        with self.lock:
            self.items[key] = value
            while len(self.items) > 1 and (
                len(self.items) > self.size or sum(_nbytes(v) for v in self.items.values()) > self.max_bytes
            ):
                self.items.popitem(last=False)
        return value


def _nbytes(value) -> int:
    return value.values.nbytes if isinstance(value, Lead) else getattr(value, "nbytes", 0)


_leads = _LRU(4, 256 * 2**20)
_beat_arrays = _LRU(8, 64 * 2**20)


def recording_lead(recording: ECGRecording, name: str | None = None) -> Lead:
    """A lead of a signal recording (the analysed one unless ``name``, one of ``recording.leads``), decoded
    once per process."""

    def load() -> Lead:
        signal = selectors.recording_stored_signal(recording=recording)
        key = signal.lead_name(name or recording.lead or None)
        values = np.ascontiguousarray(signal.leads[key], dtype=np.float32)
        return Lead(
            values=values,
            fs=signal.fs,
            name=key,
            units=(signal.units or {}).get(key),
            lost=tuple(signal.lost_spans(key)),
        )

    return _leads.get((recording.pk, recording.sha256, name or recording.lead), load)


def envelope(values: np.ndarray, *, start: int, end: int, px: int) -> dict:
    """Samples ``start``..``end`` reduced to at most ~``px`` min/max pairs.

    Buckets hold a power-of-two number of samples and start at multiples of it, so the same
    samples fall into the same buckets while the user pans: the trace does not shimmer.
    """
    n_total = len(values)
    start, end = max(0, min(start, n_total)), max(0, min(end, n_total))
    px = max(1, min(px, MAX_PX))
    n = end - start
    step = 1 if n <= px else 2 ** math.ceil(math.log2(n / px))
    if step == 1:
        chunk = values[start:end]
        return {"start": start, "step": 1, "min": _rounded(chunk), "max": None}
    first = (start // step) * step
    count = math.ceil((end - first) / step)
    last = min(first + count * step, n_total)
    chunk = values[first:last]
    full = len(chunk) // step
    with warnings.catch_warnings():  # a bucket of lost samples (a lead mostly lost is not bridged) is null
        warnings.simplefilter("ignore", RuntimeWarning)
        mins = np.nanmin(chunk[: full * step].reshape(full, step), axis=1)
        maxs = np.nanmax(chunk[: full * step].reshape(full, step), axis=1)
        if len(chunk) > full * step:
            mins = np.append(mins, np.nanmin(chunk[full * step :]))
            maxs = np.append(maxs, np.nanmax(chunk[full * step :]))
    return {"start": first, "step": step, "min": _rounded(mins), "max": _rounded(maxs)}


def _rounded(values: np.ndarray) -> list[float | None]:
    """Values to 4 decimals for JSON; a lost sample (NaN) is null."""
    out = np.round(values.astype(np.float64), 4)
    return [None if v != v else v for v in out.tolist()]


def beat_array(recording: ECGRecording) -> np.ndarray | None:
    """All model-input beats (n, 187) as stored by the worker, cached per process."""
    if not recording.beats_file:
        return None

    return _beat_arrays.get(
        (recording.pk, recording.beats_file.name), lambda: selectors.recording_model_input(recording=recording)
    )


def beat_values(recording: ECGRecording, index: int) -> np.ndarray | None:
    """The 187 model-input values of one beat, as stored by the worker."""
    beats = beat_array(recording)
    if beats is None or not 0 <= index < len(beats):
        return None
    return beats[index]


def beat_svg(values: np.ndarray | None, *, title: str) -> str:
    if values is None:
        return ""
    n = len(values)
    lo, hi = float(min(values.min(), 0.0)), float(max(values.max(), 1.0))
    span = hi - lo or 1.0
    plot_w, plot_h = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN
    points = " ".join(
        f"{MARGIN + plot_w * i / (n - 1):.1f},{MARGIN + plot_h * (1 - (v - lo) / span):.1f}"
        for i, v in enumerate(values)
    )
    grid = []
    for k in range(0, n, 12):  # one line per 100 ms at 120 Hz
        x = MARGIN + plot_w * k / (n - 1)
        grid.append(f'<line x1="{x:.1f}" y1="{MARGIN}" x2="{x:.1f}" y2="{HEIGHT - MARGIN}" class="grid"/>')
    for frac in (0, 0.25, 0.5, 0.75, 1):
        y = MARGIN + plot_h * (1 - frac)
        grid.append(f'<line x1="{MARGIN}" y1="{y:.1f}" x2="{WIDTH - MARGIN}" y2="{y:.1f}" class="grid"/>')
    return (
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" class="beat-plot">'
        f"<title>{escape(title)}</title>{''.join(grid)}"
        f'<polyline points="{points}" class="trace"/>'
        f'<text x="{MARGIN}" y="{HEIGHT - 8}" class="axis">0 ms</text>'
        f'<text x="{WIDTH - MARGIN}" y="{HEIGHT - 8}" text-anchor="end" class="axis">{1000 * (n - 1) / 120:.0f} ms</text>'
        "</svg>"
    )


# --- printable strip on ECG paper -------------------------------------------------------------

MM = 4.0  # SVG user units per millimetre of paper
LETTER_ROOM = 3.0 * MM  # a beat letter's width and a gap: closer labels would overprint


def paper_svg(
    values: np.ndarray,
    *,
    fs: float,
    title: str,
    mm_per_unit: float = 10.0,
    marks: Sequence[tuple[float, str]] = (),
    episodes: Sequence[tuple[float, float, str]] = (),
    moment: tuple[float, str] | None = None,
    units_note: str = "25 mm/s · 10 mm/mV",
    height_mm: float = 40.0,
    baseline: float | None = None,
    zero_frac: float = 0.58,
) -> str:
    """A strip on standard ECG paper: 25 mm/s, ``mm_per_unit`` mm per signal unit, 1 mm / 5 mm grid.

    ``marks`` are (seconds from the strip's start, AAMI class) beat labels drawn above the trace; one closer to
    the last letter than a letter's width is a tick, so crowded labels do not overprint. ``episodes`` are
    (start, end in seconds from the strip's start, label) spans marked by a bar along the top edge and their label
    in the letters' band (VF/VFL, whose detections carry no class). ``moment`` is (seconds from the strip's start,
    label) of one moment marked by a dashed line across the strip and its label at the foot (a symptom the patient
    noted).
    """
    values = np.asarray(values, dtype=np.float64)
    width_mm = max(5.0, math.ceil(25.0 * len(values) / fs / 5.0) * 5.0)
    w, h = width_mm * MM, height_mm * MM
    if baseline is None:
        baseline = float(np.median(values)) if len(values) else 0.0
    mid = h * zero_frac
    lines = []
    for k in range(int(width_mm) + 1):
        cls = "major" if k % 5 == 0 else "minor"
        lines.append(f'<line x1="{k * MM:.0f}" y1="0" x2="{k * MM:.0f}" y2="{h:.0f}" class="{cls}"/>')
    for k in range(int(height_mm) + 1):
        cls = "major" if k % 5 == 0 else "minor"
        lines.append(f'<line x1="0" y1="{k * MM:.0f}" x2="{w:.0f}" y2="{k * MM:.0f}" class="{cls}"/>')
    step = max(1, int(len(values) / (w * 2)))
    pts = values[::step]
    xs = np.arange(len(pts)) * step / fs * 25.0 * MM
    ys = np.clip(mid - (pts - baseline) * mm_per_unit * MM, 1, h - 1)
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
    labels = []
    last = -math.inf
    for t, c in marks:
        x = t * 25.0 * MM
        if x - last >= LETTER_ROOM:
            labels.append(
                f'<text x="{x:.1f}" y="{3.5 * MM:.1f}" text-anchor="middle" class="mark cls-fill-{escape(c)}">{escape(c)}</text>'
            )
            last = x
        else:
            labels.append(
                f'<rect x="{x - 1:.1f}" y="{1.2 * MM:.1f}" width="2" height="{2.3 * MM:.1f}" class="cls-fill-{escape(c)}"/>'
            )
    for start, end, label in episodes:
        x0, x1 = start * 25.0 * MM, max(end * 25.0 * MM, start * 25.0 * MM + 2)
        labels.append(
            f'<rect x="{x0:.1f}" y="0" width="{x1 - x0:.1f}" height="{0.8 * MM:.1f}" class="episode"/>'
            f'<text x="{x0 + 4:.1f}" y="{3.5 * MM:.1f}" class="episode-label">{escape(label)}</text>'
        )
    if moment is not None:
        x = moment[0] * 25.0 * MM
        labels.append(
            f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{h:.0f}" class="moment"/>'
            f'<text x="{x + 4:.1f}" y="{h - 6:.0f}" class="moment-label">{escape(moment[1])}</text>'
        )
    return (
        f'<svg viewBox="0 0 {w:.0f} {h:.0f}" role="img" aria-label="{escape(title)}" class="paper">'
        f"<title>{escape(title)}</title>{''.join(lines)}"
        f'<polyline points="{points}" class="trace"/>{"".join(labels)}'
        f'<text x="{w - 6:.0f}" y="{h - 6:.0f}" text-anchor="end" class="note">{escape(units_note)}</text>'
        "</svg>"
    )


def report_strip(recording: ECGRecording, beats: list) -> str:
    """The report's plot: the first 10 s of a signal, or the first beats of a beat file side by side."""
    if recording.kind == ECGRecording.Kind.SIGNAL:
        try:
            lead = recording_lead(recording)
        except Exception:  # the stored upload no longer decodes: the report still prints
            return ""
        n = int(min(len(lead.values), 10 * lead.fs))
        marks = [(b.position / lead.fs, b.aami_class) for b in beats if b.position is not None and b.position < n]
        note = f"{lead_phrase(lead.name)} · 25 mm/s · " + ("10 mm/mV" if lead.in_mv else "units unknown")
        return paper_svg(
            lead.values[:n],
            fs=lead.fs,
            title=f"First {n / lead.fs:.0f} s of {lead_phrase(lead.name)}",
            marks=marks,
            units_note=note,
        )
    array = beat_array(recording)
    if array is None:
        return ""
    shown = array[:6]
    marks = [((i + 0.15) * BEAT_LENGTH / BEAT_FS, b.aami_class) for i, b in enumerate(beats[: len(shown)])]
    return paper_svg(
        np.concatenate(list(shown)) if len(shown) else np.zeros(1),
        fs=BEAT_FS,
        title=f"First {len(shown)} beats (model input, 120 Hz)",
        mm_per_unit=25.0,
        baseline=0.0,
        zero_frac=0.8,
        marks=marks,
        units_note="25 mm/s · amplitude scaled 0–1 (units unknown)",
    )


# --- a beat family's mean beat (diagnostics.models.BeatFamily.template) ---------------------------

TEMPLATE_LEAD_MM = 24.0  # paper height per lead
TEMPLATE_MM_PER_UNIT = 10.0  # mm per unit of the recording's dominant beat's amplitude, where every shape fits


def template_scale(templates: Sequence[dict]) -> float:
    """One scale (mm per unit of the dominant beat) for all of a recording's family templates, so that their shapes
    compare at a glance: TEMPLATE_MM_PER_UNIT, less where the tallest would not fit its lead's paper."""
    tallest = max(
        (float(np.ptp(lead)) for t in templates for lead in t.get("leads", []) if len(lead)),
        default=0.0,
    )
    room = TEMPLATE_LEAD_MM - 3.0
    return TEMPLATE_MM_PER_UNIT if tallest * TEMPLATE_MM_PER_UNIT <= room else room / tallest


def template_svg(template: dict, *, title: str, leads: Sequence[str], mm_per_unit: float) -> str:
    """A family's mean beat on ECG paper at 25 mm/s, its leads side by side (a line between them, as the 12-lead's
    columns), each labelled, the R-peak marked by a tick at the top edge."""
    fs = float(template.get("fs") or 128.0)
    rows = [np.asarray(lead, dtype=np.float64) for lead in template.get("leads", []) if len(lead)]
    if not rows:
        return ""
    lead_mm = math.ceil(25.0 * max(len(r) for r in rows) / fs)
    width_mm, height_mm = lead_mm * len(rows), int(TEMPLATE_LEAD_MM)
    w, h = width_mm * MM, height_mm * MM
    lines = []
    for k in range(width_mm + 1):
        cls = "major" if k % 5 == 0 else "minor"
        lines.append(f'<line x1="{k * MM:.0f}" y1="0" x2="{k * MM:.0f}" y2="{h:.0f}" class="{cls}"/>')
    for k in range(height_mm + 1):
        cls = "major" if k % 5 == 0 else "minor"
        lines.append(f'<line x1="0" y1="{k * MM:.0f}" x2="{w:.0f}" y2="{k * MM:.0f}" class="{cls}"/>')
    traces = []
    r_s = float(template.get("r_s") or 0.0)
    for i, values in enumerate(rows):
        left = i * lead_mm * MM
        # the baseline where the lead's range sits in the middle of the paper, below its label
        mid = h / 2 + 2 * MM + (float(values.max()) + float(values.min())) / 2 * mm_per_unit * MM
        xs = left + np.arange(len(values)) / fs * 25.0 * MM
        ys = np.clip(mid - values * mm_per_unit * MM, 1, h - 1)
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
        traces.append(f'<polyline points="{points}" class="trace"/>')
        if i:
            traces.append(f'<line x1="{left:.0f}" y1="0" x2="{left:.0f}" y2="{h:.0f}" class="cut"/>')
        name = leads[i] if i < len(leads) else f"lead {i + 1}"
        traces.append(f'<text x="{left + 3:.0f}" y="12" class="lead">{escape(name)}</text>')
        r_x = left + r_s * 25.0 * MM
        traces.append(f'<line x1="{r_x:.1f}" y1="{h:.0f}" x2="{r_x:.1f}" y2="{h - 2 * MM:.0f}" class="r-tick"/>')
    return (
        f'<svg viewBox="0 0 {w:.0f} {h:.0f}" role="img" aria-label="{escape(title)}" class="paper template">'
        f"<title>{escape(title)}</title>{''.join(lines)}{''.join(traces)}</svg>"
    )
