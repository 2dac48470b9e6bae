"""Tests: base settings, quiet request log, fast password hashing."""
from .base import *  # noqa: F401,F403
from .base import LOGGING

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING["loggers"]["fhirserver.request"]["level"] = "WARNING"
