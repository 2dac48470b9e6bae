"""What a search selects, written as SQL once: the one condition form that the parameter types, the
compiler, the access decision and the page statements (sql.py) share.

- `Sql(text, params)`: a condition over the columns of one table. Column names are not qualified:
  SQL reads each in the innermost FROM it sits in, which is always the one table it was written for
  (a statement here never joins). `&`, `|` and `~` fold the always-true and always-false conditions
  away: PostgreSQL cannot turn `1=0 OR x IN (...)` into a join.
- `Rows(table, where, column)`: `SELECT column FROM table WHERE where`, the rows of an index table a
  filter selects (or the ids of the records a nested search selects).
- `Where(drivers, rest)`: a condition on stored records: the record's id is in each driver's rows,
  and `rest` holds. A search that is nothing but drivers can find its page from the index tables
  alone (sql.index_page), without visiting every record of its type.
Values are always bound parameters, never written into the text.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL

RECORDS = "storage_resourcerecord"


@dataclass(frozen=True)
class Sql:
    text: str = ""  # "" holds for every row
    params: tuple = ()
    joined: str = ""  # "AND" / "OR": the text is "(a AND b ...)", which a further AND / OR extends

    @property
    def always(self) -> bool:
        return not self.text

    @property
    def never(self) -> bool:
        return self.text == _NEVER

    def _join(self, op: str, other: Sql) -> Sql:
        """Flat: `a OR b OR c`, never `((a OR b) OR c)`; SQLite's parser refuses deep nesting (a
        compartment search ORs some sixty types)."""
        left = self.text[1:-1] if self.joined == op else self.text
        right = other.text[1:-1] if other.joined == op else other.text
        return Sql(f"({left} {op} {right})", self.params + other.params, op)

    def __and__(self, other: Sql) -> Sql:
        if self.never or other.always:
            return self
        if other.never or self.always:
            return other
        return self._join("AND", other)

    def __or__(self, other: Sql) -> Sql:
        if self.always or other.never:
            return self
        if other.always or self.never:
            return other
        return self._join("OR", other)

    def __invert__(self) -> Sql:
        if self.always:
            return NEVER
        if self.never:
            return ALWAYS
        return Sql(f"NOT ({self.text})", self.params)


_NEVER = "1=0"
ALWAYS = Sql()
NEVER = Sql(_NEVER)


def all_of(conditions: Iterable[Sql]) -> Sql:
    out = ALWAYS
    for c in conditions:
        out &= c
    return out


def any_of(conditions: Iterable[Sql]) -> Sql:
    out = NEVER
    for c in conditions:
        out |= c
    return out


def _value(value):
    """A value bound as the ORM binds it for the column (SQLite keeps datetimes as UTC text)."""
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value


OPERATORS = frozenset({"=", "<>", "<", "<=", ">", ">="})


def compare(column: str, op: str, value) -> Sql:
    """`column op value`; `= None` is IS NULL."""
    assert op in OPERATORS, op
    if value is None:
        assert op == "=", op
        return Sql(f'"{column}" IS NULL')
    return Sql(f'"{column}" {op} %s', (_value(value),))


def eq(column: str, value) -> Sql:
    return compare(column, "=", value)


def columns(**values) -> Sql:
    """Each column equal to its value."""
    return all_of(eq(column, value) for column, value in values.items())


def is_null(column: str, null: bool = True) -> Sql:
    return Sql(f'"{column}" IS {"" if null else "NOT "}NULL')


def one_of(column: str, values: Iterable) -> Sql:
    """`column IN (...)`; duplicates and NULLs dropped, as the ORM does; no values: never."""
    values = list(dict.fromkeys(v for v in values if v is not None))
    if not values:
        return NEVER
    if len(values) == 1:
        return eq(column, values[0])
    return Sql(f'"{column}" IN ({", ".join(["%s"] * len(values))})', tuple(_value(v) for v in values))


LIKE = {"startswith": "{}%", "endswith": "%{}", "contains": "%{}%"}


def like(column: str, how: str, text: str) -> Sql:
    """A string prefix (`startswith`), suffix or infix, written as the ORM writes it for a CharField on
    this database: the same cast, operator and escaping, so `%`, `_` and `\\` in `text` are literal."""
    cast = connection.ops.lookup_cast(how, "CharField") % f'"{column}"'
    return Sql(f"{cast} {connection.operators[how]}", (LIKE[how].format(connection.ops.prep_for_like_query(text)),))


def raw(text: str, *params) -> Sql:
    return Sql(text, tuple(_value(p) for p in params))


@dataclass(frozen=True)
class Rows:
    """`column` of the rows of `table` where `where` holds."""

    table: str
    where: Sql = ALWAYS
    column: str = "record_id"

    def sql(self, distinct: bool = False) -> Sql:
        select = f'SELECT {"DISTINCT " if distinct else ""}"{self.column}" FROM "{self.table}"'
        return Sql(select + ("" if self.where.always else f" WHERE {self.where.text}"), self.where.params)

    def narrowed(self, others: Iterable[Rows] = (), extra: Sql = ALWAYS) -> Rows:
        """These rows whose record is also in each of `others`, and for which `extra` holds."""
        return Rows(self.table, all_of([self.where, extra, *(in_rows("record_id", o) for o in others)]), self.column)


def in_rows(column: str, rows: Rows) -> Sql:
    if rows.where.never:
        return NEVER
    sub = rows.sql()
    return Sql(f'"{column}" IN ({sub.text})', sub.params)


@dataclass(frozen=True)
class Where:
    """A condition on stored records: the id in each of `drivers`' rows, and `rest`."""

    drivers: tuple[Rows, ...] = ()
    rest: Sql = ALWAYS

    @classmethod
    def of(cls, rows: Rows) -> Where:
        return cls(rest=NEVER) if rows.where.never else cls((rows,))

    @property
    def never(self) -> bool:
        return self.rest.never

    def __and__(self, other: Where) -> Where:
        if self.never:
            return self
        if other.never:
            return other
        return Where(self.drivers + other.drivers, self.rest & other.rest)

    def __or__(self, other: Where) -> Where:
        if self.never or (not other.drivers and other.rest.always):
            return other
        if other.never or (not self.drivers and self.rest.always):
            return self
        return Where(rest=self.sql() | other.sql())

    def __invert__(self) -> Where:
        return Where(rest=~self.sql())

    def sql(self) -> Sql:
        """The condition over the records table's own columns."""
        return all_of([*(in_rows("id", d) for d in self.drivers), self.rest])

    def q(self) -> Q:
        """The same condition for a Django queryset over ResourceRecord, for the callers that read
        records through the ORM (bulk export's stream, `$lastn`, `_list`, `_include`): the one adapter."""
        condition = self.sql()
        if condition.always:
            return Q()
        if condition.never:
            return Q(pk__in=[])
        return Q(RawSQL(condition.text, condition.params, output_field=BooleanField()))


EVERYTHING = Where()
NOTHING = Where(rest=NEVER)


def where_any(conditions: Iterable[Where]) -> Where:
    out = NOTHING
    for c in conditions:
        out |= c
    return out


def records(where: Where, **columns_) -> Where:
    """`where` and the record's own columns equal to these values."""
    return where & Where(rest=columns(**columns_))
