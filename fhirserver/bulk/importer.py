"""NDJSON in: each line a resource, validated like a PUT and written through the repository (version
rows, search index, subscription outbox), a batch of lines per database transaction.

A line keeps its id (an update-as-create, so an export imported into an empty server gives the same
resources back); a line without one gets a server id. A bad line (not JSON, not a valid resource)
is reported with its file, line number and the element path, and the other lines are stored; if a
batch's write fails as a whole, its lines are written one by one so only the bad one is lost.
"""
from __future__ import annotations

import json
import multiprocessing
import queue
import re
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from django.db import DatabaseError, connection, connections

from fhirserver.core.errors import FhirError, operation_outcome
from fhirserver.storage import repository
from fhirserver.storage.models import ResourceRecord
from resources import decimals
from resources.validation import is_valid_id, validate_resource

BATCH = 500


@dataclass
class LineError:
    source: str
    line: int
    diagnostics: str
    expression: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        where = f" at {', '.join(self.expression)}" if self.expression else ""
        return f"{self.source}:{self.line}: {self.diagnostics}{where}"

    def outcome(self) -> dict:
        issue = {"severity": "error", "code": "invalid", "diagnostics": f"{self.source} line {self.line}: "
                 f"{self.diagnostics}"}
        if self.expression:
            issue["expression"] = self.expression
        return operation_outcome([issue])


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[LineError] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return self.created + self.updated


@dataclass
class _Line:
    source: str
    number: int
    resource: dict


def import_files(paths: Iterable[str | Path], *, batch: int = BATCH, processes: int = 1,
                 result: ImportResult | None = None) -> ImportResult:
    """Import NDJSON files ("-": standard input); `processes` > 1 shares the lines among worker
    processes, each resource always to the same worker so that its versions keep the input order."""
    result = result or ImportResult()
    lines = (line for path in paths for line in _lines_of(path))
    if processes > 1:
        return _import_in_processes(lines, batch=batch, processes=processes, result=result)
    return import_lines(lines, batch=batch, result=result)


def _lines_of(path: str | Path) -> Iterator[tuple[str, int, bytes]]:
    if str(path) == "-":
        yield from _numbered("stdin", sys.stdin.buffer)
        return
    with open(path, "rb") as stream:
        yield from _numbered(str(path), stream)


def _numbered(source: str, stream) -> Iterator[tuple[str, int, bytes]]:
    for number, raw in enumerate(stream, start=1):
        yield source, number, raw


def import_lines(lines: Iterable[tuple[str, int, bytes | str]], *, batch: int = BATCH,
                 result: ImportResult | None = None, admit: Callable[[dict], None] | None = None) -> ImportResult:
    """Validate and store (source, line number, text) lines; blank lines are skipped. `admit(resource)`
    may refuse a valid line by raising FhirError (the caller's scopes): it is reported like any other."""
    result = result or ImportResult()
    pending: list[_Line] = []
    keys: set[tuple[str, str]] = set()
    for source, number, raw in lines:
        if not raw.strip():
            continue
        line = _parse(source, number, raw, result, admit)
        if line is None:
            continue
        key = (line.resource["resourceType"], line.resource.get("id") or "")
        if key[1] and key in keys:  # the same resource twice: its versions in file order
            _write(pending, result)
            pending, keys = [], set()
        pending.append(line)
        keys.add(key)
        if len(pending) >= batch:
            _write(pending, result)
            pending, keys = [], set()
    _write(pending, result)
    return result


# A number whose text a float would not give back (13.50, 1E-9, 0.00001, 16+ digits): such a line is
# parsed into FhirDecimals, so it is stored as written, like a REST body. Any other line is parsed by
# orjson, four times faster; a match inside a string only costs the slower parse.
_INEXACT = re.compile(rb"[:\[,]\s*-?(?:[0-9]+\.[0-9]*[0-9]0(?![0-9])|[0-9.]+[eE]|0\.0000|[0-9.]{16})")


def _loads(raw: bytes | str):
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    if not _INEXACT.search(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:  # a big integer, NaN...: the exact parser decides
            pass
    return decimals.loads(raw, strict=True)


def _parse(source: str, number: int, raw: bytes | str, result: ImportResult, admit=None) -> _Line | None:
    try:
        content = _loads(raw)
    except ValueError as exc:  # JSONDecodeError, NaN and Infinity, bad UTF-8
        result.errors.append(LineError(source, number, f"not JSON ({exc})"))
        return None
    if not isinstance(content, dict) or not isinstance(content.get("resourceType"), str):
        result.errors.append(LineError(source, number, "not a FHIR resource (no resourceType)", ["resourceType"]))
        return None
    if "id" in content and not is_valid_id(content["id"]):
        result.errors.append(LineError(source, number, f"'{content['id']}' is not a valid resource id",
                                       [f"{content['resourceType']}.id"]))
        return None
    try:
        resource = validate_resource(content)
        if admit is not None:
            admit(resource)
    except FhirError as error:
        for issue in error.issues:
            result.errors.append(LineError(source, number, issue.get("diagnostics", error.diagnostics),
                                           list(issue.get("expression") or [])))
        return None
    return _Line(source, number, resource)


def _write(lines: list[_Line], result: ImportResult) -> None:
    if not lines:
        return
    try:
        created, updated = _store(lines)
    except (FhirError, DatabaseError) as exc:  # IntegrityError included: a writer beside us took an id
        if len(lines) > 1:  # find the line that failed; the others are stored
            for line in lines:
                _write([line], result)
            return
        why = exc.diagnostics if isinstance(exc, FhirError) else f"could not be stored ({type(exc).__name__})"
        result.errors.append(LineError(lines[0].source, lines[0].number, why))
        return
    result.created += created
    result.updated += updated


_EXISTING_SQL = (f"SELECT logical_id FROM {ResourceRecord._meta.db_table} "
                 "WHERE resource_type = %s AND logical_id = ANY(%s)")


def _existing_sqlite(count: int) -> str:
    return (f"SELECT logical_id FROM {ResourceRecord._meta.db_table} WHERE resource_type = %s "
            f"AND logical_id IN ({', '.join(['%s'] * count)})")


def _store(lines: list[_Line]) -> tuple[int, int]:
    """One transaction: new resources as the multi-row INSERTs of a transaction Bundle, known ones updated."""
    created = updated = 0
    by_type: dict[str, list[str]] = {}
    for line in lines:
        if line.resource.get("id"):
            by_type.setdefault(line.resource["resourceType"], []).append(line.resource["id"])
    with repository.write_transaction(), repository.deferred_indexing():
        existing = set()
        with connection.cursor() as cursor:  # raw: the ORM's IN list of 500 ids cost more than the query
            for resource_type, ids in by_type.items():
                cursor.execute(_EXISTING_SQL if connection.vendor == "postgresql" else _existing_sqlite(len(ids)),
                               [resource_type, ids] if connection.vendor == "postgresql" else [resource_type, *ids])
                existing.update((resource_type, i) for (i,) in cursor.fetchall())
        for line in lines:
            resource_type, resource_id = line.resource["resourceType"], line.resource.get("id")
            if resource_id and (resource_type, resource_id) in existing:
                repository.update(resource_type, resource_id, line.resource)
                updated += 1
            else:
                repository.create(resource_type, line.resource, id=resource_id)
                created += 1
    return created, updated


# --- worker processes ----------------------------------------------------------------------------
_ID = re.compile(rb'"id"\s*:\s*"([^"]*)"')
_TYPE = re.compile(rb'"resourceType"\s*:\s*"([^"]*)"')


def _import_in_processes(lines, *, batch: int, processes: int, result: ImportResult) -> ImportResult:
    """Lines go to worker processes (forked, each with its own database connection) by a hash of the
    resource's type and id, a batch at a time; each worker validates and stores its own batches."""
    connections.close_all()  # a forked child must not share the parent's connection
    context = multiprocessing.get_context("fork")
    inboxes = [context.Queue(maxsize=4) for _ in range(processes)]
    results = context.Queue()
    workers = [context.Process(target=_worker, args=(inbox, results, batch), daemon=True) for inbox in inboxes]
    for worker in workers:
        worker.start()
    pending: list[list] = [[] for _ in range(processes)]
    for line in lines:
        raw = line[2]
        kind, ident = _TYPE.search(raw), _ID.search(raw)
        key = (kind.group(1) if kind else b"") + b"/" + (ident.group(1) if ident else str(line[1]).encode())
        target = zlib.crc32(key) % processes
        pending[target].append(line)
        if len(pending[target]) >= batch:
            inboxes[target].put(pending[target])
            pending[target] = []
    for inbox, rest in zip(inboxes, pending):
        if rest:
            inbox.put(rest)
        inbox.put(None)
    for received in range(len(workers)):
        while True:
            try:
                created, updated, errors = results.get(timeout=5)
                break
            except queue.Empty:
                if sum(worker.is_alive() for worker in workers) < len(workers) - received:
                    raise RuntimeError("an import worker process died; the lines it held may be missing") from None
        result.created += created
        result.updated += updated
        result.errors += errors
    for worker in workers:
        worker.join()
    result.errors.sort(key=lambda e: (e.source, e.line))
    return result


def _worker(inbox, results, batch: int) -> None:
    done = ImportResult()
    try:
        while (lines := inbox.get()) is not None:
            import_lines(lines, batch=batch, result=done)
    finally:
        connections.close_all()
        results.put((done.created, done.updated, done.errors))


def errors_ndjson(result: ImportResult) -> str:
    return "".join(json.dumps(e.outcome(), separators=(",", ":")) + "\n" for e in result.errors)
