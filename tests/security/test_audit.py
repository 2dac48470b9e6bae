"""Audit: every access to patient data recorded (who, which client, what, when, outcome) and served
as AuditEvent resources to administrators only."""
import fcntl
import json
import os
import time
import uuid
from pathlib import Path

import pytest

from fhirserver.security import spool
from fhirserver.security.models import AuditRecord

pytestmark = pytest.mark.django_db


def test_accesses_are_recorded_with_outcome(secure, fhir, two_patients, token_for, bearer):
    token = token_for("patient/*.rs", patient="a")
    fhir.get("Observation/lab-a", **bearer(token))
    fhir.get("Observation/lab-b", **bearer(token))
    fhir.get("Patient/a")  # no token
    rows = list(AuditRecord.objects.order_by("pk"))
    assert [(r.resource_type, r.resource_id, r.status, r.action) for r in rows] == [
        ("Observation", "lab-a", 200, "R"), ("Observation", "lab-b", 403, "R"), ("Patient", "a", 401, "R")]
    assert rows[0].client_id and rows[0].patient == "a" and rows[0].recorded and rows[0].interaction == "read"
    assert rows[2].client_id == "" and rows[2].patient == "a"


def test_admin_searches_audit_events(secure, fhir, two_patients, token_for, bearer):
    app_token = token_for("patient/*.rs", patient="a")
    fhir.get("Observation/lab-a", **bearer(app_token))
    fhir.get("Observation?code=2345-7", **bearer(app_token))
    lab = fhir.get("Observation/lab-a", **bearer(app_token)).json()
    fhir.put("Observation/lab-a", {**lab, "status": "cancelled"}, **bearer(app_token))  # rs only: refused
    admin = bearer(token_for("system/AuditEvent.rs"))
    bundle = fhir.get("AuditEvent?patient=Patient/a", **admin).json()
    assert bundle["resourceType"] == "Bundle" and bundle["total"] == 4
    events = [e["resource"] for e in bundle["entry"]]
    assert {e["action"] for e in events} == {"R", "U"}
    failed = [e for e in events if e["outcome"] != "0"]
    assert len(failed) == 1 and failed[0]["outcomeDesc"] == "HTTP 403"
    read = next(e for e in events if e["subtype"][0]["code"] == "read")
    assert read["entity"][0]["what"]["reference"] == "Observation/lab-a"
    assert read["agent"][0]["altId"] and read["agent"][0]["requestor"] is True
    one = fhir.get(f"AuditEvent/{read['id']}", **admin)
    assert one.status_code == 200 and one.json()["id"] == read["id"]
    assert fhir.get("AuditEvent?outcome=4", **admin).json()["total"] == 1
    assert fhir.get("AuditEvent?date=ge2000-01-01&action=U", **admin).json()["total"] == 1
    assert fhir.get("AuditEvent?altid=nobody", **admin).json()["total"] == 0


def test_audit_events_validate_as_r4(secure, fhir, two_patients, token_for, bearer):
    from fhir.resources.R4B.auditevent import AuditEvent

    fhir.get("Observation/lab-a", **bearer(token_for("patient/*.rs", patient="a")))
    event = fhir.get("AuditEvent", **bearer(token_for("user/*.rs"))).json()["entry"][0]["resource"]
    AuditEvent.model_validate(event)


def test_patient_apps_and_writers_cannot_read_audit(secure, fhir, two_patients, token_for, bearer):
    assert fhir.get("AuditEvent", **bearer(token_for("patient/*.cruds", patient="a"))).status_code == 403
    assert fhir.get("AuditEvent", **bearer(token_for("system/Observation.rs"))).status_code == 403
    assert fhir.get("AuditEvent").status_code == 401


def test_audit_events_are_not_writable(secure, fhir, two_patients, token_for, bearer):
    admin = bearer(token_for("system/*.cruds"))
    fhir.get("Patient/a", **admin)
    record = AuditRecord.objects.first()
    event = fhir.get(f"AuditEvent/audit-{record.pk}", **admin).json()
    response = fhir.put(f"AuditEvent/audit-{record.pk}", {**event, "action": "D"}, **admin)
    assert AuditRecord.objects.get(pk=record.pk).action == "R"  # the log row never changes
    assert response.status_code in (200, 201, 403, 405)


# --- the spool: records handed off durably before the answer, stored in batches ---------------------
@pytest.fixture
def spooled(secure):
    """This process's spool with nothing waiting; the records of earlier tests are stored first."""
    own = spool.this_process()
    own.catch_up()
    yield own
    own.catch_up()


def _spool_files() -> list[Path]:
    return sorted(spool.directory().glob("*.spool"))


def _line(**values) -> bytes:
    row = {"recorded": "2026-01-02T03:04:05+00:00", "action": "R", "interaction": "read", "method": "GET",
           "path": "/fhir/Patient/a", "resource_type": "Patient", "resource_id": "a", "status": 200,
           "client_id": "spool-test", "username": "", "fhir_user": "", "patient": "a", "address": "127.0.0.1",
           "request_id": "", "key": str(uuid.uuid4())}
    return spool.dumps({**row, **values})


@pytest.mark.django_db(transaction=True)
def test_a_record_is_spooled_before_the_answer_and_stored_by_the_drainer(spooled, fhir, two_patients, token_for,
                                                                         bearer):
    headers = bearer(token_for("system/*.rs"))
    with spooled.drain_lock:  # no drain can run: what the answer leaves behind is only in the spool
        assert fhir.get("Patient/a", **headers).status_code == 200
        assert not AuditRecord.objects.exists()
        lines = [line for path in _spool_files() for line in spool.lines_of(path.read_bytes())]
        assert len(lines) == 1 and json.loads(lines[0])["resource_id"] == "a"
    deadline = time.monotonic() + 10  # the drainer thread stores it on its own, within a cycle
    while not AuditRecord.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    row = AuditRecord.objects.get()
    assert (row.resource_type, row.resource_id, row.status, row.action) == ("Patient", "a", 200, "R")
    assert row.client_id and row.key and row.address == "127.0.0.1"
    time.sleep(spool.DRAIN_SECONDS * 3)
    assert all(not spool.lines_of(path.read_bytes()) for path in _spool_files())  # drained files are deleted


@pytest.mark.django_db(transaction=True)
def test_records_drained_twice_are_stored_once(spooled):
    lines = [_line() for _ in range(3)]
    assert spool.store(lines) == 3
    spool.store(lines + [_line()])  # a crash between the commit and the file's deletion, then a re-drain
    assert AuditRecord.objects.count() == 4


@pytest.mark.django_db(transaction=True)
def test_the_spool_of_a_dead_process_is_reclaimed_and_a_live_one_is_only_read(spooled):
    dead = spool.directory() / "otherhost-1-dead.spool"  # nobody holds its lock: its process is gone
    dead.write_bytes(_line(resource_id="dead-1") + _line(resource_id="dead-2") + b'{"recorded": "2026-01')
    live = spool.directory() / "otherhost-2-live.spool"
    live.write_bytes(_line(resource_id="live-1"))
    holder = os.open(live, os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)  # as its living owner does
    try:
        spooled.reclaim()
        assert sorted(AuditRecord.objects.values_list("resource_id", flat=True)) == ["dead-1", "dead-2"]
        assert not dead.exists() and live.exists()  # the torn last line of the dead one is not a record
        spooled.catch_up()  # before the log is read, a live process's complete lines are stored too
        spooled.catch_up()
        assert sorted(AuditRecord.objects.values_list("resource_id", flat=True)) == ["dead-1", "dead-2", "live-1"]
        assert live.exists()  # its owner deletes it, after storing it again (nothing twice)
    finally:
        os.close(holder)
        live.unlink()


@pytest.mark.django_db(transaction=True)
def test_an_audit_event_search_sees_what_any_worker_has_answered(spooled, fhir, token_for, bearer):
    live = spool.directory() / "otherhost-3-worker.spool"
    live.write_bytes(_line(resource_id="other-worker", patient="zed"))
    holder = os.open(live, os.O_RDWR)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        bundle = fhir.get("AuditEvent?patient=zed", **bearer(token_for("system/AuditEvent.rs"))).json()
        assert bundle["total"] == 1
        assert bundle["entry"][0]["resource"]["entity"][0]["what"]["reference"] == "Patient/other-worker"
    finally:
        os.close(holder)
        live.unlink()


@pytest.mark.django_db(transaction=True)
def test_a_record_the_table_refuses_does_not_hold_back_the_others(spooled, caplog):
    good, bad = _line(resource_id="good"), _line(resource_id="bad", address="not an address", status=-1)
    assert spool.store([good, b"{not json", bad]) == 3
    assert list(AuditRecord.objects.values_list("resource_id", flat=True)) == ["good"]
    assert "could not be stored" in caplog.text and "not json" in caplog.text  # never silently


@pytest.mark.django_db(transaction=True)
def test_a_forked_child_does_not_keep_its_parents_spool_locked(spooled):
    """A parent that dies leaves its spool to be reclaimed, even while a child it forked lives on."""
    spooled.append({"recorded": "2026-01-02T03:04:05+00:00", "action": "R", "interaction": "read", "method": "GET",
                    "path": "/fhir/Patient/a", "resource_type": "Patient", "resource_id": "fork", "status": 200,
                    "client_id": "", "username": "", "fhir_user": "", "patient": "", "address": None,
                    "request_id": ""})
    with spooled.drain_lock:  # no drain or reclaim by the drainer thread meanwhile
        orphan = spooled.current
        ready, tell = os.pipe()
        child = os.fork()
        if child == 0:  # lives on while the "parent" dies; by now the fork hooks have run in it
            os.write(tell, b".")
            time.sleep(5)
            os._exit(0)
        try:
            assert os.read(ready, 1) == b"."
            os.close(orphan.fd)  # as if this process had died: its own hold on the lock is gone
            spooled.current = None
            spooled.reclaim()  # the child's copy of the descriptor (closed at fork) holds nothing
            assert AuditRecord.objects.filter(resource_id="fork").count() == 1 and not orphan.path.exists()
        finally:
            os.kill(child, 9)
            os.waitpid(child, 0)
            os.close(ready)
            os.close(tell)
