"""The signal viewer in a real Chromium: stepping beats after the view has moved, and an ended session.

Record 203 of MIT-BIH (30 minutes, two leads, many ventricular beats and rhythm events).
"""

import re
import time
from datetime import datetime
from importlib import import_module
from urllib.parse import parse_qs, urlparse

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from diagnostics import holter
from diagnostics.models import Beat, ECGRecording, Event

from ..conftest import PASSWORD
from ..data import mitdb_dir
from .conftest import log_in, upload_signal
from .test_clinic_flow import _wait_done
from .test_holter import shipped_heartbeat_model  # noqa: F401  (a fixture, used by name)

pytestmark = [pytest.mark.worker, pytest.mark.slow]
STEP_MS = 8_000  # a step in the viewer is one small request


def _open_203(page, patient) -> ECGRecording:
    mitdb = mitdb_dir()
    log_in(page, "doctor_a")
    upload_signal(page, patient, [mitdb / "203.hea", mitdb / "203.dat"])
    _wait_done(page)
    return ECGRecording.objects.get(pk=int(re.search(r"/recordings/(\d+)/", page.url).group(1)))


def _view(page) -> dict:
    return page.evaluate(
        "() => { const v = document.querySelector('[data-ecg-viewer]').ecgViewer;"
        " return {start: v.start, visible: v.visible()}; }"
    )


def _shown_event(viewer) -> Event:
    event = Event.objects.get(pk=int(viewer.get_attribute("data-event")))
    expect(viewer).to_have_attribute("data-position", str(event.start))
    return event


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("shipped_heartbeat_model")
def test_stepping_beats_starts_from_the_view_once_it_has_moved_away_from_the_selected_beat(
    page, patient_a, doctor_a, celery_worker
):
    recording = _open_203(page, patient_a)
    beats = Beat.objects.filter(recording=recording)
    viewer = page.locator("[data-ecg-viewer]")
    expect(viewer).to_have_attribute("data-events", str(Event.objects.filter(recording=recording).count()))
    assert Event.objects.filter(recording=recording).count() >= 5
    # the overview's 30 minutes at the strip's width: its ~3,000 beats, more than its pixels take one by one, come
    # counted by class (they had come each one, as a day's 100,000 did); the steps below look them up a bucket at a time
    page.wait_for_function("() => document.querySelector('[data-ecg-viewer]').ecgViewer.whole")
    whole = page.evaluate(
        "() => { const w = document.querySelector('[data-ecg-viewer]').ecgViewer.whole;"
        " return {beats: w.beats, counted: Object.keys((w.beat_counts || {}).classes || {})}; }"
    )
    assert whole["beats"] is None and "V" in whole["counted"]
    canvas = viewer.locator("canvas.ecg")
    canvas.focus()

    # A beat selected near the start; then five rhythm events on, far from it.
    page.keyboard.press("]")
    expect(viewer).to_have_attribute("data-selected", re.compile(r"^\d+$"))
    first = int(viewer.get_attribute("data-selected"))
    for _ in range(5):
        page.keyboard.press(".")
    event = _shown_event(viewer)
    view = _view(page)
    assert beats.get(index=first).position < view["start"]  # the beat selected is off screen now
    # "Next beat" starts at the event shown (its first beat), not at the neighbour of the beat left behind
    onset = beats.filter(position__gte=event.start).order_by("position").first()
    page.keyboard.press("]")
    expect(viewer).to_have_attribute("data-selected", str(onset.index), timeout=STEP_MS)
    assert view["start"] <= onset.position <= view["start"] + view["visible"]
    expect(viewer.locator("[data-info]")).to_contain_text(f"Beat {onset.index + 1} of ")
    # from a selected beat in view, the next one is its neighbour, as before
    page.keyboard.press("]")
    expect(viewer).to_have_attribute("data-selected", str(onset.index + 1), timeout=STEP_MS)
    # three quick presses are three beats, each stepping from the one asked for before its answer came (they
    # had collapsed into fewer, stepping again from the beat still shown)
    for _ in range(3):
        page.keyboard.press("]")
    expect(viewer).to_have_attribute("data-selected", str(onset.index + 4), timeout=STEP_MS)
    expect(viewer.locator("[data-info] .beat-title")).to_contain_text(f"Beat {onset.index + 5} of ")

    # Home, three events on: "Next non-N" goes to the first beat not classed N from that event's start.
    page.keyboard.press("Home")
    for _ in range(3):
        page.keyboard.press(".")
    earlier = _shown_event(viewer)
    assert earlier.start < event.start
    ectopic = beats.filter(position__gte=earlier.start).exclude(aami_class="N").order_by("position").first()
    assert ectopic.position < onset.position  # else the old selection would lead there too
    page.keyboard.press("}")
    expect(viewer).to_have_attribute("data-selected", str(ectopic.index), timeout=STEP_MS)

    # End: "Previous beat" is the last beat at or before the middle of the last screen.
    page.keyboard.press("End")
    view = _view(page)
    assert view["start"] > 0.9 * recording.sample_count
    centre = view["start"] + view["visible"] / 2
    last = beats.filter(position__lte=centre).order_by("-position").first()
    page.keyboard.press("[")
    expect(viewer).to_have_attribute("data-selected", str(last.index), timeout=STEP_MS)
    page.keyboard.press("[")
    expect(viewer).to_have_attribute("data-selected", str(last.index - 1), timeout=STEP_MS)
    assert page.js_errors == []

    # Where the file stated when the recording started, the viewer writes times of day as the event list
    # does (it had written only the time into the recording beside the list's time of day).
    recording.recorded_at = timezone.make_aware(datetime(2024, 3, 1, 23, 58, 30))
    recording.save(update_fields=["recorded_at"])
    page.reload()
    expect(viewer).to_have_attribute("data-loaded", "true")
    expect(viewer.locator("[data-readout]")).to_contain_text(
        re.compile(r"^23:58:30\.00 – 23:58:\d\d\.\d\d \(0:00:00\.00 – ")
    )
    viewer.locator("canvas.ecg").focus()
    for _ in range(5):
        page.keyboard.press(".")
    shown = _shown_event(viewer)
    written = holter.at(recording, shown.start / recording.sampling_rate)
    assert re.fullmatch(r"\d\d:\d\d:\d\d \(\d+:\d\d:\d\d in\)", written), written
    # in the pages' words exactly: "(0:05:30 in)", where the viewer had written "(05:30 in)"
    expect(viewer.locator("[data-info]")).to_contain_text(written)
    # and past an hour (a day-long Holter's), as the pages write it too
    for seconds in (3599.999, 3600.5, 26 * 3600 + 61):
        said = page.evaluate(
            """(s) => { const v = document.querySelector('[data-ecg-viewer]').ecgViewer, events = v.events;
                 v.events = [{id: 0, type: 'af', start: s * v.fs, end: s * v.fs + 1, beats: 0, rate_bpm: 0,
                              label: 'Atrial fibrillation'}];
                 v.showEvent(0); const text = v.info.textContent; v.events = events; v.eventIndex = null;
                 return text; }""",
            seconds,
        )
        assert holter.at(recording, seconds) in said, (seconds, said)
    assert page.js_errors == []


def _expire_idle_session(page) -> None:
    """The server's idle timeout passes: the session's last activity is set back beyond it."""
    page.wait_for_load_state("networkidle")  # no request in flight that would save the session again
    cookie = next(c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME)
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key=cookie["value"])
    session["last_activity"] = time.time() - settings.ECG_IDLE_TIMEOUT_SECONDS - 60
    session.save()


def _on_login_page_coming_back_to(page, path: str) -> None:
    page.wait_for_url(re.compile(r"/accounts/login/\?"), timeout=STEP_MS)
    assert parse_qs(urlparse(page.url).query)["next"] == [path]
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def _log_in_here(page, path: str) -> None:
    page.get_by_label("Username").fill("doctor_a")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(re.escape(path) + "$"))
    expect(page.locator("[data-ecg-viewer]")).to_have_attribute("data-loaded", "true")


@pytest.mark.django_db(transaction=True)
def test_an_ended_session_takes_the_viewer_to_the_login_and_back(
    page, patient_a, doctor_a, active_models, celery_worker
):
    _open_203(page, patient_a)
    path = urlparse(page.url).path
    viewer = page.locator("[data-ecg-viewer]")
    viewer.locator("canvas.ecg").focus()
    page.keyboard.press("]")
    expect(viewer).to_have_attribute("data-selected", re.compile(r"^\d+$"))

    # Idle beyond ECG_IDLE_TIMEOUT_SECONDS: the next beat's request is sent to the login page, and the
    # browser goes there, to come back to the recording (not to the beat's JSON).
    _expire_idle_session(page)
    page.keyboard.press("]")
    _on_login_page_coming_back_to(page, path)
    _log_in_here(page, path)

    # The session cookie gone: choosing another lead (the whole recording and the window) does the same.
    page.context.clear_cookies(name=settings.SESSION_COOKIE_NAME)
    page.locator("[data-lead]").select_option(index=1)
    _on_login_page_coming_back_to(page, path)
    _log_in_here(page, path)
    assert not [e for e in page.js_errors if "JSON" in e or "Unexpected token" in e]
    assert page.js_errors == []

    # A server error is no login: the viewer says so and stays.
    page.route(
        re.compile(r"/recordings/\d+/signal/"),
        lambda route: route.fulfill(status=500, content_type="text/html", body="<!doctype html><p>Server Error</p>"),
    )
    viewer.locator("canvas.ecg").focus()
    page.keyboard.press("End")
    expect(viewer.locator("[data-info]")).to_have_text("Could not load the signal (HTTP 500); try again.")
    assert urlparse(page.url).path == path
    expect(viewer.locator("[data-info]")).not_to_contain_text("JSON")
    assert not [e for e in page.js_errors if "Failed to load resource" not in e]
