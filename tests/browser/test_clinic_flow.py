"""A clinic's day in a real Chromium: staff upload, the worker classifies, a doctor reviews, staff see it."""

import re

import pytest
from playwright.sync_api import expect

from diagnostics.models import ECGRecording, Review

from ..data import mitdb_dir
from ..diagnostics.test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)
from .conftest import DESKTOP, TABLET, assert_accessible, log_in, log_out, upload_signal

pytestmark = [pytest.mark.worker, pytest.mark.slow]
DONE_TIMEOUT_MS = 150_000
# What a doctor types, 4,840 characters: the textarea's maxlength had cut such a paste at 4,000, mid-word.
LONG_PASTE = ("Sinus rhythm with frequent ventricular ectopics and a run of ventricular flutter. " * 60)[:4840]
LINES = """el => { const range = document.createRange(); range.selectNodeContents(el);
  return new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.bottom))).size; }"""
IN_VIEW = "el => { const b = el.getBoundingClientRect(); return b.top >= 0 && b.bottom <= window.innerHeight; }"


def _wait_done(page):
    """The live status turns to Done by itself (htmx polling), then the page reloads with the results."""
    expect(page.locator("#status [data-status]")).to_have_attribute("data-status", "done", timeout=DONE_TIMEOUT_MS)
    expect(page.locator("[data-ecg-viewer]")).to_have_attribute("data-loaded", "true")


def _recording_id(page) -> int:
    return int(re.search(r"/recordings/(\d+)/", page.url).group(1))


def analysed(page, patient, files) -> ECGRecording:
    """``files`` uploaded for ``patient`` from the upload page, analysed by the worker: the recording."""
    upload_signal(page, patient, files)
    _wait_done(page)
    return ECGRecording.objects.get(pk=_recording_id(page))


@pytest.mark.django_db(transaction=True)
def test_staff_upload_a_doctor_confirms_and_staff_see_the_outcome(
    page, shot, staff_a, doctor_a, active_models, celery_worker, seed_csv
):
    mitdb = mitdb_dir()

    # Staff log in and create a patient.
    page.goto("/")
    page.get_by_label("Username").fill("staff_a")
    shot(page, "01-login")
    log_in(page, "staff_a")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Patients", exact=True).click()
    page.get_by_role("link", name="New patient").click()
    page.get_by_label("Medical record number").fill("A-2041")
    page.get_by_label("Family name").fill("Okafor")
    page.get_by_label("Given name").fill("Grace")
    page.get_by_label("Date of birth").fill("1958-03-14")
    page.get_by_label("Sex").select_option("female")
    assert_accessible(page)
    shot(page, "02-new-patient")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Okafor, Grace")).to_be_visible()

    # The seed's beat file: status goes live to done; the viewer shows one beat at a time.
    page.get_by_role("link", name="Upload ECG").click()
    page.get_by_label("File(s)").set_input_files(str(seed_csv))
    assert_accessible(page)
    shot(page, "03-upload-beats")
    page.get_by_role("button", name="Upload and classify").click()
    expect(page.locator("#status")).to_be_visible()
    shot(page, "04-beats-status-live")
    _wait_done(page)
    beats_id = _recording_id(page)
    expect(page.locator("[data-readout]")).to_have_text("Beat 1 of 100")
    page.get_by_role("button", name="Next beat").click()
    expect(page.locator("[data-readout]")).to_have_text("Beat 2 of 100")
    expect(page.locator("[data-info] .probs li")).to_have_count(6)  # five classes and MI
    page.get_by_role("button", name="Plot beat 5", exact=True).click()  # the beat table drives the viewer too
    expect(page.locator("[data-readout]")).to_have_text("Beat 5 of 100")
    expect(page.locator("#beat-plot svg")).to_be_visible()
    page.get_by_role("button", name="Previous beat").click()
    expect(page.locator("[data-readout]")).to_have_text("Beat 4 of 100")
    assert_accessible(page)
    shot(page, "05-beat-file-recording-page")
    page.locator("[data-ecg-viewer]").screenshot(path=str(shot.dir / "06-beat-file-viewer.png"))

    # A WFDB record (MIT-BIH 100: 30 minutes, 650,000 samples per lead) chosen as .hea + .dat.
    page.get_by_role("link", name="Okafor, Grace").click()
    page.get_by_role("link", name="Upload ECG").click()
    page.get_by_label("Continuous signal").check()
    page.get_by_label("File(s)").set_input_files([str(mitdb / "100.hea"), str(mitdb / "100.dat")])
    page.get_by_role("button", name="Upload and classify").click()
    expect(page.locator("#status")).to_be_visible()
    shot(page, "07-signal-status-live")
    _wait_done(page)
    signal_id = _recording_id(page)
    viewer = page.locator("[data-ecg-viewer]")
    expect(viewer.locator("[data-scale]")).to_have_text("25 mm/s · 10 mm/mV")
    expect(viewer.locator("[data-readout]")).to_contain_text("of 0:30:05")  # 650,000 samples: 30:05.56
    # times are cut to the unit shown, as the event list writes them, not rounded: 3,599 samples is 9.997 s
    readout = page.evaluate(
        """() => { const v = document.querySelector('[data-ecg-viewer]').ecgViewer;
                   v.start = 3599; v.draw(); const text = v.readout.textContent; v.start = 0; v.draw();
                   return text; }"""
    )
    assert readout.startswith("0:00:09.99 – ") and readout.endswith(" of 0:30:05"), readout
    assert_accessible(page)

    # Click a beat mark on the canvas: its probabilities appear.
    canvas = viewer.locator("canvas.ecg")
    canvas.scroll_into_view_if_needed()
    x = page.evaluate(
        """() => { const v = document.querySelector('[data-ecg-viewer]').ecgViewer;
                   return (v.cache.beats.position[3] - v.start) * v.pxPerSample(); }"""
    )
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + box["height"] / 2)
    expect(viewer.locator("[data-info]")).to_contain_text("Beat 4 of")
    expect(viewer.locator("[data-info] .probs li")).to_have_count(5)  # no MI probability in MLII: not applicable
    expect(page.locator('[data-mi-status="not_applicable"]')).to_contain_text("not applicable")
    shot(page, "08-signal-recording-page")

    # Jump to the next beat not classed N: the strip shows coloured marks beside the N beats.
    viewer.get_by_role("button", name="Next non-N").click()
    expect(viewer.locator("[data-info] .beat-title .cls")).not_to_have_text("N")
    viewer.screenshot(path=str(shot.dir / "09-signal-viewer-coloured-beats.png"))

    # Keyboard: next beat, zoom out to the whole recording's scale and pan.
    canvas.focus()
    selected = int(viewer.get_attribute("data-selected"))
    page.keyboard.press("]")
    expect(viewer).to_have_attribute("data-selected", str(selected + 1))
    for _ in range(4):
        page.keyboard.press("-")
    page.keyboard.press("Shift+ArrowRight")
    expect(viewer.locator("[data-scale]")).to_have_text("1.56 mm/s · 10 mm/mV")
    page.wait_for_function(
        "() => { const v = document.querySelector('[data-ecg-viewer]').ecgViewer; "
        "return v.cache && v.cache.start <= v.start && v.cache.end >= v.start + v.visible(); }"
    )
    viewer.screenshot(path=str(shot.dir / "10-signal-viewer-zoomed-out.png"))
    log_out(page)

    # The doctor finds the flag on the dashboard and in the queue, and confirms it from the keyboard.
    log_in(page, "doctor_a")
    expect(page.locator("#flagged")).to_contain_text("Okafor, Grace")
    # both await interpretation, the beat file too (its report says "Preliminary"), the older first
    worklist = page.locator("#awaiting-interpretation tbody tr")
    expect(worklist).to_have_count(2)
    expect(worklist.nth(0)).to_contain_text("beat file, 100 beats")
    expect(worklist.nth(1)).to_contain_text("Holter, 0:30:05")
    shot(page, "10b-doctor-dashboard-worklist")
    assert_accessible(page)
    page.get_by_role("link", name="Review queue").click()
    # MIT-BIH's MLII is not a lead the MI screen is valid for: only the beat file is queued.
    expect(page.get_by_role("row", name=re.compile(f"Recording {signal_id} "))).to_have_count(0)
    page.get_by_role("row", name=re.compile(f"Recording {beats_id} ")).get_by_role("link", name="Review").click()
    expect(page.get_by_role("heading", name=re.compile("Review: Okafor, Grace"))).to_be_visible()
    expect(page.locator("[data-ecg-viewer]")).to_have_attribute("data-loaded", "true")
    expect(page.get_by_role("meter")).to_be_visible()
    assert_accessible(page)
    shot(page, "11-review-page")
    page.get_by_role("link", name="Go to decision").click()
    page.get_by_label("Confirm MI").focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.type("Q waves and ST elevation in the trace; refer to cardiology.")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("Review recorded.")
    expect(page.locator("[data-outcome]")).to_contain_text("MI confirmed")
    expect(page.locator(".history li")).to_have_count(1)
    shot(page, "12-review-recorded")
    page.set_viewport_size(TABLET)
    expect(page.locator("#decision")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]
    shot(page, "13-review-tablet")
    page.set_viewport_size(DESKTOP)
    assert Review.objects.get().decision == "confirm"

    # The doctor signs the recording's interpretation, which the printed report then carries. A paste past the
    # limit is kept whole, counted, and refused on the recording's own page (post/redirect/get), the focus on it.
    page.goto(f"/recordings/{beats_id}/#interpretation")
    section = page.locator("#interpretation")
    expect(section).to_contain_text("Not yet interpreted")
    text = page.get_by_label("Your interpretation")
    text.fill(LONG_PASTE)
    expect(page.locator("#interpretation-count")).to_have_text("4,840 / 4,000 characters: 840 too many to sign")
    page.get_by_role("button", name="Sign interpretation", exact=True).click()
    page.wait_for_url(f"**/recordings/{beats_id}/#interpretation")
    expect(page.locator("#interpretation-error")).to_have_text(
        "The interpretation is 4,840 characters long; at most 4,000 are allowed."
    )
    expect(text).to_have_value(LONG_PASTE)
    assert page.evaluate("document.activeElement.id") == "id_text"
    shot(page, "13a-interpretation-refused")
    # the page's links without script lead to the recording's pages again (at the form's URL they answered 405)
    beats_next = page.locator("#beats-next").evaluate("a => a.href")
    assert f"/recordings/{beats_id}/?" in beats_next, beats_next
    assert page.request.get(beats_next).status == 200
    # signed, and straight on to the next recording awaiting interpretation: the signal, uploaded after it
    text.fill("Q waves in the trace.\nMI confirmed; refer to cardiology.")
    page.get_by_role("button", name="Sign and open next").click()
    page.wait_for_url(f"**/recordings/{signal_id}/#interpretation")
    expect(section.locator(".messages")).to_contain_text(
        f"Interpretation of recording {beats_id} (Okafor, Grace) signed. This is the next awaiting interpretation."
    )
    expect(page.get_by_label("Your interpretation")).to_have_value("")  # nothing of the other's text
    page.goto(f"/recordings/{beats_id}/#interpretation")
    expect(section.locator("[data-interpretation]")).to_contain_text("MI confirmed; refer to cardiology.")
    expect(section).to_contain_text("Signed by doctor_a on")
    # the text once, the amendment folded away under "Amend the interpretation" until opened
    amend = page.get_by_role("button", name="Sign amended interpretation")
    expect(amend).to_be_hidden()
    section.get_by_text("Amend the interpretation").click()
    expect(amend).to_be_visible()
    assert_accessible(page)
    shot(page, "13b-interpretation-signed")

    # The printable report.
    page.get_by_role("link", name="Printable report").click()
    expect(page.get_by_role("heading", name="ECG report")).to_be_visible()
    expect(page.locator("figure.strip:not(.event-strip) svg.paper polyline")).to_have_count(1)
    expect(page.locator(".report")).to_contain_text("MI confirmed")
    expect(page.locator(".report")).to_contain_text("tiny-1")
    expect(page.locator(".report-interpretation")).to_contain_text("Q waves in the trace.")
    expect(page.locator(".report-interpretation")).to_contain_text("Electronically signed by doctor_a on")
    assert_accessible(page)
    shot(page, "14-report")
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    shot(page, "15-report-print")
    page.emulate_media(media="screen")
    log_out(page)

    # Staff see the outcome on the recording, also at tablet width.
    log_in(page, "staff_a")
    page.goto(f"/recordings/{beats_id}/")
    expect(page.locator("[data-outcome]")).to_contain_text("MI confirmed")
    expect(page.locator("[data-outcome]")).to_contain_text("doctor_a")
    expect(page.locator("#interpretation")).to_contain_text("Signed by doctor_a on")
    expect(page.get_by_role("button", name=re.compile(r"^Sign (amended )?interpretation$"))).to_have_count(
        0
    )  # staff read it, sign nothing
    assert_accessible(page)
    shot(page, "16-staff-see-outcome")
    page.set_viewport_size(TABLET)
    expect(page.locator("[data-ecg-viewer]")).to_have_attribute("data-loaded", "true")
    assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]
    shot(page, "17-tablet-recording")
    page.goto(f"/recordings/{beats_id}/report/")
    expect(page.locator("figure.strip:not(.event-strip) svg.paper polyline")).to_have_count(1)
    shot(page, "18-tablet-report-beat-file")
    page.goto("/")
    # which report is final: the beat file's is signed, the signal's preliminary
    expect(page.locator('#today [data-report-state="signed"]')).to_have_count(1)
    expect(page.locator('#today [data-report-state="signed"]')).to_have_attribute(
        "title", "Interpretation signed by doctor_a"
    )
    expect(page.locator('#today [data-report-state="preliminary"]')).to_have_count(1)
    assert_accessible(page)
    shot(page, "19-tablet-dashboard")

    assert ECGRecording.objects.filter(status="done").count() == 2
    assert page.js_errors == []
    assert page.csp_violations == []


@pytest.mark.django_db(transaction=True)
def test_swagger_ui_and_the_admin_run_under_the_content_security_policy(page, admin_a, staff_a):
    missing = []
    page.on("response", lambda r: missing.append(r.url.split("/", 3)[-1]) if r.status == 404 else None)
    page.goto("/api/v1/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("ECG Analyzer API")
    expect(page.locator(".opblock-tag").first).to_be_visible()
    log_in(page, "admin")
    page.goto("/admin/")
    expect(page.get_by_role("link", name="Users", exact=True)).to_be_visible()
    page.goto("/admin/accounts/user/")
    page.goto("/admin/api/apitoken/add/")
    expect(page.get_by_label("Webhook url")).to_be_visible()
    assert set(missing) <= {"favicon.ico"}  # the admin's pages name no icon, so Chromium asks for the default
    assert [e for e in page.js_errors if "404 (Not Found)" not in e] == [] and page.csp_violations == []


@pytest.mark.django_db(transaction=True)
def test_a_doctors_draft_survives_the_event_list_a_refusal_and_a_reload(page, shot, doctor_a, request):
    """The interpretation form on a phone: the draft kept in the tab across the event list the form sends the doctor
    to, the character count, a refusal shown on the recording's own page (post/redirect/get) with the focus on the
    text, and once signed the amendment folded away; the unsigned report's title on one line beside its warning."""
    from .test_holter import PHONE

    recording = request.getfixturevalue("holter_recording")  # 70 s of MIT-BIH 207: a run of ventricular flutter
    detail = f"/recordings/{recording.pk}/"
    key = f"interpretation-draft:{recording.pk}:{doctor_a.pk}:0"  # this doctor's, over no signed version
    log_in(page, "doctor_a")
    page.set_viewport_size(PHONE)

    # The unsigned report: its title whole on a phone ("ECG rep/ort" beside the preliminary line before).
    page.goto(f"{detail}report/")
    expect(page.locator(".report-preliminary")).to_have_text(
        "Preliminary: automatic analysis, not yet interpreted by a doctor."
    )
    assert page.get_by_role("heading", name="ECG report").evaluate(LINES) == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "13c-unsigned-report-phone", full_page=False)

    # A draft, then the section's own link to the VF episode awaiting a decision: the draft comes back.
    page.goto(f"{detail}#interpretation")
    text = page.get_by_label("Your interpretation")
    counter = page.locator("#interpretation-count")
    expect(counter).to_have_text("0 / 4,000 characters")
    text.fill("Sinus rhythm.\nVentricular flutter at")
    expect(counter).to_have_text("36 / 4,000 characters")  # the line break counted once, as the server counts it
    assert "interpretation-count" in text.get_attribute("aria-describedby")
    page.locator("#interpretation").get_by_role("link", name="decide on it in the event list").click()
    page.wait_for_url(re.compile(r"\?events_page=\d+#event-\d+$"))
    expect(text).to_have_value("Sinus rhythm.\nVentricular flutter at")
    expect(page.locator("[data-draft-restored]")).to_have_text("Your unsigned draft from this tab is restored.")
    page.locator("li.event-vf").first.get_by_role("button", name=re.compile("^Confirm")).click()
    expect(page.locator("li.event-vf .messages").first).to_contain_text("confirmed")
    expect(text).to_have_value("Sinus rhythm.\nVentricular flutter at")  # and after deciding on it
    page.get_by_role("link", name="Back to interpretation").click()
    page.wait_for_url(re.compile("#interpretation$"))
    assert text.evaluate(IN_VIEW)

    # A paste past the limit: kept whole, the count a warning; the server refuses it and says why.
    text.fill(LONG_PASTE)
    expect(counter).to_have_text("4,840 / 4,000 characters: 840 too many to sign")
    expect(counter).to_have_class(re.compile(r"\bover\b"))
    expect(page.locator("[data-count-alert]")).to_have_text("Over the limit of 4,000 characters.")
    assert text.evaluate("el => el.value.length") == 4840
    page.get_by_role("button", name="Sign interpretation", exact=True).click()
    page.wait_for_url(re.compile(rf"{detail}(\?[^#]*)?#interpretation$"))  # the recording's page, not the form's URL
    error = page.locator("#interpretation-error")
    expect(error).to_have_text("The interpretation is 4,840 characters long; at most 4,000 are allowed.")
    assert page.evaluate("document.activeElement.id") == "id_text"  # not the page's body, 18 tabs away
    assert error.evaluate(IN_VIEW) and text.evaluate(IN_VIEW)  # on the phone too
    expect(text).to_have_value(LONG_PASTE)
    expect(text).to_have_attribute("aria-invalid", "true")
    shot(page, "13d-interpretation-refused-phone", full_page=False)
    # the page's relative links are the recording's again (they had answered 405), and a reload resends nothing
    responses = []
    page.on("response", lambda r: responses.append(r.status) if r.request.resource_type == "document" else None)
    page.locator(".event-types a").nth(1).click()
    page.wait_for_url(re.compile(r"\?events_type=\w+#events$"))
    page.reload()
    assert responses == [200, 200], responses
    expect(error).to_have_count(0)  # said once
    expect(text).to_have_value(LONG_PASTE)  # the refused text: this tab's draft now

    # Signed: the draft is gone, the text is shown once and the amendment folded away.
    text.fill("Sinus rhythm. A 10-second run of ventricular flutter, confirmed.")
    page.get_by_role("button", name="Sign interpretation", exact=True).click()
    section = page.locator("#interpretation")
    expect(section.locator(".messages")).to_contain_text("Interpretation signed.")
    assert page.evaluate(f"sessionStorage.getItem('{key}')") is None
    amend = section.locator("details.interpretation-amend")
    expect(amend).not_to_have_attribute("open", "")
    expect(page.get_by_role("button", name="Sign amended interpretation")).to_be_hidden()
    page.reload()
    expect(page.locator("[data-draft-restored]")).to_have_count(0)
    section.get_by_text("Amend the interpretation").click()
    expect(page.get_by_role("button", name="Sign amended interpretation")).to_be_visible()
    expect(page.get_by_label("Amended interpretation")).to_have_value(
        "Sinus rhythm. A 10-second run of ventricular flutter, confirmed."
    )
    assert_accessible(page)
    shot(page, "13e-interpretation-amend-open-phone", full_page=False)
    # a draft left in the tab is forgotten once signed out: the next doctor at this browser does not get it
    page.get_by_label("Amended interpretation").fill("An unsigned amendment")
    assert page.evaluate("Object.keys(sessionStorage).some(k => k.startsWith('interpretation-draft:'))")
    log_out(page)
    assert not page.evaluate("Object.keys(sessionStorage).some(k => k.startsWith('interpretation-draft:'))")
    assert page.js_errors == []
