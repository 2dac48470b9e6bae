"""Regenerate resources/definitions/xml_elements.json from the official R4 package (see extract_definitions.py).

    python scripts/extract_xml_definitions.py var/hl7.fhir.r4.examples/package/

FHIR XML needs what JSON leaves implicit: the order of the elements, which elements repeat and the
JSON type of every primitive. The output is, for every R4 resource, complex datatype and backbone
element (keyed by its path, e.g. "Patient.contact"), the ordered list of its children:

    [json name, type, repeats]

type is a primitive type name ("string", "decimal", "xhtml"...), a complex type or resource name
("HumanName", "Resource" for a contained resource), a backbone path ("Patient.contact"), or "@" for
what XML writes as an attribute (Element.id, Extension.url). Choice elements (value[x]) are expanded
into one entry per type (valueQuantity, valueString...) at their position.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "resources" / "definitions" / "xml_elements.json"


def children(sd: dict, table: dict) -> None:
    root = sd["type"]
    is_resource = sd["kind"] == "resource"
    elements = sd["snapshot"]["element"]
    backbones = {e["path"] for e in elements
                 if any(t["code"] in ("BackboneElement", "Element") for t in e.get("type", [])) and e["path"] != root}
    table.setdefault(root, [])
    for path in sorted(backbones):
        table.setdefault(path, [])
    for element in elements:
        path = element["path"]
        if path == root:
            continue
        parent, name = path.rsplit(".", 1)
        repeats = element.get("max", "1") not in ("0", "1")
        if "contentReference" in element:
            table[parent].append([name, element["contentReference"].lstrip("#"), repeats])
            continue
        types = [t["code"] for t in element.get("type", [])]
        if types and types[0].startswith("http://hl7.org/fhirpath/System."):
            # Element.id and Extension.url are attributes; Resource.id is an element of type id.
            if name == "id" and parent == root and is_resource:
                table[parent].append([name, "id", False])
            else:
                table[parent].append([name, "@", False])
            continue
        if path in backbones:
            table[parent].append([name, path, repeats])
        elif name.endswith("[x]"):
            for code in types:
                table[parent].append([name[:-3] + code[0].upper() + code[1:], code, repeats])
        else:
            table[parent].append([name, types[0], repeats])


def main(package: Path) -> None:
    table: dict = {}
    primitives = []
    for path in sorted(package.glob("StructureDefinition-*.json")):
        sd = json.loads(path.read_text())
        if sd.get("resourceType") != "StructureDefinition" or sd.get("derivation") != "specialization":
            continue
        if sd["kind"] == "primitive-type":
            primitives.append(sd["type"])
        elif sd["kind"] in ("resource", "complex-type") and not sd.get("abstract"):
            children(sd, table)
    out = {"primitives": sorted(primitives), "elements": table}
    OUT.write_text(json.dumps(out, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"{OUT.name}: {len(primitives)} primitives, {len(table)} element lists")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "package"))
