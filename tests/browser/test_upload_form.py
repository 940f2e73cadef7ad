"""The upload form shows the fields of the kind of upload chosen."""

import pytest
from playwright.sync_api import expect

from .conftest import log_in


@pytest.mark.django_db(transaction=True)
def test_the_upload_form_shows_the_fields_of_the_kind_chosen(page, patient_a, staff_a):
    # the box for pasted beat values had stayed in view under "Continuous signal", the sampling rate under a beat file
    log_in(page, "staff_a")
    page.goto(f"/patients/{patient_a.pk}/recordings/new/")
    paste, rate, lead = (page.get_by_label(name) for name in ("Or paste beat values", "Sampling rate (Hz)", "Lead"))
    expect(paste).to_be_visible()
    expect(rate).to_be_hidden()
    expect(lead).to_be_hidden()
    page.get_by_label("Continuous signal").check()
    expect(paste).to_be_hidden()
    expect(rate).to_be_visible()
    expect(lead).to_be_visible()
    rate.fill("360")
    page.get_by_label("Beat file").check()  # a value typed stays in view, whatever the kind
    expect(rate).to_be_visible()
    expect(paste).to_be_visible()
    expect(lead).to_be_hidden()
    assert page.js_errors == []
