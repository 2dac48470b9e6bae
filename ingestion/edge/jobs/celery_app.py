"""The Celery application: `celery -A ingestion.edge.jobs.celery_app worker` (broker from CELERY_BROKER_URL).

Tasks acknowledge late and are re-delivered when a worker dies, and the job's own claim makes a
re-delivered job run once; a worker reads documents in its own process (no reader pool hop).
"""
from __future__ import annotations

import os

import django
from celery import Celery
from django.apps import apps

if not apps.ready:  # started by the `celery` command rather than from inside Django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fhirserver.settings.base")
    django.setup()

from django.conf import settings  # noqa: E402

from ingestion import digitize  # noqa: E402
from ingestion.edge.jobs.pool import read_direct  # noqa: E402

app = Celery("ingestion")
app.conf.update(
    broker_url=settings.CELERY_BROKER_URL or "redis://127.0.0.1:6379/0",
    result_backend=settings.CELERY_RESULT_BACKEND,
    task_serializer="json",
    accept_content=["json"],
    task_acks_late=True,  # a task is done when the job is, not when a worker picked it up
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,  # OCR jobs are long: do not hoard them
    task_ignore_result=True,  # the job row is the result
    broker_connection_retry_on_startup=True,
)


@app.task(name="ingestion.digitize_job")
def digitize_job(job_id: str) -> str:
    job = digitize.run(job_id, stages=digitize.default_stages(read=read_direct))
    return job.status
