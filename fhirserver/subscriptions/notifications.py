"""Notification Bundles (R4: `history`, the SubscriptionStatus Parameters first) and status Parameters.

Payload content decides what an event carries (Backport IG, Payloads): `empty` names no resource;
`id-only` puts the focus (and additional context) in `notification-event` and one entry per resource
with `fullUrl` and `request`; `full-resource` adds each resource as it is now (only when the owner
may still read it). Every entry has a `request`, as a history Bundle must (bdl-3, bdl-4).
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import NamedTuple

from fhirserver.storage import repository
from fhirserver.subscriptions import topics
from fhirserver.subscriptions.models import Notification, SubscriptionState
from fhirserver.subscriptions.owner import access_of


class Event(NamedTuple):
    """A Notification row as the Bundles read it (plain values: a model instance each cost more than the rest)."""
    event_number: int
    timestamp: datetime
    focus: str
    interaction: str
    additional_context: list


def pending(state: SubscriptionState, limit: int) -> list[Event]:
    """The oldest events not yet accepted by the endpoint, in eventNumber order."""
    rows = (Notification.objects.filter(subscription_id=state.pk, event_number__gt=state.delivered_upto)
            .order_by("event_number").values_list(*Event._fields)[:limit])
    return [Event(*row) for row in rows]


def instant(value: datetime | None = None) -> str:
    return repository.format_instant(value or datetime.now(timezone.utc))


def status_parameters(state: SubscriptionState, base_url: str, kind: str,
                      events: list[Notification] = (), content: str | None = None) -> dict:
    """The backport SubscriptionStatus profile on Parameters."""
    content = content or state.content
    reference = {"reference": f"{base_url}/Subscription/{state.logical_id}"}
    parameters = [{"name": "subscription", "valueReference": reference}]
    if state.topic and content != "empty":
        parameters.append({"name": "topic", "valueCanonical": state.topic})
    parameters.append({"name": "status", "valueCode": state.status})
    parameters.append({"name": "type", "valueCode": kind})
    parameters.append({"name": "events-since-subscription-start", "valueString": str(state.events_since_start)})
    for event in events:
        parts = [{"name": "event-number", "valueString": str(event.event_number)},
                 {"name": "timestamp", "valueInstant": instant(event.timestamp)}]
        if content != "empty":
            parts.append({"name": "focus", "valueReference": {"reference": f"{base_url}/{_unversioned(event.focus)}"}})
            parts += [{"name": "additional-context", "valueReference": {"reference": f"{base_url}/{ref}"}}
                      for ref in event.additional_context]
        parameters.append({"name": "notification-event", "part": parts})
    if state.error:
        parameters.append({"name": "error", "valueCodeableConcept": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/subscription-error", "code": "no-response",
                        "display": "No Response"}], "text": state.error}})
    return {"resourceType": "Parameters", "id": str(uuid.uuid4()), "meta": {"profile": [topics.PROFILE_STATUS]},
            "parameter": parameters}


def bundle(state: SubscriptionState, base_url: str, kind: str, events: list[Notification] = (),
           content: str | None = None) -> dict:
    content = content or state.content
    status = status_parameters(state, base_url, kind, events, content)
    operation = "$events" if kind == "query-event" else "$status"
    entries = [{"fullUrl": f"urn:uuid:{status['id']}", "resource": status,
                "request": {"method": "GET", "url": f"{base_url}/Subscription/{state.logical_id}/{operation}"},
                "response": {"status": "200"}}]
    if content != "empty":
        entries += _resource_entries(state, base_url, events, content)
    return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "meta": {"profile": [topics.PROFILE_NOTIFICATION]},
            "type": "history", "timestamp": instant(), "entry": entries}


def _resource_entries(state: SubscriptionState, base_url: str, events: list[Notification], content: str) -> list[dict]:
    access = access_of(state)
    entries, seen = [], set()
    for event in events:
        focus = _unversioned(event.focus)
        method = {"create": "POST", "update": "PUT", "delete": "DELETE"}.get(event.interaction, "PUT")
        items = [(focus, method)] + [(ref, "GET") for ref in event.additional_context]
        for reference, verb in items:
            if reference in seen:
                continue
            seen.add(reference)
            resource_type, id = reference.split("/", 1)
            url = reference if verb in ("GET", "PUT", "DELETE") else resource_type
            entry: dict = {"fullUrl": f"{base_url}/{reference}", "request": {"method": verb, "url": url}}
            if content == "full-resource":
                stored = repository.current(resource_type, id)
                if stored is not None and not stored.deleted and (access is None or access.can_read(resource_type,
                                                                                                      stored.content)):
                    entry["resource"] = stored.content
                    entry["response"] = {"status": "201" if verb == "POST" else "200",
                                         "etag": f'W/"{stored.version}"'}
                else:  # gone, or no longer the owner's to see: the entry says so and carries nothing
                    entry["response"] = {"status": "404" if stored is None or stored.deleted else "403"}
            entries.append(entry)
    return entries


def _unversioned(reference: str) -> str:
    return reference.split("/_history", 1)[0]
