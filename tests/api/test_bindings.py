"""Codes bound `required` in R4 are checked: a code outside its value set is a 400 naming the element."""
import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("resource, expression", [
    ({"resourceType": "Patient", "gender": "robot"}, "Patient.gender"),
    ({"resourceType": "Patient", "name": [{"use": "official"}, {"use": "nick"}]}, "Patient.name[1].use"),
    ({"resourceType": "Observation", "status": "done", "code": {"text": "Hb"}}, "Observation.status"),
    ({"resourceType": "Observation", "status": "final", "code": {"text": "Hb"},
      "valueQuantity": {"value": 5, "comparator": "=<"}}, "Observation.valueQuantity.comparator"),
    ({"resourceType": "DiagnosticReport", "status": "final", "code": {"text": "CBC"},
      "contained": [{"resourceType": "Patient", "id": "p", "gender": "f"}]}, "DiagnosticReport.contained[0].gender"),
])
def test_code_outside_a_required_value_set_is_refused(fhir, resource, expression):
    response = fhir.post(resource["resourceType"], resource)
    assert response.status_code == 400, response.content
    issues = response.json()["issue"]
    assert any(i["code"] == "code-invalid" and i["expression"] == [expression] for i in issues), issues
    assert fhir.get(resource["resourceType"]).json()["total"] == 0  # nothing stored


def test_codes_inside_their_value_sets_are_accepted(fhir):
    resource = {"resourceType": "Observation", "status": "preliminary", "code": {"text": "K"},
                "valueQuantity": {"value": 5, "comparator": "<="}, "identifier": [{"use": "official", "value": "1"}]}
    assert fhir.post("Observation", resource).status_code == 201


def test_validate_reports_a_binding_violation_without_storing(fhir):
    response = fhir.post("Patient/$validate", {"resourceType": "Patient", "gender": "robot"})
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert any(i["expression"] == ["Patient.gender"] and i["severity"] == "error" for i in outcome["issue"])
