"""Issue 19, items 4, 6, 7 and 8, reproduced through HTTP against `make serve` (gunicorn, 2 workers,
production settings) on the test database."""
from __future__ import annotations

import time
import uuid

import pytest
from django.db import connection

from fhirserver.security.models import AuditRecord
from fhirserver.storage import repository
from ingestion.models import DigitizeJob
from tests.harness.conftest import outcome
from tests.harness.server import Server, database_url

pytestmark = pytest.mark.django_db(transaction=True)


def _fhir(headers: dict | None = None) -> dict:
    return {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json", **(headers or {})}


# --- item 4: conditional writes in every form answer only from what the token may see ------------------
def test_conditional_forms_in_batches_and_transactions_see_only_the_tokens_patient(server, two_patients, as_patient):
    a = _fhir(as_patient("a"))
    batch = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"request": {"method": "DELETE", "url": "Observation?subject=Patient/b"}},
        {"request": {"method": "DELETE", "url": "Condition?patient=b&code:text=Diabetes"}},
        {"request": {"method": "PATCH", "url": "Observation?_id=lab-b"},
         "resource": {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
             {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Observation.status"},
             {"name": "value", "valueCode": "cancelled"}]}]}},
        {"request": {"method": "POST", "url": "Observation", "ifNoneExist": "_id=lab-b"},
         "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "Mine"},
                      "subject": {"reference": "Patient/a"}}},
    ]}
    response = server.request("POST", "/fhir", json=batch, headers=a)
    assert response.status_code == 200, response.text[:300]
    statuses = [e["response"]["status"] for e in response.json()["entry"]]
    # the same answer as for a condition that fits nobody
    assert statuses[0].startswith("204") and statuses[1].startswith("204")
    assert statuses[2].startswith("404")
    assert statuses[3].startswith("201")  # B's Observation is no match: A's own is created
    assert not repository.current("Observation", "lab-b").deleted
    assert not repository.current("Condition", "cond-b").deleted
    assert repository.read("Observation", "lab-b").content["status"] == "amended"


def test_conditional_reference_to_b_in_a_transaction_is_no_match(server, two_patients, as_patient):
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "POST", "url": "Observation"},
         "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                      "subject": {"reference": "Patient?identifier=urn:mrn|mrn-b"}}}]}
    outcome(server.request("POST", "/fhir", json=bundle, headers=_fhir(as_patient("a"))), 404)


def test_conditional_update_in_a_transaction_cannot_take_b(server, two_patients, as_patient):
    before = repository.read("Observation", "lab-b").content
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "request": {"method": "PUT", "url": "Observation?code=nomatch"},
         "resource": {"resourceType": "Observation", "id": "lab-b", "status": "final", "code": {"text": "Taken"},
                      "subject": {"reference": "Patient/a"}}}]}
    outcome(server.request("POST", "/fhir", json=bundle, headers=_fhir(as_patient("a"))), (403, 409))
    assert repository.read("Observation", "lab-b").content == before


# --- item 6: another patient's $digitize job is nobody's business ---------------------------------------
def _job(patient: str, status: str) -> DigitizeJob:
    return DigitizeJob.objects.create(
        content_hash=uuid.uuid4().hex, subject=f"Patient/{patient}", patient=f"Patient/{patient}", status=status,
        media_type="application/pdf", base_url="http://testserver/fhir", binary_id="x", document_reference_id="y",
        result={"resourceType": "Bundle", "type": "collection", "entry": []} if status == "done" else None)


def test_another_patients_job_answers_404_to_get_and_delete(server, two_patients, as_patient):
    a = as_patient("a")
    for status in ("running", "queued", "done", "failed"):
        job = _job("b", status)
        for method in ("GET", "DELETE"):
            body = outcome(server.request(method, f"/fhir/_jobs/{job.id}", headers=a), 404)
            assert body["issue"][0]["details"]["coding"][0]["code"] == "DIGITIZE_JOB_UNKNOWN"
        job.refresh_from_db()
        assert job.status == status and not job.cancel_requested
    unknown = outcome(server.request("DELETE", f"/fhir/_jobs/{uuid.uuid4()}", headers=a), 404)
    assert unknown["issue"][0]["diagnostics"].startswith("No digitize job")


def test_own_jobs_can_still_be_cancelled(server, two_patients, as_patient):
    a = as_patient("a")
    running, done = _job("a", "running"), _job("a", "done")
    assert server.request("DELETE", f"/fhir/_jobs/{running.id}", headers=a).status_code == 202
    running.refresh_from_db()
    assert running.cancel_requested
    outcome(server.request("DELETE", f"/fhir/_jobs/{done.id}", headers=a), 409)


# --- item 7: a crafted id is audited and poisons nothing ------------------------------------------------
def test_a_65_character_id_is_audited_and_the_next_requests_succeed(server, two_patients, as_patient):
    crafted = "x" * 65
    for _ in range(6):  # reaches both workers
        outcome(server.get(f"/fhir/Patient/{crafted}"), 401)
    reader = as_patient("a", "patient/*.rs")
    statuses = [server.get("/fhir/Patient/a", headers=reader).status_code for _ in range(45)]
    assert statuses == [200] * 45
    deadline = time.monotonic() + 10  # records reach the table in the audit spool's batches (docs/security.md)
    while (AuditRecord.objects.filter(status=401, resource_id=crafted[:64]).count() < 6
           or AuditRecord.objects.filter(status=200, resource_id="a").count() < 45) and time.monotonic() < deadline:
        time.sleep(0.2)
    rows = AuditRecord.objects.filter(status=401, resource_type="Patient", resource_id=crafted[:64])
    assert rows.count() == 6 and rows.first().patient == crafted[:64]
    assert AuditRecord.objects.filter(status=200, resource_id="a").count() >= 40


# --- item 8: bounded work -------------------------------------------------------------------------------
@pytest.mark.parametrize("query, code", [
    ("&".join(["name=a"] * 192), "LIMIT_PARAMETERS"),
    ("_id=" + ",".join(f"x{i}" for i in range(500)), "LIMIT_OR_VALUES"),
    ("general-practitioner:Practitioner.organization.partof.partof.name=x", "LIMIT_CHAIN_DEPTH"),
    ("&".join(f"_has:Observation:subject:code=c{i}" for i in range(5)), "LIMIT_HAS"),
    ("_sort=" + ",".join(["name", "-birthdate"] * 500), "LIMIT_SORT_KEYS"),
    ("_filter=" + "(" * 3000 + "name eq x" + ")" * 3000, "LIMIT_FILTER"),
])
def test_unbounded_searches_are_refused_at_once(server, two_patients, as_patient, query, code):
    headers = as_patient("a", "patient/*.rs")
    for method in ("GET", "POST"):
        started = time.monotonic()
        if method == "GET":
            response = server.get(f"/fhir/Patient?{query}", headers=headers)
        else:
            response = server.request("POST", "/fhir/Patient/_search", data=query,
                                      headers={**headers, "Content-Type": "application/x-www-form-urlencoded"})
        body = outcome(response, 400)
        assert body["issue"][0]["code"] == "too-costly"
        assert body["issue"][0]["details"]["coding"][0]["code"] == code
        assert time.monotonic() - started < 10


def test_a_batch_of_too_many_entries_is_413(server, two_patients, as_patient):
    bundle = {"resourceType": "Bundle", "type": "batch",
              "entry": [{"request": {"method": "GET", "url": "Patient/a"}}] * 6000}
    body = outcome(server.request("POST", "/fhir", json=bundle, headers=_fhir(as_patient("a"))), 413)
    assert body["issue"][0]["details"]["coding"][0]["code"] == "LIMIT_BUNDLE_ENTRIES"


def test_long_urls_are_an_operation_outcome_under_gunicorn(server):
    body = outcome(server.get("/fhir/Patient?name=" + "a" * 9000), 414)
    assert body["issue"][0]["code"] == "too-costly"


def _running_queries(database: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE datname = %s AND state = 'active' AND pid <> "
                       "pg_backend_pid()", [database])
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture
def slow_search_data(two_patients):
    for i in range(400):
        repository.create("Patient", {"resourceType": "Patient", "name": [{"family": f"F{i}", "given": ["a"]}]})


def test_a_statement_past_the_timeout_is_stopped_and_leaves_no_query_running(slow_search_data, token_for):
    # PostgreSQL's statement timeout; SQLite's progress handler is tested in tests/harness/test_sqlite.py
    assert connection.vendor == "postgresql"
    database = connection.settings_dict["NAME"]
    server = Server(database_url(connection.settings_dict), workers=2, env={
        "FHIR_STATEMENT_TIMEOUT_SECONDS": "0.5", "FHIR_MAX_PARAMETERS": "1000"})
    try:
        headers = {"Authorization": f"Bearer {token_for('system/*.rs')}"}
        started = time.monotonic()
        response = server.get("/fhir/Patient?" + "&".join(["name=a"] * 300), headers=headers)
        body = outcome(response, 422)
        assert body["issue"][0]["details"]["coding"][0]["code"] == "LIMIT_STATEMENT_TIME"
        assert time.monotonic() - started < 30
        time.sleep(1)
        assert not [q for q in _running_queries(database) if "search_" in q or "storage_" in q]
        assert server.get("/fhir/Patient?name=a&_count=1", headers=headers).status_code == 200
    finally:
        server.stop()


def test_a_killed_worker_leaves_no_query_behind(slow_search_data, token_for):
    """gunicorn kills a worker past its timeout; PostgreSQL must notice and stop that worker's query."""
    assert connection.vendor == "postgresql", "this test watches PostgreSQL sessions"
    database = connection.settings_dict["NAME"]
    server = Server(database_url(connection.settings_dict), workers=1, timeout=3, env={
        "FHIR_STATEMENT_TIMEOUT_SECONDS": "600", "FHIR_REQUEST_DATABASE_SECONDS": "600", "FHIR_MAX_PARAMETERS": "1000",
        "FHIR_CLIENT_CHECK_MS": "500"})
    try:
        headers = {"Authorization": f"Bearer {token_for('system/*.rs')}"}
        with pytest.raises(Exception):  # the worker dies under the request
            server.get("/fhir/Patient?" + "&".join(["name=a"] * 600), headers=headers, timeout=20)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and [q for q in _running_queries(database) if "search_" in q]:
            time.sleep(0.5)
        assert not [q for q in _running_queries(database) if "search_" in q]
        server.wait_workers(1)
        assert server.get("/fhir/Patient?name=a&_count=1", headers=headers).status_code == 200
    finally:
        server.stop()


def test_database_errors_are_never_a_500_for_client_input(server, two_patients, as_patient):
    """Values the validators let through and no database can store (here a NUL in a search) are 400."""
    headers = as_patient("a", "patient/*.rs")
    outcome(server.get("/fhir/Patient?name=%00", headers=headers), 400)
    outcome(server.get("/fhir/Patient?_id=a%00b", headers=headers), 400)
