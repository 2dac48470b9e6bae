"""Search SQL written directly, without building Django querysets.

The compiler describes what each filter selects as `Rows` (a column of the rows of one table that
match a `Q`); Django turns that into a queryset only when the ORM path needs one. For the usual
page shapes the engine asks this module for the SQL instead: building and compiling the nested
querysets of a three-condition search costs more CPU than PostgreSQL spends answering it. Anything
this module does not know (a lookup, a correlated expression) raises `Unsupported` and the engine
falls back to the ORM, so the two paths give the same answers by construction or not at all.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from django.db import connection
from django.db.models import Q
from django.db.models.query import QuerySet
from django.utils.dateparse import parse_datetime

from fhirserver.storage.models import ResourceRecord

FALSE = "1=0"
OPERATORS = {"exact": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
LIKE = {"startswith": "{}%", "endswith": "%{}", "contains": "%{}%"}  # string prefix, suffix, infix


class Unsupported(Exception):
    """A shape this module does not write: use the ORM."""


class Rows:
    """`column` of the rows of `model` matching `condition` (and `<column> IN` each of `within`'s
    subqueries, for the record id). A lazy stand-in for `model.objects.filter(...).values(column)`."""

    def __init__(self, model, condition: Q, column: str = "record_id", within: tuple = ()):
        self.model = model
        self.condition = condition
        self.column = column
        self.within = tuple(within)
        self._queryset = None

    def queryset(self) -> QuerySet:
        if self._queryset is None:
            rows = self.model.objects.filter(self.condition)
            for other in self.within:
                rows = rows.filter(record_id__in=other)
            self._queryset = rows.values(self.column)
        return self._queryset

    # Anywhere the ORM meets it (a value in Q(id__in=...), .filter(), .count()...) it is the queryset.
    def resolve_expression(self, *args, **kwargs):
        return self.queryset().resolve_expression(*args, **kwargs)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.queryset(), name)

    def sql(self, alias: str) -> tuple[str, list]:
        """SELECT <alias>.<column> FROM <table> <alias> WHERE ..."""
        table = self.model._meta.db_table
        where, params = where_sql(self.condition, self.model, alias)
        column = _column(self.model, self.column)
        parts = [where] if where else []
        for i, other in enumerate(self.within):
            sub, sub_params = subquery_sql(other, f"{alias}w{i}")
            parts.append(f'{alias}."record_id" IN ({sub})')
            params += sub_params
        return f'SELECT {alias}."{column}" FROM "{table}" {alias}' + (
            f" WHERE {' AND '.join(parts)}" if parts else ""
        ), params


def subquery_sql(value, alias: str) -> tuple[str, list]:
    if isinstance(value, Rows):
        return value.sql(alias)
    if isinstance(value, QuerySet):  # built by someone else: Django writes it, uncorrelated
        sql, params = value.query.sql_with_params()
        return sql, list(params)
    raise Unsupported(type(value).__name__)


def _column(model, name: str) -> str:
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    return field.column


def where_sql(q: Q, model, alias: str, negated: bool = False) -> tuple[str, list]:
    """(SQL, params) of a Q over `model`'s own columns; "" when it holds for every row."""
    negated = negated or q.negated
    parts: list[str] | None = []
    params: list = []
    for child in q.children:
        if isinstance(child, Q):
            sql, child_params = where_sql(child, model, alias, negated)
        elif isinstance(child, tuple) and len(child) == 2:
            sql, child_params = _leaf(model, alias, child[0], child[1], negated)
        else:  # an expression (Lookup, Exists...): Django's to write
            raise Unsupported(type(child).__name__)
        if not sql:  # holds for every row
            if q.connector == Q.OR:
                parts, params = None, []
                break
            continue
        if sql == FALSE:  # folded here: PostgreSQL cannot turn `1=0 OR x IN (...)` into a join
            if q.connector == Q.AND:
                parts, params = [FALSE], []
                break
            continue
        parts.append(sql)
        params += child_params
    if parts == [] and q.connector == Q.OR and q.children:
        parts = [FALSE]  # every alternative was false
    sql = "" if not parts else parts[0] if len(parts) == 1 else "(" + f" {q.connector} ".join(parts) + ")"
    if q.negated:
        return ("" if sql == FALSE else f"NOT ({sql})" if sql else FALSE), params
    return sql, params


def _leaf(model, alias: str, lookup: str, value, negated: bool) -> tuple[str, list]:
    name, _, op = lookup.partition("__")
    op = op or "exact"
    if "__" in op:
        raise Unsupported(lookup)
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    column = f'{alias}."{field.column}"'
    if negated and field.null:  # NOT over a NULL is NULL: Django adds IS NOT NULL; leave it to Django
        raise Unsupported(f"negated nullable {lookup}")
    if op == "isnull":
        return f"{column} IS {'' if value else 'NOT '}NULL", []
    if op == "in":
        if isinstance(value, (Rows, QuerySet)):
            sub, params = subquery_sql(value, alias + "s")
            return f"{column} IN ({sub})", params
        if hasattr(value, "resolve_expression") or isinstance(value, (str, bytes)):
            raise Unsupported(lookup)
        values = list(dict.fromkeys(v for v in value if v is not None))  # as Django: duplicates and NULLs dropped
        if not values:
            return FALSE, []
        prep = _prep(field)
        return f"{column} IN ({', '.join(['%s'] * len(values))})", [prep(v) for v in values]
    if op in LIKE and isinstance(value, str):  # as Django writes it: the same cast, escaping and operator
        cast = connection.ops.lookup_cast(op, field.get_internal_type()) % column
        return f"{cast} {connection.operators[op]}", [LIKE[op].format(connection.ops.prep_for_like_query(value))]
    if op not in OPERATORS or hasattr(value, "resolve_expression"):
        raise Unsupported(lookup)
    if value is None:
        if op != "exact":
            raise Unsupported(lookup)
        return f"{column} IS NULL", []
    return f"{column} {OPERATORS[op]} %s", [_prep(field)(value)]


def _prep(field):
    return lambda v: field.get_db_prep_value(v, connection, prepared=False)


# --- pages and counts ----------------------------------------------------------------------------
RECORD_COLUMNS = {"id": "id", "resource_type": "resource_type", "logical_id": "logical_id", "text": "content"}


def _select(fields: tuple[str, ...], alias: str) -> str:
    if any(f not in RECORD_COLUMNS for f in fields):
        raise Unsupported(f"fields {fields}")
    return ", ".join(f'{alias}."{RECORD_COLUMNS[f]}" AS "{f}"' for f in fields)


def _fetch(sql: str, params: list) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def scalar(sql: str, params: list):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def _narrowed(drivers: list[Rows], extra: Q | None = None) -> Rows:
    """The first index subquery narrowed by the others (and `extra` on its own rows)."""
    first = drivers[0]
    if not all(isinstance(d, Rows) for d in drivers) or first.column != "record_id":
        raise Unsupported("drivers")
    condition = first.condition & extra if extra is not None else first.condition
    return Rows(first.model, condition, "record_id", first.within + tuple(drivers[1:]))


def index_page(
    drivers: list[Rows], limit: int, after: int | None, descending: bool, fields: tuple[str, ...]
) -> list[dict]:
    """Records matching every driver, in id order, after `after`, in one statement: the ids come
    from walking the first index (a page stops after `limit` matches), then the rows by primary key."""
    extra = Q(**{f"record_id__{'lt' if descending else 'gt'}": after}) if after is not None else None
    ids, params = _narrowed(drivers, extra).sql("d")
    direction = "DESC" if descending else "ASC"
    ids = ids.replace("SELECT ", "SELECT DISTINCT ", 1) + f" ORDER BY 1 {direction} LIMIT {int(limit)}"
    return _fetch(
        f'SELECT {_select(fields, "r")} FROM "storage_resourcerecord" r '
        f'WHERE r."id" IN ({ids}) ORDER BY r."id" {direction}',
        params,
    )


def index_ids(drivers: list[Rows]) -> tuple[str, list]:
    """SELECT of the distinct records matching every driver."""
    sql, params = _narrowed(drivers).sql("d")
    return sql.replace("SELECT ", "SELECT DISTINCT ", 1), params


def walked_count(driver: Rows, up_to: int) -> int:
    """Distinct records of `driver` up to record id `up_to` (an index-only range)."""
    sql, params = _narrowed([driver], Q(record_id__lte=up_to)).sql("d")
    return scalar(f'SELECT COUNT(*) FROM ({sql.replace("SELECT ", "SELECT DISTINCT ", 1)}) c', params)


def planned_rows(sql: str, params: list) -> int:
    plan = scalar(f"EXPLAIN (FORMAT JSON) {sql}", params)
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])


def records_where(where: Q) -> tuple[str, list]:
    return where_sql(Q(deleted=False) & where, ResourceRecord, "r")


def record_ids(where: Q) -> tuple[str, list]:
    sql, params = records_where(where)
    return f'SELECT r."id" FROM "storage_resourcerecord" r WHERE {sql}', params


def records_page(where: Q, keys: list, limit: int, fields: tuple[str, ...], with_total: bool) -> list[dict]:
    """One page of records in sort-key order (first page only: no cursor), as fetch_page's ORM query."""
    select, params = [_select(fields, "r")], []
    order = []
    for i, key in enumerate(keys):
        direction = "DESC" if key.descending else "ASC"
        if key.expression is None:  # the record's own id, always last
            order.append(f'r."id" {direction}')
            continue
        source = getattr(key, "source", None)
        if source is None:
            raise Unsupported(key.alias)
        if isinstance(source, str):  # a column of the record
            select.append(f'r."{source}" AS "{key.alias}"')
        else:
            table, column, name = source
            select.append(
                f'(SELECT s{i}."{column}" FROM "{table}" s{i} WHERE s{i}."record_id" = r."id" AND s{i}."name" = %s '
                f'ORDER BY s{i}."{column}" {direction} LIMIT 1) AS "{key.alias}"'
            )
            params.append(name)
        order.append(f'"{key.alias}" {direction} NULLS LAST')
    if with_total:
        select.append('COUNT(*) OVER () AS "full_count"')
    where, where_params = records_where(where)
    sql = (f'SELECT {", ".join(select)} FROM "storage_resourcerecord" r WHERE {where} '
           f'ORDER BY {", ".join(order)} LIMIT {int(limit)}')
    rows = _fetch(sql, params + where_params)
    datetimes = [k.alias for k in keys if k.kind == "datetime" and k.expression is not None]
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
