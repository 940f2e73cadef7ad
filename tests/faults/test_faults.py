"""Faults with the real services: a killed worker, a broker outage, a database restart, a crashing task.

Each test drives a private stack (its own PostgreSQL cluster, Redis, gunicorn and Celery
workers: bench/stack.py) over HTTP, so stopping or killing a service disturbs nothing else.
"""

import json
import os
import re
import signal
import time

import pytest
import requests

from bench.stack import AppStack, PrivateRedis, new_root, wait_until
from ecgsite import broker

from ..data import mitdb_dir
from ..helpers import beat_csv, http_receiver
from ..helpers import beat_rows as beat_values

pytestmark = pytest.mark.slow

FAST_RECOVERY = {
    "ECG_PROCESSING_LEASE_SECONDS": "8",
    "CELERY_VISIBILITY_TIMEOUT": "10",
    "ECG_SWEEP_INTERVAL_SECONDS": "3",
    "API_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",  # a receiver in the test process
}


def serving_stack(tiny_model_dir, env: dict[str, str]):
    """A private stack with the tiny models registered and its web server up (a fixture's body)."""
    s = AppStack(new_root(), env=env, web_workers=1)
    try:
        s.setup(
            [
                (tiny_model_dir / "heartbeat.keras", "heartbeat", "tiny-1"),
                (tiny_model_dir / "mi-high.keras", "mi", "tiny-high"),
            ]
        )
        s.start_web()
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def stack(tiny_model_dir):
    yield from serving_stack(tiny_model_dir, FAST_RECOVERY)


@pytest.fixture(scope="module")
def staff(stack):
    return stack.session("staff_a")


@pytest.fixture(scope="module")
def patient_id(stack):
    return int(stack.sql("SELECT id FROM patients_patient WHERE mrn = 'A-1001'"))


def recording_id(response) -> int:
    assert response.status_code == 302, response.text[-500:]
    return int(re.search(r"/recordings/(\d+)/", response.headers["Location"]).group(1))


def status(stack, rid: int) -> str:
    return stack.sql(f"SELECT status FROM diagnostics_ecgrecording WHERE id = {rid}")


def wait_done(stack, rid: int, timeout: float = 120) -> str:
    return wait_until(
        lambda: status(stack, rid) if status(stack, rid) in {"done", "failed"} else None,
        timeout,
        f"recording {rid} finished",
    )


def beat_rows(stack, rid: int) -> tuple[int, int]:
    total = int(stack.sql(f"SELECT count(*) FROM diagnostics_beat WHERE recording_id = {rid}"))
    distinct = int(stack.sql(f"SELECT count(DISTINCT index) FROM diagnostics_beat WHERE recording_id = {rid}"))
    return total, distinct


def hang(server: PrivateRedis) -> None:
    """Redis accepting connections and answering nothing."""
    os.kill(server.proc.pid, signal.SIGSTOP)


def resume(server: PrivateRedis) -> None:
    if server.proc and server.proc.poll() is None:
        os.kill(server.proc.pid, signal.SIGCONT)


def wfdb_files(record: str) -> list[tuple[str, bytes]]:
    return [(f"{record}.{ext}", (mitdb_dir() / f"{record}.{ext}").read_bytes()) for ext in ("hea", "dat")]


def test_a_worker_killed_mid_task_completes_the_recording_exactly_once(stack, staff, patient_id):
    worker = stack.start_worker(beat=True)
    rid = recording_id(stack.upload(staff, patient_id, wfdb_files("208"), kind="signal"))
    wait_until(lambda: status(stack, rid) == "processing", 60, "processing", interval=0.05)
    stack.kill_worker(worker, signal.SIGKILL)
    assert status(stack, rid) == "processing"
    stack.start_worker(beat=True)
    assert wait_done(stack, rid) == "done"
    total, distinct = beat_rows(stack, rid)
    assert total == distinct > 2900  # record 208 has 2,955 beats: all there, none twice
    assert stack.sql(f"SELECT count(*) FROM diagnostics_diagnosis WHERE recording_id = {rid}") == "1"
    assert int(stack.sql(f"SELECT attempts FROM diagnostics_ecgrecording WHERE id = {rid}")) >= 2


def test_an_upload_while_redis_is_down_is_processed_when_it_returns(stack, staff, patient_id):
    if not stack.workers:
        stack.start_worker(beat=True)
    stack.redis.stop()
    started = time.time()
    response = stack.upload(staff, patient_id, [("b.csv", beat_csv(25))])
    assert time.time() - started < 30  # the upload does not hang on the broker
    rid = recording_id(response)
    assert status(stack, rid) == "queued"
    time.sleep(2)
    assert status(stack, rid) == "queued"
    stack.redis.start()
    assert wait_done(stack, rid, timeout=180) == "done"
    assert beat_rows(stack, rid) == (25, 25)


def test_the_app_and_the_worker_recover_from_a_database_restart(stack, staff, patient_id):
    if not stack.workers:
        stack.start_worker(beat=True)
    first = recording_id(stack.upload(staff, patient_id, [("b.csv", beat_csv(5))]))
    assert wait_done(stack, first) == "done"
    # While it is down: 503 with Retry-After, a page saying so, and the API's JSON error (they were 500s)
    form_url = f"{stack.base_url}/patients/{patient_id}/recordings/new/"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', staff.get(form_url, timeout=30).text).group(1)
    stack.pg.stop()
    try:
        page = staff.get(f"{stack.base_url}/recordings/{first}/", timeout=30)
        assert page.status_code == 503 and int(page.headers["Retry-After"]) > 0, page.text[-300:]
        assert "briefly unavailable" in page.text
        api = staff.get(f"{stack.base_url}/api/v1/recordings/{first}", timeout=30)
        assert api.status_code == 503 and api.json()["error"]["code"] == "service_unavailable"
        refused = staff.post(
            form_url,
            data={"csrfmiddlewaretoken": token, "kind": "beats"},
            files=[("files", ("b.csv", beat_csv(6)))],
            headers={"Referer": stack.base_url},
            allow_redirects=False,
            timeout=60,
        )
        assert refused.status_code == 503 and "briefly unavailable" in refused.text
    finally:
        stack.pg.start()
    stack.pg.restart()
    page = wait_until(
        lambda: (r := staff.get(f"{stack.base_url}/recordings/{first}/", timeout=30)).ok and r, 60, "page after restart"
    )
    assert "Recording" in page.text
    second = recording_id(stack.upload(staff, patient_id, [("b.csv", beat_csv(7))]))
    assert wait_done(stack, second) == "done"
    assert beat_rows(stack, second) == (7, 7)


def test_a_task_that_always_crashes_ends_failed_after_bounded_attempts(stack, staff, patient_id):
    if not stack.workers:
        stack.start_worker(beat=True)
    rid = recording_id(stack.upload(staff, patient_id, wfdb_files("203"), kind="signal"))
    killed_attempts: set[int] = set()
    deadline = time.time() + 300
    while status(stack, rid) not in {"done", "failed"} and time.time() < deadline:
        state, attempts = stack.sql(
            f"SELECT status || ',' || attempts FROM diagnostics_ecgrecording WHERE id = {rid}"
        ).split(",")
        if state == "processing" and int(attempts) not in killed_attempts and stack.workers:
            stack.kill_worker(stack.workers[0], signal.SIGKILL)  # the worker dies every time it runs the task
            killed_attempts.add(int(attempts))
            stack.start_worker(beat=True)
        time.sleep(0.05)
    kills = len(killed_attempts)
    assert status(stack, rid) == "failed"
    error = stack.sql(f"SELECT error_message FROM diagnostics_ecgrecording WHERE id = {rid}")
    assert "Gave up after 3 attempts" in error
    assert kills == 3
    assert beat_rows(stack, rid) == (0, 0)
    time.sleep(12)  # past the lease and a few sweeps: it is not picked up again
    assert status(stack, rid) == "failed"
    assert int(stack.sql(f"SELECT attempts FROM diagnostics_ecgrecording WHERE id = {rid}")) == 3


def test_an_activation_while_the_broker_hangs_answers_and_every_queued_upload_is_processed_once(
    stack, staff, patient_id
):
    """Each queued recording an activation sends again had waited out the hung broker in turn (5 s or more a
    message: 150 s for 30), past any proxy's patience, although the activation itself had committed."""
    for worker in list(stack.workers):  # no sweep meanwhile: the recordings stay queued until the end
        stack.kill_worker(worker, signal.SIGTERM)
    headers = {"Authorization": f"Token {stack.manage('create_api_token', '--user', 'staff_a').split()[-1]}"}
    admin = {"Authorization": f"Token {stack.manage('create_api_token', '--user', 'admin').split()[-1]}"}
    api = f"{stack.base_url}/api/v1"
    stack.redis.stop()
    queued = {}
    for n in range(3, 23):  # 20: each publish to a hung broker waits 5 s or more
        response = requests.post(
            f"{api}/recordings",
            json={"patient": patient_id, "kind": "beats", "beats": beat_values(n).tolist()},
            headers=headers,
            timeout=120,
        )
        assert response.status_code == 201, response.text[-500:]
        queued[int(response.headers["Location"].rsplit("/", 1)[1])] = n
    stack.redis.start()
    time.sleep(broker.RETRY_SECONDS + 1)  # past the uploads' failed publish: the web process tries the broker again
    versions = requests.get(f"{api}/model-versions", headers=admin, timeout=30).json()["results"]
    version = next(v for v in versions if v["is_active"])  # activated again: the models the other tests use stay
    hang(stack.redis)
    try:
        started = time.monotonic()
        # within a proxy's usual wait for an answer (nginx: 60 s), or the administrator is told it failed
        response = requests.post(f"{api}/model-versions/{version['id']}/activate", headers=admin, timeout=60)
        assert response.status_code == 200, response.text[-500:]
        print(f"activation answered in {time.monotonic() - started:.1f} s with the broker hung")
        assert all(status(stack, rid) == "queued" for rid in queued)
    finally:
        resume(stack.redis)
    stack.start_worker(beat=True)
    for rid, n in queued.items():
        assert wait_done(stack, rid, timeout=240) == "done"
        assert beat_rows(stack, rid) == (n, n)


def test_a_correction_made_while_the_broker_is_down_and_the_database_restarts_is_recomputed_and_told_once(
    stack, staff, patient_id
):
    """The correction commits with the broker down (its recomputation and notices not sent), the database restarts
    before any worker runs: the sweep sends what was not sent, the rhythm is recomputed, and each notice arrives
    once."""
    if not stack.workers:
        stack.start_worker(beat=True)
    rid = recording_id(stack.upload(staff, patient_id, wfdb_files("100"), kind="signal"))
    assert wait_done(stack, rid) == "done"
    received: list[tuple[str, str]] = []

    def answer(headers, body):
        received.append((headers["x-ecg-delivery"], json.loads(body)["event"]))
        return 204

    with http_receiver(answer) as url:
        secret = stack.manage("create_api_token", "--user", "doctor_a", "--webhook-url", url).split()[-1]
        for worker in list(stack.workers):
            stack.kill_worker(worker, signal.SIGTERM)
        stack.redis.stop()
        try:
            made = requests.post(
                f"{stack.base_url}/api/v1/recordings/{rid}/beat-corrections",
                json={"to_class": "V", "beats": [10, 11]},
                headers={"Authorization": f"Token {secret}"},
                timeout=60,
            )
            assert made.status_code == 201, made.text[-500:]
            stack.pg.restart()
        finally:
            stack.redis.start()
        stack.start_worker(beat=True)
        rhythm = f"SELECT rhythm_outdated_at IS NULL FROM diagnostics_diagnosis WHERE recording_id = {rid}"
        wait_until(lambda: stack.sql(rhythm) == "t", 180, "the rhythm recomputed")
        unsent = f"SELECT count(*) FROM api_webhookdelivery WHERE recording_id = {rid} AND status <> 'sent'"
        wait_until(lambda: len(received) >= 2 and stack.sql(unsent) == "0", 180, "the notices sent")
        time.sleep(5)  # a few sweeps more: nothing is sent again
    assert sorted(event for _delivery, event in received) == ["beats.corrected", "rhythm.recomputed"]
    assert len({delivery for delivery, _event in received}) == 2
    assert stack.sql(f"SELECT rhythm_recompute_error FROM diagnostics_diagnosis WHERE recording_id = {rid}") == ""
