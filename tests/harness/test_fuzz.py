"""The fuzz suite: generated search queries, Bundles and uploads against `make serve`, under a token for
Patient/a. Every answer must be: no 5xx; every 4xx an OperationOutcome; no slower than the configured
bound; and never a resource of Patient/b.

A fixed seed and FUZZ_EXAMPLES (default 40) examples per family in `make test`; `make fuzz` runs more
(FUZZ_EXAMPLES=1500) with a seed of its own (FUZZ_SEED). Each family's figures (tried, passed, failed)
go to var/harness-figures.json, the source of the table in docs/security.md.
"""
from __future__ import annotations

import json
import os
import time

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from tests.harness import pdfs
from tests.harness.conftest import HARNESS_ENV
from tests.harness.server import ROOT, Server, database_url

pytestmark = pytest.mark.django_db(transaction=True)
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
SEED = int(os.environ.get("FUZZ_SEED", "19"))
BOUND_SECONDS = 5  # the fuzz server's database time per request (FHIR_REQUEST_DATABASE_SECONDS)
GRACE_SECONDS = 25  # time outside the database on a shared, loaded machine (OCR of an upload included)
B_RECORD = {"b", "enc-b", "lab-b", "vital-b", "cond-b", "rep-b"}
FIGURES = ROOT / "var" / "harness-figures.json"
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
figures: dict[str, dict[str, int]] = {}


@pytest.fixture(scope="module")
def fuzz_server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        url = database_url(connection.settings_dict)
    running = Server(url, workers=2, env={**HARNESS_ENV, "FHIR_REQUEST_DATABASE_SECONDS": str(BOUND_SECONDS),
                                          "FHIR_STATEMENT_TIMEOUT_SECONDS": "2"})
    yield running
    running.stop()
    previous = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    FIGURES.write_text(json.dumps({**previous, **figures, "_examples": EXAMPLES, "_seed": SEED}, indent=2))


def check(family: str, response, started: float) -> None:
    """The four properties, counted for the figures before they are asserted (so a failure is shrunk)."""
    counts = figures.setdefault(family, {"tried": 0, "passed": 0, "failed": 0})
    counts["tried"] += 1
    elapsed = time.monotonic() - started
    problems = []
    if response.status_code >= 500:
        problems.append(f"{response.status_code}: {response.text[:300]}")
    body = None
    try:
        body = response.json()
    except ValueError:
        if response.status_code >= 400:
            problems.append(f"{response.status_code} without an OperationOutcome: {response.text[:200]}")
    if response.status_code >= 400 and isinstance(body, dict) and body.get("resourceType") != "OperationOutcome":
        problems.append(f"{response.status_code} answered with a {body.get('resourceType')}")
    if elapsed > BOUND_SECONDS + GRACE_SECONDS:
        problems.append(f"took {elapsed:.1f} s")
    leaked = _of_b(body)
    if leaked:
        problems.append(f"resources of Patient/b: {leaked}")
    counts["failed" if problems else "passed"] += 1
    assert not problems, problems


def _of_b(body) -> list[str]:
    if not isinstance(body, dict):
        return []
    resources = [body] + [e.get("resource") for e in body.get("entry") or [] if isinstance(e, dict)]
    found = []
    for resource in resources:
        if not isinstance(resource, dict) or resource.get("resourceType") in (None, "Bundle", "OperationOutcome"):
            continue
        text = json.dumps(resource)
        if resource.get("id") in B_RECORD or '"Patient/b"' in text:
            found.append(f"{resource['resourceType']}/{resource.get('id')}")
    return found


# --- search parameters -------------------------------------------------------------------------------
TYPES = ["Patient", "Observation", "Condition", "Encounter", "DiagnosticReport", "DocumentReference"]
NAMES = ["_id", "name", "family", "birthdate", "gender", "identifier", "code", "subject", "patient", "date",
         "value-quantity", "category", "status", "encounter", "performer", "_lastUpdated", "_text", "_content",
         "_has:Observation:subject:code", "subject:Patient.name", "subject.name", "performer:Patient.birthdate",
         "_include", "_revinclude", "_sort", "_count", "_summary", "_elements", "_total", "_filter", "_type",
         "code:text", "code:not", "code:in", "code:below", "name:exact", "name:contains", "birthdate:missing",
         "subject:missing", "has-member:Observation.code", "_include:iterate", "component-code-value-quantity"]
PIECES = ["a", "b", "Patient/b", "Patient/a", "lab-b", "2345-7", "http://loinc.org|2345-7", "|", "||", ",", "\\",
          "\\,", "$", "ge2024", "lt1900-13-45", "eq5.5|http://unitsofmeasure.org|mmol/L", "*", "Observation:subject",
          "DiagnosticReport:result", "(", ")", "name eq \"x\"", "subject.name co 'x'", "-date", "99999999999999999999",
          "%", "'; DROP TABLE x;--", "\u00e9", "\U0001F600", "\x00", "true", "false", "count", "Bundle", "text"]
values = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=12)), min_size=0, max_size=4).map("".join)
queries = st.lists(st.tuples(st.sampled_from(NAMES) | st.text(min_size=1, max_size=10), values), max_size=8)


@seed(SEED)
@FUZZ
@given(resource_type=st.sampled_from(TYPES), query=queries, compartment=st.booleans())
def test_fuzz_search_parameters(fuzz_server, fuzz_world, resource_type, query, compartment):
    from urllib.parse import urlencode

    in_a = compartment and resource_type != "Patient"
    path = f"/fhir/Patient/a/{resource_type}" if in_a else f"/fhir/{resource_type}"
    started = time.monotonic()
    response = fuzz_server.get(f"{path}?{urlencode(query)}", headers=fuzz_world["a"])
    check("search parameters", response, started)


# --- Bundles -------------------------------------------------------------------------------------------
references = st.sampled_from(["Patient/a", "Patient/b", "Encounter/enc-b", "Observation/lab-b", "Practitioner/doc",
                              "urn:uuid:11111111-1111-4111-8111-111111111111", "Patient?identifier=urn:mrn|mrn-b",
                              "#x", "", "Patient/"])
resources = st.fixed_dictionaries({
    "resourceType": st.sampled_from(["Observation", "Condition", "Patient", "Encounter", "Bogus"]),
    "status": st.sampled_from(["final", "amended", 5, None]),
    "code": st.fixed_dictionaries({"text": st.text(max_size=8)}),
    "subject": st.fixed_dictionaries({"reference": references}),
}, optional={"id": st.sampled_from(["lab-b", "b", "new-one", "x" * 70, ""]),
             "performer": st.lists(st.fixed_dictionaries({"reference": references}), max_size=2)})
urls = st.sampled_from(["Observation", "Observation/lab-b", "Patient/b", "Observation?subject=Patient/b",
                        "Observation?code=|", "Condition?patient=b&code:text=Diabetes", "Patient/a/$everything",
                        "Observation/lab-a", "metadata", "Observation?_has:Condition:subject:code=x", "../x", ""])
entries = st.fixed_dictionaries({
    "request": st.fixed_dictionaries({"method": st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]),
                                      "url": urls}, optional={"ifNoneExist": st.sampled_from(["_id=lab-b", "x="])}),
}, optional={"resource": resources, "fullUrl": st.sampled_from(["urn:uuid:11111111-1111-4111-8111-111111111111"])})
bundles = st.fixed_dictionaries({"resourceType": st.just("Bundle"),
                                 "type": st.sampled_from(["transaction", "batch", "collection"]),
                                 "entry": st.lists(entries, max_size=6)})


@seed(SEED)
@FUZZ
@given(bundle=bundles)
def test_fuzz_bundles(fuzz_server, fuzz_world, bundle):
    started = time.monotonic()
    response = fuzz_server.request("POST", "/fhir", data=json.dumps(bundle),
                                   headers={**fuzz_world["a"], "Content-Type": "application/fhir+json"})
    check("Bundles", response, started)
    assert _b_unchanged(fuzz_world)


def _b_unchanged(world) -> bool:
    from fhirserver.storage import repository

    return all(repository.current(t, i).version == v for (t, i), v in world["b_versions"].items())


# --- uploads ---------------------------------------------------------------------------------------------
SMALL_PDF = pdfs.broken_media_box(b"[0 0 595 842]")
documents = st.one_of(
    st.binary(max_size=2048),
    st.builds(lambda cut: SMALL_PDF[:cut], st.integers(0, len(SMALL_PDF))),
    st.builds(lambda at, junk: SMALL_PDF[:at] + junk + SMALL_PDF[at:], st.integers(0, len(SMALL_PDF)),
              st.binary(min_size=1, max_size=64)),
    st.sampled_from([b"%PDF-", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"PK\x03\x04", b"<html>"]),
)
shapes = st.sampled_from(["raw", "multipart", "parameters"])


@seed(SEED)
@FUZZ
@given(document=documents, shape=shapes, media=st.sampled_from(["application/pdf", "image/png", "text/plain", ""]),
       filename=st.text(max_size=20), subject=st.sampled_from([None, "Patient/a", "Patient/b", "Patient/", "x"]))
def test_fuzz_uploads(fuzz_server, fuzz_world, document, shape, media, filename, subject):
    import base64

    headers = dict(fuzz_world["a"])
    if shape == "raw":
        data, headers["Content-Type"] = document, media or "application/octet-stream"
    elif shape == "multipart":
        boundary = "fuzzboundary"
        safe_name = filename.replace('"', "").replace("\r", "").replace("\n", "")
        data = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{safe_name}\"\r\n"
                f"Content-Type: {media}\r\n\r\n").encode("utf-8", "replace") + document + \
            (f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"subject\"\r\n\r\n{subject or ''}"
             f"\r\n--{boundary}--\r\n").encode()
        headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    else:
        parameter = [{"name": "document", "valueAttachment": {"contentType": media,
                                                              "data": base64.b64encode(document).decode()}}]
        if subject:
            parameter.append({"name": "subject", "valueReference": {"reference": subject}})
        data, headers["Content-Type"] = json.dumps({"resourceType": "Parameters", "parameter": parameter}), \
            "application/fhir+json"
    started = time.monotonic()
    response = fuzz_server.request("POST", "/fhir/DiagnosticReport/$digitize", data=data, headers=headers,
                                   timeout=300)
    check("uploads", response, started)


@pytest.fixture
def fuzz_world(two_patients, token_for):
    from fhirserver.storage import repository

    versions = {(r["resourceType"], r["id"]): repository.current(r["resourceType"], r["id"]).version
                for r in two_patients["b"]}
    return {"a": {"Authorization": f"Bearer {token_for('patient/*.cruds', patient='a')}"}, "b_versions": versions}

