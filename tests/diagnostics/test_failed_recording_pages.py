"""A recording whose analysis failed, on every page that has no result to show for it: the pages say it failed and
why, not that its result is still to come (it never will: the file is uploaded again once the cause is put right)."""

import pytest
from django.urls import reverse

from ..conftest import client_for
from ..factories import signal_recording

pytestmark = pytest.mark.django_db
REASON = "lead II is flat: no signal to analyse"


@pytest.mark.parametrize("name", ["recording-shapes", "recording-report", "recording-review"])
def test_a_failed_recordings_pages_say_it_failed_and_why_not_that_a_result_is_coming(client, doctor_a, patient_a, name):
    failed = signal_recording(patient=patient_a, uploaded_by=doctor_a, status="failed", error_message=REASON)
    html = client_for(client, doctor_a).get(reverse(name, args=[failed.pk])).content.decode()
    assert "could not be analysed" in html and REASON in html
    assert "yet" not in html.split("<main", 1)[1] and "once it is" not in html


@pytest.mark.parametrize("name", ["recording-shapes", "recording-report", "recording-review"])
def test_a_recording_still_being_analysed_says_so(client, doctor_a, patient_a, name):
    pending = signal_recording(patient=patient_a, uploaded_by=doctor_a, status="processing")
    html = client_for(client, doctor_a).get(reverse(name, args=[pending.pk])).content.decode()
    assert "not analysed yet" in html and "could not be analysed" not in html


def test_the_shapes_page_of_a_recording_being_analysed_follows_its_status_and_reloads_when_it_is_done(
    client, doctor_a, patient_a
):
    from diagnostics.models import ECGRecording

    pending = signal_recording(patient=patient_a, uploaded_by=doctor_a, status="processing")
    html = client_for(client, doctor_a).get(reverse("recording-shapes", args=[pending.pk])).content.decode()
    status = reverse("recording-status", args=[pending.pk])
    # it had said "not analysed yet" and stayed so when the analysis ended
    assert f'hx-get="{status}?was=processing"' in html and 'http-equiv="refresh"' in html
    ECGRecording.objects.filter(pk=pending.pk).update(status="done")
    assert client.get(status, {"was": "processing"})["HX-Refresh"] == "true"
