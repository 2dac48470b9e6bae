"""PATCH beyond JSON Patch: FHIRPath Patch (Parameters), JSON Merge Patch, and both in Bundles."""
import pytest

pytestmark = pytest.mark.django_db

PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"system": "urn:mrn", "value": "1"}, {"system": "urn:other", "value": "x"}],
    "name": [{"use": "official", "family": "Okafor", "given": ["Ada"]}, {"use": "nickname", "given": ["Dee"]}],
    "gender": "female",
    "birthDate": "1970-01-02",
}


def _create(fhir, body=PATIENT):
    response = fhir.post("Patient", body)
    assert response.status_code == 201, response.content
    return response.json()["id"]


def operation(type_, path, **parts):
    part = [{"name": "type", "valueCode": type_}, {"name": "path", "valueString": path}]
    for name, value in parts.items():
        part.append(value if isinstance(value, dict) and "name" in value else {"name": name, **value})
    return {"name": "operation", "part": part}


def fhirpath_patch(*operations):
    return {"resourceType": "Parameters", "parameter": list(operations)}


def test_fhirpath_patch_replace_add_delete_insert_move(fhir):
    pid = _create(fhir)
    patch = fhirpath_patch(
        operation("replace", "Patient.birthDate", value={"valueDate": "1971-03-04"}),
        operation("replace", "Patient.name.where(use = 'official').family", value={"valueString": "Okafor-Bell"}),
        operation("add", "Patient", name={"valueString": "active"}, value={"valueBoolean": True}),
        operation("add", "Patient.name[0]", name={"valueString": "given"}, value={"valueString": "Nneka"}),
        operation("delete", "Patient.identifier.where(system = 'urn:other')"),
        operation("insert", "Patient.identifier", index={"valueInteger": 0},
                  value={"valueIdentifier": {"system": "urn:new", "value": "n"}}),
        operation("move", "Patient.name", source={"valueInteger": 1}, destination={"valueInteger": 0}),
    )
    response = fhir.patch(f"Patient/{pid}", patch)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["birthDate"] == "1971-03-04" and body["active"] is True
    assert [n.get("use") for n in body["name"]] == ["nickname", "official"]
    assert body["name"][1] == {"use": "official", "family": "Okafor-Bell", "given": ["Ada", "Nneka"]}
    assert body["identifier"] == [{"system": "urn:new", "value": "n"}, {"system": "urn:mrn", "value": "1"}]
    assert body["meta"]["versionId"] == "2"


def test_fhirpath_patch_adds_a_repeating_element_as_a_list_and_backbone_values_by_parts(fhir):
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "Hb"}}
    oid = fhir.post("Observation", observation).json()["id"]
    patch = fhirpath_patch(
        operation("add", "Observation", name={"valueString": "referenceRange"},
                  value={"name": "value", "part": [
                      {"name": "low", "valueQuantity": {"value": 12, "unit": "g/dL"}},
                      {"name": "appliesTo", "valueCodeableConcept": {"text": "adult"}},
                      {"name": "text", "valueString": "12-16"}]}),
        operation("add", "Observation", name={"valueString": "valueQuantity"},
                  value={"valueQuantity": {"value": 13.1, "unit": "g/dL"}}),
    )
    response = fhir.patch(f"Observation/{oid}", patch)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["referenceRange"] == [{"low": {"value": 12, "unit": "g/dL"}, "text": "12-16",
                                       "appliesTo": [{"text": "adult"}]}]  # one part, still a list
    assert body["valueQuantity"]["value"] == 13.1


@pytest.mark.parametrize("patch, status", [
    (fhirpath_patch(operation("replace", "Patient.name.given", value={"valueString": "x"})), 422),  # 3 matches
    (fhirpath_patch(operation("replace", "Patient.telecom", value={"valueString": "x"})), 422),  # no match
    (fhirpath_patch(operation("insert", "Patient.identifier", index={"valueInteger": 9},
                              value={"valueIdentifier": {"value": "z"}})), 422),
    (fhirpath_patch(operation("explode", "Patient.gender")), 400),
    ({"resourceType": "Parameters", "parameter": []}, 400),
    (fhirpath_patch(operation("replace", "Patient.birthDate", value={"valueString": "soon"})), 400),  # invalid result
])
def test_fhirpath_patch_failures_store_nothing(fhir, patch, status):
    pid = _create(fhir)
    response = fhir.patch(f"Patient/{pid}", patch)
    assert response.status_code == status, response.content
    assert response.json()["resourceType"] == "OperationOutcome"
    assert fhir.get(f"Patient/{pid}").json()["meta"]["versionId"] == "1"


def test_delete_of_nothing_is_not_an_error(fhir):
    pid = _create(fhir)
    response = fhir.patch(f"Patient/{pid}", fhirpath_patch(operation("delete", "Patient.telecom")))
    assert response.status_code == 200 and "telecom" not in response.json()


@pytest.mark.parametrize("content_type", ["application/merge-patch+json", "application/fhir+json", "application/json"])
def test_merge_patch(fhir, content_type):
    pid = _create(fhir)
    response = fhir.patch(
        f"Patient/{pid}", {"gender": "male", "birthDate": None, "active": False}, content_type=content_type
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["gender"] == "male" and body["active"] is False and "birthDate" not in body
    assert body["name"] == PATIENT["name"]  # untouched members stay


def test_merge_patch_cannot_change_type_or_id(fhir):
    pid = _create(fhir)
    assert fhir.patch(f"Patient/{pid}", {"resourceType": "Observation"}).status_code == 400
    assert fhir.patch(f"Patient/{pid}", {"id": "other"}, content_type="application/merge-patch+json").status_code == 422
    assert fhir.get(f"Patient/{pid}").json()["meta"]["versionId"] == "1"


def test_fhirpath_patch_in_a_transaction(fhir):
    pid = _create(fhir)
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [{
        "request": {"method": "PATCH", "url": f"Patient/{pid}"},
        "resource": fhirpath_patch(operation("replace", "Patient.gender", value={"valueCode": "other"})),
    }]}
    response = fhir.post("", bundle)
    assert response.status_code == 200, response.content
    assert response.json()["entry"][0]["response"]["status"].startswith("200")
    assert fhir.get(f"Patient/{pid}").json()["gender"] == "other"


def test_capability_statement_lists_the_patch_formats(fhir):
    formats = fhir.get("metadata").json()["patchFormat"]
    assert {"application/json-patch+json", "application/fhir+json", "application/merge-patch+json"} <= set(formats)
