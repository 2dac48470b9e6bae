"""NDJSON in through `manage.py import_ndjson`, and the round trip: export, import into an empty database."""
from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from fhirserver.storage.models import ResourceRecord
from tests.bulk.conftest import contents, export, local


def _without_meta(resource: dict) -> dict:
    meta = {k: v for k, v in (resource.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
    return {**{k: v for k, v in resource.items() if k != "meta"}, **({"meta": meta} if meta else {})}


def test_round_trip_export_then_import_into_an_empty_database_gives_the_same_resources(client, population, tmp_path):
    manifest = export(client, "/fhir/$export")
    exported = contents(client, manifest)
    paths = []
    for number, item in enumerate(manifest["output"]):
        path = tmp_path / f"{number}-{item['type']}.ndjson"
        path.write_bytes(b"".join(client.get(local(item["url"])).streaming_content))
        paths.append(str(path))
    call_command("flush", interactive=False, verbosity=0)  # an empty database (what a server ships is put back)
    assert not ResourceRecord.objects.filter(resource_type__in=["Patient", "Observation", "Group"]).exists()
    out = io.StringIO()
    call_command("import_ndjson", *paths, stdout=out)
    total = sum(item["count"] for item in manifest["output"])
    assert out.getvalue().startswith(f"{total} resources stored")
    again = contents(client, export(client, "/fhir/$export"))
    assert set(again) == set(exported)
    for resource_type, resources in exported.items():
        assert sorted(map(json.dumps, map(_without_meta, again[resource_type]))) == \
            sorted(map(json.dumps, map(_without_meta, resources))), resource_type
    # Indexed as it was written: the search engine finds the imported resources.
    found = json.loads(client.get("/fhir/Observation?subject=Patient/a&code=http://loinc.org|8867-4").content)
    assert [e["resource"]["id"] for e in found["entry"]] == ["pulse-a"]


def test_bad_lines_are_reported_by_line_and_element_and_the_others_stored(transactional_db, tmp_path, capsys):
    lines = [
        json.dumps({"resourceType": "Patient", "id": "p1", "name": [{"family": "Kept"}]}),
        "{not json",
        json.dumps({"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"},
                    "valueQuantity": {"value": "a lot"}}),
        "",
        json.dumps({"id": "x"}),
        json.dumps({"resourceType": "Observation", "status": "final", "code": {"text": "no id"}}),
        json.dumps({"resourceType": "Patient", "id": "p1", "name": [{"family": "Second version"}]}),
    ]
    path = tmp_path / "mixed.ndjson"
    path.write_text("\n".join(lines) + "\n")
    errors = tmp_path / "errors.ndjson"
    with pytest.raises(SystemExit) as exited:
        call_command("import_ndjson", str(path), "--errors", str(errors))
    assert exited.value.code == 1
    reported = capsys.readouterr()
    assert f"{path}:2: not JSON" in reported.err
    assert f"{path}:3:" in reported.err and "Observation.valueQuantity.value" in reported.err
    assert f"{path}:5: not a FHIR resource" in reported.err
    assert "3 resources stored (2 created, 1 updated), 3 lines refused" in reported.out
    outcomes = [json.loads(line) for line in errors.read_text().splitlines()]
    assert len(outcomes) == 3 and all(o["resourceType"] == "OperationOutcome" for o in outcomes)
    patient = ResourceRecord.objects.get(resource_type="Patient", logical_id="p1")
    assert patient.version == 2 and patient.content["name"][0]["family"] == "Second version"
    assert ResourceRecord.objects.filter(resource_type="Observation").count() == 1  # the one without an id
    assert not ResourceRecord.objects.filter(resource_type="Observation", logical_id="o1").exists()


def test_a_missing_file_is_a_command_error(transactional_db, tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_ndjson", str(tmp_path / "absent.ndjson"))


def test_worker_processes_store_every_line_and_keep_each_resources_order(transactional_db, tmp_path, capsys):
    lines = []
    for version in range(3):
        for n in range(40):
            lines.append(json.dumps({"resourceType": "Patient", "id": f"p{n}", "name": [{"family": f"v{version}"}]}))
    lines.insert(17, "[]")
    path = tmp_path / "many.ndjson"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SystemExit):
        call_command("import_ndjson", str(path), "--processes", "2", "--batch", "7")
    reported = capsys.readouterr()
    assert "120 resources stored (40 created, 80 updated), 1 lines refused" in reported.out
    assert f"{path}:18: not a FHIR resource" in reported.err
    patients = ResourceRecord.objects.filter(resource_type="Patient", logical_id__startswith="p")
    assert patients.count() == 40
    assert {(p.version, p.content["name"][0]["family"]) for p in patients} == {(3, "v2")}


# --- POST [base]/$import ----------------------------------------------------------------------------
NDJSON = "application/fhir+ndjson"


def _import(client, body, content_type=NDJSON, **headers):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post("/fhir/$import", data=data, content_type=content_type, **headers)


def test_http_import_of_an_ndjson_body(client, transactional_db):
    body = "\n".join([
        json.dumps({"resourceType": "Patient", "id": "h1", "name": [{"family": "Http"}]}),
        json.dumps({"resourceType": "Patient", "id": "h2", "gender": "sometimes"}),
        json.dumps({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                    "subject": {"reference": "Patient/h1"}}),
    ]) + "\n"
    response = _import(client, body)
    assert response.status_code == 200, response.content
    issues = json.loads(response.content)["issue"]
    assert issues[0]["diagnostics"] == "2 resources stored (2 created, 0 updated), 1 lines refused"
    assert issues[1]["diagnostics"].startswith("request body line 2:")
    assert issues[1]["expression"] == ["Patient.gender"]
    found = json.loads(client.get("/fhir/Observation?subject=Patient/h1").content)
    assert found["total"] == 1
    assert client.get("/fhir/Patient/h2").status_code == 404


def test_http_import_with_every_line_refused_is_400(client, transactional_db):
    response = _import(client, "{}\nnot json\n")
    assert response.status_code == 400
    assert json.loads(response.content)["issue"][0]["diagnostics"].endswith("2 lines refused")


def test_http_import_needs_ndjson_or_parameters(client, transactional_db):
    assert _import(client, "a,b\n", content_type="text/csv").status_code == 415


def test_http_import_from_this_servers_own_export_files(client, population):
    manifest = export(client, "/fhir/$export?_type=Patient")
    assert client.delete("/fhir/Patient/a").status_code in (200, 204)
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "input", "part": [{"name": "type", "valueCode": "Patient"},
                                   {"name": "url", "valueUrl": manifest["output"][0]["url"]}]}]}
    response = _import(client, body, content_type="application/fhir+json")
    assert response.status_code == 200, response.content
    summary = json.loads(response.content)["issue"][0]["diagnostics"]
    assert summary.startswith("3 resources stored (0 created, 3 updated)")
    assert json.loads(client.get("/fhir/Patient/a").content)["name"] == [{"family": "Familya"}]


def test_http_import_fetches_nothing_from_elsewhere(client, population):
    body = {"resourceType": "Parameters", "parameter": [
        {"name": "input", "part": [{"name": "url", "valueUrl": "https://elsewhere.example/Patient.ndjson"}]}]}
    response = _import(client, body, content_type="application/fhir+json")
    assert response.status_code == 400
    assert "fetches nothing" in json.loads(response.content)["issue"][0]["diagnostics"]
