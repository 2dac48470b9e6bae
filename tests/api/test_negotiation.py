"""_format, Accept and Content-Type negotiation, FHIR version parameters, and errors as OperationOutcome."""
import json

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("accept, expected", [
    ("application/fhir+json", "application/fhir+json"),
    ("application/json", "application/json"),
    ("application/fhir+json; fhirVersion=4.0", "application/fhir+json"),
    ("*/*", "application/fhir+json"),
    ("application/fhir+xml;q=0.8, application/fhir+json;q=0.9", "application/fhir+json"),
    ("application/fhir+xml;q=0.9, application/fhir+json;q=0.8", "application/fhir+xml"),
    ("application/fhir+xml", "application/fhir+xml"),
])
def test_accept(client, accept, expected):
    response = client.get("/fhir/metadata", HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == expected


@pytest.mark.parametrize(
    "accept", ["application/fhir+xml; fhirVersion=3.0", "application/fhir+json; fhirVersion=3.0", "image/png"]
)
def test_unservable_accept_is_406(client, accept):
    response = client.get("/fhir/metadata", HTTP_ACCEPT=accept)
    assert response.status_code == 406
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    "fmt, status, media",
    [
        ("json", 200, "application/fhir+json"),
        ("application/fhir+json", 200, "application/fhir+json"),
        ("xml", 200, "application/fhir+xml"),
        ("application/fhir+xml", 200, "application/fhir+xml"),
        ("turtle", 406, "application/fhir+json"),
    ],
)
def test_format_parameter_overrides_accept(client, fmt, status, media):
    response = client.get(
        f"/fhir/metadata?_format={fmt}",
        HTTP_ACCEPT="application/fhir+xml" if "json" in fmt else "application/fhir+json",
    )
    assert response.status_code == status
    assert response["Content-Type"].split(";")[0] == media


def test_pretty(client):
    assert b"\n" in client.get("/fhir/metadata?_pretty=true").content
    assert b"\n" not in client.get("/fhir/metadata").content


@pytest.mark.parametrize("content_type, status", [
    ("application/fhir+json", 201),
    ("application/json", 201),
    ("application/fhir+json; fhirVersion=4.0", 201),
    ("application/fhir+json; fhirVersion=5.0", 415),
    ("application/fhir+xml", 400),  # a JSON body sent as XML is malformed XML (tests/api/test_xml.py for XML)
    ("text/plain", 415),
])
def test_content_type(client, content_type, status):
    response = client.post("/fhir/Patient", data=json.dumps({"resourceType": "Patient"}), content_type=content_type,
                           HTTP_ACCEPT="application/fhir+json")
    assert response.status_code == status
    if status >= 400:
        assert response.json()["resourceType"] == "OperationOutcome"


def test_method_not_allowed(fhir):
    response = fhir.post("Patient/123/_history")
    assert response.status_code == 405
    assert response.json()["resourceType"] == "OperationOutcome"


def test_request_id_echoed_and_generated(client):
    assert client.get("/fhir/metadata", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    assert len(client.get("/fhir/metadata")["X-Request-ID"]) == 32
    assert len(client.get("/fhir/metadata", HTTP_X_REQUEST_ID="bad id\n")["X-Request-ID"]) == 32


def test_request_log_line(client, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="fhirserver.request"):
        client.get("/fhir/Patient/nobody", HTTP_X_REQUEST_ID="log-me")
    records = [
        json.loads(r.getMessage())
        for r in caplog.records
        if r.name == "fhirserver.request" and r.getMessage().startswith("{")
    ]
    line = next(r for r in records if r["request_id"] == "log-me")
    assert line["method"] == "GET" and line["path"] == "/fhir/Patient/nobody" and line["status"] == 404
    assert isinstance(line["duration_ms"], float)


def test_unknown_urls_get_outcome_not_html(client):
    response = client.get("/nothing-here")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_internal_errors_are_outcomes_without_traces(fhir, monkeypatch):
    from fhirserver.core import interactions

    def explode(request):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(interactions, "read", explode)
    response = fhir.get("Patient/x")
    assert response.status_code == 500
    assert b"secret internals" not in response.content and b"Traceback" not in response.content
    assert response.json()["issue"][0]["code"] == "exception"
