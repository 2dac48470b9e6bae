"""`_summary` and `_elements`: what of each resource a search returns.

Subsetted resources carry the SUBSETTED tag (R4 3.1.1.5.7/8) so nobody mistakes them for the whole.
"""
from __future__ import annotations

from functools import lru_cache

from resources import definitions

from .paths import CHOICE_NAMES

SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED",
             "display": "subsetted"}
ALWAYS = ("resourceType", "id", "meta")


@lru_cache(maxsize=1)
def _elements() -> dict[str, dict[str, list[str]]]:
    return definitions.load("summary_elements.json")


def _element_name(key: str) -> str:
    """`valueQuantity` -> `value` (choice elements), `_birthDate` -> `birthDate`."""
    key = key.lstrip("_")
    for i, ch in enumerate(key):
        if ch.isupper() and key[:i] in CHOICE_NAMES:
            return key[:i]
    return key


def _keep(resource: dict, names: set[str]) -> dict:
    kept = {k: v for k, v in resource.items() if k in ALWAYS or k.lstrip("_") in names or _element_name(k) in names}
    meta = dict(kept.get("meta") or {})
    meta["tag"] = [t for t in meta.get("tag", []) if t.get("code") != "SUBSETTED"] + [SUBSETTED]
    kept["meta"] = meta
    return kept


def shape(resource: dict, summary: str | None, elements: list[str]) -> dict:
    """The resource as `_summary` / `_elements` ask (unchanged when neither is given)."""
    resource_type = resource.get("resourceType", "")
    definition = _elements().get(resource_type, {"summary": [], "mandatory": []})
    if summary == "true":
        return _keep(resource, set(definition["summary"]))
    if summary == "text":
        return _keep(resource, {"text"} | set(definition["mandatory"]))
    if summary == "data":
        return _keep(resource, set(resource) - {"text"})
    if elements:
        names = {e.split(".")[-1] if "." in e and e.split(".")[0] == resource_type else e for e in elements}
        return _keep(resource, names | set(definition["mandatory"]))
    return resource
