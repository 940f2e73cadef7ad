"""The patient's diary in a real Chromium: a symptom entered on the recording's page, shown with the rhythm at its
moment and its strip, shown in the viewer, refused with its reason beside the field, at a desk's width and a
tablet's."""

import re

import pytest
from playwright.sync_api import expect

from diagnostics.models import DiaryEntry

from ..diagnostics.test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)
from .conftest import TABLET, assert_accessible, log_in

pytestmark = pytest.mark.django_db(transaction=True)


def enter(page, time: str, symptom: str, note: str = "") -> None:
    diary = page.locator("#diary-form")
    diary.get_by_label("Time into the recording").fill(time)
    diary.get_by_label("Symptom").select_option(label=symptom)
    diary.get_by_label("Note").fill(note)
    diary.get_by_role("button", name="Add to diary").click()
    page.wait_for_load_state()


def test_a_symptom_is_entered_and_read_beside_the_rhythm_then(
    page,
    shot,
    staff_a,
    holter_recording,  # noqa: F811
):
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{holter_recording.pk}/")
    page.get_by_role("navigation", name="On this page").get_by_role("link", name="Patient diary").click()
    expect(page.locator("#diary")).to_contain_text("No diary entries.")

    # a time past the end: said beside the field, which has the focus, the rest as typed
    enter(page, "5:00", "Dizziness", "standing up")
    time_field = page.locator("#diary-form").get_by_label("Time into the recording")
    expect(time_field).to_be_focused()
    expect(page.locator("#diary-time-error")).to_have_text(
        "0:05:00 is past the end of the recording, which is 0:01:10 long."
    )
    expect(page.locator("#diary-form").get_by_label("Note")).to_have_value("standing up")
    assert not DiaryEntry.objects.exists()
    assert_accessible(page)

    time_field.fill("0:50")
    page.locator("#diary-form").get_by_role("button", name="Add to diary").click()
    page.wait_for_load_state()
    made = DiaryEntry.objects.get()
    assert (made.sample, made.symptom, made.note) == (50 * 360, "dizziness", "standing up")
    expect(page).to_have_url(re.compile(r"#diary-form$"))  # where the diary's next line is typed
    item = page.locator(f"#diary-entry-{made.pk}")
    expect(item).to_contain_text("Dizziness at 0:00:50")
    expect(item).to_contain_text("During ventricular flutter / fibrillation.")
    expect(item.locator("figure.strip svg")).to_be_visible()
    expect(page.locator("#diary .messages")).to_contain_text("Dizziness at 0:00:50 entered.")
    assert_accessible(page)
    shot(page, "90-diary-entry")
    page.locator("#diary").screenshot(path=str(shot.dir / "91-diary-section.png"))

    # "Show in viewer" moves the ECG viewer to the moment noted
    item.get_by_role("button", name=re.compile("^Show in viewer")).click()
    viewer = page.locator("[data-ecg-viewer]")
    expect(viewer).to_have_attribute("data-position", str(50 * 360))

    # at a tablet's width the page does not scroll sideways (the strip scrolls inside its own box)
    page.set_viewport_size(TABLET)
    page.goto(f"/recordings/{holter_recording.pk}/#diary")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.locator("#diary").screenshot(path=str(shot.dir / "92-diary-tablet.png"))

    # removed by mistake? behind its own disclosure, then gone
    item = page.locator(f"#diary-entry-{made.pk}")
    item.get_by_text("Entered by mistake?").click()
    item.get_by_role("button", name=re.compile("^Remove this entry")).click()
    page.wait_for_load_state()
    expect(page.locator("#diary")).to_contain_text("No diary entries.")
    assert DiaryEntry.objects.get().removed_at is not None  # kept, marked removed, out of the diary
    assert page.js_errors == []
