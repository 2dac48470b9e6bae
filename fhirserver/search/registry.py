"""The search parameters the engine supports, from the official R4 definitions.

One registry feeds the indexer (what to extract on write), the query compiler (what a name means on
read) and the CapabilityStatement (`search_parameters_for`), so they can never disagree.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from resources import definitions
from resources.types import R4_RESOURCE_TYPES

from .paths import Extractor, compile_expression

INDEXED_TYPES = ("string", "token", "date", "number", "quantity", "reference", "uri", "composite", "special")

# Parameters answered from the record row or computed at query time instead of index rows.
SPECIAL = {
    "_id": ("token", "Logical id of the resource", "http://hl7.org/fhir/SearchParameter/Resource-id"),
    "_lastUpdated": (
        "date",
        "When the resource version last changed",
        "http://hl7.org/fhir/SearchParameter/Resource-lastUpdated",
    ),
    "_text": (
        "string",
        "Search on the narrative of the resource",
        "http://hl7.org/fhir/SearchParameter/DomainResource-text",
    ),
    "_content": (
        "string",
        "Search on the entire content of the resource",
        "http://hl7.org/fhir/SearchParameter/Resource-content",
    ),
    "_list": (
        "special",
        "Resources listed in the List with this id",
        "http://hl7.org/fhir/SearchParameter/Resource-list",
    ),
    "_filter": (
        "special",
        "Filter expression (http://hl7.org/fhir/search_filter.html), ANDed with the other parameters: "
        "and/or/not, chains; eq ne co sw ew gt lt ge le on strings, eq ne ss sb in ni on tokens, eq..ap po on dates, "
        "eq..ap on numbers and quantities, eq ne re on references, eq ne co sw ew ss sb on uris, pr on all",
        "http://hl7.org/fhir/SearchParameter/filter",
    ),
}


@dataclass(frozen=True)
class Component:
    definition: str
    expression: str
    type: str


@dataclass(frozen=True)
class SearchParam:
    name: str
    type: str
    url: str
    documentation: str
    expression: str | None = None
    targets: tuple[str, ...] = ()
    components: tuple[Component, ...] = ()
    base: tuple[str, ...] = field(default=(), compare=False)

    def extractor(self, resource_type: str) -> Extractor:
        return compile_expression(self.expression, resource_type)


@lru_cache(maxsize=1)
def _definitions() -> list[dict]:
    return definitions.load("search_parameters.json")


@lru_cache(maxsize=1)
def _by_url() -> dict[str, dict]:
    return {d["url"]: d for d in _definitions()}


@lru_cache(maxsize=1)
def _registry() -> dict[str, dict[str, SearchParam]]:
    by_url = _by_url()
    common: dict[str, SearchParam] = {}
    per_type: dict[str, dict[str, SearchParam]] = {t: {} for t in R4_RESOURCE_TYPES}
    for d in _definitions():
        if d["code"] in SPECIAL or not d.get("expression") or d["type"] not in INDEXED_TYPES:
            continue
        components = tuple(
            Component(c["definition"], c["expression"], by_url[c["definition"]]["type"])
            for c in d.get("component", []) if c["definition"] in by_url
        )
        if d["type"] == "composite" and len(components) != len(d.get("component", [])):
            continue
        param = SearchParam(
            name=d["code"], type=d["type"], url=d["url"], documentation=d.get("description", ""),
            expression=d["expression"], targets=tuple(d.get("target", ())), components=components,
            base=tuple(d["base"]),
        )
        for base in d["base"]:
            if base in ("Resource", "DomainResource"):
                common[param.name] = param
            elif base in per_type:
                per_type[base][param.name] = param
    for name, (type_, doc, url) in SPECIAL.items():
        common[name] = SearchParam(name=name, type=type_, url=url, documentation=doc)
    for params in per_type.values():
        for name, param in common.items():
            params.setdefault(name, param)
    return per_type


def get_param(resource_type: str, name: str) -> SearchParam | None:
    return _registry().get(resource_type, {}).get(name)


def indexed_params(resource_type: str) -> list[SearchParam]:
    """Parameters of `resource_type` with index rows (everything but the SPECIAL ones)."""
    return _indexed(resource_type)


@lru_cache(maxsize=None)
def _indexed(resource_type: str) -> list[SearchParam]:
    return [p for p in _registry().get(resource_type, {}).values() if p.expression and p.name not in SPECIAL]


def search_parameters_for(resource_type: str) -> list[SearchParam]:
    """Every search parameter supported on `resource_type`, for the CapabilityStatement."""
    return sorted(_registry().get(resource_type, {}).values(), key=lambda p: p.name)


def includes_for(resource_type: str) -> list[str]:
    """`_include` values that work on `resource_type` (the CapabilityStatement's searchInclude):
    `*` and each of its reference parameters."""
    return ["*"] + [f"{resource_type}:{p.name}" for p in search_parameters_for(resource_type)
                    if p.type == "reference" and p.expression]


def revincludes_for(resource_type: str) -> list[str]:
    """`_revinclude` values that find resources of `resource_type` (searchRevInclude): `*`, every
    reference parameter whose targets name this type, and `Provenance:target` (US Core asks it of
    every type). Parameters that may point at any type (RelatedArtifact, `AuditEvent:entity`...) work
    too; `*` stands for them rather than 150 entries on every type."""
    return ["*"] + _revincludes().get(resource_type, [])


ANY_TARGET = len(R4_RESOURCE_TYPES) // 2  # a parameter that may point at more types than this points at anything


@lru_cache(maxsize=1)
def _revincludes() -> dict[str, list[str]]:
    out: dict[str, set[str]] = {t: {"Provenance:target"} for t in R4_RESOURCE_TYPES}
    for source in sorted(_registry()):
        for p in search_parameters_for(source):
            if p.type == "reference" and p.expression and p.targets and len(p.targets) <= ANY_TARGET:
                for target in p.targets:
                    out.setdefault(target, set()).add(f"{source}:{p.name}")
    return {t: sorted(names) for t, names in out.items()}


# Result parameters and the modifiers/prefixes the engine understands (for the CapabilityStatement).
RESULT_PARAMETERS = (
    "_sort", "_count", "_total", "_summary", "_elements", "_include", "_revinclude", "_contained",
    "_containedType", "_type", "_format", "_pretty", "_cursor", "_has",
)
MODIFIERS = {
    "string": ("exact", "contains", "missing"),
    "token": (
        "text",
        "not",
        "of-type",
        "missing",
        "in",
        "not-in",
        "below",
        "above",
    ),  # below/above: stored is-a CodeSystems
    "date": ("missing",),
    "number": ("missing",),
    "quantity": ("missing",),
    "reference": ("[type]", "identifier", "missing"),
    "uri": ("below", "above", "missing"),
    "composite": ("missing",),
    "special": ("missing",),
}
PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
