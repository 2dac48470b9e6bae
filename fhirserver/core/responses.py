"""Building responses the way the RESTful API says: version headers and the Prefer header."""
from __future__ import annotations

from email.utils import format_datetime

from fhirserver.core.errors import operation_outcome
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.storage.repository import StoredResource


def version_headers(stored: StoredResource, base_url: str | None = None) -> dict[str, str]:
    headers = {"ETag": stored.etag, "Last-Modified": format_datetime(stored.last_updated, usegmt=True)}
    if base_url is not None:
        headers["Location"] = f"{base_url}/{stored.location}"
    return headers


def prefer_return(request: FhirRequest) -> str:
    """The `return=` of the Prefer header: minimal, representation (default) or OperationOutcome."""
    for part in (request.header("prefer") or "").split(";"):
        for token in part.split(","):
            name, _, value = token.strip().partition("=")
            if name.strip() == "return":
                return value.strip().strip('"')
    return "representation"


def written(request: FhirRequest, stored: StoredResource, status: int, message: str) -> FhirResponse:
    """The response to a create, update or patch, shaped by Prefer: return=..."""
    headers = version_headers(stored, request.base_url)
    preference = prefer_return(request)
    if preference == "minimal":
        return FhirResponse(status=status, headers=headers)
    if preference == "OperationOutcome":
        outcome = operation_outcome([{"severity": "information", "code": "informational", "diagnostics": message}])
        return FhirResponse(status=status, resource=outcome, headers=headers)
    return FhirResponse(status=status, resource=stored.content, headers=headers)
