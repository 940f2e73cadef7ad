"""Webhook URLs cannot reach the server's own network, and deliveries cannot be redirected there (issue 16, row 4)."""

import hashlib
import hmac
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.exceptions import ValidationError

from api.models import ApiToken
from api.services import api_token_create
from api.webhooks import webhook_url_check

from .conftest import classify_by_hand, submit_beats

pytestmark = pytest.mark.django_db

REFUSED = {
    # IPv4
    "loopback": "http://127.0.0.1:6379/",
    "loopback-other": "http://127.8.9.10/",
    "private-10": "https://10.0.0.5/hook",
    "private-172": "https://172.16.4.4/hook",
    "private-192": "https://192.168.1.1/hook",
    "link-local-metadata": "http://169.254.169.254/latest/meta-data/",
    "shared-cgnat": "https://100.64.0.1/hook",
    "multicast": "https://224.0.0.251/hook",
    "reserved": "https://240.0.0.1/hook",
    "broadcast": "https://255.255.255.255/hook",
    "unspecified": "http://0.0.0.0:8000/",
    "documentation": "https://192.0.2.10/hook",
    "decimal-loopback": "http://2130706433/",
    # IPv6
    "v6-loopback": "http://[::1]:8000/",
    "v6-unspecified": "http://[::]/",
    "v6-link-local": "https://[fe80::1]/hook",
    "v6-unique-local": "https://[fd00::1]/hook",
    "v6-multicast": "https://[ff02::1]/hook",
    "v6-documentation": "https://[2001:db8::1]/hook",
    "v6-mapped-loopback": "http://[::ffff:127.0.0.1]/",
    "v6-mapped-metadata": "http://[::ffff:169.254.169.254]/",
    "v6-nat64-private": "https://[64:ff9b::10.0.0.1]/hook",
    # names resolving there
    "dns-localhost": "http://localhost:6379/",
    "dns-localhost-dot": "http://localhost.:8000/",
    "dns-unresolvable": "https://no-such-host.invalid/hook",
    # schemes and shapes
    "ftp": "ftp://example.org/file",
    "file": "file:///etc/passwd",
    "gopher": "gopher://127.0.0.1:6379/_INFO",
    "credentials": "https://user:pass@93.184.216.34/hook",
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_the_webhook_url_check_refuses(name):
    with pytest.raises(ValidationError):
        webhook_url_check(REFUSED[name])


@pytest.mark.parametrize("url", ["https://93.184.216.34/hook", "https://[2606:4700:4700::1111]/hook"])
def test_the_webhook_url_check_accepts_public_addresses(url):
    webhook_url_check(url)


def test_a_name_resolving_to_a_public_and_a_private_address_is_refused(monkeypatch, caplog):
    from api import webhooks

    monkeypatch.setattr(webhooks, "_resolve", lambda host, port: ["93.184.216.34", "10.0.0.7"])
    with pytest.raises(ValidationError, match="resolves to an address that is not public") as refused:
        webhook_url_check("https://hooks.example.org/x")
    # the address is for the installation's log, not the answer: a clinic's administrator who sets webhooks would
    # learn what internal names resolve to (a security review asked 'localhost' and was told 127.0.0.1)
    assert "10.0.0.7" not in str(refused.value)
    assert "10.0.0.7" in caplog.text and "hooks.example.org" in caplog.text


def test_plain_http_is_refused_in_production(settings):
    settings.PRODUCTION = True
    with pytest.raises(ValidationError, match="https"):
        webhook_url_check("http://93.184.216.34/hook")


def test_the_allow_list_admits_a_named_internal_host(settings):
    settings.API_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1", "10.1.0.0/16"]
    webhook_url_check("http://127.0.0.1:9000/hook")
    webhook_url_check("https://10.1.2.3/hook")
    with pytest.raises(ValidationError):
        webhook_url_check("https://10.2.0.1/hook")


def test_the_service_and_the_admin_refuse_an_internal_url(client, admin_a, staff_a):
    with pytest.raises(ValidationError):
        api_token_create(user=staff_a, webhook_url="http://169.254.169.254/latest/meta-data/")
    client.force_login(admin_a)
    response = client.post(
        "/admin/api/apitoken/add/",
        {
            "user": staff_a.pk,
            "name": "HIS",
            "expires_at_0": "",
            "expires_at_1": "",
            "webhook_url": "http://[::ffff:169.254.169.254]/",
        },
    )
    assert response.status_code == 200 and "resolves to an address that is not public" in response.content.decode()
    assert ApiToken.objects.count() == 0


def _server(handler):
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def redirecting_receiver():
    stolen = []

    class Target(BaseHTTPRequestHandler):
        def do_POST(self):
            stolen.append(dict(self.headers))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    target = _server(Target)

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.1:{target.server_port}/steal")
            self.end_headers()

        def log_message(self, *args):
            pass

    redirect = _server(Redirect)
    yield f"http://127.0.0.1:{redirect.server_port}/hook", stolen
    redirect.shutdown()
    target.shutdown()


def test_a_delivery_does_not_follow_a_redirect(redirecting_receiver, staff_a, patient_a, active_models, settings):
    from api import webhooks

    settings.API_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    url, stolen = redirecting_receiver
    token, _secret = api_token_create(user=staff_a, webhook_url=url)
    diagnosis = classify_by_hand(submit_beats(staff_a, patient_a), active_models)
    with pytest.raises(webhooks.WebhookError, match="307"):
        webhooks.post(token, diagnosis)
    assert stolen == []


def test_a_delivery_connects_to_the_address_it_checked(staff_a, patient_a, active_models, monkeypatch):
    """DNS rebinding: the name resolved to a public address when saved and to loopback when delivered."""
    from api import webhooks

    monkeypatch.setattr(webhooks, "_resolve", lambda host, port: ["93.184.216.34"])
    token, _secret = api_token_create(user=staff_a, webhook_url="https://hooks.example.org/x")
    diagnosis = classify_by_hand(submit_beats(staff_a, patient_a), active_models)
    monkeypatch.setattr(webhooks, "_resolve", lambda host, port: ["127.0.0.1"])
    connected = []
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: connected.append(address))
    with pytest.raises(ValidationError, match="not public"):
        webhooks.post(token, diagnosis)
    assert connected == []


def test_the_signing_secret_is_shown_once_and_not_derived_from_the_stored_token(client, admin_a, staff_a, settings):
    from api import webhooks

    client.force_login(admin_a)
    response = client.post(
        "/admin/api/apitoken/add/",
        {
            "user": staff_a.pk,
            "name": "HIS",
            "expires_at_0": "",
            "expires_at_1": "",
            "webhook_url": "https://93.184.216.34/hook",
        },
        follow=True,
    )
    text = response.content.decode()
    token = ApiToken.objects.get()
    shown = webhooks.signing_secret(token)
    assert f"webhook signing secret is {shown}" in text
    body = b'{"event": "diagnosis.created"}'
    signature = webhooks.signature(token, body)
    assert signature == "sha256=" + hmac.new(shown.encode(), body, hashlib.sha256).hexdigest()
    for stored in (token.key_hash, token.webhook_salt, token.prefix):
        assert signature != "sha256=" + hmac.new(stored.encode(), body, hashlib.sha256).hexdigest()
    page = client.get(f"/admin/api/apitoken/{token.pk}/change/").content.decode()
    assert shown not in page
    settings.SECRET_KEY = "another-server-key-of-at-least-32-characters"
    assert webhooks.signing_secret(token) != shown  # the key lives outside the database
