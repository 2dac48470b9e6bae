"""The outbox: an event row for every write of a watched resource type, in the write's transaction.

`record(records)` runs inside the write transaction (called by the repository's write observer,
fhirserver/subscriptions/observer.py), so an event commits exactly when its write does: a crash before the
commit loses both, a crash after it leaves the event for the matcher. It inserts rows and nothing
else (one multi-row INSERT per write or Bundle); matching and delivery run after the commit, so a
slow or dead subscriber never slows a write.

Which types are watched (a type some subscription that is not `off` listens to) is cached per
process for a second; a Subscription written in this process refreshes it at once.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

from django.db import connection

from fhirserver.subscriptions.models import OutboxEvent, SubscriptionState

WATCH_CACHE_SECONDS = 1.0
_watched: tuple[float, frozenset[str]] = (0.0, frozenset())
_lock = threading.Lock()


def watched_types() -> frozenset[str]:
    global _watched
    at, types = _watched
    if time.monotonic() - at < WATCH_CACHE_SECONDS:
        return types
    types = frozenset(
        SubscriptionState.objects.exclude(status=SubscriptionState.OFF)
        .values_list("resource_type", flat=True).distinct()
    )
    with _lock:
        _watched = (time.monotonic(), types)
    return types


def forget_watched() -> None:
    global _watched
    with _lock:
        _watched = (0.0, frozenset())


def record(records: list) -> bool:
    """An event row for each record of a watched type; whether any was recorded."""
    watched = watched_types()
    if not watched:
        return False
    now = connection.ops.adapt_datetimefield_value(datetime.now(timezone.utc))
    rows = [(r.resource_type, r.logical_id, r.version, bool(r.deleted), now)
            for r in records if r.resource_type in watched]
    if not rows:
        return False
    table = OutboxEvent._meta.db_table
    for start in range(0, len(rows), 1000):  # one multi-row INSERT per write or Bundle
        chunk = rows[start:start + 1000]
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {table} (resource_type, logical_id, version, deleted, recorded_at) VALUES "
                           + ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk)), [v for row in chunk for v in row])
    return True


def waiting() -> bool:
    """Whether any event waits, as a probe of the primary key's index: the outbox churns (every row is
    deleted within a second), and a plain EXISTS walks the table's dead rows until a vacuum."""
    return bool(list(OutboxEvent.objects.order_by("id").values_list("id", flat=True)[:1]))
