"""$meta, $meta-add, $meta-delete: tags, profiles and security labels changed without a new version."""
import pytest

pytestmark = pytest.mark.django_db

TAG = {"system": "urn:tags", "code": "reviewed", "display": "Reviewed"}
PROFILE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"


def meta_parameters(**meta):
    return {"resourceType": "Parameters", "parameter": [{"name": "meta", "valueMeta": meta}]}


def returned(response):
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["resourceType"] == "Parameters" and body["parameter"][0]["name"] == "return"
    return body["parameter"][0]["valueMeta"]


def test_meta_add_then_delete_keeps_the_version_and_is_searchable(fhir):
    pid = fhir.post(
        "Patient", {"resourceType": "Patient", "meta": {"tag": [{"system": "urn:tags", "code": "old"}]}}
    ).json()["id"]
    meta = returned(fhir.post(f"Patient/{pid}/$meta-add", meta_parameters(tag=[TAG], profile=[PROFILE])))
    assert {t["code"] for t in meta["tag"]} == {"old", "reviewed"} and meta["profile"] == [PROFILE]
    # sets: adding again (other display) duplicates nothing
    again = returned(fhir.post(f"Patient/{pid}/$meta-add", meta_parameters(tag=[dict(TAG, display="x")])))
    assert len(again["tag"]) == 2
    stored = fhir.get(f"Patient/{pid}").json()
    assert stored["meta"]["versionId"] == "1" and stored["meta"]["profile"] == [PROFILE]
    assert fhir.get("Patient?_tag=urn:tags|reviewed").json()["total"] == 1
    assert fhir.get(f"Patient?_profile={PROFILE}").json()["total"] == 1

    meta = returned(
        fhir.post(
            f"Patient/{pid}/$meta-delete",
            meta_parameters(tag=[{"system": "urn:tags", "code": "reviewed"}], profile=[PROFILE]),
        )
    )
    assert [t["code"] for t in meta["tag"]] == ["old"] and "profile" not in meta
    assert fhir.get("Patient?_tag=urn:tags|reviewed").json()["total"] == 0
    assert returned(fhir.get(f"Patient/{pid}/$meta"))["tag"] == [{"system": "urn:tags", "code": "old"}]
    assert len(fhir.get(f"Patient/{pid}/_history").json()["entry"]) == 1


def test_meta_operations_refuse_bad_input_and_unknown_resources(fhir):
    pid = fhir.post("Patient", {"resourceType": "Patient"}).json()["id"]
    assert fhir.post(f"Patient/{pid}/$meta-add", {"resourceType": "Parameters", "parameter": []}).status_code == 400
    assert fhir.post(f"Patient/{pid}/$meta-add", meta_parameters(tag="reviewed")).status_code == 400
    assert fhir.post("Patient/nobody/$meta-add", meta_parameters(tag=[TAG])).status_code == 404
    assert fhir.get("Patient/nobody/$meta").status_code == 404


def test_capability_statement_lists_the_meta_operations(fhir):
    capability = fhir.get("metadata").json()
    patient = next(r for r in capability["rest"][0]["resource"] if r["type"] == "Patient")
    names = {op["name"] for op in patient.get("operation", [])}
    assert {"meta", "meta-add", "meta-delete"} <= names
