"""The JSON type of the non-string primitives (http://hl7.org/fhir/R4/json.html#primitive): a
decimal or an integer is a JSON number, a boolean is true or false.

The R4B models coerce ("13.50" becomes a decimal, "12" an integer, "true" a boolean), so a
resource sent with a number in quotes would be accepted and stored as a string. (A number where a
string belongs the models refuse themselves.) The element types come from the R4
StructureDefinitions, the same table the XML mapping uses; unknown elements and wrong shapes are
left to the models, which report them. This runs on every write, so each element type's children
are sorted once into what to check and what to walk into.
"""
from __future__ import annotations

from functools import lru_cache

from resources.xml import element_kinds, primitive_types

_DECIMAL, _INTEGER, _BOOLEAN, _COMPLEX, _RESOURCE = 1, 2, 3, 4, 5
_INTEGERS = frozenset({"integer", "positiveInt", "unsignedInt"})


@lru_cache(maxsize=None)
def _plan(key: str) -> dict[str, tuple[int, str, bool]]:
    """name -> (what to do, type, repeats) for the children that are not string primitives."""
    plan = {}
    primitives = primitive_types()
    for name, (kind, repeats) in (element_kinds(key) or {}).items():
        if kind == "decimal":
            plan[name] = (_DECIMAL, kind, repeats)
        elif kind in _INTEGERS:
            plan[name] = (_INTEGER, kind, repeats)
        elif kind == "boolean":
            plan[name] = (_BOOLEAN, kind, repeats)
        elif kind == "Resource":
            plan[name] = (_RESOURCE, kind, repeats)
        elif kind != "@" and kind not in primitives:
            plan[name] = (_COMPLEX, kind, repeats)
    return plan


def primitive_type_issues(resource: dict) -> list[tuple[str, str]]:
    """(element path, what is wrong) for every decimal, integer or boolean of the wrong JSON type."""
    out: list[tuple[str, str]] = []
    resource_type = resource.get("resourceType")
    if isinstance(resource_type, str):
        _check(resource, resource_type, (resource_type,), out)
    return out


def _check(value: dict, key: str, where: tuple, out: list) -> None:
    """`where` is the path as nested (parent, name, index) tuples: a string only when it is reported."""
    plan = _plan(key)
    for name, item in value.items():
        step = plan.get(name)
        if step is None or item is None:
            continue  # string primitives, resourceType, _name (primitive extensions), unknown elements
        what, kind, repeats = step
        items = item if repeats and type(item) is list else (item,)
        for index, each in enumerate(items):
            if what == _COMPLEX:
                if type(each) is dict:
                    _check(each, kind, (where, name, index if repeats else None), out)
            elif what == _RESOURCE:
                inner = each.get("resourceType") if type(each) is dict else None
                if isinstance(inner, str):
                    _check(each, inner, (where, name, index if repeats else None), out)
            else:
                problem = _wrong_json_type(each, what, kind)
                if problem:
                    out.append((_path((where, name, index if repeats else None)), problem))


def _path(where: tuple) -> str:
    if len(where) == 1:
        return where[0]
    parent, name, index = where
    return f"{_path(parent)}.{name}" + (f"[{index}]" if index is not None else "")


def _wrong_json_type(item, what: int, kind: str) -> str | None:
    if item is None or isinstance(item, (dict, list)):
        return None  # an absent item in a repeating primitive, or a wrong shape: the models say so
    if what == _BOOLEAN:
        return None if isinstance(item, bool) else f"a boolean must be true or false, not {_json_kind(item)} ({item!r})"
    number = isinstance(item, (int, float)) and not isinstance(item, bool)
    if what == _DECIMAL:
        return None if number else f"a decimal must be a JSON number, not {_json_kind(item)} ({item!r})"
    if number and isinstance(item, int):
        return None
    return f"an {kind} must be a JSON integer, not {_json_kind(item)} ({item!r})"


def _json_kind(item) -> str:
    if isinstance(item, bool):
        return "a boolean"
    if isinstance(item, (int, float)):
        return "a number"
    return "a string" if isinstance(item, str) else type(item).__name__
