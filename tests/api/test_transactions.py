"""Transaction and batch Bundles: order, reference rewriting, atomicity, per-entry outcomes."""
import pytest

pytestmark = pytest.mark.django_db

SYSTEM = "http://hospital.example/mrn"


def tx(entries, kind="transaction"):
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def post(full_url, resource, **request):
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {"method": "POST", "url": resource["resourceType"], **request},
    }


def obs(subject, value=13.5):
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
        "subject": {"reference": subject},
        "valueQuantity": {"value": value, "unit": "g/dL", "system": "http://unitsofmeasure.org", "code": "g/dL"},
    }


def test_transaction_resolves_urn_uuid_references(fhir):
    bundle = tx([
        post("urn:uuid:11111111-1111-1111-1111-111111111111", obs("urn:uuid:22222222-2222-2222-2222-222222222222")),
        post("urn:uuid:22222222-2222-2222-2222-222222222222", {"resourceType": "Patient", "name": [{"family": "Tx"}]}),
        {"fullUrl": "urn:uuid:33333333-3333-3333-3333-333333333333",
         "resource": {"resourceType": "DiagnosticReport", "status": "final", "code": {"text": "CBC"},
                      "subject": {"reference": "urn:uuid:22222222-2222-2222-2222-222222222222"},
                      "result": [{"reference": "urn:uuid:11111111-1111-1111-1111-111111111111"}]},
         "request": {"method": "PUT", "url": "DiagnosticReport/dr-1"}},
    ])
    response = fhir.post("", bundle)
    assert response.status_code == 200, response.content
    out = response.json()
    assert out["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in out["entry"]]
    assert statuses == ["201 Created", "201 Created", "201 Created"]
    obs_location = out["entry"][0]["response"]["location"]
    patient_location = out["entry"][1]["response"]["location"]
    assert obs_location.startswith("Observation/") and "/_history/1" in obs_location
    assert all("etag" in e["response"] and "lastModified" in e["response"] for e in out["entry"])
    patient_ref = patient_location.split("/_history")[0]
    stored_obs = fhir.get(obs_location.split("/_history")[0]).json()
    assert stored_obs["subject"]["reference"] == patient_ref
    report = fhir.get("DiagnosticReport/dr-1").json()
    assert report["result"][0]["reference"] == obs_location.split("/_history")[0]


def test_transaction_is_atomic(fhir):
    bundle = tx(
        [
            post(
                "urn:uuid:aaaaaaaa-0000-0000-0000-000000000001",
                {"resourceType": "Patient", "identifier": [{"system": SYSTEM, "value": "ATOM"}]},
            ),
            post(
                "urn:uuid:aaaaaaaa-0000-0000-0000-000000000002",
                {"resourceType": "Observation", "code": {"text": "no status"}},
            ),
        ]
    )
    response = fhir.post("", bundle)
    assert response.status_code == 400
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "Bundle.entry[1]" in outcome["issue"][0]["diagnostics"]
    from fhirserver.storage.models import ResourceRecord

    assert not ResourceRecord.objects.filter(resource_type="Patient").exists()


def test_transaction_processing_order(fhir):
    fhir.put("Patient/old", {"resourceType": "Patient", "id": "old"})
    fhir.put("Patient/keep", {"resourceType": "Patient", "id": "keep"})
    bundle = tx(
        [
            {"request": {"method": "GET", "url": "Patient/keep"}},
            {
                "resource": {"resourceType": "Patient", "id": "keep", "gender": "female"},
                "request": {"method": "PUT", "url": "Patient/keep"},
            },
            post(
                "urn:uuid:bbbbbbbb-0000-0000-0000-000000000001",
                {"resourceType": "Patient", "name": [{"family": "New"}]},
            ),
            {"request": {"method": "DELETE", "url": "Patient/old"}},
        ]
    )
    out = fhir.post("", bundle).json()
    # GET runs after PUT, so it reads version 2; results come back in the Bundle's own order.
    assert out["entry"][0]["response"]["status"] == "200 OK"
    assert out["entry"][0]["resource"]["meta"]["versionId"] == "2"
    assert [e["response"]["status"] for e in out["entry"][1:]] == ["200 OK", "201 Created", "204 No Content"]
    assert fhir.get("Patient/old").status_code == 410


def test_transaction_conditional_create_and_conditional_reference(fhir):
    existing = fhir.post(
        "Patient", {"resourceType": "Patient", "identifier": [{"system": SYSTEM, "value": "K1"}]}
    ).json()
    bundle = tx(
        [
            post(
                "urn:uuid:cccccccc-0000-0000-0000-000000000001",
                {"resourceType": "Patient", "identifier": [{"system": SYSTEM, "value": "K1"}]},
                ifNoneExist=f"identifier={SYSTEM}|K1",
            ),
            post("urn:uuid:cccccccc-0000-0000-0000-000000000002", obs("urn:uuid:cccccccc-0000-0000-0000-000000000001")),
            post("urn:uuid:cccccccc-0000-0000-0000-000000000003", obs(f"Patient?identifier={SYSTEM}|K1", 14.0)),
        ]
    )
    out = fhir.post("", bundle).json()
    assert out["entry"][0]["response"]["status"] == "200 OK"
    for index in (1, 2):
        location = out["entry"][index]["response"]["location"].split("/_history")[0]
        assert fhir.get(location).json()["subject"]["reference"] == f"Patient/{existing['id']}"


def test_transaction_conditional_reference_without_match_fails(fhir):
    bundle = tx([post("urn:uuid:dddddddd-0000-0000-0000-000000000001", obs(f"Patient?identifier={SYSTEM}|ghost"))])
    response = fhir.post("", bundle)
    assert response.status_code in (404, 412)
    assert response.json()["resourceType"] == "OperationOutcome"


def test_batch_entries_are_independent(fhir):
    bundle = tx([
        post("urn:uuid:eeeeeeee-0000-0000-0000-000000000001", {"resourceType": "Patient", "name": [{"family": "Ok"}]}),
        post("urn:uuid:eeeeeeee-0000-0000-0000-000000000002", {"resourceType": "Observation"}),
        {"request": {"method": "GET", "url": "Patient/missing"}},
    ], kind="batch")
    response = fhir.post("", bundle)
    assert response.status_code == 200
    out = response.json()
    assert out["type"] == "batch-response"
    assert out["entry"][0]["response"]["status"] == "201 Created"
    assert out["entry"][1]["response"]["status"] == "400"
    assert out["entry"][1]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert out["entry"][2]["response"]["status"] == "404"
    location = out["entry"][0]["response"]["location"].split("/_history")[0]
    assert fhir.get(location).status_code == 200


def test_bundle_must_be_transaction_or_batch(fhir):
    assert fhir.post("", {"resourceType": "Bundle", "type": "collection"}).status_code == 400
    assert fhir.post("", {"resourceType": "Patient"}).status_code == 400
    no_request = tx([{"resource": {"resourceType": "Patient"}}])
    response = fhir.post("", no_request)
    assert response.status_code == 400 and "entry[0]" in response.json()["issue"][0]["diagnostics"]


def test_transaction_update_with_if_match_conflict_rolls_back(fhir):
    fhir.put("Patient/v", {"resourceType": "Patient", "id": "v"})
    bundle = tx(
        [
            post(
                "urn:uuid:ffffffff-0000-0000-0000-000000000001",
                {"resourceType": "Patient", "name": [{"family": "Rolled back"}]},
            ),
            {
                "resource": {"resourceType": "Patient", "id": "v", "gender": "male"},
                "request": {"method": "PUT", "url": "Patient/v", "ifMatch": 'W/"7"'},
            },
        ]
    )
    assert fhir.post("", bundle).status_code == 412
    assert fhir.get("Patient/v").json()["meta"]["versionId"] == "1"
    from fhirserver.storage.models import ResourceRecord

    assert ResourceRecord.objects.filter(resource_type="Patient").count() == 1


def test_transaction_writing_one_resource_twice_fails_cleanly(fhir):
    bundle = tx(
        [
            {
                "resource": {"resourceType": "Patient", "id": "twice"},
                "request": {"method": "PUT", "url": "Patient/twice"},
            },
            {
                "resource": {"resourceType": "Patient", "id": "twice", "gender": "male"},
                "request": {"method": "PUT", "url": "Patient/twice"},
            },
        ]
    )
    response = fhir.post("", bundle)
    assert response.status_code == 400
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "DUPLICATE_IN_TRANSACTION"
    assert fhir.get("Patient/twice").status_code == 404


def test_transaction_search_entry_sees_the_bundles_own_writes(fhir):
    bundle = tx(
        [
            post(
                "urn:uuid:99999999-0000-0000-0000-000000000001",
                {"resourceType": "Patient", "identifier": [{"system": SYSTEM, "value": "SEEN"}]},
            ),
            {"request": {"method": "GET", "url": f"Patient?identifier={SYSTEM}|SEEN"}},
        ]
    )
    out = fhir.post("", bundle).json()
    assert out["entry"][1]["resource"]["type"] == "searchset"
    assert len(out["entry"][1]["resource"]["entry"]) == 1
