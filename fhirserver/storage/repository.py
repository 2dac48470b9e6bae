"""The versioned resource repository: every write of the server goes through here.

Plain functions over the ORM. Each write stamps `id` and `meta`, stores the new version, updates the
current row and rewrites its search index rows, all in one database transaction, so a resource is
searchable the moment its write commits.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef

from fhirserver.core.errors import FhirError, bad_request, not_found
from fhirserver.search import api as search_api
from fhirserver.search.indexer import index_records
from fhirserver.storage.models import ResourceRecord, ResourceVersion


@dataclass
class StoredResource:
    resource_type: str
    id: str
    version: int
    last_updated: datetime
    content: dict | None  # None when this version is a deletion
    deleted: bool = False
    method: str = "PUT"

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'

    @property
    def location(self) -> str:
        return f"{self.resource_type}/{self.id}/_history/{self.version}"


def format_instant(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _from_record(row: ResourceRecord | ResourceVersion, method: str = "PUT") -> StoredResource:
    return StoredResource(
        resource_type=row.resource_type, id=row.logical_id, version=row.version,
        last_updated=row.last_updated, content=row.content, deleted=row.deleted,
        method=getattr(row, "method", method),
    )


def new_id() -> str:
    """A server-assigned id: a UUIDv7 (RFC 9562), 48 bits of Unix milliseconds then 74 random bits.
    Time-ordered ids put new rows of the (type, id) indexes on the last few pages instead of a
    random page each: with uuid4 every insert dirtied (and after a checkpoint wrote in full to the
    WAL) a page of its own, about five times the WAL of a Bundle's new rows."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # RFC 9562 variant
    return str(uuid.UUID(int=value))


def now() -> datetime:
    """The time a write is stamped with. Millisecond precision: what meta.lastUpdated carries, so stored
    and served values agree."""
    moment = datetime.now(timezone.utc)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _stamp(content: dict, resource_type: str, id: str, version: int, when: datetime) -> dict:
    stamped = dict(content)
    stamped["resourceType"] = resource_type
    stamped["id"] = id
    meta = dict(stamped.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = format_instant(when)
    stamped["meta"] = meta
    # Keep resourceType and id first, as every FHIR example does.
    ordered = {"resourceType": resource_type, "id": id, "meta": meta}
    ordered.update((k, v) for k, v in stamped.items() if k not in ordered)
    return ordered


# --- serialising writers -------------------------------------------------------------------------
# PostgreSQL: an advisory lock held to the end of the transaction serialises writers of one key
# (a logical id, or a conditional query). SQLite has one writer at a time anyway; a process lock keeps
# check-then-insert sequences (conditional create) from interleaving between threads.
_sqlite_lock = threading.RLock()
_local = threading.local()  # per thread: the pending index work of a transaction Bundle, if any


@contextlib.contextmanager
def write_transaction():
    """An atomic block that, on SQLite, also holds the process-wide writer lock.

    Inside a transaction Bundle (which defers indexing) it adds no savepoint: two round trips per
    resource that a Bundle, all-or-nothing anyway, does not need. Elsewhere a nested block keeps its
    savepoint, so a refused write never poisons an outer transaction (a batch entry, a test)."""
    savepoint = getattr(_local, "pending", None) is None
    if connection.vendor == "sqlite":
        with _sqlite_lock, transaction.atomic(savepoint=savepoint):
            yield
    else:
        with transaction.atomic(savepoint=savepoint):
            yield


def advisory_key(key: str) -> int:
    """The PostgreSQL advisory-lock number of a key (a signed 64-bit hash)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def lock_key(key: str) -> None:
    """Serialise, until the current transaction ends, every writer that locks the same key."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [advisory_key(key)])


# --- deferred writing ----------------------------------------------------------------------------
# A transaction Bundle writes its new resources and their index rows in one go at the end instead of
# a round of INSERTs per resource, still inside the same database transaction, and flushed before
# any read or search entry runs. New resources go out as raw multi-row INSERTs (on PostgreSQL the
# current rows and their versions in one statement): ORM instances and a second serialisation of
# each resource would cost more than the database does.
@dataclass
class _NewRecord:
    """What the indexer reads of a ResourceRecord, for a row inserted here without the ORM."""
    resource_type: str
    logical_id: str
    last_updated: datetime
    content: dict
    id: int | None = None
    version: int = 1
    deleted: bool = False

    @property
    def pk(self) -> int | None:
        return self.id


@dataclass
class _Pending:
    creates: list[_NewRecord] = field(default_factory=list)
    created: set[tuple[str, str]] = field(default_factory=set)  # (type, id) created in this Bundle
    index: dict[int, ResourceRecord | _NewRecord] = field(default_factory=dict)  # by pk: the last write wins


def _pending() -> _Pending | None:
    return getattr(_local, "pending", None)


# --- write observers -----------------------------------------------------------------------------
# Called with the records a transaction has just written (after their index rows, before it commits),
# so what an observer inserts commits or rolls back with the write: the subscriptions outbox.
_write_observers: list = []


def observe_writes(observer) -> None:
    """Register `observer(records)`; it runs inside every write transaction, and may refuse the write."""
    if observer not in _write_observers:
        _write_observers.append(observer)


def _written(records: list) -> None:
    for observer in _write_observers:
        observer(records)


def _index(record: ResourceRecord) -> None:
    pending = _pending()
    if pending is None:
        search_api.index_resource(record)
        _written([record])
    else:
        pending.index[record.pk] = record


_RECORD_COLUMNS = "resource_type, logical_id, version, last_updated, deleted, content"
_VERSION_COLUMNS = "record_id, resource_type, logical_id, version, last_updated, method, deleted, content"
_MAX_PARAMS = 30_000  # per statement (PostgreSQL allows 65,535; SQLite builds allow 32,766)


def _insert_new(records: list[_NewRecord]) -> None:
    """INSERT the current rows and version 1 of new resources; sets each record's id."""
    record_table, version_table = ResourceRecord._meta.db_table, ResourceVersion._meta.db_table
    as_text = ResourceRecord._meta.get_field("content").get_db_prep_value  # the model's own serialisation
    adapt_time = connection.ops.adapt_datetimefield_value
    for start in range(0, len(records), _MAX_PARAMS // 8):
        chunk = records[start:start + _MAX_PARAMS // 8]
        rows = [
            (r.resource_type, r.logical_id, 1, adapt_time(r.last_updated), False, as_text(r.content, connection))
            for r in chunk
        ]
        values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(rows))
        params = [v for row in rows for v in row]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # The version rows are copied from the inserted ones: each content string crosses once.
                cursor.execute(
                    f"WITH r AS (INSERT INTO {record_table} ({_RECORD_COLUMNS}) VALUES {values} "
                    f"RETURNING id, {_RECORD_COLUMNS}), "
                    f"v AS (INSERT INTO {version_table} ({_VERSION_COLUMNS}) "
                    f"SELECT id, resource_type, logical_id, version, last_updated, 'POST', deleted, content FROM r) "
                    f"SELECT id, resource_type, logical_id FROM r", params)
                ids = {(t, i): pk for pk, t, i in cursor.fetchall()}
            else:
                cursor.execute(
                    f"INSERT INTO {record_table} ({_RECORD_COLUMNS}) VALUES {values} "
                    "RETURNING id, resource_type, logical_id",
                    params,
                )
                ids = {(t, i): pk for pk, t, i in cursor.fetchall()}
                version_rows = [(ids[(row[0], row[1])], *row[:4], "POST", *row[4:]) for row in rows]
                cursor.execute(f"INSERT INTO {version_table} ({_VERSION_COLUMNS}) VALUES "
                               + ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows)),
                               [v for row in version_rows for v in row])
        for record in chunk:
            record.id = ids[(record.resource_type, record.logical_id)]


def flush_index() -> None:
    """Write what a transaction Bundle has deferred: new rows first, then every index row."""
    pending = _pending()
    if pending is None:
        return
    if pending.creates:
        _insert_new(pending.creates)
        for record in pending.creates:
            pending.index[record.id] = record
        pending.creates.clear()
    if pending.index:
        records = list(pending.index.values())
        search_api.index_resources(records)
        pending.index.clear()
        _written(records)


@contextlib.contextmanager
def deferred_indexing():
    """Defer new rows and index work until the block ends (or `flush_index()`); use inside a transaction."""
    if _pending() is not None:  # already deferring: the outer block flushes
        yield
        return
    _local.pending = _Pending()
    try:
        yield
        flush_index()
    finally:
        _local.pending = None


# --- reads ---------------------------------------------------------------------------------------
def read(resource_type: str, id: str) -> StoredResource:
    """The current version; 404 when unknown, 410 when deleted."""
    row = ResourceRecord.objects.filter(resource_type=resource_type, logical_id=id).first()
    if row is None:
        raise not_found(resource_type, id)
    if row.deleted:
        raise FhirError(
            410,
            f"Resource {resource_type}/{id} was deleted",
            issue_code="deleted",
            code="RESOURCE_DELETED",
            headers={"ETag": f'W/"{row.version}"'},
        )
    return _from_record(row)


_READ_TEXT_SQL = (f"SELECT version, last_updated, deleted, content FROM {ResourceRecord._meta.db_table} "
                  "WHERE resource_type = %s AND logical_id = %s")


def read_text(resource_type: str, id: str) -> tuple[StoredResource, str]:
    """The current version and its stored JSON text, unparsed: a plain read serves the text as it is
    (what it costs to parse and re-serialise a resource is most of a read's CPU)."""
    with connection.cursor() as cursor:  # one fixed statement: building it through the ORM cost more than running it
        cursor.execute(_READ_TEXT_SQL, [resource_type, id])
        row = cursor.fetchone()
    if row is None:
        raise not_found(resource_type, id)
    version, last_updated, deleted, text = row
    if last_updated.tzinfo is None:  # SQLite hands back naive UTC
        last_updated = last_updated.replace(tzinfo=timezone.utc)
    if deleted:
        raise FhirError(
            410,
            f"Resource {resource_type}/{id} was deleted",
            issue_code="deleted",
            code="RESOURCE_DELETED",
            headers={"ETag": f'W/"{version}"'},
        )
    return StoredResource(resource_type, id, version, last_updated, None), text


def current(resource_type: str, id: str) -> StoredResource | None:
    row = ResourceRecord.objects.filter(resource_type=resource_type, logical_id=id).first()
    return _from_record(row) if row else None


def current_many(resource_type: str, ids: list[str]) -> dict[str, StoredResource]:
    """The current versions of many resources of one type in one query (unknown ids are left out)."""
    rows = ResourceRecord.objects.filter(resource_type=resource_type, logical_id__in=list(ids))
    return {row.logical_id: _from_record(row) for row in rows}


def vread(resource_type: str, id: str, version: str) -> StoredResource:
    if not version.isdigit():
        raise not_found(resource_type, f"{id}/_history/{version}")
    row = ResourceVersion.objects.filter(resource_type=resource_type, logical_id=id, version=int(version)).first()
    if row is None:
        raise not_found(resource_type, f"{id}/_history/{version}")
    if row.deleted:
        raise FhirError(
            410,
            f"Version {version} of {resource_type}/{id} is a deletion",
            issue_code="deleted",
            code="VERSION_DELETED",
        )
    return _from_record(row)


# --- writes --------------------------------------------------------------------------------------
def create(resource_type: str, content: dict, *, id: str | None = None) -> StoredResource:
    """Store a new resource with a server-assigned id (or `id` for update-as-create)."""
    id = id or new_id()
    when = now()
    stamped = _stamp(content, resource_type, id, 1, when)
    pending = _pending()
    if pending is not None:  # inside a transaction Bundle: written with the others at the end
        if (resource_type, id) in pending.created:
            raise bad_request(
                f"{resource_type}/{id} is written twice in one transaction", code="DUPLICATE_IN_TRANSACTION"
            )
        pending.created.add((resource_type, id))
        pending.creates.append(_NewRecord(resource_type, id, when, stamped))
    else:
        record = ResourceRecord(
            resource_type=resource_type, logical_id=id, version=1, last_updated=when, deleted=False, content=stamped
        )
        with write_transaction():
            record.save(force_insert=True)
            ResourceVersion.objects.create(
                record=record,
                resource_type=resource_type,
                logical_id=id,
                version=1,
                last_updated=when,
                method="POST",
                deleted=False,
                content=stamped,
            )
            _index(record)
    return StoredResource(resource_type, id, 1, when, stamped, method="POST")


def update(
    resource_type: str, id: str, content: dict, *, if_match: int | None = None, method: str = "PUT"
) -> tuple[StoredResource, bool]:
    """Store a new version; create the resource when the id is unknown. Returns (stored, created)."""
    with write_transaction():
        # An existing row is locked by FOR UPDATE itself; the advisory lock is for an id not stored yet
        # (two writers creating it), so an update of a stored resource costs one statement less.
        stored = ResourceRecord.objects.select_for_update().filter(resource_type=resource_type, logical_id=id)
        record = stored.first()
        if record is None:
            lock_key(f"{resource_type}/{id}")
            record = stored.first()
        if record is None:
            if if_match is not None:
                raise FhirError(
                    412,
                    f"If-Match given but {resource_type}/{id} does not exist",
                    issue_code="conflict",
                    code="VERSION_CONFLICT",
                )
            try:
                with transaction.atomic():
                    return create(resource_type, content, id=id), True
            except IntegrityError:  # another writer created it first: become an update of theirs
                record = ResourceRecord.objects.select_for_update().get(resource_type=resource_type, logical_id=id)
        if if_match is not None and record.version != if_match:
            raise FhirError(
                412,
                f"Version conflict: {resource_type}/{id} is at version {record.version}, If-Match asked for {if_match}",
                issue_code="conflict",
                code="VERSION_CONFLICT",
            )
        version = record.version + 1
        when = now()
        stamped = _stamp(content, resource_type, id, version, when)
        record.version, record.last_updated, record.deleted, record.content = version, when, False, stamped
        record.save(update_fields=["version", "last_updated", "deleted", "content"])
        ResourceVersion.objects.create(
            record=record, resource_type=resource_type, logical_id=id, version=version, last_updated=when,
            method=method, deleted=False, content=stamped,
        )
        _index(record)
    return StoredResource(resource_type, id, version, when, stamped, method=method), False


def delete(resource_type: str, id: str) -> StoredResource | None:
    """Logical delete: a deletion version, the current row marked deleted. None if nothing to delete."""
    with write_transaction():
        lock_key(f"{resource_type}/{id}")
        record = ResourceRecord.objects.select_for_update().filter(resource_type=resource_type, logical_id=id).first()
        if record is None or record.deleted:
            return None
        version = record.version + 1
        when = now()
        record.version, record.last_updated, record.deleted, record.content = version, when, True, None
        record.save(update_fields=["version", "last_updated", "deleted", "content"])
        ResourceVersion.objects.create(
            record=record, resource_type=resource_type, logical_id=id, version=version, last_updated=when,
            method="DELETE", deleted=True, content=None,
        )
        _index(record)
    return StoredResource(resource_type, id, version, when, None, deleted=True, method="DELETE")


# --- meta without a new version ($meta-add, $meta-delete) ---------------------------------------
def rewrite_meta(resource_type: str, id: str, version: str | None, change) -> StoredResource:
    """Apply `change(meta) -> meta` to one stored version in place: R4's $meta-add/$meta-delete create
    no new version. The current version's index rows (_tag, _profile, _security) follow."""
    with write_transaction():
        lock_key(f"{resource_type}/{id}")
        record = ResourceRecord.objects.select_for_update().filter(resource_type=resource_type, logical_id=id).first()
        if record is None:
            raise not_found(resource_type, id)
        number = record.version if version is None else (int(version) if version.isdigit() else -1)
        row = ResourceVersion.objects.filter(record=record, version=number).first()
        if row is None:
            raise not_found(resource_type, f"{id}/_history/{version}")
        if row.deleted:
            raise FhirError(
                410,
                f"{resource_type}/{id} version {number} is a deletion",
                issue_code="deleted",
                code="VERSION_DELETED",
            )
        content = dict(row.content)
        content["meta"] = change(dict(content.get("meta") or {}))
        row.content = content
        row.save(update_fields=["content"])
        if number == record.version:
            record.content = content
            record.save(update_fields=["content"])
            index_records([record], clear=True)  # same version number: the usual "new record" shortcut does not apply
    return StoredResource(resource_type, id, number, row.last_updated, content, method=row.method)


# --- history -------------------------------------------------------------------------------------
def history(
    *, resource_type: str | None = None, id: str | None = None, since: datetime | None = None,
    at_or_before: int | None = None, offset: int = 0, count: int = 20,
    current_during: tuple[datetime, datetime] | None = None,
) -> tuple[list[StoredResource], int, int]:
    """Versions newest first. Returns (page, total, snapshot): `snapshot` is the highest version row
    id seen, and passing it back as `at_or_before` keeps later pages stable while writes go on.
    `current_during` (start, end) keeps the versions that were current at some instant of [start, end)."""
    rows = ResourceVersion.objects.all()
    if resource_type:
        rows = rows.filter(resource_type=resource_type)
    if id:
        rows = rows.filter(logical_id=id)
    if since:
        rows = rows.filter(last_updated__gte=since)
    if current_during:
        start, end = current_during
        superseded_by_start = ResourceVersion.objects.filter(
            record_id=OuterRef("record_id"), version__gt=OuterRef("version"), last_updated__lte=start)
        rows = rows.filter(last_updated__lt=end).exclude(Exists(superseded_by_start))
    if at_or_before is None:
        top = rows.order_by("-id").values_list("id", flat=True).first()
        at_or_before = top or 0
    rows = rows.filter(id__lte=at_or_before)
    total = rows.count()
    page = list(rows.order_by("-last_updated", "-id")[offset: offset + count])
    return [_from_record(r) for r in page], total, at_or_before
