"""Slowing password guessing without letting an attacker lock the real user out.

Failures are counted per username *and* address (OWASP's advice, as django-axes' "username and IP"
mode): a stranger who fails five times for a doctor's name locks only that name from their own
address. From the second failure of a pair on, each doubles the wait before the next attempt from
it (a single mistyped password costs nothing). An account that
fails from many addresses (a distributed guess) makes every address it never logged in from wait
progressively longer, while the addresses its user did log in from are not slowed. An address
failing for many names is locked whole, except for the users who logged in from it before: the
address of a clinic's network (or of a proxy not configured as trusted, see ``ECG_TRUSTED_PROXIES``)
failing for made-up names must not lock its staff out. While a name or an address is refused, one
refusal per window is audited, not every try. An address is an IPv4 address or an IPv6 address's /64
(``audit.client_network``): one host's changing IPv6 addresses are one client.
"""

import hashlib
import math
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import Count, Max
from django.utils import timezone

from .audit import client_network, from_client
from .models import AuditEvent

KNOWN_ADDRESS_DAYS = 30
ADDRESS = "address"  # the object type of a refusal that holds every name tried from the address


def username_clean(raw: str) -> str:
    """The username as the login form hands it to authentication (stripped, NFKC), for lockout and audit alike."""
    return unicodedata.normalize("NFKC", (raw or "").strip())[:150]


def wait_phrase(wait: int) -> str:
    """How long a refused login waits, as the pages say it: "1 second", "40 seconds", "15 minutes"."""
    if wait >= 120:
        return f"{math.ceil(wait / 60)} minutes"
    return "1 second" if wait == 1 else f"{wait} seconds"


LOCK_WAIT_SECONDS = 10  # a try waiting its turn longer than this is one of a flood: refused (LoginBusy)
BUSY_RETRY_SECONDS = 5
LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's code for a lock not had within lock_timeout


class LoginBusy(Exception):
    """Tries of the name (or the address) waited their turn longer than LOCK_WAIT_SECONDS."""


@contextmanager
def one_try_at_a_time(username: str, ip: str | None) -> Iterator[None]:
    """Hold a login try of ``username`` until the tries of the same name before it have been counted, and, once
    the address has failed as often as one name may, until the tries from the address before it have been too.

    The refusal reads the failures audited so far, and a failure is audited only once the password was
    checked: tries sent at once all passed the check before any was counted (12 in parallel made 8
    guesses where 3 are allowed, and a right password among them got in; 12 names at once from one address
    made 23 failures where 12 lock it). On PostgreSQL transaction locks make them wait their turn, the address's
    first (one order: no deadlock), only where it has failed already, so that a clinic's shared address logs
    its staff in side by side; a try that waits more than LOCK_WAIT_SECONDS raises LoginBusy. The development
    SQLite database takes one write at a time anyway."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            since = timezone.now() - timedelta(seconds=settings.ECG_LOCKOUT_SECONDS)
            keys = []
            if ip and _failures(since).filter(from_client(ip)).count() >= settings.ECG_LOCKOUT_FAILURES:
                keys.append(f"login-address:{client_network(ip)}")
            if username:
                keys.append(f"login:{username}")
            if keys:
                with connection.cursor() as cursor:
                    cursor.execute(f"SET LOCAL lock_timeout = '{int(LOCK_WAIT_SECONDS * 1000)}ms'")
                    for key in keys:
                        digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
                        try:
                            cursor.execute(
                                "SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest, "big", signed=True)]
                            )
                        except OperationalError as exc:
                            if getattr(exc.__cause__, "pgcode", None) == LOCK_NOT_AVAILABLE:
                                raise LoginBusy() from None
                            raise
                    cursor.execute("SET LOCAL lock_timeout = DEFAULT")  # the login's own statements as before
        yield


def _failures(since):
    return AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_FAILED, created_at__gte=since).exclude(
        channel="token"
    )


def _wait(doublings: int, last, now) -> int:
    delay = min(settings.ECG_LOCKOUT_DELAY_SECONDS * 2 ** min(doublings, 30), settings.ECG_LOCKOUT_SECONDS)
    return max(0, math.ceil(delay - (now - last).total_seconds()))


def _until_fewer(failures, index: int, window: int, now) -> int:
    """Seconds until the failure at ``index`` (oldest first) leaves the window, and the count falls under the limit."""
    oldest = failures.order_by("created_at", "id").values_list("created_at", flat=True)[index]
    return max(1, math.ceil(window - (now - oldest).total_seconds()))


def login_wait_seconds(*, username: str, ip: str | None) -> int:
    """Seconds before ``username`` may try a password from ``ip`` again; 0 when it may try now."""
    return login_refusal(username=username, ip=ip)[0]


def login_refusal(*, username: str, ip: str | None) -> tuple[int, bool, int]:
    """``login_wait_seconds``, whether the wait holds the whole address (every name tried from it), and the
    whole address's wait where ``username`` may try all the same, having logged in from it: a wrong password
    is then answered with that refusal, so that the answers there do not tell which names are known."""
    now = timezone.now()
    window = settings.ECG_LOCKOUT_SECONDS
    limit = settings.ECG_LOCKOUT_FAILURES
    failures = _failures(now - timedelta(seconds=window))
    held = 0
    if ip and (n := failures.filter(from_client(ip)).count()) >= 4 * limit:
        held = _until_fewer(failures.filter(from_client(ip)), n - 4 * limit, window, now)
        if not _known_address(username, ip, now):
            return held, True, 0
    return _name_wait(failures, username, ip, now, window, limit), False, held


def refusal_audited(*, username: str, ip: str | None, whole_address: bool) -> bool:
    """Whether a refusal of this name (or, ``whole_address``, of any name) at ``ip`` is already in the
    audit trail within the lockout window: a flood of refused tries writes one row, not one each."""
    since = timezone.now() - timedelta(seconds=settings.ECG_LOCKOUT_SECONDS)
    refused = AuditEvent.objects.filter(from_client(ip), action=AuditEvent.Action.LOCKED_OUT, created_at__gte=since)
    if whole_address:
        return refused.filter(object_type=ADDRESS).exists()
    return refused.filter(username=username, object_type="").exists()  # not the address's, nor the code step's


def _name_wait(failures, username: str, ip: str | None, now, window: int, limit: int) -> int:
    if not username:
        return 0
    pair = failures.filter(from_client(ip), username=username).aggregate(n=Count("id"), last=Max("created_at"))
    if pair["n"] >= limit:
        return _until_fewer(failures.filter(from_client(ip), username=username), pair["n"] - limit, window, now)
    if pair["n"] >= 2 and (wait := _wait(pair["n"] - 2, pair["last"], now)):
        return wait
    account = failures.filter(username=username).aggregate(n=Count("id"), last=Max("created_at"))
    if account["n"] >= 4 * limit and not _known_address(username, ip, now):
        # slowed, not barred: the wait doubles with each failure past the bound and is over once it has passed (a
        # standing refusal let a few guesses a window keep the user out of every new address, told to retry in 1 s)
        return _wait(account["n"] - 4 * limit, account["last"], now)
    return 0


def _known_address(username: str, ip: str | None, now) -> bool:
    return (
        bool(username)
        and ip is not None
        and AuditEvent.objects.filter(
            from_client(ip),
            action=AuditEvent.Action.LOGIN,
            username=username,
            created_at__gte=now - timedelta(days=KNOWN_ADDRESS_DAYS),
        ).exists()
    )
