"""SMART scopes, v1 and v2, parsed into plain rules (no Django here).

v1: `patient/Observation.read`, `user/*.write`, `system/*.*`.
v2: `patient/Observation.rs?category=http://...|laboratory` with permissions from `cruds` (in
that order) and an optional query that narrows what the scope grants.
Everything else the server understands is a non-resource scope (openid, fhirUser, launch...).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl

CONTEXTS = ("patient", "user", "system")
V1_PERMISSIONS = {"read": frozenset("rs"), "write": frozenset("cud"), "*": frozenset("cruds")}
NON_RESOURCE_SCOPES = frozenset({
    "openid", "fhirUser", "profile", "launch", "launch/patient", "launch/encounter", "offline_access", "online_access",
})
_RESOURCE_SCOPE = re.compile(r"^(patient|user|system)/([A-Z][A-Za-z]*|\*)\.([a-z*]+)(?:\?(.+))?$")
_V2_ORDER = "cruds"


class ScopeError(ValueError):
    """A scope string that is not a scope this server understands."""


@dataclass(frozen=True)
class ScopeRule:
    """What one resource scope grants: a context, a type (or "*"), permission letters, a query."""

    context: str  # patient | user | system
    resource_type: str  # "Observation" or "*"
    permissions: frozenset[str]  # subset of "cruds"
    query: tuple[tuple[str, str], ...] = ()  # v2 constraints, all must hold (AND)

    def applies_to(self, resource_type: str) -> bool:
        return self.resource_type == "*" or self.resource_type == resource_type

    def covers(self, other: ScopeRule) -> bool:
        """Whether everything `other` grants is also granted by this rule (registration checks)."""
        return (self.context == other.context
                and (self.resource_type == "*" or self.resource_type == other.resource_type)
                and other.permissions <= self.permissions
                and (not self.query or self.query == other.query))


@dataclass(frozen=True)
class Scopes:
    """A parsed scope string: resource rules plus the non-resource scopes, kept as text."""

    rules: tuple[ScopeRule, ...]
    others: frozenset[str]

    @property
    def wants_patient(self) -> bool:
        return "launch/patient" in self.others

    @property
    def wants_refresh(self) -> bool:
        return bool({"offline_access", "online_access"} & self.others)


def parse_rule(text: str) -> ScopeRule:
    match = _RESOURCE_SCOPE.match(text)
    if not match:
        raise ScopeError(f"'{text}' is not a SMART resource scope")
    context, resource_type, permission, query = match.groups()
    if permission in V1_PERMISSIONS:
        if query:
            raise ScopeError(f"'{text}': query constraints need v2 permissions (cruds), not '{permission}'")
        letters = V1_PERMISSIONS[permission]
    else:
        positions = [_V2_ORDER.find(ch) for ch in permission]
        if -1 in positions or positions != sorted(set(positions)):
            raise ScopeError(f"'{text}': permissions must be letters of 'cruds' in that order")
        letters = frozenset(permission)
    pairs = tuple(parse_qsl(query, keep_blank_values=True, strict_parsing=True)) if query else ()
    return ScopeRule(context, resource_type, letters, pairs)


@lru_cache(maxsize=4096)
def parse_scopes(text: str) -> Scopes:
    """Parse a space-separated scope string; raise ScopeError on anything unknown."""
    rules, others = [], set()
    for item in text.split():
        if item in NON_RESOURCE_SCOPES or item.startswith("launch/"):
            others.add(item)
        else:
            rules.append(parse_rule(item))
    return Scopes(tuple(rules), frozenset(others))


def registration_allows(registered: str, requested: str) -> bool:
    """Whether a client registered for `registered` scopes may ask for the scope `requested`."""
    allowed = parse_scopes(registered)
    wanted = parse_scopes(requested)
    if not wanted.others <= allowed.others:
        return False
    return all(any(have.covers(want) for have in allowed.rules) for want in wanted.rules)


_CONTEXT_WORDS = {"patient": "the selected patient's", "user": "your", "system": "all"}
_LETTER_WORDS = {"c": "create", "r": "read", "u": "update", "d": "delete", "s": "search"}
_OTHER_WORDS = {
    "openid": "confirm who you are", "fhirUser": "know which user you are", "profile": "read your profile",
    "launch": "open in the current EHR context", "launch/patient": "ask which patient to work on",
    "launch/encounter": "ask which encounter to work on", "offline_access": "keep access while you are away",
    "online_access": "keep access while you are signed in",
}


def describe(text: str) -> str:
    """Words for the consent page."""
    if text in _OTHER_WORDS:
        return _OTHER_WORDS[text]
    try:
        rule = parse_rule(text)
    except ScopeError:
        return text
    what = "all data" if rule.resource_type == "*" else f"{rule.resource_type} resources"
    verbs = ", ".join(_LETTER_WORDS[ch] for ch in "cruds" if ch in rule.permissions)
    where = " where " + " and ".join(f"{k} = {v}" for k, v in rule.query) if rule.query else ""
    return f"{verbs} {_CONTEXT_WORDS[rule.context]} {what}{where}"
