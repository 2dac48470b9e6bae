"""One CodeSystem resource as a searchable tree of concepts: lookup, hierarchy, property filters.

Hierarchy comes from nesting (`concept.concept`) and from the `parent`, `child` and `subsumedBy`
properties (v3 code systems use `subsumedBy`). Nesting means is-a unless the code system says its
hierarchy is only for grouping (`hierarchyMeaning` grouped-by / part-of / classified-with), in which
case subsumption does not follow it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from resources.terminology.errors import TerminologyError

SUBSUMPTION_MEANINGS = (None, "is-a")
PARENT_PROPERTIES = ("parent", "subsumedBy")
INACTIVE_STATUSES = {"retired", "inactive", "deprecated"}


@dataclass
class Concept:
    code: str
    display: str | None = None
    definition: str | None = None
    designations: list[dict] = field(default_factory=list)
    properties: list[dict] = field(default_factory=list)
    parents: set[str] = field(default_factory=set)
    children: set[str] = field(default_factory=set)
    abstract: bool = False
    inactive: bool = False
    _search_text: tuple[str, ...] | None = field(default=None, repr=False, compare=False)

    def search_text(self) -> tuple[str, ...]:
        """Each display and designation as " word word ... " (lower case, punctuation gone): a word
        starts with x exactly when " x" occurs in it. Worked out once per concept (the tree is cached
        per code-system version), so `$expand?filter=` is a few substring tests per concept."""
        if self._search_text is None:
            texts = [self.display or ""] + [d.get("value") or "" for d in self.designations]
            self._search_text = tuple(search_text(t) for t in texts if t)
        return self._search_text

    def property_values(self, name: str) -> list:
        return [_value(p) for p in self.properties if p.get("code") == name]

    def display_in(self, language: str | None) -> str | None:
        """The display in `language` (a designation, or the main display when that is the language)."""
        if language:
            wanted = language.lower()
            for designation in self.designations:
                lang = (designation.get("language") or "").lower()
                if lang and (lang == wanted or lang.split("-")[0] == wanted.split("-")[0]) and designation.get("value"):
                    return designation["value"]
        return self.display


_WORD = re.compile(r"[^\W_]+")


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def search_text(text: str) -> str:
    return " " + " ".join(words_of(text)) + " "


def _value(prop: dict):
    for key, value in prop.items():
        if key.startswith("value"):
            return value
    return None


class CodeSystemView:
    def __init__(self, resource: dict):
        self.resource = resource
        self.url: str = resource.get("url") or ""
        self.version: str | None = resource.get("version")
        self.name: str = resource.get("name") or resource.get("title") or self.url
        self.case_sensitive: bool = bool(resource.get("caseSensitive", True))
        self.content: str = resource.get("content") or "complete"
        self.hierarchy_meaning = resource.get("hierarchyMeaning")
        self.concepts: dict[str, Concept] = {}
        self._folded: dict[str, str] = {}
        for concept in resource.get("concept") or []:
            self._add(concept, None)
        for concept in self.concepts.values():
            for name in PARENT_PROPERTIES:
                for parent in concept.property_values(name):
                    self._relate(str(parent), concept.code)
            for child in concept.property_values("child"):
                self._relate(concept.code, str(child))

    def _add(self, node: dict, parent: str | None) -> None:
        code = node.get("code")
        if not isinstance(code, str):
            return
        props = [p for p in node.get("property") or [] if isinstance(p, dict)]
        statuses = {str(_value(p)).lower() for p in props if p.get("code") == "status"}
        concept = Concept(
            code=code,
            display=node.get("display"),
            definition=node.get("definition"),
            designations=[d for d in node.get("designation") or [] if isinstance(d, dict)],
            properties=props,
            abstract=any(p.get("code") in ("notSelectable", "abstract") and _value(p) is True for p in props),
            inactive=bool(statuses & INACTIVE_STATUSES)
            or any(p.get("code") == "inactive" and _value(p) is True for p in props),
        )
        self.concepts[code] = concept
        self._folded.setdefault(code.lower(), code)
        if parent is not None and self.hierarchy_meaning in SUBSUMPTION_MEANINGS:
            self._relate(parent, code)
        for child in node.get("concept") or []:
            self._add(child, code)

    def _relate(self, parent: str, child: str) -> None:
        if parent in self.concepts and child in self.concepts and parent != child:
            self.concepts[parent].children.add(child)
            self.concepts[child].parents.add(parent)

    # --- questions ---------------------------------------------------------------------------------
    def lookup(self, code: str) -> Concept | None:
        concept = self.concepts.get(code)
        if concept is None and not self.case_sensitive:
            folded = self._folded.get(code.lower())
            concept = self.concepts.get(folded) if folded else None
        return concept

    def descendants(self, code: str) -> set[str]:
        return self._closure(code, lambda concept: concept.children)

    def ancestors(self, code: str) -> set[str]:
        return self._closure(code, lambda concept: concept.parents)

    def _closure(self, code: str, step) -> set[str]:
        """Every code reached from `code` by `step` (children or parents), the code itself not counted."""
        out: set[str] = set()
        frontier = [code]
        while frontier:
            current = self.concepts.get(frontier.pop())
            if current is None:
                continue
            for nxt in step(current) - out:
                out.add(nxt)
                frontier.append(nxt)
        return out

    def subsumes(self, code_a: str, code_b: str) -> str:
        """R4 $subsumes outcome of A against B."""
        a, b = self.lookup(code_a), self.lookup(code_b)
        for code, concept in ((code_a, a), (code_b, b)):
            if concept is None:
                raise TerminologyError(
                    f"Code '{code}' is not in {self.url}", status=404, issue_code="not-found", code="UNKNOWN_CODE"
                )
        if a.code == b.code:
            return "equivalent"
        if b.code in self.descendants(a.code):
            return "subsumes"
        if a.code in self.descendants(b.code):
            return "subsumed-by"
        return "not-subsumed"

    def all(self) -> Iterator[Concept]:
        return iter(self.concepts.values())

    def filtered(self, prop: str, op: str, value: str) -> Iterable[Concept]:
        """The concepts a ValueSet `compose.include.filter` selects (R4 filter-operator codes)."""
        if prop == "concept" or (prop == "code" and op in ("is-a", "descendent-of", "is-not-a", "generalizes")):
            return self._hierarchy_filter(op, value)
        if op == "=":
            return [c for c in self.all() if _matches_value(self._values(c, prop), value)]
        if op == "in":
            wanted = {v.strip() for v in value.split(",")}
            return [c for c in self.all() if any(str(v) in wanted for v in self._values(c, prop))]
        if op == "not-in":
            wanted = {v.strip() for v in value.split(",")}
            return [c for c in self.all() if not any(str(v) in wanted for v in self._values(c, prop))]
        if op == "regex":
            try:
                pattern = re.compile(value)
            except re.error as exc:
                raise TerminologyError(
                    f"Filter regex '{value}' is not a valid pattern: {exc}",
                    status=400,
                    issue_code="invalid",
                    code="BAD_FILTER",
                ) from exc
            return [c for c in self.all() if any(pattern.fullmatch(str(v)) for v in self._values(c, prop))]
        if op == "exists":
            want = value.lower() == "true"
            return [c for c in self.all() if bool(self._values(c, prop)) == want]
        raise TerminologyError(
            f"Filter operator '{op}' on '{prop}' is not supported for {self.url}",
            status=422,
            issue_code="not-supported",
            code="FILTER_NOT_SUPPORTED",
        )

    def _hierarchy_filter(self, op: str, value: str) -> list[Concept]:
        root = self.lookup(value)
        if root is None:
            return []
        if op == "is-a":
            codes = {root.code} | self.descendants(root.code)
        elif op == "descendent-of":
            codes = self.descendants(root.code)
        elif op == "is-not-a":
            codes = set(self.concepts) - ({root.code} | self.descendants(root.code))
        elif op == "generalizes":
            codes = {root.code} | self.ancestors(root.code)
        elif op == "=":
            codes = {root.code}
        else:
            raise TerminologyError(
                f"Filter operator '{op}' on the hierarchy is not supported",
                status=422,
                issue_code="not-supported",
                code="FILTER_NOT_SUPPORTED",
            )
        return [self.concepts[code] for code in codes]

    @staticmethod
    def _values(concept: Concept, prop: str) -> list:
        if prop == "code":
            return [concept.code]
        if prop == "display":
            return [concept.display] if concept.display else []
        return [v for v in concept.property_values(prop) if v is not None]


def _matches_value(values: list, wanted: str) -> bool:
    for value in values:
        if isinstance(value, bool):
            if str(value).lower() == wanted.lower():
                return True
        elif isinstance(value, dict):  # a Coding-valued property
            if value.get("code") == wanted:
                return True
        elif str(value) == wanted:
            return True
    return False
