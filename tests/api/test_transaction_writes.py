"""How a transaction Bundle writes: its request is left as sent, new resources are stored with one
version each and indexed, and large Bundles are split over several statements without losing rows."""
import copy

import pytest

from fhirserver.core import bundles
from fhirserver.core.request import FhirRequest
from fhirserver.search.models import ReferenceIndex, TokenIndex
from fhirserver.storage import repository
from fhirserver.storage.models import ResourceRecord, ResourceVersion

pytestmark = pytest.mark.django_db

PATIENT_URL = "urn:uuid:51a3b5c0-0000-4000-8000-000000000001"


def observation(i: int) -> dict:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": f"{1000 + i}-1"}]},
        "subject": {"reference": PATIENT_URL},
        "focus": [{"reference": PATIENT_URL}, {"reference": "Patient/elsewhere"}],
        "valueQuantity": {"value": i, "unit": "g/dL", "system": "http://unitsofmeasure.org", "code": "g/dL"},
    }


def bundle(n: int) -> dict:
    entries = [{"fullUrl": PATIENT_URL, "resource": {"resourceType": "Patient", "name": [{"family": "Writes"}]},
                "request": {"method": "POST", "url": "Patient"}}]
    entries += [{"fullUrl": f"urn:uuid:51a3b5c0-0000-4000-8000-{i:012d}", "resource": observation(i),
                 "request": {"method": "POST", "url": "Observation"}} for i in range(2, n + 2)]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def test_transaction_leaves_the_request_bundle_as_sent():
    sent = bundle(3)
    before = copy.deepcopy(sent)
    response = bundles.process(FhirRequest(method="POST", base_url="http://testserver/fhir", body=sent))
    assert response.status == 200
    assert sent == before  # references were rewritten in copies, not in the caller's Bundle


def test_large_transaction_is_written_in_several_statements(monkeypatch, fhir):
    monkeypatch.setattr(repository, "_MAX_PARAMS", 24)  # 3 resources per INSERT
    response = fhir.post("", bundle(10))
    assert response.status_code == 200, response.content
    locations = [e["response"]["location"].split("/_history")[0] for e in response.json()["entry"]]
    patient = locations[0]
    observations = ResourceRecord.objects.filter(resource_type="Observation")
    assert observations.count() == 10
    for record in observations:
        assert record.version == 1 and not record.deleted
        assert record.content["subject"]["reference"] == patient
        assert record.content["focus"] == [{"reference": patient}, {"reference": "Patient/elsewhere"}]
        version = ResourceVersion.objects.get(record=record)
        assert (version.version, version.method, version.content) == (1, "POST", record.content)
        assert ReferenceIndex.objects.filter(record=record, name="subject", target_id=patient.split("/")[1]).exists()
        code = record.content["code"]["coding"][0]["code"]
        assert TokenIndex.objects.filter(record=record, name="code", code=code).exists()
    assert fhir.get(f"Observation?subject={patient}&_summary=count").json()["total"] == 10
