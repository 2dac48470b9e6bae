"""Running jobs: on Celery when `CELERY_BROKER_URL` is set, else on a small in-process thread pool.

Job threads only orchestrate (database, understanding, mapping); the OCR itself runs in the reader
processes of `ingestion.edge.jobs.pool`. Either way a job is claimed with one conditional update, so a
job handed to two workers still runs once.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

from django.conf import settings
from django.db import connections

from ingestion import digitize
from ingestion.models import DigitizeJob

log = logging.getLogger("ingestion.edge.jobs")
_lock = threading.Lock()
_threads: ThreadPoolExecutor | None = None
_queued_here: set[str] = set()  # jobs this process's pool holds, not yet finished
ORPHAN_AFTER_SECONDS = 30  # a queued job no pool of this process holds, untouched this long, was lost in a restart


def uses_celery() -> bool:
    return bool(getattr(settings, "CELERY_BROKER_URL", ""))


def enqueue(job_id, *, data: bytes | None = None) -> Future | None:
    """Start the job in the background. Returns the Future of an in-process run (None on Celery).

    `data`, the upload's bytes while this process holds them, goes to the job's reader as it is; a Celery
    worker (maybe on another machine) reads the stored original instead."""
    if uses_celery():
        # Celery (and Redis) load only when a broker is configured.
        from ingestion.edge.jobs.celery_app import digitize_job

        digitize_job.delay(str(job_id))
        return None
    with _lock:
        _queued_here.add(str(job_id))
    return _thread_pool().submit(_run_in_thread, str(job_id), data)


def _thread_pool() -> ThreadPoolExecutor:
    global _threads
    with _lock:
        if _threads is None:
            _threads = ThreadPoolExecutor(
                max_workers=max(1, int(settings.INGESTION["WORKERS"])), thread_name_prefix="digitize"
            )
        return _threads


def _run_in_thread(job_id: str, data: bytes | None = None) -> None:
    try:
        digitize.run(job_id, data=data)
    except BaseException:  # noqa: BLE001 - a thread must not die silently; the job stays retryable
        log.exception("digitize job %s: worker thread failed", job_id)
        raise
    finally:
        with _lock:
            _queued_here.discard(job_id)
        connections.close_all()  # this thread's connections; the pool thread may idle for long


def resume_if_stale(job) -> bool:
    """A queued or running job nobody is working on (its worker died, the server restarted): run it again."""
    if not (digitize.is_stale(job) or _orphaned(job)):
        return False

    if job.status == DigitizeJob.RUNNING:
        DigitizeJob.objects.filter(id=job.id, status=DigitizeJob.RUNNING, heartbeat_at=job.heartbeat_at).update(
            status=DigitizeJob.QUEUED, stage="queued (retry)")
    log.warning("digitize job %s was stale (%s); queued again", job.id, job.status)
    enqueue(job.id)
    return True


def _orphaned(job) -> bool:
    """In-process pools forget their queue when the server restarts; Celery's broker does not."""
    if uses_celery() or job.status != DigitizeJob.QUEUED or str(job.id) in _queued_here:
        return False
    return job.updated_at < datetime.now(timezone.utc) - timedelta(seconds=ORPHAN_AFTER_SECONDS)


def shutdown() -> None:
    global _threads
    with _lock:
        threads, _threads = _threads, None
    if threads is not None:
        threads.shutdown(wait=True)
