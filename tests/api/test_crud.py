"""Create, read, vread, update, delete and PATCH over HTTP, with the version headers."""
import json

import pytest

pytestmark = pytest.mark.django_db

PATIENT = {
    "resourceType": "Patient",
    "name": [{"family": "Okafor", "given": ["Ada"]}],
    "gender": "female",
    "birthDate": "1980-02-03",
}


def created_id(response):
    assert response.status_code == 201, response.content
    return response["Location"].split("/fhir/")[1].split("/")[1]


def test_create_assigns_id_and_version_headers(fhir):
    response = fhir.post("Patient", dict(PATIENT, id="client-chosen"))
    pid = created_id(response)
    body = response.json()
    assert pid != "client-chosen" and body["id"] == pid
    assert body["meta"]["versionId"] == "1" and body["meta"]["lastUpdated"].endswith("Z")
    assert response["ETag"] == 'W/"1"'
    assert response["Location"] == f"http://testserver/fhir/Patient/{pid}/_history/1"
    assert "GMT" in response["Last-Modified"]
    assert response["Content-Type"].startswith("application/fhir+json")


def test_read_vread_update_and_history_of_versions(fhir):
    pid = created_id(fhir.post("Patient", PATIENT))
    updated = fhir.put(f"Patient/{pid}", dict(PATIENT, id=pid, gender="other"))
    assert updated.status_code == 200 and updated["ETag"] == 'W/"2"'
    assert updated["Location"].endswith(f"/Patient/{pid}/_history/2")
    assert fhir.get(f"Patient/{pid}").json()["gender"] == "other"
    assert fhir.get(f"Patient/{pid}/_history/1").json()["gender"] == "female"
    assert fhir.get(f"Patient/{pid}/_history/2").json()["meta"]["versionId"] == "2"
    assert fhir.get(f"Patient/{pid}/_history/3").status_code == 404


def test_update_as_create_with_client_id(fhir):
    response = fhir.put("Patient/mrn-42", dict(PATIENT, id="mrn-42"))
    assert response.status_code == 201 and response["ETag"] == 'W/"1"'
    assert fhir.get("Patient/mrn-42").json()["id"] == "mrn-42"


@pytest.mark.parametrize("body, status", [
    (dict(PATIENT), 400),  # no id in the body
    (dict(PATIENT, id="other"), 400),  # id disagrees with the URL
    (dict(PATIENT, id="p1", resourceType="Observation"), 400),  # wrong type for the URL
])
def test_update_rejects_bad_identity(fhir, body, status):
    response = fhir.put("Patient/p1", body)
    assert response.status_code == status
    assert response.json()["resourceType"] == "OperationOutcome"


def test_if_match_conflict_is_412_and_current_version_succeeds(fhir):
    pid = created_id(fhir.post("Patient", PATIENT))
    fhir.put(f"Patient/{pid}", dict(PATIENT, id=pid, gender="male"))
    stale = fhir.put(f"Patient/{pid}", dict(PATIENT, id=pid), If_Match='W/"1"')
    assert stale.status_code == 412
    assert fhir.put(f"Patient/{pid}", dict(PATIENT, id=pid), If_Match='W/"2"').status_code == 200


def test_conditional_read_304(fhir):
    pid = created_id(fhir.post("Patient", PATIENT))
    response = fhir.get(f"Patient/{pid}")
    assert fhir.get(f"Patient/{pid}", If_None_Match='W/"1"').status_code == 304
    assert fhir.get(f"Patient/{pid}", If_None_Match='W/"0"').status_code == 200
    assert fhir.get(f"Patient/{pid}", If_Modified_Since=response["Last-Modified"]).status_code == 304
    assert fhir.get(f"Patient/{pid}", If_Modified_Since="Mon, 01 Jan 2001 00:00:00 GMT").status_code == 200


def test_delete_then_gone_and_history_keeps_versions(fhir):
    pid = created_id(fhir.post("Patient", PATIENT))
    assert fhir.delete(f"Patient/{pid}").status_code == 204
    gone = fhir.get(f"Patient/{pid}")
    assert gone.status_code == 410 and gone.json()["issue"][0]["code"] == "deleted"
    assert fhir.get(f"Patient/{pid}/_history/1").status_code == 200
    history = fhir.get(f"Patient/{pid}/_history").json()
    assert [e["request"]["method"] for e in history["entry"]] == ["DELETE", "POST"]
    # Deleting again, or something never stored, is not an error.
    assert fhir.delete(f"Patient/{pid}").status_code == 204
    assert fhir.delete("Patient/never-was").status_code == 204
    # An update after a delete brings it back as a new version.
    revived = fhir.put(f"Patient/{pid}", dict(PATIENT, id=pid))
    assert revived.status_code in (200, 201) and revived["ETag"] == 'W/"3"'


def test_read_unknown_is_404_with_outcome(fhir):
    response = fhir.get("Patient/nope")
    assert response.status_code == 404
    assert response.json()["issue"][0]["code"] == "not-found"


@pytest.mark.parametrize("path", ["Patient/bad_id!", "Patient/" + "x" * 65])
def test_invalid_ids(fhir, path):
    assert fhir.get(path).status_code == 400


def test_unknown_type_and_path(fhir):
    assert fhir.get("Spaceship/1").status_code == 404
    assert fhir.get("Spaceship/1").json()["resourceType"] == "OperationOutcome"


def test_json_patch(fhir):
    pid = created_id(fhir.post("Patient", PATIENT))
    ops = [{"op": "replace", "path": "/gender", "value": "male"}, {"op": "add", "path": "/active", "value": True}]
    response = fhir.patch(f"Patient/{pid}", ops, content_type="application/json-patch+json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["gender"] == "male" and body["active"] is True and body["meta"]["versionId"] == "2"
    history = fhir.get(f"Patient/{pid}/_history").json()
    assert history["entry"][0]["request"]["method"] == "PATCH"


def test_json_patch_failures(fhir):
    pid = created_id(fhir.post("Patient", PATIENT))
    failing_test = [{"op": "test", "path": "/gender", "value": "male"}]
    assert fhir.patch(f"Patient/{pid}", failing_test, content_type="application/json-patch+json").status_code == 422
    makes_invalid = [{"op": "replace", "path": "/birthDate", "value": "not a date"}]
    invalid = fhir.patch(f"Patient/{pid}", makes_invalid, content_type="application/json-patch+json")
    assert invalid.status_code == 400 and invalid.json()["issue"][0]["expression"] == ["Patient.birthDate"]
    stale = fhir.patch(
        f"Patient/{pid}",
        [{"op": "add", "path": "/active", "value": True}],
        content_type="application/json-patch+json",
        If_Match='W/"9"',
    )
    assert stale.status_code == 412
    assert fhir.patch(f"Patient/{pid}", "gender=male", content_type="text/plain").status_code == 415
    assert fhir.patch(f"Patient/{pid}", {"op": "x"}, content_type="application/json-patch+json").status_code == 400
    assert fhir.get(f"Patient/{pid}").json()["meta"]["versionId"] == "1"  # nothing was written


@pytest.mark.parametrize("prefer, status, expect", [
    ("return=minimal", 201, None),
    ("return=representation", 201, "Patient"),
    ("return=OperationOutcome", 201, "OperationOutcome"),
])
def test_prefer_return(fhir, prefer, status, expect):
    response = fhir.post("Patient", PATIENT, Prefer=prefer)
    assert response.status_code == status and response.has_header("Location")
    if expect is None:
        assert response.content == b""
    else:
        assert response.json()["resourceType"] == expect


def test_invalid_content_names_the_element(fhir):
    bad = {"resourceType": "Observation", "status": "final", "code": {"text": "Hb"}, "valueQuantity": {"value": "high"}}
    response = fhir.post("Observation", bad)
    assert response.status_code == 400
    expressions = [e for issue in response.json()["issue"] for e in issue.get("expression", [])]
    assert "Observation.valueQuantity.value" in expressions
    missing = fhir.post("Observation", {"resourceType": "Observation", "code": {"text": "Hb"}})
    assert missing.status_code == 400 and missing.json()["issue"][0]["expression"] == ["Observation.status"]
    unknown_element = fhir.post("Patient", dict(PATIENT, favouriteColour="blue"))
    assert unknown_element.status_code == 400 and unknown_element.json()["issue"][0]["expression"] == [
        "Patient.favouriteColour"
    ]


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '"text"', json.dumps({"name": []})])
def test_malformed_bodies(fhir, body):
    response = fhir.post("Patient", body)
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_wrong_resource_type_for_url(fhir):
    response = fhir.post("Patient", {"resourceType": "Observation", "status": "final", "code": {"text": "x"}})
    assert response.status_code == 400
    assert "does not match" in response.json()["issue"][0]["diagnostics"]


def test_binary_in_its_own_media_type(fhir, client):
    response = client.post("/fhir/Binary", data=b"%PDF-1.4 fake", content_type="application/pdf")
    assert response.status_code == 201
    bid = response.json()["id"]
    raw = client.get(f"/fhir/Binary/{bid}", HTTP_ACCEPT="application/pdf")
    assert raw.status_code == 200 and raw["Content-Type"] == "application/pdf" and raw.content == b"%PDF-1.4 fake"
    as_fhir = client.get(f"/fhir/Binary/{bid}", HTTP_ACCEPT="application/fhir+json")
    assert as_fhir.json()["contentType"] == "application/pdf"


def test_read_honours_summary_and_elements(fhir):
    pid = created_id(fhir.post("Patient", dict(PATIENT, text={"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Ada</div>"})))
    full = fhir.get(f"Patient/{pid}").json()
    assert "text" in full and not any(t.get("code") == "SUBSETTED" for t in full["meta"].get("tag", []))
    only_gender = fhir.get(f"Patient/{pid}?_elements=gender").json()
    assert set(only_gender) == {"resourceType", "id", "meta", "gender"}
    assert any(t["code"] == "SUBSETTED" for t in only_gender["meta"]["tag"])
    summary = fhir.get(f"Patient/{pid}?_summary=true").json()
    assert "text" not in summary and "gender" in summary
    text = fhir.get(f"Patient/{pid}/_history/1?_summary=text").json()
    assert "text" in text and "gender" not in text
    assert fhir.get(f"Patient/{pid}?_summary=count").status_code == 400
