"""A Holter report in a real Chromium: a 30-minute MIT-BIH record with AF and ventricular runs (203)."""

import re

import pytest
from playwright.sync_api import expect

from diagnostics.models import Event, EventReview

from ..conftest import model_version_from
from ..data import REPO_ROOT, mitdb_dir
from .conftest import DESKTOP, TABLET, assert_accessible, log_in, upload_signal
from .test_clinic_flow import _wait_done

pytestmark = [pytest.mark.worker, pytest.mark.slow]


@pytest.fixture
def shipped_heartbeat_model(active_models):
    """The product's own beat classes, so the runs and AF come from what the clinic would see."""
    newest = sorted((REPO_ROOT / "mlmodels" / "artifacts").glob("heartbeat-*.keras"))[-1]
    return model_version_from(newest, task="heartbeat", version=newest.stem.removeprefix("heartbeat-"))


PHONE = {"width": 390, "height": 844}


def _fits(page, width: int) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.django_db(transaction=True)
def test_a_doctor_reads_and_signs_off_the_holter_report_of_record_203(
    page, shot, patient_a, doctor_a, shipped_heartbeat_model, celery_worker
):
    mitdb = mitdb_dir()
    log_in(page, "doctor_a")
    upload_signal(page, patient_a, [mitdb / "203.hea", mitdb / "203.dat"])
    _wait_done(page)
    assert Event.objects.filter(type="af").exists() and Event.objects.filter(type__in=["vt", "v_run"]).exists()

    # The Holter panel and the trend chart, drawn from the recording's own minute trend.
    holter = page.locator("#holter")
    expect(holter).to_contain_text("AF / flutter")
    expect(holter).to_contain_text("Ventricular ectopy")
    trend = page.locator("canvas[data-hr-trend]")
    expect(trend).to_have_attribute("data-loaded", "true")
    viewer = page.locator("[data-ecg-viewer]")
    expect(viewer).to_have_attribute("data-events", str(Event.objects.count()))
    # the summary's two lists each as tall as their own rows (they had stretched to the taller one's height,
    # spreading the shorter list's rows apart)
    lists = holter.locator(".holter-grid > dl.facts")
    left, right = lists.nth(0).bounding_box(), lists.nth(1).bounding_box()
    assert abs(left["y"] - right["y"]) < 1 and right["height"] < 0.8 * left["height"]
    assert_accessible(page)
    shot(page, "20-holter-recording-page")
    holter.screenshot(path=str(shot.dir / "21-holter-summary-and-trend.png"))

    # A click on the trend moves the viewer to that minute.
    trend.scroll_into_view_if_needed()
    box = trend.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.4)
    jumped = trend.get_attribute("data-jumped-to")
    assert jumped and 0.4 * 650000 < int(jumped) < 0.6 * 650000
    expect(viewer).to_have_attribute("data-position", jumped)
    expect(viewer.locator("[data-info]")).to_contain_text("Showing ")
    # from the keyboard the cursor's minute and rates are said (the chart itself is only pixels)
    trend.focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#trend-cursor")).to_contain_text(
        re.compile(r"^The minute from (\d:\d\d):00 to \d:\d\d:00: (\d+ to \d+ bpm|no heart rate)")
    )

    # "Next event" steps through the events in the viewer, marked along the strip.
    viewer.get_by_role("button", name="Next event").click()
    expect(viewer.locator("[data-info] .event-title")).to_contain_text("Event")
    first_later = Event.objects.filter(start__gt=int(jumped)).order_by("start", "id").first()
    expect(viewer).to_have_attribute("data-event", str(first_later.pk))
    viewer.screenshot(path=str(shot.dir / "22-viewer-next-event.png"))
    # moved on from that event (a click further along the trend), "Next event" steps from where the view is
    trend.scroll_into_view_if_needed()
    box = trend.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.4)
    moved = int(trend.get_attribute("data-jumped-to"))
    assert moved > 0.7 * 650000
    viewer.get_by_role("button", name="Next event").click()
    later = Event.objects.filter(start__gt=moved).order_by("start", "id").first()
    expect(viewer).to_have_attribute("data-event", str(later.pk) if later else str(first_later.pk))

    # The event list: a strip per event; "Show in viewer" jumps there; the doctor confirms one.
    events = page.locator("ol.events > li")
    count = events.count()
    assert 1 <= count <= 10 and page.locator("ol.events figure.strip svg.paper").count() == count
    first = events.first
    sample = first.get_by_role("button", name="Show in viewer").get_attribute("data-goto-sample")
    first.get_by_role("button", name="Show in viewer").click()
    expect(viewer).to_have_attribute("data-position", sample)
    # the viewer describes the event shown, not the one "Next event" showed before
    shown = Event.objects.get(pk=int(first.get_attribute("id").removeprefix("event-")))
    expect(viewer).to_have_attribute("data-event", str(shown.pk))
    expect(viewer.locator("[data-info] .event-title")).to_contain_text(shown.get_type_display())
    index = list(Event.objects.order_by("start", "id").values_list("pk", flat=True)).index(shown.pk)
    expect(viewer.locator("[data-info] .event-title")).to_contain_text(f"Event {index + 1} of ")
    page.locator("#events").screenshot(path=str(shot.dir / "23-event-list-with-strips.png"))
    first.get_by_label("Note").fill("Seen on the strip.")
    first.get_by_role("button", name="Confirm").click()
    expect(page.locator("#events .messages")).to_contain_text("confirmed")  # the page is back
    review = EventReview.objects.get()
    # the message beside the event the page scrolls back to, in view (it had been at the page's top)
    expect(page.locator(f"#event-{review.event_id} .messages")).to_contain_text("confirmed")
    expect(page.locator(f"#event-{review.event_id} .messages")).to_be_in_viewport()
    assert review.decision == "confirm" and review.event.start == int(sample) and review.note == "Seen on the strip."
    expect(page.locator(f"#event-{review.event_id}")).to_contain_text("Confirmed by doctor_a: “Seen on the strip.”")

    # Tablet width: nothing spills sideways, the panel still reads, its two lists one under the other.
    page.set_viewport_size(TABLET)
    expect(trend).to_be_visible()
    left, right = lists.nth(0).bounding_box(), lists.nth(1).bounding_box()
    assert right["y"] >= left["y"] + left["height"] - 1 and abs(right["x"] - left["x"]) < 1
    assert _fits(page, TABLET["width"])
    assert_accessible(page)
    shot(page, "24-holter-recording-page-tablet")
    # A phone: the beats and hourly tables scroll within themselves, not the page sideways.
    page.set_viewport_size(PHONE)
    assert _fits(page, PHONE["width"])
    page.set_viewport_size(DESKTOP)

    # The printed report: summary, trend, hourly table and the strips of the significant events.
    page.get_by_role("link", name="Printable report").click()
    report = page.locator(".report")
    expect(report).to_contain_text("Holter summary")
    expect(report.locator("svg.trend")).to_be_visible()
    expect(report.locator("table.hourly tbody tr")).to_have_count(1)
    expect(report).to_contain_text("AF onset")
    assert report.locator("figure.event-strip svg.paper").count() >= 2
    assert_accessible(page)
    shot(page, "25-holter-report")
    page.emulate_media(media="print")
    shot(page, "26-holter-report-print")
    # On paper every page names the patient and the recording and is numbered, at A4 and Letter.
    recording_id = Event.objects.values_list("recording_id", flat=True).first()
    for paper in ("A4", "Letter"):
        pages = _printed_pages(page, paper, shot.dir / f"26-holter-report-{paper}.pdf")
        assert len(pages) >= 2
        for number, text in enumerate(pages, 1):
            assert patient_a.display_name in text and f"Recording {recording_id} " in text, (paper, number)
            assert f"Page {number} of {len(pages)}" in text, (paper, number)
    page.emulate_media(media="screen")
    page.set_viewport_size(TABLET)
    assert _fits(page, TABLET["width"])
    shot(page, "27-holter-report-tablet")
    assert page.js_errors == []


def _printed_pages(page, paper: str, path) -> list[str]:
    """The report printed by Chromium on ``paper`` (the page's own @page margins), each page's text."""
    from pypdf import PdfReader

    page.pdf(path=str(path), format=paper, landscape=True, prefer_css_page_size=False, print_background=True)
    return [p.extract_text() for p in PdfReader(str(path)).pages]
