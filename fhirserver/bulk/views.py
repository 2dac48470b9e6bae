"""HTTP edge of bulk export: the status URL and the file download (the kick-off is a FHIR operation,
fhirserver/operations/export.py). Everything they answer is decided in fhirserver.bulk.status."""
from __future__ import annotations

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from fhirserver.api import failures, http
from fhirserver.bulk import status as bulk_status
from fhirserver.core.errors import FhirError
from fhirserver.core.request import FhirRequest


def _fhir_request(request: HttpRequest, kind: str) -> FhirRequest:
    fhir_request = FhirRequest(method=request.method.upper(), base_url=http.base_url(request), kind=kind,
                               headers=http.request_headers(request))
    fhir_request.access = http.authenticate(request, fhir_request)  # 401 without a valid token
    return fhir_request


@csrf_exempt
def export_status(request: HttpRequest, job_id) -> HttpResponse:
    try:
        fhir_request = _fhir_request(request, "bulk-status")
        response = bulk_status.status(fhir_request, job_id)
        return http.render(request, fhir_request, response, "application/fhir+json", [])
    except FhirError as error:
        return http.render_error(error)
    except DatabaseError as exc:
        return http.render_error(failures.database_error(exc, request))


@csrf_exempt
def export_file(request: HttpRequest, job_id, name: str) -> HttpResponse:
    try:
        fhir_request = _fhir_request(request, "bulk-file")
        if fhir_request.method not in ("GET", "HEAD"):
            raise FhirError(405, f"{fhir_request.method} is not allowed on an export file", code="METHOD_NOT_ALLOWED",
                            issue_code="not-supported")
        return bulk_status.download(fhir_request, job_id, name)
    except FhirError as error:
        return http.render_error(error)
    except DatabaseError as exc:
        return http.render_error(failures.database_error(exc, request))
