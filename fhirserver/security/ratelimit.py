"""Fixed-window rate limits in Django's cache (Redis when REDIS_URL is set, so all workers share).

Limits are "COUNT/SECONDS" strings in FHIR["RATE_LIMITS"]; "" or "0" turns one off.
Per IP on /fhir and the token endpoint (this middleware); per client on the API (the
authenticator, which knows the client) and on the token endpoint (the client_id it names).
"""
from __future__ import annotations

import base64
import time
from urllib.parse import parse_qs

from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse

from fhirserver.api.http import render_error
from fhirserver.core.errors import FhirError
from fhirserver.security.client_assertion import unverified_issuer

TOKEN_PATH = "/oauth2/token"


def _limit(name: str) -> tuple[int, int] | None:
    text = (settings.FHIR.get("RATE_LIMITS") or {}).get(name) or ""
    count, _, seconds = text.partition("/")
    if not count.strip().isdigit() or int(count) <= 0:
        return None
    return int(count), int(seconds or 60)


def hit(name: str, who: str) -> int | None:
    """Count one request of `who` against limit `name`; the seconds to wait when over it, else None."""
    limit = _limit(name)
    if limit is None or not who:
        return None
    count, window = limit
    now = time.time()
    bucket = int(now // window)
    key = f"rl:{name}:{who}:{bucket}"
    try:
        used = cache.incr(key)  # one cache operation on the common path
    except ValueError:  # first request of this window
        used = 1 if cache.add(key, 1, window + 1) else cache.incr(key)
    if used <= count:
        return None
    return max(1, int((bucket + 1) * window - now + 0.999))


def too_many(retry_after: int, who: str) -> FhirError:
    return FhirError(429, f"Too many requests from {who}; retry in {retry_after} s", issue_code="throttled",
                     code="RATE_LIMITED", headers={"Retry-After": str(retry_after)})


def client_address(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


class RateLimitMiddleware:
    """IP limits on the API and the token endpoint, client limits on the token endpoint."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path
        if path.startswith("/fhir") and not path.startswith(("/fhir/metadata", "/fhir/.well-known")):
            wait = hit("API_PER_IP", client_address(request))
            if wait:
                return render_error(too_many(wait, "this address"))
        elif path.startswith(TOKEN_PATH):
            wait = hit("TOKEN_PER_IP", client_address(request)) or hit("TOKEN_PER_CLIENT", _token_client(request))
            if wait:
                response = JsonResponse(
                    {"error": "slow_down", "error_description": f"Too many token requests; retry in {wait} s"},
                    status=429,
                )
                response["Retry-After"] = str(wait)
                return response
        return self.get_response(request)


def _token_client(request) -> str:
    """The client a token request names (Basic auth, form client_id, or an assertion's issuer)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header.startswith("Basic "):
        try:
            return base64.b64decode(header[6:]).decode().split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            return ""
    form = parse_qs(request.body.decode("utf-8", "replace")) if request.method == "POST" else {}
    if form.get("client_id"):
        return form["client_id"][0]
    assertion = (form.get("client_assertion") or [""])[0]
    if assertion.count(".") == 2:
        return unverified_issuer(assertion)
    return ""
