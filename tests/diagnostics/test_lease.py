"""The processing lease: a worker renews its claim while it works, loses it to nobody while alive, and
the periodic sweep sends abandoned recordings again, one worker at a time."""

import time
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.utils import timezone

from diagnostics import services
from diagnostics.models import ECGRecording
from ecgsite import housekeeping

from ..helpers import beat_recording

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def claimed(staff_a, patient_a):
    recording = beat_recording(staff_a, patient_a, beats=3, classify=False)
    assert services._claim(recording.pk, "worker-1")
    ECGRecording.objects.filter(pk=recording.pk).update(claimed_at=timezone.now() - timedelta(seconds=30))
    return recording


@pytest.fixture(autouse=True)
def _no_sweep_lock(own_sweep_lock):
    return own_sweep_lock


def test_a_working_worker_keeps_moving_its_claim_forward(claimed):
    with services.RecordingLease(claimed.pk, "worker-1", renew_every=0.1) as lease:
        time.sleep(0.5)
    claimed.refresh_from_db()
    assert not lease.lost.is_set()
    assert (timezone.now() - claimed.claimed_at).total_seconds() < 1


def test_a_renewal_that_finds_the_claim_taken_over_marks_the_lease_lost(claimed):
    with services.RecordingLease(claimed.pk, "worker-1", renew_every=0.1) as lease:
        ECGRecording.objects.filter(pk=claimed.pk).update(claim_token="worker-2")
        assert lease.lost.wait(2)
    claimed.refresh_from_db()
    assert claimed.claim_token == "worker-2"


def test_a_renewal_after_the_work_itself_finished_is_no_lost_claim(claimed, caplog):
    # a 24-hour recording's results were written a second before a renewal came: it had been logged as
    # "claim lost to another worker"
    with caplog.at_level("WARNING", logger="diagnostics.services"):
        with services.RecordingLease(claimed.pk, "worker-1", renew_every=0.1) as lease:
            ECGRecording.objects.filter(pk=claimed.pk).update(status="done")
            assert lease.lost.wait(2)  # nothing left to renew: the lease stops
            assert lease.finished_here()
    assert "claim lost" not in caplog.text
    ECGRecording.objects.filter(pk=claimed.pk).update(status="processing", claim_token="worker-2")
    with caplog.at_level("WARNING", logger="diagnostics.services"):
        with services.RecordingLease(claimed.pk, "worker-1", renew_every=0.1) as lease:
            assert lease.lost.wait(2) and not lease.finished_here()
            time.sleep(0.2)
    assert "claim lost to another worker" in caplog.text


def _terminate_other_backends() -> int:
    """End every other session of this database (the lease thread's among them), as a restart or a pooler does."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_a_renewal_after_the_database_dropped_the_connection_reconnects(claimed):
    with services.RecordingLease(claimed.pk, "worker-1", renew_every=0.2) as lease:
        time.sleep(0.5)  # the thread has its own connection now
        assert _terminate_other_backends() >= 1
        time.sleep(0.3)  # a renewal fails on the dropped connection...
        ECGRecording.objects.filter(pk=claimed.pk).update(claimed_at=timezone.now() - timedelta(seconds=30))
        time.sleep(1.0)  # ... and the next ones reconnect and move the claim forward again
    claimed.refresh_from_db()
    assert not lease.lost.is_set()
    assert (timezone.now() - claimed.claimed_at).total_seconds() < 2


def test_a_lease_left_unrenewed_past_its_length_is_given_up(claimed, settings, monkeypatch):
    settings.ECG_PROCESSING_LEASE_SECONDS = 1
    monkeypatch.setattr(services.RecordingLease, "renew", lambda self: 1 / 0)  # the database unreachable
    with services.RecordingLease(claimed.pk, "worker-1", renew_every=0.2) as lease:
        assert lease.lost.wait(5), "kept working on a claim the sweep has given to another worker"


def test_a_claim_held_for_a_retry_is_not_taken_over_by_the_sweep_meanwhile(claimed, settings):
    # the claimed fixture's lease ran out 30 s ago; a worker waiting to retry (a full disk) holds it on
    lease = timedelta(seconds=settings.ECG_PROCESSING_LEASE_SECONDS)
    assert services.recording_claim_hold(recording_id=claimed.pk, claim_token="worker-1", seconds=120)
    assert services.recordings_requeue_stale(older_than=lease) == 0
    claimed.refresh_from_db()
    assert claimed.status == "processing" and claimed.claim_token == "worker-1"
    assert services._claim(claimed.pk, "worker-1.1", takes_over=["worker-1"])  # the retry itself claims it again
    ECGRecording.objects.filter(pk=claimed.pk).update(claimed_at=timezone.now() - lease - timedelta(seconds=1))
    assert not services.recording_claim_hold(recording_id=claimed.pk, claim_token="another", seconds=120)


def test_work_that_lost_its_claim_writes_no_results(claimed, active_models):
    lease = services.RecordingLease(claimed.pk, "worker-1", renew_every=60)
    lease.lost.set()  # as the renewal thread does when another worker took the recording over
    result = services._classify_claimed(claimed.pk, "worker-1", services.active_model_versions(), lease)
    assert result == "lost-claim"
    claimed.refresh_from_db()
    assert claimed.status == "processing" and not claimed.beats.exists()


def test_the_sweep_takes_over_a_claim_not_renewed_within_the_lease(claimed, settings, monkeypatch):
    sent = []
    monkeypatch.setattr(services, "enqueue_classification", lambda rid: sent.append(rid) or True)
    ECGRecording.objects.filter(pk=claimed.pk).update(
        claimed_at=timezone.now() - timedelta(seconds=settings.ECG_PROCESSING_LEASE_SECONDS - 5)
    )
    assert housekeeping.sweep()["requeued"] == 0  # still within its lease
    caches["api"].delete(housekeeping.SWEEP_LOCK_KEY)
    ECGRecording.objects.filter(pk=claimed.pk).update(
        claimed_at=timezone.now() - timedelta(seconds=settings.ECG_PROCESSING_LEASE_SECONDS + 1)
    )
    caches["api"].delete(f"requeued:{claimed.pk}")
    assert housekeeping.sweep()["requeued"] == 1
    assert sent == [claimed.pk]
    caches["api"].delete(housekeeping.SWEEP_LOCK_KEY)
    assert housekeeping.sweep()["requeued"] == 0  # sent once per lease, not at every sweep
    caches["api"].delete(f"requeued:{claimed.pk}")


def test_one_worker_sweeps_per_interval(claimed, monkeypatch):
    monkeypatch.setattr(services, "enqueue_classification", lambda rid: True)
    assert housekeeping.sweep() is not None
    assert housekeeping.sweep() is None  # another worker's sweep in the same interval finds the lock taken


def test_a_queued_backlog_is_not_sent_again_at_every_sweep(staff_a, patient_a, settings, monkeypatch):
    sent = []
    monkeypatch.setattr(services, "enqueue_classification", lambda rid: sent.append(rid) or True)
    recording = beat_recording(staff_a, patient_a, beats=3, classify=False)
    old = timezone.now() - timedelta(seconds=settings.ECG_PROCESSING_LEASE_SECONDS + 1)
    ECGRecording.objects.filter(pk=recording.pk).update(created_at=old)
    caches["api"].delete(f"requeued:{recording.pk}")
    sent.clear()  # the upload's own message
    lease = timedelta(seconds=settings.ECG_PROCESSING_LEASE_SECONDS)
    assert services.recordings_requeue_stale(older_than=lease) == 1
    assert services.recordings_requeue_stale(older_than=lease) == 0
    assert sent == [recording.pk]
    caches["api"].delete(f"requeued:{recording.pk}")
