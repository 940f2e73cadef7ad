"""A recording with lost samples in a real Chromium: analysed around its gaps, which the viewer shows."""

import pytest
from playwright.sync_api import expect

from diagnostics.models import ECGRecording

from ..data import DATA_DIR, require
from .conftest import log_in, upload_signal
from .test_clinic_flow import _wait_done

pytestmark = [pytest.mark.worker, pytest.mark.slow]


@pytest.mark.django_db(transaction=True)
def test_the_gaps_of_cudb_cu09_are_analysed_around_and_shown_in_the_viewer(
    page, shot, patient_a, doctor_a, active_models, celery_worker
):
    cudb = require(DATA_DIR / "cudb", "Creighton University VT database")
    log_in(page, "doctor_a")
    upload_signal(page, patient_a, [cudb / "cu09.hea", cudb / "cu09.dat"])
    _wait_done(page)
    expect(page.locator("#holter")).to_contain_text("No signal")
    expect(page.locator("#holter")).to_contain_text("21 stretches")
    assert len(ECGRecording.objects.get().diagnosis.rhythm["no_signal"]) == 21

    # From the start, the view is moved on a screen at a time until a gap is in it.
    viewer = page.locator("[data-ecg-viewer]")
    canvas = viewer.locator("canvas.ecg")
    canvas.focus()
    for _ in range(80):
        if (viewer.get_attribute("data-lost-shown") or "0") != "0":
            break
        canvas.press("Shift+ArrowRight")
        page.wait_for_timeout(60)
    expect(viewer).not_to_have_attribute("data-lost-shown", "0")
    viewer.screenshot(path=str(shot.dir / "40-viewer-lost-samples.png"))
