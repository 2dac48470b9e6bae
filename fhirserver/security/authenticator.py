"""`authenticate(django_request, fhir_request) -> Access | None`: the API's door.

Called by the HTTP adapter for every /fhir request (settings.FHIR["AUTHENTICATOR"]). It turns the
bearer token into an `Access`, refuses missing/invalid/expired tokens (401) and callers over their
rate limit (429), and settles up front what the core's per-resource checks cannot see: operations,
compartment searches of another patient, `_has` and chained types, system-wide search and history.
"""
from __future__ import annotations

import time

from django.conf import settings

from fhirserver.core.errors import FhirError
from fhirserver.core.request import FhirRequest
from fhirserver.security import ratelimit, tokens
from fhirserver.security.access import Access, forbidden
from fhirserver.storage import repository

REALM = 'Bearer realm="fhir"'
PUBLIC_KINDS = {"metadata"}


def unauthorized(description: str) -> FhirError:
    header = f'{REALM}, error="invalid_token", error_description="{description}"'
    return FhirError(401, description, issue_code="login", code="UNAUTHORIZED", headers={"WWW-Authenticate": header})


def authenticate(django_request, fhir_request: FhirRequest) -> Access | None:
    if fhir_request.kind in PUBLIC_KINDS:
        return None
    header = django_request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        if not settings.FHIR.get("AUTH_REQUIRED", True):
            return None  # security off: trusted, and not audited
        django_request.fhir_audit = fhir_request
        raise unauthorized("An access token is required (Authorization: Bearer ...)")
    django_request.fhir_audit = fhir_request
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        raise unauthorized("The Authorization header must be 'Bearer <access token>'")
    state = tokens.lookup(raw.strip())
    if state is None:
        raise unauthorized("The access token is not known or was revoked")
    if state.expires_at <= time.time():
        raise unauthorized("The access token has expired")
    access = state.access
    django_request.fhir_access = access
    wait = ratelimit.hit("API_PER_CLIENT", access.client_id)
    if wait:
        raise ratelimit.too_many(wait, f"client {access.client_id}")
    access.check_request(fhir_request)
    return access


def check_request(access: Access, request: FhirRequest) -> None:
    """What can be refused from the request alone, before the core touches any resource."""
    kind, method = request.kind, request.method
    if kind and kind.startswith("operation-"):
        return _check_operation(access, request)
    if kind == "search" or (kind in ("type", "system") and method == "GET"):
        _check_search(access, request)
    elif kind == "history" and request.id is not None:
        _check_instance(access, request, "history")


def _check_search(access: Access, request: FhirRequest) -> None:
    if request.compartment and request.compartment[0] == "Patient" and access.patient_id \
            and request.compartment[1] != access.patient_id:
        raise forbidden(f"The token is confined to Patient/{access.patient_id}", code="OTHER_PATIENT")
    if request.resource_type:
        types = [request.resource_type]
    else:
        types = [t for value in request.params("_type") for t in value.split(",") if t]
        if not types and not request.compartment and not access.can_read_type("*"):
            raise forbidden("Searching every type needs a scope for every type (*.rs or *.read)")
    for name, _ in request.query:
        types += _types_named_by(name)
    for resource_type in types:
        if not access.can_read_type(resource_type):
            raise forbidden(f"The token's scopes do not allow searching {resource_type}")


def _types_named_by(name: str) -> list[str]:
    """Resource types a search parameter name reaches into: `_has:Type:...`, `param:Type.x`."""
    found = []
    for part in name.split("."):
        pieces = part.split(":")
        if pieces[0] == "_has" and len(pieces) > 1:
            found.append(pieces[1])
        elif len(pieces) > 1 and pieces[1][:1].isupper():
            found.append(pieces[1])
    return found


def _check_instance(access: Access, request: FhirRequest, interaction: str) -> None:
    stored = repository.current(request.resource_type, request.id)
    content = stored.content if stored is not None and not stored.deleted else None
    if content is None:
        access.check(interaction, request.resource_type)  # nothing to see; the core answers 404/410
    else:
        access.check(interaction, request.resource_type, content)


# Operations that only write what their name says, or only read like a search.
WRITING_OPERATIONS = {"$digitize": ("DocumentReference", "DiagnosticReport", "Observation")}
SEARCHING_OPERATIONS = {"$everything", "$lastn"}
# Bulk data: system tokens only, types by scope, per resource on $import (fhirserver.bulk.kickoff, inbound).
DECIDING_THEMSELVES = {"$export", "$import"}


def _check_operation(access: Access, request: FhirRequest) -> None:
    name = request.operation or ""
    if name in DECIDING_THEMSELVES:
        return
    if request.kind == "operation-instance":
        _check_instance(access, request, "operation")
    elif name in SEARCHING_OPERATIONS:
        access.check("search", request.resource_type or "*")
    elif name not in WRITING_OPERATIONS and name != "$validate":
        if request.resource_type is None and access.patient_id:
            raise forbidden(f"{name} at system level is not open to patient-confined tokens")
        access.check("operation", request.resource_type or "*")
    for resource_type in WRITING_OPERATIONS.get(name, ()):
        access.check("create", resource_type)
    if access.patient_id:
        named = [v.split("/")[-1] for k, v in request.query if k in ("patient", "subject")]
        if any(v != access.patient_id for v in named):
            raise forbidden(f"The token is confined to Patient/{access.patient_id}", code="OTHER_PATIENT")
    if name == "$validate" and request.resource_type:
        if not any(r.applies_to(request.resource_type) for r in access.rules):
            raise forbidden(f"The token has no scope for {request.resource_type}")
