"""Sorting and keyset paging.

Results are ordered by the `_sort` keys and then by the record's primary key, so the order is total.
A page link carries the sort-key values of the row it starts after (or before), never an offset:
rows written or deleted meanwhile cannot shift later pages, so paging gives no duplicates or gaps.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, OuterRef, Subquery

from fhirserver.core.errors import bad_request

from . import sql
from .conditions import Rows, Sql
from .params import TYPES
from .parser import SortKey
from .registry import get_param


@dataclass
class OrderKey:
    alias: str
    descending: bool
    kind: str  # "datetime", "float", "str", "int"
    source: str | tuple | None = None  # a record column, (index table, column, parameter name); None: the id
    model: type | None = None  # the index table's model, for `annotation`

    def annotation(self):
        """The key as a Django expression over ResourceRecord, for a caller that sorts through the ORM."""
        if self.source is None:
            return None
        if isinstance(self.source, str):
            return F(self.source)
        _, column, name = self.source
        rows = self.model.objects.filter(record_id=OuterRef("id"), name=name)
        return Subquery(rows.order_by(("-" if self.descending else "") + column).values(column)[:1])


def order_keys(
    resource_type: str | None, sort: list[SortKey], ignored: list[str]
) -> tuple[list[OrderKey], list[SortKey]]:
    keys, applied = [], []
    for i, key in enumerate(sort):
        alias = f"sort_{i}"
        if key.name == "_id":
            keys.append(OrderKey(alias, key.descending, "str", "logical_id"))
        elif key.name == "_lastUpdated":
            keys.append(OrderKey(alias, key.descending, "datetime", "last_updated"))
        else:
            param = get_param(resource_type, key.name) if resource_type else None
            kind_of = TYPES.get(param.type) if param is not None and param.expression else None
            sorting = kind_of.sort_column(key.descending) if kind_of is not None else None
            if sorting is None:
                ignored.append(f"_sort={key.name}")
                continue
            column, kind = sorting
            keys.append(OrderKey(alias, key.descending, kind, (kind_of.model._meta.db_table, column, param.name),
                                 kind_of.model))
        applied.append(key)
    last_descending = keys[-1].descending if keys else False
    keys.append(OrderKey("id", last_descending, "int"))
    return keys, applied


def encode_cursor(direction: str, keys: list[OrderKey], row: dict) -> str:
    values = [row[k.alias].isoformat() if isinstance(row[k.alias], datetime) else row[k.alias] for k in keys]
    payload = base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{direction}{payload}"


def decode_cursor(cursor: str, keys: list[OrderKey]) -> tuple[str, list | None]:
    if cursor == "last":
        return "last", None
    try:
        direction, payload = cursor[0], cursor[1:]
        if direction not in "ab":
            raise ValueError(direction)
        values = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        if len(values) != len(keys):
            raise ValueError("length")
        decoded = []
        for key, value in zip(keys, values):
            if value is not None and key.kind == "datetime":
                value = datetime.fromisoformat(value)
            elif value is not None and key.kind == "int":
                value = int(value)
            decoded.append(value)
        return direction, decoded
    except (ValueError, TypeError, IndexError):
        raise bad_request("The paging link is not valid for this search", code="SEARCH_BAD_CURSOR") from None


@dataclass
class Page:
    rows: list[dict]
    next: str | None
    previous: str | None
    total: int | None = None  # when counted along with the page


def fetch_page(where: Sql, keys: list[OrderKey], count: int, cursor: str | None, fields: tuple[str, ...],
               with_total: bool = False) -> Page:
    """A page of the current records matching `where`, in `keys` order, after or before `cursor`.
    `with_total`: count all matches in the same statement (COUNT(*) OVER ()), free when sorting by a
    parameter has to read every match anyway (first pages only)."""
    direction, values = decode_cursor(cursor, keys) if cursor else (None, None)
    rows = sql.records_page(where, keys, count + 1, fields, with_total and cursor is None, values,
                            direction in ("b", "last"))
    page = _page(rows, count, direction, keys)
    if with_total and cursor is None:
        page.total = rows[0]["full_count"] if rows else 0
    return page


def fetch_page_by_index(
    drivers: list[Rows], keys: list[OrderKey], count: int, cursor: str | None, fields: tuple[str, ...]
) -> Page:
    """A page in record-id order found from the index tables alone (`drivers`: the record's id is in
    each one's rows), then its records by primary key. Walking the first index in record-id order and
    probing the others stops after `count` matches, where a plan over the records table would visit
    every record of the type."""
    direction, values = decode_cursor(cursor, keys) if cursor else (None, None)
    backwards = direction in ("b", "last")
    descending = keys[-1].descending != backwards
    rows = sql.index_page(drivers, count + 1, values[-1] if values is not None else None, descending, fields)
    return _page(rows, count, direction, keys)


def _page(rows: list[dict], count: int, direction: str | None, keys: list[OrderKey]) -> Page:
    backwards = direction in ("b", "last")
    more = len(rows) > count
    rows = rows[:count]
    if backwards:
        rows.reverse()
    if not rows:
        return Page(rows, None, None)
    has_next = more if direction in (None, "a") else direction == "b"
    has_previous = direction == "a" or (backwards and more)
    return Page(
        rows,
        encode_cursor("a", keys, rows[-1]) if has_next else None,
        encode_cursor("b", keys, rows[0]) if has_previous else None,
    )
