"""Comparing two of a patient's Holter recordings in Chromium: reached from the patient page, chosen by ticking two,
read on a desk and on a phone without the page scrolling sideways, accessible."""

import pytest
from playwright.sync_api import expect

from ..diagnostics.test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)
from ..patients.test_compare import later_holter
from .conftest import DESKTOP, assert_accessible, log_in
from .test_holter import PHONE, _fits

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def holter(request):
    """70 s of MIT-BIH 207 at 360 Hz (VF from 41.5 s to 61.5 s), classified."""
    return request.getfixturevalue("holter_recording")


def test_a_doctor_compares_two_holters_from_the_patient_page(page, shot, doctor_a, holter):
    rhythm = holter.diagnosis.rhythm
    later = later_holter(holter, heart_rate__mean_bpm=rhythm["heart_rate"]["mean_bpm"] + 12)
    third = later_holter(holter)
    log_in(page, doctor_a.username)
    page.set_viewport_size(DESKTOP)
    page.goto(f"/patients/{holter.patient_id}/")
    page.get_by_role("link", name="Compare recordings").click()
    table = page.locator("table.comparison")
    expect(table).to_be_visible()  # the two latest, to begin with
    # the first and the second instead, by ticking them
    page.get_by_label(f"Recording {third.pk},").uncheck()
    page.get_by_label(f"Recording {holter.pk},").check()
    page.get_by_role("button", name="Compare").click()
    expect(table.locator("thead")).to_contain_text(f"Recording {holter.pk}")
    expect(table.locator("thead")).to_contain_text(f"Recording {later.pk}")
    expect(table.get_by_role("row", name="Mean heart rate (bpm)")).to_contain_text("+12")
    expect(table.locator("tr.danger")).to_contain_text("VF/VFL or asystole")
    assert_accessible(page)
    shot(page, "compare-desktop")

    page.set_viewport_size(PHONE)
    page.reload()
    assert _fits(page, PHONE["width"]), page.evaluate("document.documentElement.scrollWidth")
    # the table too: its four columns on the screen, not scrolled inside their box
    for scroller in ("table.comparison", "table.comparison tbody"):  # on a phone a table scrolls in itself
        box = page.evaluate(f"(b => [b.scrollWidth, b.clientWidth])(document.querySelector('{scroller}'))")
        assert box[0] <= box[1], (scroller, box)
    shot(page, "compare-phone")

    # one ticked: said, beside the chooser, and the page is no half-comparison
    page.get_by_label(f"Recording {holter.pk},").uncheck()
    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose two recordings to compare (1 chosen).")
    expect(page.locator("table.comparison")).to_have_count(0)
    assert_accessible(page)


def test_recordings_of_different_lengths_are_said_to_be_and_the_table_still_fits_a_phone(page, shot, doctor_a, holter):
    rhythm = holter.diagnosis.rhythm
    longer = later_holter(holter, duration_s=600.0, beats_analysed=rhythm["beats_analysed"] * 9)
    log_in(page, doctor_a.username)
    page.set_viewport_size(PHONE)
    page.goto(f"/patients/{holter.patient_id}/compare/?recordings={holter.pk}&recordings={longer.pk}")
    expect(page.locator("#compare-lengths")).to_contain_text(f"Recording {longer.pk} ran 8.6 times as long")
    expect(
        page.locator("table.comparison").get_by_role("row", name="Beats analysed", exact=False).first
    ).to_contain_text("not compared")
    assert _fits(page, PHONE["width"])
    # the change column's words on the screen: "not comparable: lengths differ" had pushed it out of the table's box
    box = page.evaluate("(b => [b.scrollWidth, b.clientWidth])(document.querySelector('table.comparison'))")
    assert box[0] <= box[1], box
    assert_accessible(page)
    shot(page, "compare-lengths-phone")
