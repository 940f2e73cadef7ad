"""The recording page with scripts off, in a real Chromium: no control that needs a script is shown (the viewer's
toolbar, "Show in viewer", beat numbers that plot by htmx), the viewer and the trend chart say they need JavaScript
rather than that the browser cannot draw, and what works by links and forms still does."""

import re

import pytest
from playwright.sync_api import expect

from ..diagnostics.test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)
from .conftest import assert_controls_labelled, log_in

pytestmark = pytest.mark.django_db(transaction=True)

# Controls a script drives: each does nothing where scripts are off.
SCRIPTED = [
    "[data-ecg-viewer] [data-act]",
    "[data-gain]",
    "[data-goto-sample]",
    "[data-select-beat]",
    "[data-ecg-viewer] [data-scale]",
]


def test_with_scripts_off_the_recording_page_shows_no_dead_control_and_says_the_viewer_needs_javascript(
    no_script_page,
    shot,
    doctor_a,
    holter_recording,  # noqa: F811
):
    page = no_script_page
    log_in(page, doctor_a.username)
    page.goto(f"/recordings/{holter_recording.pk}/")
    main = page.locator("main")
    expect(main).to_contain_text("The ECG viewer needs JavaScript")
    expect(main).to_contain_text("The heart-rate chart needs JavaScript")
    assert "cannot draw" not in main.inner_text()
    for selector in SCRIPTED:
        assert page.locator(selector).count(), selector  # on the page, for when scripts run ...
        for i in range(page.locator(selector).count()):
            expect(page.locator(selector).nth(i)).to_be_hidden()  # ... and not shown without them
    # no "25 mm/s · 10 mm/mV ·" with nothing after it
    expect(page.locator("[data-ecg-viewer] .scale")).to_be_hidden()
    expect(page.locator("[data-ecg-viewer] canvas.ecg")).to_be_hidden()
    # the class legend stays: the key to the letters of the beat table and the strips; the viewer's keys go
    expect(page.locator("[data-ecg-viewer] ul.legend")).to_be_visible()
    expect(page.locator("[data-ecg-viewer] p.keys")).to_be_hidden()
    # a beat's number is still read in its row, as text (after a doctor's checkbox)
    expect(page.locator("table.beats tbody tr").first.locator("td:not(.pick)").first).to_have_text(
        "1", use_inner_text=True
    )
    assert_controls_labelled(page)
    shot(page, "70-recording-page-without-scripts")

    # what works by forms and links keeps working: a doctor's decision on an event, the beat filter
    first = page.locator("ol.events > li").first
    first.get_by_label("Note").fill("Seen on the strip")
    first.get_by_role("button", name="Confirm").click()
    expect(page.locator("ol.events > li .event-facts").first).to_contain_text("Confirmed")
    page.locator("#beats-class-V").check()
    page.get_by_role("button", name="Show beats").click()
    page.wait_for_url(re.compile(r"beats_class=V"))
    expect(page.locator("#beats-status")).to_contain_text("V beats 1–")
    # and a doctor's correction of the beats ticked in the table, the checkboxes joined to its form
    page.locator("table.beats tbody tr").first.get_by_role("checkbox").check()
    page.locator("#beat-pick-to_class").select_option("N")
    page.locator("#beat-pick").get_by_role("button", name=re.compile("^Change")).click()
    page.wait_for_url(re.compile(r"\?page=1&beats_class=V#beat-pick$"))
    expect(page.locator("#beat-pick .messages")).to_contain_text("is now N (normal")


def test_with_scripts_on_the_viewers_controls_are_shown_and_the_beat_numbers_are_buttons(
    page,
    doctor_a,
    holter_recording,  # noqa: F811
):
    log_in(page, doctor_a.username)
    page.goto(f"/recordings/{holter_recording.pk}/")
    for selector in SCRIPTED:
        expect(page.locator(selector).first).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("needs JavaScript", use_inner_text=True)
    expect(page.locator("table.beats tbody tr").first.locator("td:not(.pick)").first).to_have_text(
        "1", use_inner_text=True
    )  # the button's alone
    expect(page.get_by_role("button", name="Plot beat 1", exact=True)).to_be_visible()


def test_with_scripts_off_a_pending_recordings_page_reloads_itself_until_the_analysis_ends(
    no_script_page, doctor_a, patient_a
):
    """The status updates itself by htmx; without scripts the page says it reloads and does, until the result is
    there (a clinic's locked-down browser had shown "Queued" until someone pressed reload)."""
    from diagnostics.models import ECGRecording

    from ..factories import signal_recording

    recording = signal_recording(patient=patient_a, uploaded_by=doctor_a, status="processing")
    page = no_script_page
    log_in(page, doctor_a.username)
    page.goto(f"/recordings/{recording.pk}/")
    # (Playwright's text matching leaves <noscript> out, so the notice is looked at as itself)
    notice = page.locator("#status noscript span")
    expect(notice).to_be_visible()
    expect(notice).to_have_text("This page reloads itself every 10 s until the analysis ends.")
    ECGRecording.objects.filter(pk=recording.pk).update(status="failed", error_message="The file held no signal.")
    # the page reloads on its own: nothing here navigates
    expect(page.locator("#status")).to_contain_text("The file held no signal.", timeout=20_000)
    expect(notice).to_have_count(0)
    assert page.locator('meta[http-equiv="refresh"]').count() == 0  # a finished recording's page stays put
