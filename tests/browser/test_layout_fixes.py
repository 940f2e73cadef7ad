"""Layout and drawing in a real Chromium, as a clinic's review found them wanting:

- the printed report's running line (patient, MRN, recording) is painted on top of every page, in portrait too;
- the review and recording pages fit a phone's width, a 12-lead strip scrolling in its own box;
- a 150-letter name or a long word in a note breaks rather than widening the tables and the page;
- the viewer's episode labels have a band of their own, above the beat letters; its times are cut to whole
  seconds and its durations rounded to a tenth, as the event list writes them;
- the trend chart's labels stay apart and inside the canvas, and rates past 200 bpm are marked and said.
"""

import math
import re

import pytest
from playwright.sync_api import expect

from diagnostics.models import Beat, Event, Review
from ecg.clock import clock, seconds_cut

from ..data import DATA_DIR, mitdb_dir, require
from ..factories import PatientFactory, done_recordings
from ..helpers import reviews_rewritable
from .conftest import DESKTOP, assert_accessible, log_in, upload_signal
from .test_clinic_flow import _recording_id, _wait_done, analysed
from .test_holter import (
    PHONE,
    _fits,
    shipped_heartbeat_model,  # noqa: F401  (a fixture, used by name)
)
from .test_twelve_lead import record_model  # noqa: F401  (a fixture, used by name)

LONG_NAME = ("Wolfeschlegelsteinhausenbergerdorff" * 5)[:150]  # the longest family name the form takes, one word


def _overlap(a, b) -> bool:
    """Whether two boxes [x0, y0, x1, y1] share any area."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


# Shows the viewer's event ``i`` and waits until the strip there is loaded and drawn; what was drawn where.
SHOW_EVENT = """async (i) => {
  const v = document.querySelector('[data-ecg-viewer]').ecgViewer;
  v.showEvent(i);
  for (let k = 0; k < 200; k++) {
    await new Promise(resolve => setTimeout(resolve, 50));
    const c = v.cache, end = Math.min(v.samples, v.start + v.visible()) - 1;
    if (c && v.root.getAttribute('aria-busy') === 'false' && c.start <= Math.max(0, v.start) && c.end >= end) break;
  }
  v.draw();
  return {label: v.events[i].label, events: v.drawn.events, beats: v.drawn.beats};
}"""

# The viewer's description of an event it is given (start and end in samples), its own events left as they were.
DESCRIBE_EVENT = """([start, end]) => {
  const v = document.querySelector('[data-ecg-viewer]').ecgViewer, events = v.events;
  v.events = [{id: 0, type: 'af', start: start, end: end, beats: 0, rate_bpm: 0, label: 'Atrial fibrillation'}];
  v.showEvent(0);
  const text = v.info.textContent;
  v.events = events; v.eventIndex = null;
  return text;
}"""

# How many lines an element's text takes.
LINES = """el => { const range = document.createRange(); range.selectNodeContents(el);
  return new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.bottom))).size; }"""

TREND_LABELS = """() => { const c = document.querySelector('canvas[data-hr-trend]');
  return {width: c.clientWidth, height: c.clientHeight, labels: c.hrTrend.labels}; }"""


def _assert_trend_labels_apart_and_inside(page) -> list[str]:
    chart = page.evaluate(TREND_LABELS)
    boxes = [(label["text"], [label["x0"], label["y0"], label["x1"], label["y1"]]) for label in chart["labels"]]
    for text, box in boxes:
        assert box[0] >= 0 and box[2] <= chart["width"] and box[1] >= 0 and box[3] <= chart["height"], (text, box)
    for i, (text, box) in enumerate(boxes):
        for other, other_box in boxes[i + 1 :]:
            assert not _overlap(box, other_box), (text, box, other, other_box)
    return [text for text, _ in boxes]


def _printed_pages_on_top(page, path, **paper) -> list[tuple[str, bool]]:
    """The report printed by Chromium: per page, its text and whether the running line is painted last, with
    nothing after it that could cover it (a fill, an image, more text)."""
    from pypdf import PdfReader

    page.pdf(path=str(path), prefer_css_page_size=False, print_background=True, **paper)
    painting = {b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*", b"S", b"s", b"sh", b"Do", b"Tj", b"TJ", b"'", b'"'}
    result = []
    for pdf_page in PdfReader(str(path)).pages:
        ops: list[bytes] = []
        running: list[int] = []

        def before(op, args, cm, tm, ops=ops):
            ops.append(op)

        def text(chunk, cm, tm, font, size, ops=ops, running=running):
            if "· MRN " in chunk and "· Recording " in chunk:
                running.append(len(ops))

        content = pdf_page.extract_text(visitor_operand_before=before, visitor_text=text)
        if not running:
            result.append((content, False))
            continue
        # the running line's text object ends at the first ET from where its text was read
        end = next((i for i in range(max(0, running[-1] - 1), len(ops)) if ops[i] == b"ET"), len(ops))
        result.append((content, not any(op in painting for op in ops[end + 1 :])))
    return result


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("shipped_heartbeat_model")
def test_record_203_viewer_bands_times_trend_long_note_and_printed_running_line(
    page, shot, patient_a, doctor_a, celery_worker
):
    mitdb = mitdb_dir()
    log_in(page, "doctor_a")
    recording = analysed(page, patient_a, [mitdb / "203.hea", mitdb / "203.dat"])
    fs = recording.sampling_rate
    events = list(Event.objects.filter(recording=recording).order_by("start", "id"))
    viewer = page.locator("[data-ecg-viewer]")
    expect(viewer).to_have_attribute("data-events", str(len(events)))

    # The episode labels ("Atrial fibrillation", "Ventricular tachycardia") in their own band: no label covers a
    # beat's letter (they had been drawn in the letters' band, over them). The first events of each type.
    firsts: dict[str, list[int]] = {}
    for index, event in enumerate(events):
        firsts.setdefault(event.type, []).append(index)
    both = 0
    for index in sorted(i for indices in firsts.values() for i in indices[:3]):
        drawn = page.evaluate(SHOW_EVENT, index)
        assert drawn["events"], drawn["label"]  # the event shown is labelled
        for label in drawn["events"]:
            covered = [beat for beat in drawn["beats"] if _overlap(label, beat)]
            assert not covered, (drawn["label"], label, covered)
        both += bool(drawn["beats"])
    assert both >= 3
    viewer.screenshot(path=str(shot.dir / "40-viewer-episode-labels-above-the-beat-letters.png"))

    # Times as the event list writes them: a start cut to whole seconds (42.50 s is 0:00:42, not 0:00:43), a
    # duration cut to a tenth as ecg.clock.seconds_cut (18.99 s is 18.9: no duration reads longer than it is).
    for start, end in [(15300, 15300 + 6836), (21456, 21456 + 6570), (3600 * 360 + 180, 3600 * 360 + 180 + 6822)]:
        text = page.evaluate(DESCRIBE_EVENT, [start, end])
        assert f" · {clock(start / fs)} · {seconds_cut((end - start) / fs):.1f} s" in text, text
    assert " 0:00:42 · 18.9 s" in page.evaluate(DESCRIBE_EVENT, [15300, 15300 + 6836])
    # a beat's place, to the hundredth, cut too
    canvas = viewer.locator("canvas.ecg")
    canvas.focus()
    # one press at a time: a press while the last beat is still being fetched steps from the beat before it,
    # and the selection read between two answers would be one the title no longer shows
    selected = viewer.get_attribute("data-selected")
    for _ in range(3):
        page.keyboard.press("]")
        page.wait_for_function(
            "was => { const s = document.querySelector('[data-ecg-viewer]').dataset.selected;"
            " return s !== undefined && s !== was; }",
            arg=selected,
        )
        selected = viewer.get_attribute("data-selected")
    assert selected is not None and re.fullmatch(r"\d+", selected), selected
    beat = Beat.objects.get(recording=recording, index=int(selected))
    hundredths = math.floor(beat.position / fs * 100 + 1e-6)
    expected = f"{clock(hundredths // 100)}.{hundredths % 100:02d}"
    expect(viewer.locator("[data-info] .beat-title")).to_contain_text(f" at {expected}: ")

    # The trend chart: "bpm" clear of the 200 tick, every label inside the canvas and apart, at a desk and on a phone.
    trend = page.locator("canvas[data-hr-trend]")
    expect(trend).to_have_attribute("data-loaded", "true")
    assert {"bpm", "200", "0 min"} <= set(_assert_trend_labels_apart_and_inside(page))
    page.set_viewport_size(PHONE)
    page.wait_for_function("document.querySelector('canvas[data-hr-trend]').hrTrend.width < 400")
    _assert_trend_labels_apart_and_inside(page)
    page.set_viewport_size(DESKTOP)

    # A long word in an event's note breaks in the event list instead of widening the page.
    first = page.locator("ol.events > li").first
    first.get_by_label("Note").fill("Artefact " + "x" * 300)
    first.get_by_role("button", name="Confirm").click()
    expect(page.locator("#events .messages")).to_contain_text("confirmed")
    note = page.locator("ol.events > li .event-facts").first
    expect(note).to_contain_text("Artefact xxx")
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        assert _fits(page, size["width"]), size
        box, item = note.bounding_box(), page.locator("ol.events > li").first.bounding_box()
        assert box["x"] + box["width"] <= item["x"] + item["width"] + 1, size
    shot(page, "41-recording-page-phone-long-note")
    page.set_viewport_size(DESKTOP)

    # A whole day's trend with minutes past 200 bpm (the rhythm data swapped in the browser): each marked at the
    # chart's top edge, said under the chart and by the keyboard cursor; the "24 h" at the right edge in full.
    minutes = 24 * 60
    over = {120: 215.0, 121: 243.0, 600: 205.0}
    trend_data = {
        "minute": list(range(minutes)),
        "beats": [75] * minutes,
        "hr_min": [55.0] * minutes,
        "hr_mean": [75.0] * minutes,
        "hr_max": [over.get(m, 120.0) for m in range(minutes)],
    }

    def day_long(route):
        response = route.fetch()
        route.fulfill(response=response, json={**response.json(), "trend": trend_data})

    rhythm_url = f"**/recordings/{recording.pk}/rhythm/"
    page.route(rhythm_url, day_long)
    page.reload()
    expect(trend).to_have_attribute("data-loaded", "true")
    texts = _assert_trend_labels_apart_and_inside(page)
    assert "bpm" in texts and "24 h" in texts, texts
    note = page.locator("p.trend-over")
    expect(note).to_have_text(
        "▲ Rates above 200 bpm over 4 beats, past the top of the chart, are marked at its top edge: "
        "3 minutes, the highest 243 bpm in the minute from 2:01:00."
    )
    assert note.get_attribute("id") in trend.get_attribute("aria-describedby").split()
    marks = page.evaluate(
        """(minutes) => { const c = document.querySelector('canvas[data-hr-trend]'), chart = c.hrTrend;
             const dpr = window.devicePixelRatio || 1, ctx = c.getContext('2d');
             return minutes.map(m => [...ctx.getImageData(Math.round(chart.x(m + 0.5) * dpr),
                                                         Math.round((chart.y(200) - 4) * dpr), 1, 1).data.slice(0, 3)]); }""",
        [600, 900],
    )
    assert marks[0][0] > 120 and max(marks[0][1:]) < 90, marks  # the mark's red above minute 600
    assert min(marks[1]) > 230, marks  # and none above a minute under 200 bpm
    page.evaluate(
        "() => { const chart = document.querySelector('canvas[data-hr-trend]').hrTrend; chart.cursor = 121; chart.say(); }"
    )
    expect(page.locator("#trend-cursor")).to_contain_text("55 to 243 bpm (above the chart's scale of 200)")
    assert_accessible(page)
    page.locator("#holter").screenshot(path=str(shot.dir / "42-trend-day-long-past-200-bpm.png"))
    page.set_viewport_size(PHONE)
    page.wait_for_function("document.querySelector('canvas[data-hr-trend]').hrTrend.width < 400")
    assert "24 h" in _assert_trend_labels_apart_and_inside(page)
    page.set_viewport_size(DESKTOP)
    page.unroute(rhythm_url)

    # The printed report: the running line at the foot of every page is painted over the report, not under its
    # white background (on paper under 800 px wide, portrait, the tables are positioned and had covered it on
    # every page but the last, while its text was still in each page's text layer).
    page.goto(f"/recordings/{recording.pk}/report/")
    page.emulate_media(media="print")
    for paper in ("A4", "Letter"):
        for landscape in (False, True):
            name = f"43-report-{paper}-{'landscape' if landscape else 'portrait'}.pdf"
            pages = _printed_pages_on_top(page, shot.dir / name, format=paper, landscape=landscape)
            assert len(pages) >= 2
            for number, (text, on_top) in enumerate(pages, 1):
                assert f"{patient_a.display_name} · MRN {patient_a.mrn} · Recording {recording.pk}" in text
                assert on_top, (paper, landscape, number)
    page.emulate_media(media="screen")
    assert page.js_errors == []


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("record_model")
def test_a_twelve_lead_review_page_fits_a_phone_its_strip_scrolling_in_its_own_box(
    page, shot, patient_a, doctor_a, celery_worker
):
    record = require(DATA_DIR / "ptbdb" / "patient001", "PTB record patient001")
    log_in(page, "doctor_a")
    upload_signal(page, patient_a, [record / f"s0010_re.{ext}" for ext in ("hea", "dat", "xyz")])
    _wait_done(page)
    recording_id = _recording_id(page)
    page.set_viewport_size(PHONE)
    for url in (f"/recordings/{recording_id}/review/", f"/recordings/{recording_id}/"):
        page.goto(url)
        expect(page.locator("svg.twelve-lead")).to_be_visible()
        # the page as wide as the phone (the review page had been 772 px: the strip's 720 px set its column) ...
        assert _fits(page, PHONE["width"]), (url, page.evaluate("document.documentElement.scrollWidth"))
        # ... the strip keeps its readable scale and scrolls within its figure
        figure = page.locator(".twelve-lead-figure")
        box = figure.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert figure.evaluate("f => f.scrollWidth > f.clientWidth + 100")
        assert page.locator(".twelve-lead-figure svg.paper").bounding_box()["width"] >= 719
    shot(page, "44-twelve-lead-recording-page-phone")
    page.goto(f"/recordings/{recording_id}/review/")
    assert_accessible(page)
    shot(page, "45-twelve-lead-review-page-phone")
    assert page.js_errors == []


@pytest.mark.django_db(transaction=True)
def test_a_150_letter_name_and_a_long_word_in_a_note_break_instead_of_widening_pages(
    page, shot, clinic_a, staff_a, doctor_a, active_models, patient_a
):
    first, second = done_recordings(2, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)
    patient = PatientFactory(clinic=clinic_a, mrn="A-0150", family_name=LONG_NAME, given_name="Anna")
    for recording in (first, second):
        recording.patient = patient
        recording.save(update_fields=["patient"])
    with reviews_rewritable():
        Review.objects.filter(diagnosis__recording=first).update(note="Artefact " + "x" * 300)
        Review.objects.filter(diagnosis__recording=second).delete()  # awaiting review: on the dashboard's list
    log_in(page, "doctor_a")
    pages = {
        "dashboard": "/",
        "patients": "/patients/",
        "patient": f"/patients/{patient.pk}/",
        "review-queue": "/reviews/",
        "recording": f"/recordings/{first.pk}/",
        "review": f"/recordings/{first.pk}/review/",
        "report": f"/recordings/{first.pk}/report/",
    }
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        for name, url in pages.items():
            page.goto(url)
            expect(page.locator("main").get_by_text(LONG_NAME[:20]).first).to_be_visible()
            # the page had been 2,001 px wide at 1,280 (the patient list) and 2,637 px (the dashboard)
            assert _fits(page, size["width"]), (name, size, page.evaluate("document.documentElement.scrollWidth"))
        # (the report's frame is a table cell: as wide as the page still, not held to a cell's width)
        assert page.locator(".report").bounding_box()["width"] > 0.85 * size["width"], size
        shot(page, f"46-long-name-report-{size['width']}")

        # Normal content keeps its layout: an ordinary name and a time are not broken mid-word.
        page.goto("/patients/")
        cell = page.get_by_role("row").filter(has_text=patient_a.mrn).get_by_role("cell").nth(1)
        assert cell.evaluate(LINES) == 1, size  # "Meyer, Anna" on one line
        page.goto("/")
        times = page.locator("#today tbody td:first-child")
        assert times.count() == 2 and all(times.nth(i).evaluate(LINES) == 1 for i in range(2)), size
        shot(page, f"47-long-name-dashboard-{size['width']}")
        assert_accessible(page)
    # (these recordings have no files: the viewer's requests for their beats answer 404, as console errors)
