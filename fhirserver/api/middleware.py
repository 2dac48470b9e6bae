"""One structured log line per request, and an X-Request-ID on every response."""
from __future__ import annotations

import json
import logging
import re
import time
import uuid

from django.db import connection

from fhirserver.api.http import render_error
from fhirserver.core import limits
from fhirserver.core.errors import FhirError

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


class RequestBoundsMiddleware:
    """The bounds of fhirserver.core.limits around every request: URL length (414), the database time
    of the request, and the per-statement timeout of the request thread's connection."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limits.mark_serving_thread()
        try:
            limits.check_url(request.path, request.META.get("QUERY_STRING", ""))
        except FhirError as error:
            return render_error(error)
        with connection.execute_wrapper(limits.DatabaseBudget()):
            return self.get_response(request)
