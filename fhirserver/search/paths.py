"""FHIRPath expressions of SearchParameters, compiled to plain Python walkers.

Nearly every R4 search expression is a union of simple paths: `Observation.code`,
`Observation.subject.where(resolve() is Patient)`, `(Observation.value as Quantity)`,
`Patient.telecom.where(system='phone')`, `Patient.extension('url')`. Those compile to a list of
steps over the JSON (fast: indexing runs inside every write). Anything else falls back to
fhirpathpy. `resolve() is T` is only a type check on the reference string: no lookups on write.
"""
from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any, Callable

from resources import definitions

log = logging.getLogger(__name__)

CHOICE_NAMES: frozenset[str] = frozenset(definitions.load("choice_elements.json"))

Step = Callable[[list], list]
Extractor = Callable[[dict], list]

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_SEGMENT = re.compile(
    rf"""(?P<name>{_IDENT})(?:\((?P<arg>[^()]*(?:\([^()]*\)[^()]*)*)\))?"""
)


def split_top(text: str, sep: str) -> list[str]:
    """Split on `sep` outside parentheses and quotes."""
    parts, depth, quote, start, i = [], 0, False, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "'" and (i == 0 or text[i - 1] != "\\"):
            quote = not quote
        elif not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            depth -= 1
        elif not quote and depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i + len(sep)
            i += len(sep)
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _children(nodes: list, name: str) -> list:
    out = []
    for node in nodes:
        if not isinstance(node, dict):
            continue
        value = node.get(name)
        if value is None and name in CHOICE_NAMES:
            prefix = name
            for key, v in node.items():
                if key.startswith(prefix) and len(key) > len(prefix) and key[len(prefix)].isupper():
                    value = v
                    break
        if value is None:
            continue
        if isinstance(value, list):
            out.extend(v for v in value if v is not None)
        else:
            out.append(value)
    return out


def _choice_step(name: str, type_name: str) -> Step:
    key = name + type_name[0].upper() + type_name[1:]

    def step(nodes: list) -> list:
        out = []
        for node in nodes:
            if isinstance(node, dict) and key in node:
                value = node[key]
                out.extend(value if isinstance(value, list) else [value])
        return out

    return step


def reference_type(reference: str) -> str | None:
    """The resource type a reference string points to (`Patient/1`, `http://x/fhir/Patient/1/_history/2`)."""
    parts = reference.split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return parts[-2] if len(parts) >= 2 else None


def _resolve_is(types: set[str]) -> Step:
    def step(nodes: list) -> list:
        return [n for n in nodes if isinstance(n, dict) and reference_type(n.get("reference") or "") in types]

    return step


def _where_equals(key: str, literal: str) -> Step:
    def step(nodes: list) -> list:
        return [n for n in nodes if isinstance(n, dict) and n.get(key) == literal]

    return step


def _extension(url: str) -> Step:
    def step(nodes: list) -> list:
        return [e for n in nodes if isinstance(n, dict) for e in n.get("extension", []) if e.get("url") == url]

    return step


_RESOLVE_IS = re.compile(rf"^resolve\(\) is ({_IDENT})$")
_EQUALS = re.compile(rf"^({_IDENT})\s*=\s*'([^']*)'$")
_AS = re.compile(rf"^\((.*) as ({_IDENT})\)(.*)$")


class Unsupported(Exception):
    pass


def _root(text: str) -> str | None:
    """The top-level key a path reads (`Observation.code` -> "code", `(Observation.value as Quantity)`
    -> "valueQuantity", `Observation.extension('url')` -> "extension"); None when unknown."""
    m = _AS.match(text)
    if m:  # the same rewrite as _compile_path
        text = f"{m.group(1)}.as({m.group(2)}){m.group(3)}"
    pieces = split_top(text, ".")
    if len(pieces) < 2:
        return None
    seg = _SEGMENT.fullmatch(pieces[1])
    if not seg:
        return None
    name, arg = seg.group("name"), seg.group("arg")
    if arg is not None:
        return "extension" if name == "extension" else None
    nxt = _SEGMENT.fullmatch(pieces[2]) if len(pieces) > 2 else None
    if nxt and nxt.group("name") in ("as", "ofType") and nxt.group("arg"):
        type_name = nxt.group("arg").strip()
        return name + type_name[0].upper() + type_name[1:]  # the one key _choice_step reads
    return name


def _compile_path(text: str, resource_type: str) -> list[Step] | None:
    """Steps for one union member, or None when it is about another resource type."""
    m = _AS.match(text)
    if m:  # "(Observation.value as Quantity).text" -> "Observation.value.as(Quantity).text"
        text = f"{m.group(1)}.as({m.group(2)}){m.group(3)}"
    pieces = split_top(text, ".")
    if not pieces or pieces[0] not in (resource_type, "Resource", "DomainResource"):
        if pieces and re.fullmatch(r"[A-Z][A-Za-z]+", pieces[0]):
            return None  # another resource type's branch of a shared parameter
        raise Unsupported(text)
    steps: list[Step] = []
    names = pieces[1:]
    i = 0
    while i < len(names):
        seg = _SEGMENT.fullmatch(names[i])
        if not seg:
            raise Unsupported(text)
        name, arg = seg.group("name"), seg.group("arg")
        nxt = _SEGMENT.fullmatch(names[i + 1]) if i + 1 < len(names) else None
        if arg is None and nxt and nxt.group("name") in ("as", "ofType") and nxt.group("arg"):
            steps.append(_choice_step(name, nxt.group("arg").strip()))
            i += 2
            continue
        if arg is None:
            steps.append(lambda nodes, name=name: _children(nodes, name))
        elif name == "where" and _RESOLVE_IS.match(arg.strip()):
            steps.append(_resolve_is({_RESOLVE_IS.match(arg.strip()).group(1)}))
        elif name == "where" and all(_RESOLVE_IS.match(a) for a in split_top(arg, " or ")):
            steps.append(_resolve_is({_RESOLVE_IS.match(a).group(1) for a in split_top(arg, " or ")}))
        elif name == "where" and _EQUALS.match(arg.strip()):
            key, literal = _EQUALS.match(arg.strip()).groups()
            steps.append(_where_equals(key, literal))
        elif name == "extension" and re.fullmatch(r"'[^']*'", arg.strip()):
            steps.append(_extension(arg.strip()[1:-1]))
        elif name in ("as", "ofType"):
            raise Unsupported(text)  # a type filter not right after a choice element
        else:
            raise Unsupported(text)
        i += 1
    return steps


def _run(steps: list[Step], resource: dict) -> list:
    nodes = [resource]
    for step in steps:
        nodes = step(nodes)
        if not nodes:
            return []
    return nodes


def _fhirpath_fallback(expression: str) -> Extractor:
    import fhirpathpy
    from fhirpathpy.models import models

    # resolve() is only a type check here (no database lookups on write).
    expression = re.sub(rf"where\(resolve\(\) is ({_IDENT})\)", r"where(reference.contains('\1/'))", expression)
    compiled = fhirpathpy.compile(expression, models["r4"])  # the model knows choice types (deceased[x])

    def extract(resource: dict) -> list:
        try:
            return [v for v in compiled(resource) if v is not None]
        except Exception:  # a value the expression cannot handle must not fail the write
            log.debug("fhirpath failed: %s", expression, exc_info=True)
            return []

    return extract


@lru_cache(maxsize=None)
def compile_expression(expression: str, resource_type: str) -> Extractor:
    """A function resource-json -> list of JSON values (primitives or dicts) the expression selects."""
    return _compile(expression, resource_type)[0]


@lru_cache(maxsize=None)
def expression_roots(expression: str, resource_type: str) -> frozenset[str] | None:
    """Top-level elements the expression can read (None: unknown, always evaluate). A resource
    without any of them cannot give a value, so the indexer skips the parameter."""
    return _compile(expression, resource_type)[1]


_PRESENT_AND_NOT_FALSE = re.compile(rf"({_IDENT})\.({_IDENT})\.exists\(\) and \1\.\2 != false")


def _present_and_not_false(element: str) -> Extractor:
    """`Patient.deceased.exists() and Patient.deceased != false`: true for deceasedBoolean true or a
    deceasedDateTime, false otherwise (absent included), as FHIRPath says, without its evaluator (it cost
    40 % of a Patient's indexing)."""
    keys = [element] if element not in CHOICE_NAMES else None

    def extract(resource: dict) -> list:
        names = keys or [k for k in resource if k.startswith(element) and k[len(element):][:1].isupper()]
        values = [resource[k] for k in names if resource.get(k) is not None]
        return [bool(values) and all(v is not False for v in values)]

    return extract


@lru_cache(maxsize=None)
def _compile(expression: str, resource_type: str) -> tuple[Extractor, frozenset[str] | None]:
    fixed = _PRESENT_AND_NOT_FALSE.fullmatch(expression.strip())
    if fixed and fixed[1] == resource_type:
        return _present_and_not_false(fixed[2]), None  # None: evaluated on every resource (absent is false)
    parts = split_top(expression, "|")
    try:
        compiled = [(p, _compile_path(p, resource_type)) for p in parts]
    except Unsupported:
        return _fhirpath_fallback(expression), None
    branches = [steps for _, steps in compiled if steps is not None]
    roots = [_root(p) for p, steps in compiled if steps is not None]
    root_set = None if any(r is None for r in roots) else frozenset(roots)
    if not branches:
        return (lambda resource: []), frozenset()
    if len(branches) == 1:
        only = branches[0]
        return (lambda resource: _run(only, resource)), root_set
    return (lambda resource: [v for steps in branches for v in _run(steps, resource)]), root_set


def present_elements(resource: dict) -> set[str]:
    """Top-level element names of a resource, choice elements under their base name too (valueQuantity -> value)."""
    names = set(resource)
    for key in resource:
        for i in range(1, len(key)):
            if key[i].isupper():
                if key[:i] in CHOICE_NAMES:
                    names.add(key[:i])
                break
    return names


def evaluate(expression: str, resource_type: str, resource: Any) -> list:
    return compile_expression(expression, resource_type)(resource)
