"""rest-hook delivery: at least once, in eventNumber order, with backoff for hours, then `error`.

One worker holds a subscription at a time (a lease in its state row, taken with one conditional
UPDATE; a worker that dies loses it when it runs out). The worker sends the oldest pending events
(up to maxCount in one Bundle). Before a send it records the highest event number being sent, so a
send that is repeated (no answer, a refusal, a worker killed mid-send) carries
`X-Notification-Retry: true`; a receiver that sees no such flag has never been sent those events. A refused or failed
send waits RETRY_BASE_SECONDS, doubling up to RETRY_MAX_SECONDS, and the later events wait behind
it (order is kept); after GIVE_UP_AFTER_SECONDS of failures the subscription is `error`, with the
reason in its resource and in `$status`, and its events stay for `$events` and for reactivation.

A `requested` subscription is first sent its handshake; a failed handshake is `error` at once (IG).
"""
from __future__ import annotations

import logging
import random
import urllib.error
import urllib.request
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.db.models.functions import Greatest

from fhirserver import jobs
from fhirserver.storage import repository
from fhirserver.subscriptions import notifications, registration
from fhirserver.subscriptions.background import background_priority, config, now
from fhirserver.subscriptions.models import Notification, SubscriptionState
from fhirserver.subscriptions.status import set_status
from resources import decimals

log = logging.getLogger("fhirserver.subscriptions")
KIND = "subscriptions-deliver"


def wake(pk: int) -> None:
    if jobs.uses_celery() or not jobs.is_queued_here(KIND, str(pk)):
        jobs.enqueue(KIND, str(pk))


def run(key: str) -> None:
    background_priority()
    state = _claim(int(key))
    if state is None:
        return
    try:
        _deliver(state)
    finally:
        SubscriptionState.objects.filter(pk=state.pk, lease_until=state.lease_until).update(lease_until=None)


def _claim(pk: int) -> SubscriptionState | None:
    moment = now()
    lease = moment + timedelta(seconds=config("LEASE_SECONDS"))
    claimed = SubscriptionState.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=moment), pk=pk,
        channel_type=SubscriptionState.REST_HOOK,
        status__in=[SubscriptionState.REQUESTED, SubscriptionState.ACTIVE]).update(lease_until=lease)
    if not claimed:
        return None
    state = SubscriptionState.objects.get(pk=pk)
    if state.next_attempt_at and state.next_attempt_at > moment:
        SubscriptionState.objects.filter(pk=pk).update(lease_until=None)
        return None
    return state


def _deliver(state: SubscriptionState) -> None:
    base_url = state.base_url or settings.FHIR.get("BASE_URL") or "http://localhost/fhir"
    if state.status == SubscriptionState.REQUESTED:
        ok, reason = _post(state, notifications.bundle(state, base_url, "handshake"), retry=False)
        if not ok:
            set_status(state, SubscriptionState.ERROR, f"The handshake failed: {reason}")
            return
        set_status(state, SubscriptionState.ACTIVE)
        _sent(state)
    limit = max(1, min(state.max_count or config("MAX_EVENTS_PER_NOTIFICATION"), config("MAX_EVENTS_PER_NOTIFICATION")))
    sent = False
    while True:
        events = notifications.pending(state, limit)
        if not events:
            break
        last = events[-1].event_number
        retry = events[0].event_number <= state.sending_upto
        if not _start_send(state, last):
            return  # the lease ran out and another worker has the subscription
        ok, reason = _send_events(state, base_url, events, retry)
        if not ok:
            _failed(state, reason)
            return
        SubscriptionState.objects.filter(pk=state.pk).update(delivered_upto=last)
        state.delivered_upto, sent = last, True
        if len(events) < limit:
            break
    if sent:
        _sent(state)
    if state.heartbeat_seconds and (state.last_sent_at is None or
                                    state.last_sent_at + timedelta(seconds=state.heartbeat_seconds) <= now()):
        ok, reason = _post(state, notifications.bundle(state, base_url, "heartbeat"), retry=False)
        if ok:
            _sent(state)
        else:
            _failed(state, reason)


def _send_events(state: SubscriptionState, base_url: str, events: list[Notification], retry: bool):
    if state.topic:
        return _post(state, notifications.bundle(state, base_url, "event-notification", events), retry=retry)
    return _send_classic(state, events, retry)


def _send_classic(state: SubscriptionState, events: list[Notification], retry: bool):
    """R4 rest-hook: an empty POST without payload; with one, PUT [endpoint]/[type]/[id] of each resource."""
    if not state.mime_type:
        return _post(state, None, retry=retry)
    for event in events:
        resource_type, id = event.focus.split("/_history", 1)[0].split("/", 1)
        stored = repository.current(resource_type, id)
        if stored is None or stored.deleted:
            continue
        ok, reason = _post(state, stored.content, retry=retry, method="PUT",
                           url=f"{state.endpoint.rstrip('/')}/{resource_type}/{id}")
        if not ok:
            return ok, reason
    return True, ""


def _post(state: SubscriptionState, body: dict | None, *, retry: bool, method: str = "POST", url: str | None = None):
    """One HTTP request to the endpoint: (ok, reason). Redirects are not followed."""
    url = url or state.endpoint
    try:
        registration.check_endpoint(state.endpoint)  # the rules may have tightened since it was accepted
    except Exception as error:  # noqa: BLE001 - a FhirError: the endpoint is no longer allowed
        return False, getattr(error, "diagnostics", str(error))
    data = decimals.dumpb(body) if body is not None else b""  # full-resource payloads keep their decimals' text
    request = urllib.request.Request(url, data=data, method=method)
    if body is not None:
        request.add_header("Content-Type", state.mime_type or "application/fhir+json")
    for header in state.headers:
        name, _, value = header.partition(":")
        request.add_header(name.strip(), value.strip())
    if retry:
        request.add_header("X-Notification-Retry", "true")
    timeout = state.timeout_seconds or config("TIMEOUT_SECONDS")
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(65536)
            return 200 <= response.status < 300, f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        return False, f"the endpoint answered HTTP {error.code}"
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return False, f"the endpoint could not be reached ({reason})"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _sent(state: SubscriptionState) -> None:
    moment = now()
    SubscriptionState.objects.filter(pk=state.pk).update(failures=0, failing_since=None, next_attempt_at=None,
                                                         last_sent_at=moment)
    state.failures, state.failing_since, state.next_attempt_at, state.last_sent_at = 0, None, None, moment


def _failed(state: SubscriptionState, reason: str) -> None:
    moment = now()
    since = state.failing_since or moment
    failures = state.failures + 1
    if (moment - since).total_seconds() >= config("GIVE_UP_AFTER_SECONDS"):
        SubscriptionState.objects.filter(pk=state.pk).update(failures=failures, next_attempt_at=None)
        set_status(state, SubscriptionState.ERROR,
                             f"Notifications could not be delivered since {notifications.instant(since)}: {reason}")
        log.warning("Subscription/%s given up: %s", state.logical_id, reason)
        return
    wait = min(config("RETRY_BASE_SECONDS") * 2 ** (failures - 1), config("RETRY_MAX_SECONDS"))
    wait *= random.uniform(0.9, 1.1)  # many subscriptions of one dead receiver do not retry in lock step
    SubscriptionState.objects.filter(pk=state.pk).update(failures=failures, failing_since=since,
                                                         next_attempt_at=moment + timedelta(seconds=wait))
    log.info("Subscription/%s delivery failed (%s); retry %d in %.0fs", state.logical_id, reason, failures, wait)


def _start_send(state: SubscriptionState, last: int) -> bool:
    """Record that events up to `last` are being sent (and renew the lease), in one conditional UPDATE;
    False when the lease was lost. Also re-reads the counter and status the notification reports."""
    lease = now() + timedelta(seconds=config("LEASE_SECONDS"))
    renewed = SubscriptionState.objects.filter(pk=state.pk, lease_until=state.lease_until).update(
        lease_until=lease, sending_upto=Greatest(F("sending_upto"), last))
    if not renewed:
        return False
    state.lease_until = lease
    state.sending_upto = max(state.sending_upto, last)
    state.refresh_from_db(fields=["events_since_start", "status", "error"])
    return True

