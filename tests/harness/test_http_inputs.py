"""Issue 19, item 9 and the bad-input items: what used to be a 500 (or a reader at 2.8 GB) is a 4xx
OperationOutcome, through HTTP against `make serve`, and an upload's original is kept."""
from __future__ import annotations

import base64
import json

import pytest

from fhirserver.storage.models import ResourceRecord
from tests.harness import pdfs
from tests.harness.conftest import outcome

pytestmark = pytest.mark.django_db(transaction=True)
FHIR_JSON = {"Content-Type": "application/fhir+json"}
DIGITIZE = "/fhir/DiagnosticReport/$digitize"


def _code(body: dict) -> str:
    return body["issue"][0]["details"]["coding"][0]["code"]


# --- JSON bodies ------------------------------------------------------------------------------------
def test_nul_in_a_json_string_is_400_with_its_path(server, two_patients, as_patient):
    body = '{"resourceType":"Patient","name":[{"family":"Ev\\u0000e"}]}'
    answer = outcome(server.request("POST", "/fhir/Patient", data=body, headers={**as_patient("a"), **FHIR_JSON}), 400)
    assert answer["issue"][0]["expression"] == ["Patient.name[0].family"]
    escaped = '{"resourceType":"Patient","name":[{"family":"Back\\\\u0000slash"}]}'  # a backslash, then text
    assert server.request("POST", "/fhir/Patient", data=escaped,
                          headers={**as_patient("a"), **FHIR_JSON}).status_code in (201, 403)


def test_deep_json_is_400_and_never_parsed_without_a_token(server, two_patients, as_patient):
    deep = '{"resourceType":"Patient","extension":' + "[" * 10000 + "]" * 10000 + "}"
    outcome(server.request("POST", "/fhir/Patient", data=deep, headers=FHIR_JSON), 401)
    body = outcome(server.request("POST", "/fhir/Patient", data=deep, headers={**as_patient("a"), **FHIR_JSON}), 400)
    assert _code(body) == "LIMIT_JSON_DEPTH"


def test_two_thousand_nested_extensions_are_400(server, two_patients, as_patient):
    nested = '{"url":"http://x/e","extension":[' * 2000 + '{"url":"http://x/e","valueString":"leaf"}' + "]}" * 2000
    patient = '{"resourceType":"Patient","extension":[' + nested + "]}"
    body = outcome(server.request("POST", "/fhir/Patient", data=patient, headers={**as_patient("a"), **FHIR_JSON}),
                   400)
    assert _code(body) == "LIMIT_JSON_DEPTH"


def test_reasonably_nested_resources_still_validate(server, two_patients, as_patient):
    extension: dict = {"url": "http://x/e", "valueString": "leaf"}
    for _ in range(20):
        extension = {"url": "http://x/e", "extension": [extension]}
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                   "subject": {"reference": "Patient/a"}, "extension": [extension]}
    response = server.request("POST", "/fhir/Observation", data=json.dumps(observation),
                              headers={**as_patient("a"), **FHIR_JSON})
    assert response.status_code == 201, response.text[:300]


# --- $digitize requests of the wrong shape ---------------------------------------------------------------
@pytest.mark.parametrize("parameters", [
    {"resourceType": "Parameters", "parameter": {}},
    {"resourceType": "Parameters", "parameter": [1, 2]},
    {"resourceType": "Parameters", "parameter": [{"name": "document", "valueAttachment": {"data": 5}}]},
    {"resourceType": "Parameters", "parameter": [
        {"name": "document", "valueAttachment": {"contentType": "application/pdf", "data": "JVBERi0="}},
        {"name": "subject", "valueReference": 5}]},
    {"resourceType": "Parameters", "parameter": [
        {"name": "document", "valueAttachment": {"contentType": "application/pdf", "data": "JVBERi0="}},
        {"name": "category", "valueCodeableConcept": {"coding": 7}}]},
])
def test_digitize_parameters_of_the_wrong_shape_are_400(server, two_patients, as_patient, parameters):
    outcome(server.request("POST", DIGITIZE, data=json.dumps(parameters), headers={**as_patient("a"), **FHIR_JSON}),
            400)


def test_a_multipart_filename_with_nul_is_stored_without_it(server, two_patients, as_patient):
    pdf = pdfs.broken_media_box(b"[0 0 595 842]")
    boundary = "xyzzy"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"lab\x00.pdf\"\r\n"
            "Content-Type: application/pdf\r\n\r\n").encode() + pdf + f"\r\n--{boundary}--\r\n".encode()
    response = server.request("POST", DIGITIZE, data=body, timeout=300, headers={
        **as_patient("a"), "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code < 500, response.text[:300]
    titles = [r.content["content"][0]["attachment"].get("title", "")
              for r in ResourceRecord.objects.filter(resource_type="DocumentReference")]
    assert titles and all("\x00" not in t for t in titles)


# --- item 9: bombs and broken PDFs -------------------------------------------------------------------
def _digitize(server, headers, pdf: bytes):
    return server.request("POST", DIGITIZE, data=pdf, timeout=300,
                          headers={**headers, "Content-Type": "application/pdf"})


def _originals() -> int:
    return ResourceRecord.objects.filter(resource_type="DocumentReference", deleted=False).count()


@pytest.mark.parametrize("pdf, status, code", [
    (lambda: pdfs.content_bomb(64 << 20), 413, "DOCUMENT_INFLATES_TOO_MUCH"),
    (lambda: pdfs.image_bomb(300 << 20), 413, "DOCUMENT_INFLATES_TOO_MUCH"),
    (lambda: pdfs.many_words(8000), 413, "DOCUMENT_TOO_MANY_WORDS"),
    (pdfs.page_tree_loop, 422, None),
    (lambda: pdfs.broken_media_box(b"[0 0 nan nan]"), 422, None),
    (lambda: pdfs.broken_media_box(b"[0 0 1e999 1e999]"), 422, None),
], ids=["content-bomb", "image-bomb", "8000-words", "page-tree-loop", "nan-mediabox", "inf-mediabox"])
def test_bombs_and_broken_pdfs_are_refused_and_the_original_kept(server, two_patients, as_patient, pdf, status, code):
    data = pdf()
    response = _digitize(server, as_patient("a"), data)
    body = outcome(response, (status, 413, 422) if code is None else status)
    if code:
        assert _code(body) == code
    if response.status_code != 415:
        assert "DocumentReference/" in body["issue"][0]["diagnostics"]
        assert _originals() == 1
        stored = ResourceRecord.objects.get(resource_type="Binary").content
        assert base64.b64decode(stored["data"]) == data


def test_the_reader_is_healthy_after_the_bombs(server, two_patients, as_patient):
    for bomb in (pdfs.content_bomb(64 << 20), pdfs.image_bomb(300 << 20)):
        assert _digitize(server, as_patient("a"), bomb).status_code == 413
    fine = pdfs.broken_media_box(b"[0 0 595 842]")
    assert _digitize(server, as_patient("a"), fine).status_code < 500
