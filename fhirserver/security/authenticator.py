"""`authenticate(django_request, fhir_request) -> Access | None`: the API's door.

Called by the HTTP adapter for every /fhir request (settings.FHIR["AUTHENTICATOR"]). It turns the
bearer token into an `Access`, refuses missing/invalid/expired tokens (401) and callers over their
rate limit (429), then asks the access decision (`Access.check_request`, security/access.py) what
can be refused from the request alone: operations, compartment searches of another patient, `_has`
and chained types, system-wide search and history.
"""
from __future__ import annotations

import time

from django.conf import settings

from fhirserver.core.errors import FhirError
from fhirserver.core.request import FhirRequest
from fhirserver.security import ratelimit, tokens
from fhirserver.security.access import Access

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
