"""The job system every app runs its background work on (fhirserver.jobs)."""

import threading

import pytest

from fhirserver import jobs


@pytest.fixture
def kind():
    done = []
    gate = threading.Event()

    def run(key):
        gate.wait(5)
        done.append((threading.current_thread().name, key))
        return key

    jobs.register("test-kind", run, threads=1)
    yield done, gate
    gate.set()
    jobs.shutdown()


def test_in_process_job_runs_in_its_own_pool_and_is_held_until_done(kind, settings):
    settings.CELERY_BROKER_URL = ""
    done, gate = kind
    future = jobs.enqueue("test-kind", "k1")
    assert jobs.is_queued_here("test-kind", "k1")
    gate.set()
    assert future.result(timeout=5) == "k1"
    assert done[0][0].startswith("job-test-kind") and done[0][1] == "k1"
    assert not jobs.is_queued_here("test-kind", "k1")


def test_a_failing_job_is_no_longer_held(settings):
    settings.CELERY_BROKER_URL = ""

    def fail(key):
        raise RuntimeError("boom")

    jobs.register("test-fail", fail)
    future = jobs.enqueue("test-fail", "k")
    with pytest.raises(RuntimeError):
        future.result(timeout=5)
    assert not jobs.is_queued_here("test-fail", "k")
    jobs.shutdown()


@pytest.mark.django_db(transaction=True)
def test_enqueue_on_commit_waits_for_the_commit(kind, settings):
    from django.db import transaction

    settings.CELERY_BROKER_URL = ""
    done, gate = kind
    gate.set()
    with transaction.atomic():
        jobs.enqueue_on_commit("test-kind", "after")
        assert not jobs.is_queued_here("test-kind", "after")
    jobs.shutdown(wait=True)
    assert [key for _, key in done] == ["after"]


def test_unknown_kind_is_an_error():
    with pytest.raises(KeyError):
        jobs.enqueue("no-such-kind", "x")
