"""The JSON type of every primitive (http://hl7.org/fhir/R4/json.html#primitive): a decimal or an
integer is a JSON number, a boolean is true or false, everything else is a string.

The R4B models coerce ("13.50" becomes a decimal, "12" an integer, "true" a boolean), so a
resource sent with a number in quotes would be accepted and stored as a string. The element types
come from the R4 StructureDefinitions (the same table the XML mapping uses); unknown elements and
wrong shapes are left to the models, which report them.
"""
from __future__ import annotations

from resources.xml import element_kinds, primitive_types

_NUMBERS = frozenset({"decimal"})
_INTEGERS = frozenset({"integer", "positiveInt", "unsignedInt"})


def primitive_type_issues(resource: dict) -> list[tuple[str, str]]:
    """(element path, what is wrong) for every primitive whose JSON type is not its FHIR type's."""
    out: list[tuple[str, str]] = []
    resource_type = resource.get("resourceType")
    if isinstance(resource_type, str):
        _check(resource, resource_type, resource_type, out, primitive_types())
    return out


def _check(value: dict, key: str, path: str, out: list, primitives: frozenset) -> None:
    children = element_kinds(key)
    if children is None:
        return
    for name, item in value.items():
        spec = children.get(name)
        if spec is None:
            continue  # resourceType, _name (primitive extensions), unknown elements: not here
        kind, repeats = spec
        if repeats and isinstance(item, list):
            for index, each in enumerate(item):
                _element(each, kind, f"{path}.{name}[{index}]", out, primitives)
        else:
            _element(item, kind, f"{path}.{name}", out, primitives)


def _element(item, kind: str, path: str, out: list, primitives: frozenset) -> None:
    if item is None:
        return
    if kind == "@" or kind in primitives:
        problem = _wrong_json_type(item, kind)
        if problem:
            out.append((path, problem))
    elif isinstance(item, dict):
        if kind == "Resource":
            inner = item.get("resourceType")
            if isinstance(inner, str):
                _check(item, inner, path, out, primitives)
        else:
            _check(item, kind, path, out, primitives)


def _wrong_json_type(item, kind: str) -> str | None:
    if isinstance(item, (dict, list)):
        return None  # a wrong shape: the models say so
    if kind in _NUMBERS:
        ok = isinstance(item, (int, float)) and not isinstance(item, bool)
        return None if ok else f"a decimal must be a JSON number, not {_json_kind(item)} ({item!r})"
    if kind in _INTEGERS:
        ok = isinstance(item, int) and not isinstance(item, bool)
        return None if ok else f"an {kind} must be a JSON integer, not {_json_kind(item)} ({item!r})"
    if kind == "boolean":
        return None if isinstance(item, bool) else f"a boolean must be true or false, not {_json_kind(item)} ({item!r})"
    if isinstance(item, str):
        return None
    return f"a {kind if kind != '@' else 'string'} must be a JSON string, not {_json_kind(item)} ({item!r})"


def _json_kind(item) -> str:
    if isinstance(item, bool):
        return "a boolean"
    if isinstance(item, (int, float)):
        return "a number"
    return "a string" if isinstance(item, str) else type(item).__name__
