"""Regenerate resources/definitions/ from the official R4 package (hl7.fhir.r4.examples 4.0.1, CC0).

    npm pack hl7.fhir.r4.examples@4.0.1 && tar xzf hl7.fhir.r4.examples-4.0.1.tgz
    python scripts/extract_definitions.py package/

Writes compact JSON the search engine loads at start-up:
- search_parameters.json: every R4 SearchParameter (code, base, type, expression, target, components)
- choice_elements.json: element names that are choice types (value[x] -> "value"), for path navigation
- compartments.json: CompartmentDefinition resource -> params, per compartment type
- summary_elements.json: per resource type, the top-level summary and mandatory elements
- required_bindings.json: {"rules": per resource type, [element path, value set url] for every `code`
  element (also inside datatypes and backbone elements) bound `required` to a value set enumerable
  here}; the codes each value set allows come from the terminology engine at run time
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "resources" / "definitions"
MAX_VALUESET_CODES = 2000  # bigger value sets (all of LOINC, SNOMED...) cannot be expanded from this package anyway


def load(package: Path, prefix: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(package.glob(f"{prefix}-*.json"))]


def search_parameters(package: Path) -> list[dict]:
    out = []
    for sp in load(package, "SearchParameter"):
        if sp.get("resourceType") != "SearchParameter" or not sp.get("base"):
            continue
        entry = {
            "url": sp["url"],
            "code": sp["code"],
            "base": sp["base"],
            "type": sp["type"],
            "expression": sp.get("expression"),
            "description": sp.get("description", "").split("\n")[0][:300],
        }
        if sp.get("target"):
            entry["target"] = sp["target"]
        if sp.get("component"):
            entry["component"] = [
                {"definition": c["definition"], "expression": c["expression"]} for c in sp["component"]
            ]
        out.append(entry)
    return out


def choice_elements(package: Path) -> list[str]:
    names = set()
    for sd in load(package, "StructureDefinition"):
        if sd.get("derivation") != "specialization":
            continue
        for element in sd.get("snapshot", {}).get("element", []):
            if element["path"].endswith("[x]"):
                names.add(element["path"].rsplit(".", 1)[-1][:-3])
    return sorted(names)


def summary_elements(package: Path) -> dict:
    """Per resource type: top-level elements in `_summary=true` and the mandatory ones (kept by `_elements`)."""
    out = {}
    for sd in load(package, "StructureDefinition"):
        if sd.get("kind") != "resource" or sd.get("derivation") != "specialization" or sd.get("abstract"):
            continue
        summary, mandatory = [], []
        for element in sd.get("snapshot", {}).get("element", []):
            parts = element["path"].split(".")
            if len(parts) != 2:
                continue
            name = parts[1].removesuffix("[x]")
            if element.get("isSummary"):
                summary.append(name)
            if element.get("min", 0) > 0:
                mandatory.append(name)
        out[sd["type"]] = {"summary": summary, "mandatory": mandatory}
    return out


def compartments(package: Path) -> dict:
    out = {}
    for cd in load(package, "CompartmentDefinition"):
        if cd.get("url", "").startswith("http://hl7.org/fhir/CompartmentDefinition/") and cd["id"] != "example":
            out[cd["code"]] = {r["code"]: r["param"] for r in cd.get("resource", []) if r.get("param")}
    return out


def valuesets(package: Path) -> dict:
    codesystems = {}
    for cs in load(package, "CodeSystem"):
        codes = []

        def walk(concepts):
            for c in concepts or []:
                codes.append(c["code"])
                walk(c.get("concept"))

        walk(cs.get("concept"))
        if codes:
            codesystems[cs["url"]] = codes
    out = {}
    for vs in load(package, "ValueSet"):
        codes: list[list[str]] = []
        if vs.get("expansion", {}).get("contains"):
            codes = [[c.get("system", ""), c["code"]] for c in vs["expansion"]["contains"] if c.get("code")]
        else:
            compose = vs.get("compose", {})
            if compose.get("exclude"):
                continue
            ok = True
            for inc in compose.get("include", []):
                system = inc.get("system")
                if inc.get("filter") or inc.get("valueSet") or not system:
                    ok = False
                elif inc.get("concept"):
                    codes += [[system, c["code"]] for c in inc["concept"]]
                elif system in codesystems:
                    codes += [[system, c] for c in codesystems[system]]
                else:
                    ok = False
            if not ok:
                continue
        if codes and len(codes) <= MAX_VALUESET_CODES:
            out[vs["url"]] = codes
    return out


def required_bindings(package: Path) -> dict:
    """`code` elements with a required binding, flattened through datatypes (the codes each value set
    allows are the terminology engine's answer at run time, resources/bindings.py)."""
    complete = {cs["url"] for cs in load(package, "CodeSystem") if cs.get("content") == "complete"}
    sets = valuesets(package)

    def allowed(url: str) -> str | None:
        url = url.split("|")[0]
        codes = sets.get(url)
        if not codes or any(system not in complete for system, _ in codes):
            return None  # a fragment, or codes from outside this package: cannot be checked here
        return url

    definitions = {sd["type"]: sd for sd in load(package, "StructureDefinition")
                   if sd.get("derivation") == "specialization" and sd.get("kind") in ("resource", "complex-type")}

    def own(sd: dict, depth: int) -> list[list]:
        out = []
        root = sd["type"]
        for element in sd.get("snapshot", {}).get("element", []):
            path = element["path"]
            if path == root or "contentReference" in element:
                continue
            relative = path[len(root) + 1:]
            types = [t["code"] for t in element.get("type", [])]
            for type_code in types:
                name = relative
                if name.endswith("[x]"):
                    name = name[:-3] + type_code[0].upper() + type_code[1:]
                binding = element.get("binding", {})
                if type_code == "code" and binding.get("strength") == "required" and binding.get("valueSet"):
                    url = allowed(binding["valueSet"])
                    if url:
                        out.append([name, url])
                elif type_code in definitions and definitions[type_code].get("kind") == "complex-type" \
                        and type_code not in ("Extension", "Element", "BackboneElement") and depth < 3:
                    out += [[f"{name}.{sub}", url] for sub, url in own(definitions[type_code], depth + 1)]
        return out

    rules = {name: found for name, sd in sorted(definitions.items())
             if sd["kind"] == "resource" and not sd.get("abstract") and (found := own(sd, 0))}
    return {"rules": rules}


def main(package: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    outputs = {
        "search_parameters.json": search_parameters(package),
        "choice_elements.json": choice_elements(package),
        "compartments.json": compartments(package),
        "summary_elements.json": summary_elements(package),
        "required_bindings.json": required_bindings(package),
    }
    for name, data in outputs.items():
        (OUT / name).write_text(json.dumps(data, separators=(",", ":"), sort_keys=True) + "\n")
        print(f"{name}: {len(data)} entries")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "package"))
