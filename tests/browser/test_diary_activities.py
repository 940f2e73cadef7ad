"""The diary's activities in a real Chromium at a phone's width: a night across midnight entered on a recording whose
file stated its start, a "to" refused beside its field, and the heart rate awake and asleep in the Holter summary."""

import re
from datetime import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from diagnostics import services
from diagnostics.models import DiaryActivity

from ..diagnostics.test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)
from .conftest import assert_accessible, log_in

pytestmark = pytest.mark.django_db(transaction=True)
PHONE = {"width": 390, "height": 844}


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_night_across_midnight_is_entered_on_a_phone_and_the_summary_gives_the_rate_awake_and_asleep(
    page,
    shot,
    staff_a,
    holter_recording,  # noqa: F811
):
    recording = holter_recording
    recording.recorded_at = timezone.make_aware(datetime(2026, 3, 1, 23, 59, 30))
    recording.save(update_fields=["recorded_at"])
    page.set_viewport_size(PHONE)
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{recording.pk}/#activity-form")
    form = page.locator("#activity-form")
    expect(form).to_contain_text("23:10 to 06:45 is a night")
    expect(page.locator("#awake-asleep")).to_have_count(0)  # no sleep entered yet
    assert no_sideways_scroll(page)

    # a "to" that is neither after "from" tonight nor inside the recording tomorrow: said beside it, which has the
    # focus, the rest as typed
    form.get_by_label("Activity").select_option(label="Asleep")
    form.get_by_label("From").fill("23:59:40")
    form.get_by_label(re.compile("^To")).fill("23:59:35")
    form.get_by_label(re.compile("^Note")).fill("slept in the chair")
    form.get_by_role("button", name="Add activity").click()
    page.wait_for_url(re.compile(r"#activity-form$"))
    to_field = form.get_by_label(re.compile("^To"))
    expect(to_field).to_be_focused()
    expect(page.locator("#activity-end-error")).to_contain_text("23:59:35 is before the beginning")
    expect(form.get_by_label("Activity")).to_have_value("sleep")
    expect(form.get_by_label(re.compile("^Note"))).to_have_value("slept in the chair")
    assert not DiaryActivity.objects.exists()
    assert no_sideways_scroll(page)
    assert_accessible(page)
    shot(page, "a01-activity-refused-phone", full_page=False)

    # after midnight: the next day's 00:00:20, 50 s in
    to_field.fill("00:00:20")
    form.get_by_role("button", name="Add activity").click()
    page.wait_for_url(re.compile(r"#activity-form$"))
    night = DiaryActivity.objects.get()
    assert (night.kind, night.start, night.end, night.note) == ("sleep", 10 * 360, 50 * 360, "slept in the chair")
    item = page.locator(f"#diary-activity-{night.pk}")
    expect(item).to_contain_text("Asleep from 23:59:40 (0:00:10 in) to 00:00:20 (0:00:50 in)")
    expect(item).to_contain_text("Heart rate over it: mean")
    expect(page.locator("#activity-form").locator("xpath=preceding-sibling::ul[1]")).to_contain_text("entered.")

    table = page.locator("#holter #awake-asleep table")
    expect(table.locator("thead")).to_contain_text("Awake")
    expect(table.locator("thead")).to_contain_text("Asleep")
    expect(table.get_by_role("row", name=re.compile("^Mean heart rate"))).to_contain_text("bpm")
    expect(page.locator("#awake-asleep-note")).to_contain_text("over 8 beats")
    page.locator("#awake-asleep").scroll_into_view_if_needed()
    assert no_sideways_scroll(page)
    assert_accessible(page)
    page.locator("#holter").screenshot(path=str(shot.dir / "a02-awake-asleep-phone.png"))
    page.locator("#diary").screenshot(path=str(shot.dir / "a03-activities-phone.png"))
    assert page.js_errors == []


# Each figure's first text (the number and its unit, "60.0 bpm") and the lines it takes in its cell.
FIGURE_LINES = """() => [...document.querySelectorAll('#awake-asleep td')].map(td => {
  const text = [...td.childNodes].find(n => n.nodeType === 3 && n.textContent.trim());
  if (!text) return null;
  const range = document.createRange(); range.selectNodeContents(text);
  const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
  return [text.textContent.trim(), tops.size];
}).filter(Boolean)"""


def test_on_a_phone_each_rate_awake_and_asleep_keeps_its_unit_beside_it(
    page,
    shot,
    staff_a,
    holter_recording,  # noqa: F811
):
    # a recording whose start is known: each lowest and highest says its minute as a time of day and into the
    # recording, which at 390 px had squeezed the figures' columns until "60.0" and "bpm" stood on lines of their own
    recording = holter_recording
    recording.recorded_at = timezone.make_aware(datetime(2026, 3, 1, 22, 50, 0))
    recording.save(update_fields=["recorded_at"])
    services.diary_activity_add(recording=recording, by=staff_a, kind="sleep", start=10 * 360, end=50 * 360)
    page.set_viewport_size(PHONE)
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{recording.pk}/#awake-asleep")
    figures = page.evaluate(FIGURE_LINES)
    assert any(text.endswith("bpm") for text, _ in figures)
    assert [f for f in figures if f[1] != 1] == []
    assert no_sideways_scroll(page)
    page.locator("#awake-asleep").screenshot(path=str(shot.dir / "a04-awake-asleep-figures-phone.png"))
    # both columns on the screen: the table (which on a phone scrolls in itself) not scrolled sideways to reach one
    box = page.evaluate("(t => [t.scrollWidth, t.clientWidth])(document.querySelector('#awake-asleep table'))")
    assert box[0] <= box[1], box


def test_the_printed_report_keeps_the_trend_on_its_first_page_with_the_rate_awake_and_asleep(
    page,
    shot,
    staff_a,
    holter_recording,  # noqa: F811
):
    # the Awake / Asleep table had stood inside the summary, between it and the trend, and pushed the trend (which
    # shows the night at a glance) off the first page of the report; it follows the trend now
    from pypdf import PdfReader

    recording = holter_recording
    recording.recorded_at = timezone.make_aware(datetime(2026, 3, 1, 22, 50, 0))
    recording.save(update_fields=["recorded_at"])
    services.diary_activity_add(recording=recording, by=staff_a, kind="sleep", start=10 * 360, end=50 * 360)
    log_in(page, staff_a.username)
    page.emulate_media(media="print")
    page.goto(f"/recordings/{recording.pk}/report/")
    path = shot.dir / "a05-report-awake-asleep.pdf"
    page.pdf(path=str(path), format="A4")
    pages = [" ".join(p.extract_text().split()) for p in PdfReader(str(path)).pages]
    assert "Holter summary" in pages[0] and "Heart rate per minute" in pages[0], pages[0][-400:]
    text = " ".join(pages)
    assert "Awake / Asleep" in text and text.index("Heart rate per minute") < text.index("Awake / Asleep")
    assert text.index("Awake / Asleep") < text.index("Hourly table")
