"""The seam every HTTP edge shares: Django request <-> FhirRequest and FhirResponse -> Django response.

The FHIR endpoint (fhirserver.api.views), the audit log's (fhirserver.api.audit), the `$digitize`
status URL (ingestion.edge.views) and the security middleware all use these, so none of them reaches
into another edge's view module.
"""
from __future__ import annotations

import base64
from functools import lru_cache
from urllib.parse import parse_qsl

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from fhirserver.api.negotiation import is_xml
from fhirserver.core.errors import FhirError
from fhirserver.core.request import FhirRequest, FhirResponse
from resources import decimals
from resources import xml as fhir_xml


def base_url(request: HttpRequest) -> str:
    return settings.FHIR["BASE_URL"].rstrip("/") or request.build_absolute_uri("/fhir").rstrip("/")


def request_headers(request: HttpRequest) -> dict[str, str]:
    """The request's HTTP headers, names in lower case (as FhirRequest.headers holds them)."""
    return {k[5:].replace("_", "-").lower(): v for k, v in request.META.items() if k.startswith("HTTP_")}


def authenticate(request: HttpRequest, fhir_request: FhirRequest):
    """The caller's access context from the security layer (settings.FHIR["AUTHENTICATOR"]); None when
    security is off. Raises FhirError (401) when a token is needed and missing or bad."""
    path = settings.FHIR.get("AUTHENTICATOR")
    return _import(path)(request, fhir_request) if path else None


@lru_cache(maxsize=8)
def _import(path: str):
    return import_string(path)


def render(
    request: HttpRequest, fhir_request: FhirRequest, response: FhirResponse, media_type: str, query
) -> HttpResponse:
    resource = response.resource
    pretty = any(k == "_pretty" and v == "true" for k, v in query)
    if response.json_text is not None and resource is None:
        if not pretty and not is_xml(media_type):
            return _with_headers(request, response, HttpResponse(
                response.json_text, status=response.status, content_type=f"{media_type}; charset=utf-8"))
        resource = decimals.loads(response.json_text)
    if response.raw is not None:
        http = HttpResponse(
            response.raw, status=response.status, content_type=response.content_type or "application/octet-stream"
        )
    elif resource is not None and _wants_raw_binary(request, fhir_request, resource):
        http = HttpResponse(
            base64.b64decode(resource.get("data", "")), status=response.status, content_type=resource["contentType"]
        )
        _confine_raw_binary(http, resource["contentType"])
    elif resource is not None:
        http = HttpResponse(
            _serialise(resource, media_type, pretty),
            status=response.status,
            content_type=f"{media_type}; charset=utf-8",
        )
    else:
        http = HttpResponse(status=response.status)
        if response.status not in (204, 304):
            http["Content-Type"] = f"{media_type}; charset=utf-8"
    return _with_headers(request, response, http)


def _with_headers(request: HttpRequest, response: FhirResponse, http: HttpResponse) -> HttpResponse:
    for name, value in response.headers.items():
        http[name] = value
    if request.method == "HEAD":
        http.content = b""
    return http


# Stored bytes that a browser shows without running anything; everything else (HTML, SVG, XML, scripts)
# is served as a download, and nothing served raw may run script on this origin.
PASSIVE_MEDIA_TYPES = {"application/pdf", "text/plain", "image/png", "image/jpeg", "image/gif", "image/webp",
                       "image/tiff", "image/heic", "image/heif", "image/bmp"}


def _confine_raw_binary(http: HttpResponse, content_type: str) -> None:
    media = content_type.split(";")[0].strip().lower()
    http["X-Content-Type-Options"] = "nosniff"
    if media != "application/pdf":  # a sandboxed PDF would not display at all
        http["Content-Security-Policy"] = "sandbox; default-src 'none'"
    if media not in PASSIVE_MEDIA_TYPES:
        http["Content-Disposition"] = "attachment"


def is_binary_read(fhir_request: FhirRequest) -> bool:
    return (
        fhir_request.resource_type == "Binary"
        and fhir_request.kind in ("instance", "vread")
        and fhir_request.method == "GET"
    )


def _wants_raw_binary(request: HttpRequest, fhir_request: FhirRequest, resource: dict) -> bool:
    """A read of a Binary answers in the Binary's own media type unless FHIR is asked for."""
    if resource.get("resourceType") != "Binary" or not is_binary_read(fhir_request) or "contentType" not in resource:
        return False
    accept = request.META.get("HTTP_ACCEPT", "")
    if any(k == "_format" for k, _ in parse_qsl(request.META.get("QUERY_STRING", ""))):
        return False
    return bool(accept) and "json" not in accept and "*/*" not in accept and "fhir" not in accept


def _serialise(resource: dict, media_type: str, pretty: bool = False) -> str:
    if not is_xml(media_type):
        return decimals.dumps(resource, pretty=pretty)  # decimals as they came: 13.50 stays 13.50
    try:
        return fhir_xml.to_document(resource, pretty)
    except fhir_xml.XmlError as exc:  # stored content the R4 definitions do not describe: a server fault
        raise FhirError(
            500,
            f"The {resource.get('resourceType')} cannot be written as XML: {exc.message}",
            issue_code="exception",
            code="XML_NOT_REPRESENTABLE",
            expression=[exc.expression] if exc.expression else None,
        ) from None


def render_error(error: FhirError, media_type: str = "application/fhir+json") -> HttpResponse:
    http = HttpResponse(
        _serialise(error.outcome(), media_type), status=error.status, content_type=f"{media_type}; charset=utf-8"
    )
    for name, value in error.headers.items():
        http[name] = value
    return http
