"""Bulk export over HTTP: a small population, files in a temporary storage folder, jobs on real threads.

The export jobs run in the job system's own threads, on their own database connections, so these
tests use a transactional database (committed rows the threads can read)."""
from __future__ import annotations

import itertools
import json
import time

import pytest

from fhirserver import jobs
from fhirserver.storage import repository
from tests.security.oauth_helpers import client_token, security_on

ACCEPT = {"HTTP_ACCEPT": "application/fhir+json", "HTTP_PREFER": "respond-async"}
WAIT_SECONDS = 60  # an upper bound for a job on a loaded machine, never an assertion on time
_names = itertools.count()


@pytest.fixture
def bulk_files(settings, tmp_path):
    """The export files in a folder of this test's own."""
    settings.STORAGES = {**settings.STORAGES, "bulk": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                       "OPTIONS": {"location": str(tmp_path / "bulk")}}}
    settings.BULK = {**settings.BULK}
    yield tmp_path / "bulk"
    jobs.shutdown(wait=True)


def put(resource: dict) -> dict:
    return repository.update(resource["resourceType"], resource["id"], resource)[0].content


def observation(id: str, patient: str, code: str = "2345-7", **extra) -> dict:
    return {"resourceType": "Observation", "id": id, "status": "final", "subject": {"reference": f"Patient/{patient}"},
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "valueQuantity": {"value": 5.5, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"},
            **extra}


@pytest.fixture
def population(transactional_db, bulk_files):
    """Patients a, b, c; each a glucose and a heart-rate Observation (a's performed by Practitioner/doc
    and Organization/lab) and an Encounter at Organization/clinic; Group/cohort holds a and b (c as an
    inactive member); Practitioner/stranger is nobody's."""
    put({"resourceType": "Practitioner", "id": "doc", "name": [{"family": "Doctor"}]})
    put({"resourceType": "Practitioner", "id": "stranger", "name": [{"family": "Stranger"}]})
    put({"resourceType": "Organization", "id": "lab", "name": "Lab"})
    put({"resourceType": "Organization", "id": "clinic", "name": "Clinic"})
    put({"resourceType": "Location", "id": "ward", "name": "Ward", "managingOrganization": {"reference":
                                                                                         "Organization/clinic"}})
    for p in ("a", "b", "c"):
        put({"resourceType": "Patient", "id": p, "name": [{"family": f"Family{p}"}]})
        performers = [{"reference": "Practitioner/doc"}, {"reference": "Organization/lab"}]
        extra = {"performer": performers} if p == "a" else {}
        put(observation(f"glucose-{p}", p, **extra))
        put(observation(f"pulse-{p}", p, code="8867-4"))
        put({"resourceType": "Encounter", "id": f"enc-{p}", "status": "finished", "class": {"code": "AMB"},
             "subject": {"reference": f"Patient/{p}"}, "serviceProvider": {"reference": "Organization/clinic"},
             "location": [{"location": {"reference": "Location/ward"}}]})
    put({"resourceType": "Group", "id": "cohort", "type": "person", "actual": True, "member": [
        {"entity": {"reference": "Patient/a"}},
        {"entity": {"reference": "http://testserver/fhir/Patient/b"}},
        {"entity": {"reference": "Patient/c"}, "inactive": True},
    ]})


@pytest.fixture
def secure(settings, transactional_db):
    yield from security_on(settings)


@pytest.fixture
def token_for(transactional_db):
    """token_for("system/*.read") -> (client id, Authorization headers) of a freshly registered client."""
    def make(scopes: str, *, patient: str | None = None, user: str | None = None):
        client_id, raw = client_token(f"bulk-client-{next(_names)}", scopes, patient=patient, user=user)
        return client_id, {"HTTP_AUTHORIZATION": f"Bearer {raw}"}

    return make


def local(url: str) -> str:
    return url.replace("http://testserver", "")


def kick_off(client, path: str, *, body: dict | None = None, **headers):
    if body is not None:
        return client.post(path, data=json.dumps(body), content_type="application/fhir+json", **ACCEPT, **headers)
    return client.get(path, **ACCEPT, **headers)


def wait(client, status_url: str, **headers):
    """Poll the status URL as a client does until it stops answering 202."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        response = client.get(local(status_url), **headers)
        if response.status_code != 202 or time.monotonic() > deadline:
            return response
        assert response["X-Progress"] and int(response["Retry-After"]) > 0
        time.sleep(0.1)


def export(client, path: str, *, body: dict | None = None, **headers) -> dict:
    """Kick off, wait, and return the manifest."""
    started = kick_off(client, path, body=body, **headers)
    assert started.status_code == 202, started.content
    done = wait(client, started["Content-Location"], **headers)
    assert done.status_code == 200, done.content
    assert done["Content-Type"] == "application/json"
    return json.loads(done.content)


def download(client, url: str, **headers) -> list[dict]:
    response = client.get(local(url), **headers)
    assert response.status_code == 200, getattr(response, "content", b"")
    assert response["Content-Type"] == "application/fhir+ndjson"
    text = b"".join(response.streaming_content).decode()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def contents(client, manifest: dict, **headers) -> dict[str, list[dict]]:
    """Type -> resources, from every output file of a manifest (counts checked against the files)."""
    found: dict[str, list[dict]] = {}
    for item in manifest["output"]:
        resources = download(client, item["url"], **headers)
        assert len(resources) == item["count"]
        assert all(r["resourceType"] == item["type"] for r in resources)
        found.setdefault(item["type"], []).extend(resources)
    return found


def ids(found: dict[str, list[dict]], resource_type: str) -> set[str]:
    return {r["id"] for r in found.get(resource_type, [])}
