"""Fixed-window rate limits in counters every worker shares (Redis when REDIS_URL is set, else the database).

Limits are "COUNT/SECONDS" strings in FHIR["RATE_LIMITS"]; "" or "0" turns one off.
Per IP on /fhir and the token endpoint (this middleware); per client on the API (the
authenticator, which knows the client) and on the token endpoint (the client_id it names).
"""
from __future__ import annotations

import base64
import threading
import time
from urllib.parse import parse_qs

from django.conf import settings
from django.http import JsonResponse

from fhirserver.api.http import render_error
from fhirserver.core.errors import FhirError
from fhirserver.security import counters
from fhirserver.security.client_assertion import unverified_issuer

TOKEN_PATH = "/oauth2/token"


def _limit(name: str) -> tuple[int, int] | None:
    text = (settings.FHIR.get("RATE_LIMITS") or {}).get(name) or ""
    parsed = _parsed.get(text, False)
    if parsed is False:
        parsed = _parsed[text] = _parse(text)
    return parsed


_parsed: dict[str, tuple[int, int] | None] = {}  # "COUNT/SECONDS" -> (count, seconds): parsed once, asked per request


def _parse(text: str) -> tuple[int, int] | None:
    count, _, seconds = text.partition("/")
    if not count.strip().isdigit() or int(count) <= 0:
        return None
    return int(count), int(seconds or 60)


def hit(name: str, who: str, *, peek: bool = False) -> int | None:
    """Count one request of `who` against limit `name`; the seconds to wait when over it, else None.
    With `peek`, only ask whether `who` is already over it (counting nothing)."""
    limit = _limit(name)
    if limit is None or not who:
        return None
    count, window = limit
    now = time.time()
    bucket = int(now // window)
    key = f"rl:{name}:{who}:{bucket}"
    used = counters.get(key) + 1 if peek else _count(key, count, window)
    if used <= count:
        return None
    return max(1, int((bucket + 1) * window - now + 0.999))


# Far below a limit a worker counts a few requests locally and adds them to the shared counter at
# once (at most 1% of the limit per worker goes uncounted at any moment); from half the limit on,
# every request goes to the shared counter, so the limit itself holds exactly across workers.
_pending: dict[str, tuple[int, int]] = {}  # key -> (counted here, not yet shared; last shared value seen)
_pending_lock = threading.Lock()


def _count(key: str, count: int, window: int) -> int:
    batch = max(1, count // 100)
    with _pending_lock:
        waiting, shared = _pending.get(key, (0, 0))
        waiting += 1
        if waiting < batch and shared + waiting < count // 2:
            _pending[key] = (waiting, shared)
            return shared + waiting
        if len(_pending) > 10_000:
            _pending.clear()
        _pending[key] = (0, shared)
    shared = counters.add(key, waiting, window + 1)
    with _pending_lock:
        _pending[key] = (_pending.get(key, (0, 0))[0], shared)
    return shared


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
