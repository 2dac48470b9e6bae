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


# --- the memo is in place, and the library is left as it is --------------------------------------
def test_a_remembered_element_is_handed_in_as_its_model():
    from fhir.resources.R4B.observation import Observation

    from resources import validation

    resource = observation(valueQuantity={"value": 10, "unit": "g/dL"})
    assert validation_issues(resource) == []
    handed_in = validation._with_known_elements(Observation, resource, validation._valid.seen, [])
    for name in ("code", "subject", "valueQuantity"):
        assert isinstance(handed_in[name], validation._element_fields(Observation)[name][1]), name
    assert resource["code"] == LOINC_HB  # the caller's content is never changed


def test_fhir_core_is_not_patched():
    from fhir_core import types

    validator = types.FhirBase.__dict__["fhir_model_validator"].__func__
    assert validator.__module__ == "fhir_core.types" and validator.__qualname__ == "FhirBase.fhir_model_validator"


def test_the_official_examples_validate_the_same_with_and_without_the_memo():
    import json
    import threading
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "var" / "hl7.fhir.r4.examples" / "package"
    kinds = ("Observation", "DiagnosticReport", "Patient", "Specimen", "Encounter", "Practitioner", "Organization")
    examples = [json.loads(p.read_text()) for kind in kinds for p in sorted(folder.glob(f"{kind}-*.json"))]
    assert len(examples) > 120
    broken = [dict(e, meta={"lastUpdated": "yesterday", "tag": [{"code": 7}]}) for e in examples[::3]]

    def fresh(resource):  # a new thread: nothing remembered
        out = []
        thread = threading.Thread(target=lambda: out.append(validation_issues(resource)))
        thread.start()
        thread.join()
        return out[0]

    for resource in examples + broken + examples + broken:  # the second pass meets remembered elements
        assert validation_issues(resource) == fresh(resource), resource.get("id")


def test_what_every_resource_repeats_outlives_the_one_off_elements_that_fill_the_memo():
    import threading

    from fhir.resources.R4B.observation import Observation

    from resources import validation

    codeable_concept = validation._element_fields(Observation)["code"][1]
    failures = []

    def run():  # in a thread of its own: a memo of its own
        try:
            for n in range(3 * validation._SEEN_LIMIT):  # a new value each time, the same code every time
                if n:
                    handed_in = validation._with_known_elements(Observation, observation(), validation._valid.seen, [])
                    assert isinstance(handed_in["code"], codeable_concept), f"code forgotten after {n} resources"
                assert validation_issues(observation(valueQuantity={"value": n, "unit": "g/dL"})) == []
            memo = validation._valid.seen
            assert len(memo.young) <= validation._SEEN_LIMIT and len(memo.old) <= validation._SEEN_LIMIT
        except AssertionError as exc:
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert not failures, failures[0]
