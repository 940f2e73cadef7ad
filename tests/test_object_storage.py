"""Uploads and model artifacts on an S3-compatible object store, as when web and workers run on separate hosts.

The suite starts a real S3-compatible server (moto in server mode) on a free port of this machine;
the web side (this process) and a worker process of its own (its own queue, its own empty media
directory and temporary directory) both use it through ECG_STORAGE=s3. Nothing may land on local
media: each side's MEDIA_ROOT stays empty.
"""

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.urls import reverse

from diagnostics.models import ECGRecording
from mlmodels.models import ModelVersion

from .conftest import Worker, client_for, model_version_from, wait_for_status
from .data import REPO_ROOT, mitdb_dir
from .helpers import beat_csv, upload

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

BUCKET = "ecg-test"
KEYS = {"AWS_ACCESS_KEY_ID": "test-key", "AWS_SECRET_ACCESS_KEY": "test-secret", "AWS_S3_REGION_NAME": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def object_store(tmp_path_factory):
    """A moto S3 server on 127.0.0.1 with an empty bucket; yields its endpoint URL."""
    import boto3

    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **KEYS},
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"moto server did not start:\n{log.read_text()[-2000:]}") from None
                time.sleep(0.2)
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=KEYS["AWS_S3_REGION_NAME"],
            aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"],
        )
        client.create_bucket(Bucket=BUCKET)
        yield endpoint, client
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _store_env(endpoint: str) -> dict:
    return {"ECG_STORAGE": "s3", "AWS_S3_ENDPOINT_URL": endpoint, "AWS_STORAGE_BUCKET_NAME": BUCKET, **KEYS}


@pytest.fixture
def on_the_store(object_store, settings, tmp_path, monkeypatch):
    """This process's settings switched to the object store; MEDIA_ROOT an empty folder that must stay so."""
    endpoint, client = object_store
    for name, value in _store_env(endpoint).items():
        monkeypatch.setenv(name, value)
    from ecgsite.settings import _default_storage

    settings.STORAGES = {**settings.STORAGES, "default": _default_storage("s3")}
    media = tmp_path / "web-media"
    media.mkdir()
    settings.MEDIA_ROOT = str(media)
    return client, media


@pytest.fixture
def store_worker(object_store, celery_worker_env, tmp_path):
    """A worker process of its own on the object store, with an empty MEDIA_ROOT and TMPDIR."""
    from ecgsite.celery import app

    endpoint, _client = object_store
    env, _shared_queue = celery_worker_env
    queue = f"test-s3-{uuid.uuid4().hex[:8]}"
    media, tmp = tmp_path / "worker-media", tmp_path / "worker-tmp"
    media.mkdir()
    tmp.mkdir()
    worker_env = {**env, **_store_env(endpoint), "CELERY_QUEUE": queue, "MEDIA_ROOT": str(media), "TMPDIR": str(tmp)}
    worker = Worker(worker_env, queue, tmp_path / "worker.log")
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    worker.start()
    try:
        yield worker, media, tmp
    finally:
        app.conf.task_default_queue = previous
        worker.stop()


def _keys(client, prefix: str = "") -> set[str]:
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return {item["Key"] for item in listed.get("Contents", [])}


def _files_under(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()]


def test_an_upload_is_stored_in_the_object_store_and_classified_by_a_worker_reading_it_there(
    client, staff_a, patient_a, tiny_model_dir, on_the_store, store_worker
):
    s3, web_media = on_the_store
    _worker, worker_media, _tmp = store_worker
    model_version_from(tiny_model_dir / "heartbeat.keras", task="heartbeat", version="s3-1")
    model_version_from(tiny_model_dir / "mi-high.keras", task="mi", version="s3-1", threshold=0.5)
    root = mitdb_dir()
    client_for(client, staff_a)
    response = client.post(
        reverse("recording-upload", args=[patient_a.pk]),
        {
            "kind": "signal",
            "files": [
                upload("100.hea", (root / "100.hea").read_bytes()),
                upload("100.dat", (root / "100.dat").read_bytes()),
            ],
        },
    )
    assert response.status_code == 302, response.content.decode()[:500]
    recording = ECGRecording.objects.get()
    assert recording.file.name in _keys(s3, "recordings/")
    recording = wait_for_status(recording, timeout=240)
    assert recording.status == "done", recording.error_message
    assert recording.beats.count() > 2000  # record 100 holds 2,273 beats
    assert recording.beats_file.name in _keys(s3, "recordings/")  # the worker wrote the model input to the store
    assert _files_under(web_media) == [] and _files_under(worker_media) == []


def test_a_model_version_uploaded_by_an_admin_is_loaded_by_the_worker_from_the_store(
    client, staff_a, platform_admin, patient_a, tiny_model_dir, on_the_store, store_worker
):
    from api.services import api_token_create

    s3, web_media = on_the_store
    _worker, worker_media, worker_tmp = store_worker
    model_version_from(tiny_model_dir / "mi-high.keras", task="mi", version="s3-1", threshold=0.5)
    raw = api_token_create(user=platform_admin)[1]
    response = client.post(
        "/api/v1/model-versions",
        {
            "task": "heartbeat",
            "version": "s3-new",
            "activate": "true",
            "artifact": upload("heartbeat.keras", (tiny_model_dir / "heartbeat.keras").read_bytes()),
        },
        HTTP_AUTHORIZATION=f"Token {raw}",
    )
    assert response.status_code == 201, response.content.decode()[:500]
    new = ModelVersion.objects.get(task="heartbeat", version="s3-new")
    assert new.is_active and new.artifact.name in _keys(s3, "models/")

    client_for(client, staff_a)
    client.post(
        reverse("recording-upload", args=[patient_a.pk]), {"kind": "beats", "files": upload("b.csv", beat_csv(12))}
    )
    recording = wait_for_status(ECGRecording.objects.get(), timeout=180)
    assert recording.status == "done", recording.error_message
    assert recording.diagnosis.heartbeat_model_id == new.pk
    # The worker fetched the artifact from the store into its model cache, keyed by the artifact's digest.
    cached = {p.name for p in _files_under(worker_tmp)}
    assert f"{new.sha256}.keras" in cached
    assert _files_under(web_media) == [] and _files_under(worker_media) == []


def test_the_settings_refuse_an_object_store_without_a_bucket():
    env = {k: v for k, v in os.environ.items() if k != "AWS_STORAGE_BUCKET_NAME"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=REPO_ROOT,
        env={**env, "ECG_STORAGE": "s3", "DJANGO_SETTINGS_MODULE": "ecgsite.settings"},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "AWS_STORAGE_BUCKET_NAME" in result.stderr


def test_the_stored_files_are_backed_up_from_the_store_and_restored_into_an_empty_prefix(
    object_store, staff_a, patient_a, tmp_path
):
    endpoint, s3 = object_store
    s3.put_object(Bucket=BUCKET, Key="live/recordings/a.csv", Body=b"1,2,3\n")
    s3.put_object(Bucket=BUCKET, Key="live/models/heartbeat-x.keras", Body=b"model bytes")
    archive = tmp_path / "media.tar.gz"

    def run(location: str, *command: str) -> subprocess.CompletedProcess:
        env = {**os.environ, **_store_env(endpoint), "AWS_LOCATION": location, "MEDIA_ROOT": str(tmp_path / "none")}
        return subprocess.run(
            [sys.executable, "manage.py", "storage_archive", *command],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
        )

    assert run("live", "export", str(archive)).returncode == 0
    restored = run("restored", "import", str(archive))
    assert restored.returncode == 0, restored.stderr
    assert _keys(s3, "restored/") == {"restored/recordings/a.csv", "restored/models/heartbeat-x.keras"}
    assert s3.get_object(Bucket=BUCKET, Key="restored/models/heartbeat-x.keras")["Body"].read() == b"model bytes"
    again = run("restored", "import", str(archive))
    assert again.returncode != 0 and "not empty" in again.stderr
    assert not (tmp_path / "none").exists()
