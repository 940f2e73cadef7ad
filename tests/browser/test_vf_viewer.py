"""VF/VFL in the viewer, as a cardiologist reads it: the episode described by its duration alone (no "15 beats"),
and the detections inside it drawn grey without a class letter (they had been labelled N and V)."""

import pytest
from playwright.sync_api import expect

from ..diagnostics.test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)
from .conftest import log_in
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
