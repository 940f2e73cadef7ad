"""What a hospital system hears of `manage.py recompute_rhythm`: the notice and the amended report a correction's
recomputation gives, for a recording whose figures changed; nothing for one only stamped with the version. And a
request a stopped run left is answered by the workers, sent by the sweep through the broker."""

import io
import json
import time
from datetime import datetime, timedelta

import pytest
from django.core.management import call_command

from api.services import api_token_create
from diagnostics import corrections
from diagnostics.models import Diagnosis, RhythmRecomputation
from ecg.constants import RHYTHM_VERSION

from ..diagnostics.test_beat_corrections import WorkerDied, _upload_record, analysed, record_model  # noqa: F401
from ..diagnostics.test_recompute_rhythm import as_an_older_version_left_it
from .test_fhir import fetch_valid_bundle
from .test_fhir_amended import report_of


def _recompute() -> str:
    out = io.StringIO()
    call_command("recompute_rhythm", "--all", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_a_recomputation_that_changed_the_figures_is_told_and_amends_the_report(
    delivered,
    api_as,
    staff_a,
    doctor_a,
    analysed,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    url, received = delivered
    api_token_create(user=staff_a, webhook_url=url)
    api = api_as(staff_a)
    assert report_of(fetch_valid_bundle(api, analysed))["status"] == "final"
    as_an_older_version_left_it(analysed, doctor_a)
    received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        _recompute()
    (notice,) = [json.loads(body) for _headers, body in received]
    diagnosis = Diagnosis.objects.get(recording=analysed)
    assert notice["event"] == "rhythm.recomputed" and notice["recording"] == analysed.pk
    assert (notice["rhythm_status"], notice["reason"]) == ("current", None)
    assert notice["recomputed_at"] == diagnosis.rhythm_recomputed_at.isoformat().replace("+00:00", "Z")
    report = report_of(fetch_valid_bundle(api, analysed))
    finished = RhythmRecomputation.objects.get(recording=analysed).finished_at
    # amended by the doctor's decisions on the events too: issued when the figures were recomputed, the latest
    assert report["status"] == "amended" and datetime.fromisoformat(report["issued"]) == finished


@pytest.mark.django_db
def test_a_recording_only_stamped_with_the_version_is_not_told(
    delivered,
    staff_a,
    analysed,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    url, received = delivered
    api_token_create(user=staff_a, webhook_url=url)
    Diagnosis.objects.filter(recording=analysed).update(rhythm_version=None)
    received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert "1 unchanged" in _recompute()
    assert received == []


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_request_a_stopped_run_left_is_sent_by_the_sweep_and_answered_by_a_worker(
    client,
    celery_worker,
    staff_a,
    doctor_a,
    patient_a,
    active_models,
    record_model,  # noqa: F811
    monkeypatch,
):
    import ecg.rhythm

    from ..conftest import wait_for_status

    recording = wait_for_status(_upload_record(client, staff_a, patient_a, "119"))
    assert recording.status == "done", recording.error_message
    _same, _moved, fresh = as_an_older_version_left_it(recording, doctor_a)
    analyse = ecg.rhythm.analyse_rhythm
    calls = []

    def dies_the_second_time(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise WorkerDied
        return analyse(**kwargs)

    monkeypatch.setattr(ecg.rhythm, "analyse_rhythm", dies_the_second_time)
    with pytest.raises(WorkerDied):
        _recompute()
    monkeypatch.undo()
    assert Diagnosis.objects.get(recording=recording).rhythm_status == "recomputing"
    assert corrections.rhythms_requeue_outdated(older_than=timedelta(0)) == 1  # the sweep's, once it is old enough
    deadline = time.monotonic() + 120
    while Diagnosis.objects.get(recording=recording).rhythm_outdated_at is not None:
        assert time.monotonic() < deadline, "the worker did not recompute the rhythm"
        time.sleep(0.3)
    diagnosis = Diagnosis.objects.get(recording=recording)
    assert diagnosis.rhythm == fresh and diagnosis.rhythm_version == RHYTHM_VERSION
    request = RhythmRecomputation.objects.get(recording=recording)
    assert request.outcome == "changed" and len(request.withdrawn_events) == 1
