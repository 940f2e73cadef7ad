"""The README's curl examples, run as written with the real curl against a live server and a real worker."""

import json
import os
import re
import shutil
import subprocess

import pytest

from ..data import REPO_ROOT, seed_dir

pytestmark = [pytest.mark.worker, pytest.mark.slow]


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
    outputs = proc.stdout
    assert '"beat_count": 100' in outputs
    assert '"aami_class"' in outputs
    resource_types = json.loads(outputs[outputs.rindex("[") : outputs.rindex("]") + 1])
    assert resource_types[:2] == ["Patient", "DiagnosticReport"] and "Observation" in resource_types
