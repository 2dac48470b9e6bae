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


# --- the same write path as REST ---------------------------------------------------------------------
RICH_OBSERVATION = {
    "resourceType": "Observation", "id": "rich", "status": "final",
    "identifier": [{"system": "urn:lab", "value": "L-1", "type": {"coding": [{"system": "urn:t", "code": "FILL"}]}}],
    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                              "code": "laboratory"}]}],
    "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}], "text": "Glucose"},
    "subject": {"reference": "Patient/p1"}, "performer": [{"reference": "Practitioner/doc", "display": "Dr Who"}],
    "effectivePeriod": {"start": "2025-03-01T08:00:00Z", "end": "2025-03-01T09:00:00Z"},
    "issued": "2025-03-01T10:00:00.000Z",
    "valueQuantity": {"value": 5.50, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"},
    "referenceRange": [{"low": {"value": 3.9, "unit": "mmol/L", "system": "http://unitsofmeasure.org",
                                "code": "mmol/L"}}],
    "component": [{"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                   "valueQuantity": {"value": 120, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org",
                                     "code": "mm[Hg]"}}],
    "note": [{"text": "fasting sample"}],
}


def _index_rows(logical_id: str) -> dict[str, list]:
    from fhirserver.search.params import INDEX_MODELS

    record = ResourceRecord.objects.get(resource_type="Observation", logical_id=logical_id)
    return {kind: sorted(tuple(sorted((k, str(v)) for k, v in row.items() if k not in ("id", "record_id")))
                         for row in model.objects.filter(record_id=record.id).values())
            for kind, model in INDEX_MODELS.items()}


def test_an_imported_resource_gets_every_index_row_a_rest_write_gives_it(client, transactional_db, tmp_path):
    path = tmp_path / "rich.ndjson"
    path.write_text(json.dumps(RICH_OBSERVATION) + "\n")
    call_command("import_ndjson", str(path), stdout=io.StringIO())
    imported = _index_rows("rich")
    ResourceRecord.objects.all().delete()  # the index rows go with it
    response = client.put("/fhir/Observation/rich", json.dumps(RICH_OBSERVATION), content_type="application/fhir+json")
    assert response.status_code == 201, response.content
    assert imported == _index_rows("rich")
    assert {kind for kind, rows in imported.items() if rows} >= {"token", "reference", "date", "quantity", "composite"}
    for query in ("identifier=urn:lab|L-1", "code=http://loinc.org|2345-7", "performer=Practitioner/doc",
                  "date=2025-03-01", "value-quantity=5.5|http://unitsofmeasure.org|mmol/L",
                  "component-code-value-quantity=http://loinc.org|8480-6$120", "_content=fasting"):
        found = json.loads(client.get(f"/fhir/Observation?{query}").content)
        assert found["total"] == 1, query


def test_decimals_are_imported_as_written(transactional_db, tmp_path):
    path = tmp_path / "decimals.ndjson"
    line = json.dumps(RICH_OBSERVATION).replace('"value": 5.5,', '"value": 5.50,')
    assert '"value": 5.50,' in line
    path.write_text(line + "\n" + json.dumps({**RICH_OBSERVATION, "id": "plain"}) + "\n")
    call_command("import_ndjson", str(path), stdout=io.StringIO())
    from fhirserver.storage import repository

    assert '"valueQuantity":{"value":5.50,' in repository.read_text("Observation", "rich")[1]
    assert '"valueQuantity":{"value":5.5,' in repository.read_text("Observation", "plain")[1]
