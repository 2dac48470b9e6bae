"""Fixtures for the security suite: security switched on, clients and tokens, two patients' data."""
from __future__ import annotations

import itertools

import pytest

from fhirserver.storage import repository
from tests.security.oauth_helpers import client_token, security_on

_names = itertools.count()


@pytest.fixture
def secure(settings, db):
    yield from security_on(settings)


@pytest.fixture
def token_for(db):
    """token_for("patient/*.rs", patient="a") -> a bearer token from a freshly registered client."""
    def make(scopes: str, *, patient: str | None = None, user: str | None = None, expires_in: int = 3600) -> str:
        return client_token(f"test-client-{next(_names)}", scopes, patient=patient, user=user, expires_in=expires_in)[1]

    return make


@pytest.fixture
def bearer():
    return lambda token: {"Authorization": f"Bearer {token}"}


def _put(resource: dict) -> dict:
    return repository.update(resource["resourceType"], resource["id"], resource)[0].content


@pytest.fixture
def two_patients(db):
    """Patients a and b, each with an encounter, lab and vital observations, a condition, a report."""
    made = {}
    for p in ("a", "b"):
        made[p] = [
            _put(
                {
                    "resourceType": "Patient",
                    "id": p,
                    "name": [{"family": f"Family{p.upper()}", "given": [f"Given{p.upper()}"]}],
                    "gender": "female",
                    "birthDate": "1970-01-01",
                    "identifier": [{"system": "urn:mrn", "value": f"mrn-{p}"}],
                    "generalPractitioner": [{"reference": "Practitioner/doc"}],
                }
            ),
            _put(
                {
                    "resourceType": "Encounter",
                    "id": f"enc-{p}",
                    "status": "finished",
                    "class": {"code": "AMB"},
                    "subject": {"reference": f"Patient/{p}"},
                }
            ),
            _put(
                {
                    "resourceType": "Observation",
                    "id": f"lab-{p}",
                    "status": "final",
                    "subject": {"reference": f"Patient/{p}"},
                    "encounter": {"reference": f"Encounter/enc-{p}"},
                    "category": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                    "code": "laboratory",
                                }
                            ]
                        }
                    ],
                    "code": {
                        "coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}],
                        "text": "Glucose",
                    },
                    "valueQuantity": {
                        "value": 5.5,
                        "unit": "mmol/L",
                        "system": "http://unitsofmeasure.org",
                        "code": "mmol/L",
                    },
                    "effectiveDateTime": "2024-01-02",
                    "performer": [{"reference": "Practitioner/doc"}],
                }
            ),
            _put(
                {
                    "resourceType": "Observation",
                    "id": f"vital-{p}",
                    "status": "final",
                    "subject": {"reference": f"Patient/{p}"},
                    "category": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                    "code": "vital-signs",
                                }
                            ]
                        }
                    ],
                    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
                    "valueQuantity": {
                        "value": 70,
                        "unit": "/min",
                        "system": "http://unitsofmeasure.org",
                        "code": "/min",
                    },
                    "effectiveDateTime": "2024-01-02",
                }
            ),
            _put(
                {
                    "resourceType": "Condition",
                    "id": f"cond-{p}",
                    "subject": {"reference": f"Patient/{p}"},
                    "code": {"text": "Diabetes"},
                }
            ),
            _put(
                {
                    "resourceType": "DiagnosticReport",
                    "id": f"rep-{p}",
                    "status": "final",
                    "code": {"text": "Panel"},
                    "subject": {"reference": f"Patient/{p}"},
                    "result": [{"reference": f"Observation/lab-{p}"}],
                }
            ),
        ]
    made["shared"] = [_put({"resourceType": "Practitioner", "id": "doc", "name": [{"family": "Doctor"}]})]
    # a second version of each lab, so history has something to page through
    for p in ("a", "b"):
        lab = repository.read("Observation", f"lab-{p}").content
        _put({**lab, "status": "amended"})
    return made


@pytest.fixture
def as_a(secure, fhir, two_patients, token_for, bearer):
    """Send requests as an app holding patient/*.cruds for Patient/a."""
    headers = bearer(token_for("patient/*.cruds", patient="a"))

    class Caller:
        def get(self, path):
            return fhir.get(path, **headers)

        def post(self, path, body, **extra):
            return fhir.post(path, body, **headers, **extra)

        def put(self, path, body):
            return fhir.put(path, body, **headers)

        def patch(self, path, body):
            return fhir.patch(path, body, content_type="application/json-patch+json", **headers)

        def delete(self, path):
            return fhir.delete(path, **headers)

    return Caller()
