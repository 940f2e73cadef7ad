"""Pages at a tablet's and a phone's width, and rows of one patient told apart, as a UX review found them:

- the patient page at 820 px scrolled sideways (1,080 px wide, its MI column and Report links off the screen);
- the dashboard's rows of one patient read alike ("Müller, François · Holter, 0:30:05"), as did the patient page's
  "Report of the recording of 2026-12-06 21:50"; its tables spilled over their cards and broke dates in two;
- on a phone the Holter summary squeezed its values into a narrow column beside their labels, and an event's
  strip scrolled sideways with nothing saying so.
"""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from diagnostics.models import ECGRecording
from patients.models import Patient

from ..diagnostics.test_holter_pages import holter_recording  # noqa: F401  (a fixture, used by name)
from ..factories import done_recordings
from .conftest import DESKTOP, TABLET, assert_accessible, log_in
from .test_holter import PHONE, _fits
from .test_layout_fixes import LINES

pytestmark = pytest.mark.django_db(transaction=True)

WIDE_DESKTOP = {"width": 1366, "height": 900}


def _inside(inner, outer) -> bool:
    return inner["x"] >= outer["x"] - 0.5 and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 0.5


@pytest.fixture
def same_patient(clinic_a, staff_a, doctor_a, active_models, holter_recording):  # noqa: F811
    """Four recordings of the patient of ``holter_recording``, alike but for their numbers, files and starts."""
    patient = holter_recording.patient
    Patient.objects.filter(pk=patient.pk).update(family_name="Müller", given_name="François")
    others = done_recordings(3, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)
    start = timezone.make_aware(datetime(2026, 12, 6, 21, 50, 5))
    for i, recording in enumerate(others):
        recording.patient = patient
        recording.original_filename = f"holter-{i}.csv"
        recording.recorded_at = start + timedelta(seconds=i)
        recording.save(update_fields=["patient", "original_filename", "recorded_at"])
    ECGRecording.objects.filter(pk=holter_recording.pk).update(recorded_at=start)
    return [holter_recording, *others]


def test_the_patient_page_fits_a_tablet_and_its_rows_are_told_apart(page, shot, doctor_a, same_patient):
    log_in(page, doctor_a.username)
    page.set_viewport_size(TABLET)
    page.goto(f"/patients/{same_patient[0].patient_id}/")
    assert _fits(page, TABLET["width"]), page.evaluate("document.documentElement.scrollWidth")
    for link in page.locator("table.recordings").get_by_role("link", name="Report").all():
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= TABLET["width"], box  # on the screen
    reports = [link.text_content() for link in page.locator("table.recordings a", has_text="Report").all()]
    assert len(reports) == 4 and len(set(reports)) == 4, reports  # not four "Report of the recording of …"
    expect(page.locator("table.recordings")).to_contain_text("recorded 2026-12-06 21:50:06")  # to the second
    assert_accessible(page)
    shot(page, "71-patient-page-tablet")


def test_the_dashboards_rows_of_one_patient_are_told_apart_and_its_tables_fit_their_cards(
    page, shot, doctor_a, same_patient
):
    log_in(page, doctor_a.username)
    for size in (WIDE_DESKTOP, TABLET, PHONE):
        page.set_viewport_size(size)
        page.goto("/")
        for card in ("#awaiting-interpretation", "#today"):
            rows = page.locator(f"{card} tbody tr")
            texts = rows.all_inner_texts()
            assert len(texts) == 4 and len(set(texts)) == 4, (card, texts)
            box = page.locator(card).bounding_box()
            table = page.locator(f"{card} table").bounding_box()
            assert _inside(table, box), (card, size, table, box)
        assert _fits(page, size["width"]), size
        # a date and time is never broken in two ("2026-12-" / "06 21:47")
        dates = page.locator("#awaiting-interpretation tbody td:last-child, #flagged tbody td:last-child")
        assert dates.count() >= 4
        for i in range(dates.count()):
            assert dates.nth(i).evaluate(LINES) == 1, (size, dates.nth(i).inner_text())
        shot(page, f"72-dashboard-{size['width']}")
    expect(page.locator("#today tbody")).to_contain_text(f"Recording {same_patient[1].pk} · holter-0.csv")
    expect(page.locator("#awaiting-interpretation tbody")).to_contain_text("recorded 2026-12-06 21:50:06")
    assert_accessible(page)


def test_on_a_phone_the_holter_summary_stacks_its_labels_over_their_values_and_a_strip_says_it_scrolls(
    page,
    shot,
    doctor_a,
    holter_recording,  # noqa: F811
):
    log_in(page, doctor_a.username)
    page.set_viewport_size(PHONE)
    page.goto(f"/recordings/{holter_recording.pk}/")
    facts = page.locator("#holter .facts").first
    term, value = facts.locator("dt").nth(1), facts.locator("dd").nth(1)  # "Beats", a long value
    term_box, value_box, list_box = term.bounding_box(), value.bounding_box(), facts.bounding_box()
    assert value_box["y"] >= term_box["y"] + term_box["height"] - 1  # under its label, not beside it
    assert value_box["width"] > 0.9 * list_box["width"], (value_box, list_box)
    # the strip is wider than the phone and scrolls in its figure: a line says so
    strip = page.locator("ol.events > li .strip").first
    assert strip.evaluate("f => f.scrollWidth > f.clientWidth + 100")
    expect(page.locator("ol.events > li").first.locator(".strip-hint")).to_be_visible()
    assert _fits(page, PHONE["width"])
    shot(page, "73-holter-summary-phone")
    page.set_viewport_size(DESKTOP)
    expect(page.locator("ol.events > li").first.locator(".strip-hint")).to_be_hidden()
    term_box, value_box = term.bounding_box(), value.bounding_box()
    assert abs(value_box["y"] - term_box["y"]) < 2  # beside it where there is room


def test_a_recordings_results_and_its_review_fit_the_smallest_phone(
    page, shot, clinic_a, staff_a, doctor_a, active_models
):
    """The results' and the review's two columns of cards had a 320 px minimum each: on a 320 px phone (an iPhone
    SE's width) the page scrolled sideways by the cards' padding."""
    (recording,) = done_recordings(1, clinic=clinic_a, staff=staff_a, doctor=doctor_a, models=active_models)
    log_in(page, doctor_a.username)
    smallest = {"width": 320, "height": 640}
    page.set_viewport_size(smallest)
    for path in (f"/recordings/{recording.pk}/", f"/recordings/{recording.pk}/review/"):
        page.goto(path)
        expect(page.locator("section.grid2").first).to_be_visible()
        assert _fits(page, smallest["width"]), (path, page.evaluate("document.documentElement.scrollWidth"))
    shot(page, "72-review-smallest-phone")
