"""The two cross-patient holes a black-box probe found, reproduced through HTTP.

1. `$everything` returned what A's own resources point to, B's record included.
2. A conditional update that matched nothing overwrote the resource named by the body's id.
And the oracles next to them: conditional writes must not answer differently for resources the
token cannot see.
"""
import pytest

from fhirserver.storage import repository
from tests.security.test_leakage import LAB

pytestmark = pytest.mark.django_db


def _stored(resource_type, id):
    return repository.read(resource_type, id).content


def _observation_pointing_at_b():
    """A's result that points into B's record (stored directly: how it got there is not the question)."""
    repository.create(
        "Observation",
        {
            "resourceType": "Observation",
            "status": "final",
            "subject": {"reference": "Patient/a"},
            "code": {"text": "Pointer"},
            "performer": [{"reference": "Patient/b"}],
            "hasMember": [{"reference": "Observation/lab-b"}],
            "focus": [{"reference": "Encounter/enc-b"}],
            "derivedFrom": [{"reference": "DocumentReference/doc-b"}],
        },
    )
    repository.update(
        "DocumentReference",
        "doc-b",
        {
            "resourceType": "DocumentReference",
            "id": "doc-b",
            "status": "current",
            "subject": {"reference": "Patient/b"},
            "content": [{"attachment": {"title": "b's"}}],
        },
    )


B_RECORD = {("Patient", "b"), ("Observation", "lab-b"), ("Observation", "vital-b"), ("Encounter", "enc-b"),
            ("Condition", "cond-b"), ("DocumentReference", "doc-b"), ("DiagnosticReport", "rep-b")}


def _returned(response) -> set:
    assert response.status_code == 200, response.content[:300]
    return {(e["resource"]["resourceType"], e["resource"]["id"]) for e in response.json().get("entry", [])}


@pytest.mark.parametrize("path", ["Patient/a/$everything?_count=1000", "Patient/$everything?_count=1000"])
def test_everything_does_not_follow_references_into_b(as_a, path):
    _observation_pointing_at_b()
    returned = _returned(as_a.get(path))
    assert not returned & B_RECORD, returned & B_RECORD
    assert {("Patient", "a"), ("Observation", "lab-a"), ("Condition", "cond-a"), ("Encounter", "enc-a")} <= returned


def test_everything_post_form(as_a):
    _observation_pointing_at_b()
    returned = _returned(as_a.post("Patient/$everything", {"resourceType": "Parameters"}))
    assert not returned & B_RECORD and ("Patient", "a") in returned


def test_everything_for_a_trusted_caller_stays_in_the_patients_record(fhir, two_patients):
    """Not only a matter of tokens: Patient/a/$everything is a's record, not b's, whoever asks."""
    _observation_pointing_at_b()
    ids = _returned(fhir.get("Patient/a/$everything?_count=1000"))
    assert not ids & B_RECORD, ids & B_RECORD
    assert ("Practitioner", "doc") in ids  # what a receiver needs, and nobody's record, is still there


def test_everything_respects_a_category_limited_scope(secure, fhir, two_patients, token_for, bearer):
    headers = bearer(token_for(f"patient/Observation.rs?category={LAB} patient/Patient.rs", patient="a"))
    response = fhir.get("Patient/a/$everything?_count=1000", **headers)
    assert response.status_code == 200
    ids = {e["resource"]["id"] for e in response.json()["entry"]}
    assert "lab-a" in ids and "vital-a" not in ids


@pytest.mark.parametrize("query", ["code=nomatch-xyz", "_id=nomatch"])
def test_conditional_update_without_match_does_not_overwrite_b(as_a, query):
    before = _stored("Observation", "lab-b")
    body = {"resourceType": "Observation", "id": "lab-b", "status": "final", "subject": {"reference": "Patient/a"},
            "code": {"text": "Overwritten"}}
    response = as_a.put(f"Observation?{query}", body)
    assert response.status_code == 409, response.content
    assert response.json()["resourceType"] == "OperationOutcome"
    assert _stored("Observation", "lab-b") == before


def test_conditional_update_of_b_patient_refused(as_a):
    before = _stored("Patient", "b")
    body = {
        "resourceType": "Patient",
        "id": "b",
        "name": [{"family": "Taken"}],
        "link": [{"other": {"reference": "Patient/a"}, "type": "seealso"}],
    }
    response = as_a.put("Patient?identifier=urn:mrn|nomatch", body)
    assert response.status_code in (403, 409)
    assert _stored("Patient", "b") == before


def test_conditional_update_in_a_transaction_does_not_overwrite_b(as_a):
    before = _stored("Observation", "lab-b")
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:5c5e7b3e-0000-4000-8000-000000000001",
                "resource": {
                    "resourceType": "Observation",
                    "id": "lab-b",
                    "status": "final",
                    "subject": {"reference": "Patient/a"},
                    "code": {"text": "Overwritten"},
                },
                "request": {"method": "PUT", "url": "Observation?code=nomatch-xyz"},
            }
        ],
    }
    response = as_a.post("", bundle)
    assert response.status_code in (403, 409), response.content
    assert _stored("Observation", "lab-b") == before


def test_conditional_update_without_match_with_new_id_creates_it(as_a):
    body = {
        "resourceType": "Observation",
        "id": "brand-new-a",
        "status": "final",
        "subject": {"reference": "Patient/a"},
        "code": {"text": "New"},
    }
    response = as_a.put("Observation?code=nomatch-xyz", body)
    assert response.status_code == 201, response.content
    assert _stored("Observation", "brand-new-a")["code"]["text"] == "New"


def test_conditional_delete_is_no_oracle(as_a):
    many = as_a.delete("Observation?subject=Patient/b")
    secret = as_a.delete("Condition?patient=b&code:text=Secret")
    real = as_a.delete("Condition?patient=b&code:text=Diabetes")
    assert many.status_code == secret.status_code == real.status_code == 204
    assert not repository.current("Condition", "cond-b").deleted
    assert not repository.current("Observation", "lab-b").deleted


def test_conditional_patch_does_not_see_b(as_a):
    response = as_a.patch("Observation?_id=lab-b", [{"op": "replace", "path": "/status", "value": "cancelled"}])
    assert response.status_code == 404
    assert _stored("Observation", "lab-b")["status"] == "amended"
