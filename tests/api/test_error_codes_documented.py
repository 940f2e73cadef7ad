"""Every 409 code a write of the API can answer is in the README's list of stable codes: a hospital builds its error
handling from that list, and a code it does not name (a full diary, an overlapping sleep period) reads as an unknown
failure."""

import ast
import re

from ..data import REPO_ROOT

PACKAGES = ("accounts", "api", "diagnostics", "ecgsite", "mlmodels", "patients")


def conflict_codes() -> set[str]:
    """The ``code`` of each ``Conflict(…, code="…")`` raised in the application's code."""
    codes = set()
    for package in PACKAGES:
        for path in (REPO_ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Call)
                    and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Conflict"
                ):
                    for keyword in node.keywords:
                        if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                            codes.add(keyword.value.value)
    return codes


def test_each_conflict_code_is_in_the_readmes_list_of_errors():
    readme = (REPO_ROOT / "README.md").read_text()
    errors = readme[readme.index("- **Errors** are JSON") :].split("\n- **", 1)[0]
    conflicts = re.search(r"\(406\);(.*?)\(409\)", errors, flags=re.S)
    assert conflicts is not None
    listed = set(re.findall(r"`([a-z_]+)`", conflicts.group(1)))
    codes = conflict_codes()
    assert {"diary_full", "not_ready", "recording_moved"} <= codes  # the scan finds them
    assert codes - listed == set()
