"""The fault suite: workers killed mid-transaction, mid-`$digitize` and with audit records unstored, the database taken
away and brought back, and the job folder's disk full. Each asserts nothing is lost or half-written
and that the server recovers by itself (gunicorn brings workers back; connections are reopened).

Workers are stopped at a known point by holding a table lock from the test (the worker blocks on it
inside its transaction), then killed with SIGKILL: no code in the server knows it is being tested.
"""
from __future__ import annotations

import signal
import threading
import time

import psycopg2
import pytest
import requests
from django.db import connection

from fhirserver.security.models import AuditRecord
from fhirserver.storage.models import ResourceRecord
from ingestion.models import DigitizeJob
from tests.harness.conftest import HARNESS_ENV
from tests.harness.server import Server, database_url
from tests.harness.tcpproxy import TcpProxy

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    # `make test` and CI run on PostgreSQL; a run on SQLite must say it cannot do these, not pass them.
    assert connection.vendor == "postgresql", "the fault suite drives PostgreSQL sessions (locks, connections)"


def _dsn() -> str:
    return database_url(connection.settings_dict).replace("postgres://", "postgresql://")


class TableLock:
    """ACCESS EXCLUSIVE on a table, held by a connection of the test until released."""

    def __init__(self, table: str):
        self.connection = psycopg2.connect(_dsn())
        self.connection.cursor().execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")

    def release(self) -> None:
        self.connection.rollback()
        self.connection.close()


def _blocked_backends(timeout: float = 60, count: int = 1) -> None:
    """Wait until `count` server sessions are waiting for the test's lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                           [connection.settings_dict["NAME"]])
            if cursor.fetchone()[0] >= count:
                return
        time.sleep(0.1)
    raise AssertionError("the server never reached the locked table")


def _kill_workers(server: Server) -> None:
    for worker in server.workers():
        for child in worker.children(recursive=True):
            child.kill()
        worker.send_signal(signal.SIGKILL)


def _in_background(send) -> threading.Thread:
    def run():
        try:
            send()
        except requests.RequestException:
            pass  # its worker died: that is the point
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _observations(text: str) -> int:
    return sum(1 for r in ResourceRecord.objects.filter(resource_type="Observation", deleted=False)
               if r.content.get("code", {}).get("text") == text)


@pytest.fixture
def faulty(django_db_setup, django_db_blocker):
    server = Server(database_url(connection.settings_dict), workers=2, env=HARNESS_ENV)
    yield server
    server.stop()


def test_a_worker_killed_mid_transaction_leaves_nothing_half_written(faulty, two_patients, token_for):
    headers = {"Authorization": f"Bearer {token_for('system/*.cruds')}", "Content-Type": "application/fhir+json"}
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "POST", "url": "Observation"},
         "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "fault-tx"},
                      "subject": {"reference": "Patient/a"}, "valueQuantity": {"value": i}}} for i in range(50)]}
    lock = TableLock("search_token")
    try:
        sender = _in_background(lambda: faulty.request("POST", "/fhir", json=bundle, headers=headers, timeout=60))
        _blocked_backends()
        _kill_workers(faulty)
    finally:
        lock.release()
    sender.join(30)
    time.sleep(1)
    assert _observations("fault-tx") == 0  # the dead worker's transaction never commits
    faulty.wait_workers(2)
    again = faulty.request("POST", "/fhir", json=bundle, headers=headers)
    assert again.status_code == 200, again.text[:300]
    assert _observations("fault-tx") == 50


def test_a_worker_killed_right_after_answering_loses_no_audit_record(faulty, two_patients, token_for):
    """Records are spooled before the answer leaves the worker; the audit table is locked, so none is
    stored yet when every worker is killed. The new workers reclaim the dead ones' spools: every
    record arrives, each once (a drainer killed inside its INSERT may commit it or not)."""
    headers = {"Authorization": f"Bearer {token_for('system/*.rs')}"}
    lock = TableLock("security_auditrecord")
    try:
        for _ in range(4):  # answered at once, though no audit row can be written
            assert faulty.get("/fhir/Patient/a", headers=headers, timeout=30).status_code == 200
        _blocked_backends(count=1)  # a drainer waits in its INSERT: the records are only in the spools
        killed = {w.pid for w in faulty.workers()}
        _kill_workers(faulty)
    finally:
        lock.release()
    deadline = time.monotonic() + 60  # until gunicorn has reaped them (a zombie still counts as a child)
    while killed & {w.pid for w in faulty.workers()} and time.monotonic() < deadline:
        time.sleep(0.1)
    faulty.wait_workers(2)
    for _ in range(4):
        assert faulty.get("/fhir/Patient/a", headers=headers).status_code == 200
    deadline = time.monotonic() + 30
    while AuditRecord.objects.count() < 8 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)  # a second copy of a record, if one were stored, would show up by now
    rows = list(AuditRecord.objects.all())
    assert len(rows) == 8, [(r.pk, r.key) for r in rows]
    assert len({r.key for r in rows}) == 8 and all(r.key for r in rows)
    assert all(r.status == 200 and r.path == "/fhir/Patient/a" and r.client_id for r in rows)


def test_a_worker_killed_mid_digitize_stores_the_report_once_after_recovery(faulty, two_patients, as_patient):
    headers = {**as_patient("a"), "Content-Type": "application/pdf", "Prefer": "respond-async"}
    pdf = lab_report_pdf()
    _in_background(lambda: faulty.request("POST", "/fhir/DiagnosticReport/$digitize", data=pdf, headers=headers))
    deadline = time.monotonic() + 60
    while not DigitizeJob.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    lock = TableLock("search_token")  # the job's result transaction blocks on it
    try:
        job = DigitizeJob.objects.get()
        _blocked_backends(timeout=120)
        _kill_workers(faulty)
    finally:
        lock.release()
    time.sleep(1)
    assert not ResourceRecord.objects.filter(resource_type="DiagnosticReport").exclude(
        logical_id__in=["rep-a", "rep-b"]).exists()
    assert ResourceRecord.objects.filter(resource_type="DocumentReference").count() == 1  # the original is kept
    faulty.wait_workers(2)
    time.sleep(int(HARNESS_ENV["INGESTION_STALE_AFTER_SECONDS"]) + 1)
    deadline = time.monotonic() + 180
    status = None
    while time.monotonic() < deadline:
        status = faulty.get(f"/fhir/_jobs/{job.id}", headers=as_patient("a"))
        if status.status_code != 202:
            break
        time.sleep(1)
    assert status is not None and status.status_code < 500, status.text[:300] if status is not None else None
    job.refresh_from_db()
    assert job.finished and job.attempts >= 2
    assert ResourceRecord.objects.filter(resource_type="DocumentReference").count() == 1
    assert ResourceRecord.objects.filter(resource_type="DiagnosticReport").exclude(
        logical_id__in=["rep-a", "rep-b"]).count() <= 1


def test_a_failing_page_image_store_costs_the_storage_never_the_page_image(monkeypatch, two_patients):
    """Page images are stored in the database when the document is read (review.pages); when that store
    fails, the review page renders and serves them anyway and leaves no partial set behind."""
    from django.db import DatabaseError

    from review.models import PageImage
    from review.pages import page_png

    job = _read_job(lab_report_pdf())
    PageImage.objects.filter(job=job).delete()  # as if storing them at read time had failed
    real = PageImage.objects.bulk_create

    def full(*args, **kwargs):
        raise DatabaseError("could not extend file: No space left on device")

    monkeypatch.setattr(PageImage.objects, "bulk_create", full)
    image = page_png(job, 1)
    assert image.startswith(b"\x89PNG")
    assert not PageImage.objects.filter(job=job).exists()  # nothing half-written
    monkeypatch.setattr(PageImage.objects, "bulk_create", real)
    assert page_png(job, 1) == image and bytes(PageImage.objects.get(job=job, number=1).data) == image


def test_the_database_taken_away_and_brought_back(two_patients, token_for):
    """PostgreSQL goes away (every connection dropped, new ones refused) and comes back: meanwhile the
    API and the token endpoint answer 503 with Retry-After, a write sent then is not half-stored, and
    afterwards the same workers serve again without a restart. The machine's PostgreSQL is never
    stopped (other sessions use it): a TCP forwarder between the server and it is."""
    settings = connection.settings_dict
    proxy = TcpProxy((settings.get("HOST") or "127.0.0.1", int(settings.get("PORT") or 5432)))
    through_proxy = database_url({**settings, "HOST": "127.0.0.1", "PORT": proxy.port})
    server = Server(through_proxy, workers=2, env=HARNESS_ENV)
    headers = {"Authorization": f"Bearer {token_for('system/*.cruds')}", "Content-Type": "application/fhir+json"}
    try:
        assert server.get("/fhir/Patient/a", headers=headers).status_code == 200
        workers = {w.pid for w in server.workers()}
        proxy.down()
        for path in ("/fhir/Patient/a", "/fhir/Observation?subject=Patient/a", "/fhir/metadata"):
            response = server.get(path, headers=headers)
            if path.endswith("metadata") and response.status_code == 200:
                continue  # the CapabilityStatement needs no database
            assert response.status_code == 503, (path, response.status_code, response.text[:300])
            assert response.headers.get("Retry-After") and response.json()["resourceType"] == "OperationOutcome"
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"request": {"method": "POST", "url": "Observation"},
             "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "outage-tx"},
                          "subject": {"reference": "Patient/a"}}} for _ in range(5)]}
        assert server.request("POST", "/fhir", json=bundle, headers=headers).status_code == 503
        token = server.request("POST", "/oauth2/token", data={"grant_type": "client_credentials"})
        assert token.status_code == 503 and token.headers.get("Retry-After")
        proxy.up()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if server.get("/fhir/Patient/a", headers=headers).status_code == 200:
                break
            time.sleep(0.5)
        assert server.get("/fhir/Patient/a", headers=headers).status_code == 200
        assert {w.pid for w in server.workers()} == workers  # recovered by itself, no worker restarted
        assert _observations("outage-tx") == 0  # the write sent during the outage left nothing behind
        assert server.request("POST", "/fhir", json=bundle, headers=headers).status_code == 200
        assert _observations("outage-tx") == 5
    finally:
        server.stop()
        proxy.down()


def lab_report_pdf() -> bytes:
    from evaluation.corpus.layouts import LAYOUTS
    from evaluation.corpus.render import render_pdf

    layout = LAYOUTS["hospital-grid"]
    return render_pdf(layout.report(2), layout)


def _read_job(pdf: bytes) -> DigitizeJob:
    from ingestion import digitize
    from ingestion.edge.jobs.pool import read_direct
    from ingestion.edge.uploads import Upload

    job, _ = digitize.submit(Upload(data=pdf, media_type="application/pdf", subject="Patient/a"),
                             base_url="http://testserver/fhir")
    return digitize.run(job.id, stages=digitize.default_stages(read=read_direct))
