"""The 12-lead ECG in the standard layout, drawn on ECG paper as server-side SVG (print-friendly, no script).

Three rows of four 2.5-s columns (I, II, III | aVR, aVL, aVF | V1, V2, V3 | V4, V5, V6), each column
the next 2.5 s of the same 10 s, then a 10-s lead II rhythm strip; 25 mm/s and 10 mm/mV, with a
1-mV calibration pulse at the start of each row. Limb leads missing from the file are derived from
I and II (Einthoven, Goldberger) and marked so.
"""

from __future__ import annotations

import numpy as np
from django.utils.html import escape
from scipy import signal as sps

from ecg.io.readers import Signal, plain_lead

from . import selectors
from .models import ECGRecording
from .plots import _LRU, MM

LAYOUT = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
RHYTHM_LEAD = "II"
COLUMN_S = 2.5
SECONDS = 4 * COLUMN_S
ROW_MM = 25.0
CALIBRATION_MM = 5.0  # the 1-mV pulse: 0.2 s wide
# I, II and the six chest leads are recorded; the other four limb leads follow from I and II.
RECORDED = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
DERIVED = {
    "III": lambda i, ii: ii - i,
    "aVR": lambda i, ii: -(i + ii) / 2,
    "aVL": lambda i, ii: i - ii / 2,
    "aVF": lambda i, ii: ii - i / 2,
}

_svgs = _LRU(16, 32 * 2**20)


def is_twelve_lead(lead_names: list[str]) -> bool:
    """Whether a recording's leads hold the eight recorded leads of a 12-lead ECG."""
    plain = {plain_lead(name) for name in lead_names}
    return all(name.lower() in plain for name in RECORDED)


def standard_leads(signal: Signal) -> tuple[dict[str, np.ndarray], set[str]]:
    """The twelve standard leads of ``signal`` by their usual names, and which of them were derived."""
    by_plain = {plain_lead(name): values for name, values in signal.leads.items()}
    leads = {name: by_plain[name.lower()] for name in RECORDED if name.lower() in by_plain}
    derived = set()
    for name, formula in DERIVED.items():
        if name.lower() in by_plain:
            leads[name] = by_plain[name.lower()]
        elif "I" in leads and "II" in leads:
            leads[name] = formula(leads["I"], leads["II"])
            derived.add(name)
    return leads, derived


def _display(values: np.ndarray, fs: float) -> np.ndarray:
    """The first 10 s without baseline wander (0.5 Hz high-pass), for drawing only."""
    x = np.asarray(values[: int(SECONDS * fs)], dtype=np.float64)
    x = np.nan_to_num(x - np.median(x))
    if len(x) > 3 * int(fs):
        x = sps.sosfiltfilt(sps.butter(2, 0.5, btype="highpass", fs=fs, output="sos"), x)
    return x


def _trace(values: np.ndarray, fs: float, *, x0_mm: float, mid_mm: float, top_mm: float, bottom_mm: float) -> str:
    step = max(1, int(fs / 250))  # 250 points per second of paper are finer than print shows
    pts = values[::step]
    xs = (x0_mm + np.arange(len(pts)) * step / fs * 25.0) * MM
    ys = np.clip(mid_mm - pts * 10.0, top_mm, bottom_mm) * MM
    return '<polyline class="trace" points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys)) + '"/>'


def twelve_lead_svg(signal: Signal, *, title: str) -> str:
    """The standard 12-lead page of ``signal`` (in mV) as an SVG element; "" without its eight recorded leads."""
    leads, derived = standard_leads(signal)
    if len(leads) < 12:
        return ""
    fs = signal.fs
    shown = {name: _display(values, fs) for name, values in leads.items()}
    in_mv = bool(signal.units) and all(unit == "mV" for unit in (signal.units or {}).values())
    if not in_mv:  # units unknown: a typical lead spans about 1.5 "mV" of paper
        spread = np.median([np.percentile(v, 99) - np.percentile(v, 1) for v in shown.values()]) or 1.0
        shown = {name: values * (1.5 / spread) for name, values in shown.items()}
    cal = CALIBRATION_MM
    width_mm = cal + 25.0 * SECONDS
    height_mm = ROW_MM * (len(LAYOUT) + 1)
    w, h = width_mm * MM, height_mm * MM
    parts = []
    for k in range(int(width_mm) + 1):
        cls = "major" if k % 5 == 0 else "minor"
        parts.append(f'<line x1="{k * MM:.0f}" y1="0" x2="{k * MM:.0f}" y2="{h:.0f}" class="{cls}"/>')
    for k in range(int(height_mm) + 1):
        cls = "major" if k % 5 == 0 else "minor"
        parts.append(f'<line x1="0" y1="{k * MM:.0f}" x2="{w:.0f}" y2="{k * MM:.0f}" class="{cls}"/>')
    column = int(COLUMN_S * fs)
    rows = [*LAYOUT, (RHYTHM_LEAD,)]
    for r, row in enumerate(rows):
        top, bottom = r * ROW_MM, (r + 1) * ROW_MM
        mid = top + 0.6 * ROW_MM
        if in_mv:  # a 1-mV pulse only where the amplitude is in mV: a pulse beside scaled traces misleads
            parts.append(
                f'<polyline class="trace" points="0,{mid * MM:.1f} {1 * MM:.1f},{mid * MM:.1f} {1 * MM:.1f},{(mid - 10) * MM:.1f} '
                f'{4 * MM:.1f},{(mid - 10) * MM:.1f} {4 * MM:.1f},{mid * MM:.1f} {cal * MM:.1f},{mid * MM:.1f}"/>'
            )
        for c, name in enumerate(row):
            x0 = cal + c * 25.0 * COLUMN_S
            part = shown[name] if len(row) == 1 else shown[name][c * column : (c + 1) * column]
            parts.append(_trace(part, fs, x0_mm=x0, mid_mm=mid, top_mm=top + 0.5, bottom_mm=bottom - 0.5))
            label = name + (" (derived)" if name in derived else "") + (" · rhythm" if len(row) == 1 else "")
            parts.append(
                f'<text x="{(x0 + 1.5) * MM:.1f}" y="{(top + 4.5) * MM:.1f}" class="lead">{escape(label)}</text>'
            )
            if c > 0:
                parts.append(
                    f'<line x1="{x0 * MM:.1f}" y1="{(mid - 3) * MM:.1f}" x2="{x0 * MM:.1f}" y2="{(mid + 3) * MM:.1f}" class="cut"/>'
                )
    scale = "10 mm/mV" if in_mv else "amplitude scaled to fit (units unknown)"
    note = f"25 mm/s · {scale} · 0.5 Hz high-pass · {fs:g} Hz"
    parts.append(f'<text x="{w - 6:.0f}" y="{h - 6:.0f}" text-anchor="end" class="note">{escape(note)}</text>')
    return (
        f'<svg viewBox="0 0 {w:.0f} {h:.0f}" role="img" aria-label="{escape(title)}" class="paper twelve-lead"'
        f' data-in-mv="{str(in_mv).lower()}">'
        f"<title>{escape(title)}</title>{''.join(parts)}</svg>"
    )


def recording_twelve_lead_svg(recording: ECGRecording) -> str:
    """The 12-lead page of a stored recording, drawn once per process; "" for any other recording."""
    if recording.kind != ECGRecording.Kind.SIGNAL or not is_twelve_lead(recording.leads or []):
        return ""

    def draw() -> str:
        try:
            signal = selectors.recording_stored_signal(recording=recording)
        except Exception:  # the stored upload no longer decodes: the page still renders
            return ""
        return twelve_lead_svg(signal, title=f"12-lead ECG of recording {recording.pk}, first 10 s")

    return _svgs.get((recording.pk, recording.sha256), draw)
