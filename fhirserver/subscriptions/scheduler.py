"""The sweep: what no commit hook will start by itself.

An in-process job pool forgets its queue when the process stops, a retry waits for its time, a
heartbeat falls due, a lease of a dead worker runs out. Every TICK_SECONDS a daemon thread of the
web process (started from fhirserver/wsgi.py, so runserver and gunicorn alike) wakes the matcher
when outbox rows wait, the delivery of each rest-hook subscription with due work, and keeps the
websocket server up (one process of a gunicorn pool holds the port; the others keep trying, so a
restarted worker takes over). Every kind of work it starts claims its rows first: several
processes sweeping at once do each piece of work once.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connections
from django.db.models import Exists, F, OuterRef, Q

from fhirserver import jobs
from fhirserver.subscriptions import delivery, matching, outbox, websocket
from fhirserver.subscriptions.background import background_priority, now
from fhirserver.subscriptions.models import Notification, SubscriptionState

log = logging.getLogger("fhirserver.subscriptions")
_thread: threading.Thread | None = None
_stop = threading.Event()
_last_cleanup = 0.0


def start() -> None:
    """Start the sweep thread once per process."""
    global _thread
    if _thread is not None and _thread.is_alive():
        return
    _stop.clear()
    _thread = threading.Thread(target=_loop, name="subscriptions-sweep", daemon=True)
    _thread.start()


def stop() -> None:
    _stop.set()
    if _thread is not None:
        _thread.join(timeout=5)


def _loop() -> None:
    background_priority()
    try:
        while not _stop.is_set():
            try:
                close_old_connections()
                tick()
            except Exception:  # noqa: BLE001 - the sweep must survive a busy or restarting database
                log.exception("subscriptions sweep failed; trying again")
            _stop.wait(settings.SUBSCRIPTIONS["TICK_SECONDS"])
    finally:
        connections.close_all()  # this thread's own connection


def tick() -> None:
    if settings.SUBSCRIPTIONS["WEBSOCKET_PORT"]:
        websocket.start()
    if outbox.waiting():
        matching.wake()
    moment = now()
    pending = Notification.objects.filter(subscription=OuterRef("pk"), event_number__gt=OuterRef("delivered_upto"))
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=moment)
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=moment)
    rest_hooks = SubscriptionState.objects.filter(free, due, channel_type=SubscriptionState.REST_HOOK)
    work = rest_hooks.filter(Q(status=SubscriptionState.REQUESTED)
                             | Q(Exists(pending), status=SubscriptionState.ACTIVE)
                             | Q(status=SubscriptionState.ACTIVE, heartbeat_seconds__gt=0))
    for pk, heartbeat, last_sent, status, has_pending, retry_at, upto in work.annotate(
            has_pending=Exists(pending)).values_list("pk", "heartbeat_seconds", "last_sent_at", "status",
                                                     "has_pending", "next_attempt_at", "delivered_upto"):
        if status == SubscriptionState.ACTIVE and not has_pending and heartbeat:
            if last_sent is not None and last_sent + timedelta(seconds=heartbeat) > moment:
                continue
        if _sent_already(pk, (status, retry_at, upto, last_sent)):
            continue
        delivery.wake(pk)
    _cleanup(moment)


_sent_to_celery: dict[int, tuple] = {}  # pk -> (what its state was, when) at the last task sent for it


def _sent_already(pk: int, state: tuple) -> bool:
    """On Celery, whether a task for this very work was sent less than a lease ago and may still be queued.
    The in-process pool knows what it holds; a broker does not, and a sweep sending a task per second for
    each of a thousand subscriptions waiting for their handshake buried the workers under duplicates. Any
    change of the state (delivered further, a retry scheduled, a status) is new work and sent at once; a
    task lost with its worker is sent again once a lease has passed."""
    if not jobs.uses_celery():
        return False
    clock = time.monotonic()
    last = _sent_to_celery.get(pk)
    if last is not None and last[0] == state and clock - last[1] < settings.SUBSCRIPTIONS["LEASE_SECONDS"]:
        return True
    _sent_to_celery[pk] = (state, clock)
    return False


def _cleanup(moment) -> None:
    """Delivered events older than RETENTION_DAYS go (hourly); undelivered ones stay."""
    global _last_cleanup
    if time.monotonic() - _last_cleanup < 3600:
        return
    _last_cleanup = time.monotonic()
    cutoff = moment - timedelta(days=settings.SUBSCRIPTIONS["RETENTION_DAYS"])
    Notification.objects.filter(timestamp__lt=cutoff, event_number__lte=F("subscription__delivered_upto")).delete()
