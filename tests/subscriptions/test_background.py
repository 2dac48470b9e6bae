"""The background work under load: one matching pass at a time in all processes, and on Celery no flood
of duplicate tasks (the sweep and the commits send work a broker cannot deduplicate by itself)."""
from __future__ import annotations

import time

import pytest
from django.db import connection

from fhirserver import jobs
from fhirserver.subscriptions import matching, outbox, scheduler
from fhirserver.subscriptions.models import Notification, OutboxEvent, SubscriptionState
from tests.subscriptions.conftest import lab_observation, topic_subscription


def _subscribed_patient(fhir) -> str:
    patient = f"Patient/{fhir.post('Patient', {'resourceType': 'Patient'}).json()['id']}"
    created = fhir.post("Subscription", topic_subscription("new-lab-result", "http://127.0.0.1:9/hook",
                                                           filters=[f"Observation?patient={patient}"]))
    assert created.status_code == 201, created.content
    SubscriptionState.objects.update(status=SubscriptionState.ACTIVE)  # as after its handshake
    outbox.forget_watched()
    return patient


@pytest.fixture
def sent(settings):
    """Celery configured, the broker replaced by a list of the tasks sent."""
    tasks: list[tuple[str, str]] = []
    previous = jobs._send_to_celery
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/12"
    settings.SUBSCRIPTIONS = dict(settings.SUBSCRIPTIONS, WEBSOCKET_PORT=0)
    jobs.use_celery(lambda kind, key: tasks.append((kind, key)))
    scheduler._sent_to_celery.clear()
    yield tasks
    jobs._send_to_celery = previous


def _held_elsewhere():
    """Another process's matching pass: its lock, held by a connection of its own (the thread lock on SQLite)."""
    if connection.vendor != "postgresql":
        matching._pass.acquire()
        return matching._pass.release
    import psycopg2

    params = connection.get_connection_params()
    other = psycopg2.connect(**{k: v for k, v in params.items() if k in ("dbname", "user", "host", "port",
                                                                           "password")})
    other.autocommit = True
    with other.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [matching._PASS_KEY])

    def release():
        with other.cursor() as cursor:  # at once: a closed connection's backend lets go a moment later
            cursor.execute("SELECT pg_advisory_unlock(%s)", [matching._PASS_KEY])
        other.close()

    return release


def test_a_pass_leaves_the_outbox_to_the_one_running_then_matches_it(fhir, transactional_db, settings):
    settings.CELERY_BROKER_URL = ""
    patient = _subscribed_patient(fhir)
    release = _held_elsewhere()
    try:
        fhir.post("Observation", lab_observation(patient))  # each commit wakes a pass in this process's pool
        fhir.post("Observation", lab_observation(patient))
        jobs.shutdown()  # ... which found the other pass running and left the rows to it
        assert OutboxEvent.objects.count() == 2 and not Notification.objects.exists()
        assert matching.run() == 0 and OutboxEvent.objects.count() == 2
    finally:
        release()
    assert matching.run() == 2 and OutboxEvent.objects.count() == 0
    assert sorted(Notification.objects.values_list("event_number", flat=True)) == [1, 2]


def test_on_celery_the_sweep_sends_a_task_once_per_piece_of_work(fhir, transactional_db, sent, settings):
    _subscribed_patient(fhir)
    SubscriptionState.objects.update(status=SubscriptionState.REQUESTED)  # its handshake is due
    sent.clear()
    for _ in range(3):
        scheduler.tick()
    assert [k for k, _ in sent].count("subscriptions-deliver") == 1  # not one per tick
    SubscriptionState.objects.update(status=SubscriptionState.ACTIVE, delivered_upto=0, heartbeat_seconds=1)
    scheduler.tick()  # the state changed (a heartbeat is due now): new work, sent at once
    assert [k for k, _ in sent].count("subscriptions-deliver") == 2
    settings.SUBSCRIPTIONS = dict(settings.SUBSCRIPTIONS, LEASE_SECONDS=0)
    scheduler.tick()  # a task that may have died with its worker is sent again after a lease
    assert [k for k, _ in sent].count("subscriptions-deliver") == 3


def test_on_celery_wakes_in_quick_succession_send_one_matching_task(fhir, transactional_db, sent):
    patient = _subscribed_patient(fhir)
    sent.clear()
    fhir.post("Observation", lab_observation(patient))
    _wait_for(lambda: sent)
    assert sent == [(matching.KIND, "outbox")] and OutboxEvent.objects.count() == 1  # the worker's to match
    sent.clear()
    for _ in range(5):  # commits (or sweeps) within the moment before the task goes: one task covers them all
        matching.wake()
    _wait_for(lambda: sent)
    time.sleep(3 * matching.CELERY_COALESCE_SECONDS)
    assert sent == [(matching.KIND, "outbox")]
    matching.wake()  # after it was sent: another one
    _wait_for(lambda: len(sent) == 2)


def _wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "no task sent"
        time.sleep(0.02)
