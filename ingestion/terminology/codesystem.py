"""The project's LOINC lab subset as a CodeSystem resource (content `fragment`), stored after every
migrate so the terminology operations work over it: `CodeSystem/$lookup?system=http://loinc.org`,
`ValueSet/$expand?url=http://loinc.org/vs&filter=gluc` (the review page's test search).

Displays, definitions and the COMPONENT/PROPERTY/SYSTEM/SCALE_TYP properties are LOINC content;
the printed names labs use are this project's and are marked as such in their designations.
"""

from __future__ import annotations

from fhirserver.storage import shipped
from ingestion.terminology.catalogue import LOINC_SYSTEM, lab_tests, panels

CODESYSTEM_ID = "loinc-lab-subset"
NOTICE = (
    "This material contains content from LOINC (http://loinc.org). LOINC is copyright (c) 1995-2025, Regenstrief "
    "Institute, Inc. and the Logical Observation Identifiers Names and Codes (LOINC) Committee and is available at no "
    "cost under the license at http://loinc.org/license. LOINC(R) is a registered United States trademark of "
    "Regenstrief Institute, Inc. The printed names (designations marked 'as printed by laboratories') are not LOINC "
    "content; they were collected by this project (ingestion/terminology/NOTICE)."
)
PRINTED = {
    "system": "http://snomed.info/sct",
    "code": "900000000000013009",
    "display": "Synonym (as printed by laboratories)",
}
PROPERTIES = [
    {"code": "COMPONENT", "uri": "http://loinc.org/property/COMPONENT", "type": "string"},
    {"code": "PROPERTY", "uri": "http://loinc.org/property/PROPERTY", "type": "string"},
    {"code": "SYSTEM", "uri": "http://loinc.org/property/SYSTEM", "type": "string"},
    {"code": "SCALE_TYP", "uri": "http://loinc.org/property/SCALE_TYP", "type": "string"},
    {"code": "CLASSTYPE", "uri": "http://loinc.org/property/CLASSTYPE", "type": "string"},
]


def loinc_codesystem() -> dict:
    concepts = []
    for test in lab_tests():
        properties = [
            {"code": "COMPONENT", "valueString": test.component},
            {"code": "PROPERTY", "valueString": test.property},
            {"code": "SYSTEM", "valueString": test.system},
            {"code": "SCALE_TYP", "valueString": test.scale},
            {"code": "CLASSTYPE", "valueString": "Laboratory class"},
        ]
        concept = {"code": test.loinc, "display": test.display, "property": properties}
        names = [n for n in dict.fromkeys(test.names) if n != test.display]
        if names:
            concept["designation"] = [{"language": "en", "use": PRINTED, "value": name} for name in names]
        concepts.append(concept)
    known = {c["code"] for c in concepts}
    for panel in panels():
        if panel.loinc not in known:
            concepts.append(
                {
                    "code": panel.loinc,
                    "display": panel.display,
                    "property": [{"code": "CLASSTYPE", "valueString": "Laboratory class"}],
                }
            )
            known.add(panel.loinc)
    return {
        "resourceType": "CodeSystem",
        "id": CODESYSTEM_ID,
        "url": LOINC_SYSTEM,
        "name": "LOINC",
        "title": "LOINC (the laboratory tests this server reads off reports)",
        "status": "active",
        "publisher": "Regenstrief Institute, Inc.",
        "copyright": NOTICE,
        "caseSensitive": False,
        "content": "fragment",
        "valueSet": "http://loinc.org/vs",
        "property": PROPERTIES,
        "count": len(concepts),
        "concept": concepts,
    }


def install(**kwargs) -> None:
    """post_migrate: the LOINC subset is stored and searchable."""
    shipped.ensure("CodeSystem", CODESYSTEM_ID, loinc_codesystem())
