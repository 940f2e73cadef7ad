import os
import subprocess
import sys

import pytest

from .data import REPO_ROOT


def start(code: str = "import django; django.setup()", **env) -> subprocess.CompletedProcess:
    """Run ``code`` in a child process with the project's settings, the database and broker of this
    environment left out (the embedded set-up: SQLite under ECG_VAR_DIR, tasks in process) and ``env``."""
    full_env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env={**full_env, "DJANGO_SETTINGS_MODULE": "ecgsite.settings"},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    "name, value",
    [
        ("DATABASE_URL", "mysql://db/x"),
        ("DATABASE_URL", "postgres://host:5432"),
        ("CELERY_BROKER_URL", "amqp://guest@localhost//"),
        ("CELERY_BROKER_URL", "redis://localhost:notaport/0"),
        ("DEBUG", "maybe"),
        ("DATABASE_TRANSACTION_POOLER", "perhaps"),
        ("ECG_MAX_BEAT_ROWS", "lots"),
        ("DJANGO_ENV", "staging"),
        ("SITE_URL", "ecg.example.org"),
        ("SITE_URL", "ftp://ecg.example.org"),
        ("SITE_URL", "https://ecg.example.org/?x=1"),
        ("SITE_URL", "https://ecg.example.org:port"),
        ("CSRF_TRUSTED_ORIGINS", "ecg.example.org"),  # taken for SITE_URL, unset: its own name is said
        ("ECG_NAT64_PREFIXES", "64:ff9b::/64"),  # the IPv4 address in the last 32 bits: /96 only
        ("ECG_NAT64_PREFIXES", "198.51.100.0/24"),
        # no zone: these had started, and every page that shows a time was a 500
        ("TIME_ZONE", ""),
        ("TIME_ZONE", "../zoneinfo/UTC"),
        ("TIME_ZONE", "Europe"),
        ("TIME_ZONE", "Europe/Atlantis"),
    ],
)
def test_a_malformed_value_stops_start_up_naming_the_variable(name, value, tmp_path):
    result = start(**{name: value, "ECG_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and name in result.stderr.splitlines()[-1]


def test_production_requires_a_secret_key(tmp_path):
    result = start(DJANGO_ENV="production", ECG_VAR_DIR=str(tmp_path))
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_with_no_environment_it_runs_embedded(tmp_path):
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE'], settings.CELERY_TASK_ALWAYS_EAGER)"
    )
    result = start(code, ECG_VAR_DIR=str(tmp_path))
    assert result.stdout.split() == ["django.db.backends.sqlite3", "True"], result.stderr


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, "http://127.0.0.1:8000"),
        ("https://ecg.example.org/", "https://ecg.example.org"),
        (" https://hospital.example.org:8443/ecg/ ", "https://hospital.example.org:8443/ecg"),
    ],
)
def test_the_sites_address_is_given_without_its_trailing_slash(tmp_path, monkeypatch, value, expected):
    # what webhook notices' links start with: a worker has no request whose host it could take
    code = "import django; django.setup(); from django.conf import settings; print(settings.SITE_URL)"
    monkeypatch.delenv("SITE_URL", raising=False)  # start() passes this environment on
    env = {"ECG_VAR_DIR": str(tmp_path)} | ({} if value is None else {"SITE_URL": value})
    result = start(code, **env)
    assert result.stdout.strip().splitlines()[-1:] == [expected], result.stderr


def test_the_sites_address_is_the_first_trusted_origin_unless_it_is_given(tmp_path, monkeypatch):
    # production sets the TLS proxy's origin for CSRF; webhook links at 127.0.0.1 would reach no one
    code = "import django; django.setup(); from django.conf import settings; print(settings.SITE_URL)"
    monkeypatch.delenv("SITE_URL", raising=False)
    origins = "https://ecg.example.org,https://ecg2.example.org"
    result = start(code, ECG_VAR_DIR=str(tmp_path), CSRF_TRUSTED_ORIGINS=origins)
    assert result.stdout.strip().splitlines()[-1:] == ["https://ecg.example.org"], result.stderr
    given = start(code, ECG_VAR_DIR=str(tmp_path), CSRF_TRUSTED_ORIGINS=origins, SITE_URL="https://h.example.org")
    assert given.stdout.strip().splitlines()[-1:] == ["https://h.example.org"], given.stderr


def test_every_environment_variable_the_settings_read_is_in_the_readmes_table():
    import re

    read = set(
        re.findall(
            r"(?:env_bool|env_int|env_list|os\.environ\.get|os\.environ\[|os\.getenv)\(?\"([A-Z][A-Z0-9_]+)\"",
            (REPO_ROOT / "ecgsite" / "settings.py").read_text(),
        )
    )
    readme = (REPO_ROOT / "README.md").read_text()
    table = readme[readme.index("| variable | default | meaning |") :]
    table = table[: table.index("\n\n")]
    listed = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", table, re.M))
    assert len(read) > 20 and read - listed == set()


@pytest.mark.parametrize("value, expected", [("true", "True"), ("false", "False"), (None, "False")])
def test_a_transaction_pooler_turns_off_server_side_cursors_and_prepared_pages(value, expected, tmp_path):
    env = {"ECG_VAR_DIR": str(tmp_path), "DATABASE_URL": "postgres://db@127.0.0.1:5432/ecg"}
    if value is not None:
        env["DATABASE_TRANSACTION_POOLER"] = value
    full_env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DATABASE_TRANSACTION_POOLER"}}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(bool(settings.DATABASES['default'].get('DISABLE_SERVER_SIDE_CURSORS')))",
        ],
        cwd=REPO_ROOT,
        env={**full_env, **env, "DJANGO_SETTINGS_MODULE": "ecgsite.settings"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


@pytest.mark.django_db
def test_a_vanished_client_or_server_is_noticed_by_keepalives_within_minutes():
    """A worker whose host is lost while it holds a recording's row lock: the server ends its session within a
    minute and a half (30 s idle, then 6 probes 10 s apart), not after the operating system's two hours."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW tcp_keepalives_idle")
        idle = cursor.fetchone()[0]
        cursor.execute("SHOW tcp_keepalives_count")
        count = cursor.fetchone()[0]
    assert (idle, count) == ("30", "6")
    assert connection.get_connection_params()["keepalives_idle"] == 30
