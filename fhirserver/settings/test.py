"""Tests: base settings, quiet request log, fast password hashing."""
import atexit
import shutil
import tempfile

from .base import *  # noqa: F401,F403
from .base import FHIR, LOGGING

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING["loggers"]["fhirserver.request"]["level"] = "WARNING"

# A file, not SQLite's shared-cache memory database: it behaves like the embedded default
# (WAL, busy timeout) when tests run concurrent requests.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    import os

    (BASE_DIR / "var").mkdir(exist_ok=True)  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test-db-{os.getpid()}.sqlite3")}  # noqa: F405

# Security off unless a test turns it on (tests/security): other suites run without tokens.
FHIR["AUTH_REQUIRED"] = False
FHIR["RATE_LIMITS"] = {name: "0" for name in FHIR["RATE_LIMITS"]}
# Each test process its own audit spool: records left by a killed run never reach a later run's database.
FHIR["AUDIT_SPOOL_DIR"] = tempfile.mkdtemp(prefix="audit-spool-")
atexit.register(shutil.rmtree, FHIR["AUDIT_SPOOL_DIR"], ignore_errors=True)  # after the spool's own exit drain
