"""The start of a recording typed on the upload page, in a real Chromium: its date-time control sends what the
page reads as the clinic's local time, and the recording's page then says when it was recorded."""

import pytest
from playwright.sync_api import expect

from ..helpers import beat_csv
from .conftest import assert_accessible, log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_beat_file_uploaded_with_its_start_is_shown_recorded_then(page, staff_a, patient_a, settings, tmp_path):
    settings.TIME_ZONE = "Europe/Berlin"
    beats = tmp_path / "beats.csv"
    beats.write_bytes(beat_csv(3))
    log_in(page, "staff_a")
    page.goto(f"/patients/{patient_a.pk}/recordings/new/")
    page.get_by_label("File(s)").set_input_files(str(beats))
    page.get_by_label("Recorded at").fill("2026-12-04T23:50:30")
    assert_accessible(page)
    page.get_by_role("button", name="Upload and classify").click()
    expect(page.locator("dt", has_text="Recorded").locator("xpath=following-sibling::dd[1]")).to_contain_text(
        "2026-12-04 23:50:30 CET"
    )


def test_a_start_the_clocks_skip_is_refused_beside_the_field(page, staff_a, patient_a, settings, tmp_path):
    settings.TIME_ZONE = "Europe/Berlin"
    beats = tmp_path / "beats.csv"
    beats.write_bytes(beat_csv(3))
    log_in(page, "staff_a")
    page.goto(f"/patients/{patient_a.pk}/recordings/new/")
    page.get_by_label("File(s)").set_input_files(str(beats))
    page.get_by_label("Recorded at").fill("2026-03-29T02:30:00")
    page.get_by_role("button", name="Upload and classify").click()
    expect(page.get_by_text("is no time in Europe/Berlin (its clocks skip it)")).to_be_visible()
    assert_accessible(page)
