"""The Celery application of the job system: `celery -A fhirserver.jobs.celery_app worker`.

The broker comes from CELERY_BROKER_URL. Tasks acknowledge late and are re-delivered when a worker
dies; each kind's handler claims its owner's row first, so a re-delivered task runs its work once.
"""

from __future__ import annotations

import os

import django
from celery import Celery
from django.apps import apps

if not apps.apps_ready:  # started by the `celery` command rather than from inside Django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fhirserver.settings.base")
    django.setup()

from django.conf import settings  # noqa: E402 - needs django.setup() above

from fhirserver import jobs  # noqa: E402

app = Celery("fhirserver")
app.conf.update(
    broker_url=settings.CELERY_BROKER_URL or "redis://127.0.0.1:6379/0",
    result_backend=settings.CELERY_RESULT_BACKEND,
    task_serializer="json",
    accept_content=["json"],
    task_acks_late=True,  # a task is done when its work is, not when a worker picked it up
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,  # jobs are long (OCR, exports): do not hoard them
    task_ignore_result=True,  # the owner's row is the result
    broker_connection_retry_on_startup=True,
)


@app.task(name="fhirserver.jobs.run")
def run_job(kind: str, key: str) -> str:
    jobs.run_on_worker(kind, key)
    return key


jobs.use_celery(lambda kind, key: run_job.delay(kind, key))
