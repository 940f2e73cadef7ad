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


@pytest.mark.django_db(transaction=True)
def test_a_lead_mostly_lost_beside_the_analysed_one_is_drawn_with_its_gaps_left_blank(
    page, shot, tmp_path, patient_a, doctor_a, active_models, celery_worker
):
    import numpy as np
    import wfdb

    from ..data import mitdb_dir

    signal = wfdb.rdrecord(str(mitdb_dir() / "100"), sampto=360 * 30).p_signal
    v5 = signal[:, 1].copy()
    v5[360 * 4 : 360 * 26] = np.nan  # 73 % of V5 lost: refused if analysed, shown as it is beside MLII
    rows = [f"{a:.3f},{'nan' if np.isnan(b) else f'{b:.3f}'}" for a, b in zip(signal[:, 0], v5)]
    path = tmp_path / "two.csv"
    path.write_text("\n".join(["MLII,V5", *rows]))
    log_in(page, "doctor_a")
    page.goto(f"/patients/{patient_a.pk}/recordings/new/")
    page.get_by_label("Continuous signal").check()
    page.get_by_label("File(s)").set_input_files([str(path)])
    page.get_by_label("Sampling rate (Hz)").fill("360")
    page.get_by_role("button", name="Upload and classify").click()
    _wait_done(page)

    viewer = page.locator("[data-ecg-viewer]")
    viewer.locator("select[data-lead]").select_option("V5")
    expect(viewer).to_have_attribute("data-lead", "V5")
    expect(viewer).not_to_have_attribute("data-lost-shown", "0")
    page.wait_for_timeout(300)
    assert page.js_errors == []
    viewer.screenshot(path=str(shot.dir / "41-viewer-lead-mostly-lost.png"))
