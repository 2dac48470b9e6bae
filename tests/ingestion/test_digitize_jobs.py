"""The $digitize job layer: original stored first, one transaction for results, failures lose nothing,
dead workers leave retryable jobs, idempotency, cancellation and patient matching."""
from __future__ import annotations

from datetime import timedelta

import pytest

from fhirserver.storage import repository
from fhirserver.storage.models import ResourceRecord
from ingestion import digitize
from ingestion.edge.jobs import queue
from ingestion.edge.uploads import Upload
from ingestion.models import DigitizeJob
from ingestion.reader.errors import DocumentError
from resources.validation import validation_issues
from tests.ingestion.digitize_helpers import fake_map, fake_read, fake_stages, sample_report, store_patient

BASE = "http://testserver/fhir"
PDF = b"%PDF-1.4 fake lab report bytes for the job layer"


def count(resource_type: str) -> int:
    return ResourceRecord.objects.filter(resource_type=resource_type, deleted=False).count()


def submit(data: bytes = PDF, subject: str | None = None) -> DigitizeJob:
    job, _ = digitize.submit(
        Upload(data=data, media_type="application/pdf", filename="report.pdf", subject=subject), base_url=BASE
    )
    return job


@pytest.mark.django_db
def test_original_is_stored_before_reading_and_results_after():
    job = submit()
    assert job.status == "queued"
    binary = repository.read("Binary", job.binary_id).content
    document_reference = repository.read("DocumentReference", job.document_reference_id).content
    assert binary["contentType"] == "application/pdf"
    attachment = document_reference["content"][0]["attachment"]
    assert attachment["url"] == f"Binary/{job.binary_id}"
    assert attachment["size"] == len(PDF) and attachment["hash"]
    assert document_reference["type"]["coding"][0]["code"] == "11502-2"
    assert count("Observation") == 0

    job = digitize.run(job.id, stages=fake_stages())
    assert job.status == "done" and job.progress == 1.0 and job.attempts == 1
    assert count("Observation") == 2 and count("DiagnosticReport") == 1 and count("Patient") == 1
    assert job.patient.startswith("Patient/") and job.diagnostic_report.startswith("DiagnosticReport/")
    # The DocumentReference now names the patient (a second version of the same resource).
    updated = repository.read("DocumentReference", job.document_reference_id)
    assert updated.version == 2 and updated.content["subject"]["reference"] == job.patient
    # The result Bundle holds every stored resource, each valid, plus an OperationOutcome saying a patient was created.
    types = [e["resource"]["resourceType"] for e in job.result["entry"]]
    assert types[:4] == ["Patient", "DiagnosticReport", "Observation", "Observation"] and "DocumentReference" in types
    for entry in job.result["entry"]:
        assert validation_issues(entry["resource"]) == []
    outcome = job.result["entry"][-1]["resource"]
    assert outcome["resourceType"] == "OperationOutcome" and "new Patient" in outcome["issue"][0]["diagnostics"]
    # What the review page needs: the tree, the report, and each row's Observation and region.
    assert job.document["pages"][0]["lines"] and job.lab_report["rows"][0]["printed_name"] == "Glucose"
    assert [r["observation"] for r in job.rows] == [r for r in job.created_resources if r.startswith("Observation/")]
    assert job.rows[0]["region"] == {"page": 1, "box": [10, 100, 500, 120]}


@pytest.mark.django_db
def test_the_submitting_request_hands_its_bytes_to_the_reader_with_the_sniffed_type(monkeypatch):
    handed = []
    job = submit()
    monkeypatch.setattr(digitize, "original", lambda job: pytest.fail("the stored original was read back"))
    job = digitize.run(job.id, stages=fake_stages(read=lambda data, media_type: handed.append((data, media_type))
                                                  or fake_read(data)), data=PDF)
    assert job.status == "done" and handed == [(PDF, "application/pdf")]


@pytest.mark.django_db
def test_a_job_without_the_bytes_reads_its_stored_original():
    handed = []
    job = digitize.run(submit().id, stages=fake_stages(read=lambda data, media_type: handed.append(data)
                                                       or fake_read(data)))
    assert job.status == "done" and handed == [PDF]


@pytest.mark.django_db
def test_the_document_tree_is_written_once(monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    job = submit()
    with CaptureQueriesContext(connection) as queries:
        job = digitize.run(job.id, stages=fake_stages(), data=PDF)
    assert job.status == "done"
    text = job.document["pages"][0]["lines"][0]["text"]
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE") and text in q["sql"]]
    assert len(writes) == 1, writes


@pytest.mark.django_db
def test_unreadable_document_fails_with_its_reason_and_keeps_the_original():
    def refuse(data, media_type):
        raise DocumentError(422, "The PDF is password-protected; send it without a password", code="DOCUMENT_ENCRYPTED")

    job = digitize.run(submit().id, stages=fake_stages(read=refuse))
    assert job.status == "failed" and job.error_status == 422
    issue = job.error["issue"][0]
    assert (
        "password-protected" in issue["diagnostics"] and issue["details"]["coding"][0]["code"] == "DOCUMENT_ENCRYPTED"
    )
    assert (
        repository.read("DocumentReference", job.document_reference_id).content["content"][0]["attachment"]["url"]
        == f"Binary/{job.binary_id}"
    )
    assert count("Observation") == 0 and count("DiagnosticReport") == 0


@pytest.mark.django_db
def test_a_failure_while_storing_writes_nothing():
    def half_valid(report, context):
        entries = fake_map(report, context)
        entries[-1]["resource"]["valueQuantity"] = (
            "105 mg/dL"  # the last Observation is invalid: the whole transaction fails
        )
        return entries

    job = digitize.run(submit().id, stages=fake_stages(to_entries=half_valid))
    assert job.status == "failed" and 400 <= job.error_status < 500
    assert "Bundle.entry" in job.error["issue"][0]["diagnostics"]
    assert count("Observation") == 0 and count("DiagnosticReport") == 0 and count("Patient") == 0
    assert repository.read("DocumentReference", job.document_reference_id).version == 1


@pytest.mark.django_db
def test_a_bug_in_a_stage_fails_the_job_with_a_500_outcome():
    def broken(document):
        raise ValueError("table parser exploded")

    job = digitize.run(submit().id, stages=fake_stages(understand=broken))
    assert job.status == "failed" and job.error_status == 500
    assert "table parser exploded" in job.error["issue"][0]["diagnostics"]
    assert f"DocumentReference/{job.document_reference_id}" in job.error["issue"][0]["diagnostics"]


@pytest.mark.django_db
def test_a_worker_that_dies_mid_job_leaves_it_retryable_and_never_half_written(settings, monkeypatch):
    def die(report, context):
        fake_map(report, context)
        raise SystemExit("worker killed")  # not an Exception: nothing in the job code may swallow it

    job = submit()
    with pytest.raises(SystemExit):
        digitize.run(job.id, stages=fake_stages(to_entries=die))
    job.refresh_from_db()
    assert job.status == "running" and job.stage == "storing"
    assert count("Observation") == 0 and count("Patient") == 0
    # A second worker does not steal a job whose worker is still beating...
    assert digitize.run(job.id, stages=fake_stages()).status == "running"
    # ...but once the heartbeat is stale, the status poll re-queues it and it runs once, completely.
    DigitizeJob.objects.filter(id=job.id).update(
        heartbeat_at=job.heartbeat_at - timedelta(seconds=settings.INGESTION["STALE_AFTER_SECONDS"] + 5)
    )
    enqueued = []
    monkeypatch.setattr(queue, "enqueue", enqueued.append)
    job.refresh_from_db()
    assert queue.resume_if_stale(job) is True and enqueued == [job.id]
    job = digitize.run(job.id, stages=fake_stages())
    assert job.status == "done" and job.attempts == 2
    assert count("Observation") == 2 and count("DiagnosticReport") == 1


@pytest.mark.django_db
def test_gives_up_after_max_attempts(settings):
    settings.INGESTION = {**settings.INGESTION, "MAX_ATTEMPTS": 1}
    job = submit()
    DigitizeJob.objects.filter(id=job.id).update(
        status="running", attempts=1, heartbeat_at=job.created_at - timedelta(days=1)
    )
    job = digitize.run(job.id, stages=fake_stages())
    assert job.status == "failed" and job.error["issue"][0]["details"]["coding"][0]["code"] == "DIGITIZE_GAVE_UP"


@pytest.mark.django_db
def test_same_file_same_subject_is_one_job_and_a_failed_one_runs_again():
    first = submit()
    again, needs_run = digitize.submit(Upload(data=PDF, media_type="application/pdf"), base_url=BASE)
    assert again.id == first.id and needs_run
    assert count("Binary") == 1 and count("DocumentReference") == 1
    def refuse(data, media_type):
        raise DocumentError(422, "bad", code="X")

    digitize.run(first.id, stages=fake_stages(read=refuse))
    retried, needs_run = digitize.submit(Upload(data=PDF, media_type="application/pdf"), base_url=BASE)
    assert retried.id == first.id and retried.status == "queued" and needs_run and retried.error is None
    done = digitize.run(first.id, stages=fake_stages())
    assert done.status == "done"
    same, needs_run = digitize.submit(Upload(data=PDF, media_type="application/pdf"), base_url=BASE)
    assert same.id == first.id and not needs_run and same.result == done.result
    # A different file is a different job.
    other = submit(data=PDF + b" page 2")
    assert other.id != first.id and count("Binary") == 2


@pytest.mark.django_db
def test_cancel_a_queued_job_and_a_running_one():
    queued = submit()
    assert digitize.cancel(queued) is True
    queued.refresh_from_db()
    assert queued.status == "cancelled"
    assert digitize.run(queued.id, stages=fake_stages()).status == "cancelled"

    running = submit(data=PDF + b"2")

    def cancel_while_reading(data, media_type):
        digitize.cancel(DigitizeJob.objects.get(id=running.id))
        return fake_stages().read(data)

    job = digitize.run(running.id, stages=fake_stages(read=cancel_while_reading))
    assert job.status == "cancelled" and count("Observation") == 0
    assert digitize.cancel(job) is False  # already finished


@pytest.mark.django_db
def test_patient_matched_by_identifier_then_by_name_and_birth_date():
    by_mrn = store_patient(
        {
            "resourceType": "Patient",
            "identifier": [{"value": "MRN4711"}],
            "name": [{"family": "Okafor-Smith"}],
            "birthDate": "1971-04-02",
        }
    )
    job = digitize.run(submit().id, stages=fake_stages())
    assert job.patient == f"Patient/{by_mrn['id']}" and count("Patient") == 1
    assert job.result["entry"][0]["resource"] == by_mrn and f"Patient/{by_mrn['id']}" not in job.created_resources
    assert "matched by patient ID MRN4711" in job.warnings[0]["diagnostics"]

    by_name = store_patient(
        {"resourceType": "Patient", "name": [{"family": "Ngata", "given": ["Mere"]}], "birthDate": "1980-01-09"}
    )
    report = sample_report(mrn=None, family="NGATA", given=("MERE", "K"), birth_date="1980-01-09")
    job = digitize.run(submit(data=PDF + b"b").id, stages=fake_stages(report))
    assert job.patient == f"Patient/{by_name['id']}"

    # Same name, other birth date: a different person, created.
    report = sample_report(mrn=None, family="Ngata", given=("Mere",), birth_date="1990-01-09")
    job = digitize.run(submit(data=PDF + b"c").id, stages=fake_stages(report))
    assert job.patient not in (f"Patient/{by_name['id']}", f"Patient/{by_mrn['id']}")
    created = repository.read("Patient", job.patient.split("/")[1]).content
    assert created["birthDate"] == "1990-01-09" and created["name"][0]["family"] == "Ngata"
    assert validation_issues(created) == []


@pytest.mark.django_db
def test_given_subject_with_other_demographics_is_a_warning_not_a_merge():
    chart = store_patient(
        {
            "resourceType": "Patient",
            "identifier": [{"value": "H-1"}],
            "name": [{"family": "Brown", "given": ["Sam"]}],
            "birthDate": "1960-05-05",
            "gender": "male",
        }
    )
    job = digitize.run(submit(subject=f"Patient/{chart['id']}").id, stages=fake_stages())
    assert job.status == "done" and job.patient == f"Patient/{chart['id']}" and count("Patient") == 1
    messages = " ".join(w["diagnostics"] for w in job.warnings)
    assert "Okafor" in messages and "1971-04-02" in messages and "MRN4711" in messages and "female" in messages
    assert all(w["severity"] == "warning" for w in job.warnings)
    assert repository.read("Patient", chart["id"]).version == 1  # nothing merged into the chart
    outcome = job.result["entry"][-1]["resource"]
    assert outcome["resourceType"] == "OperationOutcome" and len(outcome["issue"]) == len(job.warnings)


@pytest.mark.django_db
def test_a_slow_attempt_overtaken_by_a_retry_stores_nothing(settings):
    job = submit()

    def slow_read(data, media_type):
        # While this (first) attempt reads, it is taken for dead and a second attempt runs the job to the end.
        DigitizeJob.objects.filter(id=job.id).update(heartbeat_at=job.created_at - timedelta(days=1))
        second = digitize.run(job.id, stages=fake_stages())
        assert second.status == "done" and second.attempts == 2
        return fake_stages().read(data)

    first = digitize.run(job.id, stages=fake_stages(read=slow_read))
    assert first.status == "done" and first.attempts == 2  # the second attempt's outcome stands
    assert count("Observation") == 2 and count("DiagnosticReport") == 1 and count("Patient") == 1


@pytest.mark.django_db(transaction=True)
def test_a_long_read_keeps_beating_so_it_is_not_taken_for_dead(settings):
    import time

    settings.INGESTION = {**settings.INGESTION, "STALE_AFTER_SECONDS": 4}  # a beat every second
    job = submit()
    seen = []

    def slow_read(data, media_type):
        before = DigitizeJob.objects.get(id=job.id).heartbeat_at
        time.sleep(2.5)
        seen.append((before, DigitizeJob.objects.get(id=job.id).heartbeat_at))
        return fake_stages().read(data)

    assert digitize.run(job.id, stages=fake_stages(read=slow_read)).status == "done"
    before, during = seen[0]
    assert during > before


@pytest.mark.django_db
def test_a_queued_job_lost_in_a_restart_is_picked_up_when_polled(monkeypatch):
    job = submit()  # queued, but no pool in this process holds it (as after a restart)
    enqueued = []
    monkeypatch.setattr(queue, "enqueue", enqueued.append)
    assert queue.resume_if_stale(job) is False  # just queued: give the pool that has it a chance
    DigitizeJob.objects.filter(id=job.id).update(
        updated_at=job.created_at - timedelta(seconds=queue.ORPHAN_AFTER_SECONDS + 1)
    )
    job.refresh_from_db()
    assert queue.resume_if_stale(job) is True and enqueued == [job.id]
