"""The patient's diary marked where the rhythm is read, in a real Chromium: a diamond on the heart-rate trend at each
entry's moment (named by the chart's cursor, a click on it shows the entry in the viewer), a dashed line labelled
with its symptom in the ECG viewer, stepped through by "Previous / Next diary entry" and the D key, at a desk's width
and a phone's.

70 s of MIT-BIH 207 (supraventricular runs, then ventricular flutter from 41.5 s to 61.5 s). Screenshots:
test-artifacts/d*.png.
"""

import re
from datetime import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from diagnostics import services
from diagnostics.models import DiaryEntry

from ..diagnostics.test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)
from .conftest import DESKTOP, assert_accessible, log_in
from .test_layout_fixes import _assert_trend_labels_apart_and_inside

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
FS = 360.0
PAD_L, PAD_R = 38, 10  # the trend chart's plot inside its canvas (static/js/holter.js)


def add(recording, user, seconds: float, symptom: str, note: str = "") -> DiaryEntry:
    return services.diary_entry_add(recording=recording, by=user, sample=int(seconds * FS), symptom=symptom, note=note)


TREND = """() => { const c = document.querySelector('canvas[data-hr-trend]'), chart = c.hrTrend;
  return {width: c.clientWidth, height: c.clientHeight, minutes: chart.minutes(),
          marks: chart.diaryMarks.map(m => ({id: m.id, x: m.x, y: m.y}))}; }"""

# The viewer once the strip at its view is loaded and drawn: what was drawn where.
VIEWER = """async () => {
  const v = document.querySelector('[data-ecg-viewer]').ecgViewer;
  for (let k = 0; k < 200; k++) {
    const c = v.cache, end = Math.min(v.samples, v.start + v.visible()) - 1;
    if (c && v.root.getAttribute('aria-busy') === 'false' && c.start <= Math.max(0, v.start) && c.end >= end) break;
    await new Promise(resolve => setTimeout(resolve, 50));
  }
  v.draw();
  return {width: v.width, height: v.height, start: v.start, pps: v.pxPerSample(), diary: v.drawn.diary,
          events: v.drawn.events, beats: v.drawn.beats};
}"""


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _assert_trend_marks_at_their_moments(page, entries) -> dict:
    trend = page.evaluate(TREND)
    plot = trend["width"] - PAD_L - PAD_R
    assert [m["id"] for m in trend["marks"]] == [e.pk for e in entries]
    for mark, made in zip(trend["marks"], entries):
        assert mark["x"] == pytest.approx(PAD_L + plot * made.sample / FS / 60 / trend["minutes"], abs=0.01)
        assert PAD_L <= mark["x"] <= trend["width"] - PAD_R and 0 < mark["y"] < trend["height"]
    return trend


def _assert_diary_mark_drawn(page, made) -> dict:
    """The viewer's dashed line of ``made`` at its moment, its label inside the canvas and clear of the event labels
    and beat marks."""
    drawn = page.evaluate(VIEWER)
    (mark,) = [d for d in drawn["diary"] if d[4] == made.pk]
    assert mark[5] == pytest.approx((made.sample - drawn["start"]) * drawn["pps"] + 0.5, abs=1)
    assert 0 <= mark[0] and mark[2] <= drawn["width"] and 0 <= mark[1] and mark[3] <= drawn["height"], mark
    for other in drawn["events"] + [b[:4] for b in drawn["beats"]]:
        assert not _overlap(mark[:4], other), (mark, other)
    return drawn


def test_the_diary_is_marked_on_the_trend_and_in_the_viewer_and_stepped_through(
    page,
    shot,
    staff_a,
    holter_recording,  # noqa: F811
):
    palpitations = add(holter_recording, staff_a, 12.5, "palpitations")
    dizziness = add(holter_recording, staff_a, 50, "dizziness", "standing up")  # in the flutter
    racing = add(holter_recording, staff_a, 65, "other", "heart racing")
    removed = add(holter_recording, staff_a, 30, "fatigue")
    services.diary_entry_remove(entry=removed, by=staff_a)
    entries = [palpitations, dizziness, racing]
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{holter_recording.pk}/")

    # The trend: a diamond at each entry's moment (none for the one removed), its legend under the chart.
    trend = page.locator("canvas[data-hr-trend]")
    expect(trend).to_have_attribute("data-loaded", "true")
    expect(trend).to_have_attribute("data-diary", "3")
    marks = _assert_trend_marks_at_their_moments(page, entries)["marks"]
    legend = page.locator("p.trend-diary")
    expect(legend).to_have_text(re.compile(r"^◆ The patient's diary: 3 symptoms marked at the moments noted"))
    assert legend.get_attribute("id") in trend.get_attribute("aria-describedby").split()
    expect(page.locator("#trend-help")).to_contain_text("the patient's diary above it")
    # drawn in the diary's colour where the mark says it is
    colour = page.evaluate(
        """([x, y]) => { const c = document.querySelector('canvas[data-hr-trend]'), dpr = window.devicePixelRatio || 1;
             return [...c.getContext('2d').getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data.slice(0, 3)]; }""",
        [marks[1]["x"], marks[1]["y"]],
    )
    assert colour == [0x0B, 0x6E, 0x75], colour

    # The keyboard cursor names the symptoms noted in its minute.
    trend.focus()
    page.keyboard.press("ArrowRight")
    cursor = page.locator("#trend-cursor")
    expect(cursor).to_contain_text(
        "Diary: Palpitations at 0:00:12; Dizziness at 0:00:50. Enter shows the first of them in the viewer."
    )
    page.keyboard.press("ArrowRight")
    expect(cursor).to_contain_text("Diary: Other: heart racing at 0:01:05. Enter shows the entry in the viewer.")
    # a pointer on a mark names it as a tooltip
    box = trend.bounding_box()
    page.mouse.move(box["x"] + marks[1]["x"], box["y"] + marks[1]["y"])
    expect(trend).to_have_attribute("title", re.compile(r"^Diary: Dizziness at 0:00:50"))
    holter_panel = page.locator("#holter")
    holter_panel.screenshot(path="/tmp/diary-marks-trend-desktop.png")

    # A click on a mark shows that entry in the viewer, its dashed line labelled with the symptom.
    box = trend.bounding_box()  # the screenshot scrolled the page
    page.mouse.click(box["x"] + marks[1]["x"] + 3, box["y"] + box["height"] / 2)
    viewer = page.locator("[data-ecg-viewer]")
    expect(trend).to_have_attribute("data-jumped-to", str(dizziness.sample))
    expect(viewer).to_have_attribute("data-position", str(dizziness.sample))
    expect(viewer).to_have_attribute("data-diary-entry", str(dizziness.pk))
    expect(viewer.locator("[data-info] .diary-title")).to_have_text("Diary entry 2 of 3: Dizziness · noted at 0:00:50")
    _assert_diary_mark_drawn(page, dizziness)
    assert_accessible(page)
    viewer.screenshot(path="/tmp/diary-marks-viewer-desktop.png")
    viewer.screenshot(path=str(shot.dir / "d01-viewer-diary-mark.png"))

    # D and Shift+D step through the diary from the entry shown; each said in the viewer's live description.
    canvas = viewer.locator("canvas.ecg")
    canvas.focus()
    page.keyboard.press("d")
    expect(viewer).to_have_attribute("data-diary-entry", str(racing.pk))
    expect(viewer.locator("[data-info]")).to_have_attribute("aria-live", "polite")
    expect(viewer.locator("[data-info] .diary-title")).to_contain_text("Diary entry 3 of 3: Other: heart racing")
    _assert_diary_mark_drawn(page, racing)
    page.keyboard.press("d")
    expect(viewer.locator("[data-info]")).to_have_text("No later entry in the patient's diary.")
    for made in (dizziness, palpitations):
        page.keyboard.press("Shift+D")
        expect(viewer).to_have_attribute("data-diary-entry", str(made.pk))
        expect(viewer).to_have_attribute("data-position", str(made.sample))
    _assert_diary_mark_drawn(page, palpitations)
    page.keyboard.press("Shift+D")
    expect(viewer.locator("[data-info]")).to_have_text("No earlier entry in the patient's diary.")
    # the buttons, from the view once it has moved (Home): the first entry after the start
    page.keyboard.press("Home")
    viewer.get_by_role("button", name="Next diary entry").click()
    expect(viewer).to_have_attribute("data-diary-entry", str(palpitations.pk))
    # the next event takes over the description: no diary entry is said to be shown any more
    viewer.get_by_role("button", name="Next event").click()
    expect(viewer.locator("[data-info] .event-title")).to_be_visible()
    expect(viewer).not_to_have_attribute("data-diary-entry", re.compile(".*"))
    viewer.get_by_role("button", name="Previous diary entry").click()
    expect(viewer).to_have_attribute("data-diary-entry", re.compile(r"^\d+$"))

    # The diary's "Show in viewer" lands on its entry, the mark in view.
    item = page.locator(f"#diary-entry-{racing.pk}")
    item.get_by_role("button", name=re.compile("^Show in viewer")).click()
    expect(viewer).to_have_attribute("data-diary-entry", str(racing.pk))
    expect(viewer.locator("[data-info] .diary-title")).to_contain_text("Diary entry 3 of 3: Other: heart racing")
    _assert_diary_mark_drawn(page, racing)
    assert page.js_errors == []

    # A phone: the marks where they belong on the narrower chart, the label inside the strip, nothing sideways.
    page.set_viewport_size(PHONE)
    page.wait_for_function("document.querySelector('canvas[data-hr-trend]').hrTrend.width < 400")
    assert _fits(page)
    _assert_trend_marks_at_their_moments(page, entries)
    holter_panel.screenshot(path="/tmp/diary-marks-trend-phone.png")
    page.wait_for_function("document.querySelector('[data-ecg-viewer]').ecgViewer.width < 400")
    item.get_by_role("button", name=re.compile("^Show in viewer")).click()
    expect(viewer).to_have_attribute("data-diary-entry", str(racing.pk))
    _assert_diary_mark_drawn(page, racing)
    canvas.focus()
    page.keyboard.press("Shift+D")
    expect(viewer).to_have_attribute("data-diary-entry", str(dizziness.pk))
    _assert_diary_mark_drawn(page, dizziness)
    assert_accessible(page)
    viewer.screenshot(path="/tmp/diary-marks-viewer-phone.png")
    viewer.screenshot(path=str(shot.dir / "d02-viewer-diary-mark-phone.png"))
    page.set_viewport_size(DESKTOP)
    assert page.js_errors == []


def test_without_entries_the_viewer_offers_no_diary_steps_and_the_trend_no_legend(
    page,
    staff_a,
    holter_recording,  # noqa: F811
):
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{holter_recording.pk}/")
    trend = page.locator("canvas[data-hr-trend]")
    expect(trend).to_have_attribute("data-loaded", "true")
    expect(trend).to_have_attribute("data-diary", "0")
    expect(page.locator("p.trend-diary")).to_have_count(0)
    viewer = page.locator("[data-ecg-viewer]")
    expect(viewer.get_by_role("button", name="Next diary entry")).to_have_count(0)
    expect(viewer).to_have_attribute("data-diary", "0")
    viewer.locator("canvas.ecg").focus()
    page.keyboard.press("d")
    expect(viewer.locator("[data-info]")).to_have_text("The patient's diary has no entries.")
    assert page.js_errors == []


def test_on_a_recording_whose_start_is_known_the_trend_names_an_entry_by_its_time_of_day(
    page,
    staff_a,
    holter_recording,  # noqa: F811
):
    # the diary on the page, the viewer and the paper diary give "22:50:12": the trend's cursor and tooltip had
    # given "0:00:12" alone, a time the clinic could not find on the patient's diary
    holter_recording.recorded_at = timezone.make_aware(datetime(2026, 3, 1, 22, 50, 0))
    holter_recording.save(update_fields=["recorded_at"])
    palpitations = add(holter_recording, staff_a, 12.5, "palpitations")
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{holter_recording.pk}/")
    trend = page.locator("canvas[data-hr-trend]")
    expect(trend).to_have_attribute("data-loaded", "true")
    expect(page.locator(f"#diary-entry-{palpitations.pk} .event-head")).to_contain_text("at 22:50:12 (0:00:12 in)")
    trend.focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#trend-cursor")).to_contain_text(
        "Diary: Palpitations at 22:50:12 (0:00:12 in). Enter shows the entry in the viewer."
    )
    (mark,) = page.evaluate(TREND)["marks"]
    box = trend.bounding_box()
    page.mouse.move(box["x"] + mark["x"], box["y"] + mark["y"])
    expect(trend).to_have_attribute("title", re.compile(r"^Diary: Palpitations at 22:50:12 \(0:00:12 in\)"))
    assert page.js_errors == []


def test_where_the_start_is_known_the_trends_time_axis_and_cursor_give_the_time_of_day(
    page,
    staff_a,
    holter_recording,  # noqa: F811
):
    # the diary is noted in times of day ("22:50:12"): the axis had counted minutes into the recording, and a
    # symptom noted at 03:10 was looked for by working out how many hours the recorder had run
    holter_recording.recorded_at = timezone.make_aware(datetime(2026, 3, 1, 22, 50, 0))
    holter_recording.save(update_fields=["recorded_at"])
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{holter_recording.pk}/")
    trend = page.locator("canvas[data-hr-trend]")
    expect(trend).to_have_attribute("data-loaded", "true")
    texts = _assert_trend_labels_apart_and_inside(page)
    assert {"22:50", "22:51"} <= set(texts) and not [t for t in texts if t.endswith((" min", " h"))], texts
    expect(page.locator("#trend-help")).to_contain_text("and the mean, against the time of day;")
    trend.focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#trend-cursor")).to_have_text(
        re.compile(r"^The minute from 22:50:00 \(0:00:00 in\) to 22:51:00: ")
    )

    # A night (the rhythm data's trend swapped in the browser): the ticks on the clock's whole hours, at a desk and
    # on a phone, and the minute past the chart's top said by its time of day.
    minutes = 8 * 60 + 20
    night = {
        "minute": list(range(minutes)),
        "beats": [60] * minutes,
        "hr_min": [50.0] * minutes,
        "hr_mean": [60.0] * minutes,
        "hr_max": [230.0 if m == 70 else 90.0 for m in range(minutes)],
    }

    swapped = {"trend": night}

    def overnight(route):
        response = route.fetch()
        route.fulfill(response=response, json={**response.json(), "trend": swapped["trend"]})

    rhythm_url = f"**/recordings/{holter_recording.pk}/rhythm/"
    page.route(rhythm_url, overnight)
    page.reload()
    expect(trend).to_have_attribute("data-loaded", "true")
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        page.wait_for_function(
            "w => Math.abs(document.querySelector('canvas[data-hr-trend]').hrTrend.width - w) < 1",
            arg=page.evaluate("document.querySelector('canvas[data-hr-trend]').clientWidth"),
        )
        times = [t for t in _assert_trend_labels_apart_and_inside(page) if ":" in t]
        assert len(times) >= 3 and all(re.fullmatch(r"\d\d:00", t) for t in times) and "00:00" in times, times
        # each where that time of day falls: 00:00 is 70 minutes in
        tick = page.evaluate(
            """() => { const chart = document.querySelector('canvas[data-hr-trend]').hrTrend;
                 const label = chart.labels.find(l => l.text === '00:00');
                 return [(label.x0 + label.x1) / 2, chart.x(70)]; }"""
        )
        assert tick[0] == pytest.approx(tick[1], abs=0.5), (size, tick)
    page.set_viewport_size(DESKTOP)
    expect(page.locator("p.trend-over")).to_contain_text(
        "the highest 230 bpm in the minute from 00:00:00 (1:10:00 in)."
    )
    page.evaluate(
        "() => { const chart = document.querySelector('canvas[data-hr-trend]').hrTrend; chart.cursor = 70; chart.say(); }"
    )
    expect(page.locator("#trend-cursor")).to_have_text(
        re.compile(r"^The minute from 00:00:00 \(1:10:00 in\) to 00:01:00: 50 to 230 bpm")
    )

    # Two days: the clock's times repeat, so each midnight says which day it begins, where it falls
    minutes = 2 * 24 * 60 + 60
    swapped["trend"] = {
        "minute": list(range(minutes)),
        "beats": [60] * minutes,
        "hr_min": [50.0] * minutes,
        "hr_mean": [60.0] * minutes,
        "hr_max": [90.0] * minutes,
    }
    page.reload()
    expect(trend).to_have_attribute("data-loaded", "true")
    texts = _assert_trend_labels_apart_and_inside(page)
    assert "Day 2" in texts and "Day 3" in texts and "00:00" not in texts, texts
    days = page.evaluate(
        """() => { const chart = document.querySelector('canvas[data-hr-trend]').hrTrend;
             return ['Day 2', 'Day 3'].map(t => { const l = chart.labels.find(l => l.text === t);
                                                 return [(l.x0 + l.x1) / 2, chart.x(70 + (t === 'Day 3' ? 1440 : 0))]; }); }"""
    )
    for drawn, expected in days:
        assert drawn == pytest.approx(expected, abs=0.5), days
    page.unroute(rhythm_url)
    assert_accessible(page)
    assert page.js_errors == []


def test_the_diarys_sleep_is_shaded_on_the_trend_and_said_by_its_cursor(
    page,
    staff_a,
    holter_recording,  # noqa: F811
):
    # the night's slow rate is read against the night: the trend had shown sleep nowhere, on screen or printed
    services.diary_activity_add(
        recording=holter_recording, by=staff_a, kind="sleep", start=int(5 * FS), end=int(30 * FS)
    )
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{holter_recording.pk}/")
    trend = page.locator("canvas[data-hr-trend]")
    expect(trend).to_have_attribute("data-loaded", "true")
    expect(trend).to_have_attribute("data-sleep", "1")
    note = page.locator("p.trend-sleep")
    expect(note).to_have_text("Shaded: asleep, as the patient's diary gives it (0:00:05 to 0:00:30).")
    assert note.get_attribute("id") in trend.get_attribute("aria-describedby").split()
    shape = page.evaluate(TREND)
    plot = shape["width"] - PAD_L - PAD_R

    def colour(minute: float) -> list[int]:
        x = PAD_L + plot * minute / shape["minutes"]
        return page.evaluate(
            """([x, y]) => { const c = document.querySelector('canvas[data-hr-trend]'), dpr = window.devicePixelRatio || 1;
                 return [...c.getContext('2d').getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data.slice(0, 3)]; }""",
            [x, 24 + 6],  # just under the 200 line, where no rate reaches
        )

    assert colour((5 + 30) / 2 / 60) == [0xE4, 0xE0, 0xF0]  # asleep
    assert colour(45 / 60) == [0xFF, 0xFF, 0xFF]  # awake: the chart's white
    trend.focus()
    page.keyboard.press("ArrowRight")  # the first minute: its middle, 0:00:30, in the sleep period's end
    expect(page.locator("#trend-cursor")).to_contain_text("Asleep, as the diary gives it.")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#trend-cursor")).not_to_contain_text("Asleep")
    assert_accessible(page)
    assert page.js_errors == []
