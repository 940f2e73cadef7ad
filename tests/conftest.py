"""Shared fixtures: the fixed cast of users, tiny models, and a real Celery worker."""

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.core.files import File

from accounts.models import User
from ecg.constants import AAMI_CLASSES, MI_LABELS
from ecgsite.worker import SOLO_WORKER_ARGS
from mlmodels.models import ModelVersion
from mlmodels.services import sha256_of

from .data import REPO_ROOT
from .factories import ClinicFactory, PatientFactory, UserFactory

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """A test database of this run's own, so concurrent runs on one server do not collide."""
    from django.conf import settings

    test = settings.DATABASES["default"].setdefault("TEST", {})
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        test["NAME"] = f"test_ecg_{os.getpid()}"


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path_factory):
    settings.MEDIA_ROOT = str(_shared_media(tmp_path_factory))
    settings.ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]


@pytest.fixture(autouse=True)
def _broker_not_away(monkeypatch):
    # a publish one test saw fail does not hold back the next test's (ecgsite.broker)
    from ecgsite import broker

    monkeypatch.setattr(broker, "_away_until", 0.0)


@pytest.fixture(autouse=True)
def _fresh_token_failures():
    # Failed token attempts are counted per address in the shared API cache (Redis), across tests.
    from api.authentication import token_failures_reset

    token_failures_reset(ip="127.0.0.1")


@pytest.fixture
def own_sweep_lock(monkeypatch):
    """A sweep lock of this test's own, free at its start and end. The session's Celery worker sweeps
    every interval under the shared lock; a test that sweeps in process and expects to hold the lock
    would otherwise lose it to the worker's sweeper now and then."""
    from django.core.cache import caches

    from ecgsite import housekeeping

    key = f"sweep-lock-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(housekeeping, "SWEEP_LOCK_KEY", key)
    caches["api"].delete(key)
    yield key
    caches["api"].delete(key)


def _shared_media(tmp_path_factory) -> Path:
    # One media directory per session, so a worker process sees the files tests store.
    path = tmp_path_factory.getbasetemp() / "media"
    path.mkdir(exist_ok=True)
    return path


# --- the fixed cast ----------------------------------------------------------------


@pytest.fixture
def clinic_a(db):
    return ClinicFactory(name="Clinic A")


@pytest.fixture
def clinic_b(db):
    return ClinicFactory(name="Clinic B")


@pytest.fixture
def staff_a(clinic_a):
    return UserFactory(username="staff_a", clinic=clinic_a, role=User.Role.STAFF)


@pytest.fixture
def doctor_a(clinic_a):
    return UserFactory(username="doctor_a", clinic=clinic_a, role=User.Role.DOCTOR)


@pytest.fixture
def admin_a(clinic_a):
    return UserFactory(username="admin", clinic=clinic_a, role=User.Role.ADMIN)


@pytest.fixture
def platform_admin(clinic_a):
    """The installation's administrator (a superuser, here with a clinic so the API serves them): model
    versions serve every clinic, so only they register and activate them."""
    return UserFactory(username="root", clinic=clinic_a, role=User.Role.ADMIN, is_superuser=True)


@pytest.fixture
def staff_b(clinic_b):
    return UserFactory(username="staff_b", clinic=clinic_b, role=User.Role.STAFF)


@pytest.fixture
def patient_a(clinic_a):
    return PatientFactory(clinic=clinic_a, mrn="A-0001", family_name="Meyer", given_name="Anna")


@pytest.fixture
def accented_names(clinic_a, clinic_b):
    """Patients whose names differ only in accents (and one in another clinic), for the search tests."""
    PatientFactory(clinic=clinic_a, mrn="A-MU", family_name="Müller", given_name="Anna")
    PatientFactory(clinic=clinic_a, mrn="A-MP", family_name="Muller", given_name="Peter")
    PatientFactory(clinic=clinic_a, mrn="A-JO", family_name="García", given_name="José")
    PatientFactory(clinic=clinic_a, mrn="A-JP", family_name="Garcia", given_name="Jose")
    PatientFactory(clinic=clinic_a, mrn="A-FR", family_name="Dubois", given_name="François")
    PatientFactory(clinic=clinic_b, mrn="B-MU", family_name="Müller", given_name="José")


@pytest.fixture
def patient_b(clinic_b):
    return PatientFactory(clinic=clinic_b, mrn="B-0001", family_name="Rossi", given_name="Marco")


def client_for(client, user):
    client.force_login(user)
    return client


# --- models --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """Tiny deterministic Keras models, built once per session in a subprocess."""
    path = tmp_path_factory.mktemp("tiny-models")
    subprocess.run([sys.executable, "-m", "tests.make_models", str(path)], check=True, cwd=REPO_ROOT)
    return path


def model_version_from(path: Path, *, task: str, version: str, active: bool = True, **fields) -> ModelVersion:
    """A ModelVersion row for an existing .keras file (no conversion subprocess)."""
    mv = ModelVersion(
        task=task,
        version=version,
        sha256=sha256_of(path),
        class_labels=list(MI_LABELS if task == ModelVersion.Task.MI else AAMI_CLASSES),
        **fields,
    )
    with open(path, "rb") as fh:
        mv.artifact.save(f"{task}-{version}.keras", File(fh), save=False)
    mv.save()
    if active:
        ModelVersion.objects.filter(task=task, is_active=True).update(is_active=False)
        ModelVersion.objects.filter(pk=mv.pk).update(is_active=True)
        mv.refresh_from_db()
    return mv


@pytest.fixture
def active_models(db, tiny_model_dir):
    """Active heartbeat and MI versions; the MI model flags every recording."""
    return {
        "heartbeat": model_version_from(tiny_model_dir / "heartbeat.keras", task="heartbeat", version="tiny-1"),
        "mi": model_version_from(tiny_model_dir / "mi-high.keras", task="mi", version="tiny-high", threshold=0.5),
    }


# --- a real Celery worker -------------------------------------------------------------


class Worker:
    def __init__(self, env: dict, queue: str, log: Path):
        self.env, self.queue, self.log = env, queue, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                *SOLO_WORKER_ARGS,
                "-Q",
                self.queue,
                "-n",
                f"test-{uuid.uuid4().hex[:6]}@%h",
            ],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=open(self.log, "ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            if b"ready." in self.log.read_bytes():
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.3)
        raise RuntimeError("worker did not become ready in 60 s")

    def stop(self, sig=None) -> None:
        if self.proc and self.proc.poll() is None:
            if sig is None:
                self.proc.terminate()
            else:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def celery_worker_env(django_db_setup, django_db_blocker, tmp_path_factory):
    from django.conf import settings
    from django.db import connection

    if not settings.CELERY_BROKER_URL:
        pytest.fail("CELERY_BROKER_URL must be set for the worker tests (the README's test command sets it)")
    if connection.vendor != "postgresql":
        pytest.fail("the worker tests need PostgreSQL (DATABASE_URL=postgres://…)")
    db = connection.settings_dict
    queue = f"test-{uuid.uuid4().hex[:8]}"
    from ecgsite.celery import app

    app.conf.task_default_queue = queue
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_QUEUE": queue,
        "MEDIA_ROOT": str(_shared_media(tmp_path_factory)),
        "ECG_PROCESSING_LEASE_SECONDS": "15",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    return env, queue


@pytest.fixture(scope="session")
def celery_worker(celery_worker_env, tmp_path_factory):
    env, queue = celery_worker_env
    worker = Worker(env, queue, tmp_path_factory.getbasetemp() / "worker.log")
    worker.start()
    yield worker
    worker.stop()


def wait_for_status(recording, statuses=("done", "failed"), timeout=120.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        recording.refresh_from_db()
        if recording.status in statuses:
            return recording
        time.sleep(0.25)
    raise AssertionError(f"recording {recording.pk} still {recording.status} after {timeout} s")


@pytest.fixture
def seed_csv() -> Path:
    from .data import seed_dir

    return seed_dir() / "ECG_Analyzer_test.csv"


@pytest.fixture
def copy_to(tmp_path):
    def _copy(src: Path, name: str | None = None) -> Path:
        dst = tmp_path / (name or src.name)
        shutil.copy(src, dst)
        return dst

    return _copy


@pytest.fixture
def file_size_limit():
    """Files this process writes stop growing at a limit (EFBIG), as a full disk stops them mid-write."""
    import resource
    import signal

    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    previous = resource.getrlimit(resource.RLIMIT_FSIZE)

    def limit(size: int | None) -> None:  # None: no limit again
        resource.setrlimit(resource.RLIMIT_FSIZE, previous if size is None else (size, previous[1]))

    yield limit
    resource.setrlimit(resource.RLIMIT_FSIZE, previous)
    signal.signal(signal.SIGXFSZ, previous_handler)


@pytest.fixture
def post_signal(client, staff_a, patient_a):
    """POST the upload page's form for ``patient_a`` as ``staff_a``, kind signal: ``post_signal(files, **fields)``."""
    from django.urls import reverse

    client_for(client, staff_a)

    def _post(files, **fields):
        return client.post(
            reverse("recording-upload", args=[patient_a.pk]), {"kind": "signal", "files": files, **fields}
        )

    return _post
