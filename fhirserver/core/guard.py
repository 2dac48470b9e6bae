"""The one place every interaction asks whether the caller may do it.

`request.access` is set by the security layer (SMART scopes); None means the request is trusted
(security disabled, or an internal call such as $digitize writing its own results).
"""
from __future__ import annotations

from collections.abc import Callable

from fhirserver.core.request import FhirRequest
from fhirserver.search.conditions import Where


def check(
    request: FhirRequest,
    interaction: str,
    resource_type: str,
    resource: dict | None = None,
    *,
    previous: dict | None = None,
) -> None:
    """Raise FhirError (401/403) unless `request.access` allows `interaction` on this resource.

    interaction: read, vread, search, history, create, update, patch, delete, operation.
    """
    if request.access is not None:
        request.access.check(interaction, resource_type, resource, previous=previous)


def can_see(request: FhirRequest, resource_type: str, resource: dict | None) -> bool:
    """For results assembled from many resources (history, bundles): filter instead of failing."""
    if request.access is None:
        return True
    return request.access.can_read(resource_type, resource)


def visible(request: FhirRequest) -> Callable[[str], Where] | None:
    """What the caller may see of a resource type, as a condition on stored records (the access
    decision's `search_q`, a search `Where`); None when the request is trusted. The search engine holds a search, each
    chain, `_has` and `_filter` step and each `_include`/`_revinclude` to it."""
    return request.access.search_q if request.access is not None else None


def confined_patient(request: FhirRequest) -> str | None:
    """The patient a token is confined to (patient-level scopes), None when it is not confined."""
    return getattr(request.access, "patient_id", None) if request.access is not None else None
