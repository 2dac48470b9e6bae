"""Subscription/[id]/$events (Backport IG): past events of a subscription as a notification Bundle.

`eventsSinceNumber` and `eventsUntilNumber` bound the event numbers (inclusive); `content` asks
for another payload level than the subscription's, never more than it was granted (a hint the
server may lower: `full-resource` on an `id-only` subscription answers `id-only`). Events are kept
for SUBSCRIPTIONS["RETENTION_DAYS"] after delivery, undelivered ones until delivered.
"""
from __future__ import annotations

from django.conf import settings

from fhirserver.core.errors import bad_request
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.operations.registry import Operation, register
from fhirserver.subscriptions import notifications
from fhirserver.subscriptions.selectors import owned, parameter_values

LEVELS = ("empty", "id-only", "full-resource")


def events(request: FhirRequest) -> FhirResponse:
    state = owned(request)[0]
    since, until = _number(request, "eventsSinceNumber"), _number(request, "eventsUntilNumber")
    rows = state.notifications.order_by("event_number")
    if since is not None:
        rows = rows.filter(event_number__gte=since)
    if until is not None:
        rows = rows.filter(event_number__lte=until)
    limit = settings.FHIR["MAX_COUNT"]
    selected = list(rows[:limit]) if since is not None else list(rows.order_by("-event_number")[:limit])[::-1]
    content = state.content
    asked = (parameter_values(request, "content") or [None])[0]
    if asked is not None:
        if asked not in LEVELS:
            raise bad_request(f"content must be one of {', '.join(LEVELS)}", code="EVENTS_CONTENT",
                              expression=["content"])
        content = LEVELS[min(LEVELS.index(asked), LEVELS.index(content))]
    return FhirResponse(status=200, resource=notifications.bundle(state, request.base_url, "query-event", selected,
                                                                  content))


def _number(request: FhirRequest, name: str) -> int | None:
    values = parameter_values(request, name)
    if not values:
        return None
    if not values[0].isdigit():
        raise bad_request(f"{name} must be an event number", code="EVENTS_NUMBER", expression=[name])
    return int(values[0])


register(Operation(
    name="events", handler=events, resource_types=("Subscription",), levels=("instance",),
    definition="http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/backport-subscription-events",
))
