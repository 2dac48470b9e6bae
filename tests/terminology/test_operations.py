"""The terminology operations over HTTP: shipped content (HL7 Terminology, R4 core, the LOINC lab
subset, UCUM) and resources stored on the server."""

import pytest

pytestmark = pytest.mark.django_db

OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
GENDER_VS = "http://hl7.org/fhir/ValueSet/administrative-gender"


def out(response, name):
    assert response.status_code == 200, response.content[:400]
    body = response.json()
    assert body["resourceType"] == "Parameters"
    return [p for p in body["parameter"] if p["name"] == name]


def value(response, name):
    found = out(response, name)
    assert found, f"no {name} in {response.json()}"
    return next(v for k, v in found[0].items() if k.startswith("value"))


def test_lookup_in_hl7_terminology(fhir):
    response = fhir.get(f"CodeSystem/$lookup?system={OBS_CATEGORY}&code=laboratory")
    assert value(response, "display") == "Laboratory"
    assert value(response, "name")


def test_lookup_in_the_loinc_subset_with_properties(fhir):
    response = fhir.get("CodeSystem/$lookup?system=http://loinc.org&code=2345-7")
    assert "Glucose" in value(response, "display")
    props = {p["part"][0]["valueCode"]: p["part"][1] for p in out(response, "property")}
    assert props["PROPERTY"]["valueString"] == "MCnc"
    only = fhir.get("CodeSystem/$lookup?system=http://loinc.org&code=2345-7&property=SYSTEM")
    assert {p["part"][0]["valueCode"] for p in out(only, "property")} == {"SYSTEM"}


def test_lookup_post_with_coding_and_display_language(fhir):
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "coding", "valueCoding": {"system": "http://terminology.hl7.org/CodeSystem/v2-0080", "code": "A"}},
            {"name": "displayLanguage", "valueCode": "de"},
        ],
    }
    assert value(fhir.post("CodeSystem/$lookup", body), "display") == "Altersabhängig"


def test_lookup_unknown_code_and_unknown_system(fhir):
    missing = fhir.get(f"CodeSystem/$lookup?system={OBS_CATEGORY}&code=nope")
    assert missing.status_code == 404 and missing.json()["resourceType"] == "OperationOutcome"
    unknown = fhir.get("CodeSystem/$lookup?system=http://example.org/none&code=x")
    assert unknown.status_code == 404 and unknown.json()["resourceType"] == "OperationOutcome"
    no_code = fhir.get(f"CodeSystem/$lookup?system={OBS_CATEGORY}")
    assert no_code.status_code == 400


def test_codesystem_validate_code(fhir):
    assert value(fhir.get(f"CodeSystem/$validate-code?url={OBS_CATEGORY}&code=laboratory"), "result") is True
    wrong = fhir.get(f"CodeSystem/$validate-code?url={OBS_CATEGORY}&code=laboratory&display=Vital%20Signs")
    assert value(wrong, "result") is False and "display" in value(wrong, "message")
    assert value(fhir.get(f"CodeSystem/$validate-code?url={OBS_CATEGORY}&code=nope"), "result") is False


def test_ucum_is_validated_by_its_grammar(fhir):
    assert value(fhir.get("CodeSystem/$validate-code?url=http://unitsofmeasure.org&code=mmol/L"), "result") is True
    assert value(fhir.get("CodeSystem/$validate-code?url=http://unitsofmeasure.org&code=10*3/uL"), "result") is True
    assert value(fhir.get("CodeSystem/$validate-code?url=http://unitsofmeasure.org&code=mg/furlong"), "result") is False


def test_subsumes(fhir):
    assert value(fhir.get(f"CodeSystem/$subsumes?system={INTERPRETATION}&codeA=H&codeB=HH"), "outcome") == "subsumes"
    assert value(fhir.get(f"CodeSystem/$subsumes?system={INTERPRETATION}&codeA=HH&codeB=H"), "outcome") == "subsumed-by"
    assert value(fhir.get(f"CodeSystem/$subsumes?system={INTERPRETATION}&codeA=H&codeB=H"), "outcome") == "equivalent"
    assert value(fhir.get(f"CodeSystem/$subsumes?system={INTERPRETATION}&codeA=H&codeB=L"), "outcome") == "not-subsumed"


def test_expand_an_r4_value_set(fhir):
    response = fhir.get(f"ValueSet/$expand?url={GENDER_VS}")
    assert response.status_code == 200
    expansion = response.json()["expansion"]
    assert expansion["total"] == 4
    assert {c["code"] for c in expansion["contains"]} == {"male", "female", "other", "unknown"}
    assert expansion["timestamp"]


def test_expand_filter_count_offset_on_the_loinc_subset(fhir):
    glucose = fhir.get("ValueSet/$expand?url=http://loinc.org/vs&filter=glucose").json()["expansion"]
    assert glucose["total"] >= 2 and all("lucose" in c["display"] for c in glucose["contains"])
    assert "2345-7" in {c["code"] for c in glucose["contains"]}
    by_code = fhir.get("ValueSet/$expand?url=http://loinc.org/vs&filter=2345-7").json()["expansion"]
    assert [c["code"] for c in by_code["contains"]] == ["2345-7"]
    full = fhir.get("ValueSet/$expand?url=http://loinc.org/vs").json()["expansion"]
    first = fhir.get("ValueSet/$expand?url=http://loinc.org/vs&count=5").json()["expansion"]
    second = fhir.get("ValueSet/$expand?url=http://loinc.org/vs&count=5&offset=5").json()["expansion"]
    assert first["total"] == second["total"] == full["total"] > 300
    assert [c["code"] for c in first["contains"] + second["contains"]] == [c["code"] for c in full["contains"][:10]]


def test_expand_display_language(fhir):
    body = fhir.get("ValueSet/$expand?url=http://terminology.hl7.org/ValueSet/v2-0080&displayLanguage=de").json()
    assert "Altersabhängig" in {c.get("display") for c in body["expansion"]["contains"]}


def test_expand_unknown_value_set_and_bad_count(fhir):
    unknown = fhir.get("ValueSet/$expand?url=http://example.org/vs/none")
    assert unknown.status_code == 404 and unknown.json()["resourceType"] == "OperationOutcome"
    assert fhir.get(f"ValueSet/$expand?url={GENDER_VS}&count=-1").status_code == 400


def test_valueset_validate_code(fhir):
    base = f"ValueSet/$validate-code?url={GENDER_VS}&system=http://hl7.org/fhir/administrative-gender"
    assert value(fhir.get(f"{base}&code=male"), "result") is True
    assert value(fhir.get(f"{base}&code=robot"), "result") is False
    concept = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "url", "valueUri": GENDER_VS},
            {
                "name": "codeableConcept",
                "valueCodeableConcept": {
                    "coding": [
                        {"system": "http://example.org", "code": "x"},
                        {"system": "http://hl7.org/fhir/administrative-gender", "code": "female"},
                    ]
                },
            },
        ],
    }
    assert value(fhir.post("ValueSet/$validate-code", concept), "result") is True


def test_translate_through_an_r4_concept_map(fhir):
    url = "http://hl7.org/fhir/ConceptMap/cm-administrative-gender-v2"
    response = fhir.get(f"ConceptMap/$translate?url={url}&system=http://hl7.org/fhir/administrative-gender&code=male")
    assert value(response, "result") is True
    match = out(response, "match")[0]["part"]
    assert {p["name"]: p for p in match}["concept"]["valueCoding"]["code"] == "M"
    back = fhir.get(
        f"ConceptMap/$translate?url={url}&system=http://terminology.hl7.org/CodeSystem/v2-0001&code=F&reverse=true"
    )
    assert {p["name"]: p for p in out(back, "match")[0]["part"]}["concept"]["valueCoding"]["code"] == "female"
    none = fhir.get(f"ConceptMap/$translate?url={url}&system=http://hl7.org/fhir/administrative-gender&code=nothing")
    assert value(none, "result") is False


def test_stored_resources_are_used_and_follow_updates(fhir):
    codesystem = {
        "resourceType": "CodeSystem",
        "url": "http://example.org/cs/colour",
        "status": "active",
        "content": "complete",
        "concept": [{"code": "red", "display": "Red", "concept": [{"code": "crimson", "display": "Crimson"}]}],
    }
    created = fhir.post("CodeSystem", codesystem)
    assert created.status_code == 201
    cs_id = created.json()["id"]
    assert (
        value(fhir.get("CodeSystem/$lookup?system=http://example.org/cs/colour&code=crimson"), "display") == "Crimson"
    )
    assert (
        value(fhir.get("CodeSystem/$subsumes?system=http://example.org/cs/colour&codeA=red&codeB=crimson"), "outcome")
        == "subsumes"
    )
    assert value(fhir.get(f"CodeSystem/{cs_id}/$lookup?code=red"), "display") == "Red"
    valueset = {
        "resourceType": "ValueSet",
        "url": "http://example.org/vs/reds",
        "status": "active",
        "compose": {
            "include": [
                {
                    "system": "http://example.org/cs/colour",
                    "filter": [{"property": "concept", "op": "is-a", "value": "red"}],
                }
            ]
        },
    }
    vs_id = fhir.post("ValueSet", valueset).json()["id"]
    assert {c["code"] for c in fhir.get(f"ValueSet/{vs_id}/$expand").json()["expansion"]["contains"]} == {
        "red",
        "crimson",
    }
    fhir.put(f"CodeSystem/{cs_id}", {**codesystem, "id": cs_id, "concept": [{"code": "red", "display": "Scarlet"}]})
    assert value(fhir.get("CodeSystem/$lookup?system=http://example.org/cs/colour&code=red"), "display") == "Scarlet"
    assert fhir.get("CodeSystem/$lookup?system=http://example.org/cs/colour&code=crimson").status_code == 404


def test_capability_statement_lists_the_operations(fhir):
    rest = fhir.get("metadata").json()["rest"][0]
    ops = {r["type"]: {o["name"] for o in r.get("operation", [])} for r in rest["resource"]}
    assert {"lookup", "validate-code", "subsumes"} <= ops["CodeSystem"]
    assert {"expand", "validate-code"} <= ops["ValueSet"]
    assert "translate" in ops["ConceptMap"]
