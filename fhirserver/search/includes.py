"""`_include` and `_revinclude` (with `:iterate` and `*`): resources the matches point to, or that
point to the matches, read through the reference index. Only what the caller may see is included:
`visible(type)` (the access decision's search filter) is part of every query that reads them, through
the ORM (`Where.q()`, the one adapter)."""
from __future__ import annotations

from django.db.models import Q

from fhirserver.storage.models import ResourceRecord

from .models import ReferenceIndex
from .parser import Include

MAX_ITERATIONS = 4
MAX_INCLUDED = 2000
FIELDS = ("id", "resource_type", "logical_id", "content")


def _seen(resource_type: str, visible) -> Q:
    return Q(resource_type=resource_type) & (visible(resource_type).q() if visible is not None else Q())


def _forward(include: Include, sources: list[dict], visible=None) -> list[dict]:
    ids = [r["id"] for r in sources if include.source_type in ("*", r["resource_type"])]
    if not ids:
        return []
    rows = ReferenceIndex.objects.filter(record_id__in=ids).exclude(target_id="")
    if include.param != "*":
        rows = rows.filter(resource_type=include.source_type, name=include.param)
    if include.target_type:
        rows = rows.filter(target_type=include.target_type)
    by_type: dict[str, set[str]] = {}
    for target_type, target_id in rows.values_list("target_type", "target_id").distinct():
        by_type.setdefault(target_type, set()).add(target_id)
    if not by_type:
        return []
    q = Q(pk__in=[])
    for target_type, target_ids in by_type.items():
        q |= _seen(target_type, visible) & Q(logical_id__in=target_ids)
    return list(ResourceRecord.objects.filter(q, deleted=False).values(*FIELDS)[:MAX_INCLUDED])


def _reverse(include: Include, targets: list[dict], visible=None) -> list[dict]:
    by_type: dict[str, list[str]] = {}
    for r in targets:
        if include.target_type in (None, r["resource_type"]):
            by_type.setdefault(r["resource_type"], []).append(r["logical_id"])
    if not by_type:
        return []
    q = Q(pk__in=[])
    for target_type, ids in by_type.items():
        q |= Q(target_type=target_type, target_id__in=ids)
    rows = ReferenceIndex.objects.filter(q)
    if include.source_type != "*":
        rows = rows.filter(resource_type=include.source_type)
    if include.param != "*":
        rows = rows.filter(name=include.param)
    if include.source_type != "*":
        source_types = [include.source_type]
    else:
        source_types = list(rows.values_list("resource_type", flat=True).distinct())
    seen = Q(pk__in=[])
    for source_type in source_types:
        seen |= _seen(source_type, visible)
    return list(
        ResourceRecord.objects.filter(seen, id__in=rows.values("record_id"), deleted=False).values(*FIELDS)[
            :MAX_INCLUDED
        ]
    )


def resolve(includes: list[Include], matches: list[dict], allowed=None, visible=None) -> list[dict]:
    """Included rows (not among `matches`), each once: of the types and records `visible(type) -> Q`
    lets the caller see, and for which `allowed(row) -> bool` (a further filter of the caller's)."""
    seen = {r["id"] for r in matches}
    included: list[dict] = []
    frontier = matches
    for round_ in range(MAX_ITERATIONS):
        active = [i for i in includes if round_ == 0 or i.iterate]
        if not active or not frontier:
            break
        found = []
        for include in active:
            for row in (_reverse if include.reverse else _forward)(include, frontier, visible):
                if row["id"] not in seen and (allowed is None or allowed(row)):
                    seen.add(row["id"])
                    found.append(row)
        included += found
        frontier = found
        if len(included) >= MAX_INCLUDED:
            break
    return included[:MAX_INCLUDED]

