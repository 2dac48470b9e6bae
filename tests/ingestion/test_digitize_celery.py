"""$digitize jobs on a real Celery worker with Redis as the broker (CELERY_BROKER_URL set)."""
from __future__ import annotations

import pytest
from celery.contrib.testing.worker import start_worker

from ingestion.corpus.layouts import LAYOUTS, render_pdf
from ingestion.jobs import queue
from ingestion.models import DigitizeJob
from tests.ingestion.test_digitize_http import URL, count, resources, wait_for

BROKER = "redis://127.0.0.1:6379/15"  # a database of its own, purged before use


@pytest.mark.django_db(transaction=True)
def test_async_digitize_runs_on_a_celery_worker_over_redis(fhir, settings, monkeypatch):
    from ingestion.jobs.celery_app import app

    layout = LAYOUTS["hospital-grid"]
    report = layout.report(2)
    pdf = render_pdf(report, layout)
    settings.CELERY_BROKER_URL = BROKER
    monkeypatch.setitem(app.conf, "broker_url", BROKER)
    monkeypatch.setattr(queue, "_thread_pool", lambda: pytest.fail("the in-process pool must not run Celery jobs"))
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge("celery")
    with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, loglevel="WARNING", shutdown_timeout=30):
        response = fhir.post(URL, pdf, content_type="application/pdf", prefer="respond-async")
        assert response.status_code == 202
        done = wait_for(fhir, response["Content-Location"], timeout=120)
    assert done.status_code == 200, done.content
    job = DigitizeJob.objects.get()
    assert job.status == "done" and job.attempts == 1
    assert len(resources(done.json(), "Observation")) == len(report.rows) == count("Observation")
