"""date parameters. Stored values (date, dateTime, instant, Period, Timing) and searched values are
both ranges [low, high]; prefixes compare them as R4 3.1.1.4.2 says (`2026-05` is the whole month)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ..conditions import Sql, eq
from ..conditions import compare as column_is
from ..models import DateIndex
from ..values import MAX_DATETIME, MIN_DATETIME, date_range, search_date_range, split_prefix
from .base import PREFIXED, Condition, ParamType, filter_literal, refuse_modifier

model = DateIndex
MODIFIERS = (None,)


def _ranges(value) -> list[tuple[datetime, datetime]]:
    if isinstance(value, str):
        found = date_range(value)
        return [found] if found else []
    if not isinstance(value, dict):
        return []
    if "start" in value or "end" in value:  # Period: open ends are unbounded
        start = date_range(value["start"]) if isinstance(value.get("start"), str) else None
        end = date_range(value["end"]) if isinstance(value.get("end"), str) else None
        return [(start[0] if start else MIN_DATETIME, end[1] if end else MAX_DATETIME)]
    out = []
    if "event" in value or "repeat" in value:  # Timing
        for event in value.get("event", []):
            out += _ranges(event)
        bounds = value.get("repeat", {}).get("boundsPeriod")
        if bounds:
            out += _ranges(bounds)
    return out


def extract(values: list) -> list[dict]:
    rows = []
    for value in values:
        for low, high in _ranges(value):
            rows.append({"low": low, "high": high})
    return rows


def compare(prefix: str, low: datetime, high: datetime, low_field: str, high_field: str) -> Sql:
    """Target range [low_field, high_field] against search range [low, high] under `prefix`."""
    contained = column_is(low_field, ">=", low) & column_is(high_field, "<=", high)
    if prefix == "eq":
        return contained
    if prefix == "ne":
        return ~contained
    if prefix == "gt":
        return column_is(high_field, ">", high)
    if prefix == "lt":
        return column_is(low_field, "<", low)
    if prefix == "ge":
        return column_is(high_field, ">", high) | contained
    if prefix == "le":
        return column_is(low_field, "<", low) | contained
    if prefix == "sa":
        return column_is(low_field, ">", high)
    if prefix == "eb":
        return column_is(high_field, "<", low)
    # ap: overlaps the search range widened by 10% of its distance from now (at least a day)
    now = datetime.now(timezone.utc)
    gap = max(abs(now - low), abs(now - high)) * 0.1
    slack = max(gap, timedelta(days=1))
    return column_is(low_field, "<=", min(high + slack, MAX_DATETIME)) & \
        column_is(high_field, ">=", max(low - slack, MIN_DATETIME))


def overlaps(low: datetime, high: datetime, low_field: str = "low", high_field: str = "high") -> Sql:
    """`_filter`'s `po`: the stored range overlaps [low, high]."""
    return column_is(low_field, "<=", high) & column_is(high_field, ">=", low)


def parse(name: str, value: str) -> tuple[str, datetime, datetime]:
    prefix, text = split_prefix(value, name=name)
    low, high = search_date_range(text, name=name)
    return prefix, low, high


def condition(name: str, value: str, modifier: str | None) -> Sql:
    refuse_modifier(modifier, MODIFIERS, "date", name)
    prefix, low, high = parse(name, value)
    return eq("name", name) & compare(prefix, low, high, "low", "high")


class DateType(ParamType):
    name = "date"
    model = model
    modifiers = MODIFIERS
    filter_ops = PREFIXED + ("po", "pr")

    def sort_column(self, descending: bool) -> tuple[str, str]:
        return ("high" if descending else "low"), "datetime"  # ascending by earliest start, descending by latest end

    extract = staticmethod(extract)

    def value_condition(self, param, value: str, modifier: str | None, base_url: str) -> Sql:
        return condition(param.name, value, modifier)

    def filter_test(self, param, op: str, value: str, base_url: str) -> Condition | tuple[str | None, str]:
        if op == "po":  # the stored period overlaps the value's implied period
            low, high = search_date_range(value, name=param.name)
            return Condition(self.model, eq("name", param.name) & overlaps(low, high))
        return None, op + filter_literal(value)  # a prefix


TYPE = DateType()
