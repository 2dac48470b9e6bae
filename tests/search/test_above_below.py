""":above and :below on uri parameters (URL path segments) and on tokens (is-a hierarchies of stored CodeSystems)."""
from .helpers import idset, observation, q, search

ACME = "http://acme.org/fhir"
CS = "http://acme.org/codes"


def _valuesets(store):
    for id_, url in [
        ("root", "http://acme.org"),
        ("fhir", ACME),
        ("vs", f"{ACME}/ValueSet"),
        ("vs123", f"{ACME}/ValueSet/123"),
        ("hist", f"{ACME}/ValueSet/123/_history/5"),
        ("vs1234", f"{ACME}/ValueSet/1234"),
        ("old", "http://acme.org/fhir-old/ValueSet/123"),
        ("other", "http://other.org/fhir/ValueSet/123"),
        ("slash", f"{ACME}/"),
    ]:
        store({"resourceType": "ValueSet", "status": "active", "url": url}, id=id_)


def test_uri_below_follows_path_segments_not_string_prefix(store, fhir):
    _valuesets(store)
    # a plain prefix search would also return vs1234 and old: neither is under these URLs
    assert idset(fhir, f"ValueSet?url:below={q(ACME + '/ValueSet/123')}") == {"vs123", "hist"}
    assert idset(fhir, f"ValueSet?url:below={q(ACME)}") == {"fhir", "slash", "vs", "vs123", "hist", "vs1234"}
    assert idset(fhir, f"ValueSet?url:below={q(ACME + '/')}") == {"fhir", "slash", "vs", "vs123", "hist", "vs1234"}
    assert idset(fhir, f"ValueSet?url={q(ACME + '/ValueSet/123')}") == {"vs123"}


def test_uri_above_is_the_url_and_its_ancestors(store, fhir):
    _valuesets(store)
    assert idset(fhir, f"ValueSet?url:above={q(ACME + '/ValueSet/123/_history/5')}") == {
        "root",
        "fhir",
        "slash",
        "vs",
        "vs123",
        "hist",
    }
    assert idset(fhir, f"ValueSet?url:above={q(ACME + '/ValueSet/1234')}") == {"root", "fhir", "slash", "vs", "vs1234"}
    assert idset(fhir, f"ValueSet?url:above={q('http://acme.org/fhir-old/ValueSet')}") == {"root"}


def test_uri_above_below_on_canonical_structuredefinition_url(store, fhir):
    base = "http://hl7.org/fhir/us/core/StructureDefinition"
    store({"resourceType": "StructureDefinition", "url": f"{base}/us-core-patient", "name": "P", "status": "active",
           "kind": "resource", "abstract": False, "type": "Patient"}, id="pat")
    store(
        {
            "resourceType": "StructureDefinition",
            "url": f"{base}/us-core-patient-extra",
            "name": "X",
            "status": "active",
            "kind": "resource",
            "abstract": False,
            "type": "Patient",
        },
        id="extra",
    )
    assert idset(fhir, f"StructureDefinition?url:below={q(base + '/us-core-patient')}") == {"pat"}
    assert idset(fhir, f"StructureDefinition?url:below={q('http://hl7.org/fhir/us/core')}") == {"pat", "extra"}


def test_uri_above_below_on_urn_is_a_400(store, fhir):
    _valuesets(store)
    outcome = search(fhir, f"ValueSet?url:below={q('urn:oid:2.16.840.1')}", status=400)
    assert outcome["resourceType"] == "OperationOutcome"
    assert "URN" in outcome["issue"][0]["diagnostics"]
    search(fhir, f"ValueSet?url:above={q('urn:oid:2.16.840.1.113883')}", status=400)


def _codesystem(store, meaning="is-a"):
    # A is-a root; B and C under A (B nested, C by a `parent` property); D under B; E under C by A's... `child` of C
    store(
        {
            "resourceType": "CodeSystem",
            "url": CS,
            "status": "active",
            "content": "complete",
            "hierarchyMeaning": meaning,
            "concept": [
                {"code": "A", "concept": [{"code": "B", "concept": [{"code": "D"}]}]},
                {"code": "C", "property": [{"code": "parent", "valueCode": "A"}, {"code": "child", "valueCode": "E"}]},
                {"code": "E"},
                {"code": "Z"},
            ],
        },
        id="cs",
    )


def _coded(store):
    for code in "ABCDEZ":
        store(observation(code=({"coding": [{"system": CS, "code": code}]})), id=f"o{code}")
    store(observation(code=({"coding": [{"system": "http://elsewhere", "code": "D"}]})), id="otherD")


def test_token_below_and_above_follow_the_is_a_hierarchy(store, fhir):
    _codesystem(store)
    _coded(store)
    assert idset(fhir, f"Observation?code:below={q(CS + '|A')}") == {"oA", "oB", "oC", "oD", "oE"}
    assert idset(fhir, f"Observation?code:below={q(CS + '|B')}") == {"oB", "oD"}
    assert idset(fhir, f"Observation?code:below={q(CS + '|C')}") == {"oC", "oE"}
    assert idset(fhir, f"Observation?code:above={q(CS + '|D')}") == {"oD", "oB", "oA"}
    assert idset(fhir, f"Observation?code:above={q(CS + '|E')}") == {"oE", "oC", "oA"}
    assert idset(fhir, f"Observation?code:above={q(CS + '|Z')}") == {"oZ"}
    assert idset(fhir, f"Observation?code:below={q(CS + '|B')},{q(CS + '|Z')}") == {"oB", "oD", "oZ"}


def test_token_below_without_a_held_hierarchy_is_a_400_not_an_equality_search(store, fhir):
    _coded(store)
    outcome = search(fhir, f"Observation?code:below={q(CS + '|A')}", status=400)
    assert outcome["issue"][0]["code"] == "not-supported"
    assert CS in outcome["issue"][0]["diagnostics"]
    search(fhir, "Observation?code:below=A", status=400)  # no system: nothing to subsume in
    search(fhir, f"Observation?code:above={q('http://loinc.org|718-7')}", status=400)


def test_token_below_refuses_a_hierarchy_that_is_not_is_a(store, fhir):
    _codesystem(store, meaning="part-of")
    _coded(store)
    search(fhir, f"Observation?code:below={q(CS + '|A')}", status=400)


def test_above_below_are_not_date_number_or_reference_modifiers_in_r4(store, fhir):
    store(observation(date="2026-01-01", value=5), id="o1")
    for query in (
        "Observation?date:below=2026",
        "Observation?value-quantity:above=5",
        "Observation?subject:below=Patient/p1",
        "Patient?name:below=x",
    ):
        search(fhir, query, status=400)
