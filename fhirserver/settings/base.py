"""Settings for every environment, configured from the environment (12-factor).

`production.py` tightens security on top of this; `test.py` is what pytest uses.
"""
import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
(BASE_DIR / "var").mkdir(exist_ok=True)  # SQLite database, models, job files


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    return default if value is None else [v.strip() for v in value.split(",") if v.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-insecure-key-change-me")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver", "[::1]"])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",  # runserver leaves /static/ to WhiteNoise too, as gunicorn does
    "django.contrib.staticfiles",
    "corsheaders",
    "oauth2_provider",
    "fhirserver",
    "fhirserver.storage",
    "fhirserver.search",
    "fhirserver.security",
    "fhirserver.subscriptions",
    "ingestion",
    "evaluation",
    "review",
]

MIDDLEWARE = [
    "fhirserver.api.middleware.RequestLogMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "fhirserver.security.ratelimit.RateLimitMiddleware",
    "fhirserver.security.audit.AuditMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # /static/ from STATIC_ROOT (collectstatic), before any view
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "fhirserver.urls"
WSGI_APPLICATION = "fhirserver.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# SQLite is the zero-setup embedded default; DATABASE_URL selects PostgreSQL in production.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}", conn_max_age=600
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
# --- Static files (review pages): WhiteNoise serves what `manage.py collectstatic` gathered into
# STATIC_ROOT, the same under `make run` (runserver), `make serve` (gunicorn) and any deployment. The
# manifest storage names every file by its content hash, so it may be cached for ever.
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "var" / "static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# The FHIR server's own knobs, in one namespaced dict (like OAUTH2_PROVIDER).
FHIR = {
    # Public base URL; when empty it is derived from each request (scheme + host + /fhir).
    "BASE_URL": os.environ.get("FHIR_BASE_URL", ""),
    "DEFAULT_COUNT": int(os.environ.get("FHIR_DEFAULT_COUNT", "20")),
    "MAX_COUNT": int(os.environ.get("FHIR_MAX_COUNT", "1000")),
    "SOFTWARE_NAME": "fhir-digitize",
    "SOFTWARE_VERSION": "0.1.0",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "fhirserver.request": {
            "handlers": ["console"],
            "level": os.environ.get("REQUEST_LOG_LEVEL", "INFO"),
            "propagate": False,
        },
    },
}

# $digitize (ingestion): limits, workers and the job backend. Celery is used when a broker is set.
INGESTION = {
    # Read by ingestion.reader.config as well: one dict for the whole pipeline.
    "MAX_FILE_BYTES": int(os.environ.get("INGESTION_MAX_FILE_BYTES", str(20 * 1024 * 1024))),  # larger -> 413
    "MAX_PAGES": int(os.environ.get("INGESTION_MAX_PAGES", "20")),
    "OCR_ENGINE": os.environ.get("OCR_ENGINE", "onnxruntime"),
    "WORKERS": int(os.environ.get("INGESTION_WORKERS", "2")),  # reader processes and job threads of the in-process pool
    "MAX_ATTEMPTS": int(os.environ.get("INGESTION_MAX_ATTEMPTS", "3")),
    "STALE_AFTER_SECONDS": int(
        os.environ.get("INGESTION_STALE_AFTER_SECONDS", "600")
    ),  # running, no heartbeat: retried
    "SYNC_TIMEOUT_SECONDS": int(os.environ.get("INGESTION_SYNC_TIMEOUT_SECONDS", "300")),
    "READ_SECONDS": int(os.environ.get("INGESTION_READ_SECONDS", "240")),  # one document in a reader -> 422
}
# Base64 in a Parameters body is 4/3 of the file: let such bodies through to the operation's own limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = INGESTION["MAX_FILE_BYTES"] * 3 // 2 + 65536
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "") or None

# --- SMART on FHIR security (fhirserver.security; docs/security.md) -------------------------------
FHIR.update({
    # Off only for trusted test runs: without a token the API then answers as a trusted caller.
    "AUTH_REQUIRED": env_bool("FHIR_AUTH_REQUIRED", True),
    "AUTHENTICATOR": "fhirserver.security.authenticator.authenticate",
    "CAPABILITY_SECURITY": "fhirserver.security.discovery.capability_security",
    "TOKEN_CACHE_SECONDS": int(os.environ.get("FHIR_TOKEN_CACHE_SECONDS", "10")),
    # Audit records are spooled here (one folder per database) until a thread stores them in batches.
    "AUDIT_SPOOL_DIR": os.environ.get("FHIR_AUDIT_SPOOL_DIR") or str(BASE_DIR / "var" / "audit-spool"),
    # "COUNT/SECONDS"; "0" turns a limit off.
    "RATE_LIMITS": {
        "API_PER_CLIENT": os.environ.get("FHIR_RATE_API_PER_CLIENT", "6000/60"),
        "API_PER_IP": os.environ.get("FHIR_RATE_API_PER_IP", "12000/60"),
        "TOKEN_PER_CLIENT": os.environ.get("FHIR_RATE_TOKEN_PER_CLIENT", "60/60"),
        "TOKEN_PER_IP": os.environ.get("FHIR_RATE_TOKEN_PER_IP", "300/60"),
        # failed sign-ins on /oauth2/login (issue 19)
        "LOGIN_PER_USER": os.environ.get("FHIR_RATE_LOGIN_PER_USER", "5/300"),
        "LOGIN_PER_IP": os.environ.get("FHIR_RATE_LOGIN_PER_IP", "30/300"),
    },
})
LOGIN_URL = "/oauth2/login"
LOGIN_REDIRECT_URL = "/oauth2/login"
from fhirserver.security.keys import oidc_private_key  # noqa: E402 - plain Python, no Django

# Named explicitly so migrations of fhirserver.security can point at DOT's (swappable) models.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"
OAUTH2_PROVIDER = {
    "OAUTH2_VALIDATOR_CLASS": "fhirserver.security.validator.SmartValidator",
    "SCOPES_BACKEND_CLASS": "fhirserver.security.validator.SmartScopesBackend",
    "PKCE_REQUIRED": True,
    "ACCESS_TOKEN_EXPIRE_SECONDS": int(os.environ.get("ACCESS_TOKEN_SECONDS", "3600")),
    "REFRESH_TOKEN_EXPIRE_SECONDS": int(os.environ.get("REFRESH_TOKEN_SECONDS", str(90 * 86400))),
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 120,
    "ROTATE_REFRESH_TOKEN": True,
    "REQUEST_APPROVAL_PROMPT": "force",
    "OIDC_ENABLED": True,
    "OIDC_RSA_PRIVATE_KEY": oidc_private_key(BASE_DIR / "var" / "oidc_rsa.pem"),
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"],
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
}

# Browser apps call the API, the token endpoint and discovery from their own origins. Bearer
# tokens, not cookies, carry authority there, so credentials are never allowed cross-origin.
CORS_URLS_REGEX = r"^/(fhir|oauth2/(token|introspect|revoke|userinfo|\.well-known))(/.*)?$"
CORS_ALLOWED_ORIGINS = [o for o in env_list("CORS_ALLOWED_ORIGINS", []) if o != "*"]
CORS_ALLOW_ALL_ORIGINS = not CORS_ALLOWED_ORIGINS
CORS_ALLOW_CREDENTIALS = False
CORS_EXPOSE_HEADERS = [
    "Location",
    "ETag",
    "Content-Location",
    "Last-Modified",
    "Retry-After",
    "WWW-Authenticate",
    "X-Request-ID",
]

# Rate-limit counters, token replay (jti) and JWKS caches: Redis when REDIS_URL is set (shared by
# all workers), else per-process memory.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": os.environ["REDIS_URL"]}
          if os.environ.get("REDIS_URL") else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Request bounds, shared state and browser hardening (issue 19; docs/security.md "Limits") -----------
# Each bound answers with a 4xx OperationOutcome (issue code too-costly) naming it; "0" turns a time off.
FHIR["LIMITS"] = {
    "MAX_PARAMETERS": int(os.environ.get("FHIR_MAX_PARAMETERS", "50")),  # name=value pairs in one query
    "MAX_OR_VALUES": int(os.environ.get("FHIR_MAX_OR_VALUES", "100")),  # comma-separated values of one parameter
    "MAX_CHAIN_DEPTH": int(os.environ.get("FHIR_MAX_CHAIN_DEPTH", "3")),  # references one parameter follows
    "MAX_HAS": int(os.environ.get("FHIR_MAX_HAS", "3")),  # _has steps in one query
    "MAX_SORT_KEYS": int(os.environ.get("FHIR_MAX_SORT_KEYS", "8")),
    "MAX_INCLUDES": int(os.environ.get("FHIR_MAX_INCLUDES", "16")),  # _include + _revinclude parameters
    "MAX_FILTER_LENGTH": int(os.environ.get("FHIR_MAX_FILTER_LENGTH", "4000")),
    "MAX_FILTER_DEPTH": int(os.environ.get("FHIR_MAX_FILTER_DEPTH", "16")),  # nested parentheses in _filter
    "MAX_BUNDLE_ENTRIES": int(os.environ.get("FHIR_MAX_BUNDLE_ENTRIES", "5000")),
    "MAX_JSON_DEPTH": int(os.environ.get("FHIR_MAX_JSON_DEPTH", "100")),
    "MAX_URL_BYTES": int(os.environ.get("FHIR_MAX_URL_BYTES", "8190")),  # gunicorn's own line limit (serving.py)
    "STATEMENT_TIMEOUT_SECONDS": float(os.environ.get("FHIR_STATEMENT_TIMEOUT_SECONDS", "20")),
    "REQUEST_DATABASE_SECONDS": float(os.environ.get("FHIR_REQUEST_DATABASE_SECONDS", "60")),
    "CLIENT_CHECK_MS": int(os.environ.get("FHIR_CLIENT_CHECK_MS", "2000")),  # PostgreSQL notices a vanished worker
}
MIDDLEWARE.insert(0, "fhirserver.security.headers.SecurityHeadersMiddleware")  # CSP, no-store on patient data
MIDDLEWARE.insert(MIDDLEWARE.index("fhirserver.api.middleware.RequestLogMiddleware") + 1,
                  "fhirserver.api.middleware.RequestBoundsMiddleware")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers queue for the lock at BEGIN (busy timeout above) instead of failing with "database is
    # locked" when a read transaction turns into a write under another writer.
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
# Where the review page caches page images of a job (a full disk there costs the cache, never a page).
INGESTION["JOBS_DIR"] = os.environ.get("INGESTION_JOBS_DIR", "")  # "" = var/jobs under BASE_DIR
# Rate-limit counters, assertion jti replay and JWKS: state every worker must share. Redis when REDIS_URL
# is set, else a table in the database (created by the security app's migrations); never process memory.
if not os.environ.get("REDIS_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "fhir_shared_cache"}}
# --- Subscriptions (fhirserver.subscriptions; docs/subscriptions.md) ------------------------------
# Topic-based (R4 Subscriptions Backport IG) and classic R4 subscriptions: an outbox written in each
# write's transaction, matching and rest-hook delivery on fhirserver.jobs, websockets on their own port.
SUBSCRIPTIONS = {
    "REQUIRE_HTTPS": env_bool("SUBSCRIPTIONS_REQUIRE_HTTPS", False),  # production.py: True; else http to loopback only
    "RETRY_BASE_SECONDS": float(os.environ.get("SUBSCRIPTIONS_RETRY_BASE_SECONDS", "5")),  # first retry; doubles
    "RETRY_MAX_SECONDS": float(os.environ.get("SUBSCRIPTIONS_RETRY_MAX_SECONDS", "900")),  # longest wait
    "GIVE_UP_AFTER_SECONDS": float(os.environ.get("SUBSCRIPTIONS_GIVE_UP_AFTER_SECONDS", str(24 * 3600))),  # -> error
    "TIMEOUT_SECONDS": float(os.environ.get("SUBSCRIPTIONS_TIMEOUT_SECONDS", "10")),  # per POST, unless the channel's
    "LEASE_SECONDS": float(os.environ.get("SUBSCRIPTIONS_LEASE_SECONDS", "60")),  # a dead worker's claim expires
    "MAX_EVENTS_PER_NOTIFICATION": int(os.environ.get("SUBSCRIPTIONS_MAX_EVENTS_PER_NOTIFICATION", "100")),
    "DELIVERY_THREADS": int(os.environ.get("SUBSCRIPTIONS_DELIVERY_THREADS", "4")),
    "NICE": int(os.environ.get("SUBSCRIPTIONS_NICE", "10")),  # matching/delivery threads yield the CPU to writes
    "TICK_SECONDS": float(os.environ.get("SUBSCRIPTIONS_TICK_SECONDS", "1")),  # sweep: retries, heartbeats, leftovers
    "RETENTION_DAYS": int(os.environ.get("SUBSCRIPTIONS_RETENTION_DAYS", "30")),  # delivered events kept for $events
    "WEBSOCKET_PORT": int(os.environ.get("SUBSCRIPTIONS_WEBSOCKET_PORT", "8001")),  # 0: no websocket server
    "WEBSOCKET_HOST": os.environ.get("SUBSCRIPTIONS_WEBSOCKET_HOST", "127.0.0.1"),
    "WEBSOCKET_URL": os.environ.get("SUBSCRIPTIONS_WEBSOCKET_URL", ""),  # public ws(s):// URL; default from the request
    "BINDING_TOKEN_SECONDS": int(os.environ.get("SUBSCRIPTIONS_BINDING_TOKEN_SECONDS", "3600")),
    "BACKGROUND": env_bool("SUBSCRIPTIONS_BACKGROUND", True),  # the web process runs the sweep and websockets
}
MIDDLEWARE.append("fhirserver.subscriptions.owner.OwnerMiddleware")  # who writes a Subscription owns it
FHIR["CAPABILITY_CONTRIBUTORS"] = ["fhirserver.subscriptions.topics.capability"]
# --- Bulk Data Access (fhirserver.bulk; docs/bulk.md) ---------------------------------------------
# $export at system, Patient and Group level, NDJSON files through Django's storage API (STORAGES
# alias "bulk": the local file system here; an S3 backend of django-storages in production).
INSTALLED_APPS.insert(INSTALLED_APPS.index("fhirserver.subscriptions"), "fhirserver.bulk")
STORAGES["bulk"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": os.environ.get("BULK_FILES_DIR") or str(BASE_DIR / "var" / "bulk")},
}
BULK = {
    "STORAGE": os.environ.get("BULK_STORAGE", "bulk"),  # the STORAGES alias the files go to
    "FILE_MAX_BYTES": int(os.environ.get("BULK_FILE_MAX_BYTES", str(100 * 1024 * 1024))),  # split a type's file
    "EXPIRY_SECONDS": int(os.environ.get("BULK_EXPIRY_SECONDS", str(24 * 3600))),  # files removed after this
    "MAX_CONCURRENT_PER_CLIENT": int(os.environ.get("BULK_MAX_CONCURRENT_PER_CLIENT", "2")),  # more: 429
    "RETRY_AFTER_SECONDS": int(os.environ.get("BULK_RETRY_AFTER_SECONDS", "2")),  # told to pollers
    "STALE_SECONDS": float(os.environ.get("BULK_STALE_SECONDS", "60")),  # a running job silent this long died
    "MAX_ATTEMPTS": int(os.environ.get("BULK_MAX_ATTEMPTS", "3")),  # then it is failed, never half-complete
    "THREADS": int(os.environ.get("BULK_THREADS", "2")),  # in-process export workers
    "FETCH_ROWS": int(os.environ.get("BULK_FETCH_ROWS", "2000")),  # rows per server-side cursor fetch
}
FHIR["CAPABILITY_CONTRIBUTORS"] = [*FHIR.get("CAPABILITY_CONTRIBUTORS", []), "fhirserver.bulk.status.capability"]
