"""Beats chosen one by one in a real Chromium, on MIT-BIH 119 analysed by the worker: a doctor selects a beat in the
ECG viewer from the keyboard and changes its class, landing back at the viewer with that beat selected and said to be
corrected; then ticks two beats in the beat table, which stay ticked when the page reloads itself once the rhythm is
recomputed, and changes them (the ticks sent in one field); the page at a phone's width."""

import re

import pytest
from playwright.sync_api import expect

from diagnostics import corrections
from diagnostics.models import Beat, BeatCorrection

from ..diagnostics.test_beat_corrections import record_model  # noqa: F401  (a fixture, used by name)
from ..diagnostics.test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)
from .conftest import assert_accessible, log_in
from .test_beat_shapes import RECOMPUTED_TIMEOUT_MS, analysed_119  # noqa: F401  (a fixture, used by name)
from .test_holter import PHONE, _fits

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _other_than(*classes: str) -> str:
    return next(c for c in "VSFQN" if c not in classes)


def _class(recording, index: int) -> str:
    return Beat.objects.get(recording=recording, index=index).aami_class


def test_a_doctor_changes_a_beat_in_the_viewer_then_two_ticked_in_the_table(
    page,
    shot,
    doctor_a,
    analysed_119,  # noqa: F811
    celery_worker,
):
    recording = analysed_119
    log_in(page, doctor_a.username)
    page.goto(f"/recordings/{recording.pk}/#viewer")
    viewer = page.locator("[data-ecg-viewer]")
    expect(viewer).to_have_attribute("data-loaded", "true")

    # the keyboard alone: the trace focused, ] selects the next beat, Tab reaches its form, the class by its letter
    page.locator("canvas.ecg").focus()
    page.keyboard.press("]")
    expect(viewer).to_have_attribute("data-selected", re.compile(r"^\d+$"))
    index = int(viewer.get_attribute("data-selected"))
    was = Beat.objects.get(recording=recording, index=index).aami_class
    to = _other_than(was)
    select = page.locator("#viewer-correct-to_class")
    expect(page.locator("[data-correct-slot]")).to_contain_text(
        f"Change this beat's class (beat {index + 1}, {was} now)"
    )
    expect(select.locator(f'option[value="{was}"]')).to_be_disabled()
    page.keyboard.press("Tab")
    expect(select).to_be_focused()
    page.keyboard.type(to)
    expect(select).to_have_value(to)
    page.keyboard.press("Tab")
    expect(page.locator("[data-correct-slot] button")).to_be_focused()
    celery_worker.stop()  # the recomputation held until the beats below are ticked
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/recordings/{recording.pk}/?beat={index}#viewer")

    expect(viewer).to_have_attribute("data-selected", str(index))
    expect(viewer.locator(".messages")).to_contain_text(f"Beat {index + 1} is now {to} (")
    expect(viewer.locator("[data-info] .corrected-note")).to_contain_text(f"Class {to} corrected from {was}")
    made = BeatCorrection.objects.get()
    assert (made.beat_indices, made.to_class, made.family, made.made_by) == ([index], to, None, doctor_a)
    assert_accessible(page)
    viewer.screenshot(path=str(shot.dir / "b01-beat-pick-viewer.png"))

    # the beat table: two beats of the first page ticked while the rhythm is recomputed; the page reloads itself
    # once the worker is done, and the two are ticked again
    expect(page.locator("#rhythm-recomputing")).to_be_visible()
    first, second = [i for i in range(50) if i != index][:2]
    classes = {i: Beat.objects.get(recording=recording, index=i).aami_class for i in (first, second)}
    to = _other_than(*classes.values())
    page.locator(f"#pick-{first}").check()
    page.locator(f"#pick-{second}").check()
    celery_worker.start()
    expect(page.locator("#rhythm-recomputing")).to_have_count(0, timeout=RECOMPUTED_TIMEOUT_MS)
    expect(page.locator("#beat-pick")).to_have_attribute("data-ticks-restored", "2")
    expect(page.locator("[data-ticks-restored-note]")).to_have_text(
        "The 2 beats you ticked on this page of the table before are ticked again."
    )
    for i in (first, second):
        expect(page.locator(f"#pick-{i}")).to_be_checked()

    # called another class, the ticks sent in one field (a thousand would pass Django's limit of fields)
    page.locator("#beat-pick-to_class").select_option(to)
    page.locator("#beat-pick-note").fill("aberrant")
    with page.expect_request(lambda r: r.method == "POST" and "/beats/corrections/" in r.url) as sent:
        page.locator("#beat-pick").get_by_role("button", name=re.compile("^Change")).click()
    body = sent.value.post_data or ""
    assert body.count("beats=") == 1 and f"beats={first}%2C{second}" in body, body
    page.wait_for_url(f"**/recordings/{recording.pk}/?page=1#beat-pick")
    expect(page.locator("#beat-pick .messages")).to_contain_text(f"Beats {first + 1} and {second + 1} are now {to} (")
    for i in (first, second):
        row = page.locator("table.beats tr").filter(has=page.locator(f"#pick-{i}"))
        expect(row).to_contain_text(f"corrected from {classes[i]}")
        expect(page.locator(f"#pick-{i}")).not_to_be_checked()
    latest = BeatCorrection.objects.latest("id")
    assert (latest.beat_indices, latest.to_class, latest.note) == ([first, second], to, "aberrant")
    # the correction made, the ticks kept for it are gone: a reload ticks nothing
    assert page.evaluate("() => Object.keys(sessionStorage).filter(k => k.startsWith('beat-pick:'))") == []
    assert_accessible(page)
    page.locator("#beat-table").screenshot(path=str(shot.dir / "b02-beat-pick-table.png"))

    # ticks made over corrections a colleague has changed since: ticked again after a reload, and refused when sent,
    # not applied over the colleague's change (the ticks keep the version they were made over)
    celery_worker.stop()  # the colleague's recomputation held: the page does not reload itself meanwhile
    third, fourth = [i for i in range(50) if i not in (index, first, second)][:2]
    page.locator(f"#pick-{third}").check()
    page.locator(f"#pick-{fourth}").check()
    elsewhere = next(i for i in range(60, 200) if Beat.objects.get(recording=recording, index=i).aami_class != "Q")
    corrections.beat_correction_make(recording=recording, by=doctor_a, to_class="Q", beats=[elsewhere])
    page.reload()
    expect(page.locator("#beat-pick")).to_have_attribute("data-ticks-restored", "2")
    page.locator("#beat-pick-to_class").select_option(
        _other_than(*{_class(recording, third), _class(recording, fourth)})
    )
    page.locator("#beat-pick").get_by_role("button", name=re.compile("^Change")).click()
    page.wait_for_url(f"**/recordings/{recording.pk}/?page=1#beat-pick")
    expect(page.locator("#beat-pick [role=alert]")).to_contain_text(
        "A colleague corrected this recording's beats meanwhile: look again. Nothing was changed."
    )
    assert BeatCorrection.objects.count() == 3  # the viewer's, the pair's and the colleague's: none over it
    for i in (third, fourth):
        expect(page.locator(f"#pick-{i}")).to_be_checked()  # kept, to be sent again once looked at
    celery_worker.start()

    # at a phone's width the form and the table's checkboxes fit: the page does not scroll sideways
    page.set_viewport_size(PHONE)
    page.reload()
    assert _fits(page, PHONE["width"]), page.evaluate("document.documentElement.scrollWidth")
    expect(page.locator("#beat-pick")).to_be_visible()
    assert_accessible(page)
    page.locator("#beat-pick").scroll_into_view_if_needed()
    shot(page, "b03-beat-pick-phone", full_page=False)  # the whole page is 13,000 px tall at this width
    assert page.js_errors == []


@pytest.mark.django_db(transaction=True)
def test_a_change_refused_for_no_tick_puts_the_focus_on_the_first_tick_box(page, doctor_a, holter_recording):  # noqa: F811
    """Sent with no beat ticked, the page came back at the form with its reason and the focus nowhere: a keyboard user
    tabbed from the page's header to the table to tick one."""
    log_in(page, doctor_a.username)
    page.goto(f"/recordings/{holter_recording.pk}/#beats")
    form = page.locator("#beat-pick")
    form.get_by_label("Class").select_option("V")
    form.get_by_role("button", name=re.compile("^Change")).click()
    expect(page.locator("#beat-pick-error")).to_contain_text("none was ticked")
    first = page.locator("#beats input[name=beats]").first
    expect(first).to_be_focused()
    page.keyboard.press("Space")
    expect(first).to_be_checked()
    assert page.js_errors == []


@pytest.mark.django_db(transaction=True)
def test_the_tick_boxes_come_before_the_change_form_in_the_tab_order(page, doctor_a, holter_recording):  # noqa: F811
    """The form had come before the table: a keyboard user met "Change" before choosing the beats it changes. The
    ticks come first, the form's fields and its button after the last of them."""
    log_in(page, doctor_a.username)
    page.goto(f"/recordings/{holter_recording.pk}/#beats")
    ticks = page.locator("#beats input[name=beats]")
    ticks.first.focus()
    page.keyboard.press("Shift+Tab")  # what comes before the first tick box is no part of the form
    assert page.evaluate("() => document.activeElement.closest('#beat-pick') === null")
    ticks.last.focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")  # the last row's "Plot beat" button
    page.keyboard.press("Tab")
    expect(page.locator("#beat-pick-to_class")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#beat-pick-note")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#beat-pick").get_by_role("button", name=re.compile("^Change"))).to_be_focused()
    expect(ticks.last).to_be_checked()
    assert_accessible(page)
    assert page.js_errors == []
