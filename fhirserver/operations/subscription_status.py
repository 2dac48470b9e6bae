"""Subscription/$status and Subscription/[id]/$status (Backport IG): a searchset of status Parameters.

Type level takes `id` and `status` (each repeatable, ORed); only the caller's own subscriptions
are listed. Each entry is the SubscriptionStatus profile on Parameters, of type `query-status`,
with the event counter and, for a subscription in `error`, why.
"""
from __future__ import annotations

from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.operations.registry import Operation, register
from fhirserver.subscriptions import notifications
from fhirserver.subscriptions.selectors import owned, parameter_values


def status(request: FhirRequest) -> FhirResponse:
    states = owned(request, parameter_values(request, "id"))
    wanted = set(parameter_values(request, "status"))
    if wanted and not request.id:
        states = [s for s in states if s.status in wanted]
    entries = []
    for state in states:
        resource = notifications.status_parameters(state, request.base_url, "query-status")
        entries.append({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource, "search": {"mode": "match"}})
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}
    return FhirResponse(status=200, resource=bundle)


register(Operation(
    name="status", handler=status, resource_types=("Subscription",), levels=("type", "instance"),
    definition="http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-status",
))
