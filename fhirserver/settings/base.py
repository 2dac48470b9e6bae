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
    "django.contrib.staticfiles",
    "rest_framework",
    "fhirserver",
    "fhirserver.storage",
    "fhirserver.search",
    "ingestion",
]

MIDDLEWARE = [
    "fhirserver.api.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
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
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

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
        "fhirserver.request": {"handlers": ["console"], "level": os.environ.get("REQUEST_LOG_LEVEL", "INFO"), "propagate": False},
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
    "STALE_AFTER_SECONDS": int(os.environ.get("INGESTION_STALE_AFTER_SECONDS", "600")),  # running, no heartbeat: retried
    "SYNC_TIMEOUT_SECONDS": int(os.environ.get("INGESTION_SYNC_TIMEOUT_SECONDS", "300")),
}
# Base64 in a Parameters body is 4/3 of the file: let such bodies through to the operation's own limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = INGESTION["MAX_FILE_BYTES"] * 3 // 2 + 65536
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "") or None
