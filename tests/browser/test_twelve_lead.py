"""A 12-lead resting ECG in a real Chromium: PTB patient001 uploaded as its WFDB files, then its
12-lead page on the recording page, the review page and the printed report."""

import io

import pytest
from playwright.sync_api import expect

from diagnostics.models import ECGRecording

from ..conftest import model_version_from
from ..data import DATA_DIR, require
from .conftest import assert_accessible, log_in, upload_signal
from .test_clinic_flow import _recording_id, _wait_done

pytestmark = [pytest.mark.worker, pytest.mark.slow]
LABELS = ["I", "aVR", "V1", "V4", "II", "aVL", "V2", "V5", "III", "aVF", "V3", "V6", "II · rhythm"]


@pytest.fixture
def record_model(active_models, tiny_model_dir):
    return model_version_from(tiny_model_dir / "heartbeat-record.keras", task="heartbeat_record", version="tiny-record")


def _assert_twelve_lead(page) -> None:
    figure = page.locator("svg.twelve-lead")
    expect(figure).to_be_visible()
    assert figure.locator("text.lead").all_text_contents() == LABELS
    assert figure.locator("polyline.trace").count() == 4 + 13
    box = figure.bounding_box()
    assert box is not None and box["width"] > 2.2 * box["height"]  # 255 mm of paper by 100 mm


@pytest.mark.django_db(transaction=True)
def test_a_doctor_sees_the_twelve_lead_page_of_ptb_patient001_and_prints_it(
    page, shot, patient_a, doctor_a, record_model, celery_worker
):
    record = require(DATA_DIR / "ptbdb" / "patient001", "PTB record patient001")
    log_in(page, "doctor_a")
    upload_signal(page, patient_a, [record / f"s0010_re.{ext}" for ext in ("hea", "dat", "xyz")])
    _wait_done(page)
    recording = ECGRecording.objects.get(pk=_recording_id(page))
    assert recording.leads[:12] == ["i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6"]
    assert recording.lead == "ii"

    _assert_twelve_lead(page)
    # A recording under two minutes has one minute of heart-rate trend: it is drawn, not left blank.
    trend = page.locator("canvas[data-hr-trend]")
    expect(trend).to_have_attribute("data-loaded", "true")
    drawn = page.evaluate(
        """() => { const c = document.querySelector('canvas[data-hr-trend]'), chart = c.hrTrend;
                   const t = chart.data.trend, dpr = window.devicePixelRatio || 1;
                   const x = Math.round(chart.x(0.5) * dpr), y = Math.round(chart.y(t.hr_mean[0]) * dpr);
                   return [t.minute.length, ...c.getContext('2d').getImageData(x, y, 1, 1).data.slice(0, 3)]; }"""
    )
    assert drawn[0] == 1 and max(drawn[1:]) < 200, drawn  # the mean's dark blue, not the white background
    assert_accessible(page)
    shot(page, "30-twelve-lead-recording-page")
    page.locator(".twelve-lead-card").screenshot(path=str(shot.dir / "31-twelve-lead-view.png"))

    # The viewer shows any lead of the file, with the beats found on the record.
    viewer = page.locator("[data-ecg-viewer]")
    page.get_by_label("Lead", exact=True).select_option("v5")
    expect(viewer).to_have_attribute("data-lead", "v5")
    expect(viewer.locator(".viewer-head h2")).to_have_text("ECG · lead V5")  # as the 12-lead panel writes it
    expect(viewer).to_have_attribute("aria-busy", "false")
    viewer.screenshot(path=str(shot.dir / "31b-viewer-lead-v5.png"))

    page.goto(f"/recordings/{recording.pk}/review/")
    _assert_twelve_lead(page)
    shot(page, "32-twelve-lead-review-page")

    page.goto(f"/recordings/{recording.pk}/report/")
    page.emulate_media(media="print")
    _assert_twelve_lead(page)
    expect(page.get_by_role("button", name="Print")).to_be_hidden()
    shot(page, "33-twelve-lead-printed-report")
    # printed, it reads across whatever paper the dialog is set to (an ambulatory report prints portrait)
    from pypdf import PdfReader

    for paper in ("A4", "Letter"):
        first = PdfReader(io.BytesIO(page.pdf(format=paper, print_background=True))).pages[0].mediabox
        assert float(first.width) > float(first.height), paper
    page.emulate_media(media="screen")
