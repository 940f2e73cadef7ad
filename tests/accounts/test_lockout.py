"""Password guessing is slowed per username and address, without locking the real user out (issue 16, rows 2 and 10)."""

import time

import pytest
from django.urls import reverse

from accounts.models import AuditEvent

from ..conftest import PASSWORD

pytestmark = pytest.mark.django_db

ATTACKER = "203.0.113.9"
USER_HOME = "198.51.100.7"


def login(client, username="staff_a", password=PASSWORD, ip=ATTACKER):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.fixture
def no_delay(settings):
    settings.ECG_LOCKOUT_FAILURES = 3
    settings.ECG_LOCKOUT_DELAY_SECONDS = 0
    return settings


@pytest.mark.parametrize("spelling", [" staff_a", "staff_a ", "\uff53\uff54\uff41\uff46\uff46_a"])  # spaces; full-width
def test_a_locked_username_stays_locked_however_it_is_spelt(client, staff_a, no_delay, spelling):
    for _ in range(3):
        assert login(client, password="wrong").status_code == 200
    response = login(client, username=spelling)
    assert response.status_code == 429, "the login form normalises the name, so the lockout must too"
    assert AuditEvent.objects.filter(action="locked_out", username="staff_a").count() == 1


def test_failed_logins_are_audited_under_the_name_authentication_used(client, staff_a, no_delay):
    login(client, username="  staff_a ", password="wrong")
    event = AuditEvent.objects.get(action="login_failed")
    assert event.username == "staff_a" and event.clinic_id == staff_a.clinic_id


def test_a_stranger_cannot_lock_the_real_user_out_from_another_address(client, staff_a, no_delay):
    from django.test import Client

    for _ in range(5):
        login(client, password="wrong")
    assert login(client).status_code == 429  # the attacker's address is locked for this name
    assert login(Client(), ip=USER_HOME).status_code == 302  # the doctor at their own desk is not


def test_each_failure_doubles_the_wait_before_the_next_try_from_that_address(client, staff_a, settings):
    settings.ECG_LOCKOUT_FAILURES = 5
    settings.ECG_LOCKOUT_DELAY_SECONDS = 1
    assert login(client, password="wrong").status_code == 200
    assert login(client, password="wrong").status_code == 200  # one mistyped password costs nothing
    refused = login(client, password="wrong")
    assert refused.status_code == 429 and refused["Retry-After"] == "1"
    assert "Try again in 1 second." in refused.content.decode()
    time.sleep(1.1)
    assert login(client, password="wrong").status_code == 200
    assert login(client, password="wrong")["Retry-After"] == "2"
    assert AuditEvent.objects.filter(action="login_failed").count() == 3  # refused tries are not guesses


def test_a_guess_from_many_addresses_slows_new_addresses_but_not_the_users_own(client, staff_a, no_delay):
    from django.test import Client

    no_delay.ECG_LOCKOUT_DELAY_SECONDS = 1
    assert login(Client(), ip=USER_HOME).status_code == 302  # the user logged in from here before
    for i in range(12):  # 4 × the per-address limit, one failure from each of many addresses
        assert login(Client(), password="wrong", ip=f"192.0.2.{i + 1}").status_code == 200
    assert login(Client(), password="wrong", ip="192.0.2.13").status_code == 429  # 1 s after the 12th
    time.sleep(1.1)
    assert login(Client(), password="wrong", ip="192.0.2.13").status_code == 200  # checked: a guess slowed
    refused = login(Client(), ip="192.0.2.200")
    assert refused.status_code == 429 and refused["Retry-After"] in {"1", "2"}  # 2 s after the 13th failure
    assert login(Client(), ip=USER_HOME).status_code == 302
    time.sleep(2.1)
    # slowed, not barred: once the wait has passed a new address is let in (a standing refusal had kept the user
    # out of every new address for as long as a few guesses a window came in, each told to retry in 1 s)
    assert login(Client(), ip="192.0.2.201").status_code == 302


def test_an_address_failing_for_many_names_is_locked_whole(client, staff_a, doctor_a, no_delay):
    for i in range(12):
        login(client, username=f"nobody{i}", password="wrong")
    assert login(client, username="doctor_a").status_code == 429


@pytest.fixture
def later(monkeypatch):
    """Move the clock on by a number of seconds (audit events are append-only, so their times cannot be aged)."""
    from datetime import timedelta

    from django.utils import timezone

    real_now = timezone.now

    def move(seconds):
        monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(seconds=seconds))

    return move


def test_retry_after_is_the_time_left_until_the_oldest_counted_failure_leaves_the_window(
    client, staff_a, no_delay, later
):
    for _ in range(3):
        login(client, password="wrong")
    later(600)  # the three failures were ten minutes ago: five of the fifteen minutes are left
    refused = login(client)
    assert refused.status_code == 429
    assert 295 <= int(refused["Retry-After"]) <= 300, refused["Retry-After"]
    assert "Try again in 5 minutes." in refused.content.decode()


def test_an_address_locked_whole_waits_only_until_its_oldest_counted_failure_ages_out(
    client, staff_a, doctor_a, no_delay, later
):
    for i in range(12):
        login(client, username=f"nobody{i}", password="wrong")
    later(890)
    refused = login(client, username="doctor_a")
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 10, refused["Retry-After"]


PROXY = "10.0.0.2"


def via_proxy(client, username="staff_a", password=PASSWORD, ip=ATTACKER, sent=""):
    """A login as the TLS proxy forwards it: from the proxy's address, the client's appended to what it sent."""
    forwarded = f"{sent}, {ip}" if sent else ip
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded,
    )


def test_behind_a_trusted_proxy_each_client_counts_by_its_own_address(client, staff_a, doctor_a, no_delay):
    from django.test import Client

    no_delay.ECG_TRUSTED_PROXIES = 1
    for i in range(12):  # a stranger failing for made-up names, every request arriving from the proxy
        via_proxy(client, username=f"nobody{i}", password="wrong")
    assert via_proxy(client, username="doctor_a").status_code == 429  # the stranger's address is locked
    assert via_proxy(Client(), username="doctor_a", ip=USER_HOME).status_code == 302  # the clinic is not
    assert set(AuditEvent.objects.filter(action="login_failed").values_list("ip", flat=True)) == {ATTACKER}


def test_an_address_the_client_writes_itself_is_not_read(client, staff_a, no_delay):
    no_delay.ECG_TRUSTED_PROXIES = 1
    for i in range(3):  # each try claims another address; the proxy appends the real one
        via_proxy(client, password="wrong", sent=f"192.0.2.{i + 1}")
    assert via_proxy(client, sent="192.0.2.99").status_code == 429
    assert set(AuditEvent.objects.filter(action="login_failed").values_list("ip", flat=True)) == {ATTACKER}


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (0, "198.51.100.7", "10.0.0.2"),  # no proxy trusted: the header is the client's word
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "1.2.3.4, 198.51.100.7", "198.51.100.7"),
        (2, "1.2.3.4, 198.51.100.7, 10.0.0.9", "198.51.100.7"),  # a load balancer, then the TLS proxy
        (2, "198.51.100.7", "10.0.0.2"),  # fewer entries than proxies: not through them
        (1, "not-an-address", "10.0.0.2"),
        (1, "", "10.0.0.2"),
        (1, "2001:db8::1", "2001:db8::1"),
        (1, "198.51.100.7:4711", "198.51.100.7"),  # with the port some gateways add
        (1, "[2001:db8::1]:443", "2001:db8::1"),
        (1, "[2001:db8::1]", "2001:db8::1"),
        (1, "::ffff:198.51.100.7", "198.51.100.7"),  # an IPv4 client as a dual-stack proxy writes it
        (0, "", "10.0.0.2"),
    ],
)
def test_the_clients_address_is_the_entry_the_outermost_trusted_proxy_appended(rf, settings, hops, forwarded, expected):
    from accounts.audit import client_ip

    settings.ECG_TRUSTED_PROXIES = hops
    request = rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_an_address_locked_whole_still_lets_in_the_users_who_logged_in_from_it(client, staff_a, doctor_a, no_delay):
    from django.test import Client

    assert login(Client(), username="doctor_a").status_code == 302  # doctor_a works at this address
    for i in range(12):
        login(client, username=f"nobody{i}", password="wrong")
    assert login(Client(), username="staff_a").status_code == 429  # never logged in from here
    assert login(Client(), username="doctor_a").status_code == 302
    # a wrong password of a name known here is answered as any name's: the answers tell no one which are known
    wrong = login(Client(), username="doctor_a", password="wrong")
    assert wrong.status_code == 429 and wrong["Retry-After"] == login(Client(), username="staff_a")["Retry-After"]
    assert AuditEvent.objects.filter(action="login_failed", username="doctor_a").count() == 1  # still a guess


def test_a_flood_of_refused_tries_is_audited_once(client, staff_a, no_delay):
    for _ in range(3):
        login(client, password="wrong")
    for _ in range(10):
        assert login(client).status_code == 429
    assert AuditEvent.objects.filter(action="locked_out", username="staff_a").count() == 1
    for i in range(12):
        login(client, username=f"nobody{i}", password="wrong")
    for i in range(10):
        assert login(client, username=f"someone{i}").status_code == 429
    assert AuditEvent.objects.filter(action="locked_out").count() == 2  # the name's, then the address's


def test_an_ipv4_client_seen_through_an_ipv6_socket_is_one_client(client, staff_a, no_delay):
    """A dual-stack server reports IPv4 peers as ``::ffff:a.b.c.d``: counted as the IPv4 address, not apart."""
    for _ in range(2):
        login(client, password="wrong", ip=f"::ffff:{ATTACKER}")
    login(client, password="wrong")
    assert login(client).status_code == 429
    assert login(client, ip=f"::ffff:{ATTACKER}").status_code == 429
    assert set(AuditEvent.objects.filter(action="login_failed").values_list("ip", flat=True)) == {ATTACKER}


def test_an_ipv6_client_is_its_slash_64_for_the_lockout(client, staff_a, doctor_a, no_delay):
    """A host may take a new address in its /64 for every try (privacy addresses): still one client. Another /64
    is another client, and the user's own addresses in the /64 they logged in from stay known."""
    from django.test import Client

    assert login(Client(), username="doctor_a", ip="2001:db8:7:1::a").status_code == 302
    for i in range(3):  # one name, a new address each time
        login(client, password="wrong", ip=f"2001:db8:5:1::{i + 1:x}")
    assert login(client, ip="2001:db8:5:1:ffff::1").status_code == 429
    assert login(Client(), ip="2001:db8:5:2::1").status_code == 302  # the next /64: someone else
    for i in range(12):  # many names, a new address each time: the /64 is locked whole
        login(client, username=f"nobody{i}", password="wrong", ip=f"2001:db8:7:1:{i + 1:x}::9")
    assert login(Client(), username="staff_a", ip="2001:db8:7:1::77").status_code == 429
    assert login(Client(), username="doctor_a", ip="2001:db8:7:1::78").status_code == 302  # known in this /64
    assert AuditEvent.objects.filter(action="locked_out", object_type="address").count() == 1


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8::1", "2001:db8::/64"),
        (None, None),
        ("unix-socket", "unix-socket"),
        ("::ffff:198.51.100.7", "198.51.100.7"),  # however it is handed in
        ("64:ff9b::c633:6407", "198.51.100.7"),  # through a NAT64 gateway: the IPv4 client, not the gateway's /64
    ],
)
def test_what_counts_as_one_client(ip, expected):
    from accounts.audit import client_network

    assert client_network(ip) == expected


def test_a_nat64_gateway_of_the_operators_own_prefix_is_counted_by_its_clients(settings):
    """Behind an operator's NAT64 prefix (not the well-known one) every IPv4 client had been one /64, locked together."""
    from accounts.audit import client_network

    client = "2001:db8:64::c633:6407"
    assert client_network(client) == "2001:db8:64::/64"  # unknown to us: one IPv6 subscriber
    settings.ECG_NAT64_PREFIXES = ["64:ff9b::/96", "2001:db8:64::/96"]
    assert client_network(client) == "198.51.100.7"
    assert client_network("64:ff9b::c633:6408") == "198.51.100.8"


@pytest.mark.django_db(transaction=True)
def test_guesses_sent_at_once_are_counted_one_after_another(staff_a, no_delay):
    """Tries in parallel had all passed the check before any failure was counted: 12 at once made 8 guesses where
    3 are allowed, and a right password among them got in. Each waits for the ones before it now."""
    import threading

    from django.db import connection
    from django.test import Client

    start = threading.Barrier(12)
    answers: list[int] = []

    def guess(password: str) -> None:
        try:
            start.wait()
            answers.append(login(Client(), password=password).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=guess, args=("wrong",)) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [200] * 3 + [429] * 9
    assert AuditEvent.objects.filter(action="login_failed").count() == 3
    assert AuditEvent.objects.filter(action="locked_out").count() == 1
    assert login(Client()).status_code == 429  # the right password too, until the window passes


@pytest.mark.django_db(transaction=True)
def test_names_sprayed_at_once_from_an_address_that_has_failed_are_counted_one_after_another(staff_a, no_delay):
    """Many names at once from one address all passed the address's check before any failure was counted (23
    failures where 12 lock it). Once the address has failed as often as a name may, its tries wait their turn."""
    import threading

    from django.db import connection
    from django.test import Client

    for i in range(3):  # the address has failed as often as one name may
        login(Client(), username=f"first{i}", password="wrong")
    start = threading.Barrier(12)

    def guess(i: int) -> None:
        try:
            start.wait()
            login(Client(), username=f"sprayed{i}", password="wrong")
        finally:
            connection.close()

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert AuditEvent.objects.filter(action="login_failed").count() == 12  # 4 x the limit: the address locked


@pytest.mark.django_db(transaction=True)
def test_a_try_that_waits_its_turn_too_long_is_refused_not_left_hanging(staff_a, monkeypatch):
    """Each try of a name waits for the one before: one of a flood that waited past LOCK_WAIT_SECONDS is a 429,
    not a request holding a server thread for as long as the flood lasts."""
    import hashlib

    from django.db import connections
    from django.test import Client

    from accounts import lockout

    monkeypatch.setattr(lockout, "LOCK_WAIT_SECONDS", 0.5)
    holder = connections.create_connection("default")  # another request, holding the name's turn
    try:
        digest = hashlib.blake2b(b"login:staff_a", digest_size=8).digest()
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [int.from_bytes(digest, "big", signed=True)])
        refused = login(Client(), password=PASSWORD)
        assert refused.status_code == 429 and refused["Retry-After"] == str(lockout.BUSY_RETRY_SECONDS)
        assert not AuditEvent.objects.filter(action__in=["login", "login_failed"]).exists()  # not checked, not counted
    finally:
        holder.close()
    assert login(Client()).status_code == 302  # its turn free again


def test_the_lockout_holds_where_the_site_is_served_under_a_path(client, staff_a, no_delay):
    """Served under a prefix (SCRIPT_NAME, `SITE_URL` with a path) the login's path is `/ecg/accounts/login/`: the
    lockout compared that against its own paths and checked nothing (a review guessed 30 times, then got in)."""
    for _ in range(3):
        response = client.post(
            reverse("login"), {"username": "staff_a", "password": "wrong"}, REMOTE_ADDR=ATTACKER, SCRIPT_NAME="/ecg"
        )
        assert response.status_code == 200
    response = client.post(
        reverse("login"), {"username": "staff_a", "password": PASSWORD}, REMOTE_ADDR=ATTACKER, SCRIPT_NAME="/ecg"
    )
    assert response.status_code == 429
