"""NDJSON in: each line a resource, validated like a PUT and written through the repository (version
rows, search index, subscription outbox), a batch of lines per database transaction.

A line keeps its id (an update-as-create, so an export imported into an empty server gives the same
resources back); a line without one gets a server id. A bad line (not JSON, not a valid resource)
is reported with its file, line number and the element path, and the other lines are stored; if a
batch's write fails as a whole, its lines are written one by one so only the bad one is lost.
"""
from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from django.db import DatabaseError

from fhirserver.core.errors import FhirError, operation_outcome
from fhirserver.storage import repository
from fhirserver.storage.models import ResourceRecord
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


def import_files(paths: Iterable[str | Path], *, batch: int = BATCH,
                 result: ImportResult | None = None) -> ImportResult:
    result = result or ImportResult()
    for path in paths:
        if str(path) == "-":
            import_lines(_numbered("stdin", sys.stdin.buffer), batch=batch, result=result)
            continue
        with open(path, "rb") as stream:
            import_lines(_numbered(str(path), stream), batch=batch, result=result)
    return result


def _numbered(source: str, stream) -> Iterator[tuple[str, int, bytes]]:
    for number, raw in enumerate(stream, start=1):
        yield source, number, raw


def import_lines(lines: Iterable[tuple[str, int, bytes | str]], *, batch: int = BATCH,
                 result: ImportResult | None = None) -> ImportResult:
    """Validate and store (source, line number, text) lines; blank lines are skipped."""
    result = result or ImportResult()
    pending: list[_Line] = []
    keys: set[tuple[str, str]] = set()
    for source, number, raw in lines:
        if not raw.strip():
            continue
        line = _parse(source, number, raw, result)
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


def _parse(source: str, number: int, raw: bytes | str, result: ImportResult) -> _Line | None:
    try:
        content = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
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


def _store(lines: list[_Line]) -> tuple[int, int]:
    """One transaction: new resources as the multi-row INSERTs of a transaction Bundle, known ones updated."""
    created = updated = 0
    by_type: dict[str, list[str]] = {}
    for line in lines:
        if line.resource.get("id"):
            by_type.setdefault(line.resource["resourceType"], []).append(line.resource["id"])
    with repository.write_transaction(), repository.deferred_indexing():
        existing = {
            (t, i) for t, ids in by_type.items()
            for i in ResourceRecord.objects.filter(resource_type=t, logical_id__in=ids).values_list("logical_id",
                                                                                                   flat=True)
        }
        for line in lines:
            resource_type, resource_id = line.resource["resourceType"], line.resource.get("id")
            if resource_id and (resource_type, resource_id) in existing:
                repository.update(resource_type, resource_id, line.resource)
                updated += 1
            else:
                repository.create(resource_type, line.resource, id=resource_id)
                created += 1
    return created, updated


def errors_ndjson(result: ImportResult) -> str:
    return "".join(json.dumps(e.outcome(), separators=(",", ":")) + "\n" for e in result.errors)
