"""The run command's first step (scripts/run.sh → manage.py ensure_database) creates a missing
PostgreSQL database it may create, and otherwise stops with one line naming it."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg2
import pytest
from django.db import connection

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.django_db


def server() -> dict:
    params = connection.get_connection_params()
    return {"host": params.get("host") or "127.0.0.1", "port": params.get("port") or 5432}


def admin_sql(statement: str) -> None:
    conn = psycopg2.connect(dbname="postgres", user="postgres", **server())
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(statement)
    finally:
        conn.close()


def ensure_database(url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))}
    env["DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "manage.py", "ensure_database"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def missing_name():
    name = f"ecg_run_{uuid.uuid4().hex[:8]}"
    yield name
    admin_sql(f'DROP DATABASE IF EXISTS "{name}"')


def test_a_missing_database_is_created(missing_name):
    s = server()
    url = f"postgres://postgres@{s['host']}:{s['port']}/{missing_name}"
    result = ensure_database(url)
    assert result.returncode == 0, result.stderr
    assert f'Created the PostgreSQL database "{missing_name}"' in result.stdout
    psycopg2.connect(dbname=missing_name, user="postgres", **s).close()  # it exists now
    again = ensure_database(url)
    assert again.returncode == 0 and again.stdout == ""  # nothing to do the second time


def test_without_the_right_to_create_it_stops_with_one_line_naming_it(missing_name):
    role = f"ecg_nocreate_{uuid.uuid4().hex[:6]}"
    admin_sql(f'CREATE ROLE "{role}" LOGIN NOCREATEDB')
    try:
        s = server()
        result = ensure_database(f"postgres://{role}@{s['host']}:{s['port']}/{missing_name}")
    finally:
        admin_sql(f'DROP ROLE "{role}"')
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f'database "{missing_name}" does not exist' in lines[0] and "may not create it" in lines[0]
    assert "Traceback" not in result.stderr
