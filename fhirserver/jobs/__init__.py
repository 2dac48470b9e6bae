"""The one job system: background work of every app ($digitize, bulk export, subscription delivery).

In-process threads by default; Celery with Redis when `CELERY_BROKER_URL` is set, so the work can
run on other machines (`celery -A fhirserver.jobs.celery_app worker`). A job's durable state is its
owner's own row (a `DigitizeJob`, an export job, a subscription's outbox): the job system carries
only "run kind K for key X". Celery acknowledges late and re-delivers a task whose worker died; an
in-process pool forgets its queue on restart, so every owner also sweeps for work nobody holds
(`is_queued_here` tells whether this process still holds it). Handlers must therefore be safe to
run twice for one key (claim the row with one conditional update first).

    from fhirserver import jobs
    jobs.register("bulk-export", run_export, threads=1)   # in the app's AppConfig.ready()
    jobs.enqueue("bulk-export", str(export.id))            # once the owner's row is committed
    jobs.enqueue_on_commit("bulk-export", str(export.id))  # ... or when the transaction commits
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from django.conf import settings
from django.db import connections, transaction

log = logging.getLogger("fhirserver.jobs")


@dataclass(frozen=True)
class Kind:
    name: str
    run: Callable[..., object]  # in this server's own threads: (key, **in_process)
    on_worker: Callable[[str], object]  # in a Celery worker process (may skip hops the server needs)
    threads: int


_kinds: dict[str, Kind] = {}
_pools: dict[str, ThreadPoolExecutor] = {}
_held: set[tuple[str, str]] = set()  # (kind, key) queued or running in this process's threads
_lock = threading.Lock()
# How a task reaches Celery: set by fhirserver.jobs.celery_app when it loads (FhirServerConfig.ready() loads
# it when a broker is configured), so this module never imports the Celery app that imports it.
_send_to_celery: Callable[[str, str], object] | None = None


def use_celery(send: Callable[[str, str], object]) -> None:
    global _send_to_celery
    _send_to_celery = send


def register(
    name: str, run: Callable[..., object], *, on_worker: Callable[[str], object] | None = None, threads: int = 2
) -> None:
    """Declare a kind of job. `threads` sizes its own in-process pool, so a long export never
    holds up a $digitize job; registering a kind again replaces it (Django may call ready() twice)."""
    _kinds[name] = Kind(name, run, on_worker or run, max(1, int(threads)))


def uses_celery() -> bool:
    return bool(getattr(settings, "CELERY_BROKER_URL", ""))


def enqueue(name: str, key: str, **in_process) -> Future | None:
    """Start `name` for `key` in the background: the Future of an in-process run, None on Celery.

    `in_process` keyword arguments (e.g. an upload's bytes this process still holds) go to an
    in-process run as they are; a Celery worker, maybe on another machine, gets only the key and
    reads what it needs from the owner's row."""
    kind = _kinds[name]
    if uses_celery():
        if _send_to_celery is None:
            raise RuntimeError("CELERY_BROKER_URL is set but fhirserver.jobs.celery_app was not loaded")
        _send_to_celery(name, str(key))
        return None
    with _lock:
        _held.add((name, str(key)))
    return _pool(kind).submit(_run_here, kind, str(key), in_process)


def enqueue_on_commit(name: str, key: str) -> None:
    """Enqueue once the surrounding transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: enqueue(name, key))


def is_queued_here(name: str, key: str) -> bool:
    with _lock:
        return (name, str(key)) in _held


def run_on_worker(name: str, key: str) -> object:
    """What a Celery worker runs for a task (fhirserver.jobs.celery_app)."""
    return _kinds[name].on_worker(key)


def _pool(kind: Kind) -> ThreadPoolExecutor:
    with _lock:
        if kind.name not in _pools:
            _pools[kind.name] = ThreadPoolExecutor(max_workers=kind.threads, thread_name_prefix=f"job-{kind.name}")
        return _pools[kind.name]


def _run_here(kind: Kind, key: str, in_process: dict) -> object:
    try:
        return kind.run(key, **in_process)
    except BaseException:  # a pool thread must not fail silently; the owner's row says what to retry
        log.exception("%s job %s failed in its worker thread", kind.name, key)
        raise
    finally:
        with _lock:
            _held.discard((kind.name, key))
        connections.close_all()  # this thread's connections: the pool thread may idle for long


def shutdown(wait: bool = True) -> None:
    """Stop the in-process pools (tests, process exit); queued in-process work is dropped and found
    again by its owner's sweep."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.shutdown(wait=wait, cancel_futures=not wait)
