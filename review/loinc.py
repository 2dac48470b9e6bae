"""The review page's LOINC search box: `ValueSet/$expand?filter=` over the server's LOINC content, the
same engine and content the API's operation answers from (a stored LOINC CodeSystem first, then the
subset the server ships), with the units the reader knows for each test."""
from __future__ import annotations

from fhirserver.terminology.source import source
from ingestion.terminology import lookup_loinc
from ingestion.terminology.catalogue import LOINC_SYSTEM
from resources.terminology import expand

# LOINC's implicit value set of all codes (http://loinc.org/vs), as an inline ValueSet for $expand.
ALL_OF_LOINC = {"resourceType": "ValueSet", "url": "http://loinc.org/vs", "status": "active",
                "compose": {"include": [{"system": LOINC_SYSTEM}]}}
WIDER = 4  # expand a few pages' worth, then put the best first


def loinc_choices(query: str, limit: int = 15) -> list[dict]:
    query = " ".join(query.split())
    if not query:
        return []
    expanded, _ = expand(ALL_OF_LOINC, source(), text=query, count=limit * WIDER)
    found = expanded["expansion"].get("contains") or []
    wanted = query.lower()
    # A code typed whole first, then names that start with the text, then the rest in the code system's order.
    found = sorted(found, key=lambda c: (c["code"] != query, not (c.get("display") or "").lower().startswith(wanted)))
    return [{"loinc": c["code"], "display": c.get("display") or "", "units": _units(c["code"])}
            for c in found[:limit]]


def _units(code: str) -> list[str]:
    known = lookup_loinc(code)
    return list(known.units) if known else []
