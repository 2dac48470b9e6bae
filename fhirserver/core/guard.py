"""The one place every interaction asks whether the caller may do it.

`request.access` is set by the security layer (SMART scopes); None means the request is trusted
(security disabled, or an internal call such as $digitize writing its own results).
"""
from __future__ import annotations

from fhirserver.core.request import FhirRequest


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
