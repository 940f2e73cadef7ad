"""Redis refusing connections, or hanging (SIGSTOP: it accepts connections and answers nothing).

The API goes on without its cache (requests unthrottled, refused tokens audited but not counted
toward the address lockout; the token itself is still checked against the database), and an upload
returns while the broker hangs, its recording left queued for the sweep. Each test stops a Redis of
its own: the shared one other test runs use is never touched.
"""

import logging
import threading
import time

import pytest
import requests
from rest_framework.test import APIClient

from accounts.models import AuditEvent
from api import throttling
from api.services import api_token_create
from api.throttling import TokenRateThrottle
from bench.stack import PrivateRedis
from diagnostics.models import ECGRecording

from ..helpers import beat_csv, beat_rows
from .test_faults import FAST_RECOVERY, hang, recording_id, resume, serving_stack, status, wait_done
from .test_faults import beat_rows as stored_beats

URL = "/api/v1/patients"


def with_token(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client


def outage_warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "api.throttling" and r.levelno == logging.WARNING]


@pytest.fixture
def redis_server(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        resume(server)  # a stopped process would not act on SIGTERM
        server.stop()


@pytest.fixture
def api_cache(redis_server, settings, monkeypatch):
    """The API cache on the private Redis, configured as in production (its socket timeouts included);
    this process starts with the cache reachable and counts every request in Redis (no leases)."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    configured = settings.CACHES["api"]
    if not configured["BACKEND"].endswith("RedisCache"):
        pytest.skip("no broker configured: the API cache is this process's memory, which cannot fail")
    settings.CACHES = {**settings.CACHES, "api": {**configured, "LOCATION": redis_server.url}}
    cache = caches["api"]
    assert isinstance(cache, RedisCache)
    monkeypatch.setattr(TokenRateThrottle, "cache", cache)
    monkeypatch.setattr(TokenRateThrottle, "_incr_script", None, raising=False)  # registered on the new client
    monkeypatch.setattr(TokenRateThrottle, "THROTTLE_RATES", {"api": "60/minute"})  # a lease of one request
    monkeypatch.setattr(throttling, "_outage_since", None)
    monkeypatch.setattr(throttling, "_retry_at", 0.0)
    settings.API_TOKEN_CACHE_SECONDS = 0  # every request asks for its address's failures, as a new process does
    return cache


def throttle_count(cache, secret: str) -> int:
    client = cache._cache.get_client(write=True)
    keys = client.keys(cache.make_key(f"throttle_api_token-{secret.split('.')[0]}:*"))
    return sum(int(client.get(key)) for key in keys)


@pytest.mark.django_db
def test_the_api_answers_while_its_redis_hangs_and_counts_again_once_it_answers(
    api_cache, redis_server, staff_a, patient_a, settings, caplog
):
    settings.API_TOKEN_FAILURES = 2
    secret = api_token_create(user=staff_a)[1]
    client = with_token(secret)
    assert client.get(URL).status_code == 200  # the pool's connection is open when Redis stops answering
    assert throttle_count(api_cache, secret) == 1
    hang(redis_server)
    try:
        started = time.monotonic()
        statuses = [client.get(URL).status_code for _ in range(8)]
        took = time.monotonic() - started
        # One socket timeout (a second), then this process leaves Redis alone for a while: without that,
        # two timeouts a request (the failure count and the throttle) would take 16 s.
        assert statuses == [200] * 8
        assert took < 8, f"8 requests took {took:.1f} s"
        guesses = [with_token(f"0123abcd.guess{i}").get(URL).status_code for i in range(3)]
        assert guesses == [401, 401, 401]  # refused, not counted: no 429, no 500
        assert AuditEvent.objects.filter(action="login_failed", channel="token").count() == 3
        response = client.post(
            "/api/v1/recordings",
            {"patient": patient_a.pk, "kind": "beats", "beats": beat_rows(7).tolist()},
            format="json",
        )
        assert response.status_code == 201, response.content
        recording = ECGRecording.objects.get()
        assert (recording.status, recording.input_beat_count) == ("queued", 7)
        assert len(outage_warnings(caplog)) == 1  # once for the outage, not once a request
        assert "cannot be reached" in outage_warnings(caplog)[0].getMessage()
    finally:
        resume(redis_server)
    throttling._retry_at = 0.0  # the next request tries Redis at once instead of after the pause
    assert client.get(URL).status_code == 200
    assert throttle_count(api_cache, secret) == 2  # counted again; nothing was counted during the outage
    assert any("answers again" in r.getMessage() for r in caplog.records if r.name == "api.throttling")
    assert len(outage_warnings(caplog)) == 1


@pytest.mark.django_db
def test_the_api_answers_while_its_redis_refuses_connections(api_cache, redis_server, staff_a, patient_a, settings):
    settings.API_TOKEN_FAILURES = 2
    client = with_token(api_token_create(user=staff_a)[1])
    redis_server.stop()
    started = time.monotonic()
    assert [client.get(URL).status_code for _ in range(5)] == [200] * 5
    assert [with_token(f"0123abcd.guess{i}").get(URL).status_code for i in range(3)] == [401, 401, 401]
    response = client.post(
        "/api/v1/recordings", {"patient": patient_a.pk, "kind": "beats", "beats": beat_rows(5).tolist()}, format="json"
    )
    assert response.status_code == 201, response.content
    assert time.monotonic() - started < 10
    assert ECGRecording.objects.get().input_beat_count == 5
    assert AuditEvent.objects.filter(action="login_failed", channel="token").count() == 3


# --- a hung broker, with the real stack (gunicorn, workers, a private PostgreSQL and Redis) ---------------


@pytest.fixture(scope="module")
def stack(tiny_model_dir):
    yield from serving_stack(tiny_model_dir, FAST_RECOVERY)


@pytest.mark.slow
def test_uploads_while_the_broker_hangs_return_queued_and_are_processed_once_it_answers(stack):
    staff = stack.session("staff_a")
    patient_id = int(stack.sql("SELECT id FROM patients_patient WHERE mrn = 'A-1001'"))
    token = stack.manage("create_api_token", "--user", "staff_a").strip().splitlines()[-1]
    headers = {"Authorization": f"Token {token}"}
    if not stack.workers:
        stack.start_worker(beat=True)
    # The web process publishes once, so its broker connection is open when Redis stops answering.
    assert wait_done(stack, recording_id(stack.upload(staff, patient_id, [("b.csv", beat_csv(5))]))) == "done"
    hang(stack.redis)
    try:
        # As many page uploads at once as the web process has threads: each used to hold its thread as
        # long as Redis hung, and with all of them held the site stopped answering.
        pages: list[tuple[requests.Response, float]] = []

        def upload_page(n: int) -> None:
            started = time.monotonic()
            response = stack.upload(stack.session("staff_a"), patient_id, [("b.csv", beat_csv(n))])
            pages.append((response, time.monotonic() - started))

        threads = [threading.Thread(target=upload_page, args=(20 + i,)) for i in range(stack.web_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=150)
        assert len(pages) == stack.web_threads
        assert max(took for _r, took in pages) < 60, [round(took, 1) for _r, took in pages]
        page_ids = [recording_id(response) for response, _took in pages]
        started = time.monotonic()
        response = requests.post(
            f"{stack.base_url}/api/v1/recordings",
            json={"patient": patient_id, "kind": "beats", "beats": beat_rows(9).tolist()},
            headers=headers,
            timeout=120,
        )
        assert response.status_code == 201, response.text[-500:]
        api_took = time.monotonic() - started
        assert api_took < 60
        api_id = int(response.headers["Location"].rsplit("/", 1)[1])
        started = time.monotonic()
        assert requests.get(f"{stack.base_url}/api/v1/patients", headers=headers, timeout=60).status_code == 200
        assert time.monotonic() - started < 10
        for rid in [*page_ids, api_id]:
            assert status(stack, rid) == "queued"
    finally:
        resume(stack.redis)
    print(
        f"with the broker hung: page uploads {sorted(round(took, 1) for _r, took in pages)} s, API upload {api_took:.1f} s"
    )
    for rid in page_ids:
        assert wait_done(stack, rid, timeout=180) == "done"
    assert wait_done(stack, api_id, timeout=180) == "done"
    assert sorted(stored_beats(stack, rid) for rid in page_ids) == [(20 + i, 20 + i) for i in range(stack.web_threads)]
    assert stored_beats(stack, api_id) == (9, 9)
