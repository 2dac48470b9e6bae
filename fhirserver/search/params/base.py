"""What a search-parameter type is, in one place: `ParamType`.

Each type module (string.py, token.py, ...) holds one subclass, which says everything the engine
needs to know of the type: its index table (`model`), how the values a FHIRPath expression selected
become index rows (`extract`, on write), what a search value becomes (`condition`, on read), the
column a `_sort` orders by (`sort_column`), whether `:missing` can be answered (`missing`), and which
`_filter` operations mean something for it (`filter_ops`). The indexer, the compiler, `_filter` and
paging ask the type, so no table elsewhere repeats what a type is.
"""
from __future__ import annotations

from dataclasses import dataclass

from fhirserver.core.errors import bad_request

from ..conditions import Sql, any_of, eq

PREFIXED = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")  # the ordinary search prefixes


@dataclass(frozen=True)
class Condition:
    """Rows of `model` matching `where`; `negated`: the records that have no such row (`:not`)."""

    model: type
    where: Sql
    negated: bool = False


FILTER_LIKE = {"co": "contains", "sw": "startswith", "ew": "endswith"}  # `_filter` string operations


def filter_literal(value: str) -> str:
    """A literal `_filter` value as an ordinary search value (commas, `$` and backslashes are syntax there)."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("$", "\\$")


def refuse_modifier(modifier: str | None, allowed: tuple, kind: str, name: str) -> None:
    if modifier not in allowed:
        raise bad_request(f"Modifier :{modifier} is not supported on {kind} parameter {name}",
                          code="SEARCH_BAD_MODIFIER")


class ParamType:
    name: str = ""
    model: type | None = None  # the index table (None: answered from the record row)
    modifiers: tuple = (None,)
    filter_ops: tuple = ("eq", "pr")
    sort_by: str | None = None  # the index column `_sort` orders by; None = not sortable
    sort_kind: str = "str"  # how paging compares it: "str", "float", "datetime"

    # --- write ---------------------------------------------------------------------------------
    def rows(self, param, values: list) -> list[dict]:
        """Index-row columns for the values `param`'s expression selected from a resource."""
        return self.extract(values)

    @staticmethod
    def extract(values: list) -> list[dict]:
        raise NotImplementedError

    # --- read ----------------------------------------------------------------------------------
    def condition(self, param, values: list[str], modifier: str | None, base_url: str = "") -> Condition:
        """The OR of `values` (one repetition of the parameter) as rows of the index table (each
        value's condition refuses a modifier the type does not have)."""
        return Condition(self.model, any_of(self.value_condition(param, v, modifier, base_url) for v in values))

    def value_condition(self, param, value: str, modifier: str | None, base_url: str) -> Sql:
        raise NotImplementedError

    def missing(self, param) -> Condition:
        """`:missing=false`: the records with a row of this parameter (the compiler negates for true)."""
        if self.model is None or not param.expression:
            raise bad_request(f"{param.name}:missing is not supported", code="SEARCH_BAD_MODIFIER")
        return Condition(self.model, eq("name", param.name))

    def filter_test(self, param, op: str, value: str, base_url: str) -> Condition | tuple[str | None, str]:
        """What `_filter`'s `param op value` asks of this type (`op` one of `filter_ops`, not `pr`):
        rows of its table (a Condition), or the ordinary search `(modifier, value)` meaning the same."""
        return None, filter_literal(value)  # eq, re

    def sort_column(self, descending: bool) -> tuple[str, str] | None:
        """(index column, kind) a `_sort` on this type orders by, None when the type does not sort."""
        return (self.sort_by, self.sort_kind) if self.sort_by else None
