"""Parameters every resource has (_id, _lastUpdated, _tag, _profile, _security, _source, _list,
_text, _content) and composite parameters."""
from datetime import datetime, timedelta

from .helpers import LOINC, UCUM, idset, observation, q, search


def test_id_and_last_updated(store, fhir):
    first = store(observation(), id="a")
    store(observation(), id="b")
    assert idset(fhir, "Observation?_id=a") == {"a"}
    assert idset(fhir, "Observation?_id=a,b") == {"a", "b"}
    assert idset(fhir, "Observation?_id=zzz") == set()
    stamp = datetime.fromisoformat(first["meta"]["lastUpdated"].replace("Z", "+00:00"))
    day = stamp.strftime("%Y-%m-%d")
    assert idset(fhir, f"Observation?_lastUpdated={day}") == {"a", "b"}
    assert idset(fhir, f"Observation?_lastUpdated=gt{(stamp + timedelta(days=1)).strftime('%Y-%m-%d')}") == set()
    assert idset(fhir, f"Observation?_lastUpdated=lt{(stamp - timedelta(days=1)).strftime('%Y-%m-%d')}") == set()
    just_before = (stamp - timedelta(milliseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    assert "a" in idset(fhir, f"Observation?_lastUpdated=gt{q(just_before)}")


def test_meta_tag_profile_security_source(store, fhir):
    meta = {
        "tag": [{"system": "urn:tags", "code": "digitized"}],
        "profile": ["http://hl7.org/fhir/us/core/StructureDefinition/us-core-observation-lab"],
        "security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}],
        "source": "urn:scanner:1",
    }
    store(observation(meta=meta), id="tagged")
    store(observation(), id="plain")
    assert idset(fhir, f"Observation?_tag={q('urn:tags|digitized')}") == {"tagged"}
    assert idset(fhir, "Observation?_tag:not=digitized") == {"plain"}
    assert idset(fhir, f"Observation?_profile={q(meta['profile'][0])}") == {"tagged"}
    assert idset(fhir, "Observation?_security=R") == {"tagged"}
    assert idset(fhir, f"Observation?_source={q('urn:scanner:1')}") == {"tagged"}
    assert idset(fhir, f"Observation?_profile:below={q('http://hl7.org/fhir/us/core/')}") == {"tagged"}


def test_list_membership(store, fhir):
    store(observation(), id="a")
    store(observation(), id="b")
    store({"resourceType": "List", "status": "current", "mode": "working",
           "entry": [{"item": {"reference": "Observation/a"}}, {"item": {"reference": "Patient/a"}}]}, id="mylist")
    assert idset(fhir, "Observation?_list=mylist") == {"a"}
    assert idset(fhir, "Observation?_list=nolist") == set()


def test_text_and_content(store, fhir):
    store(
        observation(
            text={
                "status": "generated",
                "div": '<div xmlns="http://www.w3.org/1999/xhtml">Haemoglobin <b>élevée</b></div>',
            }
        ),
        id="narr",
    )
    store(observation(note=[{"text": "patient fasting since midnight"}]), id="note")
    assert idset(fhir, "Observation?_text=elevee") == {"narr"}
    assert idset(fhir, "Observation?_text=HAEMOGLOBIN%20elevee") == {"narr"}
    assert idset(fhir, "Observation?_text=fasting") == set()
    assert idset(fhir, "Observation?_content=fasting%20midnight") == {"note"}
    assert idset(fhir, "Observation?_content=fasting%20noon") == set()


def test_composite_components_match_on_the_same_element(store, fhir):
    bp = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "component": [
            {
                "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                "valueQuantity": {"value": 150, "system": UCUM, "code": "mm[Hg]"},
            },
            {
                "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                "valueQuantity": {"value": 70, "system": UCUM, "code": "mm[Hg]"},
            },
        ],
    }
    store(bp, id="bp")
    store(observation(value=16, unit="g/dL"), id="hb16")
    store(observation(value=12, unit="g/dL"), id="hb12")
    store(observation("2345-7", value=16, unit="mmol/L"), id="glu16")
    store(
        observation(
            "8480-6", valueCodeableConcept={"coding": [{"system": "http://snomed.info/sct", "code": "260385009"}]}
        ),
        id="concept",
    )
    assert idset(fhir, f"Observation?code-value-quantity={q('http://loinc.org|718-7$gt15')}") == {"hb16"}
    assert idset(fhir, f"Observation?code-value-quantity={q('718-7$lt15')}") == {"hb12"}
    assert idset(fhir, f"Observation?code-value-quantity={q('718-7$gt150|http://unitsofmeasure.org|g/L')}") == {"hb16"}
    assert idset(fhir, f"Observation?component-code-value-quantity={q('8480-6$gt140')}") == {"bp"}
    assert (
        idset(fhir, f"Observation?component-code-value-quantity={q('8480-6$lt100')}") == set()
    )  # 70 is the other component
    assert idset(fhir, f"Observation?combo-code-value-quantity={q('8462-4$70')}") == {"bp"}
    assert idset(fhir, f"Observation?code-value-concept={q('8480-6$http://snomed.info/sct|260385009')}") == {"concept"}
    assert idset(fhir, f"Observation?code-value-quantity={q('718-7$gt15,2345-7$gt15')}") == {"hb16", "glu16"}
    search(fhir, f"Observation?code-value-quantity={q('718-7')}", status=400)


def test_uri_exact_below_above(store, fhir):
    store({"resourceType": "ValueSet", "status": "active", "url": "http://example.org/fhir/ValueSet/labs"}, id="labs")
    store(
        {"resourceType": "ValueSet", "status": "active", "url": "http://example.org/fhir/ValueSet/labs-extra"},
        id="extra",
    )
    store({"resourceType": "ValueSet", "status": "active", "url": "http://example.org/fhir"}, id="root")
    assert idset(fhir, f"ValueSet?url={q('http://example.org/fhir/ValueSet/labs')}") == {"labs"}
    assert idset(fhir, f"ValueSet?url:below={q('http://example.org/fhir/ValueSet/')}") == {"labs", "extra"}
    assert idset(fhir, f"ValueSet?url:above={q('http://example.org/fhir/ValueSet/labs')}") == {"labs", "root"}
    assert idset(fhir, "ValueSet?url:missing=true") == set()
