"""Conditional create, update and delete: the spec's outcomes for 0, 1 and many matches, and races."""
import threading

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db

SYSTEM = "http://hospital.example/mrn"


def patient(mrn, **extra):
    return {"resourceType": "Patient", "identifier": [{"system": SYSTEM, "value": mrn}], **extra}


def test_conditional_create_zero_one_many(fhir):
    first = fhir.post("Patient", patient("A1"), If_None_Exist=f"identifier={SYSTEM}|A1")
    assert first.status_code == 201
    again = fhir.post("Patient", patient("A1", gender="male"), If_None_Exist=f"identifier={SYSTEM}|A1")
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and "gender" not in again.json()
    fhir.post("Patient", patient("DUP"))
    fhir.post("Patient", patient("DUP"))
    assert fhir.post("Patient", patient("DUP"), If_None_Exist=f"identifier={SYSTEM}|DUP").status_code == 412


def test_conditional_update(fhir):
    created = fhir.put(f"Patient?identifier={SYSTEM}|B1", patient("B1", gender="female"))
    assert created.status_code == 201
    pid = created.json()["id"]
    updated = fhir.put(f"Patient?identifier={SYSTEM}|B1", patient("B1", gender="male"))
    assert updated.status_code == 200 and updated.json()["id"] == pid and updated["ETag"] == 'W/"2"'
    mismatched = fhir.put(f"Patient?identifier={SYSTEM}|B1", patient("B1", id="someone-else"))
    assert mismatched.status_code == 400
    fhir.post("Patient", patient("B2"))
    fhir.post("Patient", patient("B2"))
    assert fhir.put(f"Patient?identifier={SYSTEM}|B2", patient("B2")).status_code == 412
    with_id = fhir.put(f"Patient?identifier={SYSTEM}|B3", patient("B3", id="chosen-b3"))
    assert with_id.status_code == 201 and with_id.json()["id"] == "chosen-b3"


def test_conditional_delete(fhir):
    pid = fhir.post("Patient", patient("C1")).json()["id"]
    assert fhir.delete(f"Patient?identifier={SYSTEM}|C1").status_code == 204
    assert fhir.get(f"Patient/{pid}").status_code == 410
    assert fhir.delete(f"Patient?identifier={SYSTEM}|nobody").status_code == 204
    fhir.post("Patient", patient("C2"))
    fhir.post("Patient", patient("C2"))
    assert fhir.delete(f"Patient?identifier={SYSTEM}|C2").status_code == 412


@pytest.mark.django_db(transaction=True)
def test_racing_conditional_creates_make_one_resource(client):
    """Many clients creating the same identifier at once get exactly one resource."""
    import json

    from django.test import Client

    results = []
    barrier = threading.Barrier(6)

    def racer():
        try:
            barrier.wait()
            response = Client().post(
                "/fhir/Patient", data=json.dumps(patient("RACE")), content_type="application/fhir+json",
                HTTP_IF_NONE_EXIST=f"identifier={SYSTEM}|RACE",
            )
            results.append((response.status_code, response.json()["id"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=racer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s for s, _ in results) == [200] * 5 + [201]
    assert len({i for _, i in results}) == 1
    from fhirserver.storage.models import ResourceRecord

    assert ResourceRecord.objects.filter(resource_type="Patient").count() == 1


@pytest.mark.django_db(transaction=True)
def test_racing_updates_never_lose_a_version():
    import json

    from django.test import Client

    Client().put("/fhir/Patient/racer", data=json.dumps(patient("R", id="racer")), content_type="application/fhir+json")
    barrier = threading.Barrier(5)

    def writer(n):
        try:
            barrier.wait()
            Client().put(
                "/fhir/Patient/racer",
                data=json.dumps(patient("R", id="racer", gender=["male", "female"][n % 2])),
                content_type="application/fhir+json",
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    from fhirserver.storage.models import ResourceVersion

    versions = sorted(ResourceVersion.objects.filter(logical_id="racer").values_list("version", flat=True))
    assert versions == [1, 2, 3, 4, 5, 6]
