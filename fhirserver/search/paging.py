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

from django.db.models import Count, F, OuterRef, Q, Subquery, TextField, Window
from django.db.models.expressions import BaseExpression
from django.db.models.functions import Cast

from fhirserver.core.errors import bad_request
from fhirserver.storage.models import ResourceRecord

from . import sql
from .params import TYPES
from .parser import SortKey
from .registry import get_param


@dataclass
class OrderKey:
    alias: str
    expression: BaseExpression | None  # None: a column of the record itself
    descending: bool
    kind: str  # "datetime", "float", "str", "int"
    source: str | tuple | None = None  # for sql.py: a record column, or (index table, column, parameter name)


def order_keys(
    resource_type: str | None, sort: list[SortKey], ignored: list[str]
) -> tuple[list[OrderKey], list[SortKey]]:
    keys, applied = [], []
    for i, key in enumerate(sort):
        alias = f"sort_{i}"
        if key.name == "_id":
            keys.append(OrderKey(alias, F("logical_id"), key.descending, "str", "logical_id"))
        elif key.name == "_lastUpdated":
            keys.append(OrderKey(alias, F("last_updated"), key.descending, "datetime", "last_updated"))
        else:
            param = get_param(resource_type, key.name) if resource_type else None
            kind_of = TYPES.get(param.type) if param is not None and param.expression else None
            sorting = kind_of.sort_column(key.descending) if kind_of is not None else None
            if sorting is None:
                ignored.append(f"_sort={key.name}")
                continue
            model = kind_of.model
            column, kind = sorting
            rows = model.objects.filter(record_id=OuterRef("id"), name=param.name).order_by(
                ("-" if key.descending else "") + column).values(column)[:1]
            keys.append(
                OrderKey(alias, Subquery(rows), key.descending, kind, (model._meta.db_table, column, param.name))
            )
        applied.append(key)
    last_descending = keys[-1].descending if keys else False
    keys.append(OrderKey("id", None, last_descending, "int"))
    return keys, applied


def _ordering(key: OrderKey, backwards: bool):
    descending = key.descending != backwards
    expr = F(key.alias)
    if key.expression is None:
        return expr.desc() if descending else expr.asc()
    # NULLs (no value) last going forwards, so first going backwards.
    nulls = {"nulls_first": True} if backwards else {"nulls_last": True}
    return expr.desc(**nulls) if descending else expr.asc(**nulls)


def _beyond(keys: list[OrderKey], values: list, backwards: bool) -> Q:
    """Rows strictly after (or before, when backwards) the row whose sort values are `values`."""
    q = None
    for key, value in reversed(list(zip(keys, values))):
        descending = key.descending != backwards
        op = "lt" if descending else "gt"
        nullable = key.expression is not None
        if value is None:
            strict = Q(**{f"{key.alias}__isnull": False}) if backwards else Q(pk__in=[])
            equal = Q(**{f"{key.alias}__isnull": True})
        else:
            strict = Q(**{f"{key.alias}__{op}": value})
            if nullable and not backwards:
                strict |= Q(**{f"{key.alias}__isnull": True})
            equal = Q(**{key.alias: value})
        q = strict if q is None else strict | (equal & q)
    return q


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


def record_values(queryset, fields: tuple[str, ...], *extra: str):
    """`values(*fields)`; the field "text" is the stored resource as JSON text, left unparsed."""
    if "text" in fields:
        queryset = queryset.annotate(text=Cast("content", output_field=TextField()))
    return queryset.values(*fields, *extra)


@dataclass
class Page:
    rows: list[dict]
    next: str | None
    previous: str | None
    total: int | None = None  # when counted along with the page


def fetch_page(queryset, keys: list[OrderKey], count: int, cursor: str | None, fields: tuple[str, ...],
               with_total: bool = False, where: Q | None = None) -> Page:
    """`with_total`: count all matches in the same query (COUNT(*) OVER ()), free when sorting by a
    parameter has to read every match anyway. `where` (the condition `queryset` was built from, a
    callable when the queryset is too): a first page is then written by sql.py when it can."""
    if where is not None and cursor is None:
        try:
            rows = sql.records_page(where, keys, count + 1, fields, with_total)
        except sql.Unsupported:
            pass
        else:
            page = _page(rows, count, None, keys)
            if with_total:
                page.total = rows[0]["full_count"] if rows else 0
            return page
    if callable(queryset):
        queryset = queryset()
    annotations = {k.alias: k.expression for k in keys if k.expression is not None}
    if with_total:
        annotations["full_count"] = Window(Count("id"))
    queryset = queryset.annotate(**annotations) if annotations else queryset
    direction, values = decode_cursor(cursor, keys) if cursor else (None, None)
    backwards = direction in ("b", "last")
    if values is not None:
        queryset = queryset.filter(_beyond(keys, values, backwards))
    ordered = queryset.order_by(*(_ordering(k, backwards) for k in keys))
    rows = list(record_values(ordered, fields, *annotations)[: count + 1])
    page = _page(rows, count, direction, keys)
    if with_total:
        page.total = rows[0]["full_count"] if rows else 0
    return page


def fetch_page_by_index(
    drivers: list, keys: list[OrderKey], count: int, cursor: str | None, fields: tuple[str, ...]
) -> Page:
    """A page in record-id order found from the index tables alone (`drivers`: ANDed `record_id`
    subqueries), then its records by primary key. Walking the first index in record-id order and
    probing the others stops after `count` matches, where a plan over the records table would visit
    every record of the type."""
    direction, values = decode_cursor(cursor, keys) if cursor else (None, None)
    backwards = direction in ("b", "last")
    descending = keys[-1].descending != backwards
    try:
        rows = sql.index_page(drivers, count + 1, values[-1] if values is not None else None, descending, fields)
    except sql.Unsupported:
        pass
    else:
        return _page(rows, count, direction, keys)
    ids = index_ids(drivers)
    if values is not None:
        ids = ids.filter(**{f"record_id__{'lt' if descending else 'gt'}": values[-1]})
    ids = list(
        ids.order_by(("-" if descending else "") + "record_id")
        .values_list("record_id", flat=True)
        .distinct()[: count + 1]
    )
    by_id = {r["id"]: r for r in record_values(ResourceRecord.objects.filter(id__in=ids[:count]), fields)}
    rows = [by_id[i] for i in ids[:count] if i in by_id] + ([{"id": ids[count]}] if len(ids) > count else [])
    return _page(rows, count, direction, keys)


def index_ids(drivers: list):
    """The first index subquery narrowed by the others: the ids of every match."""
    ids = drivers[0]
    for other in drivers[1:]:
        ids = ids.filter(record_id__in=other)
    return ids


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
