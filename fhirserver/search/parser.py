"""Parse a search query (list of name/value pairs) into plain data, before any SQL is involved.

`Observation?subject:Patient.name:exact=Eve&date=ge2026-01,lt2026-03&_sort=-date&_count=50`
becomes filters (name, modifier, chain, OR-values) and result controls. Parameter meaning (is it
known, what type) is decided by the compiler against the registry.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from fhirserver.core.errors import bad_request

from .values import split_or

SUMMARY_VALUES = ("true", "false", "text", "data", "count")
TOTAL_VALUES = ("none", "estimate", "accurate")
CONTROL = {"_sort", "_count", "_total", "_summary", "_elements", "_include", "_revinclude", "_contained",
           "_containedType", "_type", "_format", "_pretty", "_cursor"}


@dataclass
class Filter:
    name: str  # parameter code
    modifier: str | None
    chain: str | None  # what follows the first '.', e.g. "name:exact" for subject:Patient.name:exact
    values: list[str]  # OR-ed values, still escaped
    raw_name: str  # as the client wrote it
    raw_value: str

    @property
    def has(self) -> tuple[str, str, str] | None:
        """`_has:Observation:patient:code` -> ("Observation", "patient", "code")."""
        if self.name != "_has":
            return None
        parts = self.raw_name.split(":", 3)
        if len(parts) != 4 or not all(parts[1:]):
            raise bad_request(
                f"_has must be _has:Type:reference:parameter, got '{self.raw_name}'", code="SEARCH_BAD_HAS"
            )
        return parts[1], parts[2], parts[3]


@dataclass
class Include:
    source_type: str
    param: str  # "*" for every reference parameter
    target_type: str | None
    iterate: bool
    reverse: bool
    raw: tuple[str, str]


@dataclass
class SortKey:
    name: str
    descending: bool


@dataclass
class SearchRequest:
    filters: list[Filter] = field(default_factory=list)
    sort: list[SortKey] = field(default_factory=list)
    count: int = 20
    total: str = "default"  # none | estimate | accurate, or default (exact unless large)
    summary: str | None = None
    elements: list[str] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)
    contained: str = "false"
    contained_type: str = "container"
    cursor: str | None = None
    types: list[str] = field(default_factory=list)
    controls: list[tuple[str, str]] = field(default_factory=list)  # applied result parameters, for link.self


def parse_name(raw_name: str) -> tuple[str, str | None, str | None]:
    """`subject:Patient.name:exact` -> ("subject", "Patient", "name:exact")."""
    if raw_name.startswith("_has:"):
        return "_has", None, None
    head, dot, chain = raw_name.partition(".")
    name, colon, modifier = head.partition(":")
    return name, (modifier if colon else None), (chain if dot else None)


def _count(value: str) -> int:
    if not value.isdigit():
        raise bad_request(f"_count must be a non-negative integer, got '{value}'", code="SEARCH_BAD_COUNT")
    return min(int(value), settings.FHIR["MAX_COUNT"])


def _include(name: str, value: str) -> Include:
    iterate = name.endswith(":iterate") or name.endswith(":recurse")
    reverse = name.startswith("_revinclude")
    if value == "*":
        return Include("*", "*", None, iterate, reverse, (name, value))
    parts = value.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise bad_request(f"{name} must be Type:parameter[:targetType], got '{value}'", code="SEARCH_BAD_INCLUDE")
    return Include(parts[0], parts[1], parts[2] if len(parts) == 3 else None, iterate, reverse, (name, value))


def parse(query: list[tuple[str, str]]) -> SearchRequest:
    request = SearchRequest(count=settings.FHIR["DEFAULT_COUNT"])
    for raw_name, value in query:
        if "\x00" in raw_name or "\x00" in value:  # no database stores NUL in text
            raise bad_request("Search parameters cannot contain NUL characters", code="SEARCH_BAD_VALUE")
        base = raw_name.split(":")[0]
        if base in CONTROL:
            _control(request, raw_name, value)
            continue
        if value == "" and not raw_name.startswith("_has"):
            continue  # an empty value is no constraint (spec: ignored)
        name, modifier, chain = parse_name(raw_name)
        request.filters.append(Filter(name, modifier, chain, split_or(value), raw_name, value))
    return request


def _control(request: SearchRequest, name: str, value: str) -> None:
    base = name.split(":")[0]
    applied = True
    if base == "_count":
        request.count = _count(value)
    elif base == "_sort":
        request.sort = [SortKey(k.lstrip("-"), k.startswith("-")) for k in value.split(",") if k.strip("-")]
    elif base == "_total":
        if value not in TOTAL_VALUES:
            raise bad_request(f"_total must be one of {', '.join(TOTAL_VALUES)}", code="SEARCH_BAD_TOTAL")
        request.total = value
    elif base == "_summary":
        if value not in SUMMARY_VALUES:
            raise bad_request(f"_summary must be one of {', '.join(SUMMARY_VALUES)}", code="SEARCH_BAD_SUMMARY")
        request.summary = None if value == "false" else value
    elif base == "_elements":
        request.elements += [e.strip() for e in value.split(",") if e.strip()]
    elif base in ("_include", "_revinclude"):
        request.includes.append(_include(name, value))
    elif base == "_contained":
        if value not in ("true", "false", "both"):
            raise bad_request("_contained must be true, false or both", code="SEARCH_BAD_CONTAINED")
        request.contained = value
    elif base == "_containedType":
        if value not in ("container", "contained"):
            raise bad_request("_containedType must be container or contained", code="SEARCH_BAD_CONTAINED")
        request.contained_type = value
    elif base == "_type":
        request.types += [t for t in value.split(",") if t]
    elif base == "_cursor":
        request.cursor = value
        applied = False
    else:  # _format, _pretty: rendering, not search
        applied = False
    if applied:
        request.controls.append((name, value))
