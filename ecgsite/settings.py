"""Settings for ECG Analyzer, read from the environment.

With no environment set the app runs embedded: SQLite under ``var/`` and
classification tasks executed in this process.  With ``DATABASE_URL`` and
``CELERY_BROKER_URL`` set it uses PostgreSQL, Redis and separate Celery workers.
A malformed value stops start-up with a message naming the variable.
"""

import os
import secrets
import zoneinfo
from pathlib import Path
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ECG_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use 1/0, true/false, yes/no or on/off")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at least {minimum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_zone(name: str, default: str) -> str:
    """A time zone of the IANA database (``Europe/Berlin``): a name Python cannot load (an empty value, a folder of
    zones, a path) had started, and every page showing a time failed."""
    raw = os.environ.get(name, default)
    try:
        zoneinfo.ZoneInfo(raw)
    except (ValueError, OSError, zoneinfo.ZoneInfoNotFoundError):
        raise ImproperlyConfigured(
            f"{name}={raw!r} is not a time zone of the IANA database (Europe/Berlin, America/New_York, UTC)"
        ) from None
    return raw


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        if len(key) < 32:
            raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters long")
        return key
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when DJANGO_ENV=production")
    # Embedded use: keep a generated key on disk so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def _database(url: str | None) -> dict:
    if not url:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    import dj_database_url

    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql", "pgsql", "sqlite"}:
        raise ImproperlyConfigured(
            f"DATABASE_URL has scheme {parsed.scheme!r}; expected postgres://user@host:port/name"
        )
    if parsed.scheme != "sqlite" and not parsed.path.strip("/"):
        raise ImproperlyConfigured("DATABASE_URL names no database; expected postgres://user@host:port/name")
    try:
        parsed_config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except Exception as exc:  # dj_database_url raises several types
        raise ImproperlyConfigured(f"DATABASE_URL is malformed: {exc}") from None
    config: dict = dict(parsed_config)
    if parsed.scheme != "sqlite":
        # A client that vanishes (its host lost, not its process killed) is noticed within a minute and a half, not
        # the operating system's two hours: a worker lost while it writes results holds the recording's row lock,
        # and the takeover and every request writing that recording wait on it. libpq's keepalives do the same for
        # a server that vanishes under a worker.
        config["OPTIONS"] = {
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 6,
            **config.get("OPTIONS", {}),
        }
    return config


# The server's side of the same (set per session at connection; a transaction-pooling PgBouncer refuses the
# startup parameter, so not behind one).
SERVER_KEEPALIVES = "-c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=6"


def _broker(url: str | None) -> str | None:
    if not url:
        return None
    parsed = urlparse(url)
    if parsed.scheme not in {"redis", "rediss"}:
        raise ImproperlyConfigured(f"CELERY_BROKER_URL has scheme {parsed.scheme!r}; expected redis://host:port/db")
    try:
        parsed.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ImproperlyConfigured(f"CELERY_BROKER_URL has a malformed port: {url!r}") from None
    if not parsed.hostname:
        raise ImproperlyConfigured("CELERY_BROKER_URL names no host; expected redis://host:port/db")
    return url


def _site_url(raw: str | None, origins: list[str]) -> str:
    """The address clients reach the site at (scheme, host, port, and the path it is served under), without a
    trailing slash: what links the server writes without a request start with (webhook notices, sent by workers).
    Unset, the first of the trusted origins (behind a TLS proxy the site's address, which production sets) or
    the development server's."""
    fallback = [o for o in origins if "*" not in o][:1]  # a wildcard origin names no one address
    value = (raw or "").strip() or (fallback[0] if fallback else "http://127.0.0.1:8000")
    name = "SITE_URL" if (raw or "").strip() else "CSRF_TRUSTED_ORIGINS (SITE_URL unset)"
    parsed = urlparse(value)
    try:
        parsed.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ImproperlyConfigured(f"{name} has a malformed port: {value!r}") from None
    if parsed.scheme not in {"http", "https"} or not parsed.hostname or parsed.query or parsed.fragment:
        raise ImproperlyConfigured(
            f"{name}: {value!r}; expected the address clients reach the site at, e.g. https://ecg.example.org"
        )
    return value.rstrip("/")


DJANGO_ENV = os.environ.get("DJANGO_ENV", "development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV={DJANGO_ENV!r}; expected development or production")
PRODUCTION = DJANGO_ENV == "production"

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = _site_url(os.environ.get("SITE_URL"), CSRF_TRUSTED_ORIGINS)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_otp",
    "accounts.apps.AuthenticatorAppsConfig",  # django_otp.plugins.otp_totp, with an admin heading
    "accounts.apps.RecoveryCodesConfig",  # django_otp.plugins.otp_static, likewise
    "accounts",
    "patients",
    "mlmodels",
    "diagnostics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "ecgsite.middleware.SecurityHeadersMiddleware",
    # the web host's temporary folders left by a killed web process; workers sweep their own (ecgsite.housekeeping)
    "ecgsite.middleware.TemporaryLeftoversMiddleware",
    # before anything reads a body (CSRF's token, the login lockout's name): refused unread when too large
    "ecgsite.middleware.RequestBodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # after WhiteNoise, which serves its own precompressed files; before whatever reads a response's body
    "api.middleware.CompressionMiddleware",
    "api.middleware.TrailingSlashMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.LoginLockoutMiddleware",
    "accounts.middleware.LoginRequiredMiddleware",
    "accounts.middleware.IdleTimeoutMiddleware",
    "accounts.middleware.SecondFactorMiddleware",
    "accounts.audit.AuditMiddleware",
    "ecgsite.http.ApplicationErrorMiddleware",
]

ROOT_URLCONF = "ecgsite.urls"
WSGI_APPLICATION = "ecgsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": _database(os.environ.get("DATABASE_URL"))}
# Behind a transaction-pooling PgBouncer a session's server-side cursors and prepared statements are not
# its own: Django's documented switch, which also turns off the list pages' prepared statements (api.pages).
if env_bool("DATABASE_TRANSACTION_POOLER", False):
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
elif DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    _options = DATABASES["default"]["OPTIONS"]
    _options["options"] = f"{_options.get('options', '')} {SERVER_KEEPALIVES}".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The clinic's zone: pages, reports, "today", and the start of a file that states no offset are read in it
TIME_ZONE = env_zone("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media-not-served/"


def _default_storage(kind: str) -> dict:
    """Uploads and model artifacts: the local disk, or an S3-compatible object store shared by every host."""
    if kind == "local":
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    if kind != "s3":
        raise ImproperlyConfigured(f"ECG_STORAGE={kind!r}; expected local or s3")
    bucket = os.environ.get("AWS_STORAGE_BUCKET_NAME", "").strip()
    if not bucket:
        raise ImproperlyConfigured("ECG_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME")
    endpoint = os.environ.get("AWS_S3_ENDPOINT_URL", "").strip() or None
    if endpoint is not None and urlparse(endpoint).scheme not in {"http", "https"}:
        raise ImproperlyConfigured(f"AWS_S3_ENDPOINT_URL={endpoint!r}; expected http(s)://host:port")
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint,
            "region_name": os.environ.get("AWS_S3_REGION_NAME", "").strip() or None,
            # Keys from the environment (or the host's role when unset, as boto3 finds it).
            "access_key": os.environ.get("AWS_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("AWS_SECRET_ACCESS_KEY") or None,
            "location": os.environ.get("AWS_LOCATION", "").strip("/"),
            "default_acl": None,
            "file_overwrite": False,  # server-chosen names never replace another file
            "querystring_auth": True,  # files are never public; nothing links to them anyway
            # A file read from the store spills to a temporary file past this, instead of filling memory.
            "max_memory_size": 8 * 1024 * 1024,
        },
    }


ECG_STORAGE = os.environ.get("ECG_STORAGE", "local").strip().lower() or "local"
STORAGES = {
    "default": _default_storage(ECG_STORAGE),
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

SESSION_COOKIE_HTTPONLY = True
# Administrators and doctors pass a TOTP step after the password; on by default in production.
ECG_REQUIRE_2FA = env_bool("ECG_REQUIRE_2FA", PRODUCTION)
OTP_TOTP_ISSUER = "ECG Analyzer"
ECG_IDLE_TIMEOUT_SECONDS = env_int("ECG_IDLE_TIMEOUT_SECONDS", 30 * 60, minimum=60)
ECG_LOCKOUT_FAILURES = env_int("ECG_LOCKOUT_FAILURES", 5, minimum=1)
ECG_LOCKOUT_SECONDS = env_int("ECG_LOCKOUT_SECONDS", 15 * 60, minimum=1)
# The wait after a failed login from a username and address, doubled with each further failure.
ECG_LOCKOUT_DELAY_SECONDS = env_int("ECG_LOCKOUT_DELAY_SECONDS", 1, minimum=0)
# How many proxies stand in front of the app and append the address they were reached from to
# X-Forwarded-For (a TLS proxy: 1; a load balancer before it: 2). 0: the socket's peer is the client.
# Lockouts, token refusals and the audit trail count by this address (accounts.audit.client_ip).
ECG_TRUSTED_PROXIES = env_int("ECG_TRUSTED_PROXIES", 0, minimum=0)


def _nat64_prefixes(name: str) -> list[str]:
    import ipaddress

    prefixes = env_list(name, ["64:ff9b::/96"])
    for prefix in prefixes:
        try:
            network = ipaddress.IPv6Network(prefix)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {prefix!r} is not an IPv6 network") from None
        if network.prefixlen != 96:
            raise ImproperlyConfigured(f"{name}: {prefix!r} must be a /96 (the IPv4 address in its last 32 bits)")
    return prefixes


# NAT64 gateways' prefixes (RFC 6052, /96 only) in front of the clients: a client reached through one is counted by
# the IPv4 address in its last 32 bits (lockouts, token refusals, the anonymous API budget), not all as one /64.
ECG_NAT64_PREFIXES = _nat64_prefixes("ECG_NAT64_PREFIXES")
# Failed API token attempts from one address within ECG_LOCKOUT_SECONDS before its token attempts get 429.
API_TOKEN_FAILURES = env_int("API_TOKEN_FAILURES", 20, minimum=1)
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600, minimum=60)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Celery: without a broker, tasks run in this process (the embedded default).
CELERY_BROKER_URL = _broker(os.environ.get("CELERY_BROKER_URL"))
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "ecg")
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A message whose worker died is redelivered after this many seconds.
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 900, minimum=1),
    # A broker that hangs (accepts connections but answers nothing) fails a publish attempt after this
    # many seconds instead of holding the upload's request, and its thread, for as long as it hangs: with
    # the retries of CELERY_TASK_PUBLISH_RETRY_POLICY about 20 s on a connection that was open, 5 s after.
    # Well above the 1 s a worker's BRPOP poll waits for the broker's reply.
    "socket_timeout": 5,
    # The TCP connect: CELERY_BROKER_CONNECTION_TIMEOUT bounds kombu's retries, not Redis's socket.
    "socket_connect_timeout": 3,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# An upload must not hang while the broker is down: the recording stays queued and the sweep
# enqueues it again once the broker is back.
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1.0}
# Every worker runs the sweep (one at a time, under a Redis lock): stale recordings are sent again.
ECG_SWEEP_INTERVAL_SECONDS = env_int("ECG_SWEEP_INTERVAL_SECONDS", 15, minimum=1)

# Upload limits (documented in the README).
ECG_MAX_UPLOAD_BYTES = env_int("ECG_MAX_UPLOAD_BYTES", 25 * 1024 * 1024, minimum=1024)
ECG_MAX_BEAT_ROWS = env_int("ECG_MAX_BEAT_ROWS", 20_000, minimum=1)
ECG_MAX_SIGNAL_SECONDS = env_int("ECG_MAX_SIGNAL_SECONDS", 26 * 3600, minimum=10)
# Columns of a beat row (187 values and a label) or leads of a signal; every reader stops at the first
# row, header or object wider than this, before building it.
ECG_MAX_COLUMNS = env_int("ECG_MAX_COLUMNS", 256, minimum=189)
# Signal uploads (WFDB .hea + .dat, EDF) larger than this are checked for structure in bounded memory by the
# web process, without the R-peak detector; the worker decides whether heartbeats can be found.
ECG_FULL_CHECK_MAX_BYTES = env_int("ECG_FULL_CHECK_MAX_BYTES", 8 * 1024 * 1024, minimum=0)
ECG_MAX_JSON_DEPTH = env_int("ECG_MAX_JSON_DEPTH", 32, minimum=4)
# A worker renews its claim while it works (a quarter of the lease, at most every 10 s); a claim not
# renewed for this long belongs to a dead worker or host and is taken over.
ECG_PROCESSING_LEASE_SECONDS = env_int("ECG_PROCESSING_LEASE_SECONDS", 40, minimum=4)
ECG_INFERENCE_BATCH_SIZE = env_int("ECG_INFERENCE_BATCH_SIZE", 1024, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = ECG_MAX_UPLOAD_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"refusal_without_traceback": {"()": "ecgsite.log_filters.RefusalWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # a 403 is logged as a line, not with the traceback of the refusal (ecgsite.log_filters)
        "django.request": {"filters": ["refusal_without_traceback"]},
        "django.security.csrf": {"filters": ["refusal_without_traceback"]},
    },
}

# Serve static files straight from the app directories outside production.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# --- REST API ---
INSTALLED_APPS += ["rest_framework", "drf_spectacular", "drf_spectacular_sidecar", "api"]
# A token is looked up in the database at most this often per web process: a revoked or expired token,
# or a deactivated user, is refused within this many seconds everywhere (at once in the process that revoked or
# deleted the token, or changed or deleted its user).
API_TOKEN_CACHE_SECONDS = env_int("API_TOKEN_CACHE_SECONDS", 5, minimum=0)
API_THROTTLE_RATE = os.environ.get("API_THROTTLE_RATE", "1200/minute")
if (
    API_THROTTLE_RATE.split("/")[-1] not in {"s", "sec", "second", "m", "min", "minute", "h", "hour", "d", "day"}
    or not API_THROTTLE_RATE.split("/")[0].isdigit()
):
    raise ImproperlyConfigured(f"API_THROTTLE_RATE={API_THROTTLE_RATE!r}; expected e.g. 1200/minute")
# Throttle counts must be shared by every web process: Redis when there is one, else this process's memory.
API_CACHE_URL = _broker(os.environ.get("API_CACHE_URL") or CELERY_BROKER_URL)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "api": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": API_CACHE_URL,
        "KEY_PREFIX": "ecg-api",
        # A Redis that hangs costs a request at most about a second: the API then goes on without it
        # (api.throttling.api_cache_call). Its commands answer in well under a millisecond.
        "OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1},
    }
    if API_CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "ecg-api"},
}
# Hosts or networks (e.g. 10.1.0.0/16) a webhook may reach although they are not public addresses.
API_WEBHOOK_ALLOWED_HOSTS = env_list("API_WEBHOOK_ALLOWED_HOSTS", [])
# A failed webhook delivery is retried after this many seconds, doubled after each failure (at most 1 h),
# until API_WEBHOOK_MAX_ATTEMPTS attempts have failed.
API_WEBHOOK_RETRY_SECONDS = env_int("API_WEBHOOK_RETRY_SECONDS", 30, minimum=1)
API_WEBHOOK_MAX_ATTEMPTS = env_int("API_WEBHOOK_MAX_ATTEMPTS", 8, minimum=1)
# An Idempotency-Key is remembered this long; the periodic sweep deletes older ones.
API_IDEMPOTENCY_KEY_HOURS = env_int("API_IDEMPOTENCY_KEY_HOURS", 24, minimum=1)
API_MAX_MODEL_BYTES = env_int("API_MAX_MODEL_BYTES", 200 * 1024 * 1024, minimum=1024)
# The address space the process that checks an uploaded model may take (TensorFlow's own is about 1.6 GiB): a few
# KiB of config can declare layers of any size, built before a weight is read.
ECG_MODEL_IMPORT_MEMORY_BYTES = env_int("ECG_MODEL_IMPORT_MEMORY_BYTES", 8 * 1024**3, minimum=2 * 1024**3)
# FHIR export: samples in valueSampledData over all leads together, shared equally among them (longer
# leads are truncated, with a note); the default keeps two leads of 2,000,000 whole.
API_FHIR_MAX_SAMPLES = env_int("API_FHIR_MAX_SAMPLES", 4_000_000, minimum=1000)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.IsClinicMember"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api": API_THROTTLE_RATE},
    "DEFAULT_RENDERER_CLASSES": ["api.renderers.OrjsonRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "api.renderers.JsonFirstNegotiation",
    "DEFAULT_PARSER_CLASSES": ["api.parsers.BoundedJSONParser", "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pagination",
    "DEFAULT_SCHEMA_CLASS": "api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ECG Analyzer API",
    "DESCRIPTION": (
        "Patients, ECG recordings, beat classification (AAMI N/S/V/F/Q), MI screening, reviews and model "
        "versions, scoped to the clinic of the token's user. Authenticate with `Authorization: Token <token>`."
    ),
    "VERSION": "1",
    # OpenAPI 3.1: a nullable reference is oneOf [$ref, {type: null}]. 3.0's allOf [$ref] + nullable does not let
    # null through by the 3.0.3 text (nullable needs a type beside it), so strict validators refused the API's
    # real answers (a queued recording's diagnosis, an unreviewed diagnosis's latest_review).
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The notices POSTed to a token's webhook URL (OpenAPI 3.1's webhooks section): their bodies and headers.
    "WEBHOOKS": [
        f"api.webhook_schema.{name}"
        for name in (
            "diagnosis_created",
            "diagnosis_reviewed",
            "event_reviewed",
            "recording_interpreted",
            "recording_failed",
            "recording_moved",
            "beats_corrected",
            "rhythm_recomputed",
        )
    ],
    # drf-spectacular's enum hook, then ours: null as 3.1 writes it, operationIds that are identifiers.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.schema.postprocess"],
    # Reviews of a diagnosis and of a rhythm event both have a "decision" with different choices.
    "ENUM_NAME_OVERRIDES": {
        "ReviewDecisionEnum": "diagnostics.models.Review.Decision",
        "EventReviewDecisionEnum": "diagnostics.models.EventReview.Decision",
        # a rhythm event's type, in the events list and in the Holter summary's episodes alike
        "EventTypeEnum": "diagnostics.models.Event.Type",
        # two choice sets named "kind": a recording's (beats or signal) keeps its name, a diary activity's its own
        "KindEnum": "diagnostics.models.ECGRecording.Kind",
        "ActivityKindEnum": "diagnostics.models.DiaryActivity.Kind",
        # the five AAMI classes: a beat family's, a correction's class and the class a corrected beat had
        "AamiClassEnum": "ecg.constants.AAMI_CLASSES",
    },
}
