"""What the HTTP layer answers when a request cannot be carried out: bad JSON, a database that timed
out or went away. Client input is always a 4xx; a database that is down is a 503 with Retry-After,
for the FHIR API and the OAuth endpoints alike; only a real bug is a 500.
"""
from __future__ import annotations

import logging
import re
import sys

from django.db import DataError, IntegrityError, InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse

from fhirserver.api.http import render_error
from fhirserver.core import limits
from fhirserver.core.errors import FhirError
from resources import decimals

log = logging.getLogger("fhirserver.request")
RETRY_AFTER_SECONDS = 5
# \u0000 that is not itself an escaped backslash followed by "u0000"
_ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def parse_json(raw: bytes):
    """The body as JSON, decimals with their text (resources.decimals); 400 for anything a FHIR server
    cannot store (bad JSON, NaN or Infinity, NUL, absurd nesting)."""
    limits.check_json_depth(raw)
    try:
        body = decimals.loads(raw, strict=True)
    except decimals.NotJsonNumber as exc:
        raise FhirError(400, f"The body is not valid JSON: {exc}", issue_code="structure",
                        code="MALFORMED_JSON") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise FhirError(400, f"The body is not valid JSON: {exc}", issue_code="structure",
                        code="MALFORMED_JSON") from None
    except RecursionError:
        raise limits.too_costly(400, "The JSON body is nested too deeply", "LIMIT_JSON_DEPTH") from None
    if _ESCAPED_NUL.search(raw):
        root = body.get("resourceType") if isinstance(body, dict) else None
        path = _nul_path(body, root if isinstance(root, str) else "$")
        if path is not None:
            raise FhirError(400, f"A JSON string contains a NUL character (\\u0000) at {path}; FHIR strings cannot "
                            "carry it", issue_code="invalid", code="JSON_NUL", expression=[path])
    return body


def _nul_path(node, path: str) -> str | None:
    if isinstance(node, str):
        return path if "\x00" in node else None
    if isinstance(node, dict):
        for key, value in node.items():
            where = (path if "\x00" in key else None) or _nul_path(value, f"{path}.{key}")
            if where:
                return where
    elif isinstance(node, list):
        for index, value in enumerate(node):
            where = _nul_path(value, f"{path}[{index}]")
            if where:
                return where
    return None


def unavailable() -> FhirError:
    return FhirError(503, f"The database is not reachable; retry in {RETRY_AFTER_SECONDS} s", issue_code="transient",
                     code="DATABASE_UNAVAILABLE", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def database_error(exc: BaseException, request: HttpRequest | None = None) -> FhirError:
    """The OperationOutcome for a database error that reached the HTTP layer."""
    if limits.statement_timed_out(exc):
        return limits.statement_too_long()
    if isinstance(exc, (OperationalError, InterfaceError)):
        log.warning("database unavailable on %s: %s", getattr(request, "path", "?"), exc)
        _drop_connection()
        return unavailable()
    if isinstance(exc, DataError):  # a value the validators let through and the database cannot store
        return FhirError(400, f"The request carries a value the database cannot store: {str(exc).splitlines()[0]}",
                         issue_code="invalid", code="VALUE_NOT_STORABLE")
    if isinstance(exc, IntegrityError):  # a write that raced another one for the same row
        return FhirError(409, "The write conflicted with a concurrent one; retry it", issue_code="conflict",
                         code="WRITE_CONFLICT")
    log.exception("database error on %s", getattr(request, "path", "?"))
    return FhirError(500, "Internal database error", issue_code="exception", code="INTERNAL")


def _drop_connection() -> None:
    try:
        connection.close()
    except Exception:  # noqa: BLE001 - it is gone either way; Django opens a new one next time
        pass


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a failure outside the FHIR view (middleware, the OAuth views)."""
    exc = sys.exc_info()[1]
    database_down = isinstance(exc, (OperationalError, InterfaceError)) and not limits.statement_timed_out(exc)
    if request.path.startswith("/oauth2/"):
        if database_down:
            _drop_connection()
            response = JsonResponse({"error": "temporarily_unavailable",
                                     "error_description": "The authorization server's database is not reachable"},
                                    status=503)
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        else:
            response = JsonResponse({"error": "server_error"}, status=500)
        response["Cache-Control"] = "no-store"
        return response
    if database_down:
        _drop_connection()
        return render_error(unavailable())
    if exc is not None and limits.statement_timed_out(exc):
        return render_error(limits.statement_too_long())
    return render_error(FhirError(500, "Internal error", issue_code="exception", code="INTERNAL"))
