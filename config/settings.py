"""CrowdCanvas settings, read from the environment.

Embedded defaults (nothing set): a SQLite file under ``var/``, Celery tasks run
in-process and Channels uses its in-memory layer. Set ``DATABASE_URL``
(PostgreSQL) and ``REDIS_URL`` to run real Celery workers, the Redis channel
layer and many server processes side by side.

Environment variables:

``DEBUG``            debug mode (default on, off when ``PRODUCTION`` is on).
``SECRET_KEY``       required unless DEBUG is on (then a dev default is used).
``ALLOWED_HOSTS``    comma-separated (default: localhost names when DEBUG is on).
``CSRF_TRUSTED_ORIGINS`` comma-separated origins (scheme://host[:port]).
``DATABASE_URL``     e.g. postgres://user:pass@host:5432/db (default SQLite).
``DB_POOL``          "0" turns PostgreSQL connection pooling off (default on;
                     ``DB_POOL_MIN``/``DB_POOL_MAX`` connections per process).
``DB_PREPARED``      "0" turns PostgreSQL prepared statements off (default on).
``REDIS_URL``        e.g. redis://127.0.0.1:6379/0 (default: none, in-process).
``MEDIA_ROOT``       where uploaded images are stored (default ``var/media``).
``STATIC_ROOT``      where ``collectstatic`` writes (default ``var/static``).
``LEASE_SECONDS``    how long a labeler holds a task (default 600).
``PAGE_LEASE_SECONDS`` how long a labeler's work page holds a task between
                     its renewals, which it sends every third of it (default
                     90, at least 3): a task of a page that closed without
                     giving it back is free again within this time.
``AGGREGATION_DELAY_MS`` how long a server process collects answered datapoints
                     before sending them as one aggregation task (default 1000;
                     0: a task per answer, sent at once).
``PRODUCTION``       "1" turns on HTTPS-only cookies, HSTS and SSL redirect.
``SUBMIT_RATE``      labeler API writes per labeler (default "120/min"; "none": no limit).
``LOGIN_FAILURE_LIMIT``, ``LOGIN_FAILURE_WINDOW`` login attempts (passwords
                     checked) per username and address before refusing, and in
                     how many seconds (default 5 in 300); a success clears them.
``SIGNUP_RATE``      sign-up attempts per address (default "20/hour"; "none": no limit).
``API_TOKEN_DAYS``   days an API token works after it is made (default 90; 0: no expiry).
``SERVICE_DOMAIN``   the domain the hosted service's client is pointed at
                     (``RAPIDATA_ENVIRONMENT``; a port allowed): api., auth. and
                     app. under it serve the compatible API (``compat``).
``CLIENT_TOKEN_SECONDS`` lifetime of client-credentials access tokens (3600).
``ASSET_FETCH_CONNECT_TO``, ``ASSET_FETCH_CA_BUNDLE``, ``ASSET_FETCH_TIMEOUT``,
``ASSET_FETCH_MAX_REDIRECTS`` fetching images from URLs (``jobs.url_fetch``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CROWDCANVAS_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


# One switch for deployments: PRODUCTION=1 turns debug off (and requires a
# SECRET_KEY); a checkout without it runs in debug mode on a dev key, so
# ``manage.py`` works out of the box.
PRODUCTION = env_bool("PRODUCTION")
DEBUG = env_bool("DEBUG", not PRODUCTION)

if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when PRODUCTION is on.")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (set DEBUG=1 for development).")
    SECRET_KEY = "dev-only-insecure-key-crowdcanvas-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The hosted service's client finds the server at api.<domain> and
# auth.<domain>, and opens pages at app.<domain> (compat.hosts); a port is
# allowed (labels.example.org:8443). Those names are allowed hosts.
SERVICE_DOMAIN = os.environ.get("SERVICE_DOMAIN", "").strip().lower()
if SERVICE_DOMAIN:
    _service_host = SERVICE_DOMAIN.rsplit(":", 1)[0] if SERVICE_DOMAIN.count(":") == 1 else SERVICE_DOMAIN
    ALLOWED_HOSTS += [_service_host, *(f"{sub}.{_service_host}" for sub in ("api", "auth", "app"))]
# Lifetime of the access tokens the client-credentials grant issues.
CLIENT_TOKEN_SECONDS = env_int("CLIENT_TOKEN_SECONDS", 3600)

INSTALLED_APPS = [
    # daphne first: its runserver serves the ASGI app (HTTP and websockets).
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",  # API tokens, stored hashed (labeling.tokens)
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    # Before labeling: its create_requester adds --client-credentials.
    "compat",
    "labeling",
    "audiences",
    "jobs",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "compat.hosts.service_host_routing",
    "core.middleware.content_security_policy",
    "core.middleware.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "config.asgi.application"

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

# --- Database -------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        # Parameters travel apart from the SQL, and a statement a connection
        # runs again is prepared (psycopg keeps the last 100 per connection):
        # planning every statement again cost PostgreSQL more than running
        # the task feed's. DB_PREPARED=0 behind a pooler that cannot keep
        # prepared statements (PgBouncer before 1.21 in transaction mode).
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            server_side_binding=True, prepare_threshold=1 if env_bool("DB_PREPARED", True) else None
        )
    if DATABASES["default"]["ENGINE"].endswith("postgresql") and env_bool("DB_POOL", True):
        # Under ASGI every request runs in a thread of its own, and Django's
        # connections belong to threads: without a pool each request would
        # open (and PostgreSQL fork) a new connection.
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("DB_POOL_MIN", 2),
            "max_size": env_int("DB_POOL_MAX", 20),
            "timeout": env_int("DB_POOL_TIMEOUT", 30),
        }
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60)
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SQLITE_PATH", str(VAR_DIR / "crowdcanvas.sqlite3")),
            "OPTIONS": {
                # One writer at a time: every transaction takes the write lock
                # when it starts, so read-then-write sequences (leases,
                # submissions) cannot interleave. WAL keeps readers unblocked.
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # Tests use a file too, not Django's shared in-memory database,
            # whose table locks fail at once where a file's wait their turn.
            "TEST": {"NAME": str(VAR_DIR / "test-crowdcanvas.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")

# --- Redis: Celery broker, Channels layer -----------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")

CELERY_BROKER_URL = REDIS_URL or "memory://"
# No result store: tasks are fire-and-forget, results are DatapointResult rows.
# (A Redis result backend would be built again in every request's thread.)
CELERY_RESULT_BACKEND = None
# Without Redis there is no worker: tasks run in-process, right after commit.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must not hang a request when Redis is down: fail fast, the
# sweeper re-enqueues whatever was not published.
CELERY_BROKER_TRANSPORT_OPTIONS = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# kombu's Redis transport, made to survive losing Redis while tasks run
# (core/broker.py).
if REDIS_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT = "core.broker:Transport"
# A task running when the broker connection drops finishes and writes its
# result; aggregation is idempotent, so a second delivery is harmless.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# Celery's Django fix-up closes every database connection, and the pool,
# around each task unless told to reuse them: it then does so once every this
# many tasks. config.celery releases connections the way requests do.
CELERY_DB_REUSE_MAX = 10_000
CELERY_BEAT_SCHEDULE = {
    "sweep-stale-results": {
        "task": "jobs.tasks.sweep_stale_results",
        "schedule": env_int("SWEEP_SECONDS", 30),
    },
    "prune-heartbeats": {"task": "jobs.tasks.prune_heartbeats", "schedule": 3600},
    "prune-expired-tokens": {"task": "jobs.tasks.prune_expired_tokens", "schedule": 3600},
}

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py reads with a 5 s socket timeout by default, the same
            # time the layer's blocking pop waits for a message: a quiet socket's
            # consumer died with a read timeout. The read outwaits the pop.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Cache: rate limits (core.throttles) ---------------------------------------
# Redis when there is one, so limits hold across server processes; the
# process's memory otherwise. Short timeouts: an unreachable cache makes the
# throttles step aside, it must not hang requests.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "crowdcanvas",
            "OPTIONS": {
                "socket_connect_timeout": 1,
                "socket_timeout": 1,
                "pool_class": "core.cache.SharedConnectionPool",
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "crowdcanvas"}}

SUBMIT_RATE = os.environ.get("SUBMIT_RATE", "120/min")
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 300)
SIGNUP_RATE = os.environ.get("SIGNUP_RATE", "20/hour")

# --- API tokens (labeling.tokens) ------------------------------------------------
API_TOKEN_DAYS = env_int("API_TOKEN_DAYS", 90)
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=API_TOKEN_DAYS) if API_TOKEN_DAYS > 0 else None,
    "AUTH_HEADER_PREFIX": "Token",
    "TOKEN_PREFIX": "cc_",
    "AUTO_REFRESH": False,
}

# --- Auth -------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if env_bool("INSECURE_FAST_PASSWORD_HASHER"):
    # The test suite only: hashing with PBKDF2 would dominate its run time.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "labeling:home"
LOGOUT_REDIRECT_URL = "login"

# --- I18N / time --------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media ---------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = True

# Uploads: images only, checked with Pillow (see assets.uploads).
ASSET_MAX_BYTES = env_int("ASSET_MAX_BYTES", 20 * 1024 * 1024)
ASSET_MAX_PIXELS = env_int("ASSET_MAX_PIXELS", 40_000_000)
# Images fetched from URLs on the server (jobs.url_fetch): curl's
# --connect-to routes (trusted), the CA bundle, time and redirect caps.
ASSET_FETCH_CONNECT_TO = os.environ.get("ASSET_FETCH_CONNECT_TO", "")
ASSET_FETCH_CA_BUNDLE = os.environ.get("ASSET_FETCH_CA_BUNDLE", "")
ASSET_FETCH_TIMEOUT = env_int("ASSET_FETCH_TIMEOUT", 20)
ASSET_FETCH_MAX_REDIRECTS = env_int("ASSET_FETCH_MAX_REDIRECTS", 3)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 20_000

# --- Labeling -----------------------------------------------------------------
LEASE_SECONDS = env_int("LEASE_SECONDS", 600)
# The work pages ask for this shorter lease and renew it every third of it.
PAGE_LEASE_SECONDS = env_int("PAGE_LEASE_SECONDS", 90)
if PAGE_LEASE_SECONDS < 3:
    raise ImproperlyConfigured("PAGE_LEASE_SECONDS must be at least 3 (pages renew every third of it).")
# How long a process collects answered datapoints before sending them as one
# aggregation task: answers arriving meanwhile are folded in (see jobs.tasks).
AGGREGATION_DELAY_MS = env_int("AGGREGATION_DELAY_MS", 1000)
# Long side of the grid draw responses are rasterized on.
RASTER_LONG_SIDE = env_int("RASTER_LONG_SIDE", 256)

# --- REST framework -------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "labeling.tokens.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",  # strict: NaN, 1e999, deep nesting are 400s
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "EXCEPTION_HANDLER": "core.api_errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SPECTACULAR_SETTINGS = {
    "TITLE": "CrowdCanvas API",
    "DESCRIPTION": (
        "Requester API (audiences, qualification examples, job definitions, jobs, "
        "results) and labeler API (qualification, task feed). Authenticate with "
        "`Authorization: Token <key>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Choice sets shared by several fields get one schema name each.
    "ENUM_NAME_OVERRIDES": {
        "TaskKindEnum": "assets.models.TaskKind",
        "AssetKindEnum": "assets.models.Asset.Kind",
        "AudienceKindEnum": "audiences.models.Audience.Kind",
        "JobStateEnum": "jobs.models.Job.State",
        "MembershipStateEnum": "audiences.models.Membership.State",
        "DrawAggregationEnum": "jobs.models.JobDefinition.DrawAggregation",
    },
}

# --- Logging --------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    "loggers": {
        "crowdcanvas": {"level": os.environ.get("LOG_LEVEL", "INFO"), "propagate": True},
    },
}

# --- Security -------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the pages' JS reads it to send X-CSRFToken
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
