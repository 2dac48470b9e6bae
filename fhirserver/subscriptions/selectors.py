"""Reads the subscription operations share: the caller's subscriptions and operation parameters."""
from __future__ import annotations

from fhirserver.core.errors import FhirError, not_found
from fhirserver.core.request import FhirRequest
from fhirserver.subscriptions.models import SubscriptionState
from fhirserver.subscriptions.owner import same_owner


def parameter_values(request: FhirRequest, name: str) -> list[str]:
    """A parameter from the query string or from a Parameters body (POST)."""
    values = request.params(name)
    body = request.body
    if isinstance(body, dict) and body.get("resourceType") == "Parameters":
        for item in body.get("parameter") or []:
            if item.get("name") == name:
                values += [str(v) for k, v in item.items() if k.startswith("value")]
    return [v for value in values for v in value.split(",") if v]


def owned(request: FhirRequest, ids: list[str] | None = None) -> list[SubscriptionState]:
    """The instance's subscription, or at type level those `ids` (or all) that belong to the caller."""
    if request.id:
        state = SubscriptionState.objects.filter(logical_id=request.id).first()
        if state is None:
            raise not_found("Subscription", request.id)
        if not same_owner(state, request.access):
            raise FhirError(403, f"Subscription/{request.id} belongs to another client", issue_code="forbidden",
                            code="SUBSCRIPTION_OWNER")
        return [state]
    states = SubscriptionState.objects.order_by("pk")
    if ids:
        states = states.filter(logical_id__in=ids)
    return [s for s in states if same_owner(s, request.access)]
