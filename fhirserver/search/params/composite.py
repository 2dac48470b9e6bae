"""composite parameters (`code-value-quantity=http://loinc.org|718-7$gt15`): the components must
match on the same element, so each row holds one combination of component values."""
from __future__ import annotations

from functools import lru_cache
from itertools import product

from fhirserver.core.errors import bad_request

from ..conditions import Sql, eq, like
from ..models import CompositeIndex
from ..paths import compile_expression
from ..values import normalize_text, parse_decimal, split_escaped, split_prefix
from . import date, number, quantity, reference, string, token
from .base import ParamType, refuse_modifier

model = CompositeIndex
MODIFIERS = (None,)
_EXTRACT = {"token": token.extract, "quantity": quantity.extract, "number": number.extract, "date": date.extract,
            "string": string.extract, "reference": reference.extract}


@lru_cache(maxsize=None)
def _relative(expression: str):
    branches = [b.strip() for b in expression.split("|")]
    return compile_expression(" | ".join(f"Element.{b}" for b in branches), "Element")


def _columns(position: int, kind: str, row: dict) -> dict | None:
    if position == 0:
        if kind == "token":
            return {"system1": row["system"], "code1": row["code"]} if row["code"] else None
        if kind == "reference":
            code = f"{row['target_type']}/{row['target_id']}" if row["target_id"] else row["url"]
            return {"code1": code}
        return None
    if position == 1:
        if kind == "token":
            return {"system2": row["system"], "code2": row["code"]} if row["code"] else None
        if kind == "quantity":
            return {"value2": row["value"], "system2": row["system"], "code2": row["code"],
                    "canonical_value2": row["canonical_value"], "canonical_unit2": row["canonical_unit"]}
        if kind == "number":
            return {"value2": row["value"]}
        if kind == "date":
            return {"low2": row["low"], "high2": row["high"]}
        if kind == "string":
            return {"code2": row["value"][:255]}
        return None
    return {"value3": row["value"]} if kind == "number" else None


@lru_cache(maxsize=None)
def _plan(components) -> tuple:
    """(position, relative path, type extractor, type) per component, the last first: later
    components (value[x] of one type) are the ones usually absent, so they are looked at first."""
    return tuple(
        (position, _relative(c.expression), _EXTRACT.get(c.type), c.type)
        for position, c in reversed(list(enumerate(components)))
    )


def extract(elements: list, components) -> list[dict]:
    rows = []
    plan = _plan(components)
    for element in elements:
        if not isinstance(element, dict):
            continue
        per_component = []
        for position, relative, extractor, kind in plan:
            values = relative(element)
            columns = [c for c in (_columns(position, kind, r) for r in extractor(values)) if c] if extractor else []
            if not columns:
                break
            per_component.append(columns)
        if len(per_component) != len(components):
            continue
        per_component.reverse()
        for combination in product(*per_component):
            row: dict = {}
            for columns in combination:
                row.update(columns)
            rows.append(row)
    return rows


def condition(name: str, value: str, modifier: str | None, components, base_url: str = "") -> Sql:
    refuse_modifier(modifier, MODIFIERS, "composite", name)
    parts = split_escaped(value, "$")
    if len(parts) != len(components):
        raise bad_request(
            f"{name} needs {len(components)} values joined by '$', got '{value}'", code="SEARCH_BAD_COMPOSITE"
        )
    q = eq("name", name)
    for position, (part, component) in enumerate(zip(parts, components)):
        q &= _component_q(name, position, component.type, part, base_url)
    return q


def _component_q(name: str, position: int, kind: str, text: str, base_url: str) -> Sql:
    if position == 0:
        if kind == "reference":
            target_type, target_id, url = reference.parse_reference(text, base_url)
            return eq("code1", f"{target_type}/{target_id}" if target_id else url)
        return token.token_q(text, system_field="system1", code_field="code1", name=name)
    if position == 2:
        prefix, raw = split_prefix_number(name, text)
        return number.compare(prefix, raw, "value3")
    if kind == "token":
        return token.token_q(text, system_field="system2", code_field="code2", name=name)
    if kind == "quantity":
        prefix, num, system, code = quantity.parse(name, text)
        return quantity.quantity_q(
            prefix,
            num,
            system,
            code,
            value="value2",
            system_field="system2",
            code_field="code2",
            canonical_value="canonical_value2",
            canonical_unit="canonical_unit2",
        )
    if kind == "number":
        prefix, raw = split_prefix_number(name, text)
        return number.compare(prefix, raw, "value2")
    if kind == "date":
        prefix, low, high = date.parse(name, text)
        return date.compare(prefix, low, high, "low2", "high2")
    if kind == "string":
        return like("code2", "startswith", normalize_text(text))
    raise bad_request(f"Composite component type {kind} is not supported ({name})", code="SEARCH_BAD_COMPOSITE")


def split_prefix_number(name: str, text: str):
    prefix, raw = split_prefix(text, name=name)
    return prefix, parse_decimal(raw, name=name)


class CompositeType(ParamType):
    name = "composite"
    model = model
    modifiers = MODIFIERS

    def rows(self, param, values: list) -> list[dict]:
        return extract(values, param.components)

    def value_condition(self, param, value: str, modifier: str | None, base_url: str) -> Sql:
        return condition(param.name, value, modifier, param.components, base_url)

    def filter_test(self, param, op: str, value: str, base_url: str) -> tuple[str | None, str]:
        return None, value.replace("\\", "\\\\").replace(",", "\\,")  # `$` still joins the components


TYPE = CompositeType()
