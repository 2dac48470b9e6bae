"""reference parameters, chains and reverse chains."""
from .helpers import idset, observation, q, search


def _people(store):
    store({"resourceType": "Organization", "name": "Acme Lab"}, id="acme")
    store({"resourceType": "Organization", "name": "Other Clinic"}, id="other")
    store(
        {
            "resourceType": "Patient",
            "name": [{"family": "Doe"}],
            "managingOrganization": {"reference": "Organization/acme"},
        },
        id="p1",
    )
    store(
        {
            "resourceType": "Patient",
            "name": [{"family": "Roe"}],
            "managingOrganization": {"reference": "Organization/other"},
        },
        id="p2",
    )
    store({"resourceType": "Group", "type": "person", "actual": True}, id="p3")
    store(observation(patient="p1"), id="o1")
    store(observation("2345-7", patient="p2"), id="o2")
    store(observation(subject={"reference": "Group/p3"}), id="o3")


def test_reference_forms(store, fhir):
    _people(store)
    store(observation(subject={"reference": "http://elsewhere.org/fhir/Patient/p1"}), id="remote")
    store(observation(subject={"reference": "http://testserver/fhir/Patient/p2"}), id="absolute-local")
    assert idset(fhir, "Observation?subject=Patient/p1") == {"o1"}
    assert idset(fhir, "Observation?subject=p1") == {"o1"}
    assert idset(fhir, "Observation?subject=p3") == {"o3"}
    assert idset(fhir, "Observation?subject:Group=p3") == {"o3"}
    assert idset(fhir, "Observation?subject:Patient=p3") == set()
    assert idset(fhir, "Observation?patient=p3") == set()  # patient = subject.where(resolve() is Patient)
    assert idset(fhir, "Observation?patient=p2") == {"o2"}
    assert idset(fhir, f"Observation?subject={q('http://elsewhere.org/fhir/Patient/p1')}") == {"remote"}
    assert idset(fhir, f"Observation?subject={q('http://testserver/fhir/Patient/p2')}") == {"o2", "absolute-local"}
    assert idset(fhir, "Observation?subject=Patient/p1,Patient/p2") == {"o1", "o2"}
    search(fhir, "Observation?subject:Nonsense=p1", status=400)


def test_reference_identifier_modifier(store, fhir):
    store(observation(subject={"identifier": {"system": "urn:mrn", "value": "42"}}), id="logical")
    store(observation(patient="p1"), id="plain")
    assert idset(fhir, f"Observation?subject:identifier={q('urn:mrn|42')}") == {"logical"}
    assert idset(fhir, "Observation?subject:identifier=42") == {"logical"}


def test_chains_single_and_multi_level(store, fhir):
    _people(store)
    assert idset(fhir, "Observation?subject:Patient.name=doe") == {"o1"}
    assert idset(fhir, "Observation?patient.family=roe") == {"o2"}
    assert idset(fhir, "Observation?subject.name=doe") == {"o1"}
    assert idset(fhir, "Observation?patient.organization.name=acme") == {"o1"}
    assert idset(fhir, "Observation?patient.organization.name=other&code=2345-7") == {"o2"}
    assert idset(fhir, "Observation?patient.organization.name=zzz") == set()
    assert idset(fhir, "Observation?patient.organization=Organization/other") == {"o2"}
    search(fhir, "Observation?code.name=x", status=400)  # only references chain


def test_reverse_chains(store, fhir):
    _people(store)
    assert idset(fhir, "Patient?_has:Observation:patient:code=718-7") == {"p1"}
    assert idset(fhir, "Patient?_has:Observation:subject:code=2345-7") == {"p2"}
    assert idset(fhir, "Patient?_has:Observation:patient:code=718-7,2345-7") == {"p1", "p2"}
    assert idset(fhir, "Patient?_has:Observation:patient:code=9999-9") == set()
    assert idset(fhir, "Organization?_has:Patient:organization:_has:Observation:patient:code=2345-7") == {"other"}
    assert idset(fhir, "Patient?_has:Observation:patient:code=718-7&name=roe") == set()
    search(fhir, "Patient?_has:Observation:code:code=1", status=400)  # code is not a reference
    search(fhir, "Patient?_has:Nope:patient:code=1", status=400)


def test_deleted_and_superseded_versions_never_match(store, fhir):
    store(observation("718-7"), id="o1")
    store(observation("2345-7"), id="o1")  # supersedes 718-7
    store(observation("718-7"), id="gone")
    assert fhir.delete("Observation/gone").status_code in (200, 204)
    assert idset(fhir, "Observation?code=718-7") == set()
    assert idset(fhir, "Observation?code=2345-7") == {"o1"}
    assert idset(fhir, "Patient?_has:Observation:subject:code=718-7") == set()
