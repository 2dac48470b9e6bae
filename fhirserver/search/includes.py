"""`_include` and `_revinclude` (with `:iterate` and `*`): resources the matches point to, or that
point to the matches, read through the reference index."""
from __future__ import annotations

from django.db.models import Q

from fhirserver.storage.models import ResourceRecord

from .models import ReferenceIndex
from .parser import Include

MAX_ITERATIONS = 4
MAX_INCLUDED = 2000
FIELDS = ("id", "resource_type", "logical_id", "content")


def _forward(include: Include, sources: list[dict]) -> list[dict]:
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
        q |= Q(resource_type=target_type, logical_id__in=target_ids)
    return list(ResourceRecord.objects.filter(q, deleted=False).values(*FIELDS)[:MAX_INCLUDED])


def _reverse(include: Include, targets: list[dict]) -> list[dict]:
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
    record_ids = rows.values("record_id")
    return list(ResourceRecord.objects.filter(id__in=record_ids, deleted=False).values(*FIELDS)[:MAX_INCLUDED])


def resolve(includes: list[Include], matches: list[dict], allowed=None) -> list[dict]:
    """Included rows (not among `matches`), each once. `allowed(row) -> bool` filters (security)."""
    seen = {r["id"] for r in matches}
    included: list[dict] = []
    frontier = matches
    for round_ in range(MAX_ITERATIONS):
        active = [i for i in includes if round_ == 0 or i.iterate]
        if not active or not frontier:
            break
        found = []
        for include in active:
            for row in (_reverse if include.reverse else _forward)(include, frontier):
                if row["id"] not in seen and (allowed is None or allowed(row)):
                    seen.add(row["id"])
                    found.append(row)
        included += found
        frontier = found
        if len(included) >= MAX_INCLUDED:
            break
    return included[:MAX_INCLUDED]

