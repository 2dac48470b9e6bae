"""$export over HTTP: each kick-off form, the status URL and manifest, files, DELETE, the parameters."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from fhirserver import jobs
from fhirserver.bulk.models import ExportJob
from fhirserver.storage import repository
from resources import decimals
from tests.bulk.conftest import ACCEPT, contents, download, export, ids, kick_off, local, observation, put, wait

INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def test_system_export_has_every_resource_and_an_absolute_manifest(client, population):
    manifest = export(client, "/fhir/$export")
    assert INSTANT.match(manifest["transactionTime"])
    assert manifest["request"] == "http://testserver/fhir/$export"
    assert manifest["requiresAccessToken"] is True
    assert manifest["error"] == []
    assert all(item["url"].startswith("http://testserver/fhir/_bulk/") for item in manifest["output"])
    found = contents(client, manifest)
    assert ids(found, "Patient") == {"a", "b", "c"}
    assert ids(found, "Observation") == {f"{k}-{p}" for k in ("glucose", "pulse") for p in "abc"}
    assert ids(found, "Practitioner") == {"doc", "stranger"}
    assert ids(found, "Group") == {"cohort"}
    # The stored JSON as it is: what a read returns, meta included.
    read = json.loads(client.get("/fhir/Observation/glucose-a").content)
    assert next(r for r in found["Observation"] if r["id"] == "glucose-a") == read


def test_patient_export_holds_compartments_and_what_they_refer_to(client, population):
    found = contents(client, export(client, "/fhir/Patient/$export"))
    assert ids(found, "Patient") == {"a", "b", "c"}
    assert ids(found, "Encounter") == {"enc-a", "enc-b", "enc-c"}
    assert ids(found, "Practitioner") == {"doc"}  # stranger is nobody's and referred to by nobody
    assert ids(found, "Organization") == {"lab", "clinic"}
    assert ids(found, "Location") == {"ward"}
    assert "Group" not in found  # the cohort list is no patient's data unless asked for


def test_group_export_holds_exactly_its_members_and_their_references(client, population):
    manifest = export(client, "/fhir/Group/cohort/$export")
    assert manifest["request"] == "http://testserver/fhir/Group/cohort/$export"
    found = contents(client, manifest)
    assert set(found) == {"Patient", "Observation", "Encounter", "Practitioner", "Organization", "Location"}
    assert ids(found, "Patient") == {"a", "b"}  # c is an inactive member
    assert ids(found, "Observation") == {"glucose-a", "pulse-a", "glucose-b", "pulse-b"}
    assert ids(found, "Encounter") == {"enc-a", "enc-b"}
    assert ids(found, "Practitioner") == {"doc"}
    assert ids(found, "Organization") == {"lab", "clinic"}  # lab from a's Observation, clinic from the Encounters
    assert ids(found, "Location") == {"ward"}


def test_post_kick_off_with_parameters_and_patient(client, population):
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "_type", "valueString": "Patient,Observation"},
        {"name": "_outputFormat", "valueString": "application/ndjson"},
        {"name": "patient", "valueReference": {"reference": "Patient/b"}},
    ]}
    found = contents(client, export(client, "/fhir/Group/cohort/$export", body=body))
    assert set(found) == {"Patient", "Observation"}
    assert ids(found, "Patient") == {"b"}
    assert ids(found, "Observation") == {"glucose-b", "pulse-b"}


def test_patient_parameter_outside_the_group_is_refused_unless_lenient(client, population):
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "patient", "valueReference": {"reference": "Patient/a"}},
        {"name": "patient", "valueReference": {"reference": "Patient/c"}},
    ]}
    refused = kick_off(client, "/fhir/Group/cohort/$export", body=body)
    assert refused.status_code == 400
    outcome = json.loads(refused.content)
    assert outcome["issue"][0]["expression"] == ["patient"] and "Patient/c" in outcome["issue"][0]["diagnostics"]
    assert not ExportJob.objects.exists()
    manifest = _lenient_export(client, "/fhir/Group/cohort/$export", body)
    assert ids(contents(client, manifest), "Patient") == {"a"}
    [error] = manifest["error"]
    assert error["type"] == "OperationOutcome"
    [outcome] = download(client, error["url"])
    assert "Patient/c" in outcome["issue"][0]["diagnostics"]


def test_patient_level_patient_not_on_the_server_is_refused_unless_lenient(client, population):
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "patient", "valueReference": {"reference": "Patient/b"}},
        {"name": "patient", "valueReference": {"reference": "Patient/nobody"}},
    ]}
    assert kick_off(client, "/fhir/Patient/$export", body=body).status_code == 400
    manifest = _lenient_export(client, "/fhir/Patient/$export", body)
    assert ids(contents(client, manifest), "Patient") == {"b"}
    [outcome] = download(client, manifest["error"][0]["url"])
    assert "Patient/nobody" in outcome["issue"][0]["diagnostics"]


LENIENT = {**ACCEPT, "HTTP_PREFER": "respond-async, handling=lenient"}


def _lenient_export(client, path: str, body: dict | None = None) -> dict:
    if body is None:
        started = client.get(path, **LENIENT)
    else:
        started = client.post(path, data=json.dumps(body), content_type="application/fhir+json", **LENIENT)
    assert started.status_code == 202, started.content
    done = wait(client, started["Content-Location"])
    assert done.status_code == 200, done.content
    return json.loads(done.content)


def test_elements_keep_the_listed_root_elements_the_mandatory_ones_and_say_subsetted(client, population):
    put(observation("exact", "a", valueQuantity=decimals.loads('{"value": 5.50, "unit": "mmol/L"}')))
    manifest = export(client, "/fhir/Patient/$export?_type=Observation,Patient,Practitioner"
                              "&_elements=Observation.valueQuantity,id")
    found = contents(client, manifest)
    [exact] = [o for o in found["Observation"] if o["id"] == "exact"]
    assert set(exact) == {"resourceType", "id", "meta", "status", "code", "valueQuantity"}  # status, code: 1..1
    assert {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED",
            "display": "subsetted"} in exact["meta"]["tag"]
    [patient] = [p for p in found["Patient"] if p["id"] == "a"]
    assert "name" not in patient and patient["meta"]["tag"][-1]["code"] == "SUBSETTED"  # bare `id`: every type
    assert ids(found, "Practitioner") == {"doc"}  # still what the whole resources refer to (performer)
    download_text = client.get(local([i for i in manifest["output"] if i["type"] == "Observation"][0]["url"]))
    assert b'"value":5.50' in b"".join(download_text.streaming_content)  # decimals as written


def test_elements_must_be_root_elements(client, population):
    response = kick_off(client, "/fhir/$export?_elements=Observation.code.coding")
    assert response.status_code == 400
    assert json.loads(response.content)["issue"][0]["expression"] == ["_elements"]


def test_type_and_output_format_variants(client, population):
    for output_format in ("application/fhir+ndjson", "application/ndjson", "ndjson"):
        manifest = export(client, f"/fhir/$export?_type=Patient,Practitioner&_outputFormat={output_format}")
        assert {item["type"] for item in manifest["output"]} == {"Patient", "Practitioner"}


def test_type_filter_goes_through_the_search_engine(client, population):
    manifest = export(client, "/fhir/$export?_type=Observation,Patient"
                              "&_typeFilter=Observation%3Fcode%3Dhttp://loinc.org%7C8867-4"
                              "&_typeFilter=Patient%3Ffamily%3DFamilya")
    found = contents(client, manifest)
    assert ids(found, "Observation") == {"pulse-a", "pulse-b", "pulse-c"}
    assert ids(found, "Patient") == {"a"}


def test_since_exports_only_what_changed_after_it(client, population):
    since = datetime.now(timezone.utc)
    put({"resourceType": "Patient", "id": "b", "name": [{"family": "Renamed"}]})
    put({"resourceType": "Practitioner", "id": "late", "name": [{"family": "Late"}]})
    stamp = since.isoformat().replace("+00:00", "Z")
    found = contents(client, export(client, f"/fhir/$export?_since={stamp}"))
    assert set(found) == {"Patient", "Practitioner"}
    assert ids(found, "Patient") == {"b"} and ids(found, "Practitioner") == {"late"}
    assert found["Patient"][0]["name"][0]["family"] == "Renamed"


def test_since_lists_what_was_deleted_after_it_as_delete_bundles(client, population, secure, token_for):
    before = datetime.now(timezone.utc)
    repository.delete("Observation", "pulse-c")
    repository.delete("Practitioner", "stranger")
    stamp = before.isoformat().replace("+00:00", "Z")
    _, headers = token_for("system/Observation.rs system/Patient.rs")
    manifest = export(client, f"/fhir/$export?_since={stamp}", **headers)
    [deleted] = manifest["deleted"]  # the Practitioner's deletion is not for a token that may not read it
    assert deleted["type"] == "Bundle" and deleted["count"] == 1
    [bundle] = download(client, deleted["url"], **headers)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
    assert bundle["entry"] == [{"request": {"method": "DELETE", "url": "Observation/pulse-c"}}]
    assert export(client, "/fhir/$export", **headers)["deleted"] == []  # without _since: nothing listed
    assert export(client, f"/fhir/$export?_since={stamp}&_type=Patient", **headers)["deleted"] == []


def test_delete_removes_the_export_and_its_files(client, population, bulk_files):
    started = kick_off(client, "/fhir/$export?_type=Patient")
    status_url = local(started["Content-Location"])
    manifest = json.loads(wait(client, status_url).content)
    file_url = local(manifest["output"][0]["url"])
    assert list(bulk_files.rglob("*.ndjson"))
    deleted = client.delete(status_url)
    assert deleted.status_code == 202
    assert client.get(status_url).status_code == 404
    assert client.get(file_url).status_code == 404
    assert list(bulk_files.rglob("*.ndjson")) == []


def test_delete_while_queued_or_running_cancels(client, population, bulk_files):
    started = kick_off(client, "/fhir/$export")
    status_url = local(started["Content-Location"])
    assert client.delete(status_url).status_code == 202
    jobs.shutdown(wait=True)  # whatever the job was doing has ended
    assert client.get(status_url).status_code == 404
    assert ExportJob.objects.get().status == ExportJob.CANCELLED
    assert list(bulk_files.rglob("*.ndjson")) == []


def test_files_split_at_the_configured_size(client, population, settings):
    settings.BULK = {**settings.BULK, "FILE_MAX_BYTES": 700}
    manifest = export(client, "/fhir/$export?_type=Observation")
    parts = [item for item in manifest["output"] if item["type"] == "Observation"]
    assert len(parts) >= 3 and len({item["url"] for item in parts}) == len(parts)
    assert sum(item["count"] for item in parts) == 6
    for item in parts:
        raw = b"".join(client.get(local(item["url"])).streaming_content)
        assert len(raw) <= 700 or item["count"] == 1


@pytest.mark.parametrize("path,headers,expression", [
    ("/fhir/$export", {"HTTP_ACCEPT": "application/fhir+json"}, "Prefer"),
    ("/fhir/$export", {"HTTP_PREFER": "respond-async"}, "Accept"),
    ("/fhir/$export", {"HTTP_ACCEPT": "application/fhir+ndjson", "HTTP_PREFER": "respond-async"}, "Accept"),
    ("/fhir/$export?_outputFormat=text/csv", ACCEPT, "_outputFormat"),
    ("/fhir/$export?_type=Patient,Nonsense", ACCEPT, "_type"),
    ("/fhir/$export?_since=yesterday", ACCEPT, "_since"),
    ("/fhir/$export?_typeFilter=Observation%3Fnot-a-parameter%3D1", ACCEPT, "_typeFilter"),
    ("/fhir/$export?_typeFilter=Observation", ACCEPT, "_typeFilter"),
    ("/fhir/$export?patient=Patient/a", ACCEPT, "patient"),
])
def test_bad_kick_offs_are_a_clear_400_and_start_nothing(client, population, path, headers, expression):
    response = client.get(path, **headers)
    assert response.status_code == 400, response.content
    outcome = json.loads(response.content)
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == [expression]
    assert not ExportJob.objects.exists()


def test_unsupported_parameters_are_refused_unless_lenient(client, population):
    response = client.get("/fhir/$export?includeAssociatedData=LatestProvenanceResources", **ACCEPT)
    assert response.status_code == 400
    assert json.loads(response.content)["issue"][0]["expression"] == ["includeAssociatedData"]
    assert not ExportJob.objects.exists()
    manifest = _lenient_export(client, "/fhir/$export?_type=Patient&includeAssociatedData=LatestProvenanceResources")
    assert ids(contents(client, manifest), "Patient") == {"a", "b", "c"}
    [outcome] = download(client, manifest["error"][0]["url"])  # one OperationOutcome per parameter ignored
    assert "includeAssociatedData" in outcome["issue"][0]["diagnostics"]


def test_unknown_group_is_404(client, population):
    response = kick_off(client, "/fhir/Group/nobody/$export")
    assert response.status_code == 404
    assert not ExportJob.objects.exists()


def test_too_many_exports_at_once_is_429(client, population, settings):
    settings.BULK = {**settings.BULK, "MAX_CONCURRENT_PER_CLIENT": 1}
    ExportJob.objects.create(level="system", request_url="x", transaction_time=datetime.now(timezone.utc),
                             status=ExportJob.RUNNING, heartbeat_at=datetime.now(timezone.utc))
    response = kick_off(client, "/fhir/$export")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert json.loads(response.content)["issue"][0]["code"] == "throttled"


def test_a_job_whose_worker_died_runs_again(client, population):
    now = datetime.now(timezone.utc)
    job = ExportJob.objects.create(level="system", request_url="http://testserver/fhir/$export", types=["Patient"],
                                   transaction_time=now, status=ExportJob.RUNNING, attempts=1,
                                   heartbeat_at=now - timedelta(hours=1))
    done = wait(client, f"/fhir/_bulk/{job.id}")
    assert done.status_code == 200
    job.refresh_from_db()
    assert job.attempts == 2
    assert ids(contents(client, json.loads(done.content)), "Patient") == {"a", "b", "c"}


def test_a_job_that_keeps_dying_fails_and_never_completes(client, population, settings):
    now = datetime.now(timezone.utc)
    job = ExportJob.objects.create(level="system", request_url="x", transaction_time=now, status=ExportJob.RUNNING,
                                   attempts=settings.BULK["MAX_ATTEMPTS"], heartbeat_at=now - timedelta(hours=1))
    response = client.get(f"/fhir/_bulk/{job.id}")
    assert response.status_code == 500
    assert json.loads(response.content)["resourceType"] == "OperationOutcome"
    job.refresh_from_db()
    assert job.status == ExportJob.FAILED and job.output == []


def test_capability_statement_declares_the_operations(client, db):
    statement = json.loads(client.get("/fhir/metadata").content)
    assert "http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data" in statement["instantiates"]
    rest = statement["rest"][0]
    system = {op["name"]: op["definition"] for op in rest["operation"]}
    assert system["export"] == "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"
    by_type = {r["type"]: {op["name"]: op["definition"] for op in r.get("operation", [])} for r in rest["resource"]}
    assert by_type["Patient"]["export"] == "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"
    assert by_type["Group"]["export"] == "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export"
    assert "export" not in by_type["Observation"]


def test_smart_discovery_lists_what_backend_services_need(client, db):
    config = json.loads(client.get("/fhir/.well-known/smart-configuration").content)
    assert "client_credentials" in config["grant_types_supported"]
    assert "private_key_jwt" in config["token_endpoint_auth_methods_supported"]
    assert {"RS384", "ES384"} <= set(config["token_endpoint_auth_signing_alg_values_supported"])
    assert {"system/*.read", "system/*.rs"} <= set(config["scopes_supported"])
    assert "client-confidential-asymmetric" in config["capabilities"]
    assert config["token_endpoint"].endswith("/oauth2/token")


def test_a_supporting_type_alone_is_what_the_cohort_refers_to(client, population):
    found = contents(client, export(client, "/fhir/Group/cohort/$export?_type=Practitioner,Organization"))
    assert set(found) == {"Practitioner", "Organization"}
    assert ids(found, "Practitioner") == {"doc"} and ids(found, "Organization") == {"lab", "clinic"}
