"""The classification service, run in this process against PostgreSQL with tiny models."""

import pytest
from django.core.files.base import ContentFile
from django.db import IntegrityError

from diagnostics import ingestion, services
from diagnostics.models import Beat, Diagnosis, ECGRecording

from ..conftest import model_version_from
from ..helpers import beat_csv


@pytest.fixture
def recording(patient_a, staff_a):
    data = beat_csv(30)
    parsed = ingestion.parse_beats(filename="beats.csv", data=data)
    return services.recording_submit(user=staff_a, patient=patient_a, parsed=parsed, data=data, filename="beats.csv")


@pytest.mark.django_db
def test_it_writes_beats_and_a_diagnosis(recording, active_models):
    assert services.recording_classify(recording_id=recording.pk, claim_token="t1") == "done"
    recording.refresh_from_db()
    assert recording.status == "done" and recording.finished_at is not None
    beats = list(recording.beats.order_by("index"))
    assert [b.index for b in beats] == list(range(30))
    for b in beats:
        assert sum(b.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
        assert b.aami_class == max(b.probabilities, key=b.probabilities.get)
        assert b.mi_probability == pytest.approx(0.8808, abs=1e-3)
    diagnosis = recording.diagnosis
    assert sum(n for _, n, _ in diagnosis.class_counts()) == diagnosis.beat_count == 30
    assert diagnosis.mi_flag and diagnosis.mi_score == pytest.approx(0.8808, abs=1e-3)
    assert (diagnosis.heartbeat_model, diagnosis.mi_model) == (active_models["heartbeat"], active_models["mi"])


@pytest.mark.django_db
@pytest.mark.parametrize("rows", [1, 4])
def test_too_few_beat_rows_are_not_assessed_for_mi(rows, patient_a, staff_a, active_models):
    # the same tiny model scores every row 0.88 (flagged above): a handful of rows says nothing of a patient
    data = beat_csv(rows)
    parsed = ingestion.parse_beats(filename="beats.csv", data=data)
    rec = services.recording_submit(user=staff_a, patient=patient_a, parsed=parsed, data=data, filename="beats.csv")
    assert services.recording_classify(recording_id=rec.pk, claim_token="t1") == "done"
    diagnosis = Diagnosis.objects.get(recording=rec)
    assert diagnosis.beat_count == rows
    assert (diagnosis.mi_status, diagnosis.mi_flag, diagnosis.mi_score) == ("not_assessable", False, None)
    assert f"{rows} row" in diagnosis.mi_reason and "fewer than the 5 beats" in diagnosis.mi_reason


@pytest.mark.django_db
def test_a_redelivered_task_never_duplicates_beats(recording, active_models):
    assert services.recording_classify(recording_id=recording.pk, claim_token="t1") == "done"
    assert services.recording_classify(recording_id=recording.pk, claim_token="t1") == "not-claimed"
    assert services.recording_classify(recording_id=recording.pk, claim_token="t2") == "not-claimed"
    assert Beat.objects.filter(recording=recording).count() == 30
    assert Diagnosis.objects.filter(recording=recording).count() == 1


@pytest.mark.django_db
def test_a_second_worker_cannot_claim_a_recording_in_progress(recording, active_models):
    assert services._claim(recording.pk, "worker-1")
    assert not services._claim(recording.pk, "worker-2")
    assert services.recording_classify(recording_id=recording.pk, claim_token="worker-2") == "not-claimed"
    recording.refresh_from_db()
    assert recording.status == "processing" and recording.claim_token == "worker-1"


@pytest.mark.django_db
def test_an_abandoned_claim_is_taken_over_after_the_lease(recording, active_models, settings):
    from datetime import timedelta

    from django.utils import timezone

    assert services._claim(recording.pk, "dead-worker")
    ECGRecording.objects.filter(pk=recording.pk).update(
        claimed_at=timezone.now() - timedelta(seconds=settings.ECG_PROCESSING_LEASE_SECONDS + 1)
    )
    assert services.recording_classify(recording_id=recording.pk, claim_token="new-worker") == "done"
    assert Beat.objects.filter(recording=recording).count() == 30


@pytest.mark.django_db
def test_without_active_models_a_recording_waits_in_the_queue(recording):
    assert services.recording_classify(recording_id=recording.pk, claim_token="t1") == "waiting-for-models"
    recording.refresh_from_db()
    assert recording.status == "queued"


@pytest.mark.django_db
def test_an_unreadable_stored_file_fails_with_a_reason(recording, active_models):
    recording.file.save("recordings/broken.csv", ContentFile(b"1,2,3\n"), save=True)
    assert services.recording_classify(recording_id=recording.pk, claim_token="t1") == "failed"
    recording.refresh_from_db()
    assert recording.status == "failed"
    assert "row 1 has 3 values" in recording.error_message
    assert not recording.beats.exists()


@pytest.mark.django_db
def test_a_recording_that_keeps_crashing_ends_failed(recording, active_models):
    ECGRecording.objects.filter(pk=recording.pk).update(attempts=3)
    assert services.recording_classify(recording_id=recording.pk, claim_token="t9", max_attempts=3) == "not-claimed"
    recording.refresh_from_db()
    assert recording.status == "failed" and "Gave up after 3 attempts" in recording.error_message


@pytest.mark.django_db
def test_a_newly_activated_version_is_used_without_a_restart(
    recording, active_models, tiny_model_dir, patient_a, staff_a
):
    services.recording_classify(recording_id=recording.pk, claim_token="t1")
    low = model_version_from(tiny_model_dir / "mi-low.keras", task="mi", version="tiny-low", threshold=0.5)
    data = beat_csv(5, seed=3)
    parsed = ingestion.parse_beats(filename="b.csv", data=data)
    second = services.recording_submit(user=staff_a, patient=patient_a, parsed=parsed, data=data, filename="b.csv")
    services.recording_classify(recording_id=second.pk, claim_token="t2")
    second.refresh_from_db()
    assert second.diagnosis.mi_model == low
    assert not second.diagnosis.mi_flag and second.diagnosis.mi_score == pytest.approx(0.1192, abs=1e-3)
    recording.refresh_from_db()
    assert recording.diagnosis.mi_model == active_models["mi"]  # the earlier result keeps its version


@pytest.mark.django_db
def test_the_database_allows_one_active_version_per_task(active_models, tiny_model_dir):
    from mlmodels.models import ModelVersion

    other = model_version_from(tiny_model_dir / "mi-low.keras", task="mi", version="tiny-low", active=False)
    with pytest.raises(IntegrityError):
        ModelVersion.objects.filter(pk=other.pk).update(is_active=True)


def _beat_files():
    from django.core.files.storage import default_storage

    return {name for name in default_storage.listdir("recordings")[1] if name.endswith(".beats.npy")}


@pytest.mark.django_db
def test_a_claim_lost_before_the_results_are_written_leaves_no_beats_file(recording, active_models, monkeypatch):
    before = _beat_files()
    real = services._write_results

    def taken_over_meanwhile(recording_id, claim_token, **kw):  # the sweep gave the recording to another worker
        ECGRecording.objects.filter(pk=recording_id).update(claim_token="another-worker")
        return real(recording_id, claim_token, **kw)

    monkeypatch.setattr(services, "_write_results", taken_over_meanwhile)
    assert services.recording_classify(recording_id=recording.pk, claim_token="t1") == "lost-claim"
    assert _beat_files() == before
    assert not Beat.objects.filter(recording=recording).exists()


@pytest.mark.django_db
def test_results_written_again_replace_the_earlier_beats_file(recording, active_models):
    assert services.recording_classify(recording_id=recording.pk, claim_token="t1") == "done"
    first = ECGRecording.objects.get(pk=recording.pk).beats_file.name
    ECGRecording.objects.filter(pk=recording.pk).update(status="queued")
    assert services.recording_classify(recording_id=recording.pk, claim_token="t2") == "done"
    second = ECGRecording.objects.get(pk=recording.pk).beats_file.name
    assert second != first and first.rsplit("/", 1)[-1] not in _beat_files()
    assert second.rsplit("/", 1)[-1] in _beat_files()


@pytest.mark.django_db
def test_a_retry_after_a_database_restart_does_not_use_up_the_crash_budget(recording, active_models, settings):
    from datetime import timedelta

    from django.utils import timezone

    from diagnostics.tasks import MAX_ATTEMPTS, classify_recording, try_token

    # three claims so far, the last by this very message's try before, just before the database went away
    ECGRecording.objects.filter(pk=recording.pk).update(
        status="processing", claim_token=try_token("message-1", 1), attempts=MAX_ATTEMPTS, claimed_at=timezone.now()
    )
    assert classify_recording.apply(args=(recording.pk,), task_id="message-1", retries=2).get() == "done"
    recording.refresh_from_db()
    assert recording.status == "done" and recording.attempts == MAX_ATTEMPTS + 1
    # a message redelivered after crashes (no retry of its own; the crashed attempt's lease run out) still gives
    # up at the budget
    stale = timezone.now() - timedelta(seconds=settings.ECG_PROCESSING_LEASE_SECONDS + 1)
    ECGRecording.objects.filter(pk=recording.pk).update(
        status="processing", claim_token=try_token("message-2", 0), attempts=3, claimed_at=stale
    )
    assert classify_recording.apply(args=(recording.pk,), task_id="message-2").get() == "not-claimed"
    recording.refresh_from_db()
    assert recording.status == "failed" and "Gave up after 3 attempts" in recording.error_message


@pytest.mark.django_db
def test_results_the_storage_cannot_hold_are_retried_before_the_recording_fails(
    recording, active_models, file_size_limit
):
    from diagnostics.tasks import classify_recording

    before = _beat_files()
    file_size_limit(1000)  # the beats file (5 x 187 floats) stops at 1 kB
    try:
        result = classify_recording.apply(args=(recording.pk,), task_id="message-1")
    finally:
        file_size_limit(None)
    # retried (inline here: a worker waits 30 s, then twice as long each time), each retry with an attempt of
    # its own, and only then failed, saying why
    assert result.get() == "failed"
    recording.refresh_from_db()
    assert recording.attempts == 1 + classify_recording.max_retries
    assert recording.status == "failed" and "could not be stored" in recording.error_message
    assert _beat_files() == before  # no part of a beats file left behind


@pytest.mark.django_db
def test_a_second_copy_of_the_message_does_not_fail_a_last_attempt_that_is_running(recording, settings):
    from datetime import timedelta

    from django.utils import timezone

    running = {"status": "processing", "claim_token": "message-1", "attempts": 3}
    ECGRecording.objects.filter(pk=recording.pk).update(**running, claimed_at=timezone.now())
    assert not services._claim(recording.pk, "message-1", max_attempts=3)
    recording.refresh_from_db()
    assert recording.status == "processing" and not recording.error_message  # its lease is being renewed
    # once that lease has run out (the attempt crashed), the budget is spent: failed
    stale = timezone.now() - timedelta(seconds=settings.ECG_PROCESSING_LEASE_SECONDS + 1)
    ECGRecording.objects.filter(pk=recording.pk).update(claimed_at=stale)
    assert not services._claim(recording.pk, "sweep-message", max_attempts=3)
    recording.refresh_from_db()
    assert recording.status == "failed" and "Gave up after 3 attempts" in recording.error_message


@pytest.mark.django_db
def test_a_second_copy_of_a_running_message_stops_without_counting_an_attempt(recording, active_models, settings):
    from datetime import timedelta

    from django.utils import timezone

    from diagnostics.tasks import classify_recording, try_token

    # the first copy claimed it and renews its lease; the broker delivers the message again (its visibility
    # timeout passed on a long recording): the copy does not run the analysis a second time
    running = {"status": "processing", "claim_token": try_token("message-1", 0), "attempts": 1}
    ECGRecording.objects.filter(pk=recording.pk).update(**running, claimed_at=timezone.now())
    assert classify_recording.apply(args=(recording.pk,), task_id="message-1").get() == "not-claimed"
    recording.refresh_from_db()
    assert (recording.status, recording.attempts, recording.claim_token) == ("processing", 1, "message-1.0")
    # the same copy after the first one's worker died (its lease not renewed since): it takes over
    stale = timezone.now() - timedelta(seconds=settings.ECG_PROCESSING_LEASE_SECONDS + 1)
    ECGRecording.objects.filter(pk=recording.pk).update(claimed_at=stale)
    assert classify_recording.apply(args=(recording.pk,), task_id="message-1").get() == "done"
    recording.refresh_from_db()
    assert (recording.status, recording.attempts) == ("done", 2)


@pytest.mark.django_db
def test_a_retry_takes_over_only_its_own_tasks_claim(recording, active_models):
    from django.utils import timezone

    from diagnostics.tasks import try_token

    held = {"status": "processing", "claim_token": try_token("message-1", 0), "attempts": 1}
    ECGRecording.objects.filter(pk=recording.pk).update(**held, claimed_at=timezone.now())
    # another task's retry finds the claim live
    assert not services._claim(recording.pk, try_token("message-2", 1), takes_over=[try_token("message-2", 0)])
    assert services._claim(recording.pk, try_token("message-1", 1), takes_over=[try_token("message-1", 0)])
    recording.refresh_from_db()
    assert (recording.claim_token, recording.attempts) == ("message-1.1", 2)


@pytest.mark.django_db
def test_a_connection_lost_after_the_results_committed_keeps_the_beats_file_they_name(
    recording, active_models, monkeypatch
):
    from django.db import OperationalError

    real = services._write_results

    def committed_then_lost(*args, **kw):
        real(*args, **kw)
        raise OperationalError("server closed the connection unexpectedly")  # during COMMIT, after it took

    monkeypatch.setattr(services, "_write_results", committed_then_lost)
    with pytest.raises(OperationalError):
        services.recording_classify(recording_id=recording.pk, claim_token="t1")
    recording.refresh_from_db()
    assert recording.status == "done" and recording.beats_file.name.rsplit("/", 1)[-1] in _beat_files()


@pytest.mark.django_db
def test_a_try_that_crashes_fails_only_a_recording_no_other_try_holds(recording, active_models, monkeypatch):
    from django.utils import timezone

    from diagnostics.tasks import classify_recording, try_token

    def crash(**kwargs):
        raise RuntimeError("a fault after the claim was lost")

    monkeypatch.setattr(services, "recording_classify", crash)
    # this try's lease ran out while it was stalled, and the sweep sent the recording to another worker, which
    # holds it now: this try's crash afterwards had failed the recording the other is classifying
    held = {"status": "processing", "claim_token": "message-2.0", "attempts": 2, "claimed_at": timezone.now()}
    ECGRecording.objects.filter(pk=recording.pk).update(**held)
    assert classify_recording.apply(args=(recording.pk,), task_id="message-1").get() == "lost-claim"
    recording.refresh_from_db()
    assert (recording.status, recording.claim_token, recording.error_message) == ("processing", "message-2.0", "")
    # its own claim (or an earlier try's of the same message), or none at all: failed, saying why
    for token, retries in ((try_token("message-1", 0), 0), (try_token("message-1", 0), 1), (None, 0)):
        ECGRecording.objects.filter(pk=recording.pk).update(
            status="processing" if token else "queued", claim_token=token or "", error_message=""
        )
        assert classify_recording.apply(args=(recording.pk,), task_id="message-1", retries=retries).get() == "failed"
        recording.refresh_from_db()
        assert recording.status == "failed" and "Internal error while classifying (RuntimeError)" in (
            recording.error_message
        )


@pytest.mark.django_db
def test_an_object_store_out_of_reach_is_retried_before_the_recording_fails_saying_so(
    recording, active_models, settings
):
    import socket

    from botocore.config import Config

    from diagnostics.tasks import classify_recording

    with socket.socket() as sock:  # a port nothing listens on: the store's endpoint refuses the connection
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "ecg-away",
                "endpoint_url": f"http://127.0.0.1:{port}",
                "region_name": "us-east-1",
                "access_key": "test-key",
                "secret_key": "test-secret",
                "client_config": Config(retries={"total_max_attempts": 1}, connect_timeout=2),
            },
        },
    }
    result = classify_recording.apply(args=(recording.pk,), task_id="message-1")
    # retried (inline here: a worker waits 30 s, then twice as long each time), each retry with an attempt of its
    # own, and only then failed, saying what failed: not an "internal error" as a reader's bug is
    assert result.get() == "failed"
    recording.refresh_from_db()
    assert recording.attempts == 1 + classify_recording.max_retries
    assert recording.status == "failed" and "file storage could not be reached" in recording.error_message
