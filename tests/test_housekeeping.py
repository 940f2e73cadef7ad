"""The sweep's clean-up of files a process killed while writing leaves behind: a classification's beats file saved
before the transaction that names it, the readers' temporary folders."""

import os
import tempfile
import time
import uuid

import pytest
from django.core.cache import caches
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from diagnostics import services
from ecgsite import housekeeping

from .helpers import beat_recording

HOURS = 3600


def _aged(path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _folder(parent, name: str, *, age_s: float):
    folder = parent / name
    folder.mkdir()
    (folder / "100.hea").write_text("100 2 360 650000\n")
    _aged(folder, age_s)
    return folder


def test_the_readers_temporary_folders_left_for_an_hour_are_removed_and_nothing_else(tmp_path):
    left = [_folder(tmp_path, f"{prefix}x1", age_s=2 * HOURS) for prefix in housekeeping.TEMPORARY_PREFIXES]
    reading = _folder(tmp_path, "ecg-wfdb-reading", age_s=60)  # a file being read now
    others = _folder(tmp_path, "someone-elses", age_s=2 * HOURS)
    assert housekeeping.temporary_leftovers_remove(folder=tmp_path) == len(left)
    assert not any(folder.exists() for folder in left)
    assert reading.exists() and others.exists()


@pytest.mark.django_db
def test_every_workers_sweep_removes_its_hosts_leftovers_even_in_another_workers_interval(
    tmp_path, monkeypatch, own_sweep_lock
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    left = _folder(tmp_path, "ecg-wfdb-abc123", age_s=2 * HOURS)
    caches["api"].add(own_sweep_lock, 1, timeout=60)  # another worker sweeps this interval
    assert housekeeping.sweep() is None
    assert not left.exists()


@pytest.fixture
def own_orphans_lock(monkeypatch):
    key = f"sweep-orphans-lock-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(housekeeping, "ORPHANS_LOCK_KEY", key)
    caches["api"].delete(key)
    yield key
    caches["api"].delete(key)


# committed, as the session's worker, sweeping too, reads the recordings
@pytest.mark.django_db(transaction=True)
def test_a_beats_file_no_recording_names_is_removed_once_an_hour_old(
    staff_a, patient_a, active_models, own_sweep_lock, own_orphans_lock
):
    recording = beat_recording(staff_a, patient_a, beats=3)
    named = recording.beats_file.name
    assert named.endswith(".beats.npy")
    # a worker killed after saving its file, before the results naming it committed; and one saving its file now
    orphan = default_storage.save(f"recordings/killed.{uuid.uuid4().hex[:8]}.beats.npy", ContentFile(b"\x93NUMPY"))
    fresh = default_storage.save(f"recordings/writing.{uuid.uuid4().hex[:8]}.beats.npy", ContentFile(b"\x93NUMPY"))
    upload = recording.file.name
    for name in (orphan, named, upload):
        _aged(default_storage.path(name), 2 * HOURS)
    swept = housekeeping.sweep()
    assert swept is not None and swept["beats_files_removed"] >= 1
    assert not default_storage.exists(orphan)
    assert default_storage.exists(named) and default_storage.exists(fresh) and default_storage.exists(upload)
    # listed once a half hour, not at every round
    again = default_storage.save(f"recordings/killed.{uuid.uuid4().hex[:8]}.beats.npy", ContentFile(b"\x93NUMPY"))
    _aged(default_storage.path(again), 2 * HOURS)
    caches["api"].delete(own_sweep_lock)
    assert housekeeping.sweep()["beats_files_removed"] == 0 and default_storage.exists(again)
    assert services.beats_files_orphaned_remove() == 1 and not default_storage.exists(again)
    default_storage.delete(fresh)


@pytest.fixture
def web_process_starting(monkeypatch, tmp_path):
    """A web process that has answered nothing yet, its host's temporary folder ``tmp_path``."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(housekeeping, "_web_due", 0.0)


def test_a_web_process_removes_its_hosts_upload_leftovers_at_its_first_request(client, tmp_path, web_process_starting):
    # only workers swept them: an upload's folder left by a killed web process stayed on the web host for good
    left = [_folder(tmp_path, f"{prefix}killed", age_s=2 * HOURS) for prefix in housekeeping.TEMPORARY_PREFIXES]
    parsing = _folder(tmp_path, "ecg-upload-parsing", age_s=60)
    assert client.get("/healthz").status_code == 200
    assert not any(folder.exists() for folder in left)
    assert parsing.exists()


def test_a_web_process_looks_again_only_once_its_interval_is_over(client, tmp_path, web_process_starting, monkeypatch):
    client.get("/healthz")
    later = _folder(tmp_path, "ecg-edf-killed", age_s=2 * HOURS)
    client.get("/healthz")
    assert later.exists()  # not every request lists the folder
    monkeypatch.setattr(housekeeping, "_web_due", time.monotonic() - 1)  # the interval is over
    client.get("/healthz")
    assert not later.exists()
