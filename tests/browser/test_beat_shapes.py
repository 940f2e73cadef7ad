"""The beat shapes page in a real Chromium: MIT-BIH 119's shapes at a desk's width and a phone's, a doctor calling a
shape's beats another class from the keyboard, the recording page saying the rhythm is being recomputed while the
worker does it, then showing the Holter summary recomputed without a manual reload."""

import re

import pytest
from playwright.sync_api import expect

from diagnostics import services
from diagnostics.models import BeatCorrection, BeatFamily, Diagnosis

from ..conftest import wait_for_status
from ..diagnostics.test_beat_corrections import record_model  # noqa: F401  (a fixture, used by name)
from ..diagnostics.test_record_model import _upload_record
from .conftest import DESKTOP, assert_accessible, log_in
from .test_holter import PHONE, _fits

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
RECOMPUTED_TIMEOUT_MS = 120_000


@pytest.fixture
def analysed_119(client, staff_a, patient_a, active_models, record_model, celery_worker):  # noqa: F811
    """MIT-BIH 119 classified in context (by this process, or by the worker where it took the upload first)."""
    recording = _upload_record(client, staff_a, patient_a, "119")
    if services.recording_classify(recording_id=recording.pk, claim_token="t") == "not-claimed":
        wait_for_status(recording)
    recording.refresh_from_db()
    assert recording.status == "done" and BeatFamily.objects.filter(recording=recording).exists()
    return recording


def test_a_doctor_corrects_a_shape_from_the_keyboard_and_the_holter_summary_follows(
    page, shot, doctor_a, analysed_119, celery_worker
):
    recording = analysed_119
    family = BeatFamily.objects.filter(recording=recording, aami_class="N").order_by("-beats").first()
    v_before = Diagnosis.objects.get(recording=recording).rhythm["ventricular"]["total"]

    log_in(page, doctor_a.username)
    page.goto(f"/recordings/{recording.pk}/")
    page.get_by_role("link", name="Beat shapes and their classes to correct").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Beat shapes"))).to_be_visible()
    shapes = page.locator("svg.paper.template")
    expect(shapes).to_have_count(BeatFamily.objects.filter(recording=recording).count())
    assert_accessible(page)
    shot(page, "95-beat-shapes")

    # at a phone's width the shapes stack and the page does not scroll sideways
    page.set_viewport_size(PHONE)
    page.reload()
    assert _fits(page, PHONE["width"]), page.evaluate("document.documentElement.scrollWidth")
    shot(page, "96-beat-shapes-phone")
    page.set_viewport_size(DESKTOP)

    # "Show in viewer" opens the recording page's viewer at the shape's example beat
    item = page.locator(f"#family-{family.number}")
    item.get_by_role("link", name=re.compile("^Show in viewer")).click()
    expect(page.locator("[data-ecg-viewer]")).to_have_attribute("data-selected", str(family.example))
    page.go_back()

    # the keyboard alone: the class chosen by typing its letter, a note, the button by Tab and Enter
    select = page.locator(f"#family-{family.number}-to_class")
    select.focus()
    page.keyboard.type("V")
    expect(select).to_have_value("V")
    page.keyboard.press("Tab")
    expect(page.locator(f"#family-{family.number}-note")).to_be_focused()
    page.keyboard.type("wide QRS, no P wave")
    page.keyboard.press("Tab")
    expect(page.locator(f"#family-{family.number}-form").get_by_role("button")).to_be_focused()
    # the worker held while the page is read: a recomputation from the kept inputs takes it well under a second
    celery_worker.stop()
    page.keyboard.press("Enter")
    page.wait_for_load_state()
    expect(page.locator(".messages")).to_contain_text(f"{family.beats} beats of N shape {family.number + 1} are now V")
    made = BeatCorrection.objects.get()
    assert (made.family, made.to_class, made.note, made.made_by) == (
        family.number,
        "V",
        "wide QRS, no P wave",
        doctor_a,
    )
    expect(page.locator(f"#correction-{made.pk}")).to_contain_text("wide QRS, no P wave")
    assert_accessible(page)
    shot(page, "97-beat-shapes-corrected")

    # the recording page: the counts at once, the rhythm said to be recomputing until the worker is done, then the
    # page reloads itself with the recomputed Holter summary
    page.goto(f"/recordings/{recording.pk}/")
    expect(page.locator(".corrected-note")).to_contain_text(f"{family.beats} beats' classes corrected by a doctor")
    notice = page.locator("#rhythm-recomputing")
    expect(notice).to_be_visible()
    page.locator("#holter").screenshot(path=str(shot.dir / "98-rhythm-recomputing.png"))
    celery_worker.start()  # the recomputation waits in the queue for it
    expect(notice).to_have_count(0, timeout=RECOMPUTED_TIMEOUT_MS)
    diagnosis = Diagnosis.objects.get(recording=recording)
    assert diagnosis.rhythm_outdated_at is None and diagnosis.rhythm_recomputed_at is not None
    v_after = diagnosis.rhythm["ventricular"]["total"]
    assert v_after > v_before
    expect(page.locator("#holter")).to_contain_text(f"{v_after} beats (")
    assert_accessible(page)
    page.locator("#holter").screenshot(path=str(shot.dir / "99-holter-recomputed.png"))
    assert page.js_errors == []
