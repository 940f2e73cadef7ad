"""Moving a recording filed under the wrong patient, in a real Chromium: the recording page's link, the form (the
right patient's MRN and a reason), the confirmation naming both patients, and the recording's page after the move,
at a desk's width and a tablet's, by mouse and by keyboard."""

import datetime
import re

import pytest
from playwright.sync_api import expect

from diagnostics.models import ECGRecording, RecordingMove

from ..factories import PatientFactory, signal_recording
from .conftest import TABLET, assert_accessible, log_in

pytestmark = pytest.mark.django_db(transaction=True)
REASON = "The Holter diary names Peter Brandt."
LINK = "Filed under the wrong patient?"
MRN_FIELD = "MRN of the patient it belongs to"
REASON_FIELD = "Why it is moved"
PHONE = {"width": 320, "height": 700}


@pytest.fixture
def recording(staff_a, patient_a):
    """A finished (failed) recording made directly, no upload and no worker: its page names its patient all the
    same, and a recording is moved whatever its status."""
    return signal_recording(
        patient=patient_a, uploaded_by=staff_a, status="failed", error_message="The file held no signal."
    )


@pytest.fixture
def right_patient(clinic_a):
    return PatientFactory(
        clinic=clinic_a, mrn="A-0002", family_name="Brandt", given_name="Peter", date_of_birth=datetime.date(1950, 3, 4)
    )


def ask_to_move(page, recording, mrn: str, reason: str = REASON) -> None:
    page.goto(f"/recordings/{recording.pk}/move/")
    page.get_by_label(MRN_FIELD).fill(mrn)
    page.get_by_label(REASON_FIELD).fill(reason)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state()  # (its stylesheet too: what is checked next is laid out)


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def tab_to(page, name: str, *, limit: int = 30):
    """Press Tab from the top of the page until the control whose text is ``name`` has the focus; return it."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(document.activeElement.textContent || '').trim()") == name:
            return page.locator(":focus")
    raise AssertionError(f"{name!r} not reached by {limit} presses of Tab")


def test_a_doctor_moves_a_recording_by_keyboard_and_a_second_click_sends_nothing_more(
    page, shot, doctor_a, recording, patient_a, right_patient
):
    log_in(page, doctor_a.username)
    page.goto(f"/recordings/{recording.pk}/")
    page.get_by_role("link", name=LINK).click()

    # the form: which patient the recording is under now, then the MRN and the reason, labelled
    expect(page.locator("h1")).to_have_text(LINK)
    expect(page.locator("main")).to_contain_text("is filed under Meyer, Anna, MRN A-0001")
    assert_accessible(page)
    shot(page, "80-move-form")
    # by keyboard: the breadcrumb, then the MRN, the reason and Continue, in that order
    tab_to(page, f"Recording {recording.pk}")
    page.keyboard.press("Tab")
    expect(page.get_by_label(MRN_FIELD)).to_be_focused()
    page.keyboard.type("A-0002")
    page.keyboard.press("Tab")
    expect(page.get_by_label(REASON_FIELD)).to_be_focused()
    page.keyboard.type(REASON)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Continue")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_load_state()

    # the confirmation: both patients side by side, the recording and the reason; nothing moved yet
    expect(page.locator("h1")).to_have_text(f"Move recording {recording.pk} to Brandt, Peter?")
    now, to = page.locator(".move-patients > .card").all()
    expect(now.locator("h2")).to_have_text("Filed under now")
    expect(now.locator("dd")).to_have_text(["Meyer, Anna", "A-0001", patient_a.date_of_birth.isoformat()])
    expect(to.locator("h2")).to_have_text("To be filed under")
    expect(to.locator("dd")).to_have_text(["Brandt, Peter", "A-0002", "1950-03-04"])
    left, right = now.bounding_box(), to.bounding_box()
    assert left["x"] + left["width"] <= right["x"] and left["y"] == right["y"]  # side by side at 1280 px
    expect(page.locator("main dl.facts").first).to_contain_text("holter.csv")
    expect(page.locator("main dl.facts").first).to_contain_text(REASON)
    assert_accessible(page)
    shot(page, "81-move-confirm")
    assert ECGRecording.objects.get(pk=recording.pk).patient_id == patient_a.pk

    # Move is reached by Tab, says where to when read alone, and shows that it has the focus
    move = tab_to(page, f"Move recording {recording.pk} to Brandt, Peter")
    expect(move).to_have_accessible_name(f"Move recording {recording.pk} to Brandt, Peter")
    assert move.evaluate("el => getComputedStyle(el).outlineStyle") == "solid"
    # a second click while the first is on its way (its request held here) sends nothing more
    held = []
    confirm_url = f"**/recordings/{recording.pk}/move/confirm/"
    page.route(confirm_url, hold := lambda route: held.append(route))
    middle = move.bounding_box()
    x, y = middle["x"] + middle["width"] / 2, middle["y"] + middle["height"] / 2
    try:
        page.mouse.click(x, y)
        for _ in range(100):
            if held:
                break
            page.wait_for_timeout(20)
        page.mouse.click(x, y)  # (no locator nor evaluate while held: Playwright would wait for the navigation)
        page.wait_for_timeout(300)
        assert len(held) == 1
    finally:
        for route in held:
            route.continue_()
        page.unroute(confirm_url, hold)

    page.wait_for_url(re.compile(rf"/recordings/{recording.pk}/$"))
    expect(page.locator(".messages li")).to_have_text(
        f"Recording {recording.pk} moved to Brandt, Peter (MRN A-0002). Reason: {REASON}"
    )
    history = page.locator("ol.history > li")
    expect(history).to_have_count(1)
    expect(history).to_contain_text("Filed under Meyer, Anna (MRN A-0001) until")
    expect(history).to_contain_text(f"moved by {doctor_a.display_name}: {REASON}")
    expect(page.locator("dl.facts dd").first).to_contain_text("Brandt, Peter · MRN A-0002")
    assert_accessible(page)
    shot(page, "82-move-done")
    assert RecordingMove.objects.count() == 1
    assert ECGRecording.objects.get(pk=recording.pk).patient_id == right_patient.pk


def test_on_a_tablet_and_a_phone_the_confirmation_shows_both_patients_without_sideways_scroll(
    page, shot, doctor_a, recording, right_patient
):
    page.set_viewport_size(TABLET)
    log_in(page, doctor_a.username)
    page.goto(f"/recordings/{recording.pk}/move/")
    assert no_sideways_scroll(page)
    assert_accessible(page)
    ask_to_move(page, recording, " a-0002 ")  # (as typed: any case, spaces)
    expect(page.locator("h1")).to_have_text(f"Move recording {recording.pk} to Brandt, Peter?")
    now, to = page.locator(".move-patients > .card").all()
    for viewport, name in ((TABLET, "83-move-confirm-tablet"), (PHONE, "84-move-confirm-phone")):
        page.set_viewport_size(viewport)
        expect(now).to_contain_text("Meyer, Anna")
        expect(to).to_contain_text("Brandt, Peter")
        first, second = now.bounding_box(), to.bounding_box()
        # side by side, or the patient it goes to under the other: not overlapping, each inside the screen
        assert first["x"] + first["width"] <= second["x"] or first["y"] + first["height"] <= second["y"], viewport
        for box in (first, second):
            assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], viewport
        for card in (now, to):  # nothing cut off inside a card (a long name breaks rather than overflows)
            assert card.evaluate("el => el.scrollWidth <= el.clientWidth"), viewport
        assert no_sideways_scroll(page), viewport
        shot(page, name)
    # at 820 px the two fit side by side
    page.set_viewport_size(TABLET)
    assert now.bounding_box()["y"] == to.bounding_box()["y"]
    assert_accessible(page)


def test_an_unknown_mrn_is_the_form_again_naming_it_and_staff_see_no_link(
    page, shot, doctor_a, staff_a, recording, right_patient
):
    log_in(page, doctor_a.username)
    ask_to_move(page, recording, "A-9999")
    expect(page.locator("h1")).to_have_text(LINK)
    mrn = page.get_by_label(MRN_FIELD)
    error = page.locator(".field.has-error").get_by_role("alert")
    expect(error).to_be_visible()
    expect(error).to_have_text("No patient of your clinic has the MRN “A-9999”: check it, or create the patient first.")
    expect(mrn).to_have_attribute("aria-invalid", "true")
    expect(mrn).to_have_accessible_description(re.compile("No patient of your clinic has the MRN “A-9999”"))
    expect(mrn).to_have_value("A-9999")  # what was typed is kept, to correct
    expect(mrn).to_be_focused()  # to correct at once: not from the top of the page
    expect(page.get_by_label(REASON_FIELD)).to_have_value(REASON)
    assert_accessible(page)
    shot(page, "85-move-unknown-mrn")
    assert not RecordingMove.objects.exists()

    page.context.clear_cookies()
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{recording.pk}/")
    expect(page.locator("dl.facts dd").first).to_contain_text("Meyer, Anna · MRN A-0001")
    expect(page.get_by_role("link", name=LINK)).to_have_count(0)
    expect(page.locator(f'a[href="/recordings/{recording.pk}/move/"]')).to_have_count(0)
