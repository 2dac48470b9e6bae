"""Production: everything from base, secrets required, security headers on."""
import os

from .base import *  # noqa: F401,F403
from .base import env_bool

DEBUG = False
if os.environ.get("SECRET_KEY", "dev-only-insecure-key-change-me") == "dev-only-insecure-key-change-me":
    raise RuntimeError("SECRET_KEY must be set in production")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Subscriptions: rest-hook endpoints must be https (docs/subscriptions.md).
SUBSCRIPTIONS["REQUIRE_HTTPS"] = env_bool("SUBSCRIPTIONS_REQUIRE_HTTPS", True)  # noqa: F405
