"""The export job, on fhirserver.jobs (in-process threads, or Celery workers on other machines).

A run claims its queued row with one conditional update (a task delivered twice runs once), streams
each type into NDJSON parts, and marks the row done with its manifest in one last update, only if
it still holds the claim: a worker that dies leaves the row `running` with a stale heartbeat, which
the status URL puts back in the queue (up to BULK["MAX_ATTEMPTS"], then failed), never complete.
A heartbeat thread, on its own database connection, records progress and notices a DELETE.
"""
from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.models import F
from django.utils import timezone

from fhirserver import jobs
from fhirserver.bulk import files, scope
from fhirserver.bulk.models import ExportJob
from fhirserver.core.errors import FhirError, operation_outcome
from fhirserver.search import shaping
from resources import decimals

log = logging.getLogger("fhirserver.bulk")
KIND = "bulk-export"
BEAT_SECONDS = 1.0


class Cancelled(Exception):
    """The job was deleted (or another attempt took it over) while this run worked on it."""


class Heartbeat:
    """Every BEAT_SECONDS: heartbeat and progress on the job row, from a thread of its own (the
    exporting thread sits inside a read transaction, where its own writes would not show)."""

    def __init__(self, job: ExportJob):
        self.job_id, self.attempt = job.id, job.attempts
        self.progress = "started"
        self.cancelled = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"bulk-beat-{job.id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def check(self) -> None:
        if self.cancelled:
            raise Cancelled()

    def _loop(self) -> None:
        try:
            while not self._stop.wait(BEAT_SECONDS):
                try:
                    held = ExportJob.objects.filter(id=self.job_id, status=ExportJob.RUNNING,
                                                    attempts=self.attempt).update(
                        heartbeat_at=timezone.now(), progress=self.progress[:255])
                except DatabaseError:  # the database is away: the next beat tries again
                    log.warning("bulk export %s: heartbeat failed", self.job_id, exc_info=True)
                    continue
                if not held:
                    self.cancelled = True
                    return
        finally:
            connections.close_all()


def run(job_id: str) -> str | None:
    """Run export `job_id` if it is queued; what it ended as."""
    claimed = ExportJob.objects.filter(id=job_id, status=ExportJob.QUEUED).update(
        status=ExportJob.RUNNING, heartbeat_at=timezone.now(), attempts=F("attempts") + 1, progress="started")
    if not claimed:
        return None
    job = ExportJob.objects.get(id=job_id)
    files.remove(job)  # what an attempt that died left behind
    out = files.NdjsonFiles(job.id)
    try:
        with Heartbeat(job) as beat:
            output, errors, deleted = write_export(job, out, beat)
    except Cancelled:
        out.discard()
        files.remove(job)
        return ExportJob.CANCELLED
    except FhirError as error:
        return _fail(job, out, error.outcome())
    except Exception as exc:  # noqa: BLE001 - a bug or a lost database: the job fails, it never half-completes
        log.exception("bulk export %s failed", job.id)
        return _fail(job, out, operation_outcome([{"severity": "fatal", "code": "exception",
                                                   "diagnostics": f"The export failed: {type(exc).__name__}"}]))
    finished = timezone.now()
    done = ExportJob.objects.filter(id=job.id, status=ExportJob.RUNNING, attempts=job.attempts).update(
        status=ExportJob.DONE, output=output, errors=errors, deleted=deleted, finished_at=finished, progress="complete",
        expires_at=finished + timedelta(seconds=int(settings.BULK["EXPIRY_SECONDS"])))
    if not done:  # deleted in the last moment: nobody will ask for these files
        job.output, job.errors, job.deleted = output, errors, deleted
        files.remove(job)
        return ExportJob.CANCELLED
    return ExportJob.DONE


def _fail(job: ExportJob, out: files.NdjsonFiles, outcome: dict) -> str:
    out.discard()
    job.output, job.errors = out.entries, []
    files.remove(job)
    ExportJob.objects.filter(id=job.id, status=ExportJob.RUNNING, attempts=job.attempts).update(
        status=ExportJob.FAILED, failure=outcome, finished_at=timezone.now(), progress="failed")
    return ExportJob.FAILED


def write_export(job: ExportJob, out: files.NdjsonFiles, beat: Heartbeat
                 ) -> tuple[list[dict], list[dict], list[dict]]:
    """Stream every type of the export into `out`; (output, error, deleted entries) of the manifest."""
    plan = scope.plan(job)
    problems = list(plan.problems) + list(job.notes)
    patients = None
    if job.level != "system":
        patients = scope.cohort(job)
        if patients is not None and job.patients:
            missing = sorted(set(job.patients) - set(patients)) if job.level == "group" else []
            problems += [f"Patient/{p} is not a member of Group/{job.group_id}; not exported" for p in missing]
    references = scope.References(plan.supporting) if job.level != "system" else None
    written = 0

    def copy(resource_type: str, condition, *, scan_only: bool = False) -> None:
        nonlocal written
        for texts in scope.stream(condition):
            beat.check()
            if references is not None:
                references.collect(texts)  # from the whole resource, before any _elements subsetting
            if scan_only:
                continue
            out.write(resource_type, subset(texts, resource_type, job.elements))
            written += len(texts)
            beat.progress = f"{written} resources written; exporting {resource_type}"

    for resource_type in plan.types:
        condition = scope.base_condition(job, resource_type)
        if job.level != "system":
            condition &= scope.in_cohort(resource_type, patients)
        copy(resource_type, condition)
        out.close(resource_type)
    for resource_type in plan.scanned:  # records not asked for, read only for what they refer to
        copy(resource_type, scope.base_condition(job, resource_type) & scope.in_cohort(resource_type, patients),
             scan_only=True)
    while references is not None and (wanted := references.take()):  # what the records refer to, to the end
        for resource_type, ids in sorted(wanted.items()):
            for condition in scope.by_ids(scope.base_condition(job, resource_type), ids):
                copy(resource_type, condition)
    out.close_all()
    deleted = _deleted_files(job, beat) if job.since is not None and job.level == "system" else []
    if job.since is not None and job.level != "system":
        problems.append("Resources deleted since _since are listed only by a system-level export (a deleted "
                        "resource keeps no patient compartment here)")
    beat.check()
    errors = _error_file(job, problems)
    return [e for e in out.entries], errors, deleted


def _deleted_files(job: ExportJob, beat: Heartbeat) -> list[dict]:
    """The manifest's `deleted`: each resource of an exported type deleted after `_since` (and by the
    transaction time), as a transaction Bundle of one DELETE entry per line, one file per type."""
    out = files.NdjsonFiles(job.id, prefix="deleted-")
    for resource_type in scope.deleted_types(job):
        for ids in scope.deleted_since(job, resource_type):
            beat.check()
            out.write(resource_type, [json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": [
                {"request": {"method": "DELETE", "url": f"{resource_type}/{id}"}}]}, separators=(",", ":"))
                for id in ids])
        out.close(resource_type)
    return [{**entry, "type": "Bundle", "of": entry["type"]} for entry in out.entries]


def subset(texts: list[str], resource_type: str, elements: list[str]) -> list[str]:
    """`_elements`: the stored text as it is when nothing is asked of this type; else the listed root
    elements, the mandatory ones and the SUBSETTED tag (search's shaping), decimals kept as written."""
    names = [e.split(".", 1)[1] if "." in e else e for e in elements
             if "." not in e or e.split(".", 1)[0] == resource_type]
    if not names:
        return texts
    return [decimals.dumps(shaping.shape(decimals.loads(text), None, names)) for text in texts]


def _error_file(job: ExportJob, problems: list[str]) -> list[dict]:
    if not problems:
        return []
    errors = files.NdjsonFiles(job.id)
    lines = [json.dumps(operation_outcome([{"severity": "warning", "code": "processing", "diagnostics": p}]),
                        separators=(",", ":")) for p in problems]
    errors.write("OperationOutcome", lines)
    errors.close_all()
    return errors.entries


# --- jobs nobody is working on ---------------------------------------------------------------------
ORPHAN_AFTER_SECONDS = 30  # queued, untouched this long, and no pool of this process holds it


def resume_if_stale(job: ExportJob) -> bool:
    """A running job whose heartbeat stopped (its worker died), or a queued job an in-process pool
    forgot in a restart: queue it again, or fail it after BULK["MAX_ATTEMPTS"]. True if it changed."""
    now = timezone.now()
    stale_after = timedelta(seconds=float(settings.BULK["STALE_SECONDS"]))
    if job.status == ExportJob.RUNNING and job.heartbeat_at and job.heartbeat_at < now - stale_after:
        if job.attempts >= int(settings.BULK["MAX_ATTEMPTS"]):
            why = f"The export stopped {job.attempts} times (its worker died); start it again"
            outcome = operation_outcome([{"severity": "fatal", "code": "transient", "diagnostics": why}])
            ExportJob.objects.filter(id=job.id, status=ExportJob.RUNNING, attempts=job.attempts).update(
                status=ExportJob.FAILED, failure=outcome, finished_at=now, progress="failed")
            files.remove(job)
            return True
        requeued = ExportJob.objects.filter(id=job.id, status=ExportJob.RUNNING, attempts=job.attempts).update(
            status=ExportJob.QUEUED, progress="queued again (its worker stopped)", heartbeat_at=now)
        if requeued:
            log.warning("bulk export %s was stale; queued again", job.id)
            jobs.enqueue(KIND, str(job.id))
        return bool(requeued)
    orphan_before = now - timedelta(seconds=ORPHAN_AFTER_SECONDS)
    if (job.status == ExportJob.QUEUED and not jobs.uses_celery() and not jobs.is_queued_here(KIND, str(job.id))
            and (job.heartbeat_at or job.created_at) < orphan_before):
        ExportJob.objects.filter(id=job.id, status=ExportJob.QUEUED).update(heartbeat_at=now)
        jobs.enqueue(KIND, str(job.id))
        return True
    return False


def sweep_expired() -> None:
    """Files past BULK["EXPIRY_SECONDS"] are removed (at each kick-off and status request); rows of
    exports deleted, expired or failed a month ago go too."""
    now = timezone.now()
    for job in ExportJob.objects.filter(status=ExportJob.DONE, expires_at__lt=now)[:20]:
        files.remove(job)
        ExportJob.objects.filter(id=job.id, status=ExportJob.DONE).update(
            status=ExportJob.CANCELLED, progress="expired", output=[], errors=[])
    ExportJob.objects.filter(status__in=(ExportJob.CANCELLED, ExportJob.FAILED),
                             created_at__lt=now - timedelta(days=30)).delete()
