"""string and token parameters, through HTTP."""
from .helpers import CATEGORY, LOINC, idset, observation, q, search


def test_string_is_case_and_accent_insensitive_prefix(store, fhir):
    store({"resourceType": "Patient", "name": [{"family": "Müller", "given": ["Zoë"]}]}, id="a")
    store({"resourceType": "Patient", "name": [{"family": "Mull", "given": ["Zoe"]}]}, id="b")
    store({"resourceType": "Patient", "name": [{"family": "Amuller"}]}, id="c")
    assert idset(fhir, "Patient?family=muller") == {"a"}
    assert idset(fhir, "Patient?family=MUL") == {"a", "b"}
    assert idset(fhir, "Patient?name=zoe") == {"a", "b"}
    assert idset(fhir, f"Patient?family:exact={q('Müller')}") == {"a"}
    assert idset(fhir, "Patient?family:exact=muller") == set()
    assert idset(fhir, "Patient?family:contains=ULL") == {"a", "b", "c"}
    assert idset(fhir, "Patient?family=mull&given=zoe") == {"a", "b"}


def test_string_or_and_escaped_comma(store, fhir):
    store({"resourceType": "Patient", "name": [{"family": "Smith, Jr"}]}, id="a")
    store({"resourceType": "Patient", "name": [{"family": "Smith"}]}, id="b")
    store({"resourceType": "Patient", "name": [{"family": "Jones"}]}, id="c")
    assert idset(fhir, "Patient?family=jones,smith") == {"a", "b", "c"}
    escaped = q("Smith\\, Jr")
    assert idset(fhir, f"Patient?family:exact={escaped}") == {"a"}
    assert idset(fhir, "Patient?address-city=x") == set()


def test_address_parts_are_strings(store, fhir):
    store(
        {
            "resourceType": "Patient",
            "address": [{"line": ["1 Rue Saint-Honoré"], "city": "Paris", "postalCode": "75001"}],
        },
        id="a",
    )
    assert idset(fhir, "Patient?address=honore") == set()  # prefix of a part, not a word inside it
    assert idset(fhir, "Patient?address:contains=honore") == {"a"}
    assert idset(fhir, "Patient?address-city=par") == {"a"}
    assert idset(fhir, "Patient?address-postalcode=75001") == {"a"}


def test_token_forms(store, fhir):
    store(observation("718-7"), id="loinc")
    store(observation("718-7", code={"coding": [{"system": "http://other", "code": "718-7"}]}), id="other")
    store(observation("718-7", code={"coding": [{"code": "718-7"}]}), id="nosystem")
    store(observation("2345-7"), id="glucose")
    assert idset(fhir, "Observation?code=718-7") == {"loinc", "other", "nosystem"}
    assert idset(fhir, f"Observation?code={q(LOINC + '|718-7')}") == {"loinc"}
    assert idset(fhir, f"Observation?code={q('|718-7')}") == {"nosystem"}
    assert idset(fhir, f"Observation?code={q(LOINC + '|')}") == {"loinc", "glucose"}
    assert idset(fhir, f"Observation?code={q(LOINC + '|718-7,' + LOINC + '|2345-7')}") == {"loinc", "glucose"}
    assert idset(fhir, "Observation?code=718-7&code=2345-7") == set()
    assert idset(fhir, "Observation?code=718-7&status=final") == {"loinc", "other", "nosystem"}
    assert idset(fhir, "Observation?code=718-7&status=amended") == set()


def test_token_not_text_and_missing(store, fhir):
    store(
        observation(
            "718-7", code={"coding": [{"system": LOINC, "code": "718-7", "display": "Hémoglobine"}], "text": "Hb"}
        ),
        id="hb",
    )
    store(observation("2345-7", code={"coding": [{"system": LOINC, "code": "2345-7", "display": "Glucose"}]}), id="glu")
    store({"resourceType": "Observation", "status": "final", "code": {"text": "Note"}}, id="nocat")
    assert idset(fhir, "Observation?code:not=718-7") == {"glu", "nocat"}
    assert idset(fhir, "Observation?code:text=hemoglob") == {"hb"}
    assert idset(fhir, "Observation?code:text=hb") == {"hb"}
    assert idset(fhir, "Observation?category:missing=true") == {"nocat"}
    assert idset(fhir, "Observation?category:missing=false") == {"hb", "glu"}
    search(fhir, "Observation?category:missing=maybe", status=400)
    search(fhir, "Observation?code:bogus=1", status=400)


def test_identifier_and_of_type(store, fhir):
    mr = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}
    store({"resourceType": "Patient", "identifier": [{"system": "urn:mrn", "value": "123", "type": mr}]}, id="a")
    store({"resourceType": "Patient", "identifier": [{"system": "urn:ssn", "value": "123"}]}, id="b")
    assert idset(fhir, "Patient?identifier=123") == {"a", "b"}
    assert idset(fhir, f"Patient?identifier={q('urn:mrn|123')}") == {"a"}
    assert idset(fhir, f"Patient?identifier:of-type={q('http://terminology.hl7.org/CodeSystem/v2-0203|MR|123')}") == {
        "a"
    }
    assert (
        idset(fhir, f"Patient?identifier:of-type={q('http://terminology.hl7.org/CodeSystem/v2-0203|MR|999')}") == set()
    )
    search(fhir, "Patient?identifier:of-type=MR|123", status=400)


def test_boolean_and_contact_point_tokens(store, fhir):
    store({"resourceType": "Patient", "active": True, "telecom": [{"system": "phone", "value": "555-1234"}]}, id="a")
    store(
        {"resourceType": "Patient", "active": False, "telecom": [{"system": "email", "value": "x@example.org"}]}, id="b"
    )
    assert idset(fhir, "Patient?active=true") == {"a"}
    assert idset(fhir, "Patient?phone=555-1234") == {"a"}
    assert idset(fhir, "Patient?email=x@example.org") == {"b"}
    assert idset(fhir, "Patient?telecom=x@example.org") == {"b"}


def test_in_and_not_in_value_sets(store, fhir):
    store(observation(kind="laboratory"), id="lab")
    store(observation(kind="vital-signs"), id="vital")
    store(observation("1", kind="exam"), id="exam")
    store(
        observation("2", **{"category": [{"coding": [{"system": "http://elsewhere", "code": "laboratory"}]}]}),
        id="foreign",
    )
    store(
        {
            "resourceType": "ValueSet",
            "url": "http://example.org/vs/labs",
            "status": "active",
            "compose": {"include": [{"system": CATEGORY, "concept": [{"code": "laboratory"}, {"code": "exam"}]}]},
        },
        id="vs",
    )
    assert idset(fhir, "Observation?category:in=http://example.org/vs/labs") == {"lab", "exam"}
    assert idset(fhir, "Observation?category:not-in=http://example.org/vs/labs") == {"vital", "foreign"}
    # a ValueSet of R4 itself, shipped with the server
    assert idset(fhir, "Observation?category:in=http://hl7.org/fhir/ValueSet/observation-category") == {
        "lab",
        "vital",
        "exam",
    }
    search(fhir, "Observation?category:in=http://example.org/unknown", status=400)
