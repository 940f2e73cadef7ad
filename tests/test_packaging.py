"""What ships: runtime requirements apart from the test tools, an image that runs as a user."""

import re

from .data import REPO_ROOT


def pins(name: str) -> dict[str, str]:
    lines = (REPO_ROOT / name).read_text().splitlines()
    return {re.split(r"==", line)[0].lower(): line for line in lines if line and not line.startswith(("#", "-r"))}


def test_both_requirement_files_pin_every_package():
    for name in ("requirements.txt", "requirements-dev.txt"):
        assert all("==" in line for line in pins(name).values()), name


def test_test_and_lint_tools_stay_out_of_the_runtime_requirements():
    runtime = pins("requirements.txt")
    assert {"pytest", "pytest-django", "playwright", "schemathesis", "factory_boy", "ruff"}.isdisjoint(runtime)
    assert {"django", "tensorflow_cpu", "celery", "gunicorn"} <= set(runtime)
    assert "-r requirements.txt" in (REPO_ROOT / "requirements-dev.txt").read_text()


def test_the_image_installs_runtime_requirements_only_and_runs_as_a_user():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert "requirements-dev.txt" not in dockerfile and "pip install --no-cache-dir -r requirements.txt" in dockerfile
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert user and user[-1] not in ("root", "0")
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert {".venv", "var", ".git", "training-runs"} <= set(ignored)


def test_the_run_script_creates_demo_data_only_in_development():
    script = (REPO_ROOT / "scripts" / "run.sh").read_text()
    gate = script.index('if [ "${DJANGO_ENV:-development}" = "development" ]; then')
    assert gate < script.index("manage.py seed_demo") < script.index("fi", gate)
