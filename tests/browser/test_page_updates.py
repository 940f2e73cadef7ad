"""Parts of a page that htmx updates: what the user sees when an update fails or the session ended."""

import re
import time

import pytest
from playwright.sync_api import expect

from ..conftest import PASSWORD
from ..helpers import beat_recording
from .conftest import assert_accessible, log_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def recording(staff_a, patient_a, active_models):
    return beat_recording(staff_a, patient_a, beats=60)


def test_a_failed_update_says_so_and_a_working_one_clears_it(page, shot, staff_a, recording):
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{recording.pk}/")
    notice = page.locator("#update-failed")
    expect(notice).to_be_hidden()
    # a beat the recording does not hold (a stale page after a reprocessing, a hand-made address)
    page.evaluate(f"htmx.ajax('GET', '/recordings/{recording.pk}/beats/99999/plot/', '#beat-plot')")
    expect(notice).to_be_visible()
    expect(notice).to_have_attribute("role", "alert")
    expect(notice).to_contain_text("could not be updated: what it asked for was not found")
    expect(page.locator("#beat-plot")).to_contain_text("Select a beat number")  # nothing swapped in
    assert_accessible(page)
    shot(page, "45-update-failed-notice", full_page=False)
    # another part of the page updating says nothing about the plot: the notice stays
    page.locator("#beats").get_by_role("link", name="Next").click()
    expect(page.get_by_role("button", name="Plot beat 53", exact=True)).to_be_visible()
    expect(notice).to_be_visible()
    # the plot itself updating takes it away
    page.get_by_role("button", name="Plot beat 53", exact=True).click()
    expect(page.locator("#beat-plot svg")).to_be_visible()
    expect(notice).to_be_hidden()
    assert notice.get_attribute("role") is None
    # dismissed, a failure said again only after that part worked in between
    page.evaluate(f"htmx.ajax('GET', '/recordings/{recording.pk}/beats/99999/plot/', '#beat-plot')")
    expect(notice).to_be_visible()
    notice.get_by_role("button", name="Dismiss").click()
    expect(notice).to_be_hidden()
    page.evaluate(f"htmx.ajax('GET', '/recordings/{recording.pk}/beats/99999/plot/', '#beat-plot')")
    page.wait_for_load_state("networkidle")
    expect(notice).to_be_hidden()
    assert [e for e in page.js_errors if "404" not in e] == []


def test_an_update_after_the_session_ended_takes_the_page_to_the_login_and_back(page, client, staff_a, recording):
    from django.conf import settings
    from django.contrib.sessions.models import Session

    log_in(page, staff_a.username)
    page.goto(f"/recordings/{recording.pk}/")
    # the page's own requests done first (the viewer's signal read counts as activity and saves the session)
    expect(page.locator("[data-ecg-viewer]")).to_have_attribute("data-loaded", "true")
    page.wait_for_load_state("networkidle")
    # the session idles out on the server while the page stays open
    (cookie,) = [c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME]
    session = Session.objects.get(session_key=cookie["value"])
    data = session.get_decoded()
    data["last_activity"] = time.time() - settings.ECG_IDLE_TIMEOUT_SECONDS - 5
    Session.objects.filter(pk=session.pk).update(session_data=Session.objects.encode(data))
    page.get_by_role("button", name="Plot beat 3", exact=True).click()
    # the whole page goes to the login, not the login form into the plot's box
    page.wait_for_url(re.compile(rf"/accounts/login/\?next=/recordings/{recording.pk}/$"))
    expect(page.locator("#beat-plot")).to_have_count(0)
    page.get_by_label("Username").fill(staff_a.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**/recordings/{recording.pk}/")
    expect(page.locator("#beat-plot")).to_be_visible()


def test_the_dashboard_tiles_and_lists_follow_the_pending_list_and_stop_polling(page, staff_a, patient_a):
    # while uploads wait the pending list polls, and the tiles and the other lists come with it: when the
    # upload fails, the tile, the pending list and the failed list all say so, and the polling stops
    from diagnostics import services

    from ..api.conftest import submit_beats

    recording = submit_beats(staff_a, patient_a)
    log_in(page, staff_a.username)
    page.goto("/")
    tiles = page.locator("#tiles")
    expect(tiles).to_contain_text("1 pending")
    expect(page.locator("#pending")).to_contain_text(patient_a.display_name)
    services.recording_fail(recording_id=recording.pk, reason="the analysis crashed")
    expect(tiles).to_contain_text("0 pending", timeout=10_000)
    expect(tiles).to_contain_text("1 failed")
    expect(page.locator("#pending")).to_contain_text("None.")
    expect(page.locator("#failed")).to_contain_text("the analysis crashed")
    expect(page.locator("#pending")).not_to_have_attribute("hx-trigger", re.compile("every"))
    assert page.js_errors == []


def test_the_keyboard_focus_in_a_dashboard_list_stays_where_it_was_when_the_lists_update(page, staff_a, patient_a):
    """The lists are swapped every 3 s while a recording is pending: a keyboard user who had tabbed to a recording in
    one of them kept no focus at all (it fell to the page's top), and a screen reader lost its place."""
    from ..factories import signal_recording

    signal_recording(patient=patient_a, uploaded_by=staff_a, status="queued")
    failed = signal_recording(patient=patient_a, uploaded_by=staff_a, status="failed", error_message="flat lead")
    log_in(page, staff_a.username)
    page.goto("/")
    page.locator(f'#failed a[href="/recordings/{failed.pk}/"]').focus()
    page.keyboard.press("Tab")  # to the patient's link beside it, by the keyboard
    patient_link = page.locator(f'#failed a[href="/patients/{patient_a.pk}/"]')
    expect(patient_link).to_be_focused()
    page.evaluate("document.querySelector('#failed').dataset.before = 'swap'")
    expect(page.locator("#failed[data-before]")).to_have_count(0, timeout=15_000)  # a poll swapped the list
    expect(page.locator("#failed .htmx-settling, #failed.htmx-settling")).to_have_count(0)
    expect(patient_link).to_be_focused()
    assert page.js_errors == []
