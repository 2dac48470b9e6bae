"""quantity parameters: `[prefix]value[|system|code]`, UCUM-aware.

Every stored Quantity with a UCUM unit also keeps its value in canonical base units
(`resources.ucum.canonical`), so `gt5.4|http://unitsofmeasure.org|mmol/L` also finds a value stored
in umol/L: a search with a UCUM unit compares canonical values of the same dimension.
"""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from fhirserver.core.errors import bad_request
from resources.ucum import canonical as ucum_canonical

from ..conditions import Sql, eq
from ..models import QuantityIndex
from ..values import implicit_range, parse_decimal, split_escaped, split_prefix
from .base import refuse_modifier
from .number import NumberType, as_number, compare

model = QuantityIndex
MODIFIERS = (None,)
UCUM = "http://unitsofmeasure.org"
CURRENCY = "urn:iso:std:iso:4217"


def canonical(value: Decimal, code: str) -> tuple[Decimal, str] | None:
    return _canonical(value, code)


@lru_cache(maxsize=8192)  # the same Quantity feeds several parameters of one resource
def _canonical(value: Decimal, code: str) -> tuple[Decimal, str] | None:
    try:
        return ucum_canonical(value, code)
    except Exception:
        return None


def extract(values: list) -> list[dict]:
    rows = []
    for v in values:
        if not isinstance(v, dict):
            continue
        number = as_number(v.get("value"))
        if number is None:
            continue
        if "currency" in v:  # Money
            rows.append(
                {
                    "value": number,
                    "system": CURRENCY,
                    "code": v["currency"],
                    "canonical_value": None,
                    "canonical_unit": "",
                }
            )
            continue
        system = v.get("system") or ""
        code = v.get("code") or v.get("unit") or ""
        row = {
            "value": number,
            "system": system[:255],
            "code": code[:64],
            "canonical_value": None,
            "canonical_unit": "",
        }
        if code and system in ("", UCUM):
            found = canonical(Decimal(str(v["value"])), code)
            if found:
                row["canonical_value"], row["canonical_unit"] = float(found[0]), found[1][:64]
        rows.append(row)
    return rows


def parse(name: str, value: str) -> tuple[str, Decimal, str, str]:
    parts = split_escaped(value, "|")
    if len(parts) not in (1, 3):
        raise bad_request(
            f"'{value}' is not a quantity: use [prefix]number[|system|code] (parameter {name})",
            code="SEARCH_BAD_QUANTITY",
        )
    prefix, text = split_prefix(parts[0], name=name)
    number = parse_decimal(text, name=name)
    system, code = (parts[1], parts[2]) if len(parts) == 3 else ("", "")
    return prefix, number, system, code


def quantity_q(prefix: str, number: Decimal, system: str, code: str, *, value: str, system_field: str,
               code_field: str, canonical_value: str, canonical_unit: str) -> Sql:
    """A condition on the given columns: by canonical UCUM value when the unit allows, else value+system+code."""
    direct = compare(prefix, number, value)
    if code:
        direct &= eq(code_field, code)
    if system:
        direct &= eq(system_field, system)
    if not code or system not in ("", UCUM):
        return direct
    found = canonical(number, code)
    if not found:
        return direct
    low, high = implicit_range(number)
    canon_low, canon_high = canonical(low, code), canonical(high, code)
    by_canonical = eq(canonical_unit, found[1]) & compare(
        prefix, found[0], canonical_value, canon_low[0], canon_high[0]
    )
    return direct | by_canonical


def condition(name: str, value: str, modifier: str | None) -> Sql:
    refuse_modifier(modifier, MODIFIERS, "quantity", name)
    prefix, number, system, code = parse(name, value)
    return eq("name", name) & quantity_q(
        prefix,
        number,
        system,
        code,
        value="value",
        system_field="system",
        code_field="code",
        canonical_value="canonical_value",
        canonical_unit="canonical_unit",
    )


class QuantityType(NumberType):
    """A number type (prefixes, sorting by `value`) over its own table, with units."""

    name = "quantity"
    model = model
    modifiers = MODIFIERS

    extract = staticmethod(extract)
    condition_of = staticmethod(condition)


TYPE = QuantityType()
