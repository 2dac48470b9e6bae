"""Reader processes: OCR runs here, never in a web request thread (the engines hold the GIL for seconds).

A small spawn-context process pool, started on first use; each process loads the OCR engine once and
keeps it. The bytes go in and the document tree comes back as it is (pickled by the pool, never turned
into JSON on the way); reader refusals (`DocumentError`) cross the process boundary as plain values.
"""
from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from django.conf import settings

from ingestion.document import Document
from ingestion.reader import read_document
from ingestion.reader.config import default_limits
from ingestion.reader.errors import DocumentError

_lock = threading.Lock()
_executor: ProcessPoolExecutor | None = None


def _pool() -> ProcessPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            workers = max(1, int(settings.INGESTION["WORKERS"]))
            _executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                            initializer=_configure_reader, initargs=(dict(settings.INGESTION),))
        return _executor


def _configure_reader(ingestion: dict) -> None:
    """In a fresh reader process: the reader's knobs as the web process has them (limits, engine)."""
    from django.conf import settings as reader_settings

    if not reader_settings.configured:
        reader_settings.configure(INGESTION=ingestion)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True, name="reader-parent-watch").start()


def _exit_with_parent(parent: int) -> None:
    """A web process killed outright (SIGKILL, SIGTERM without cleanup) must not leave reader processes behind."""
    while os.getppid() == parent:
        time.sleep(2)
    os._exit(0)


def _reset(broken: ProcessPoolExecutor) -> None:
    global _executor
    with _lock:
        if _executor is broken:
            _executor = None
    broken.shutdown(wait=False, cancel_futures=True)


def read_in_reader_process(data: bytes, media_type: str) -> Document:
    """`read_document` in a reader process; a pool whose process died is replaced and the read tried once more."""
    for attempt in (1, 2):
        executor = _pool()
        try:
            outcome = executor.submit(read_here, data, media_type, default_limits()).result()  # today's limits
            break
        except BrokenProcessPool:
            _reset(executor)
            if attempt == 2:
                raise
    if outcome[0] == "error":
        _, status, reason, code = outcome
        raise DocumentError(status, reason, code=code)
    return outcome[1]


def read_here(data: bytes, media_type: str | None = None, limits=None) -> tuple:
    """Runs in the reader process: ("ok", Document) or ("error", status, reason, code)."""
    try:
        return ("ok", read_document(data, media_type=media_type, limits=limits))
    except DocumentError as exc:
        return ("error", exc.status, exc.reason, exc.code)


def read_direct(data: bytes, media_type: str | None = None) -> Document:
    """In a process that is itself a worker (Celery, the management command): no extra hop."""
    return read_document(data, media_type=media_type)


def shutdown() -> None:
    global _executor
    with _lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=True, cancel_futures=True)
