"""A recording with stretches too noisy to read in a real Chromium: said in the summary, shown in the viewer."""

import pytest
from playwright.sync_api import expect

from diagnostics.models import ECGRecording

from ..data import DATA_DIR, require
from .conftest import log_in, upload_signal
from .test_clinic_flow import _wait_done

pytestmark = [pytest.mark.worker, pytest.mark.slow]


@pytest.mark.django_db(transaction=True)
def test_electrode_motion_noise_is_said_in_the_summary_and_shaded_in_the_viewer(
    page, shot, patient_a, doctor_a, active_models, celery_worker
):
    # nstdb 118e00: MIT-BIH 118 with electrode-motion noise at 0 dB in 2-minute stretches from 5:00.
    nstdb = require(DATA_DIR / "nstdb", "MIT-BIH Noise Stress Test Database")
    log_in(page, "doctor_a")
    upload_signal(page, patient_a, [nstdb / "118e00.hea", nstdb / "118e00.dat"])
    _wait_done(page)
    rhythm = ECGRecording.objects.get().diagnosis.rhythm
    assert rhythm["noise"] and rhythm["noise_s"] > 200
    expect(page.locator("#holter")).to_contain_text("too noisy to read")

    # From the start, the view is moved on a screen at a time until a noisy stretch is in it.
    viewer = page.locator("[data-ecg-viewer]")
    canvas = viewer.locator("canvas.ecg")
    canvas.focus()
    for _ in range(150):
        if (viewer.get_attribute("data-noise-shown") or "0") != "0":
            break
        canvas.press("Shift+ArrowRight")
        page.wait_for_timeout(60)
    expect(viewer).not_to_have_attribute("data-noise-shown", "0")
    canvas.press("Shift+ArrowRight")  # the stretch across the screen
    page.wait_for_timeout(300)
    assert page.js_errors == []
    viewer.screenshot(path=str(shot.dir / "42-viewer-noise.png"))
