"""What happens when a Subscription resource is written: accepted (or refused), owned, stored.

Runs inside the write's transaction (from the outbox observer). The server owns `status` and
`error`; `channel.header` values are secrets kept in `SubscriptionState` and removed from the stored
resource, so no read or history ever shows them. A rest-hook subscription starts `requested` and is
`active` after its handshake; a websocket subscription is `active` at once (its handshake is sent
when a client binds). Writing `off` stops it; writing `requested`/`active` to one in `error`
reactivates it (a new handshake, then the events it missed).
"""
from __future__ import annotations

from datetime import datetime, timezone

from django.db import transaction
from django.db.models import F, Max

from fhirserver.core.errors import FhirError
from fhirserver.search import api as search_api
from fhirserver.subscriptions import delivery, outbox, registration, topics
from fhirserver.subscriptions.models import OutboxEvent, SubscriptionState
from fhirserver.subscriptions.owner import access_of, current_base_url, current_owner
from fhirserver.subscriptions.status import is_internal_write, rewrite_version


def written(records: list) -> None:
    outbox.forget_watched()
    if is_internal_write():
        return
    for record in records:
        if record.deleted:
            SubscriptionState.objects.filter(logical_id=record.logical_id).update(status=SubscriptionState.OFF,
                                                                                  revision=F("revision") + 1)
            continue
        _accept(record)


def _accept(record) -> None:
    parsed = registration.parse(record.content)
    state = SubscriptionState.objects.select_for_update().filter(logical_id=record.logical_id).first()
    owner = current_owner()
    if state is None:
        start = OutboxEvent.objects.aggregate(top=Max("id"))["top"] or 0
        state = SubscriptionState(logical_id=record.logical_id, start_after=start, owner_client=owner.client,
                                  owner_scopes=owner.scopes, owner_patient=owner.patient,
                                  owner_trusted=owner.trusted, status="")
    elif not owner.trusted and (state.owner_trusted or state.owner_client != owner.client
                                or state.owner_patient != owner.patient):
        raise FhirError(403, f"Subscription/{record.logical_id} belongs to another client", issue_code="forbidden",
                        code="SUBSCRIPTION_OWNER")
    _check_owner_may_see(state, parsed)
    _dry_run(parsed)
    previous = (state.status, state.channel_type, state.endpoint)
    for name in ("topic", "resource_type", "channel_type", "endpoint", "mime_type", "content", "heartbeat_seconds",
                 "timeout_seconds", "max_count", "end"):
        setattr(state, name, getattr(parsed, name))
    state.query = [list(pair) for pair in parsed.query]
    state.base_url = current_base_url() or state.base_url
    if parsed.headers or "header" not in (record.content.get("channel") or {}):
        state.headers = parsed.headers  # an update without headers keeps the secrets it had
    state.status, state.error = _status(parsed, previous, state), ""
    if state.status in (SubscriptionState.REQUESTED, SubscriptionState.ACTIVE) and previous[0] != state.status:
        state.failures, state.failing_since, state.next_attempt_at = 0, None, None
    state.revision += 1
    state.save()
    _store_server_view(record, state)
    if state.status == SubscriptionState.REQUESTED:
        transaction.on_commit(lambda: delivery.wake(state.pk))


def _status(parsed, previous: tuple, state: SubscriptionState) -> str:
    if parsed.requested_status == "off":
        return SubscriptionState.OFF
    if parsed.end and parsed.end <= datetime.now(timezone.utc):
        return SubscriptionState.OFF
    was, channel_type, endpoint = previous
    changed = (channel_type, endpoint) != (state.channel_type, state.endpoint)
    if was in (SubscriptionState.ACTIVE, SubscriptionState.REQUESTED) and not changed:
        return was
    return SubscriptionState.ACTIVE if state.channel_type == SubscriptionState.WEBSOCKET \
        else SubscriptionState.REQUESTED


def _check_owner_may_see(state: SubscriptionState, parsed) -> None:
    access = access_of(state)
    if access is None:
        return
    if not access.can_read_type(parsed.resource_type):
        raise FhirError(403, f"The token's scopes do not allow reading {parsed.resource_type}, which this "
                             "subscription's notifications are about", issue_code="forbidden",
                        code="SUBSCRIPTION_SCOPE", expression=["Subscription.criteria"])
    if access.patient_id:
        for name, value in parsed.query:
            if name.split(":", 1)[0] in ("patient", "subject") and \
                    any(v.rsplit("/", 1)[-1] != access.patient_id for v in value.split(",")):
                raise FhirError(403, f"The token is confined to Patient/{access.patient_id}; it cannot subscribe to "
                                     f"{value}", issue_code="forbidden", code="OTHER_PATIENT",
                                expression=["Subscription.criteria"])


def _dry_run(parsed) -> None:
    """The search engine reads the filters now, so a filter it cannot run is refused, not silently dead."""
    topic = topics.find(parsed.topic) if parsed.topic else None
    query = list(topic.criteria if topic else ()) + list(parsed.query)
    try:
        search_api.match_records(parsed.resource_type, query + [("_id", "subscription-dry-run")])
    except FhirError as error:
        raise registration.invalid(f"The search engine cannot run these criteria: {error.diagnostics}",
                                   "Subscription.criteria", "SUBSCRIPTION_CRITERIA") from None


def _store_server_view(record, state: SubscriptionState) -> None:
    """The resource as the server holds it: no header secrets, the server's status and error."""
    content = record.content
    view = dict(content)
    channel = {k: v for k, v in (view.get("channel") or {}).items() if k not in ("header", "_header")}
    view["channel"] = channel
    view["status"] = state.status
    view.pop("error", None)
    if state.error:
        view["error"] = state.error
    if view == content:
        return
    content.clear()
    content.update(view)  # the same dict the write answers with: the response shows no secrets either
    rewrite_version(record, content)
