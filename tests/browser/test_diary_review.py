"""The patient's diary in a real Chromium as a UX review read it: fifteen entries at a desk, a tablet and two phones,
a time of day across midnight by keyboard alone, without scripts, printed at A4, and the review's findings as the
behaviour they asked for (F1-F10: the most serious event named, every entry in the report, "Other" by its note, links
to events on other pages, no beats counted in noise, the form where the next line is typed, a bounded list of events,
"within a second", a time field with a colon, a clock time on a long recording asked, not guessed).

Screenshots: test-artifacts/r*.png.
"""

import re
from datetime import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from diagnostics import diary, services
from diagnostics.models import DiaryEntry, ECGRecording, Event
from ecgsite.errors import Invalid

from ..diagnostics.test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)
from .conftest import TABLET, assert_accessible, log_in

pytestmark = pytest.mark.django_db(transaction=True)

SYMPTOMS = [s for s, _ in DiaryEntry.Symptom.choices]
A4 = {"width": 794, "height": 1123}  # 210 x 297 mm at 96 px per inch


def add(recording, user, seconds, symptom, note=""):
    return services.diary_entry_add(
        recording=recording, by=user, sample=int(seconds * recording.sampling_rate), symptom=symptom, note=note
    )


def fifteen(recording, user):
    """15 entries over the 70 s, every symptom, "other" with its note."""
    for i in range(15):
        symptom = SYMPTOMS[i % len(SYMPTOMS)]
        note = "heart racing" if symptom == "other" else ("after climbing the stairs" if i % 3 == 0 else "")
        add(recording, user, 2 + i * 4.5, symptom, note)


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def outline(locator) -> str:
    return locator.evaluate("e => getComputedStyle(e).outlineStyle")


# ---------------------------------------------------------------------------------------------------------------
# What works: guards


def test_fifteen_entries_at_a_desk_a_tablet_and_two_phones(page, shot, staff_a, holter_recording):  # noqa: F811
    fifteen(holter_recording, staff_a)
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{holter_recording.pk}/#diary")
    expect(page.locator("#diary ol.diary > li")).to_have_count(15)
    expect(page.locator("#diary")).to_contain_text("15 symptoms noted")
    page.locator("#diary").screenshot(path=str(shot.dir / "r02-desktop-15-diary.png"))
    # every control of the diary has a name of its own (two distinct entries never share "Remove this entry for …")
    names = page.evaluate(
        "() => [...document.querySelectorAll('#diary button')].map(b => b.textContent.replace(/\\s+/g, ' ').trim())"
    )
    assert len(names) == len(set(names)), names
    assert_accessible(page)
    for width in (320, 390):
        page.set_viewport_size({"width": width, "height": 800})
        page.reload()
        assert no_sideways_scroll(page), width
        page.locator("#diary").screenshot(path=str(shot.dir / f"r03-phone-{width}-diary.png"))
    page.set_viewport_size(TABLET)
    page.reload()
    assert no_sideways_scroll(page)
    page.locator("#diary").screenshot(path=str(shot.dir / "r04-tablet-diary.png"))
    assert page.js_errors == []


def test_time_of_day_across_midnight_and_by_keyboard_only(page, shot, staff_a, holter_recording):  # noqa: F811
    rec = holter_recording
    rec.recorded_at = timezone.make_aware(datetime(2026, 3, 1, 23, 59, 40))
    rec.save(update_fields=["recorded_at"])
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{rec.pk}/")
    page.get_by_role("navigation", name="On this page").get_by_role("link", name="Patient diary").press("Enter")
    page.keyboard.press("Tab")
    form = page.locator("#diary-form")
    time_field = form.get_by_label("Time of day")
    expect(time_field).to_be_focused()  # the diary's first control after its nav link (no entries yet)
    expect(form).to_contain_text("the recording ran from 23:59:40, for 0:01:10")
    assert outline(time_field) != "none"

    # refused: a time outside the recording, said beside the field, which has the focus again
    page.keyboard.type("12:00")
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")  # Palpitations
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(form.get_by_role("button", name="Add to diary")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"#diary-form$"))
    expect(time_field).to_be_focused()
    expect(page.locator("#diary-time-error")).to_have_text(
        "12:00 is outside the recording: it ran from 23:59:40 to 00:00:50 the next day."
    )
    shot(page, "r11-refused-time-of-day", full_page=False)

    # after midnight: the next day's 00:00:20 is 40 s in
    time_field.fill("00:00:20")
    form.get_by_label("Note").fill("woke up with it")
    form.get_by_label("Note").press("Enter")
    page.wait_for_url(re.compile(r"#diary-form$"))
    made = DiaryEntry.objects.get()
    assert made.sample == 40 * 360
    expect(page.locator(f"#diary-entry-{made.pk} h4")).to_have_text("Palpitations at 00:00:20 (0:00:40 in)")
    shot(page, "r10-after-midnight", full_page=False)

    # "Entered by mistake?": reached, opened and used from the keyboard, with its focus visible
    summary = page.locator(f"#diary-entry-{made.pk} summary")
    summary.focus()
    assert outline(summary) != "none"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    remove = page.locator(f"#diary-entry-{made.pk}").get_by_role("button", name=re.compile("^Remove this entry"))
    expect(remove).to_be_focused()
    expect(remove).to_have_accessible_name(
        re.compile(r"^Remove this entry for Palpitations at 00:00:20 \(0:00:40 in\)$")
    )
    page.locator("#diary").screenshot(path=str(shot.dir / "r13-disclosure-keyboard.png"))
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("#diary .messages")).to_contain_text("was removed")
    assert DiaryEntry.objects.get().removed_at is not None


def test_without_scripts_an_entry_is_made_refused_and_removed(
    no_script_page,
    shot,
    staff_a,
    holter_recording,  # noqa: F811
):
    page = no_script_page
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{holter_recording.pk}/#diary")
    form = page.locator("#diary-form")
    form.get_by_label("Time into the recording").fill("0:99")
    form.get_by_label("Symptom").select_option(label="Palpitations")
    form.get_by_role("button", name="Add to diary").click()
    page.wait_for_url(re.compile(r"#diary-form$"))
    expect(page.locator("#diary-time-error")).to_contain_text("is not a time into the recording")
    expect(form.get_by_label("Symptom")).to_have_value("palpitations")  # kept as chosen
    shot(page, "r22-nojs-refused", full_page=False)
    form.get_by_label("Time into the recording").fill("1:00")
    form.get_by_role("button", name="Add to diary").click()
    page.wait_for_url(re.compile(r"#diary-form$"))
    item = page.locator("#diary ol.diary > li").first
    expect(item.get_by_role("button", name=re.compile("^Show in viewer"))).to_be_hidden()
    item.locator("summary").click()
    item.get_by_role("button", name=re.compile("^Remove this entry")).click()
    page.wait_for_url(re.compile(r"#diary$"))
    assert DiaryEntry.objects.get().removed_at is not None


def test_the_printed_report_at_a4_width(page, shot, staff_a, holter_recording):  # noqa: F811
    fifteen(holter_recording, staff_a)
    log_in(page, staff_a.username)
    page.set_viewport_size(A4)
    page.emulate_media(media="print")
    page.goto(f"/recordings/{holter_recording.pk}/report/")
    section = page.locator(".report-diary")
    expect(section.locator("figure.strip")).to_have_count(12)
    assert no_sideways_scroll(page)
    assert section.locator("figure.strip").first.evaluate("e => getComputedStyle(e).breakInside") == "avoid"
    assert page.locator(".report-diary button, .report-diary form").count() == 0
    shot(page, "r05-report-print")
    page.pdf(path=str(shot.dir / "r05-report.pdf"), format="A4")
    # the recording's page printed: no form, no removal disclosure
    page.goto(f"/recordings/{holter_recording.pk}/")
    expect(page.locator("#diary-form")).to_be_hidden()
    expect(page.locator("#diary details.diary-remove").first).to_be_hidden()


# ---------------------------------------------------------------------------------------------------------------
# What is wrong: each states the fixed behaviour


def test_a_symptom_seconds_before_vf_is_said_to_be_before_vf(page, staff_a, holter_recording):  # noqa: F811
    # 207's VF starts at 0:00:41; a supraventricular run ends at 0:00:36
    made = add(holter_recording, staff_a, 38, "dizziness")
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{holter_recording.pk}/report/")
    caption = page.locator(".report-diary figcaption").first
    expect(caption).to_contain_text("ventricular flutter / fibrillation")  # today: "supraventricular run 1 s before"
    page.goto(f"/recordings/{holter_recording.pk}/")
    expect(page.locator(f"#diary-entry-{made.pk} .diary-finding")).to_contain_text("ventricular flutter / fibrillation")


def test_the_report_counts_and_lists_every_symptom(page, staff_a, holter_recording):  # noqa: F811
    fifteen(holter_recording, staff_a)
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{holter_recording.pk}/report/")
    section = page.locator(".report-diary")
    expect(section).to_contain_text("15 symptoms noted")  # today: "12 symptoms noted, … (of the first 12)"
    expect(section).to_contain_text("0:01:05")  # the 15th entry's time, in a table if not with a strip
    expect(section).not_to_contain_text("on the recording's page")


def test_other_is_named_by_its_note_not_by_the_forms_instruction(page, staff_a, holter_recording):  # noqa: F811
    add(holter_recording, staff_a, 20, "other", "heart racing")
    log_in(page, staff_a.username)
    for url in (f"/recordings/{holter_recording.pk}/", f"/recordings/{holter_recording.pk}/report/"):
        page.goto(url)
        text = page.locator("#diary ol.diary, .report-diary").first.inner_text()
        assert "say what in the note" not in text, url


def test_the_during_link_reaches_its_event_on_another_page_of_the_list(page, staff_a, holter_recording):  # noqa: F811
    rec = holter_recording
    for i in range(10):  # ten couplets before the VF: the VF is on the event list's second page
        Event.objects.create(
            recording=rec, clinic=rec.clinic, type="v_couplet", start=900 + i * 10, end=905 + i * 10, beats=2
        )
    vf = rec.events.get(type="vf")
    made = add(rec, staff_a, 50, "syncope")
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{rec.pk}/#diary")
    page.locator(f"#diary-entry-{made.pk}").get_by_role("link", name="Ventricular flutter / fibrillation").click()
    expect(page.locator(f"#event-{vf.pk}")).to_be_in_viewport(timeout=3000)


def test_no_beat_counts_where_the_ecg_is_too_noisy_to_read(page, shot, staff_a, holter_recording):  # noqa: F811
    d = holter_recording.diagnosis
    d.rhythm["noise"] = [{"start": 3000, "end": 5400}]
    d.rhythm["noise_s"] = 2400 / 360
    d.save(update_fields=["rhythm"])
    made = add(holter_recording, staff_a, 4000 / 360, "dizziness")
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{holter_recording.pk}/#diary")
    finding = page.locator(f"#diary-entry-{made.pk} .diary-finding")
    expect(finding).to_contain_text("too noisy to read")
    page.locator(f"#diary-entry-{made.pk}").screenshot(path=str(shot.dir / "r20-noisy-entry.png"))
    expect(finding).not_to_contain_text("Beats in the 10 s around it")  # today: "… 5 S, 5 V."


def test_after_an_entry_the_next_diary_line_can_be_typed_without_scrolling(page, staff_a, holter_recording):  # noqa: F811
    fifteen(holter_recording, staff_a)
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{holter_recording.pk}/#diary-form")
    form = page.locator("#diary-form")
    form.get_by_label("Time into the recording").fill("0:01")
    form.get_by_label("Symptom").select_option(label="Palpitations")
    form.get_by_role("button", name="Add to diary").click()
    page.wait_for_url(re.compile(r"#diary-form$"))
    expect(form.get_by_label("Time into the recording")).to_be_in_viewport(timeout=3000)


def test_the_events_near_a_symptom_are_few(page, staff_a, holter_recording):  # noqa: F811
    made = add(holter_recording, staff_a, 11, "syncope")
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{holter_recording.pk}/#diary")
    assert page.locator(f"#diary-entry-{made.pk} .diary-events li").count() <= 5  # today: 9 in 70 s of ECG


def test_no_zero_seconds_before(page, staff_a, holter_recording):  # noqa: F811
    made = add(holter_recording, staff_a, 20, "breathlessness")
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{holter_recording.pk}/#diary")
    assert not re.search(r"\b0 s (before|after)", page.locator(f"#diary-entry-{made.pk}").inner_text())


def test_the_time_field_offers_a_keyboard_with_a_colon(page, staff_a, holter_recording):  # noqa: F811
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{holter_recording.pk}/#diary")
    assert page.locator("#diary-form input[name=time]").get_attribute("inputmode") != "numeric"


def test_a_clock_time_is_not_read_as_minutes_into_a_long_recording():
    day = ECGRecording(kind="signal", sampling_rate=360.0, sample_count=24 * 3600 * 360)
    with pytest.raises(Invalid):
        diary.sample_of(day, "14:32")
