"""Kaisen settings: one complete file, read from the environment.

With no configuration at all Kaisen runs "embedded": an SQLite database, a generated secret key and
outgoing mail as files, all under one data directory (``KAISEN_DATA_DIR``, default
``~/.local/share/kaisen``). Setting ``DATABASE_URL=postgres://...`` switches to PostgreSQL.
``KAISEN_PRODUCTION=1`` only hardens (HTTPS cookies, HSTS, no debug pages).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from kaisen.core.files import storages_setting


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


BASE_DIR = Path(__file__).resolve().parent

DATA_DIR = Path(
    os.environ.get("KAISEN_DATA_DIR") or Path.home() / ".local" / "share" / "kaisen"
).expanduser().resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """The secret key: from the environment, or generated once and kept in the data directory."""
    from_env = os.environ.get("KAISEN_SECRET_KEY")
    if from_env:
        return from_env
    path = DATA_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
PRODUCTION = _env_bool("KAISEN_PRODUCTION")
DEBUG = _env_bool("KAISEN_DEBUG", default=False)
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("KAISEN_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h.strip()
]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("KAISEN_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tasks",
    "django_tasks_db",
    "template_partials",
    "ninja",
    "kaisen.core",
    "kaisen.tenancy",
    "kaisen.controls",
    "kaisen.accounts",
    "kaisen.lines",
    "kaisen.carriers",
    "kaisen.audit",
    "kaisen.procedures",
    "kaisen.notifications",
    "kaisen.security",
    "kaisen.mfa",
    "kaisen.access",
    "kaisen.usage",
    "kaisen.billing",
    "kaisen.payments",
    "kaisen.statements",
    "kaisen.goods",
    "kaisen.ops",
    "kaisen.events",
    "kaisen.alerts",
]

MIDDLEWARE = [
    "kaisen.core.observe.RequestObserveMiddleware",  # request ID and latency metric (issue 11 §5): first
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "kaisen.core.middleware.PortalLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "kaisen.security.sessions.SessionGuardMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "kaisen.controls.web.MaintenanceMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "kaisen.core.middleware.RequestContextMiddleware",
]

# The API under /api/v1 runs without the middlewares only the web pages need (kaisen/wsgi.py, issue 11 §2):
# a middleware added to MIDDLEWARE applies to the API too unless it is listed here.
KAISEN_WEB_ONLY_MIDDLEWARE = [
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "kaisen.security.sessions.SessionGuardMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
KAISEN_API_MIDDLEWARE = [m for m in MIDDLEWARE if m not in KAISEN_WEB_ONLY_MIDDLEWARE]

ROOT_URLCONF = "kaisen.urls"
WSGI_APPLICATION = "kaisen.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "kaisen.core.context_processors.portal",
                "kaisen.controls.web.banners",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()
if DATABASE_URL:
    # Persistent connections. Django closes a connection that failed during a request at the request's end;
    # a per-request health check (one more round trip on every request) is opt-in (issue 11 §2).
    DATABASES = {"default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=int(os.environ.get("KAISEN_DB_CONN_MAX_AGE", "600")),
        conn_health_checks=_env_bool("KAISEN_DB_HEALTH_CHECKS"))}
else:
    import sqlite3

    # The loaders and the order engine write with ``INSERT … RETURNING`` and ``UPDATE … RETURNING`` (SQLite 3.35,
    # 2021): an older library would fail at the first import or order, so it is refused here, by name.
    if sqlite3.sqlite_version_info < (3, 35):
        raise ImproperlyConfigured(
            f"Kaisen needs SQLite 3.35 or newer; this Python uses SQLite {sqlite3.sqlite_version}. Use a newer "
            "Python build, or PostgreSQL (DATABASE_URL).")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "kaisen.sqlite3"),
            # Keep each thread's connection: opening the file and running the PRAGMAs on every request
            # costs more than the lookup itself.
            "CONN_MAX_AGE": None,
            "OPTIONS": {
                # WAL lets the web threads read while the in-process task worker writes;
                # IMMEDIATE transactions take the write lock up front instead of failing mid-transaction.
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-64000;",
            },
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" and os.environ.get("KAISEN_TEST_DB_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["KAISEN_TEST_DB_NAME"]}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["kaisen.accounts.backends.TenantUserBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "accounts:login"
# auth.W004: usernames are unique per tenant, not globally; TenantUserBackend looks users up by
# (operator ID, username). See docs/decisions/0002-usernames-unique-per-tenant.md.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]

# Lifetime of bearer tokens issued by POST /api/v1/auth.
# SQLite's page cache (MB) while a usage file is bulk loaded; pages are only allocated as used. The indexes
# of call records are written in random order, and once they outgrow the everyday 64 MB cache every insert
# reads pages from disk (docs/benchmarks.md, usage ingest).
KAISEN_SQLITE_IMPORT_CACHE_MB = int(os.environ.get("KAISEN_SQLITE_IMPORT_CACHE_MB", "1024"))
KAISEN_API_TOKEN_TTL_SECONDS = int(os.environ.get("KAISEN_API_TOKEN_TTL_SECONDS", "3600"))
# A checked bearer token is trusted for this many seconds by the process that checked it (0: every request
# reads it): a revoke in that process clears it at once, one in another process is seen within this time.
KAISEN_API_TOKEN_CACHE_SECONDS = float(os.environ.get("KAISEN_API_TOKEN_CACHE_SECONDS", "5"))

# --- I18N / time ----------------------------------------------------------------------------------
LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", _("Japanese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Tokyo"
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
# The portal's own assets (CSS, JS, vendored Bootstrap / htmx) live in kaisen/static/, outside any app.
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT.mkdir(exist_ok=True)
# Serve straight from the package's static folders, no collectstatic step needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Mail -----------------------------------------------------------------------------------------
EMAIL_URL = os.environ.get("KAISEN_EMAIL_HOST", "")
if EMAIL_URL:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = EMAIL_URL
    EMAIL_PORT = int(os.environ.get("KAISEN_EMAIL_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("KAISEN_EMAIL_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("KAISEN_EMAIL_PASSWORD", "")
    EMAIL_USE_TLS = _env_bool("KAISEN_EMAIL_TLS", default=True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = DATA_DIR / "mail"
DEFAULT_FROM_EMAIL = os.environ.get("KAISEN_FROM_EMAIL", "kaisen@localhost")
# The dev mail page (/dev/mail/) shows the files written by the file backend to operator staff.
KAISEN_DEV_MAIL = EMAIL_BACKEND.endswith("filebased.EmailBackend")

# --- Background work ------------------------------------------------------------------------------
TASKS = {
    "default": {
        "BACKEND": os.environ.get("KAISEN_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}
# The Redis option (issue 11 §3): KAISEN_TASKS_BACKEND=django_tasks_rq.RQBackend, with the `redis` extra
# installed; `kaisen worker` then runs an RQ worker instead of the database worker (docs/deployment.md).
KAISEN_REDIS_URL = os.environ.get("KAISEN_REDIS_URL", "redis://127.0.0.1:6379/0")
RQ_QUEUES = {"default": {"URL": KAISEN_REDIS_URL, "DEFAULT_TIMEOUT": 3600}}
if str(TASKS["default"]["BACKEND"]).startswith("django_tasks_rq"):
    INSTALLED_APPS.append("django_rq")
# Finished task rows of the database backend are deleted by a periodic job (kaisen.core.taskqueue): successful
# ones after this many hours, failed ones after this many days (issue 11 §1).
KAISEN_TASK_RESULTS_KEEP_HOURS = float(os.environ.get("KAISEN_TASK_RESULTS_KEEP_HOURS", "24"))
KAISEN_TASK_FAILED_KEEP_DAYS = float(os.environ.get("KAISEN_TASK_FAILED_KEEP_DAYS", "7"))

# --- Carriers and procedures ---------------------------------------------------------------------
# The carrier side is a simulator adapter (no carrier network can be reached from here); see
# kaisen/carriers/adapters.py. Delay: seconds between acceptance and completion at the carrier.
KAISEN_CARRIER_ADAPTER = os.environ.get("KAISEN_CARRIER_ADAPTER", "kaisen.carriers.simulator.SimulatorAdapter")
KAISEN_CARRIER_DELAY = float(os.environ.get("KAISEN_CARRIER_DELAY", "120"))
# Share (0..1) of simulated requests the carrier refuses / whose answer is lost (timeouts).
KAISEN_CARRIER_FAILURE_RATE = float(os.environ.get("KAISEN_CARRIER_FAILURE_RATE", "0"))
KAISEN_CARRIER_TIMEOUT_RATE = float(os.environ.get("KAISEN_CARRIER_TIMEOUT_RATE", "0"))
# Seconds after an MNP reservation number is issued until the simulated port-out happens (unset: never).
KAISEN_CARRIER_PORT_OUT_DELAY = float(os.environ["KAISEN_CARRIER_PORT_OUT_DELAY"]) if os.environ.get(
    "KAISEN_CARRIER_PORT_OUT_DELAY") else None
# How often the scheduler inside `kaisen serve` / `kaisen worker` looks for due work (seconds).
KAISEN_SCHEDULER_INTERVAL = float(os.environ.get("KAISEN_SCHEDULER_INTERVAL", "5"))
# Due orders the engine handles per transaction (issue 11 §1; 1 = one transaction per order).
KAISEN_ORDER_BATCH = int(os.environ.get("KAISEN_ORDER_BATCH", "20"))
#: Bulk uploads (X-BULK): files of at most this many rows run inside the request, larger ones as a task;
#: a queued or running job silent for KAISEN_BULK_STALE_SECONDS is enqueued again by the scheduler.
KAISEN_BULK_INLINE_ROWS = int(os.environ.get("KAISEN_BULK_INLINE_ROWS", "200"))
KAISEN_BULK_STALE_SECONDS = int(os.environ.get("KAISEN_BULK_STALE_SECONDS", "60"))

# The quote calculator before login (issue 12, S-ORD-1): the operator may switch it off ("0").
KAISEN_PUBLIC_QUOTE_CALCULATOR = os.environ.get("KAISEN_PUBLIC_QUOTE_CALCULATOR", "1") not in ("0", "false", "no")

# Usage storage (issue 10 §5, kaisen/usage/partitions.py and retention.py; docs/usage.md "Retention"):
# billing months of raw call records and daily data usage kept in the database, the current one included
# (at least 7: the call-detail statement offers 6 months, published a month later); older months are
# archived as compressed CSV under KAISEN_USAGE_ARCHIVE_DIR and dropped. PostgreSQL: monthly partitions are
# created this many months behind and ahead of the current one by the scheduler.
KAISEN_USAGE_RETENTION_MONTHS = os.environ.get("KAISEN_USAGE_RETENTION_MONTHS", "13")
KAISEN_USAGE_ARCHIVE_DIR = Path(os.environ.get("KAISEN_USAGE_ARCHIVE_DIR") or DATA_DIR / "archive" / "usage")

# Stored files (issue 11 §4; kaisen/core/files.py, docs/deployment.md "Shared files"): statements and usage
# archives go through Django's storage API, in folders of the data directory (KAISEN_STORAGE=local, the
# default) or in an S3-compatible bucket shared by a cluster (KAISEN_STORAGE=s3, KAISEN_S3_*).
STORAGES = storages_setting(os.environ, data_dir=DATA_DIR, usage_archive_dir=KAISEN_USAGE_ARCHIVE_DIR)
KAISEN_USAGE_PARTITIONS_BEHIND = int(os.environ.get("KAISEN_USAGE_PARTITIONS_BEHIND", "2"))
KAISEN_USAGE_PARTITIONS_AHEAD = int(os.environ.get("KAISEN_USAGE_PARTITIONS_AHEAD", "3"))

# Qualified invoices (X-INVOICE-JP, issue 4 §3): the issuer printed on every invoice. The registration
# number is "T" + 13 digits with the check digit of the corporate number; the monthly close refuses to
# issue without a valid one. The defaults are demo values (fictional) and are empty in production.
KAISEN_INVOICE_ISSUER_NAME = os.environ.get(
    "KAISEN_INVOICE_ISSUER_NAME", "" if PRODUCTION else "カイセン・デモ通信株式会社")
KAISEN_INVOICE_REGISTRATION_NUMBER = os.environ.get(
    "KAISEN_INVOICE_REGISTRATION_NUMBER", "" if PRODUCTION else "T3010001999994")
# The issuer's address and contact under its name, and the account an invoice is paid into by bank transfer
# (printed on every invoice PDF, read when the PDF is made). "|" separates lines. Demo values are fictional
# (a bank named デモ銀行 does not exist); production leaves them empty until set.
KAISEN_INVOICE_ISSUER_ADDRESS = os.environ.get(
    "KAISEN_INVOICE_ISSUER_ADDRESS", "" if PRODUCTION else "〒100-0000 東京都千代田区デモ町1-2-3 デモビル4階")
KAISEN_INVOICE_ISSUER_CONTACT = os.environ.get(
    "KAISEN_INVOICE_ISSUER_CONTACT", "" if PRODUCTION else "TEL 03-0000-0000 | billing@kaisen-demo.example")
KAISEN_INVOICE_BANK_TRANSFER = os.environ.get(
    "KAISEN_INVOICE_BANK_TRANSFER",
    "" if PRODUCTION else "デモ銀行（9999） 本店営業部（001） 普通預金 1234567 | 口座名義 カイセン・デモツウシン（カ")

# --- Security -------------------------------------------------------------------------------------
# Failed-login limiting (kaisen.security.throttle): after N failures in a row an account is locked until the
# operator unlocks it or KAISEN_LOCKOUT_MINUTES pass; a client address gets N failures per window.
KAISEN_LOCKOUT_ACCOUNT_FAILURES = int(os.environ.get("KAISEN_LOCKOUT_ACCOUNT_FAILURES", "5"))
KAISEN_LOCKOUT_MINUTES = int(os.environ.get("KAISEN_LOCKOUT_MINUTES", "30"))
KAISEN_LOCKOUT_IP_FAILURES = int(os.environ.get("KAISEN_LOCKOUT_IP_FAILURES", "20"))
KAISEN_LOCKOUT_IP_WINDOW_MINUTES = int(os.environ.get("KAISEN_LOCKOUT_IP_WINDOW_MINUTES", "10"))
# Password reset links work once and for this many seconds.
PASSWORD_RESET_TIMEOUT = int(os.environ.get("KAISEN_PASSWORD_RESET_SECONDS", "3600"))
# Web sessions end after SESSION_COOKIE_AGE from sign-in whatever the activity (absolute), and after the
# tenant's Tenant.session_idle_minutes without a request (idle; kaisen.security.sessions). Operator staff
# (no tenant) get KAISEN_SESSION_IDLE_MINUTES.
SESSION_COOKIE_AGE = int(os.environ.get("KAISEN_SESSION_MAX_HOURS", "336")) * 3600  # 14 days, Django's default
KAISEN_SESSION_IDLE_MINUTES = int(os.environ.get("KAISEN_SESSION_IDLE_MINUTES", "30"))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = _env_bool("KAISEN_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = int(os.environ.get("KAISEN_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Behind a proxy the scheme comes from X-Forwarded-Proto, but only from a trusted proxy:
    # kaisen.core.proxy (around kaisen.wsgi.application) sets wsgi.url_scheme, so no SECURE_PROXY_SSL_HEADER.

# KAISEN_LOG_FORMAT=json: one JSON object per line with the time, level, logger, message and the request ID
# (issue 11 §5); "text" (default) is for a terminal.
KAISEN_LOG_FORMAT = os.environ.get("KAISEN_LOG_FORMAT", "text").strip().lower()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "kaisen.core.observe.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "pythonjsonlogger.json.JsonFormatter",
                 "fmt": "%(asctime)s %(levelname)s %(name)s %(process)d %(request_id)s %(message)s",
                 "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"}},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["request_id"],
                             "formatter": "json" if KAISEN_LOG_FORMAT == "json" else "text"}},
    "root": {"handlers": ["console"], "level": os.environ.get("KAISEN_LOG_LEVEL", "WARNING")},
    "loggers": {
        "kaisen": {"level": os.environ.get("KAISEN_LOG_LEVEL", "INFO")},
        "django_tasks": {"level": "WARNING"},
        "django_tasks_db": {"level": "WARNING"},
    },
}
# Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or networks, comma
# separated); from anyone else those headers are dropped (kaisen.core.proxy). KAISEN_TRUST_X_FORWARDED_FOR=1
# without a list trusts a proxy on this machine (127.0.0.1, ::1).
TRUST_X_FORWARDED_FOR = _env_bool("KAISEN_TRUST_X_FORWARDED_FOR")
# /metrics asks for "Authorization: Bearer <this>" when set (kaisen.ops.views).
KAISEN_METRICS_TOKEN = os.environ.get("KAISEN_METRICS_TOKEN", "")
# Benchmarks only (docs/benchmarks.md): serve /bench-minimal/<number>, a one-query view without login.
KAISEN_BENCH_VIEWS = _env_bool("KAISEN_BENCH_VIEWS")

# --- Webhooks (issue 13 §2, kaisen.events) ----------------------------------------------------------
# Private, loopback and link-local receivers are refused (SSRF); only development and tests allow them.
KAISEN_WEBHOOK_ALLOW_PRIVATE = _env_bool("KAISEN_WEBHOOK_ALLOW_PRIVATE", default=False)
KAISEN_WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("KAISEN_WEBHOOK_TIMEOUT_SECONDS", "10"))
KAISEN_WEBHOOK_MAX_RESPONSE_BYTES = 64 * 1024
# An endpoint is disabled (and the tenant mailed) after this many failed attempts in a row.
KAISEN_WEBHOOK_DISABLE_AFTER = int(os.environ.get("KAISEN_WEBHOOK_DISABLE_AFTER", "20"))


def _trusted_proxies() -> tuple[Any, ...]:
    from kaisen.core.proxy import LOOPBACK, parse_networks

    listed = [p for p in os.environ.get("KAISEN_TRUSTED_PROXIES", "").split(",") if p.strip()]
    if not listed and TRUST_X_FORWARDED_FOR:
        listed = list(LOOPBACK)
    try:
        return parse_networks(listed)
    except ValueError as exc:
        raise ImproperlyConfigured(f"KAISEN_TRUSTED_PROXIES: {exc}") from None


TRUSTED_PROXIES = _trusted_proxies()
