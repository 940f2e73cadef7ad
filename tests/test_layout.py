"""Where rules live: plain checks over the source tree that keep the layout from drifting back."""

import re

import pytest

from .data import REPO_ROOT

SKIP_DIRS = {".venv", "migrations", "node_modules", "var", "training-runs", "__pycache__", ".git"}


def sources(*, under: str = "", outside: str | None = None) -> list:
    found = []
    for path in (REPO_ROOT / under).rglob("*.py"):
        parts = path.relative_to(REPO_ROOT).parts
        if SKIP_DIRS.intersection(parts) or (outside and parts[0] == outside):
            continue
        found.append(path)
    return found


@pytest.mark.parametrize(
    "name", ["BEAT_LENGTH", "BEAT_FS", "AAMI_CLASSES", "AAMI_NAMES", "MI_LABELS", "SYMBOL_TO_AAMI", "HEARTBEAT_LABELS"]
)
def test_beat_format_and_class_labels_are_defined_only_in_ecg_constants(name):
    definition = re.compile(rf"^\s*{name}\s*(:[^=]*)?=", re.M)
    defined_in = [str(p.relative_to(REPO_ROOT)) for p in sources() if definition.search(p.read_text())]
    assert defined_in in ([], ["ecg/constants.py"])


def test_the_mlmodels_app_does_not_depend_on_diagnostics():
    offenders = [
        str(p.relative_to(REPO_ROOT))
        for p in sources(under="mlmodels")
        if re.search(r"^\s*(from|import) diagnostics\b", p.read_text(), re.M)
    ]
    assert offenders == []


def test_no_module_reaches_into_private_ingestion_helpers():
    offenders = [str(p.relative_to(REPO_ROOT)) for p in sources() if re.search(r"ingestion\._", p.read_text())]
    assert offenders == []


def test_tests_import_no_bench_script():
    allowed = r"bench\.(stack|experiments)\b"
    offenders = [
        str(p.relative_to(REPO_ROOT))
        for p in sources(under="tests")
        if re.search(r"^\s*(from|import) bench\.(?!stack\b|experiments\b)", p.read_text(), re.M)
    ]
    assert offenders == [], f"a test may share only {allowed}"


def test_benches_import_the_package_without_path_tricks_or_test_helpers():
    offenders = [
        str(p.relative_to(REPO_ROOT))
        for p in sources(under="bench")
        if re.search(r"sys\.path\.|^\s*(from|import) tests\b", p.read_text(), re.M)
    ]
    assert offenders == []
