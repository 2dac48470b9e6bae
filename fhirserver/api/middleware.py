"""One structured log line per request, and an X-Request-ID on every response."""
from __future__ import annotations

import json
import logging
import re
import time
import uuid

log = logging.getLogger("fhirserver.request")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")


class RequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        if log.isEnabledFor(logging.INFO):
            log.info(json.dumps({
                "method": request.method, "path": request.path, "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2), "request_id": request.request_id,
            }))
        return response
