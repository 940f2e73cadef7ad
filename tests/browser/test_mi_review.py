"""A doctor's review page explains an MI flag: PTB patient001 (MI), 12 leads, the shipped models."""

import json

import numpy as np
import pytest
import wfdb
from playwright.sync_api import expect

from diagnostics.models import Diagnosis

from ..conftest import model_version_from
from ..data import REPO_ROOT, ptbdb_dir
from .conftest import assert_accessible, log_in
from .test_clinic_flow import _wait_done

pytestmark = [pytest.mark.worker, pytest.mark.slow]
ARTIFACTS = REPO_ROOT / "mlmodels" / "artifacts"


@pytest.fixture
def shipped_models(active_models):
    """The product's record-level beat model and MI model with its own threshold."""
    record = sorted(ARTIFACTS.glob("heartbeat_record-*.keras"))[-1]
    mi = sorted(ARTIFACTS.glob("mi-*.keras"))[-1]
    threshold = json.loads(mi.with_suffix(".json").read_text())["threshold"]
    return {
        "heartbeat_record": model_version_from(record, task="heartbeat_record", version="shipped"),
        "mi": model_version_from(mi, task="mi", version="shipped", threshold=threshold),
    }


@pytest.fixture
def twelve_lead_record(tmp_path):
    """patient001's twelve standard leads as a WFDB record (the Frank leads of its .xyz left out)."""
    source = wfdb.rdrecord(str(ptbdb_dir() / "patient001" / "s0010_re"))
    names = list(source.sig_name[:12])
    wfdb.wrsamp(
        "p001",
        fs=source.fs,
        units=["mV"] * 12,
        sig_name=names,
        p_signal=np.asarray(source.p_signal[:, :12]),
        fmt=["16"] * 12,
        write_dir=str(tmp_path),
    )
    return [str(tmp_path / "p001.hea"), str(tmp_path / "p001.dat")]


@pytest.mark.django_db(transaction=True)
def test_the_review_page_explains_an_mi_flag(
    page, shot, patient_a, doctor_a, shipped_models, celery_worker, twelve_lead_record
):
    log_in(page, "doctor_a")
    page.goto(f"/patients/{patient_a.pk}/recordings/new/")
    page.get_by_label("Continuous signal").check()
    page.get_by_label("File(s)").set_input_files(twelve_lead_record)
    page.get_by_role("button", name="Upload and classify").click()
    _wait_done(page)
    diagnosis = Diagnosis.objects.get()
    assert diagnosis.mi_status == "screened" and diagnosis.mi_flag, diagnosis.mi_reason
    assert diagnosis.mi_lead == "ii" and diagnosis.mi_beats_used >= 5
    expect(page.locator('[data-mi-status="screened"]')).to_contain_text("flagged for a doctor's review")

    page.goto("/reviews/")
    page.get_by_role("link", name=patient_a.display_name).first.click()
    why = page.locator("#mi-explanation")
    expect(why).to_contain_text("Why this was flagged")
    expect(why).to_contain_text("Lead II")  # the file's "ii" as pages write leads
    expect(why).to_contain_text(f"{diagnosis.mi_beats_used} beats scored")
    expect(why).to_contain_text(f"threshold {diagnosis.mi_threshold:.3f}")
    rows = why.locator("[data-scored-beats] tbody tr")
    assert rows.count() == min(diagnosis.mi_beats_used, 60)
    assert why.locator("svg.mi-dots rect").count() == diagnosis.mi_beats_used
    scored = set(diagnosis.mi_scored_beats)
    first = min(scored)
    assert rows.first.locator("td").first.inner_text().strip() == str(first + 1)
    beat = diagnosis.recording.beats.get(index=first)
    expect(rows.first.locator("td").last).to_have_text(f"{beat.mi_probability:.3f}")
    rows.first.get_by_role("button").click()  # plots the beat the model read
    expect(why.locator("#beat-plot")).not_to_be_empty()
    assert_accessible(page)
    shot(page, "30-review-page-explains-an-mi-flag")
    why.screenshot(path=str(shot.dir / "31-mi-flag-explanation.png"))
    assert page.js_errors == []
