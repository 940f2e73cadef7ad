"""A private copy of the production stack for fault and load tests.

PostgreSQL (its own cluster in a temporary directory), Redis, gunicorn and Celery
workers, each a real process on a free localhost port, so a test can stop, kill or
restart any of them without disturbing the shared services other test runs use.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from ecgsite.worker import SOLO_WORKER_ARGS

REPO_ROOT = Path(__file__).resolve().parent.parent
PG_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1] if Path("/usr/lib/postgresql").exists() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, what: str, interval: float = 0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            result = check()
        except Exception:
            result = None
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached within {timeout} s")


def _as_postgres(cmd: list[str], **kwargs):
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)


class PrivatePostgres:
    def __init__(self, root: Path):
        self.dir = root / "pg"
        self.port = free_port()
        self.log = root / "pg.log"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/ecg"

    def init(self) -> None:
        self.dir.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
            shutil.chown(self.dir.parent, "postgres")
        _as_postgres([str(PG_BIN / "initdb"), "-D", str(self.dir), "-A", "trust", "-U", "postgres", "--no-sync"])
        self.start()
        _as_postgres([str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "ecg"])

    def start(self) -> None:
        _as_postgres(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.dir),
                "-l",
                str(self.log),
                "-w",
                "-o",
                f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off",
                "start",
            ]
        )

    def stop(self, mode: str = "fast") -> None:
        _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.dir), "-m", mode, "-w", "stop"])

    def restart(self) -> None:
        self.stop()
        self.start()


class PrivateRedis:
    def __init__(self, root: Path):
        self.port = free_port()
        self.root = root
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--dir",
                str(self.root),
                "--appendfilename",
                "redis.aof",
            ],
            stdout=open(self.root / "redis.log", "ab"),
            stderr=subprocess.STDOUT,
        )
        wait_until(lambda: socket.create_connection(("127.0.0.1", self.port), timeout=0.5), 20, "redis up")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Send ``sig`` to the process group ``proc`` leads (even once the leader is gone), or to ``proc``
    alone if it leads none."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        if proc.poll() is None:
            proc.send_signal(sig)


class AppStack:
    """gunicorn + Celery workers against a private PostgreSQL and Redis."""

    def __init__(self, root: Path, *, env: dict | None = None, web_workers: int = 2, web_threads: int = 4):
        self.root = root
        self.pg = PrivatePostgres(root)
        self.redis = PrivateRedis(root)
        self.web_port = free_port()
        self.web_workers = web_workers
        self.web_threads = web_threads
        self.extra_env = env or {}
        self.web: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen] = []
        self.password = "stack-password-2026"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def env(self) -> dict:
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))},
            "DJANGO_SETTINGS_MODULE": "ecgsite.settings",
            "DATABASE_URL": self.pg.url,
            "CELERY_BROKER_URL": self.redis.url,
            "MEDIA_ROOT": str(self.root / "media"),
            "ECG_VAR_DIR": str(self.root / "var"),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DEMO_PASSWORD": self.password,
            "TF_CPP_MIN_LOG_LEVEL": "2",
            **self.extra_env,
        }

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=self.env, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def setup(self, models: list[tuple[Path, str, str]]) -> None:
        """Start the services, migrate, create demo users and register (task, version) models."""
        self.pg.init()
        self.redis.start()
        self.manage("migrate", "--noinput")
        self.manage("seed_demo")
        for path, task, version in models:
            self.manage("register_model", str(path), "--task", task, "--model-version", version, "--activate")

    def start_web(self) -> None:
        self.web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "ecgsite.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.web_port}",
                "--workers",
                str(self.web_workers),
                "--threads",
                str(self.web_threads),
                "--timeout",
                "120",
            ],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=open(self.root / "web.log", "ab"),
            stderr=subprocess.STDOUT,
        )
        wait_until(lambda: requests.get(self.base_url + "/healthz", timeout=2).ok, 60, "web up")

    def start_worker(self, *, beat: bool = False) -> subprocess.Popen:
        log = self.root / f"worker-{len(self.workers)}.log"
        cmd = [sys.executable, "-m", "celery", *SOLO_WORKER_ARGS, "-n", f"w{len(self.workers)}-{os.getpid()}@%h"]
        if beat:
            cmd += ["--beat", "--schedule", str(self.root / f"beat-{len(self.workers)}")]
        # Its own process group: killing "the worker" kills the beat scheduler it forks too, as a lost
        # host or container would; a SIGKILLed leader alone would leave that child running.
        proc = subprocess.Popen(
            cmd, cwd=REPO_ROOT, env=self.env, stdout=open(log, "ab"), stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_until(lambda: b"ready." in log.read_bytes() or proc.poll() is not None, 90, "worker ready")
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited: {log.read_text()[-2000:]}")
        self.workers.append(proc)
        return proc

    def kill_worker(self, proc: subprocess.Popen, sig=signal.SIGKILL) -> None:
        _signal_group(proc, sig)
        proc.wait(timeout=30)
        self.workers.remove(proc)

    def stop(self) -> None:
        for proc in list(self.workers):
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    pass
            _signal_group(proc, signal.SIGKILL)  # whatever of its group is left (a forked beat scheduler)
        self.workers.clear()
        if self.web and self.web.poll() is None:
            self.web.terminate()
            self.web.wait(timeout=20)
        self.redis.stop()
        try:
            self.pg.stop("immediate")
        except subprocess.CalledProcessError:
            pass

    # --- a browser-like client --------------------------------------------------------

    def session(self, username: str) -> requests.Session:
        s = requests.Session()
        page = s.get(self.base_url + "/accounts/login/", timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        r = s.post(
            self.base_url + "/accounts/login/",
            data={"username": username, "password": self.password, "csrfmiddlewaretoken": token},
            headers={"Referer": self.base_url},
            timeout=30,
        )
        r.raise_for_status()
        return s

    def upload(
        self, s: requests.Session, patient_id: int, files: list[tuple[str, bytes]], **fields
    ) -> requests.Response:
        page = s.get(f"{self.base_url}/patients/{patient_id}/recordings/new/", timeout=30)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        return s.post(
            f"{self.base_url}/patients/{patient_id}/recordings/new/",
            data={"csrfmiddlewaretoken": token, "kind": fields.pop("kind", "beats"), **fields},
            files=[("files", (name, data)) for name, data in files],
            headers={"Referer": self.base_url},
            allow_redirects=False,
            timeout=120,
        )

    def sql(self, query: str) -> str:
        result = subprocess.run(
            [
                str(PG_BIN / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.pg.port),
                "-U",
                "postgres",
                "-d",
                "ecg",
                "-tAc",
                query,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip()


def new_root(prefix: str = "ecg-stack-") -> Path:
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    return root
