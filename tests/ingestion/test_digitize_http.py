"""$digitize over HTTP with the real reader and understanding: every input form, sync and async,
bad and oversized files, idempotency, the OperationDefinition, and searches finding what was written."""
from __future__ import annotations

import base64
import time

import pytest

from evaluation.corpus.layouts import LAYOUTS
from evaluation.corpus.render import render_pdf
from fhirserver.storage.models import ResourceRecord
from ingestion.models import DigitizeJob
from resources.validation import validation_issues

URL = "/fhir/DiagnosticReport/$digitize"


@pytest.fixture(scope="module")
def report_pdf():
    layout = LAYOUTS["classic"]
    report = layout.report(1)
    return report, render_pdf(report, layout)


def count(resource_type: str) -> int:
    return ResourceRecord.objects.filter(resource_type=resource_type, deleted=False).count()


def resources(bundle: dict, resource_type: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]


def post_multipart(client, data: bytes, path: str = URL, filename: str = "report.pdf", **fields):
    from io import BytesIO

    upload = BytesIO(data)
    upload.name = filename
    return client.post(path, {"file": upload, **fields})


def local(url: str) -> str:
    assert url.startswith("http://testserver/fhir/"), url
    return url.removeprefix("http://testserver")


def wait_for(fhir, status_url: str, timeout: float = 180):
    status_url = local(status_url)
    deadline = time.monotonic() + timeout
    while True:
        response = fhir.get(status_url)
        if response.status_code != 202 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


@pytest.mark.django_db
def test_multipart_upload_stores_valid_us_core_lab_resources(client, report_pdf):
    truth, pdf = report_pdf
    response = post_multipart(client, pdf)
    assert response.status_code == 200, response.content
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    for entry in bundle["entry"]:
        assert validation_issues(entry["resource"]) == [], entry["resource"]["resourceType"]
        if entry["resource"]["resourceType"] != "OperationOutcome":
            assert entry["fullUrl"].startswith("http://testserver/fhir/")
    observations = resources(bundle, "Observation")
    assert len(observations) == len(truth.rows) == count("Observation")
    [report] = resources(bundle, "DiagnosticReport")
    [patient] = resources(bundle, "Patient")
    assert patient["name"][0]["family"] == truth.patient.family and patient["birthDate"] == truth.patient.birth_date
    assert report["subject"]["reference"] == f"Patient/{patient['id']}"
    assert {r["reference"] for r in report["result"]} == {f"Observation/{o['id']}" for o in observations}
    glucose = next(o for o in observations if o["code"]["coding"][0]["code"] == "2345-7")
    truth_glucose = next(r for r in truth.rows if r.loinc == "2345-7")
    assert glucose["valueQuantity"]["value"] == float(truth_glucose.value)
    # issue 16: the printed digits are the stored value's (bilirubin "1.0" stays 1.0, not 1)
    truth_by_code = {r.loinc: r for r in truth.rows}
    checked = 0
    for observation in observations:
        row = truth_by_code.get(observation["code"]["coding"][0].get("code"))
        if row and "valueQuantity" in observation and observation["valueQuantity"]["value"] == float(row.value):
            stored = client.get(f"/fhir/Observation/{observation['id']}").content.decode()
            assert f'"value":{format(row.value, "f")},' in stored, (row.printed_value, stored)
            checked += 1
    assert checked >= len(truth.rows) // 2
    [provenance] = resources(bundle, "Provenance")
    targets = {t["reference"] for t in provenance["target"]}
    assert targets >= {f"Patient/{patient['id']}", f"DiagnosticReport/{report['id']}"} | {
        f"Observation/{o['id']}" for o in observations
    }
    [document_reference] = resources(bundle, "DocumentReference")
    assert provenance["entity"][0]["what"]["reference"] == f"DocumentReference/{document_reference['id']}"
    assert (
        document_reference["subject"]["reference"] == f"Patient/{patient['id']}"
        and document_reference["meta"]["profile"]
    )
    binary_url = document_reference["content"][0]["attachment"]["url"]
    assert (
        client.get(f"/fhir/{binary_url}", HTTP_ACCEPT="application/pdf").content == pdf
    )  # the original, byte for byte


@pytest.mark.django_db
def test_raw_pdf_body_at_patient_instance_level_files_under_that_patient_and_warns(fhir, report_pdf):
    truth, pdf = report_pdf
    chart = fhir.post("Patient", {"resourceType": "Patient", "name": [{"family": "Someone", "given": ["Else"]}],
                                  "birthDate": "1950-01-01"}).json()
    response = fhir.post(f"Patient/{chart['id']}/$digitize", pdf, content_type="application/pdf")
    assert response.status_code == 200, response.content
    bundle = response.json()
    [patient] = resources(bundle, "Patient")  # the chart's Patient, as it was: nothing created, nothing merged
    assert patient["id"] == chart["id"] and patient["meta"]["versionId"] == "1" and count("Patient") == 1
    assert all(o["subject"]["reference"] == f"Patient/{chart['id']}" for o in resources(bundle, "Observation"))
    [outcome] = resources(bundle, "OperationOutcome")
    text = " ".join(i["diagnostics"] for i in outcome["issue"])
    assert truth.patient.birth_date in text and "1950-01-01" in text
    assert fhir.get(f"Patient/{chart['id']}").json()["meta"]["versionId"] == "1"


@pytest.mark.django_db
def test_parameters_with_base64_data_and_with_a_stored_binary_url(fhir, report_pdf):
    _, pdf = report_pdf
    attachment = {"contentType": "application/pdf", "data": base64.b64encode(pdf).decode()}
    response = fhir.post(
        URL, {"resourceType": "Parameters", "parameter": [{"name": "document", "valueAttachment": attachment}]}
    )
    assert response.status_code == 200, response.content
    first = response.json()

    binary = fhir.post("Binary", {"resourceType": "Binary", "contentType": "application/pdf",
                                  "data": base64.b64encode(pdf + b"\n%same report, other bytes").decode()}).json()
    subject = resources(first, "Patient")[0]["id"]
    response = fhir.post(URL, {"resourceType": "Parameters", "parameter": [
        {"name": "document", "valueAttachment": {"url": f"Binary/{binary['id']}"}},
        {"name": "subject", "valueReference": {"reference": f"Patient/{subject}"}}]})
    assert response.status_code == 200, response.content
    second = response.json()
    assert [p["id"] for p in resources(second, "Patient")] == [subject] and count("Patient") == 1
    assert len(resources(second, "Observation")) == len(resources(first, "Observation"))


@pytest.mark.django_db
def test_the_same_file_twice_does_not_duplicate(client, report_pdf):
    _, pdf = report_pdf
    first = post_multipart(client, pdf).json()
    observations = count("Observation")
    second = post_multipart(client, pdf).json()
    assert second == first and count("Observation") == observations and count("Binary") == 1
    assert DigitizeJob.objects.count() == 1


@pytest.mark.django_db
def test_not_a_document_is_refused_before_anything_is_stored(fhir):
    response = fhir.post(URL, b"just some text, not a lab report", content_type="text/plain")
    assert response.status_code == 415
    issue = response.json()["issue"][0]
    assert issue["severity"] == "error" and "Unsupported document type" in issue["diagnostics"]
    assert count("Binary") == 0 and count("DocumentReference") == 0


@pytest.mark.django_db
def test_oversized_file_is_413_and_stores_nothing(client, settings, report_pdf):
    _, pdf = report_pdf
    settings.INGESTION = {**settings.INGESTION, "MAX_FILE_BYTES": len(pdf) - 1}
    response = post_multipart(client, pdf)
    assert response.status_code == 413
    assert f"{len(pdf) - 1:,} bytes" in response.json()["issue"][0]["diagnostics"]
    assert count("Binary") == 0 and DigitizeJob.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("form", ["multipart", "raw"])
def test_a_body_over_what_the_server_reads_is_document_too_large_with_the_limit(client, settings, report_pdf, form):
    """Whichever layer notices first (here Django's DATA_UPLOAD_MAX_MEMORY_SIZE, before the operation
    reads the body), the client hears the document limit, not another layer's number."""
    _, pdf = report_pdf
    settings.INGESTION = {**settings.INGESTION, "MAX_FILE_BYTES": 1000}
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1500
    if form == "multipart":
        response = post_multipart(client, pdf)
    else:
        response = client.post(URL, pdf, content_type="application/pdf")
    assert response.status_code == 413
    [issue] = response.json()["issue"]
    assert issue["details"]["coding"][0]["code"] == "DOCUMENT_TOO_LARGE"
    assert "the limit is 1,000 bytes" in issue["diagnostics"]
    assert count("Binary") == 0 and DigitizeJob.objects.count() == 0
    other = client.post("/fhir/Patient", b"x" * 2000, content_type="application/fhir+json")
    assert other.status_code == 413 and other.json()["issue"][0]["details"]["coding"][0]["code"] == "BODY_TOO_LARGE"


@pytest.mark.django_db
def test_damaged_pdf_is_422_and_the_original_stays(client, fhir):
    damaged = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage that no PDF reader can parse"
    response = post_multipart(client, damaged)
    assert response.status_code == 422, response.content
    assert "damaged" in response.json()["issue"][0]["diagnostics"]
    job = DigitizeJob.objects.get()
    assert job.status == "failed" and response["Content-Location"].endswith(f"/_jobs/{job.id}")
    document_reference = fhir.get(f"DocumentReference/{job.document_reference_id}").json()
    binary_url = document_reference["content"][0]["attachment"]["url"]
    assert client.get(f"/fhir/{binary_url}", HTTP_ACCEPT="application/pdf").content == damaged
    assert count("Observation") == 0 and count("DiagnosticReport") == 0


@pytest.mark.django_db
def test_bad_requests_explain_themselves(client, fhir):
    assert fhir.post(URL, {"resourceType": "Parameters", "parameter": []}).status_code == 400
    response = client.post(URL, {"note": "no file"})
    assert response.status_code == 400 and "'file'" in response.json()["issue"][0]["diagnostics"]
    response = fhir.post("Patient/does-not-exist/$digitize", b"%PDF-1.4", content_type="application/pdf")
    assert response.status_code == 404
    assert fhir.post("DiagnosticReport/x/$digitize", b"%PDF-1.4", content_type="application/pdf").status_code == 404
    response = post_multipart(client, b"%PDF-1.4", subject="Observation/1")
    assert response.status_code == 400 and response.json()["issue"][0]["expression"] == ["subject"]
    assert count("Binary") == 0


@pytest.mark.django_db(transaction=True)
def test_respond_async_gives_a_status_url_that_ends_in_the_same_bundle(fhir, report_pdf):
    _, pdf = report_pdf
    response = fhir.post(URL, pdf, content_type="application/pdf", prefer="respond-async")
    assert response.status_code == 202
    status_url = response["Content-Location"]
    assert "/fhir/_jobs/" in status_url
    done = wait_for(fhir, status_url)
    assert done.status_code == 200, done.content
    bundle = done.json()
    assert bundle["type"] == "collection" and resources(bundle, "Observation")
    assert fhir.get(local(status_url)).json() == bundle  # the same Bundle on every poll
    # Posting the same file synchronously now returns that result; asynchronously, the same status URL.
    assert fhir.post(URL, pdf, content_type="application/pdf").json() == bundle
    again = fhir.post(URL, pdf, content_type="application/pdf", prefer="respond-async")
    assert again.status_code == 202 and again["Content-Location"] == status_url


@pytest.mark.django_db(transaction=True)
def test_a_failing_async_job_reports_its_outcome_at_the_status_url(fhir):
    response = fhir.post(URL, b"%PDF-1.4\n%%EOF broken", content_type="application/pdf", prefer="respond-async")
    assert response.status_code == 202
    failed = wait_for(fhir, response["Content-Location"])
    assert failed.status_code == 422 and failed.json()["resourceType"] == "OperationOutcome"
    assert count("DocumentReference") == 1 and count("Observation") == 0


@pytest.mark.django_db
def test_status_url_shows_progress_while_running_and_delete_cancels(fhir, monkeypatch, report_pdf):
    from ingestion.edge.jobs import queue

    _, pdf = report_pdf
    monkeypatch.setattr(queue, "enqueue", lambda job_id, data=None: None)  # nobody picks the job up
    status_url = local(fhir.post(URL, pdf, content_type="application/pdf", prefer="respond-async")["Content-Location"])
    job = DigitizeJob.objects.get()
    DigitizeJob.objects.filter(id=job.id).update(
        status="running", stage="reading", progress=0.4, heartbeat_at=job.created_at
    )
    running = fhir.get(status_url)
    assert running.status_code == 202 and running["X-Progress"] == "reading (40%)"
    assert fhir.delete(status_url).status_code == 202
    DigitizeJob.objects.filter(id=job.id).update(status="cancelled")  # what the worker does at its next step
    gone = fhir.get(status_url)
    assert gone.status_code == 404 and "cancelled" in gone.json()["issue"][0]["diagnostics"]
    assert count("DocumentReference") == 1  # the original stays
    assert fhir.get("/fhir/_jobs/00000000-0000-0000-0000-000000000000").status_code == 404


@pytest.mark.django_db
def test_operation_definition_is_served_and_listed(fhir):
    definition = fhir.get("OperationDefinition/DiagnosticReport-digitize")
    assert definition.status_code == 200
    body = definition.json()
    assert body["code"] == "digitize" and validation_issues(body) == []
    assert {p["name"] for p in body["parameter"]} >= {"document", "subject", "return"}
    capability = fhir.get("metadata").json()
    entry = next(r for r in capability["rest"][0]["resource"] if r["type"] == "DiagnosticReport")
    assert {"name": "digitize", "definition": body["url"]} in entry["operation"]


@pytest.mark.django_db
def test_searches_find_what_digitize_wrote(fhir, client, report_pdf):
    truth, pdf = report_pdf
    bundle = post_multipart(client, pdf).json()
    patient = resources(bundle, "Patient")[0]["id"]
    collected = truth.collected[:10]
    found = fhir.get(f"Observation?patient={patient}&category=laboratory&code=http://loinc.org|2345-7&date={collected}").json()
    matches = [e["resource"] for e in found.get("entry", []) if e["search"]["mode"] == "match"]
    assert len(matches) == 1 and matches[0]["code"]["coding"][0]["code"] == "2345-7"
    everything = fhir.get(f"Observation?patient={patient}&category=laboratory").json()
    assert len([e for e in everything["entry"] if e["search"]["mode"] == "match"]) == len(truth.rows)
    reports = fhir.get(f"DiagnosticReport?patient={patient}&_include=DiagnosticReport:result").json()
    modes = [e["search"]["mode"] for e in reports["entry"]]
    assert modes.count("match") == 1 and modes.count("include") == len(truth.rows)
    assert fhir.get(f"Observation?patient={patient}&code=2345-7&date=gt2100-01-01").json().get("entry", []) == []


@pytest.mark.django_db
def test_job_keeps_what_the_review_page_draws(client, report_pdf):
    from io import BytesIO

    from PIL import Image

    from review.models import PageImage
    from review.pages import page_png

    truth, pdf = report_pdf
    bundle = post_multipart(client, pdf).json()
    job = DigitizeJob.objects.get()
    stored = PageImage.objects.get(job=job)  # rendered while the job read the document, stored beside the original
    image = Image.open(BytesIO(page_png(job, 1)))
    assert bytes(stored.data) == page_png(job, 1) and (stored.width, stored.height) == image.size
    page = job.document["pages"][0]
    assert abs(image.width - page["width"]) <= 1 and abs(image.height - page["height"]) <= 1
    assert len(job.rows) == len(truth.rows) and {r["observation"] for r in job.rows} == {
        f"Observation/{o['id']}" for o in resources(bundle, "Observation")}
    for row in job.rows:
        x0, y0, x1, y1 = row["region"]["box"]
        assert row["region"]["page"] == 1 and 0 <= x0 < x1 <= image.width and 0 <= y0 < y1 <= image.height
    assert job.lab_report["rows"][0]["printed_name"] == truth.rows[0].printed_name
    with pytest.raises(KeyError):
        page_png(job, 2)


@pytest.mark.django_db
def test_a_scanned_page_image_is_read_by_ocr(client, fhir):
    import random

    from evaluation.corpus.degrade import DEGRADATIONS
    from evaluation.corpus.render import render_page_images

    layout = LAYOUTS["hospital-grid"]
    truth = layout.report(4)
    data, media_type = DEGRADATIONS["150dpi"](render_page_images(truth, layout, dpi=300)[0], random.Random(4))
    chart = fhir.post("Patient", {"resourceType": "Patient", "name": [{"family": truth.patient.family}],
                                  "birthDate": truth.patient.birth_date}).json()
    response = post_multipart(client, data, path=f"/fhir/Patient/{chart['id']}/$digitize", filename="scan.png")
    assert response.status_code == 200, response.content
    bundle = response.json()
    for entry in bundle["entry"]:
        assert validation_issues(entry["resource"]) == []
    device = resources(bundle, "Device")[0]
    assert any("PP-OCR" in n["name"] for n in device["deviceName"])  # read by the OCR engine, not a text layer
    observations = resources(bundle, "Observation")
    read = {
        (o["code"]["coding"][0]["code"], o.get("valueQuantity", {}).get("value"))
        for o in observations
        if o["code"].get("coding")
    }
    expected = {(r.loinc, float(r.value)) for r in truth.rows if r.value is not None}
    assert len(read & expected) >= len(expected) - 2  # OCR may miss a cell; the accuracy report has the exact numbers
    assert all(o["subject"]["reference"] == f"Patient/{chart['id']}" for o in observations)


@pytest.mark.django_db
def test_smart_scopes_apply_to_digitize_and_its_status_url(report_pdf, monkeypatch):
    from fhirserver.core.errors import FhirError
    from fhirserver.core.request import FhirRequest
    from fhirserver.security.access import Access
    from fhirserver.security.scopes import parse_scopes
    from fhirserver.storage import repository
    from ingestion.edge.operation import digitize_operation
    from ingestion.edge.views import _answer

    _, pdf = report_pdf
    mine = repository.create("Patient", {"resourceType": "Patient", "name": [{"family": "Mine"}]}).id
    other = repository.create("Patient", {"resourceType": "Patient", "name": [{"family": "Other"}]}).id

    def call(scopes: str, path_patient: str | None = None, body: bytes = pdf):
        access = Access(client_id="app", scopes=parse_scopes(scopes), launch_patient=mine)
        request = FhirRequest(
            method="POST",
            base_url="http://testserver/fhir",
            resource_type="Patient" if path_patient else "DiagnosticReport",
            id=path_patient,
            kind="operation-instance" if path_patient else "operation-type",
            operation="$digitize",
            raw_body=body,
            content_type="application/pdf",
            access=access,
        )
        return digitize_operation(request), access

    with pytest.raises(FhirError) as refused:
        call("patient/*.rs")  # may read, may not create
    assert refused.value.status == 403
    with pytest.raises(FhirError) as refused:
        call("patient/*.cruds", path_patient=other)  # not this app's patient
    assert refused.value.status == 403 and count("Binary") == 0
    response, access = call("patient/*.cruds")  # no subject: the launch patient is the subject
    assert response.status == 200
    assert {o["subject"]["reference"] for o in resources(response.resource, "Observation")} == {f"Patient/{mine}"}
    job = DigitizeJob.objects.get()
    status = _answer(FhirRequest(method="GET", base_url="http://testserver/fhir", access=access), job.id)
    assert status.status == 200
    stranger = Access(client_id="app2", scopes=parse_scopes("patient/*.rs"), launch_patient=other)
    with pytest.raises(FhirError) as refused:
        _answer(FhirRequest(method="GET", base_url="http://testserver/fhir", access=stranger), job.id)
    assert refused.value.status == 404  # another patient's job is answered as no job at all: no oracle


@pytest.mark.django_db
def test_too_many_pages_is_413_from_the_reader_process_and_keeps_the_original(client, settings):
    layout = LAYOUTS["multipage"]
    pdf = render_pdf(layout.report(3), layout)
    settings.INGESTION = {**settings.INGESTION, "MAX_PAGES": 1}
    response = post_multipart(client, pdf)
    assert response.status_code == 413
    assert "pages; the limit is 1" in response.json()["issue"][0]["diagnostics"]
    assert count("DocumentReference") == 1 and count("Observation") == 0


@pytest.mark.django_db
def test_a_form_may_name_its_file_field_otherwise_and_curl_defaults_are_fine(client, fhir, report_pdf):
    from io import BytesIO

    truth, pdf = report_pdf
    upload = BytesIO(pdf)
    upload.name = "lab.pdf"
    response = client.post(URL, {"report": upload, "category": "CH"})
    assert response.status_code == 200, response.content
    [report] = resources(response.json(), "DiagnosticReport")
    assert any(c["coding"][0]["code"] == "CH" for c in report["category"])
    # `curl --data-binary @report.pdf` labels the body application/x-www-form-urlencoded: the bytes decide.
    response = fhir.post(URL, pdf + b"\n", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and len(resources(response.json(), "Observation")) == len(truth.rows)
