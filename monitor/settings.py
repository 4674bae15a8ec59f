"""The one settings module, read from environment variables.

Defaults are safe for production (DEBUG off, secure cookies, HSTS, HTTPS
redirect) so that `manage.py check --deploy` is clean with only SECRET_KEY,
DATABASE_URL and ALLOWED_HOSTS set. The quick start (bin/start) turns DEBUG on
explicitly; nothing here guesses that it runs on a laptop.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default):
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def _development_secret_key():
    """A key of this checkout's own, made on first use and kept (sessions survive a restart).

    Never a constant in the code: a key anyone can read signs sessions, password-reset and
    unsubscribe links that anyone can forge. Only used with DEBUG on.
    """
    import secrets

    # The file bin/start writes: the quick start and a bare `DEBUG=1 manage.py …` share one key.
    path = Path(os.environ.get("MONITOR_DEV_SECRET_KEY_FILE", BASE_DIR / "var" / "secret_key"))
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    try:
        # O_EXCL: when two processes of the quick start start at once, the first one's key wins.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment "
            "(or set DEBUG=1 for a development key kept in var/ for this checkout)."
        )
    SECRET_KEY = _development_secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# The site's public address ("https://monitor.example.org"): the base of every link that leaves the site
# (emails, feeds, calendars, badges' embed code, citations). Unset, pages and feeds use the address the
# request reached and emails http://localhost:8000; `check --deploy` warns (monitor/alerts/apps.py).
SITE_ROOT = os.environ.get("SITE_ROOT", "").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    # Swagger UI's files, served from our own static files (whitenoise), never a CDN: /api/docs/.
    "drf_spectacular_sidecar",
    "simple_history",
    "axes",
    "terms",
    "monitor.evidence",
    "monitor.verdicts",
    "monitor.alerts",
    "monitor.accounts",
    "monitor.pages",
    "monitor.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # A 400 for a NUL byte or text that is not Unicode in the address, before any view runs.
    "monitor.security.RefuseUnholdableText",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # The admin in the agreement's time zone, day first (after the language is chosen).
    "monitor.evidence.admin_time.AdminLocalTime",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "monitor.security.PrivateApiAnswers",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into a clear response.
    "axes.middleware.AxesMiddleware",
]

# Behind a reverse proxy: trust its X-Forwarded-Proto, and take the client's address from the
# X-Forwarded-For entry our own TRUSTED_PROXY_HOPS proxies added (monitor/accounts/client.py).
# Every per-address limit (logins, sign-ups, page renders) keys on that address.
BEHIND_PROXY = env_bool("BEHIND_PROXY", False)
TRUSTED_PROXY_HOPS = int(os.environ.get("TRUSTED_PROXY_HOPS", "1"))
RATELIMIT_IP_META_KEY = "monitor.accounts.client.client_address"

AUTHENTICATION_BACKENDS = [
    # A user name under a flood of failures waits between attempts (monitor/accounts/throttle.py).
    "monitor.accounts.throttle.NameThrottleBackend",
    # Locks out an address after AXES_FAILURE_LIMIT failures, before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("AXES_COOLOFF_HOURS", "1"))
# Per address, not per user name: a flood from many addresses must not lock the real user out.
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_CLIENT_IP_CALLABLE = "monitor.accounts.client.client_address"
MONITOR_LOGIN_NAME_FREE_FAILURES = int(os.environ.get("MONITOR_LOGIN_NAME_FREE_FAILURES", "5"))
MONITOR_LOGIN_NAME_MAX_DELAY_SECONDS = int(os.environ.get("MONITOR_LOGIN_NAME_MAX_DELAY_SECONDS", "60"))
MONITOR_LOGIN_NAME_WINDOW_SECONDS = int(os.environ.get("MONITOR_LOGIN_NAME_WINDOW_SECONDS", "900"))
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

ROOT_URLCONF = "monitor.urls"

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

WSGI_APPLICATION = "monitor.wsgi.application"

# SQLite is the quick-start default only; production and the test suite use
# PostgreSQL through DATABASE_URL (see docs/operations.md).
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Every string a reader sees is marked for translation; Dari and Pashto come later.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
# Stored instants are UTC; each agreement names the zone its deadlines are counted in.
TIME_ZONE = "UTC"
USE_TZ = True
# The admin enters and shows times in the agreement's zone; when agreements have different zones, in this
# one (monitor/evidence/admin_time.py).
ADMIN_TIME_ZONE = os.environ.get("ADMIN_TIME_ZONE", "UTC")
# The admin's day-first formats (en-GB, monitor/formats/en_GB); the public pages format their own dates.
FORMAT_MODULE_PATH = ["monitor.formats"]

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Uploaded import files and their problem lists. The worker that runs a large import reads the file
# the web process saved: with several machines, MEDIA_ROOT must be storage they share (docs/operations.md).
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "var" / "media"))

# Attachments of reports (documents, screenshots, captures of web pages) are kept under MEDIA_ROOT/attachments/
# and never overwritten. Larger ones are refused: 25 MB holds a long PDF, a full-page screenshot or a WARC of one
# page; a whole site's capture belongs in a web archive, cited by its URL (docs/operations.md, *Attachments*).
MONITOR_ATTACHMENT_MAX_BYTES = int(os.environ.get("MONITOR_ATTACHMENT_MAX_BYTES", str(25 * 1024 * 1024)))

# --- Imports: bounded work per file, and a Celery queue of their own (issue 11) --------------------------
# Uploads over MAX_UPLOAD are refused; those over INLINE are checked and imported by a worker; rows are
# written in batches of BATCH_SIZE (docs/importing.md).
# MAX_UPLOAD is 400 MB because that is what the import benchmark has measured (docs/performance.md): its
# largest file, 1,000,000 ACLED rows in 418 MB, imported in 45 s with a flat 83 MB peak; an upload the
# admin takes is one whose time and memory are known. Larger files go through manage.py import_reports.
MONITOR_IMPORT_MAX_UPLOAD_BYTES = int(os.environ.get("MONITOR_IMPORT_MAX_UPLOAD_BYTES", str(400 * 1024 * 1024)))
MONITOR_IMPORT_INLINE_MAX_BYTES = int(os.environ.get("MONITOR_IMPORT_INLINE_MAX_BYTES", str(2 * 1024 * 1024)))
MONITOR_IMPORT_BATCH_SIZE = int(os.environ.get("MONITOR_IMPORT_BATCH_SIZE", "1000"))
# The longest line of a file, CSV row (quoted values may span lines) or JSON report object: reading stops
# there, with the file, line and limit named, instead of reading a file of one huge line whole.
MONITOR_IMPORT_MAX_LINE_BYTES = int(os.environ.get("MONITOR_IMPORT_MAX_LINE_BYTES", str(1024 * 1024)))
# Checks and imports of large uploads run in the `imports` queue, and the nightly check's sweeps in the
# `checks` queue (monitor/alerts/tasks.py), so that sweeps and alerts (the default `celery` queue) never
# wait behind one: start a worker for each (docs/operations.md, bin/start).
CELERY_TASK_ROUTES = {
    "evidence.check_import": {"queue": "imports"},
    "evidence.run_import": {"queue": "imports"},
    "monitor.check": {"queue": "checks"},
    "monitor.sweep_agreements": {"queue": "checks"},
}

# One cache shared by every process (rate limits, page caches): Redis, a separate database number.
CACHE_URL = os.environ.get("CACHE_URL", os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_URL,
        # A Redis that hangs, rather than refusing, must not stall pages: they render without the cache.
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "DEFAULT_PARSER_CLASSES": [
        "monitor.api.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "monitor.api.exceptions.api_exception_handler",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Agreement compliance monitor API",
    "DESCRIPTION": "Agreements, commitments with their verdicts, reports and status changes.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No validator badge: Swagger UI would fetch it from validator.swagger.io, another host. No deep
    # links either: they put a link inside each operation's button, which screen readers cannot reach.
    "SWAGGER_UI_SETTINGS": {"validatorUrl": None},
}

# Security: production defaults, each overridable for a deployment behind a proxy.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content-Security-Policy (django-csp) on every answer: scripts, styles and images from this site
# only, no inline script or style anywhere (no page of ours has any; the browsable API's and the
# history pages' few inline style attributes are cosmetic and are dropped by the browser), no
# plug-ins, no framing. Data URIs for images: the admin's and DRF's icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Celery: Redis is the broker and result store. The guarantees (alerts once,
# never lost) come from the database, not from the broker.
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# Email (used by alerts).
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "30"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "monitor@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# The verdict engine: how many days before a due date a commitment counts as "due soon".
MONITOR_DUE_SOON_DAYS = int(os.environ.get("MONITOR_DUE_SOON_DAYS", "7"))

# Alerts
MONITOR_SWEEP_INTERVAL_SECONDS = int(os.environ.get("MONITOR_SWEEP_INTERVAL_SECONDS", "60"))
MONITOR_SEND_INTERVAL_SECONDS = int(os.environ.get("MONITOR_SEND_INTERVAL_SECONDS", "15"))
MONITOR_DEFAULT_REMINDER_DAYS = [7, 1]
# A transition that took effect longer ago than this when detected (an old agreement loaded, old
# reports imported) goes into one summary per subscriber instead of an email of its own.
MONITOR_HISTORY_DAYS = int(os.environ.get("MONITOR_HISTORY_DAYS", "2"))
MONITOR_DIGEST_HOUR_UTC = int(os.environ.get("MONITOR_DIGEST_HOUR_UTC", "6"))
MONITOR_SEND_LEASE_SECONDS = int(os.environ.get("MONITOR_SEND_LEASE_SECONDS", "300"))
MONITOR_RETRY_BASE_SECONDS = float(os.environ.get("MONITOR_RETRY_BASE_SECONDS", "30"))
MONITOR_MAX_ATTEMPTS = int(os.environ.get("MONITOR_MAX_ATTEMPTS", "12"))
# Webhooks (monitor/alerts/webhooks.py). The timeout is per network operation, and capped at half the
# send lease, so a delivery always ends while the row's lease still holds.
MONITOR_WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("MONITOR_WEBHOOK_TIMEOUT_SECONDS", "10"))
# A webhook whose deliveries have failed without a success for this long is paused, its owner told; 0: never.
MONITOR_WEBHOOK_PAUSE_AFTER_HOURS = float(os.environ.get("MONITOR_WEBHOOK_PAUSE_AFTER_HOURS", "24"))
# Networks a webhook may reach although they are not public (loopback, private, link-local …): none by
# default, so a webhook can never be aimed at this machine, the internal network or a cloud's metadata
# service. Comma-separated, e.g. "10.20.0.0/16,127.0.0.1/32".
MONITOR_WEBHOOK_ALLOWED_NETWORKS = env_list("MONITOR_WEBHOOK_ALLOWED_NETWORKS", [])
MONITOR_MESSAGE_ID_DOMAIN = os.environ.get("MONITOR_MESSAGE_ID_DOMAIN", "monitor.invalid")
MONITOR_EMAIL_SUBJECT_PREFIX = os.environ.get("MONITOR_EMAIL_SUBJECT_PREFIX", "Compliance monitor")
MONITOR_SIGNUPS_PER_HOUR = os.environ.get("MONITOR_SIGNUPS_PER_HOUR", "10")
# Confirmation emails to one address (name+tag@ counting as name@) in any 24 hours, from however many
# clients; counted in the outbox, so it holds across processes. The sign-up page says the same either way.
MONITOR_CONFIRMATIONS_PER_ADDRESS_PER_DAY = int(os.environ.get("MONITOR_CONFIRMATIONS_PER_ADDRESS_PER_DAY", "3"))

# --- Public pages and the API: bounded work per request (issue 11) ----------------------------------
# "As of" and "as known at" outside the accepted range, or that overflow date arithmetic, are a 400 on
# every public URL before any work (monitor/pages/instants.py; the ranges: docs/public-pages.md).
# Pages and API endpoints that read them check them against their agreement; this checks the rest.
MIDDLEWARE.insert(MIDDLEWARE.index("axes.middleware.AxesMiddleware"), "monitor.pages.middleware.CutoffsInRange")
# Renders of public pages the cache cannot serve (and the API's verdicts, never cached), per client
# address, as django-ratelimit reads a rate ("60/m"); a page served from the cache never counts.
# Empty turns the limit off (the benchmarks, which ask for a new "as of" every request, do).
MONITOR_RENDER_RATE = os.environ.get("MONITOR_RENDER_RATE", "60/m")
# Addresses and networks never held back: by default this machine (a health check, a benchmark, or a
# proxy on this host that does not forward the client's address).
# Behind a proxy (BEHIND_PROXY), the client is the address our outermost proxy saw, as for logins.
MONITOR_RENDER_RATE_EXEMPT = env_list("MONITOR_RENDER_RATE_EXEMPT", ["127.0.0.0/8", "::1"])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
