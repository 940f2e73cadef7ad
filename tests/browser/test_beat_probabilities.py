"""The viewer's beat panel gives a beat's probabilities as the beat table does (a review found 0.346 beside the
table's 0.347: the data comes to four places and toFixed rounds their binary value, the table half up)."""

import pytest
from playwright.sync_api import expect

from ..helpers import beat_recording
from .conftest import log_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_viewers_probabilities_are_the_beat_tables(page, staff_a, patient_a, active_models):
    recording = beat_recording(staff_a, patient_a, beats=4)
    # at four places 0.3465 and 0.1235, which toFixed(3) makes 0.346 and 0.123 (0.34649999…, 0.12349999… in binary)
    recording.beats.filter(index=0).update(aami_class="N", p_n=0.34652, p_s=0.2, p_v=0.1235, p_f=0.3299, p_q=0.0001)
    log_in(page, staff_a.username)
    page.goto(f"/recordings/{recording.pk}/")
    panel = page.locator("[data-ecg-viewer] ul.probs li > span:last-child")
    expect(panel).to_have_count(6)  # N, S, V, F, Q and MI
    shown = page.locator("table.beats tbody tr").first.locator("td").all_inner_texts()[2:]  # #, class, P(N) … P(MI)
    assert shown[:5] == ["0.347", "0.200", "0.124", "0.330", "0.000"]
    assert panel.all_inner_texts() == shown
