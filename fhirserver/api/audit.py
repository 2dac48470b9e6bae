"""GET /fhir/AuditEvent[/audit-N]: the HTTP edge of the audit log (fhirserver.security.audit).

Other methods and ids go to the FHIR endpoint as usual.
"""
from __future__ import annotations

from urllib.parse import parse_qsl

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from fhirserver.api import http, views
from fhirserver.core.errors import FhirError
from fhirserver.security import audit


@csrf_exempt
def audit_endpoint(request: HttpRequest, path: str = "") -> HttpResponse:
    target = path.strip("/")
    fhir_path = f"AuditEvent/{target}" if target else "AuditEvent"
    if not audit.reads_the_log(request.method, target):
        return views.fhir_endpoint(request, fhir_path)
    try:
        query = parse_qsl(request.META.get("QUERY_STRING", ""), keep_blank_values=True)
        fhir_request = views.build_request(request, fhir_path, query)
        fhir_request.access = http.authenticate(request, fhir_request)
        response = audit.read_log(fhir_request, target)
        return http.render(request, fhir_request, response, "application/fhir+json", query)
    except FhirError as error:
        return http.render_error(error)
