"""Validation remembers elements it found valid (resources/validation.py): it must never let an
invalid element through because an equal-looking one was valid before."""
from resources.validation import validation_issues

LOINC_HB = {"coding": [{"system": "http://loinc.org", "code": "718-7", "display": "Hemoglobin"}]}


def observation(**elements) -> dict:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": LOINC_HB,
        "subject": {"reference": "Patient/1"},
        **elements,
    }


def test_same_json_valid_as_one_type_is_still_checked_as_another():
    assert validation_issues(observation()) == []  # {"reference": ...} remembered as a valid Reference
    issues = validation_issues(observation(code={"reference": "Patient/1"}))  # not a CodeableConcept
    assert issues and issues[0]["expression"] == ["Observation.code.reference"]


def test_invalid_element_is_reported_every_time_next_to_remembered_ones():
    bad = observation(valueQuantity={"value": "ten", "unit": "g/dL"})
    for _ in range(3):
        assert validation_issues(observation(valueQuantity={"value": 10, "unit": "g/dL"})) == []
        issues = validation_issues(bad)
        assert [i["expression"] for i in issues] == [["Observation.valueQuantity.value"]]


def test_a_remembered_element_changed_by_one_value_is_validated_again():
    assert validation_issues(observation(category=[LOINC_HB])) == []
    changed = {"coding": [{"system": "http://loinc.org", "code": "718-7", "display": "Hemoglobin", "userSelected": 3}]}
    issues = validation_issues(observation(category=[changed]))
    assert issues and issues[0]["expression"] == ["Observation.category[0].coding[0].userSelected"]
