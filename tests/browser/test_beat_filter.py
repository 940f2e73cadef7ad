"""The beat table's class filter and time jump in a real Chromium: by htmx, and without JavaScript."""

import re

import pytest
from playwright.sync_api import expect

from ..diagnostics.test_beat_table import known_beats_recording
from .conftest import assert_accessible, log_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def recording(clinic_a, staff_a, patient_a, active_models):
    return known_beats_recording(clinic_a, staff_a, patient_a, active_models)


def test_a_clinician_shows_the_v_beats_and_goes_to_a_time(page, shot, staff_a, recording):
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{recording.pk}/")
    status, table = page.locator("#beats-status"), page.locator("#beats")
    expect(status).to_have_text("Beats 1–50 of 600.")
    page.get_by_label("V Ventricular ectopic (60)").scroll_into_view_if_needed()
    form_at = page.locator("#beat-filter").bounding_box()["y"]
    page.get_by_label("V Ventricular ectopic (60)").check()  # shown at once, without pressing the button
    expect(status).to_have_text("V beats 1–50 of 60.")
    page.wait_for_timeout(200)  # past htmx's settle
    assert page.locator("#beat-filter").bounding_box()["y"] == form_at  # the form used stays where it was
    classes = table.locator("tbody td:nth-child(4) .cls")
    expect(classes).to_have_count(50)
    assert set(classes.all_inner_texts()) == {"V"}
    assert page.url.endswith(f"/recordings/{recording.pk}/?beats_class=V&page=1#beats")  # swapped in, in the URL
    table.get_by_role("link", name="Next").click()
    expect(status).to_have_text("V beats 51–60 of 60.")
    expect(classes).to_have_count(10)
    # the pager sits under the rows: after it, the line saying what the table shows is in view, and the focus,
    # the Next link being gone from the last page, on that line rather than lost to the page's top
    expect(status).to_be_in_viewport()
    expect(status).to_be_focused()
    # plotting a beat is no page turn: the view stays where the clinician clicked
    row = table.get_by_role("button", name="Plot beat 594")
    row.scroll_into_view_if_needed()
    before = page.evaluate("window.scrollY")
    row.click()
    expect(page.locator("#beat-plot")).to_contain_text("594")
    page.wait_for_timeout(200)  # past htmx's settle, when a page turn would scroll
    assert page.evaluate("window.scrollY") == before

    page.get_by_label("Go to time into the recording").fill("8:30")
    page.get_by_role("button", name="Show beats").click()
    expect(status).to_have_text(
        "Beat 514 at 0:08:33 is the first V beat at or after 0:08:30. V beats 51–60 of 60.", use_inner_text=True
    )
    expect(table.locator("tr.landed")).to_contain_text("0:08:33")
    expect(table.locator("tr.landed")).to_be_in_viewport()  # the row gone to is shown, not left below the view
    # the form was not swapped: what was typed and the focus stay
    assert page.evaluate("document.activeElement.textContent") == "Show beats"
    expect(page.get_by_label("Go to time into the recording")).to_have_value("8:30")
    assert_accessible(page)
    shot(page, "60-beat-table-v-beats-at-a-time")

    page.get_by_label("Go to time into the recording").fill("1:75")
    page.get_by_role("button", name="Show beats").click()
    expect(status.locator(".error")).to_have_text(
        "“1:75” is not a time into the recording: write h:mm:ss, m:ss or seconds (1:23:45, 83:45 or 5025)."
    )
    expect(page.locator("#update-failed")).to_be_hidden()  # said beside the form, not as a failed update
    assert_accessible(page)
    shot(page, "61-beat-table-time-not-understood", full_page=False)


def test_the_filter_works_without_javascript(no_script_page, staff_a, recording):
    page = no_script_page
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{recording.pk}/?events_page=1")
    page.get_by_label("S Supraventricular ectopic (30)").check()
    page.get_by_label("Go to time into the recording").fill("5:00")
    page.get_by_role("button", name="Show beats").click()
    page.wait_for_url(re.compile(r"beats_class=S"))
    assert "events_page=1" in page.url and page.url.endswith("#beat-filter")
    expect(page.locator("#beats-status")).to_have_text(
        "Beat 308 at 0:05:07 is the first S beat at or after 0:05:00. S beats 1–30 of 30."
    )
    expect(page.get_by_label("S Supraventricular ectopic (30)")).to_be_checked()


def test_ticks_on_a_page_of_the_table_reached_by_htmx_survive_a_reload(page, doctor_a, recording):
    """The class and page the table was turned to are in the address bar, so a reload (the page's own, once the
    rhythm is recomputed, or the doctor's) shows that page again, with the beats ticked on it."""
    log_in(page, doctor_a.username)
    page.goto(f"/recordings/{recording.pk}/")
    status, table = page.locator("#beats-status"), page.locator("#beats")
    page.get_by_label("V Ventricular ectopic (60)").check()
    expect(status).to_have_text("V beats 1–50 of 60.")
    table.get_by_role("link", name="Next").click()
    expect(status).to_have_text("V beats 51–60 of 60.")
    boxes = table.locator("input[name=beats]")
    expect(boxes).to_have_count(10)
    ticked = [boxes.nth(i).get_attribute("value") for i in (1, 3)]
    for index in ticked:
        page.locator(f"#pick-{index}").check()

    page.reload()
    expect(status).to_have_text("V beats 51–60 of 60.")
    expect(page.locator("#beat-pick")).to_have_attribute("data-ticks-restored", "2")
    for index in ticked:
        expect(page.locator(f"#pick-{index}")).to_be_checked()
    expect(page.get_by_label("V Ventricular ectopic (60)")).to_be_checked()
    assert page.evaluate("() => sessionStorage.getItem('htmx-history-cache')") is None  # no patient's page kept

    page.go_back()  # the table's previous page, read again from the server
    expect(status).to_have_text("V beats 1–50 of 60.")
    expect(page.locator("#beats input[name=beats]:checked")).to_have_count(0)
