"""Required terminology bindings on `code` elements (Patient.gender, Observation.status, ...).

The fhir.resources models check structure and datatypes but accept any string in a `code` element,
so `"gender": "robot"` would be stored. R4 says a `code` bound `required` must come from its value
set. Which elements are bound to which value set is extracted from the R4 StructureDefinitions by
scripts/extract_definitions.py (only value sets whose code systems are complete in the package);
what each value set holds is asked of the terminology engine (resources.terminology), the same one
that answers `ValueSet/$expand`, once per value set.
"""
from __future__ import annotations

from functools import lru_cache

from resources import definitions
from resources.terminology import packages
from resources.terminology.valueset import members

_VALUE_SET = "\0valueSet"  # key of a tree node's bound value set (never an element name)


class _AllowedCodes(dict):
    """value set URL -> the codes it holds, expanded by the terminology engine on first use."""

    def __missing__(self, url: str) -> frozenset[str]:
        base, _, version = url.partition("|")
        valueset = packages.find("ValueSet", base, version or None) or packages.find("ValueSet", base)
        codes = frozenset(m.code for m in members(valueset, packages.PackageSource())) if valueset else frozenset()
        self[url] = codes
        return codes


@lru_cache(maxsize=1)
def _definitions() -> tuple[dict, dict]:
    data = definitions.load("required_bindings.json")
    codes = _AllowedCodes()
    trees: dict[str, dict] = {}
    for resource_type, rules in data["rules"].items():
        tree: dict = {}
        for path, url in rules:
            node = tree
            for name in path.split("."):
                node = node.setdefault(name, {})
            node[_VALUE_SET] = url
        trees[resource_type] = tree
    return trees, codes


def binding_issues(resource: dict) -> list[dict]:
    """An OperationOutcome issue for every code outside its required value set, with its element path."""
    trees, codes = _definitions()
    issues: list[dict] = []
    resource_type = resource.get("resourceType")
    _walk(resource, trees.get(resource_type) or {}, str(resource_type), codes, issues)
    for index, contained in enumerate(resource.get("contained") or []):
        if isinstance(contained, dict) and contained.get("resourceType") in trees:
            _walk(contained, trees[contained["resourceType"]], f"{resource_type}.contained[{index}]", codes, issues)
    return issues


def _walk(node: dict, tree: dict, path: str, codes: dict, issues: list[dict]) -> None:
    for name, child in tree.items():
        if name == _VALUE_SET or name not in node:
            continue
        value = node[name]
        items = enumerate(value) if isinstance(value, list) else ((None, value),)
        for index, item in items:
            where = f"{path}.{name}" if index is None else f"{path}.{name}[{index}]"
            url = child.get(_VALUE_SET)
            if url is not None and isinstance(item, str) and item not in codes[url]:
                issues.append({
                    "severity": "error", "code": "code-invalid", "expression": [where],
                    "diagnostics": f"'{item}' is not a code of {url} (a required binding)",
                })
            elif isinstance(item, dict) and len(child) > (url is not None):
                _walk(item, child, where, codes, issues)
