"""The REST API as two client libraries nobody here wrote use it, over real HTTP to a live server:
fhirpy (create, update, search with modifiers, _include, paging, merge PATCH, delete) and the SMART
`fhirclient` models (CapabilityStatement parsing, CRUD, search)."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def base(live_server):
    return f"{live_server.url}/fhir"


@pytest.fixture
def fhirpy_client(base):
    from fhirpy import SyncFHIRClient

    return SyncFHIRClient(base)


def test_fhirpy_round_trip(fhirpy_client):
    from fhirpy.base.exceptions import OperationOutcome, ResourceNotFound

    client = fhirpy_client
    patient = client.resource("Patient", name=[{"family": "Ndiaye", "given": ["Awa"]}], birthDate="1970-01-02",
                              identifier=[{"system": "urn:mrn", "value": "77"}], gender="female")
    patient.save()
    assert patient.id and patient.meta["versionId"] == "1"
    patient["gender"] = "other"
    patient.save()
    assert patient.meta["versionId"] == "2"
    assert client.reference("Patient", patient.id).to_resource()["gender"] == "other"
    assert [p.id for p in client.resources("Patient").search(family="ndi").fetch()] == [patient.id]  # prefix, any case
    assert client.resources("Patient").search(identifier="urn:mrn|77").get().id == patient.id

    for day in range(1, 8):
        client.resource(
            "Observation",
            status="final",
            category=[
                {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}
                    ]
                }
            ],
            code={"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
            subject={"reference": f"Patient/{patient.id}"},
            effectiveDateTime=f"2026-05-0{day}",
            valueQuantity={"value": 10 + day, "unit": "g/dL", "system": "http://unitsofmeasure.org", "code": "g/dL"},
        ).save()
    search = client.resources("Observation").search(patient=patient.id, category="laboratory")
    assert search.count() == 7
    paged = search.sort("-date").limit(3).fetch_all()  # follows the next links
    assert [o["effectiveDateTime"] for o in paged] == [f"2026-05-0{d}" for d in range(7, 0, -1)]
    assert len(search.search(value_quantity="gt15").fetch()) == 2
    bundle = search.search(date="2026-05-03").include("Observation", "subject").fetch_raw()
    assert sorted(e["search"]["mode"] for e in bundle["entry"]) == ["include", "match"]

    stored = client.reference("Patient", patient.id).to_resource()
    stored.patch(gender="female")  # fhirpy sends a partial resource: JSON Merge Patch
    assert client.reference("Patient", patient.id).to_resource()["gender"] == "female"

    with pytest.raises(OperationOutcome):
        client.resource("Patient", birthDate="the seventies").save()
    stored.delete()
    with pytest.raises((ResourceNotFound, OperationOutcome)):
        client.reference("Patient", patient.id).to_resource()


def test_fhirclient_models_against_the_server(base):
    from fhirclient import client

    smart = client.FHIRClient(settings={"app_id": "checker", "api_base": base})
    try:
        _fhirclient_checks(smart)
    finally:
        # else its keep-alive connection holds a live-server thread and its database connection
        smart.server.session.close()


def _fhirclient_checks(smart):
    from fhirclient.models.humanname import HumanName
    from fhirclient.models.observation import Observation
    from fhirclient.models.patient import Patient

    smart.prepare()  # parses our CapabilityStatement with fhirclient's strict R4 models
    assert smart.server.capabilityStatement.fhirVersion == "4.0.1"
    patient = Patient()
    name = HumanName()
    name.family, name.given = "Osei", ["Kofi"]
    patient.name, patient.gender = [name], "male"
    pid = patient.create(smart.server)["id"]
    read = Patient.read(pid, smart.server)
    assert read.name[0].family == "Osei"
    read.gender = "unknown"
    assert read.update(smart.server)["meta"]["versionId"] == "2"
    assert [p.id for p in Patient.where(struct={"family": "Osei"}).perform_resources(smart.server)] == [pid]
    assert Observation.where(struct={"patient": pid}).perform(smart.server).total == 0
    read.delete()
