"""$digitize jobs on a real Celery worker with Redis as the broker (CELERY_BROKER_URL set)."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest
from celery.contrib.testing.worker import start_worker

from evaluation.corpus.layouts import LAYOUTS
from evaluation.corpus.render import render_pdf
from fhirserver import jobs
from ingestion.models import DigitizeJob
from tests.ingestion.test_digitize_http import URL, count, resources, wait_for


@pytest.fixture(scope="module")
def broker():
    """The local Redis (a database of its own, purged before use), or a private redis-server when none runs."""
    with socket.socket() as probe:
        probe.settimeout(1)
        if probe.connect_ex(("127.0.0.1", 6379)) == 0:
            yield "redis://127.0.0.1:6379/15"
            return
    assert shutil.which("redis-server"), "the Celery test needs Redis: install redis-server"
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(50):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait()


@pytest.mark.django_db(transaction=True)
def test_async_digitize_runs_on_a_celery_worker_over_redis(fhir, settings, monkeypatch, broker):
    from fhirserver.jobs.celery_app import app

    layout = LAYOUTS["hospital-grid"]
    report = layout.report(2)
    pdf = render_pdf(report, layout)
    settings.CELERY_BROKER_URL = broker
    monkeypatch.setitem(app.conf, "broker_url", broker)
    monkeypatch.setattr(jobs, "_pool", lambda kind: pytest.fail("the in-process pool must not run Celery jobs"))
    with app.connection_for_write() as connection:
        connection.default_channel.queue_purge("celery")
    with start_worker(
        app, pool="solo", concurrency=1, perform_ping_check=False, loglevel="WARNING", shutdown_timeout=30
    ):
        response = fhir.post(URL, pdf, content_type="application/pdf", prefer="respond-async")
        assert response.status_code == 202
        done = wait_for(fhir, response["Content-Location"], timeout=120)
    assert done.status_code == 200, done.content
    job = DigitizeJob.objects.get()
    assert job.status == "done" and job.attempts == 1
    assert len(resources(done.json(), "Observation")) == len(report.rows) == count("Observation")
