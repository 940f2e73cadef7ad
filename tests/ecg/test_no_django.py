"""The ecg package is pure Python: importing all of it must not bring Django in."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import ecg

from ..data import REPO_ROOT


def ecg_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages([str(Path(ecg.__file__).parent)], prefix="ecg."))


def test_the_package_has_its_stages():
    modules = ecg_modules()
    for stage in ("ecg.io", "ecg.processing", "ecg.models", "ecg.training", "ecg.evaluation", "ecg.datasets"):
        assert stage in modules


def test_importing_every_ecg_module_leaves_django_out():
    imports = "; ".join(f"import {name}" for name in ["ecg", *ecg_modules()])
    probe = f"{imports}; import sys; print(sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'rest_framework', 'celery')))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
