"""ValueSet expansion and membership (R4 `compose` with include/exclude, concept lists, filters and
imported value sets; a stored `expansion` when there is no compose).

`expand` works on the full membership first and pages last, so `total` is the size of the filtered
expansion whatever `count` asks for. Expansions are bounded (MAX_MEMBERS): a value set that would
hold more answers `too-costly` instead of holding a worker.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol

from resources.terminology.codesystem import CodeSystemView, Concept, search_text, words_of
from resources.terminology.errors import TerminologyError, unknown

MAX_MEMBERS = 100_000
MAX_DEPTH = 8  # value sets importing value sets


class Source(Protocol):
    def codesystem(self, url: str, version: str | None = None) -> CodeSystemView | None: ...
    def valueset(self, url: str, version: str | None = None) -> dict | None: ...


@dataclass
class Member:
    system: str
    code: str
    display: str | None = None
    version: str | None = None
    abstract: bool = False
    inactive: bool = False
    designations: list[dict] = field(default_factory=list)
    concept: Concept | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.system, self.code)

    def as_contains(self, *, display_language: str | None, designations: bool) -> dict:
        out: dict = {"system": self.system}
        if self.version:
            out["version"] = self.version
        if self.abstract:
            out["abstract"] = True
        if self.inactive:
            out["inactive"] = True
        out["code"] = self.code
        display = self.concept.display_in(display_language) if self.concept else self.display
        if display:
            out["display"] = display
        if designations and self.designations:
            out["designation"] = self.designations
        return out


@dataclass
class Expansion:
    members: list[Member]
    total: int
    offset: int
    parameters: list[dict]
    used_systems: set[str]


def implicit_value_set(url: str, source: Source) -> dict | None:
    """The value sets a code system implies: its `valueSet` URL, `[system]?fhir_vs` (all of it) and
    `?fhir_vs=isa/[code]`, and LOINC's `http://loinc.org/vs`."""
    system, _, query = url.partition("?")
    if url == "http://loinc.org/vs":
        system, query = "http://loinc.org", "fhir_vs"
    if query.startswith("fhir_vs"):
        include: dict = {"system": system}
        if query.startswith("fhir_vs=isa/"):
            include["filter"] = [{"property": "concept", "op": "is-a", "value": query[len("fhir_vs=isa/") :]}]
        return {"resourceType": "ValueSet", "url": url, "status": "active", "compose": {"include": [include]}}
    return None


def members(valueset: dict, source: Source, *, depth: int = 0) -> list[Member]:
    """Everything the value set holds, each (system, code) once, in compose order."""
    if depth > MAX_DEPTH:
        raise TerminologyError("Value sets import each other too deeply (a cycle?)", code="VALUESET_CYCLE")
    compose = valueset.get("compose")
    if not compose:
        expansion = valueset.get("expansion") or {}
        if expansion.get("contains") is not None:
            return list(_flatten(expansion.get("contains") or []))
        raise TerminologyError(
            f"ValueSet {valueset.get('url') or valueset.get('id')} has neither compose nor expansion",
            code="VALUESET_EMPTY",
        )
    chosen: dict[tuple[str, str], Member] = {}
    for include in compose.get("include") or []:
        for member in _part(include, source, depth):
            chosen.setdefault(member.key, member)
            if len(chosen) > MAX_MEMBERS:
                raise TerminologyError(
                    f"The expansion would hold more than {MAX_MEMBERS:,} codes",
                    status=422,
                    issue_code="too-costly",
                    code="EXPANSION_TOO_LARGE",
                )
    for exclude in compose.get("exclude") or []:
        for member in _part(exclude, source, depth):
            chosen.pop(member.key, None)
    if compose.get("inactive") is False:
        return [m for m in chosen.values() if not m.inactive]
    return list(chosen.values())


def _flatten(contains: list[dict]):
    for item in contains:
        if item.get("code") and item.get("system"):
            yield Member(
                item["system"],
                item["code"],
                item.get("display"),
                item.get("version"),
                bool(item.get("abstract")),
                bool(item.get("inactive")),
                item.get("designation") or [],
            )
        yield from _flatten(item.get("contains") or [])


def _part(part: dict, source: Source, depth: int) -> list[Member]:
    """One include (or exclude): its system part intersected with every value set it names."""
    result: list[Member] | None = None
    system = part.get("system")
    if system:
        result = _system_part(part, system, source)
    for url in part.get("valueSet") or []:
        imported = resolve_value_set(url, source)
        keys = {m.key for m in members(imported, source, depth=depth + 1)}
        if result is None:
            result = members(imported, source, depth=depth + 1)
        else:
            result = [m for m in result if m.key in keys]
    return result or []


def _system_part(part: dict, system: str, source: Source) -> list[Member]:
    version = part.get("version")
    # Shipped value sets often pin a code-system version older than the one shipped beside them:
    # the pinned one when it is there, else the one there is (its version goes in the expansion).
    codesystem = source.codesystem(system, version) or (source.codesystem(system) if version else None)
    listed = part.get("concept") or []
    if listed:
        out = []
        for item in listed:
            code = item.get("code")
            if not isinstance(code, str):
                continue
            concept = codesystem.lookup(code) if codesystem else None
            if codesystem is not None and concept is None and codesystem.content == "complete":
                continue  # a listed code the (complete) code system does not have is no member
            out.append(
                _member(
                    system,
                    codesystem.version if codesystem else version,
                    concept,
                    code,
                    item.get("display"),
                    item.get("designation") or [],
                )
            )
        return out
    if codesystem is None:
        raise unknown("CodeSystem", system, version)
    if codesystem.content == "not-present":  # a stub (SNOMED CT, RxNorm...): its codes are not here to list
        raise TerminologyError(
            f"CodeSystem {system} is known here only by name (content not-present): its codes cannot be enumerated",
            issue_code="not-supported",
            code="CODESYSTEM_NOT_PRESENT",
        )
    filters = part.get("filter") or []
    if not filters:
        return [_member(system, codesystem.version, c) for c in codesystem.all()]
    selected: dict[str, Concept] | None = None
    for flt in filters:
        found = {
            c.code: c for c in codesystem.filtered(str(flt.get("property")), str(flt.get("op")), str(flt.get("value")))
        }
        selected = found if selected is None else {code: c for code, c in selected.items() if code in found}
    return [_member(system, codesystem.version, c) for c in (selected or {}).values()]


def _member(system, version, concept: Concept | None, code: str | None = None, display=None, designations=()) -> Member:
    if concept is None:
        return Member(system, code or "", display, version, designations=list(designations))
    return Member(
        system,
        concept.code,
        display or concept.display,
        version,
        concept.abstract,
        concept.inactive,
        list(designations) or concept.designations,
        concept,
    )


def resolve_value_set(url: str, source: Source) -> dict:
    base, _, version = url.partition("|")
    found = source.valueset(base, version or None) or implicit_value_set(base, source)
    if found is None:
        for codesystem_url in _codesystem_for_implicit(base, source):
            return {"resourceType": "ValueSet", "url": base, "compose": {"include": [{"system": codesystem_url}]}}
        raise unknown("ValueSet", base, version or None)
    return found


def _codesystem_for_implicit(url: str, source: Source):
    """A code system whose `valueSet` element names this URL (its implicit all-codes value set)."""
    finder = getattr(source, "codesystem_for_valueset", None)
    if finder is not None:
        found = finder(url)
        if found:
            yield found


def expand(
    valueset: dict,
    source: Source,
    *,
    text: str | None = None,
    offset: int = 0,
    count: int | None = None,
    display_language: str | None = None,
    active_only: bool = False,
    include_designations: bool = False,
    exclude_nested: bool = True,
) -> tuple[dict, Expansion]:
    """The `$expand` answer: the value set with `expansion` (its compose kept out, as most servers do)."""
    found = members(valueset, source)
    if active_only:
        found = [m for m in found if not m.inactive]
    if text:
        found = [m for m in found if matches_text(m, text, display_language)]
    page = found[offset:] if count is None else found[offset : offset + count]
    parameters = []
    if text:
        parameters.append({"name": "filter", "valueString": text})
    if offset:
        parameters.append({"name": "offset", "valueInteger": offset})
    if count is not None:
        parameters.append({"name": "count", "valueInteger": count})
    if display_language:
        parameters.append({"name": "displayLanguage", "valueCode": display_language})
    systems = {m.system for m in found}
    for system in sorted(systems):
        versions = {m.version for m in found if m.system == system and m.version}
        for version in sorted(versions):
            parameters.append({"name": "version", "valueUri": f"{system}|{version}"})
    expansion = {
        "identifier": f"urn:uuid:{uuid.uuid4()}",
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "total": len(found),
        "offset": offset,
        "parameter": parameters,
        "contains": [m.as_contains(display_language=display_language, designations=include_designations) for m in page],
    }
    if not parameters:
        del expansion["parameter"]
    if not expansion["contains"]:
        del expansion["contains"]
    out = {k: v for k, v in valueset.items() if k not in ("compose", "expansion", "text", "meta")}
    out["expansion"] = expansion
    return out, Expansion(page, len(found), offset, parameters, systems)


def matches_text(member: Member, text: str, display_language: str | None = None) -> bool:
    """`filter`: every word of the text starts a word of one display or designation, or the text
    starts the code. Case and punctuation do not matter."""
    wanted = [" " + w for w in words_of(text)]
    if not wanted:
        return True
    if member.code.lower().startswith(text.strip().lower()):
        return True
    if member.concept is not None:
        texts = member.concept.search_text()
        if member.display and member.display != member.concept.display:
            texts += (search_text(member.display),)
    else:
        texts = tuple(
            search_text(t) for t in [member.display or ""] + [d.get("value") or "" for d in member.designations]
        )
    return any(all(w in t for w in wanted) for t in texts)


def validate_in_value_set(
    valueset: dict,
    source: Source,
    *,
    system: str | None,
    code: str,
    display: str | None = None,
    version: str | None = None,
) -> tuple[bool, str | None, str | None]:
    """(result, message, display) of ValueSet/$validate-code for one coding."""
    found = members(valueset, source)
    name = valueset.get("url") or valueset.get("id")
    candidates = [m for m in found if m.code == code and (system is None or m.system == system)]
    if not candidates and system:
        codesystem = source.codesystem(system, version)
        if codesystem is not None and not codesystem.case_sensitive:
            candidates = [m for m in found if m.system == system and m.code.lower() == code.lower()]
    if not candidates:
        where = f"{system}#{code}" if system else code
        return False, f"The code {where} is not in the value set {name}", None
    member = candidates[0]
    shown = member.concept.display if member.concept else member.display
    if display and shown and display.strip().lower() != shown.strip().lower():
        return False, f"The display '{display}' is not the display of {member.system}#{member.code} ('{shown}')", shown
    return True, None, shown
