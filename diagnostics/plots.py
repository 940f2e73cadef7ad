"""Server-rendered SVG plots: no JavaScript library, nothing fetched from the network."""

import numpy as np
from django.core.files.storage import default_storage
from django.utils.html import escape

from .models import ECGRecording

WIDTH, HEIGHT, MARGIN = 640, 220, 28


def beat_values(recording: ECGRecording, index: int) -> np.ndarray | None:
    """The 187 model-input values of one beat, as stored by the worker."""
    if not recording.beats_file:
        return None
    with default_storage.open(recording.beats_file.name, "rb") as fh:
        beats = np.load(fh, mmap_mode=None, allow_pickle=False)
    if not 0 <= index < len(beats):
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
        f"{MARGIN + plot_w * i / (n - 1):.1f},{MARGIN + plot_h * (1 - (v - lo) / span):.1f}" for i, v in enumerate(values)
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
