"""`$digitize` as a service: accept a document, then read → understand → map → match → store.

`submit` stores the original (Binary + DocumentReference) and the job in one transaction before
anything reads the bytes, so nothing is lost if reading fails. `run` takes a queued job through the
stages, saving each stage's output on the job, and writes every result resource (Patient when new,
DiagnosticReport, Observations, Organization, Device, Provenance, the DocumentReference's subject)
together with the job's `done` state in ONE database transaction: a job that fails or dies mid-way
has written nothing and can simply run again.

The stages are injected (`Stages`) so the job machinery can be tested without OCR and the engine can
run where it is cheapest (a reader process, a Celery worker).
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Callable

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.models import F, Q

from fhirserver.core import bundles
from fhirserver.core.errors import FhirError, operation_outcome
from fhirserver.core.request import FhirRequest
from fhirserver.search.api import match_records
from fhirserver.storage import repository
from ingestion import fhir_mapping, progress
from ingestion.document import Document
from ingestion.fhir_mapping import ACCESSION_SYSTEM, accession_identifier, build_binary, build_document_reference
from ingestion.fhir_mapping.codes import fhir_datetime
from ingestion.fhir_mapping.delta import apply_delta, needs_check
from ingestion.fhir_mapping.patients import match_patient
from ingestion.labreport import LabReport
from ingestion.models import DigitizeJob
from ingestion.signals import document_read
from ingestion.understanding import understand

log = logging.getLogger("ingestion.digitize")


@dataclass
class Upload:
    data: bytes
    media_type: str  # what the bytes are (ingestion.edge.uploads.sniff_media_type), never the client's label
    filename: str = ""
    subject: str | None = None  # "Patient/<id>"
    encounter: str | None = None  # "Encounter/<id>"
    performer: str | None = None  # "Organization/<id>" or "Practitioner/<id>"
    category: list[str] = field(default_factory=list)  # extra DiagnosticReport categories (v2-0074 codes or text)
    date_order: str | None = None  # DMY, MDY or YMD: how the report writes dates, when the caller knows

    def options(self) -> dict:
        return {
            k: v
            for k, v in (("encounter", self.encounter), ("performer", self.performer), ("category", self.category),
                         ("date_order", self.date_order))
            if v
        }


@dataclass
class MappingContext:
    """What the FHIR mapping needs besides the LabReport: where the results go and where they came from."""
    subject: str | None  # "Patient/<id>" or the urn:uuid of the Patient created in the same transaction
    document_reference: str  # "DocumentReference/<id>"
    binary: str  # "Binary/<id>"
    media_type: str
    engine: str  # the reader's engine and model, e.g. "paddleocr-onnx/PP-OCRv6_small"
    encounter: str | None = None
    performer: str | None = None
    categories: list[str] = field(default_factory=list)


@dataclass
class Stages:
    read: Callable[[bytes, str], Document]  # (the original's bytes, its media type as sniffed on upload)
    understand: Callable[..., LabReport]  # (document) or (document, date_order="DMY")
    # LabReport -> transaction entries ({"fullUrl": "urn:uuid:..", "resource": {..}}), POSTed as they are
    to_entries: Callable[[LabReport, MappingContext], list[dict]]


def default_stages(*, read: Callable[[bytes, str], Document] | None = None) -> Stages:
    if read is None:
        # The reader pool (and with it OpenCV, pdfplumber, pypdfium2) loads where a job first runs.
        from ingestion.edge.jobs.pool import read_in_reader_process as read
    return Stages(read=read, understand=understand, to_entries=map_to_entries)


def map_to_entries(report: LabReport, context: MappingContext) -> list[dict]:
    """The FHIR mapping stage (ingestion.fhir_mapping): US Core lab resources as transaction entries."""
    return fhir_mapping.transaction_entries(report, context)


class JobCancelled(Exception):
    pass


def config(name: str):
    return settings.INGESTION[name]


# --- submit --------------------------------------------------------------------------------------
def submit(upload: Upload, *, base_url: str, requested_by: str = "") -> tuple[DigitizeJob, bool]:
    """The job for this document and subject: a new one (original stored), or the existing one.

    Returns (job, needs_run). An existing job that failed or was cancelled is queued again, reusing
    the stored original; one that is done or under way is returned as it is.
    """
    content_hash = hashlib.sha256(upload.data).hexdigest()
    subject = upload.subject or ""
    with repository.write_transaction():
        repository.lock_key(f"digitize:{content_hash}:{subject}")
        existing = (
            DigitizeJob.objects.filter(content_hash=content_hash, subject=subject).order_by("-created_at").first()
        )
        if existing is not None:
            if existing.status in (DigitizeJob.FAILED, DigitizeJob.CANCELLED):
                DigitizeJob.objects.filter(id=existing.id).update(
                    status=DigitizeJob.QUEUED, stage="queued", progress=0.0, error=None, error_status=None,
                    cancel_requested=False, attempts=0, finished_at=None, options=upload.options())
                existing.refresh_from_db()
                return existing, True
            return existing, existing.status == DigitizeJob.QUEUED
        binary_id, document_reference_id = _store_original(upload, base_url)
        job = DigitizeJob.objects.create(
            content_hash=content_hash, subject=subject, media_type=upload.media_type, filename=upload.filename[:255],
            size=len(upload.data), options=upload.options(), base_url=base_url, requested_by=requested_by[:255],
            binary_id=binary_id, document_reference_id=document_reference_id,
        )
    return job, True


def _store_original(upload: Upload, base_url: str) -> tuple[str, str]:
    """Binary + DocumentReference through the transaction path every other write takes."""
    binary_urn, document_urn = f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"
    document_reference = build_document_reference(upload.data, upload.media_type, binary_ref=binary_urn,
                                                  subject_ref=upload.subject, title=upload.filename or None)
    document_reference["description"] = "Lab report uploaded for $digitize"
    if upload.encounter:
        document_reference["context"] = {"encounter": [{"reference": upload.encounter}]}
    response = _transaction(
        base_url, [(binary_urn, build_binary(upload.data, upload.media_type)), (document_urn, document_reference)]
    )
    binary_ref, document_ref = (e["response"]["location"].split("/_history")[0] for e in response["entry"])
    return binary_ref.split("/")[1], document_ref.split("/")[1]


def _transaction(base_url: str, entries: list[tuple[str, dict]], extra: list[dict] = ()) -> dict:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": urn, "resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}
        for urn, resource in entries
    ] + list(extra)}
    # Trusted internal write (access=None): the caller's scopes were checked when the operation was asked for.
    return bundles.process(FhirRequest(method="POST", base_url=base_url, body=bundle, kind="system")).resource


def original(job: DigitizeJob) -> bytes:
    """The stored original: what a job reads when its bytes were not handed to it (a Celery worker, a retry)."""
    binary = repository.read("Binary", job.binary_id).content
    return base64.b64decode(binary.get("data", ""))


# --- run -----------------------------------------------------------------------------------------
def run(job_id, *, stages: Stages | None = None, data: bytes | None = None) -> DigitizeJob:
    """Take a queued (or stale running) job through every stage. Safe to call twice: one caller wins.

    `data` is the upload's bytes when the caller still holds them (the request that submitted the job):
    they go to the reader as they are. Without them the job reads its stored original."""
    if not _claim(job_id):
        return DigitizeJob.objects.get(id=job_id)
    job = DigitizeJob.objects.get(id=job_id)  # job.attempts is now this worker's attempt: its claim on the job
    from ingestion.reader.errors import DocumentError  # the reader package loads where jobs run

    try:
        stages = stages or default_stages()
        if data is None:
            data = original(job)
        _advance(job, "reading", 0.1, pages_done=0)
        started = time.perf_counter()
        with _heartbeat(job):  # reading a long scan may take minutes: keep the job from looking abandoned
            with progress.reporting(lambda done, total: _pages_read(job, done, total)):
                document = stages.read(data, job.media_type)
            job.document = document.to_json()  # the tree's one serialisation, stored as it is
            pages = len(document.pages)
            _advance(job, "page images", 0.55, pages_done=pages, pages_total=pages, document=job.document)
            _tell(document_read, job=job, data=data, document=document)  # review stores its page images
            _advance(job, "understanding", 0.6)
            order = (job.options or {}).get("date_order")
            report = stages.understand(document, date_order=order) if order else stages.understand(document)
        job.lab_report = report.to_json()
        if not report.rows:
            raise NotALabReport(_found(document, job))
        _advance(job, "storing", 0.8, lab_report=job.lab_report)
        _store(job, report, document, stages)
        log.info("digitize job %s done in %.1fs: %d rows", job.id, time.perf_counter() - started, len(report.rows))
    except JobSuperseded:
        log.warning(
            "digitize job %s attempt %s was superseded by a later attempt; it stored nothing", job.id, job.attempts
        )
    except NotALabReport as exc:
        _mine(job).update(lab_report=job.lab_report)
        _fail(job, 422, [_issue(str(exc), "business-rule", "DIGITIZE_NOT_A_LAB_REPORT")])
    except DocumentError as exc:
        reason = f"{exc.reason}; the original is kept as DocumentReference/{job.document_reference_id}"
        _fail(job, exc.status, [_issue(reason, "invalid" if exc.status != 413 else "too-costly", exc.code)])
    except JobCancelled:
        _mine(job).update(status=DigitizeJob.CANCELLED, stage="cancelled", finished_at=_now())
    except FhirError as exc:
        _fail(job, exc.status if exc.status < 500 else 500, exc.issues)
    except Exception as exc:  # noqa: BLE001 - a bug in a stage must fail the job, with the original kept
        log.exception("digitize job %s failed", job.id)
        _fail(
            job,
            500,
            [
                _issue(
                    f"Reading the document failed ({type(exc).__name__}: {exc}); the original is kept as "
                    f"DocumentReference/{job.document_reference_id} and the job can be retried",
                    "exception",
                    "DIGITIZE_INTERNAL",
                )
            ],
        )
    job.refresh_from_db()
    return job


class NotALabReport(Exception):
    """No result rows were read: nothing but the original (Binary + DocumentReference) is stored."""


def _found(document: Document, job: DigitizeJob) -> str:
    """What was read off a document with no result rows, in words a person can act on."""
    pages = len(document.pages)
    lines = sum(len(p.lines) for p in document.pages)
    words = sum(len(line.text.split()) for p in document.pages for line in p.lines)
    seen = f"{pages} page{'s' * (pages != 1)}, {lines} line{'s' * (lines != 1)} of text ({words} words)"
    return (f"Not a lab report: no result rows were found ({seen}; no row with a test name and a result). "
            f"No Patient, Organization or DiagnosticReport was made; the original is kept as "
            f"DocumentReference/{job.document_reference_id} and Binary/{job.binary_id}")


class JobSuperseded(Exception):
    """This worker's attempt is no longer the job's current one (it was retried as stale): stop, write nothing."""


def _mine(job: DigitizeJob):
    """The job row, as long as this worker's attempt still owns it."""
    return DigitizeJob.objects.filter(id=job.id, attempts=job.attempts, status=DigitizeJob.RUNNING)


def _claim(job_id) -> bool:
    """queued -> running (or a running job whose worker stopped beating): one atomic conditional update."""
    stale = _now() - timedelta(seconds=config("STALE_AFTER_SECONDS"))
    claimable = Q(status=DigitizeJob.QUEUED) | Q(status=DigitizeJob.RUNNING, heartbeat_at__lt=stale)
    job = DigitizeJob.objects.filter(id=job_id).first()
    if job is None or not DigitizeJob.objects.filter(claimable, id=job_id).exists():
        return False
    if job.cancel_requested:
        DigitizeJob.objects.filter(claimable, id=job_id).update(
            status=DigitizeJob.CANCELLED, stage="cancelled", finished_at=_now()
        )
        return False
    if job.attempts >= config("MAX_ATTEMPTS"):
        _fail(job, 500, [_issue(f"The job was given up after {job.attempts} attempts that did not finish", "exception",
                                "DIGITIZE_GAVE_UP")], owned=False)
        return False
    return DigitizeJob.objects.filter(claimable, id=job_id, attempts=job.attempts).update(
        status=DigitizeJob.RUNNING, stage="starting", progress=0.05, attempts=F("attempts") + 1,
        started_at=_now(), heartbeat_at=_now(), error=None, error_status=None) == 1


def _pages_read(job: DigitizeJob, done: int, total: int) -> None:
    """Reading has got to page `done` of `total`: the reading stage runs from 10% to 50% page by page."""
    share = done / total if total else 0.0
    fields = {"pages_done": done, "pages_total": total or None}
    _advance(job, "reading", round(0.1 + 0.4 * share, 3), **fields)


def _tell(signal, **details) -> None:
    for receiver, answer in signal.send_robust(sender=DigitizeJob, **details):
        if isinstance(answer, Exception):
            log.error("digitize job %s: %s failed: %r", details["job"].id, getattr(receiver, "__name__", receiver),
                      answer, exc_info=answer)


def _advance(job: DigitizeJob, stage: str, progress: float, **fields) -> None:
    """Record progress (and a stage's output), beat the heartbeat, and stop if the client cancelled."""
    if DigitizeJob.objects.filter(id=job.id, cancel_requested=True).exists():
        raise JobCancelled
    if not _mine(job).update(stage=stage, progress=progress, heartbeat_at=_now(), **fields):
        raise JobSuperseded


@contextlib.contextmanager
def _heartbeat(job: DigitizeJob):
    """Beat the job's heartbeat from a side thread while a long stage runs (best effort)."""
    stop = threading.Event()
    interval = max(1.0, min(30.0, config("STALE_AFTER_SECONDS") / 4))

    def beat() -> None:
        try:
            while not stop.wait(interval):
                try:
                    _mine(job).update(heartbeat_at=_now())
                except DatabaseError:  # a busy database: the next beat will do
                    log.debug("digitize job %s: heartbeat skipped", job.id, exc_info=True)
        finally:
            connections.close_all()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"digitize-heartbeat-{job.id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=interval)


def _fail(job: DigitizeJob, status: int, issues: list[dict], *, owned: bool = True) -> None:
    rows = _mine(job) if owned else DigitizeJob.objects.filter(id=job.id)
    rows.update(
        status=DigitizeJob.FAILED,
        stage="failed",
        error=operation_outcome(issues),
        error_status=status,
        finished_at=_now(),
    )


def _issue(diagnostics: str, code: str, error_code: str, severity: str = "error") -> dict:
    return {"severity": severity, "code": code, "diagnostics": diagnostics,
            "details": {"coding": [{"system": "urn:fhir-digitize:error", "code": error_code}], "text": diagnostics}}


def _now() -> datetime:
    return datetime.now(timezone.utc)


# --- store ---------------------------------------------------------------------------------------
def _store(job: DigitizeJob, report: LabReport, document: Document, stages: Stages) -> None:
    """Every result resource and the job's `done` state, in one database transaction."""
    with repository.write_transaction():
        # The stored tree and rows are not read back (or written again): only the fields set below are saved.
        locked = DigitizeJob.objects.select_for_update().defer("document", "lab_report", "result").get(id=job.id)
        if locked.status != DigitizeJob.RUNNING or locked.attempts != job.attempts:
            raise JobSuperseded
        if locked.cancel_requested:
            raise JobCancelled
        # One lab, one reader, one report, however often and in whatever form it comes: the lookups below
        # and the conditional creates of the Organization and Device see every earlier store.
        repository.lock_key("digitize:store")
        match = match_patient(report.patient, job.subject or None)
        same = _same_report(report, match.reference)
        if same is not None and not report.status:
            _link(job, locked, report, same, match)
            return
        if match.reference:
            _delta_checks(report, match.reference)
        patient_urn = f"urn:uuid:{uuid.uuid4()}"
        subject = match.reference or (patient_urn if match.new else None)
        if same is not None:  # a corrected/amended report replaces the stored one: about its patient
            subject = (same.get("subject") or {}).get("reference") or subject
            if not subject or subject != patient_urn:
                match.new = None
        context = MappingContext(
            subject=subject, document_reference=f"DocumentReference/{job.document_reference_id}",
            binary=f"Binary/{job.binary_id}", media_type=job.media_type, engine=document.engine,
            encounter=job.options.get("encounter"), performer=job.options.get("performer"),
            categories=list(job.options.get("category") or []),
        )
        entries = stages.to_entries(report, context)
        if match.new:
            entries.insert(0, {"fullUrl": patient_urn, "resource": match.new})
            for provenance in (e["resource"] for e in entries if e["resource"]["resourceType"] == "Provenance"):
                provenance["target"].insert(0, {"reference": patient_urn})  # the Patient was made from the page too
        for entry in entries:
            entry["request"] = entry.get("request") or {"method": "POST", "url": entry["resource"]["resourceType"]}
        replaced, kept = _as_new_version(entries, same, report.status) if same is not None else ([], [])
        entries.append(_document_reference_update(job, subject))
        response = _transaction(job.base_url, [], entries)
        stored = [e.get("resource") for e in response["entry"]]
        warnings = match.warnings + [
            _issue(w, "informational", "DIGITIZE_READ_WARNING", "warning") for w in report.warnings
        ]
        if same is not None:
            warnings.append(_issue(
                f"The report says it is {report.status}: DiagnosticReport/{same['id']} (accession {report.accession}) "
                f"is now a new version with status {report.status}; {len(replaced)} of its results are new versions "
                f"too", "informational", "DIGITIZE_REPORT_REPLACED", "warning"))
            if kept:  # the lab may have withdrawn them, or printed only what it corrected: a person decides
                warnings.append(_issue(
                    f"{len(kept)} results of DiagnosticReport/{same['id']} are not on the {report.status} report and "
                    f"stay as they were, still listed in it: {', '.join(kept)}; check whether the lab withdrew them",
                    "warning", "DIGITIZE_RESULTS_NOT_ON_CORRECTION", "business-rule"))
        # An existing subject is part of the answer too (unchanged): the Bundle says whom the results are about.
        existing = [repository.read("Patient", match.reference.split("/", 1)[1]).content] if match.reference else []
        result = _collection(job.base_url, existing + stored, warnings)
        references = [f"{r['resourceType']}/{r['id']}" for r in stored if r]
        observations = [r for r in references if r.startswith("Observation/")]
        locked.status, locked.stage, locked.progress, locked.finished_at = DigitizeJob.DONE, "done", 1.0, _now()
        locked.result, locked.created_resources, locked.warnings = result, references, warnings
        locked.patient = next((r for r in references if r.startswith("Patient/")), match.reference or "")
        locked.diagnostic_report = next((r for r in references if r.startswith("DiagnosticReport/")), "")
        locked.rows = _row_index(report, observations)
        locked.heartbeat_at = _now()
        locked.save(update_fields=DONE_FIELDS)


def _same_report(report: LabReport, subject: str | None) -> dict | None:
    """The stored DiagnosticReport with this report's accession number from this lab (else with this
    accession number read from the same page, the lab's name read otherwise), about the same patient."""
    identifier = accession_identifier(report)
    if identifier is None:
        return _same_results(report, subject)
    repository.lock_key(f"digitize:report:{identifier['value']}")
    found = match_records("DiagnosticReport", [("identifier", f"{identifier['system']}|{identifier['value']}")])
    if not found:
        found = [r for r in match_records("DiagnosticReport", [("identifier", identifier["value"])])
                 if any(i.get("system", "").startswith(ACCESSION_SYSTEM) and i.get("value") == identifier["value"]
                        for i in r.content.get("identifier", []))]
    for record in sorted(found, key=lambda r: r.logical_id):
        stored_subject = (record.content.get("subject") or {}).get("reference")
        # Another patient's report is never joined: a subject the caller named, or matched, must be its own.
        if stored_subject == subject or subject is None:
            return record.content
    return _same_results(report, subject)


SAME_RESULTS = 0.8  # the share of a report's (test, value) pairs another report of that day must hold to be it


def _same_results(report: LabReport, subject: str | None) -> dict | None:
    """Without a readable accession: the patient's stored report of the same collection day holding (nearly)
    the same results is this report (another scan of it). One that carries a different accession is not."""
    collected = fhir_datetime(report.collected)
    ours = {(r.loinc, r.value) for r in report.rows if r.loinc and r.value is not None}
    if not subject or not collected or len(ours) < 2:
        return None
    for record in match_records("DiagnosticReport", [("subject", subject), ("date", collected[:10])]):
        if report.accession and any(i.get("value") != report.accession for i in record.content.get("identifier", [])):
            continue
        ids = [r["reference"].split("/", 1)[1] for r in record.content.get("result", [])
               if r.get("reference", "").startswith("Observation/")]
        theirs = set()
        for stored in repository.current_many("Observation", ids).values():
            quantity = (stored.content or {}).get("valueQuantity") or {}
            text = (stored.content or {}).get("valueString", "").split(" ")[0]
            value = quantity.get("value", text)
            for code in (stored.content or {}).get("code", {}).get("coding", []):
                with contextlib.suppress(ArithmeticError, ValueError, TypeError):
                    theirs.add((code.get("code"), Decimal(str(value))))
        if len(ours & theirs) >= SAME_RESULTS * len(ours):
            return record.content
    return None


def _link(job: DigitizeJob, locked: DigitizeJob, report: LabReport, same: dict, match) -> None:
    """The same report uploaded again: its original is kept and linked to the stored DiagnosticReport,
    nothing else is written, and the answer is the stored report and results with a warning."""
    reference = f"DiagnosticReport/{same['id']}"
    subject = (same.get("subject") or {}).get("reference") or match.reference
    update = _document_reference_update(job, subject)
    update["resource"].setdefault("context", {})["related"] = [{"reference": reference}]
    _transaction(job.base_url, [], [update])
    results = [r["reference"] for r in same.get("result", []) if r.get("reference", "").startswith("Observation/")]
    current = repository.current_many("Observation", [r.split("/", 1)[1] for r in results])
    observations = [current[r.split("/", 1)[1]].content for r in results if r.split("/", 1)[1] in current]
    patient = [repository.read("Patient", subject.split("/", 1)[1]).content] if subject else []
    warnings = match.warnings if subject == match.reference else []
    which = (f"accession {report.accession}{' from ' + report.lab_name if report.lab_name else ''}"
             if report.accession else "the same results, collected the same day")
    warnings = warnings + [_issue(
        f"This report ({which}) is already stored as {reference}: this upload is kept as DocumentReference/"
        f"{job.document_reference_id} and linked to it; no result was stored twice", "duplicate",
        "DIGITIZE_SAME_REPORT", "warning")]
    warnings += [_issue(w, "informational", "DIGITIZE_READ_WARNING", "warning") for w in report.warnings]
    locked.status, locked.stage, locked.progress, locked.finished_at = DigitizeJob.DONE, "done", 1.0, _now()
    locked.result = _collection(job.base_url, patient + [same] + observations, warnings)
    locked.created_resources, locked.warnings, locked.rows = [], warnings, []
    locked.patient, locked.diagnostic_report = subject or "", reference
    locked.heartbeat_at = _now()
    locked.save(update_fields=DONE_FIELDS)


def _as_new_version(entries: list[dict], same: dict, status: str) -> tuple[list[str], list[str]]:
    """A corrected or amended report: the stored DiagnosticReport gets a new version with that status,
    and each stored result of the same test a new version with the corrected value (the Observations
    no longer in the report stay, listed as before, and are named in a warning). Returns the results
    replaced and those kept (as "Observation/id (test)")."""
    old_results = [r["reference"] for r in same.get("result", []) if r.get("reference", "").startswith("Observation/")]
    current = repository.current_many("Observation", [r.split("/", 1)[1] for r in old_results])
    by_code: dict[str, list[str]] = {}
    for id, stored in current.items():
        for code in (stored.content or {}).get("code", {}).get("coding", []):
            by_code.setdefault(code.get("code", ""), []).append(id)
    replaced = []
    for entry in entries:
        resource = entry["resource"]
        if resource["resourceType"] == "Observation":
            codes = [c.get("code", "") for c in resource.get("code", {}).get("coding", [])]
            old = next((by_code[c].pop(0) for c in codes if by_code.get(c)), None)
            if old:
                resource.update(id=old, status=status)
                entry["request"] = {"method": "PUT", "url": f"Observation/{old}"}
                replaced.append(f"Observation/{old}")
    for entry in entries:
        resource = entry["resource"]
        if resource["resourceType"] == "DiagnosticReport":
            resource.update(id=same["id"], status=status)
            kept = [{"reference": r} for r in old_results if r not in replaced]
            resource["result"] = resource.get("result", []) + kept
            entry["request"] = {"method": "PUT", "url": f"DiagnosticReport/{same['id']}"}
    return replaced, [f"{r} ({_test_name(current.get(r.split('/', 1)[1]))})" for r in old_results if r not in replaced]


def _test_name(stored) -> str:
    code = (stored.content or {}).get("code", {}) if stored is not None else {}
    return code.get("text") or next((c.get("display") or c.get("code") for c in code.get("coding", [])), "?")


def _delta_checks(report: LabReport, subject: str) -> None:
    """Each checked row against the patient's stored results of the same LOINC (fhir_mapping.delta)."""
    for row in report.rows:
        if not needs_check(row):
            continue
        previous = [r.content for r in match_records("Observation", [("subject", subject),
                                                                     ("code", f"http://loinc.org|{row.loinc}")])]
        apply_delta(row, row.effective or report.collected or report.reported, previous)
        if row.review_reasons:
            report.warnings.append(f"{row.printed_name}: {row.review_reasons[-1]}")


DONE_FIELDS = ["status", "stage", "progress", "finished_at", "result", "created_resources", "warnings", "patient",
               "diagnostic_report", "rows", "heartbeat_at", "updated_at"]


def _document_reference_update(job: DigitizeJob, subject: str | None) -> dict:
    """The original's DocumentReference, now about the matched patient (a new version, same id)."""
    current = dict(repository.read("DocumentReference", job.document_reference_id).content)
    current["meta"] = {k: v for k, v in current.get("meta", {}).items() if k not in ("versionId", "lastUpdated")}
    if subject:
        current["subject"] = {"reference": subject}
    url = f"DocumentReference/{job.document_reference_id}"
    return {"fullUrl": f"{job.base_url}/{url}", "resource": current, "request": {"method": "PUT", "url": url}}


def _collection(base_url: str, resources: list[dict | None], warnings: list[dict]) -> dict:
    entries = [{"fullUrl": f"{base_url}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources if r]
    if warnings:
        entries.append({"resource": operation_outcome(warnings)})
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": repository.format_instant(_now()),
        "entry": entries,
    }


def _row_index(report: LabReport, observations: list[str]) -> list[dict]:
    """Which Observation each result row became, with where it was read: what the review page draws."""
    out = []
    for index, (row, observation) in enumerate(zip(report.rows, observations)):
        region = {"page": row.region.page, "box": list(row.region.box)} if row.region else None
        out.append({"row": index, "observation": observation, "region": region, "confidence": row.confidence})
    return out


# --- waiting and status --------------------------------------------------------------------------
def wait(job_id, *, timeout: float | None = None, interval: float = 0.25) -> DigitizeJob:
    """Poll until the job finishes (a job another request or worker is running)."""
    deadline = time.monotonic() + (timeout if timeout is not None else config("SYNC_TIMEOUT_SECONDS"))
    while True:
        job = DigitizeJob.objects.get(id=job_id)
        if job.finished or time.monotonic() > deadline:
            return job
        time.sleep(interval)
        interval = min(interval * 1.5, 2.0)


def is_stale(job: DigitizeJob) -> bool:
    """Queued or running, but nobody has touched it for STALE_AFTER_SECONDS: its worker is gone."""
    if job.finished:
        return False
    last = job.heartbeat_at if job.status == DigitizeJob.RUNNING else job.updated_at
    return last is not None and last < _now() - timedelta(seconds=config("STALE_AFTER_SECONDS"))


def cancel(job: DigitizeJob) -> bool:
    """Ask a queued or running job to stop; False when it has already finished."""
    if job.finished:
        return False
    DigitizeJob.objects.filter(id=job.id).update(cancel_requested=True)
    DigitizeJob.objects.filter(id=job.id, status=DigitizeJob.QUEUED).update(
        status=DigitizeJob.CANCELLED, stage="cancelled", finished_at=_now())
    return True
