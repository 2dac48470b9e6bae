"""The UCUM CodeSystem this server ships: a fragment listing the unit atoms resources/ucum.py knows.
UCUM is a grammar, so `$validate-code` on http://unitsofmeasure.org checks any expression with the
parser rather than against this list."""

from __future__ import annotations

from fhirserver.storage import shipped
from resources import ucum

CODESYSTEM_ID = "ucum"
NOTICE = (
    "This product includes all or a portion of the UCUM table, UCUM codes, and UCUM definitions or is derived from "
    "it, subject to a license from Regenstrief Institute, Inc. and The UCUM Organization. Your use of the UCUM "
    "table, UCUM codes, UCUM definitions also is subject to this license, a copy of which is available at "
    "http://unitsofmeasure.org. The UCUM table and UCUM codes are copyright (c) 1995-2013, Regenstrief Institute, "
    "Inc. and the Unified Codes for Units of Measures (UCUM) Organization. All rights reserved."
)


def ucum_codesystem() -> dict:
    return {
        "resourceType": "CodeSystem",
        "id": CODESYSTEM_ID,
        "url": ucum.UCUM_SYSTEM,
        "name": "UCUM",
        "title": "Unified Code for Units of Measure (the unit atoms used in laboratory medicine)",
        "status": "active",
        "publisher": "Regenstrief Institute, Inc. and The UCUM Organization",
        "copyright": NOTICE,
        "caseSensitive": True,
        "content": "fragment",
        "valueSet": ucum.UCUM_SYSTEM + "?fhir_vs",
        "concept": [{"code": code} for code in sorted(ucum.ATOMS)],
    }


def install(**kwargs) -> None:
    """post_migrate: the UCUM CodeSystem is stored and searchable."""
    shipped.ensure("CodeSystem", CODESYSTEM_ID, ucum_codesystem())
