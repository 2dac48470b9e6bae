"""`_include` and `_revinclude` (with `:iterate` and `*`): resources the matches point to, or that
point to the matches, read through the reference index. Only what the caller may see is included:
`visible(type)` (the access decision's search filter, a `Where`) is part of every statement that reads them."""
from __future__ import annotations

from resources import decimals

from . import sql
from .conditions import NEVER, RECORDS, Rows, Sql, Where, columns, eq, in_rows, one_of, where_any
from .models import ReferenceIndex
from .parser import Include

MAX_ITERATIONS = 4
MAX_INCLUDED = 2000
FIELDS = ("id", "resource_type", "logical_id", "text")
REFERENCES = ReferenceIndex._meta.db_table


def _seen(resource_type: str, visible) -> Where:
    return Where(rest=eq("resource_type", resource_type)) & (visible(resource_type) if visible is not None else Where())


def _references(condition: Sql, *columns_: str) -> list[tuple]:
    names = ", ".join('"' + c + '"' for c in columns_)
    found = sql.select(f'SELECT DISTINCT {names} FROM "{REFERENCES}"', condition)
    return [tuple(row.values()) for row in found]


def _records(where: Where) -> list[dict]:
    """The current records `where` selects (at most MAX_INCLUDED), their content parsed once."""
    condition = sql.matching_records(where.sql())
    rows = sql.select(f'SELECT {sql.record_fields(FIELDS)} FROM "{RECORDS}" r', condition,
                      f"LIMIT {MAX_INCLUDED}")
    for row in rows:
        row["content"] = decimals.loads(row["text"])
    return rows


def _forward(include: Include, sources: list[dict], visible=None) -> list[dict]:
    ids = [r["id"] for r in sources if include.source_type in ("*", r["resource_type"])]
    if not ids:
        return []
    rows = one_of("record_id", ids) & ~eq("target_id", "")
    if include.param != "*":
        rows &= columns(resource_type=include.source_type, name=include.param)
    if include.target_type:
        rows &= eq("target_type", include.target_type)
    by_type: dict[str, set[str]] = {}
    for target_type, target_id in _references(rows, "target_type", "target_id"):
        by_type.setdefault(target_type, set()).add(target_id)
    if not by_type:
        return []
    return _records(where_any(_seen(target_type, visible) & Where(rest=one_of("logical_id", sorted(target_ids)))
                              for target_type, target_ids in by_type.items()))


def _reverse(include: Include, targets: list[dict], visible=None) -> list[dict]:
    by_type: dict[str, list[str]] = {}
    for r in targets:
        if include.target_type in (None, r["resource_type"]):
            by_type.setdefault(r["resource_type"], []).append(r["logical_id"])
    if not by_type:
        return []
    rows = NEVER
    for target_type, ids in by_type.items():
        rows |= eq("target_type", target_type) & one_of("target_id", ids)
    if include.source_type != "*":
        rows &= eq("resource_type", include.source_type)
    if include.param != "*":
        rows &= eq("name", include.param)
    if include.source_type != "*":
        source_types = [include.source_type]
    else:
        source_types = [t for (t,) in _references(rows, "resource_type")]
    seen = where_any(_seen(source_type, visible) for source_type in source_types)
    if seen.never:
        return []
    return _records(seen & Where(rest=in_rows("id", Rows(REFERENCES, rows))))


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

