"""string parameters: case- and accent-insensitive prefix by default, `:exact`, `:contains`."""
from __future__ import annotations

from ..conditions import Sql, columns, compare, eq, like
from ..models import StringIndex
from ..values import TEXT_LENGTH, normalize_text, split_escaped
from .base import FILTER_LIKE, Condition, ParamType, refuse_modifier

ORDER = {"eq": "=", "ne": "=", "gt": ">", "lt": "<", "ge": ">=", "le": "<="}

model = StringIndex
MODIFIERS = (None, "exact", "contains")
NAME_PARTS = ("text", "family", "given", "prefix", "suffix")
ADDRESS_PARTS = ("text", "line", "city", "district", "state", "postalCode", "country")


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        out: list[str] = []
        for key in NAME_PARTS + ADDRESS_PARTS + ("display", "value"):
            part = value.get(key)
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, list):
                out.extend(p for p in part if isinstance(p, str))
        return out
    return []


def extract(values: list) -> list[dict]:
    rows, seen = [], set()
    for value in values:
        for text in _strings(value):
            norm = normalize_text(text)
            if norm and (norm, text) not in seen:
                seen.add((norm, text))
                rows.append({"value": norm, "exact": text[:TEXT_LENGTH]})
    return rows


def condition(name: str, value: str, modifier: str | None) -> Sql:
    refuse_modifier(modifier, MODIFIERS, "string", name)
    text = "".join(split_escaped(value, ","))
    if modifier == "exact":
        return columns(name=name, exact=text[:TEXT_LENGTH])
    return eq("name", name) & like("value", modifier or "startswith", normalize_text(text))


class StringType(ParamType):
    name = "string"
    model = model
    modifiers = MODIFIERS
    filter_ops = ("eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le", "pr")
    sort_by = "value"
    sort_kind = "str"

    extract = staticmethod(extract)

    def value_condition(self, param, value: str, modifier: str | None, base_url: str) -> Sql:
        return condition(param.name, value, modifier)

    def filter_test(self, param, op: str, value: str, base_url: str) -> Condition:
        """Case- and accent-insensitive (the normalised column), whole values for eq/ne."""
        norm = normalize_text(value)
        test = like("value", FILTER_LIKE[op], norm) if op in FILTER_LIKE else compare("value", ORDER[op], norm)
        return Condition(self.model, eq("name", param.name) & (~test if op == "ne" else test))


TYPE = StringType()
