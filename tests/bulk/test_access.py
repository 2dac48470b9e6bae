"""Who may export what: backend-services tokens only, types limited by scope, files only for their client."""
from __future__ import annotations

import json

from fhirserver.bulk.models import ExportJob
from fhirserver.security import services, spool
from fhirserver.security.models import AuditRecord
from fhirserver.storage.models import ResourceRecord
from tests.bulk.conftest import contents, download, export, ids, kick_off, local, wait


def test_download_needs_the_token_of_the_client_that_started_it(client, population, secure, token_for):
    _, mine = token_for("system/*.read")
    _, theirs = token_for("system/*.read")
    manifest = export(client, "/fhir/$export?_type=Patient", **mine)
    url = local(manifest["output"][0]["url"])
    anonymous = client.get(url)
    assert anonymous.status_code == 401
    assert json.loads(anonymous.content)["resourceType"] == "OperationOutcome"
    assert client.get(url, **theirs).status_code == 404
    assert ids({"Patient": download(client, url, **mine)}, "Patient") == {"a", "b", "c"}


def test_a_file_needs_a_scope_for_its_type(client, population, secure, token_for):
    client_id, wide = token_for("system/*.read")
    manifest = export(client, "/fhir/$export?_type=Patient,Observation", **wide)
    narrow = {"HTTP_AUTHORIZATION": "Bearer " + services.token_issue(client_id=client_id,
                                                                     scopes="system/Observation.read")}
    urls = {item["type"]: local(item["url"]) for item in manifest["output"]}
    assert client.get(urls["Patient"], **narrow).status_code == 403
    assert len(download(client, urls["Observation"], **narrow)) == 6


def test_status_url_is_only_for_the_client_that_started_it(client, population, secure, token_for):
    _, mine = token_for("system/*.read")
    _, theirs = token_for("system/*.read")
    started = kick_off(client, "/fhir/$export?_type=Patient", **mine)
    status_url = local(started["Content-Location"])
    assert client.get(status_url).status_code == 401
    assert client.get(status_url, **theirs).status_code == 404
    assert client.delete(status_url, **theirs).status_code == 404
    assert wait(client, status_url, **mine).status_code == 200


def test_patient_and_user_scoped_tokens_are_refused(client, population, secure, token_for, django_user_model):
    django_user_model.objects.create_user(username="clinician", password="x")
    _, patient = token_for("patient/*.read", patient="a")
    _, user = token_for("user/*.read", user="clinician")
    for headers in (patient, user):
        for path in ("/fhir/$export", "/fhir/Patient/$export", "/fhir/Group/cohort/$export"):
            response = kick_off(client, path, **headers)
            assert response.status_code == 403, (path, response.content)
            assert json.loads(response.content)["issue"][0]["code"] == "forbidden"
    assert not ExportJob.objects.exists()


def test_no_token_is_401(client, population, secure):
    assert kick_off(client, "/fhir/$export").status_code == 401


def test_system_scopes_limit_the_types(client, population, secure, token_for):
    _, headers = token_for("system/Observation.rs")
    found = contents(client, export(client, "/fhir/$export", **headers), **headers)
    assert set(found) == {"Observation"}
    assert len(found["Observation"]) == 6


def test_a_type_asked_for_but_not_granted_is_reported(client, population, secure, token_for):
    _, headers = token_for("system/Observation.rs")
    manifest = export(client, "/fhir/Patient/$export?_type=Patient,Observation", **headers)
    assert {item["type"] for item in manifest["output"]} == {"Observation"}
    [error] = manifest["error"]
    [outcome] = download(client, error["url"], **headers)
    assert "Patient" in outcome["issue"][0]["diagnostics"]


def test_v2_scope_queries_narrow_the_export(client, population, secure, token_for):
    _, headers = token_for("system/Observation.rs?code=http://loinc.org|8867-4")
    found = contents(client, export(client, "/fhir/$export", **headers), **headers)
    assert ids(found, "Observation") == {"pulse-a", "pulse-b", "pulse-c"}


def test_every_export_is_audited(client, population, secure, token_for):
    client_id, headers = token_for("system/*.read")
    manifest = export(client, "/fhir/Group/cohort/$export?_type=Patient", **headers)
    download(client, manifest["output"][0]["url"], **headers)
    spool.this_process().catch_up()  # as an AuditEvent search does: every answered request is stored
    rows = AuditRecord.objects.filter(client_id=client_id)
    kick = rows.get(interaction="operation $export")
    assert kick.status == 202 and kick.resource_type == "Group" and kick.resource_id == "cohort"
    assert rows.filter(interaction="bulk-file", status=200).count() == 1
    assert rows.filter(interaction="bulk-status", status=200).exists()


def test_import_needs_a_backend_token_that_writes_each_type(client, population, secure, token_for):
    lines = (json.dumps({"resourceType": "Patient", "id": "new", "name": [{"family": "New"}]}) + "\n"
             + json.dumps({"resourceType": "Practitioner", "id": "newdoc"}) + "\n")

    def post(headers):
        return client.post("/fhir/$import", data=lines, content_type="application/fhir+ndjson", **headers)

    assert post({}).status_code == 401
    _, patient = token_for("patient/*.write", patient="a")
    assert post(patient).status_code == 403
    _, reader = token_for("system/*.read")
    assert post(reader).status_code == 403
    _, patients_only = token_for("system/Patient.write")
    response = post(patients_only)
    assert response.status_code == 200
    issues = json.loads(response.content)["issue"]
    assert issues[0]["diagnostics"].startswith("1 resources stored")
    assert "Practitioner" in issues[1]["diagnostics"]
    assert ResourceRecord.objects.filter(resource_type="Patient", logical_id="new").exists()
    assert not ResourceRecord.objects.filter(resource_type="Practitioner", logical_id="newdoc").exists()
