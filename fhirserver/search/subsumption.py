"""Token `:below` / `:above` (and `_filter` `ss` / `sb`): subsumption in code systems this server holds.

`code:below=http://acme.org/cs|A` matches codes A and everything A subsumes, `:above` A and everything
that subsumes A, by the `is-a` hierarchy of a CodeSystem resource stored here (nested `concept`s and
the `parent` / `child` / `subsumedBy` properties). A system the server does not hold, or whose
hierarchy means something else than `is-a` (grouped-by, part-of, classified-with), cannot be
subsumed: that is a 400 `SEARCH_CANNOT_SUBSUME`, never an equality search in disguise.
"""
from __future__ import annotations

from fhirserver.core.errors import bad_request
from fhirserver.storage.models import ResourceRecord

from .conditions import Sql, eq, one_of
from .models import UriIndex
from .values import TEXT_LENGTH, split_escaped

PARENT_PROPERTIES = ("parent", "subsumedBy")
CHILD_PROPERTIES = ("child",)


def codes_q(name: str, value: str, modifier: str, *, system_field: str = "system", code_field: str = "code") -> Sql:
    """`system|code` under `:below` or `:above` as a condition on (system_field, code_field)."""
    parts = split_escaped(value, "|")
    if len(parts) != 2 or not all(parts):
        raise bad_request(
            f"{name}:{modifier} needs system|code (the code system decides what subsumes what), got '{value}'",
            code="SEARCH_CANNOT_SUBSUME",
            issue_code="not-supported",
        )
    system, code = parts
    parents = hierarchy(system)
    if parents is None:
        raise bad_request(
            f"{name}:{modifier}: code system '{system}' is not held by this server with an is-a hierarchy, "
            "so subsumption cannot be evaluated",
            code="SEARCH_CANNOT_SUBSUME",
            issue_code="not-supported",
        )
    related = _closure(code, parents if modifier == "above" else _invert(parents))
    return eq(system_field, system) & one_of(code_field, sorted(c[:TEXT_LENGTH] for c in related))


def hierarchy(system: str) -> dict[str, set[str]] | None:
    """code -> its direct parents, over every stored CodeSystem with this url; None if none is stored
    or one declares a hierarchy that is not `is-a`, or none of them holds any parent/child link (a flat
    list of codes, such as a `fragment` subset of LOINC, says nothing about what subsumes what)."""
    stored = UriIndex.objects.filter(resource_type="CodeSystem", name="url", uri=system[:TEXT_LENGTH]).values("record")
    systems = [r.content for r in ResourceRecord.objects.filter(pk__in=stored, deleted=False)]
    if not systems or any(cs.get("hierarchyMeaning", "is-a") != "is-a" for cs in systems):
        return None
    parents: dict[str, set[str]] = {}
    for cs in systems:
        _walk(cs.get("concept", []), None, parents)
    if not any(parents.values()):
        return None
    return parents


def _walk(concepts: list, parent: str | None, parents: dict[str, set[str]]) -> None:
    for concept in concepts:
        code = concept.get("code") if isinstance(concept, dict) else None
        if not code:
            continue
        mine = parents.setdefault(code, set())
        if parent:
            mine.add(parent)
        for prop in concept.get("property", []):
            target = prop.get("valueCode") or prop.get("valueString")
            if not target:
                continue
            if prop.get("code") in PARENT_PROPERTIES:
                mine.add(target)
            elif prop.get("code") in CHILD_PROPERTIES:
                parents.setdefault(target, set()).add(code)
        _walk(concept.get("concept", []), code, parents)


def _invert(parents: dict[str, set[str]]) -> dict[str, set[str]]:
    children: dict[str, set[str]] = {}
    for code, ups in parents.items():
        for up in ups:
            children.setdefault(up, set()).add(code)
    return children


def _closure(code: str, edges: dict[str, set[str]]) -> set[str]:
    """`code` and everything reachable from it (cycles in bad data end the walk, not the server)."""
    seen, todo = {code}, [code]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
