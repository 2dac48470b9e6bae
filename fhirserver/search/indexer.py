"""Writing index rows: every parameter of the resource's type, extracted from its current content.

Runs inside the storage write transaction. Rows of many records go out in one `executemany` per
table, so indexing a transaction Bundle costs a handful of statements, not one per value.
"""
from __future__ import annotations

import re
from functools import lru_cache
from math import isfinite
from typing import Iterable

import orjson
from django.db import connection, transaction

from fhirserver.storage.models import ResourceRecord

from .models import TextIndex
from .params import INDEX_MODELS, TYPES, reference
from .paths import expression_roots, present_elements, split_top
from .registry import indexed_params
from .values import normalize_text

CONTAINED_PREFIX = "#"  # index rows of contained resources use resource_type "#Type" (for _contained)
_TAG = re.compile(r"<[^>]+>")


def rows_for(resource_type: str, content: dict, record_id: int) -> dict[str, list[tuple]]:
    """Index rows of one resource, by parameter type, as tuples in `Table.columns` order."""
    out: dict[str, list[tuple]] = {kind: [] for kind in INDEX_MODELS}
    _collect(out, resource_type, resource_type, content, record_id)
    for contained in content.get("contained", []) or []:
        if isinstance(contained, dict) and contained.get("resourceType"):
            _collect(out, contained["resourceType"], CONTAINED_PREFIX + contained["resourceType"], contained, record_id)
    return out


def _collect(out: dict, resource_type: str, stored_type: str, content: dict, record_id: int) -> None:
    keys = tuple(content)
    plan = (
        _plan_for(resource_type, keys) if len(keys) <= 80 else _plan_for.__wrapped__(resource_type, keys)
    )  # no odd shapes in the cache
    for param, extract, type_rows, table_row, kind in plan:
        values = extract(content)
        if not values:
            continue
        name, add = param.name, out[kind].append
        for row in type_rows(param, values):
            suffix = row.pop("name_suffix", None)
            add(table_row(record_id, stored_type, name + suffix if suffix else name, row))
        if kind == "reference":
            for row in reference.extract_identifiers(values):
                out["token"].append(TABLES["token"].row(record_id, stored_type, name + reference.IDENTIFIER, row))


@lru_cache(maxsize=None)
def _plan(resource_type: str) -> list[tuple]:
    """(param, extractor, top-level keys it needs) for every indexed parameter of a type."""
    return [(p, p.extractor(resource_type), _needed_roots(p, resource_type)) for p in indexed_params(resource_type)]


@lru_cache(maxsize=4096)
def _plan_for(resource_type: str, keys: tuple[str, ...]) -> list[tuple]:
    """(param, extractor, its type's rows(), its table's row(), type) of the parameters that can give
    values for a resource with these top-level keys: resources of one kind share their keys, so the
    check runs once per shape, and what each parameter needs is looked up then, not per resource."""
    present = present_elements(dict.fromkeys(keys))
    return [
        (param, extract, TYPES[param.type].rows, TABLES[param.type].row, param.type)
        for param, extract, roots in _plan(resource_type)
        if roots is None
        or (not roots.isdisjoint(present) if type(roots) is frozenset else _any_complete(roots, present))
    ]


def _needed_roots(param, resource_type: str):
    """None (always evaluate), a frozenset (any of these keys present), or for a composite a tuple of
    alternatives, each a tuple of frozensets that must all meet the resource's keys: a composite on
    the resource itself (`Observation`) gives rows only when every component has a value."""
    if param.type != "composite":
        return expression_roots(param.expression, resource_type)
    alternatives = []
    for branch in split_top(param.expression, "|"):
        if branch == resource_type:
            needs = tuple(
                r
                for c in param.components
                if (
                    r := expression_roots(
                        " | ".join(f"{resource_type}.{b}" for b in split_top(c.expression, "|")), resource_type
                    )
                )
                is not None
            )
        else:
            roots = expression_roots(branch, resource_type)
            if roots is None:
                return None
            needs = (roots,)
        alternatives.append(needs)
    return tuple(alternatives)


def _any_complete(alternatives: tuple, present: set[str]) -> bool:
    return any(all(not roots.isdisjoint(present) for roots in needs) for needs in alternatives)


class Table:
    """Raw INSERTs for one index table: model instances would cost more than the extraction itself."""

    def __init__(self, model):
        fields = [f for f in model._meta.concrete_fields if f.name != "id"]
        # record, resource_type, name first, whatever the model's field order (a subclass that
        # redefines `record` moves it after the others).
        head = [f for n in ("record", "resource_type", "name") for f in fields if f.name == n]
        fields = head + [f for f in fields if f not in head]
        self.fields = fields
        self.name = model._meta.db_table
        self.columns = [f.column for f in fields]
        self.value_columns = [f.attname for f in fields[3:]]  # after record, resource_type, name
        self.defaults = {f.attname: (None if f.null else f.get_default()) for f in fields[3:]}
        self._default_values = [self.defaults[c] for c in self.value_columns]
        self.datetimes = {i for i, f in enumerate(fields) if f.get_internal_type() == "DateTimeField"}
        self.floats = [i for i, f in enumerate(fields) if f.get_internal_type() == "FloatField"]

    def row(self, record_id: int, resource_type: str, name: str, values: dict) -> tuple:
        return (record_id, resource_type, name, *map(values.get, self.value_columns, self._default_values))

    def adapt(self, rows: list[tuple]) -> list[tuple]:
        if not self.datetimes:
            return rows
        adapt = connection.ops.adapt_datetimefield_value
        return [
            tuple(adapt(v) if i in self.datetimes and v is not None else v for i, v in enumerate(row)) for row in rows
        ]

    def insert_sql(self, count: int) -> str:
        one = f"({', '.join(['%s'] * len(self.columns))})"
        return f"INSERT INTO {self.name} ({', '.join(self.columns)}) VALUES {', '.join([one] * count)}"

    def json_insert(self, rows: list[tuple]) -> tuple[str, list] | None:
        """PostgreSQL: every row in one jsonb parameter. Quoting thousands of parameters (psycopg2)
        and parsing them back as a VALUES list (PostgreSQL) cost more than the rows themselves;
        orjson and jsonb are cheap on both sides. None when a value has no JSON form (NaN, which
        orjson would write as null)."""
        floats = self.floats  # only float columns can hold one; a check of every value cost more than the dump
        if floats and any(type(row[i]) is float and not isfinite(row[i]) for row in rows for i in floats):
            return None
        try:
            payload = orjson.dumps(rows, default=str).decode()  # datetimes as RFC 3339, Decimals as text
        except TypeError:  # e.g. an integer beyond 64 bits
            return None
        if self._select is None:
            self._select = ", ".join(f"(e->>{i})::{cast}" for i, cast in enumerate(self._casts()))
        return (
            f"INSERT INTO {self.name} ({', '.join(self.columns)}) "
            f"SELECT {self._select} FROM jsonb_array_elements(%s::jsonb) e",
            [payload],
        )

    _select: str | None = None

    def _casts(self) -> list[str]:
        # Text for character columns: the INSERT's own assignment cast keeps refusing over-long values.
        return [
            "text" if f.get_internal_type() in ("CharField", "TextField") else f.db_type(connection)
            for f in self.fields
        ]


TABLES = {kind: Table(model) for kind, model in INDEX_MODELS.items()}
TEXT_TABLE = Table(TextIndex)
ALL_TABLES = [*TABLES.values(), TEXT_TABLE]
MAX_PARAMS = 30_000  # per statement; PostgreSQL allows 65,535


def _write(stale: list[int], batches: list[tuple[Table, list[tuple]]]) -> None:
    """Delete the stale rows and insert the new ones. On PostgreSQL every table goes in one
    statement of data-modifying CTEs (one round trip per write); SQLite runs in-process anyway."""
    if stale:  # a statement of its own: CTEs of one statement may run in any order
        marks = ", ".join(["%s"] * len(stale))
        _execute([(f"DELETE FROM {t.name} WHERE record_id IN ({marks})", list(stale)) for t in ALL_TABLES])
    statements: list[tuple[str, list]] = []
    for table, rows in batches:
        if connection.vendor == "postgresql" and (statement := table.json_insert(rows)) is not None:
            statements.append(statement)
            continue
        rows = table.adapt(rows)
        per_statement = max(1, MAX_PARAMS // len(table.columns))
        for start in range(0, len(rows), per_statement):
            chunk = rows[start:start + per_statement]
            statements.append((table.insert_sql(len(chunk)), [v for row in chunk for v in row]))
    _execute(statements)


def _execute(statements: list[tuple[str, list]]) -> None:
    if not statements:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql, params, size = [], [], 0
            for statement, values in statements:
                if sql and size + len(values) > MAX_PARAMS:
                    _run_ctes(cursor, sql, params)
                    sql, params, size = [], [], 0
                sql.append(statement)
                params += values
                size += len(values)
            _run_ctes(cursor, sql, params)
        else:
            for statement, values in statements:
                cursor.execute(statement, values)


def _run_ctes(cursor, statements: list[str], params: list) -> None:
    if len(statements) == 1:
        cursor.execute(statements[0], params)
        return
    ctes = ", ".join(f"w{i} AS ({s})" for i, s in enumerate(statements))
    cursor.execute(f"WITH {ctes} SELECT 1", params)


_NOT_TEXT = frozenset({"div", "reference", "system", "url", "resourceType"})


def _strings(node, out: list[str]) -> None:
    """Every string under `node` in document order, but those of the keys in _NOT_TEXT. Leaves are
    taken in the loop, not by a call each: most of a resource's nodes are leaves."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str):
                if key not in _NOT_TEXT:
                    out.append(value)
            elif isinstance(value, (dict, list)) and key not in _NOT_TEXT:
                _strings(value, out)
    elif isinstance(node, list):
        for value in node:
            if isinstance(value, str):
                out.append(value)
            elif isinstance(value, (dict, list)):
                _strings(value, out)
    elif isinstance(node, str):
        out.append(node)


def full_text(content: dict) -> tuple[str, str]:
    """(narrative, content) normalised for `_text` / `_content`."""
    div = (content.get("text") or {}).get("div") or ""
    narrative = normalize_text(_TAG.sub(" ", div), limit=None) if div else ""
    parts: list[str] = []
    _strings(content, parts)
    return narrative, normalize_text(" ".join(parts), limit=None)


def index_records(records: Iterable[ResourceRecord], *, clear: bool | None = None) -> None:
    """Rewrite the index rows of `records`. `clear=None`: clear only records that may have rows
    (updates and deletes; a version-1 record is new)."""
    records = list(records)
    stale = [r.id for r in records if clear or (clear is None and (r.version > 1 or r.deleted))]
    batches: dict[str, list[tuple]] = {kind: [] for kind in INDEX_MODELS}
    texts = []
    for record in records:
        if record.deleted or not record.content:
            continue
        for kind, rows in rows_for(record.resource_type, record.content, record.id).items():
            batches[kind].extend(rows)
        narrative, content = full_text(record.content)
        texts.append((record.id, record.resource_type, narrative, content))
    _write(
        stale,
        [(TABLES[kind], rows) for kind, rows in batches.items() if rows] + ([(TEXT_TABLE, texts)] if texts else []),
    )


def reindex(*, types: list[str] | None = None, batch: int = 500) -> int:
    """Rewrite the rows of every current record (optionally of some types), a batch per transaction."""
    records = ResourceRecord.objects.filter(deleted=False).order_by("id")
    if types:
        records = records.filter(resource_type__in=types)
    done, last_id = 0, 0
    while True:
        chunk = list(records.filter(id__gt=last_id)[:batch])
        if not chunk:
            return done
        with transaction.atomic():
            index_records(chunk, clear=True)
        done += len(chunk)
        last_id = chunk[-1].id
