"""The README's curl examples, run as written with the real curl against a live server and a real worker; and its
table of environment variables against what the code reads."""

import ast
import json
import os
import re
import shutil
import subprocess

import pytest

from ..data import REPO_ROOT, seed_dir

# The apps and the library: every variable one of them reads from the environment is one the README documents.
CODE_DIRS = ("accounts", "api", "diagnostics", "ecg", "ecgsite", "mlmodels", "patients")
ENV_READERS = {"env_int", "env_bool", "env_list", "env_zone", "_nat64_prefixes"}


def readme_blocks() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("\n## REST API\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def test_the_readme_has_the_examples():
    blocks = readme_blocks()
    script = "\n".join(blocks)
    steps = ("create_api_token", "$API/patients", "ECG_Analyzer_test.csv", "If-None-Match", "updated_after", "/beats")
    for step in (*steps, "/fhir"):
        assert step in script, step


@pytest.mark.worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_readme_curl_examples_work_as_written(
    live_server, celery_worker, celery_worker_env, staff_a, active_models
):
    if not shutil.which("curl") or not shutil.which("jq"):
        message = "curl and jq are needed (.ci/run installs them)"
        pytest.fail(message) if os.environ.get("CI", "").lower() == "true" else pytest.skip(message)
    assert (seed_dir() / "ECG_Analyzer_test.csv").exists()
    env, _queue = celery_worker_env
    script = "\n".join(readme_blocks()).replace("http://127.0.0.1:8000", live_server.url)
    script = script.replace("../shared/seed/", f"{seed_dir()}/")  # the README's path, wherever the seed lives
    script = "set -euo pipefail\n" + script + '\necho "RESULT $PATIENT $RECORDING $STATUS"\n'
    proc = subprocess.run(["bash", "-c", script], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]

    from diagnostics.models import ECGRecording

    result = proc.stdout.strip().splitlines()[-1].split()
    assert result[0] == "RESULT" and result[3] == "done", proc.stdout[-2000:]
    recording = ECGRecording.objects.get(pk=int(result[2]))
    assert recording.patient.mrn == "API-0001" and recording.diagnosis.beat_count == 100
    # the start its uploader gave, as a beat file states none
    assert recording.recorded_at.isoformat() == "2026-03-02T08:15:00+00:00"
    outputs = proc.stdout
    assert '"beat_count": 100' in outputs
    assert '"aami_class"' in outputs
    resource_types = json.loads(outputs[outputs.rindex("[") : outputs.rindex("]") + 1])
    assert resource_types[:2] == ["Patient", "DiagnosticReport"] and "Observation" in resource_types


def documented_settings() -> dict[str, str]:
    """The README's configuration table: each variable with its default cell."""
    section = (REPO_ROOT / "README.md").read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \| ([^|]*) \|", section, flags=re.M))


def _is_environ(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def environment_reads() -> dict[str, list[ast.expr]]:
    """Each variable the code reads from the environment, with the default expressions it is read with."""
    reads: dict[str, list[ast.expr]] = {}
    for directory in CODE_DIRS:
        for path in (REPO_ROOT / directory).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                name, default = None, None
                if isinstance(node, ast.Subscript) and _is_environ(node.value) and isinstance(node.slice, ast.Constant):
                    name = node.slice.value
                elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                    func = node.func
                    is_get = isinstance(func, ast.Attribute) and func.attr == "get" and _is_environ(func.value)
                    is_reader = isinstance(func, ast.Name) and func.id in ENV_READERS
                    if is_get or is_reader or (isinstance(func, ast.Attribute) and func.attr == "getenv"):
                        name = node.args[0].value
                        default = node.args[1] if len(node.args) > 1 else None
                if isinstance(name, str):
                    reads.setdefault(name, [])
                    if default is not None:
                        reads[name].append(default)
    return reads


def test_every_environment_variable_read_is_documented_and_every_documented_one_is_read():
    documented, read = set(documented_settings()), set(environment_reads())
    assert read - documented == set(), "read by the code but not in the README's configuration table"
    assert documented - read == set(), "in the README's configuration table but read by no code"


def test_the_readme_gives_each_settings_constant_default():
    """Where a variable is read with a constant default (a number, a boolean, a word), the README's default cell
    states that value first (``25 * 1024 * 1024`` as 26214400, ``True`` as `true`)."""
    documented = documented_settings()
    checked = 0
    for name, defaults in environment_reads().items():
        for expression in defaults:
            try:
                value = eval(compile(ast.Expression(expression), name, "eval"), {"__builtins__": {}})  # noqa: S307
            except NameError:
                continue  # a default made of other settings (the production flag, a path): said in words
            cell = documented[name].strip()
            if isinstance(value, bool):
                assert cell.startswith(f"`{str(value).lower()}`"), (name, value, cell)
            elif isinstance(value, int):
                number = re.match(r"`?([\d,]+)", cell)
                assert number and int(number.group(1).replace(",", "")) == value, (name, value, cell)
            elif isinstance(value, str) and value:
                assert cell.startswith(f"`{value}`"), (name, value, cell)
            else:
                continue
            checked += 1
    assert checked >= 30


def test_the_readmes_share_of_noise_marked_is_the_benchs():
    """What the README says of the noise stage ("most noise at 0 dB SNR, over a quarter at 6 dB and none at 12 dB")
    is what the bench's nstdb records give (bench/results/noise_eval.json): the share of each noisy stretch marked."""
    readme = " ".join((REPO_ROOT / "README.md").read_text().split())
    assert "marks most noise at 0 dB SNR, over a quarter at 6 dB and none at 12 dB" in readme
    results = json.loads((REPO_ROOT / "bench" / "results" / "noise_eval.json").read_text())
    shares: dict[str, list[float]] = {}
    for row in results["stress"]:
        if row["db"] == "nstdb":
            snr = row["record"][4:]  # 118e06 -> 06
            shares.setdefault(snr, []).append(row["with_noise_stage"]["marked_share_of_noisy_stretches"])
    assert min(shares["00"]) > 0.5
    assert 0.25 < min(shares["06"]) and max(shares["06"]) < 0.5
    assert max(shares["12"]) == 0
