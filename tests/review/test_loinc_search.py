"""The review page's LOINC box asks the terminology engine (ValueSet/$expand?filter=) over what the server
holds: a concept added to the stored LOINC CodeSystem is offered at once, as `$expand` offers it."""
from __future__ import annotations

from fhirserver.storage import repository
from ingestion.terminology.codesystem import CODESYSTEM_ID


def test_the_box_offers_what_expand_offers_from_the_stored_code_system(reviewer, db):
    stored = repository.current("CodeSystem", CODESYSTEM_ID).content
    extra = {"code": "99999-9", "display": "Zebrafish antigen Ab [Titer] in Serum"}
    repository.update("CodeSystem", CODESYSTEM_ID, {**stored, "concept": stored["concept"] + [extra]})

    offered = reviewer.get("/review/api/loinc?q=zebrafish").json()["tests"]
    assert [t["loinc"] for t in offered] == ["99999-9"]


def test_a_code_typed_whole_comes_first_with_its_units(reviewer):
    [first, *_] = reviewer.get("/review/api/loinc?q=2345-7").json()["tests"]
    assert first["loinc"] == "2345-7" and first["display"].startswith("Glucose") and "mg/dL" in first["units"]
