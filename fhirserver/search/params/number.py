"""number parameters: prefixes, with the spec's implicit precision for eq/ne (100 = [99.5, 100.5))."""
from __future__ import annotations

from decimal import Decimal

from django.db.models import Q

from fhirserver.core.errors import bad_request

from ..models import NumberIndex
from ..values import implicit_range, parse_decimal, split_prefix
from .base import PREFIXED, ParamType

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


def compare(prefix: str, value: Decimal, field: str, low: Decimal | None = None, high: Decimal | None = None) -> Q:
    """`field` against `value` under `prefix`; [low, high) is the implicit-precision range of eq/ne."""
    if low is None or high is None:
        low, high = implicit_range(value)
    if prefix == "eq":
        return Q(**{f"{field}__gte": float(low), f"{field}__lt": float(high)})
    if prefix == "ne":
        return ~Q(**{f"{field}__gte": float(low), f"{field}__lt": float(high)})
    if prefix in ("gt", "sa"):
        return Q(**{f"{field}__gt": float(value)})
    if prefix in ("lt", "eb"):
        return Q(**{f"{field}__lt": float(value)})
    if prefix == "ge":
        return Q(**{f"{field}__gte": float(value)})
    if prefix == "le":
        return Q(**{f"{field}__lte": float(value)})
    slack = abs(value) * Decimal("0.1")  # ap: within 10%
    return Q(**{f"{field}__gte": float(value - slack), f"{field}__lte": float(value + slack)})


def condition(name: str, value: str, modifier: str | None) -> Q:
    if modifier not in MODIFIERS:
        raise bad_request(
            f"Modifier :{modifier} is not supported on number parameter {name}", code="SEARCH_BAD_MODIFIER"
        )
    prefix, text = split_prefix(value, name=name)
    return Q(name=name) & compare(prefix, parse_decimal(text, name=name), "value")


class NumberType(ParamType):
    name = "number"
    model = model
    modifiers = MODIFIERS
    filter_ops = PREFIXED + ("pr",)
    sort_by = "value"
    sort_kind = "float"

    extract = staticmethod(extract)

    def value_condition(self, param, value: str, modifier: str | None, base_url: str) -> Q:
        return condition(param.name, value, modifier)


TYPE = NumberType()
