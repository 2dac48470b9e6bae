"""Plain request/response values between the HTTP adapter and the FHIR core.

The core never sees Django's HttpRequest: views build a `FhirRequest`, call a handler, and
render the `FhirResponse` it returns. Tests and the transaction processor call handlers the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FhirRequest:
    method: str
    base_url: str  # "http://host/fhir", no trailing slash
    resource_type: str | None = None
    id: str | None = None
    version_id: str | None = None
    kind: str | None = None  # route kind: system, type, instance, vread, history, search, metadata, operation-*
    operation: str | None = None  # "$validate", "$everything", ... with the "$"
    compartment: tuple[str, str] | None = None  # ("Patient", "123") for /Patient/123/Observation
    query: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: Any = None  # parsed JSON (dict/list) or None
    raw_body: bytes = b""
    content_type: str = ""
    assigned_id: str | None = None  # id a transaction pre-assigned to a POST entry (urn:uuid targets)
    access: Any = None  # fhirserver.security's access context, None when security is off
    user: Any = None  # Django user for web sessions (review page), else None
    text_response: bool = False  # the HTTP layer renders the reply: a handler may answer FhirResponse.json_text

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def params(self, name: str) -> list[str]:
        return [v for k, v in self.query if k == name]


@dataclass
class FhirResponse:
    status: int = 200
    resource: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # a body served as-is (Binary in its own media type)
    json_text: str | None = None  # the resource already serialised as compact JSON (search Bundles)
    content_type: str | None = None
