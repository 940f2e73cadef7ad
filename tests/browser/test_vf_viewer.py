"""VF/VFL in the viewer, as a cardiologist reads it: the episode described by its duration alone (no "15 beats"),
and the detections inside it drawn grey without a class letter (they had been labelled N and V); a strip in VF
throughout, with no beat found, offers its events and no beat stepping."""

import pytest
from playwright.sync_api import expect

from ..diagnostics.test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)
from ..diagnostics.test_vf_only import _vf_recording
from .conftest import assert_accessible, log_in
from .test_layout_fixes import SHOW_EVENT

pytestmark = pytest.mark.django_db(transaction=True)

# The VF event's span on the canvas, in the viewer's pixels.
VF_SPAN = """(i) => { const v = document.querySelector('[data-ecg-viewer]').ecgViewer, e = v.events[i];
  const pps = v.pxPerSample(); return [(e.start - v.start) * pps, (e.end - v.start) * pps]; }"""


def test_the_viewer_writes_vf_by_its_duration_and_draws_no_class_letter_inside_it(
    page,
    staff_a,
    holter_recording,  # noqa: F811
):
    vf = holter_recording.events.get(type="vf")
    vf.beats, vf.rate_bpm = 15, 212.0  # as a longer recording's VF had been stored
    vf.save(update_fields=["beats", "rate_bpm"])
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{holter_recording.pk}/")
    viewer = page.locator("[data-ecg-viewer]")
    expect(viewer).to_have_attribute("data-events", str(holter_recording.events.count()))
    index = list(holter_recording.events.order_by("start", "id")).index(vf)
    drawn = page.evaluate(SHOW_EVENT, index)
    info = viewer.locator("[data-info] .event-title")
    expect(info).to_contain_text("Ventricular flutter / fibrillation · ")
    assert "beats" not in info.inner_text() and "bpm" not in info.inner_text()
    x0, x1 = page.evaluate(VF_SPAN, index)
    inside = [box for box in drawn["beats"] if x0 <= (box[0] + box[2]) / 2 <= x1]
    before = [box for box in drawn["beats"] if (box[0] + box[2]) / 2 < x0]
    assert inside and all(box[4:] == ["vf"] for box in inside), inside  # grey ticks, no letters
    assert before and all(box[4:] == [] for box in before)  # the beats before the episode keep their letters
    assert page.js_errors == []


def test_a_vf_strip_with_no_beats_offers_no_beat_stepping_and_says_why(
    page, staff_a, patient_a, active_models, tiny_model_dir
):
    strip = _vf_recording("cu03", "beat-format", staff_a, patient_a, tiny_model_dir)
    assert strip.diagnosis.beat_count == 0
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{strip.pk}/")
    viewer = page.locator("[data-ecg-viewer]")
    expect(viewer).to_have_attribute("data-events", str(strip.events.count()))
    # no control that could only ever do nothing, nor a hint to click beat marks that are not there
    for name in ("Next beat ›", "‹ Previous beat", "Next non-N ›", "‹ Previous non-N"):
        expect(viewer.get_by_role("button", name=name)).to_have_count(0)
    expect(viewer.locator("[data-info]")).to_contain_text("No heartbeat was found in this recording")
    expect(viewer.locator(".keys")).not_to_contain_text("beat")
    # the beat keys all the same: said, not silently nothing
    page.locator("canvas.ecg").focus()
    page.keyboard.press("]")
    expect(viewer.locator("[data-info]")).to_contain_text("no beats to step through")
    # the events are stepped through as on any recording
    viewer.get_by_role("button", name="Next event ›").click()
    expect(viewer.locator("[data-info] .event-title")).to_contain_text("Ventricular flutter / fibrillation")
    assert_accessible(page)
    assert page.js_errors == []


# The overview's ticks, each [x0, y0, x1, y1] and "vf" when grey; each VF/VFL episode's span there; half the width of
# the stretch a tick stands for (a bucket of beats, or a beat's point).
OVERVIEW = """() => { const v = document.querySelector('[data-ecg-viewer]').ecgViewer, sx = v.owidth / v.samples;
  const counts = v.whole.beat_counts;
  return {ticks: v.drawn.overview, half: counts ? counts.step * sx / 2 : 0,
          vf: v.events.filter((e) => e.type === 'vf').map((e) => [e.start * sx, e.end * sx])}; }"""
# The overview as a recording too dense to mark beat by beat has it: its beats counted by class in buckets.
OVERVIEW_COUNTED = """async (px) => { const v = document.querySelector('[data-ecg-viewer]').ecgViewer;
  const answer = await fetch(v.signalQuery(0, v.samples, px)); v.whole = await answer.json(); v.draw();
  return v.whole.beats === null && v.whole.beat_counts !== null; }"""


def _overview_ticks_by_vf(page) -> tuple[list, list]:
    """The overview's ticks standing for beats all inside the VF/VFL episode, and those all outside it."""
    drawn = page.evaluate(OVERVIEW)
    (x0, x1), *_ = drawn["vf"]
    half, centres = drawn["half"], [((t[0] + t[2]) / 2, t) for t in drawn["ticks"]]
    inside = [t for x, t in centres if x0 <= x - half and x + half <= x1]
    outside = [t for x, t in centres if x + half < x0 or x - half > x1]
    return inside, outside


def test_the_overview_greys_the_beats_inside_vf_as_the_strip_does(
    page,
    staff_a,
    holter_recording,  # noqa: F811
):
    # the strip drew the detections inside VF/VFL grey and the overview in their classes' colours, V's red
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{holter_recording.pk}/")
    viewer = page.locator("[data-ecg-viewer]")
    expect(viewer).to_have_attribute("data-events", str(holter_recording.events.count()))
    page.wait_for_function("() => document.querySelector('[data-ecg-viewer]').ecgViewer.whole")
    inside, outside = _overview_ticks_by_vf(page)  # beat by beat
    assert inside and all(t[4:] == ["vf"] for t in inside), inside
    assert outside and all(t[4:] == [] for t in outside), outside
    # counted in buckets: more beats than two a pixel
    assert page.evaluate(OVERVIEW_COUNTED, holter_recording.diagnosis.beat_count // 3)
    inside, outside = _overview_ticks_by_vf(page)
    assert inside and all(t[4:] == ["vf"] for t in inside), inside
    assert outside and all(t[4:] == [] for t in outside), outside
    assert page.js_errors == []
