"""Matching: outbox events -> numbered notifications of the subscriptions they concern.

One pass at a time in all processes (a session advisory lock on PostgreSQL, taken before any work;
a thread lock on SQLite) takes batches of outbox rows in order and, for each subscription watching
their type, asks in turn:
1. the topic's trigger: the interaction, and its FHIRPath test on %previous / %current;
2. the owner's access (`Access.can_read` on the version written): a patient-scoped app never hears
   of another patient's resources, not even their ids;
3. the topic's criteria and the subscription's filters (or a classic subscription's criteria): one
   search through the search engine per distinct query and batch, restricted to the batch's ids.
   A cheap test first spares the search for subscriptions that cannot match: a token or reference
   filter's wanted code or id must be one of the resource's values. It only ever says "no" when the
   search would, and subscriptions are indexed by it, so an event costs what its own matches cost.
Matched events get the next `eventNumber`s of their subscription, in the order they were recorded;
the notifications, the counters and the deletion of the outbox rows commit together.
"""
from __future__ import annotations

import json
import logging
import re
import threading
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timezone
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Max

from fhirserver import jobs
from fhirserver.core.errors import FhirError
from fhirserver.search import api as search_api
from fhirserver.storage import repository
from fhirserver.storage.models import ResourceRecord, ResourceVersion
from fhirserver.subscriptions import delivery, outbox, topics, websocket
from fhirserver.subscriptions.background import background_priority, now
from fhirserver.subscriptions.models import Notification, OutboxEvent, SubscriptionState
from fhirserver.subscriptions.owner import access_of

log = logging.getLogger("fhirserver.subscriptions")
KIND = "subscriptions-match"
BATCH = 500
_again = False
_lock = threading.Lock()
_SIMPLE = re.compile(r"^[A-Za-z0-9._\-]+$")


CELERY_COALESCE_SECONDS = 0.1
LINGER_SECONDS = 1.0
_woken = threading.Event()
_to_send: threading.Timer | None = None


def wake() -> None:
    """Ask for a matching pass (after a commit that recorded events)."""
    global _again, _to_send
    with _lock:
        _again = True
        if not jobs.uses_celery():
            if jobs.is_queued_here(KIND, "outbox"):
                _woken.set()
                return  # the running (or lingering) pass sees it and goes round once more
        else:
            # A task per commit (and per sweep tick) queued hundreds of passes in front of the deliveries;
            # one task a moment later covers every commit until it is sent, as it starts after them.
            if _to_send is None:
                _to_send = threading.Timer(CELERY_COALESCE_SECONDS, _send_pass)
                _to_send.daemon = True
                _to_send.start()
            return
    jobs.enqueue(KIND, "outbox")


def _send_pass() -> None:
    global _to_send
    with _lock:
        _to_send = None
    jobs.enqueue(KIND, "outbox")


def run(key: str = "outbox") -> int:
    """Match until the outbox is empty. One pass at a time in all processes: each web worker wakes its
    own matcher after its commits, and two passes over the same rows would do all the work twice (one
    of them thrown away). A pass that finds another one running leaves its rows to it; the running
    pass looks at the outbox once more after it lets go, so no row waits for the sweep."""
    background_priority()
    total = 0
    while True:
        _woken.clear()
        with _sole_pass() as ours:
            if ours:
                total += _drain()
        if ours and outbox.waiting():
            continue
        # In process, the job stays a moment for the next commit: a job ends by closing its database
        # connection, and an ingest would open a new one (a PostgreSQL backend) for every commit's pass.
        # A Celery worker keeps its connection, and its slot is for other tasks.
        if jobs.uses_celery() or not _woken.wait(LINGER_SECONDS):
            return total


def _drain() -> int:
    global _again
    total = 0
    while True:
        with _lock:
            _again = False
        count = match_batch()
        total += count
        if count == 0:
            with _lock:
                if not _again:
                    return total


_PASS_KEY = repository.advisory_key("subscriptions:matching-pass")
_pass = threading.Lock()  # this process's own matcher threads (Celery workers may run several)


@contextmanager
def _sole_pass():
    """True when this is the only matching pass running (a session advisory lock on PostgreSQL)."""
    if not _pass.acquire(blocking=False):
        yield False
        return
    try:
        if connection.vendor != "postgresql":  # SQLite: one process, the thread lock is enough
            yield True
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [_PASS_KEY])
            ours = cursor.fetchone()[0]
        try:
            yield ours
        finally:
            if ours:
                try:
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT pg_advisory_unlock(%s)", [_PASS_KEY])
                except Exception:  # noqa: BLE001 - a broken connection: closing it (job end) lets go
                    log.warning("could not release the matching lock; it goes with the connection")
    finally:
        _pass.release()


class Row(NamedTuple):
    """An outbox row as matching reads it (plain values: hundreds of model instances per batch cost CPU)."""
    id: int
    resource_type: str
    logical_id: str
    version: int
    deleted: bool
    recorded_at: object


_STRING = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)"')  # a JSON string (the unrolled form: no step per character)
_BOOLEAN = re.compile(r":\s*(true|false)\b")


@dataclass
class Event:
    row: Row
    text: str | None  # the version's stored JSON text (None: a deletion)
    previous_text: str | None  # the version before it (None: none, or a deletion)
    timestamp: object
    interaction: str
    _changes: dict = field(default_factory=dict)
    _values: frozenset[str] | None = None
    _parsed: dict = field(default_factory=dict)

    @property
    def current(self) -> dict | None:
        if "current" not in self._parsed:
            self._parsed["current"] = json.loads(self.text) if self.text else None
        return self._parsed["current"]

    @property
    def previous(self) -> dict | None:
        if "previous" not in self._parsed:
            self._parsed["previous"] = json.loads(self.previous_text) if self.previous_text else None
        return self._parsed["previous"]

    @property
    def values(self) -> frozenset[str]:
        """Every string and boolean of the stored text, lower-cased, and of each string also what follows
        its last "/" (a reference's id) and each side of a "|": what a token or reference filter can only
        match by equality. Read from the text (no parse): most events concern no subscription at all."""
        if self._values is None:
            text = (self.text or "").lower()
            found = set(_BOOLEAN.findall(text))
            for value in _STRING.findall(text):
                found.add(value)
                if "/" in value:
                    found.add(value.split("/_history/", 1)[0].rstrip("/").rsplit("/", 1)[-1])
                if "|" in value:
                    found.update(value.split("|"))
            self._values = frozenset(found)
        return self._values


def match_batch() -> int:
    rows = [Row(*values) for values in OutboxEvent.objects.order_by("id").values_list(*Row._fields)[:BATCH]]
    if not rows:
        return 0
    running = now()  # past its `end`, a subscription hears nothing more
    view = _view()
    types = {r.resource_type for r in rows}
    matched = _match(rows, view, running) if types & view.types else {}
    woken = []
    adapt = connection.ops.adapt_datetimefield_value
    with repository.write_transaction():
        repository.lock_key("subscriptions:match")
        taken = OutboxEvent.objects.filter(id__in=[r.id for r in rows]).delete()[0]
        if taken != len(rows):  # another matcher took some of them first: leave the batch to it
            transaction.set_rollback(True)
            return len(rows)
        notifications = []
        for state in SubscriptionState.objects.select_for_update().filter(pk__in=list(matched)).order_by("pk"):
            number = state.events_since_start
            for event, context in matched[state.pk]:
                number += 1
                focus = f"{event.row.resource_type}/{event.row.logical_id}/_history/{event.row.version}"
                notifications.append((state.pk, number, adapt(event.timestamp), focus, event.interaction,
                                      json.dumps(context)))
            SubscriptionState.objects.filter(pk=state.pk).update(events_since_start=number)
            woken.append(state)
        _insert_notifications(notifications)
        transaction.on_commit(lambda: _deliver(woken))
    return len(rows)


def _insert_notifications(rows: list[tuple]) -> None:
    """Multi-row INSERTs: a model instance per notification cost more than matching the event."""
    table = Notification._meta.db_table
    for chunk in _chunks(rows, 1000):
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {table} (subscription_id, event_number, timestamp, focus, interaction, "
                           "additional_context) VALUES " + ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(chunk)),
                           [value for row in chunk for value in row])


def _deliver(states: list[SubscriptionState]) -> None:
    for state in states:
        if state.channel_type == SubscriptionState.REST_HOOK and state.status == SubscriptionState.ACTIVE:
            delivery.wake(state.pk)
    if any(s.channel_type == SubscriptionState.WEBSOCKET for s in states):
        websocket.wake()


@dataclass
class View:
    """What matching reads of the subscriptions, indexed: rebuilt only when one of them changed."""
    key: tuple
    types: set[str]
    watchers: dict[str, dict[str, list]]  # type -> wanted value of the first filter -> entries
    everyone: dict[str, list]  # type -> entries without a token/reference filter


_cached: View | None = None


def _view() -> View:
    global _cached
    from django.db.models import Count, Sum

    key = tuple(SubscriptionState.objects.exclude(status=SubscriptionState.OFF)
                .aggregate(n=Count("pk"), r=Sum("revision"), top=Max("pk")).values())
    if _cached is not None and _cached.key == key:
        return _cached
    watchers: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    everyone: dict[str, list] = defaultdict(list)
    types = set()
    for state in SubscriptionState.objects.exclude(status=SubscriptionState.OFF):
        topic = topics.find(state.topic) if state.topic else None
        query = tuple((topic.criteria if topic else ())) + tuple(tuple(p) for p in state.query)
        needles = _needles(tuple(tuple(p) for p in state.query), _param_types(state.resource_type))
        entry = (state, topic, query, needles[1:], access_of(state))
        types.add(state.resource_type)
        if needles:
            for needle in needles[0]:
                watchers[state.resource_type][needle].append(entry)
        else:
            everyone[state.resource_type].append(entry)
    _cached = View(key, types, watchers, everyone)
    return _cached


def _match(rows: list[Row], view: View, moment) -> dict[int, list]:
    """{subscription pk: [(event, additional context), ...] in event order}."""
    events = _load(rows)
    watchers, everyone = view.watchers, view.everyone
    candidates: dict[tuple, list] = defaultdict(list)  # (type, query) -> [(state, event, context)]
    for event in events:
        if event.text is None:
            continue
        resource_type = event.row.resource_type
        index = watchers.get(resource_type, {})
        entries = list(everyone.get(resource_type, ()))
        if index:
            seen = set()
            for value in event.values & index.keys():
                for entry in index[value]:
                    if id(entry) not in seen:
                        seen.add(id(entry))
                        entries.append(entry)
        for state, topic, query, needles, access in entries:
            if event.row.id <= state.start_after or (state.end and state.end <= moment):
                continue
            if not _triggers(topic, event):
                continue
            if needles and not all(event.values.intersection(group) for group in needles):
                continue
            if access is not None and not access.can_read(resource_type, event.current):
                continue
            context = _context(topic, event.current, access) if topic else []
            candidates[(resource_type, query)].append((state, event, context))
    result: dict[int, list] = defaultdict(list)
    for (resource_type, query), items in candidates.items():
        ids = sorted({event.row.logical_id for _, event, _ in items})
        found = _search(resource_type, list(query), ids)
        for state, event, context in items:
            if event.row.logical_id in found:
                result[state.pk].append((event, context))
    for items in result.values():
        items.sort(key=lambda item: item[0].row.id)
    return result


def _load(rows: list[Row]) -> list[Event]:
    """The versions written and the ones before them, as stored text (one query per type and chunk)."""
    table = ResourceVersion._meta.db_table
    found = {}
    by_type: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_type[row.resource_type].append(row)
    for resource_type, typed in by_type.items():
        for chunk in _chunks(typed, 500):
            ids = sorted({row.logical_id for row in chunk})
            lowest = min(row.version for row in chunk) - 1
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT logical_id, version, last_updated, deleted, content FROM {table} "
                    f"WHERE resource_type = %s AND version >= %s AND logical_id IN ({', '.join(['%s'] * len(ids))})",
                    [resource_type, lowest, *ids])
                for logical_id, version, last_updated, deleted, text in cursor.fetchall():
                    if last_updated is not None and last_updated.tzinfo is None:  # SQLite hands back naive UTC
                        last_updated = last_updated.replace(tzinfo=timezone.utc)
                    found[(resource_type, logical_id, version)] = (last_updated, deleted, text)
    events = []
    for row in rows:
        last_updated, deleted, text = found.get((row.resource_type, row.logical_id, row.version), (None, True, None))
        before = found.get((row.resource_type, row.logical_id, row.version - 1))
        previous = before[2] if before and not before[1] and before[2] else None
        current = text if text and not deleted else None
        interaction = "delete" if current is None else ("create" if previous is None else "update")
        events.append(Event(row, current, previous, last_updated or row.recorded_at, interaction))
    return events


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _triggers(topic: topics.Topic | None, event: Event) -> bool:
    if topic is None:  # classic R4: every create and update that matches the criteria
        return event.interaction in ("create", "update")
    if event.interaction not in topic.interactions or event.current is None:
        return False
    if topic.slug not in event._changes:
        event._changes[topic.slug] = topics.change_matches(topic, event.previous, event.current)
    return event._changes[topic.slug]


_TYPES_CACHE: dict[str, dict[str, str]] = {}


def _param_types(resource_type: str) -> dict[str, str]:
    if resource_type not in _TYPES_CACHE:
        types = {p.name: p.type for p in search_api.search_parameters_for(resource_type)}
        types.update({p.name: p.type for p in search_api.search_parameters_for(None)})
        _TYPES_CACHE[resource_type] = types
    return _TYPES_CACHE[resource_type]


def _needles(query: tuple, params: dict[str, str]) -> list[list[str]]:
    """For each token or reference filter without modifier: the values one of which the resource must hold.

    A token `system|code` is matched on its code, a reference on the id it ends with; the search engine
    then decides. Values the engine might compare in another way (modifiers, other types) are not used."""
    groups = []
    for name, value in query:
        base, _, modifier = name.partition(":")
        kind = params.get(base)
        if modifier or kind not in ("token", "reference"):
            continue
        needles = []
        for alternative in value.split(","):
            if kind == "token":
                needle = alternative.rsplit("|", 1)[-1]
            else:
                needle = alternative.split("/_history/", 1)[0].rstrip("/").rsplit("/", 1)[-1]
            if not needle or not _SIMPLE.match(needle):
                needles = []
                break
            needles.append(needle.lower())
        if needles:
            groups.append(needles)
    return groups


def _search(resource_type: str, query: list[tuple[str, str]], ids: list[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(ids, 100):
        try:
            condition = search_api.match_condition(resource_type, query + [("_id", ",".join(chunk))])
        except FhirError as error:  # a filter the engine refuses: nothing matches (refused at creation normally)
            log.warning("subscription query %s?%s failed: %s", resource_type, query, error.diagnostics)
            return set()
        # Only the ids: the matches' content is not needed (the events hold it), nor parsed.
        found.update(ResourceRecord.objects.filter(condition).values_list("logical_id", flat=True))
    return found


def _context(topic: topics.Topic, current: dict | None, access) -> list[str]:
    """References the topic's notification shape adds, each one the owner may read."""
    refs: list[str] = []
    for element in topic.context:
        value = (current or {}).get(element)
        for item in value if isinstance(value, list) else [value]:
            reference = (item or {}).get("reference") if isinstance(item, dict) else None
            if reference and "/" in reference and not reference.startswith(("urn:", "#")) and reference not in refs:
                refs.append(reference.split("/_history", 1)[0])
    if access is None:
        return refs
    visible = []
    for reference in refs:
        resource_type, _, id = reference.rpartition("/")
        stored = repository.current(resource_type.rsplit("/", 1)[-1], id)
        if stored is not None and not stored.deleted and access.can_read(stored.resource_type, stored.content):
            visible.append(f"{stored.resource_type}/{stored.id}")
    return visible
