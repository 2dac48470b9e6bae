"""The FHIR endpoint: Django request -> FhirRequest -> core router -> Django response.

Everything FHIR-specific happens in fhirserver.core; this module only negotiates formats, parses
bodies and turns every error into an OperationOutcome (never a stack trace). Rendering and the
caller's access context come from fhirserver.api.http, the seam all HTTP edges share.
"""
from __future__ import annotations

import base64
import logging
from contextlib import suppress
from urllib.parse import parse_qsl

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from fhirserver.api import failures
from fhirserver.api.http import authenticate, base_url, is_binary_read, render, render_error, request_headers
from fhirserver.api.negotiation import FHIR_XML, JSON_TYPES, XML_TYPES, request_media_type, response_media_type
from fhirserver.core import router
from fhirserver.core.errors import FhirError
from fhirserver.core.request import FhirRequest
from fhirserver.operations import registry
from resources import xml as fhir_xml

log = logging.getLogger("fhirserver.request")
BODY_METHODS = {"POST", "PUT", "PATCH"}


@csrf_exempt
def fhir_endpoint(request: HttpRequest, path: str = "") -> HttpResponse:
    media_type = "application/fhir+json"
    try:
        query = parse_qsl(request.META.get("QUERY_STRING", ""), keep_blank_values=True)
        format_param = next((v for k, v in query if k == "_format"), None)
        accept = request.META.get("HTTP_ACCEPT") or _xml_request_type(request)
        with suppress(FhirError):  # known before the body is read, so that body errors answer in the client's format
            media_type = response_media_type(format_param, accept)
        fhir_request = build_request(request, path, query, with_body=False)
        fhir_request.text_response = True
        try:
            media_type = response_media_type(format_param, accept)
        except FhirError:
            # A Binary may be asked for in its own media type; $export answers a wrong Accept itself (a 400).
            if not is_binary_read(fhir_request) and fhir_request.operation != "$export":
                raise
        # The caller is known before the body is read: an anonymous request never costs a parse.
        fhir_request.access = authenticate(request, fhir_request)
        searched = len(fhir_request.query)
        read_body(fhir_request, request)
        if fhir_request.access is not None and len(fhir_request.query) > searched:  # a form-encoded search
            fhir_request.access.check_request(fhir_request)
        response = router.dispatch(fhir_request)
        return render(request, fhir_request, response, media_type, query)
    except FhirError as error:
        return render_error(error, media_type)
    except RequestDataTooBig:
        return render_error(_body_too_large(request, path), media_type)
    except DatabaseError as exc:
        return render_error(failures.database_error(exc, request), media_type)
    except RecursionError:  # a shape no limit foresaw: the client's input, never a 500
        return render_error(FhirError(400, "The request is nested too deeply to process", issue_code="too-costly",
                                      code="LIMIT_NESTING"), media_type)
    except Exception:  # noqa: BLE001 - the one place that turns a bug into a 500 OperationOutcome
        log.exception("unhandled error on %s %s", request.method, request.path)
        error = FhirError(
            500,
            f"Internal error; request id {getattr(request, 'request_id', '-')}",
            issue_code="exception",
            code="INTERNAL",
        )
        return render_error(error, media_type)


def _body_too_large(request: HttpRequest, path: str) -> FhirError:
    """413 for a body over DATA_UPLOAD_MAX_MEMORY_SIZE: in the operation's own words when it has them
    ($digitize: DOCUMENT_TOO_LARGE with the document limit), whichever layer notices the size first."""
    size = int(request.META.get("CONTENT_LENGTH") or 0)
    with suppress(FhirError):
        target = router.parse_target(path)
        if target["operation"]:
            level = target["kind"].removeprefix("operation-")
            operation = registry.find(target["operation"], target["resource_type"], level)
            if operation is not None and operation.body_too_large is not None:
                return operation.body_too_large(size)
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return FhirError(413, f"The request body is {size:,} bytes, larger than this server accepts ({limit:,} bytes)",
                     issue_code="too-costly", code="BODY_TOO_LARGE")


def _xml_request_type(request: HttpRequest) -> str | None:
    """Without Accept, a client that sends XML gets XML back."""
    media = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    return media if media in XML_TYPES else None


def build_request(
    request: HttpRequest, path: str, query: list[tuple[str, str]], *, with_body: bool = True
) -> FhirRequest:
    method = "GET" if request.method == "HEAD" else request.method.upper()
    url_base = base_url(request)
    target = router.parse_target(path)
    content_type = request.META.get("CONTENT_TYPE", "")
    headers = request_headers(request)
    fhir_request = FhirRequest(method=method, base_url=url_base, headers=headers, content_type=content_type, **target)
    fhir_request.query = [(k, v) for k, v in query if k not in ("_format", "_pretty")]
    if with_body:
        read_body(fhir_request, request)
    return fhir_request


def read_body(fhir_request: FhirRequest, request: HttpRequest) -> None:
    takes_body = fhir_request.kind in ("system", "type", "instance", "search") or (fhir_request.kind or "").startswith(
        "operation-"
    )
    if fhir_request.method in BODY_METHODS and takes_body and request.body:
        _parse_body(fhir_request, request, fhir_request.content_type)


def _parse_body(fhir_request: FhirRequest, request: HttpRequest, content_type: str) -> None:
    media, _ = request_media_type(content_type)
    raw = request.body
    fhir_request.raw_body = raw
    if media in JSON_TYPES or media in ("application/json-patch+json", "application/merge-patch+json"):
        fhir_request.body = failures.parse_json(raw)
        return
    if media in XML_TYPES and (body := _xml_body(fhir_request, raw, media)) is not None:
        fhir_request.body = body
        return
    if media == "application/x-www-form-urlencoded" and fhir_request.kind == "search":
        fhir_request.query += parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        return
    if fhir_request.kind and fhir_request.kind.startswith("operation-"):
        return  # operations such as $digitize read raw or multipart bodies themselves
    if fhir_request.resource_type == "Binary" and fhir_request.kind in ("type", "instance"):
        # A Binary may be sent in its own media type; it is stored as a Binary resource.
        binary = {
            "resourceType": "Binary",
            "contentType": media or "application/octet-stream",
            "data": base64.b64encode(raw).decode(),
        }
        if fhir_request.id:
            binary["id"] = fhir_request.id
        fhir_request.body = binary
        return
    raise FhirError(
        415,
        f"Content-Type '{content_type or '(none)'}' is not supported; send application/fhir+json or "
        "application/fhir+xml",
        issue_code="not-supported",
        code="MEDIA_TYPE_NOT_SUPPORTED",
    )


def _xml_body(fhir_request: FhirRequest, raw: bytes, media: str) -> dict | None:
    """A FHIR XML body as the JSON dict the core takes. application/xml and text/xml sent to a Binary or
    an operation may be a document of its own (stored natively, read by $digitize): None unless its
    root is a FHIR resource."""
    native_possible = media != FHIR_XML and (
        (fhir_request.kind or "").startswith("operation-")
        or (fhir_request.resource_type == "Binary" and fhir_request.kind in ("type", "instance"))
    )
    try:
        root = fhir_xml.parse_document(raw)
        if native_possible and not fhir_xml.is_fhir_document(root):
            return None
        return fhir_xml.resource_from_element(root)
    except fhir_xml.XmlError as exc:
        if native_possible and exc.expression is None:
            return None
        raise FhirError(
            400,
            f"The body is not valid FHIR XML: {exc.message}",
            issue_code="structure",
            code="MALFORMED_XML",
            expression=[exc.expression] if exc.expression else None,
        ) from None


def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> HttpResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return JsonResponse({"status": "ready", "database": connection.vendor})
    except Exception as exc:  # noqa: BLE001 - any database failure means not ready
        return JsonResponse({"status": "unavailable", "reason": type(exc).__name__}, status=503)


def not_found_outcome(request: HttpRequest, exception=None) -> HttpResponse:
    return render_error(FhirError(404, f"Nothing lives at {request.path}", issue_code="not-found", code="NO_ROUTE"))


def server_error_outcome(request: HttpRequest) -> HttpResponse:
    """Django's handler500: also what a middleware's failure ends in (a database that went away: 503)."""
    return failures.server_error(request)


