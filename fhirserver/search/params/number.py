"""number parameters: prefixes, with the spec's implicit precision for eq/ne (100 = [99.5, 100.5)).

`NumberType` is also what quantity.py's type is, but for its value's parsing and its index table:
both are a prefixed comparison of a float column, sorted by that column."""
from __future__ import annotations

from decimal import Decimal

from ..conditions import Sql, eq
from ..conditions import compare as column_is
from ..models import NumberIndex
from ..values import implicit_range, parse_decimal, split_prefix
from .base import PREFIXED, ParamType, filter_literal, refuse_modifier

model = NumberIndex
MODIFIERS = (None,)


def as_number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(Decimal(value))
        except ArithmeticError:
            return None
    return None


def extract(values: list) -> list[dict]:
    return [{"value": n} for n in (as_number(v) for v in values) if n is not None]


ORDER = {"gt": ">", "sa": ">", "lt": "<", "eb": "<", "ge": ">=", "le": "<="}


def compare(prefix: str, value: Decimal, field: str, low: Decimal | None = None, high: Decimal | None = None) -> Sql:
    """`field` against `value` under `prefix`; [low, high) is the implicit-precision range of eq/ne."""
    if prefix in ORDER:
        return column_is(field, ORDER[prefix], float(value))
    if prefix == "ap":  # within 10%
        slack = abs(value) * Decimal("0.1")
        return column_is(field, ">=", float(value - slack)) & column_is(field, "<=", float(value + slack))
    if low is None or high is None:
        low, high = implicit_range(value)
    within = column_is(field, ">=", float(low)) & column_is(field, "<", float(high))
    return ~within if prefix == "ne" else within


def condition(name: str, value: str, modifier: str | None) -> Sql:
    refuse_modifier(modifier, MODIFIERS, "number", name)
    prefix, text = split_prefix(value, name=name)
    return eq("name", name) & compare(prefix, parse_decimal(text, name=name), "value")


class NumberType(ParamType):
    """A prefixed comparison of a float column (`value`), which `_sort` orders by."""

    name = "number"
    model = model
    modifiers = MODIFIERS
    filter_ops = PREFIXED + ("pr",)
    sort_by = "value"
    sort_kind = "float"

    extract = staticmethod(extract)
    condition_of = staticmethod(condition)  # (name, value, modifier) -> Sql: the type's own parsing

    def value_condition(self, param, value: str, modifier: str | None, base_url: str) -> Sql:
        return self.condition_of(param.name, value, modifier)

    def filter_test(self, param, op: str, value: str, base_url: str) -> tuple[str | None, str]:
        return None, op + filter_literal(value)  # a prefix


TYPE = NumberType()
