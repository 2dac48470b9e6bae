"""The CapabilityStatement says what the server does, generated from the code."""
import pytest

pytestmark = pytest.mark.django_db


def test_capability_statement(fhir):
    response = fhir.get("metadata")
    assert response.status_code == 200
    cs = response.json()
    assert cs["resourceType"] == "CapabilityStatement" and cs["fhirVersion"] == "4.0.1"
    assert cs["kind"] == "instance" and cs["status"] == "active"
    assert "application/fhir+json" in cs["format"]
    rest = cs["rest"][0]
    types = {r["type"]: r for r in rest["resource"]}
    assert len(types) == 146 and "Observation" in types and "EffectEvidenceSynthesis" in types
    interactions = {i["code"] for i in types["Patient"]["interaction"]}
    assert {
        "read",
        "vread",
        "update",
        "patch",
        "delete",
        "create",
        "search-type",
        "history-instance",
        "history-type",
    } <= interactions
    assert {i["code"] for i in rest["interaction"]} >= {"transaction", "batch", "history-system", "search-system"}
    assert {op["name"] for op in types["Patient"]["operation"]} >= {"validate"}
    from fhir.resources.R4B.capabilitystatement import CapabilityStatement

    CapabilityStatement.model_validate(cs)


def test_validate_operation(fhir):
    ok = fhir.post("Patient/$validate", {"resourceType": "Patient", "gender": "female"})
    assert ok.status_code == 200 and ok.json()["issue"][0]["severity"] == "information"
    bad = fhir.post("Patient/$validate", {"resourceType": "Patient", "birthDate": "13/13/2020"}).json()
    assert bad["issue"][0]["severity"] == "error" and bad["issue"][0]["expression"] == ["Patient.birthDate"]
    wrapped = fhir.post("Observation/$validate", {"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": {"resourceType": "Observation", "code": {"text": "x"}}}]}).json()
    assert wrapped["issue"][0]["expression"] == ["Observation.status"]
    fhir.put("Patient/v1", {"resourceType": "Patient", "id": "v1"})
    assert fhir.get("Patient/v1/$validate").json()["issue"][0]["severity"] == "information"
    assert fhir.post("Patient/$nosuchop", {}).status_code == 404
