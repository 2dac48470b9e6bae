"""Patient/$everything, Observation/$lastn, reindexing, conditional matching, and the security hooks."""


from django.core.management import call_command

from fhirserver.core.request import FhirRequest
from fhirserver.search import api
from fhirserver.search.models import TokenIndex
from fhirserver.security.access import Access
from fhirserver.security.scopes import parse_scopes

from .helpers import ids, observation, search


def _clinic(store):
    store({"resourceType": "Organization", "name": "Acme"}, id="org")
    store({"resourceType": "Patient", "managingOrganization": {"reference": "Organization/org"}}, id="p1")
    store({"resourceType": "Patient"}, id="p2")
    store(observation(patient="p1", date="2026-01-01", value=13), id="hb-old")
    store(observation(patient="p1", date="2026-03-01", value=14), id="hb-new")
    store(observation("2345-7", patient="p1", date="2026-02-01", value=5, unit="mmol/L"), id="glu")
    store(observation(patient="p2", date="2026-02-15", value=11), id="hb-p2")


def test_everything_returns_the_compartment_and_what_it_references(store, fhir):
    _clinic(store)
    bundle = search(fhir, "Patient/p1/$everything")
    assert set(ids(bundle)) == {"p1", "hb-old", "hb-new", "glu"}
    assert ids(bundle, "include") == ["org"]
    paged = search(fhir, "Patient/p1/$everything?_count=2")
    second = search(
        fhir, next(link["url"] for link in paged["link"] if link["relation"] == "next").replace("http://testserver", "")
    )
    assert len(set(ids(paged)) | set(ids(second))) == 4
    assert set(ids(search(fhir, "Patient/p1/$everything?_type=Observation"))) == {"hb-old", "hb-new", "glu"}
    assert fhir.get("Patient/nobody/$everything").status_code == 404
    assert "hb-p2" in ids(search(fhir, "Patient/$everything?_count=50"))


def test_lastn_keeps_the_most_recent_per_patient_and_code(store, fhir):
    _clinic(store)
    assert set(ids(search(fhir, "Observation/$lastn?patient=p1"))) == {"hb-new", "glu"}
    assert set(ids(search(fhir, "Observation/$lastn?patient=p1&max=2"))) == {"hb-new", "hb-old", "glu"}
    assert set(ids(search(fhir, "Observation/$lastn?code=718-7"))) == {"hb-new", "hb-p2"}
    assert set(ids(search(fhir, "Observation/$lastn?category=laboratory&date=lt2026-02-10"))) == {"hb-old", "glu", }
    assert fhir.get("Observation/$lastn?max=0").status_code == 400


def test_match_records_for_conditional_interactions(store):
    store({"resourceType": "Patient", "identifier": [{"system": "urn:mrn", "value": "7"}]}, id="a")
    store({"resourceType": "Patient", "identifier": [{"system": "urn:mrn", "value": "8"}]}, id="b")
    assert [r.logical_id for r in api.match_records("Patient", [("identifier", "urn:mrn|7")])] == ["a"]
    assert len(api.match_records("Patient", [("identifier", "7,8")])) == 2
    assert api.match_records("Patient", [("identifier", "urn:other|7")]) == []


def test_reindex_rebuilds_rows(store):
    store(observation(), id="o1")
    TokenIndex.objects.all().delete()
    assert api.match_records("Observation", [("code", "718-7")]) == []
    call_command("reindex", "--type", "Observation")
    assert [r.logical_id for r in api.match_records("Observation", [("code", "718-7")])] == ["o1"]


def _access(scopes: str, patient: str | None = None) -> Access:
    """The access decision of a token with these scopes (security/access.py, what the door builds)."""
    return Access(client_id="test", scopes=parse_scopes(scopes), launch_patient=patient)


def _search(access, resource_type, query, compartment=None):
    request = FhirRequest(method="GET", base_url="http://x/fhir", resource_type=resource_type, query=query,
                          access=access, compartment=compartment)
    return api.search_bundle(request)


def test_patient_scoped_access_never_leaks_other_patients(store):
    _clinic(store)
    access = _access("patient/*.rs", "p1")
    assert set(ids(_search(access, "Observation", []))) == {"hb-old", "hb-new", "glu"}
    assert set(ids(_search(access, "Observation", [("code", "718-7")]))) == {"hb-old", "hb-new"}
    assert ids(_search(access, "Patient", [])) == ["p1"]
    assert ids(_search(access, "Patient", [("_has:Observation:patient:code", "718-7")])) == ["p1"]
    revinclude = _search(access, "Patient", [("_id", "p1,p2"), ("_revinclude", "Observation:patient")])
    assert "hb-p2" not in ids(revinclude, "include") and ids(revinclude) == ["p1"]
    included = _search(
        _access("patient/Observation.rs", "p1"), "Observation", [("_include", "Observation:patient")]
    )
    assert ids(included, "include") == []
    assert api.in_patient_compartment("Observation", {"subject": {"reference": "Patient/p1"}}, "p1")
    assert not api.in_patient_compartment("Observation", {"subject": {"reference": "Patient/p2"}}, "p1")
    assert api.in_patient_compartment("Patient", {"id": "p1"}, "p1")


def test_scope_query_constraints_are_an_or_of_ands(store):
    _clinic(store)
    store(observation(patient="p1", kind="vital-signs"), id="vital")
    labs = _access("user/Observation.rs?category=laboratory&code=2345-7 user/Observation.rs?code=718-7&patient=p2")
    assert set(ids(_search(labs, "Observation", []))) == {"glu", "hb-p2"}
    assert set(ids(_search(_access("user/Patient.rs"), "Observation", []))) == set()


def test_capability_registry():
    params = {p.name: p for p in api.search_parameters_for("DiagnosticReport")}
    assert params["result"].type == "reference" and params["code"].type == "token"
    assert all(p.documentation is not None and p.url for p in params.values())
    assert "missing" in api.MODIFIERS["token"] and "ap" in api.PREFIXES
