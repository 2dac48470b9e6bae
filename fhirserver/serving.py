"""gunicorn's configuration for `make serve` (`gunicorn -c python:fhirserver.serving ...`).

- A request line or header past gunicorn's own limits gets the FHIR answer (an OperationOutcome, 414
  or 431) instead of gunicorn's HTML page: gunicorn answers those before Django ever sees them.
- The worker timeout stays above the request's database budget (settings.FHIR["LIMITS"]), so a slow
  request is stopped by the server's bound with a 4xx, not by a killed worker; and a worker that is
  killed anyway leaves no query behind (PostgreSQL's client_connection_check_interval).
"""
from __future__ import annotations

import json
import os

from gunicorn import util

limit_request_line = 8190  # gunicorn's maximum; FHIR["LIMITS"]["MAX_URL_BYTES"] answers below it
limit_request_field_size = 8190
timeout = int(os.environ.get("TIMEOUT", "300"))
graceful_timeout = 30


def _write_outcome(sock, status_int, reason, mesg):
    """gunicorn.util.write_error, speaking FHIR: the same status, an OperationOutcome body."""
    code = {400: "invalid", 403: "forbidden", 414: "too-costly", 431: "too-costly"}.get(status_int, "exception")
    text = f"{reason}: {mesg}" if mesg else reason
    body = json.dumps({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code,
                                                                     "diagnostics": text}]}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/fhir+json; charset=utf-8"
            f"\r\nCache-Control: no-store\r\nContent-Length: {len(body)}\r\n\r\n").encode("latin1")
    util.write_nonblock(sock, head + body)


util.write_error = _write_outcome  # the workers call util.write_error at request time
