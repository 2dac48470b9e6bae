"""Running `$digitize` jobs on the server's job system (fhirserver.jobs): Celery when
`CELERY_BROKER_URL` is set, else in-process threads.

Job threads only orchestrate (database, understanding, mapping); the OCR itself runs in the reader
processes of `ingestion.edge.jobs.pool`, or in the Celery worker's own process. Either way a job is
claimed with one conditional update, so a job handed to two workers still runs once.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from datetime import datetime, timedelta, timezone

from fhirserver import jobs
from ingestion import digitize
from ingestion.edge.jobs.pool import read_direct
from ingestion.models import DigitizeJob

log = logging.getLogger("ingestion.edge.jobs")
KIND = "digitize"
ORPHAN_AFTER_SECONDS = 30  # a queued job no pool of this process holds, untouched this long, was lost in a restart


def register(threads: int) -> None:
    """Called from IngestionConfig.ready()."""
    jobs.register(KIND, _run_in_server, on_worker=_run_on_worker, threads=threads)


def uses_celery() -> bool:
    return jobs.uses_celery()


def enqueue(job_id, *, data: bytes | None = None) -> Future | None:
    """Start the job in the background. Returns the Future of an in-process run (None on Celery).

    `data`, the upload's bytes while this process holds them, goes to the job's reader as it is; a Celery
    worker (maybe on another machine) reads the stored original instead."""
    return jobs.enqueue(KIND, str(job_id), data=data)


def _run_in_server(job_id: str, data: bytes | None = None):
    return digitize.run(job_id, data=data)


def _run_on_worker(job_id: str):
    """A Celery worker reads the document in its own process: no reader-pool hop."""
    return digitize.run(job_id, stages=digitize.default_stages(read=read_direct)).status


def resume_if_stale(job) -> bool:
    """A queued or running job nobody is working on (its worker died, the server restarted): run it again."""
    if not (digitize.is_stale(job) or _orphaned(job)):
        return False

    if job.status == DigitizeJob.RUNNING:
        DigitizeJob.objects.filter(id=job.id, status=DigitizeJob.RUNNING, heartbeat_at=job.heartbeat_at).update(
            status=DigitizeJob.QUEUED, stage="queued (retry)"
        )
    log.warning("digitize job %s was stale (%s); queued again", job.id, job.status)
    enqueue(job.id)
    return True


def _orphaned(job) -> bool:
    """In-process pools forget their queue when the server restarts; Celery's broker does not."""
    if uses_celery() or job.status != DigitizeJob.QUEUED or jobs.is_queued_here(KIND, str(job.id)):
        return False
    return job.updated_at < datetime.now(timezone.utc) - timedelta(seconds=ORPHAN_AFTER_SECONDS)


def shutdown() -> None:
    jobs.shutdown()
