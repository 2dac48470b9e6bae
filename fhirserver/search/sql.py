"""The statements of a search: a page, a count, a total's estimate, assembled around the condition
the compiler wrote (conditions.py) and run on the connection, without Django querysets.

Two page shapes: found from the index tables alone (`index_page`: the conditions are index rows,
the order the record id), or from the records table (`records_page`: any condition, sorted by
`_sort` keys, the keyset of a page link). Both PostgreSQL and SQLite run them.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from django.db import connection
from django.utils.dateparse import parse_datetime

from .conditions import RECORDS, Rows, Sql, columns, compare, is_null

# What a page reads of a record; "text" is the stored JSON, unparsed.
RECORD_COLUMNS = {"id": "id", "resource_type": "resource_type", "logical_id": "logical_id", "text": "content"}


def _select(fields: tuple[str, ...], alias: str) -> str:
    return ", ".join(f'{alias}."{RECORD_COLUMNS[f]}" AS "{f}"' for f in fields)


def record_fields(fields: tuple[str, ...]) -> str:
    """The SELECT list of `fields` of the records table aliased `r`."""
    return _select(fields, "r")


def select(statement: str, where: Sql, tail: str = "") -> list[dict]:
    """Rows of `statement WHERE where tail` (`where` always true: no WHERE)."""
    text = statement + ("" if where.always else f" WHERE {where.text}") + (f" {tail}" if tail else "")
    return [] if where.never else _fetch(text, where.params)


def _fetch(sql: str, params) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def scalar(sql: str, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.fetchone()[0]


def count(select: Sql) -> int:
    return scalar(f"SELECT COUNT(*) FROM ({select.text}) c", select.params)


def planned_rows(select: Sql) -> int:
    plan = scalar(f"EXPLAIN (FORMAT JSON) {select.text}", select.params)
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])


# --- pages found from the index tables -----------------------------------------------------------
def index_page(
    drivers: list[Rows], limit: int, after: int | None, descending: bool, fields: tuple[str, ...]
) -> list[dict]:
    """Records matching every driver, in id order, after `after`, in one statement: the ids come
    from walking the first index (a page stops after `limit` matches), then the rows by primary key."""
    extra = compare("record_id", "<" if descending else ">", after) if after is not None else None
    ids = index_ids(drivers, extra)
    direction = "DESC" if descending else "ASC"
    return _fetch(
        f'SELECT {_select(fields, "r")} FROM "{RECORDS}" r '
        f'WHERE r."id" IN ({ids.text} ORDER BY 1 {direction} LIMIT {int(limit)}) ORDER BY r."id" {direction}',
        ids.params,
    )


def index_ids(drivers: list[Rows], extra: Sql | None = None) -> Sql:
    """SELECT of the distinct records matching every driver: the first index narrowed by the others."""
    narrowed = drivers[0].narrowed(drivers[1:], extra) if extra is not None else drivers[0].narrowed(drivers[1:])
    return narrowed.sql(distinct=True)


def walked_count(driver: Rows, up_to: int) -> int:
    """Distinct records of `driver` up to record id `up_to` (an index-only range)."""
    return count(index_ids([driver], compare("record_id", "<=", up_to)))


# --- pages found from the records table ----------------------------------------------------------
def matching_records(where: Sql) -> Sql:
    """The condition on current records."""
    return columns(deleted=False) & where


def record_ids(where: Sql) -> Sql:
    condition = matching_records(where)
    return Sql(f'SELECT "id" FROM "{RECORDS}" WHERE {condition.text}', condition.params)


def _beyond(keys: list, values: list, backwards: bool) -> Sql:
    """Rows strictly after (or before, when backwards) the row whose sort values are `values`;
    a key without a value (NULL) sorts last going forwards."""
    q = None
    for key, value in reversed(list(zip(keys, values))):
        descending = key.descending != backwards
        column = key.alias
        if value is None:
            strict = is_null(column, False) if backwards else Sql("1=0")
            equal = is_null(column)
        else:
            strict = compare(column, "<" if descending else ">", value)
            if key.source is not None and not backwards:
                strict |= is_null(column)
            equal = compare(column, "=", value)
        q = strict if q is None else strict | (equal & q)
    return q


def records_page(where: Sql, keys: list, limit: int, fields: tuple[str, ...], with_total: bool = False,
                 after: list | None = None, backwards: bool = False) -> list[dict]:
    """One page of records in sort-key order: after (or, `backwards`, before) the keyset `after` of
    a page link. A sort key on a parameter is the first index row's value (lowest ascending, highest
    descending), NULL for a record without one, which sorts last."""
    select, params, order = [_select(fields, "r")], [], []
    if "id" not in fields:
        select.append('r."id" AS "id"')
    for i, key in enumerate(keys):
        descending = key.descending != backwards
        direction = "DESC" if descending else "ASC"
        if key.source is None:  # the record's own id, always last
            order.append(f'"id" {direction}')
            continue
        if isinstance(key.source, str):  # a column of the record
            select.append(f'r."{key.source}" AS "{key.alias}"')
        else:
            table, column, name = key.source
            select.append(
                f'(SELECT s{i}."{column}" FROM "{table}" s{i} WHERE s{i}."record_id" = r."id" AND s{i}."name" = %s '
                f'ORDER BY s{i}."{column}" {"DESC" if key.descending else "ASC"} LIMIT 1) AS "{key.alias}"'
            )
            params.append(name)
        order.append(f'"{key.alias}" {direction} NULLS {"FIRST" if backwards else "LAST"}')
    if with_total:
        select.append('COUNT(*) OVER () AS "full_count"')
    condition = matching_records(where)
    statement = f'SELECT {", ".join(select)} FROM "{RECORDS}" r WHERE {condition.text}'
    params += condition.params
    if after is not None:  # the keyset reads the sort keys: filter the page's rows outside
        beyond = _beyond(keys, after, backwards)
        statement = f"SELECT * FROM ({statement}) p WHERE {beyond.text}"
        params += beyond.params
    rows = _fetch(f'{statement} ORDER BY {", ".join(order)} LIMIT {int(limit)}', params)
    datetimes = [k.alias for k in keys if k.kind == "datetime" and k.source is not None]
    if datetimes and connection.vendor == "sqlite":  # SQLite hands back naive values or text: as the ORM converts them
        for row in rows:
            for alias in datetimes:
                value = row[alias]
                if isinstance(value, str):
                    value = parse_datetime(value)
                if isinstance(value, datetime) and value.tzinfo is None:
                    value = value.replace(tzinfo=timezone.utc)
                row[alias] = value
    return rows

