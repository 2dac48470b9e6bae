"""Reader processes: OCR runs here, never in a web request thread (the engines hold the GIL for seconds).

A small spawn-context process pool, started on first use; each process loads the OCR engine once and
keeps it. The bytes go in and the document tree comes back as it is (pickled by the pool, never turned
into JSON on the way); reader refusals (`DocumentError`) cross the process boundary as plain values. Each page read is
reported back over one queue the pool shares (a relay thread keeps the latest count per reading), and the
job's thread passes it on to the job (`ingestion.progress`) while it waits for the result.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool

from django.conf import settings

from ingestion import progress
from ingestion.document import Document
from ingestion.reader import bounds, read_document
from ingestion.reader.config import default_limits
from ingestion.reader.errors import DocumentError, too_slow

_lock = threading.Lock()
_executor: ProcessPoolExecutor | None = None
_latest: dict[str, tuple[int, int]] = {}  # reading token -> (pages done, pages total), from the relay thread
_pages_read = None  # in a reader process: the queue its pages read go to
PROGRESS_POLL_SECONDS = 0.5


def _pool() -> ProcessPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            workers = max(1, int(settings.INGESTION["WORKERS"]))
            context = multiprocessing.get_context("spawn")
            pages_read = context.Queue()  # given to each reader process as it starts
            _executor = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_configure_reader,
                                            initargs=(dict(settings.INGESTION), pages_read))
            threading.Thread(target=_relay, args=(pages_read,), daemon=True, name="reader-progress").start()
        return _executor


def _relay(pages_read) -> None:
    """Keep the latest page count of every reading under way (the job's thread picks it up)."""
    while True:
        try:
            item = pages_read.get()
        except (EOFError, OSError):
            return
        if item is None:
            return
        token, done, total = item
        _latest[token] = (done, total)


def _configure_reader(ingestion: dict, pages_read=None) -> None:
    """In a fresh reader process: the reader's knobs as the web process has them (limits, engine)."""
    global _pages_read
    from django.conf import settings as reader_settings

    _pages_read = pages_read
    if not reader_settings.configured:
        reader_settings.configure(INGESTION=ingestion)
    bounds.limit_memory(default_limits().reader_memory_bytes)
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


def read_in_reader_process(data: bytes, media_type: str | None = None) -> Document:
    """`read_document` in a reader process; a pool whose process died is replaced and the read tried once more."""
    limits = default_limits()  # today's limits, not the pool's first
    on_page = progress.current()
    token = uuid.uuid4().hex if on_page else None
    for attempt in (1, 2):
        executor = _pool()
        try:
            # The reader stops itself at read_seconds; waiting longer means it is stuck in C code.
            future = executor.submit(read_here, data, media_type, limits, token)
            outcome = _wait(future, token, on_page, timeout=limits.read_seconds + 30)
            break
        except FutureTimeout:
            _kill(executor)
            raise too_slow(limits.read_seconds) from None
        except BrokenProcessPool:
            _reset(executor)
            if attempt == 2:
                raise
        finally:
            _latest.pop(token, None)
    if outcome[0] == "error":
        _, status, reason, code = outcome
        raise DocumentError(status, reason, code=code)
    return outcome[1]


def _wait(future, token: str | None, on_page, *, timeout: float):
    """The reading's outcome (FutureTimeout after `timeout` s); meanwhile each new page count is passed to
    `on_page` in this thread."""
    if on_page is None:
        return future.result(timeout=timeout)
    deadline = time.monotonic() + timeout
    told = None
    while True:
        try:
            outcome = future.result(timeout=min(PROGRESS_POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        except FutureTimeout:
            if time.monotonic() >= deadline:
                raise
            outcome = None
        latest = _latest.get(token)
        if latest is not None and latest != told:
            told = latest
            on_page(*latest)
        if outcome is not None:
            return outcome


def _kill(executor: ProcessPoolExecutor) -> None:
    """Stop a pool whose reader will not come back (the next read starts a fresh one)."""
    for process in list(getattr(executor, "_processes", {}).values()):
        process.kill()
    _reset(executor)


def read_here(data: bytes, media_type: str | None = None, limits=None, token: str | None = None) -> tuple:
    """Runs in the reader process: ("ok", Document) or ("error", status, reason, code)."""
    limits = limits or default_limits()
    queue = _pages_read
    on_page = (lambda done, total: queue.put((token, done, total))) if token and queue is not None else None
    try:
        with bounds.time_limit(limits.read_seconds):
            return ("ok", read_document(data, media_type=media_type, limits=limits, on_page=on_page))
    except DocumentError as exc:
        return ("error", exc.status, exc.reason, exc.code)
    except MemoryError:
        return ("error", 413, f"Reading the document needs more memory than a reader may use "
                f"({limits.reader_memory_bytes // 2**20:,} MiB)", "DOCUMENT_TOO_MUCH_MEMORY")
    except RecursionError:
        return ("error", 422, "The document's structure is nested too deeply to read", "DOCUMENT_CORRUPT")
    except Exception as exc:  # noqa: BLE001 - a parser that chokes on a malformed upload: the client's file
        logging.getLogger("ingestion.reader").warning("reader failed on an upload", exc_info=True)
        return ("error", 422, f"The document is damaged and cannot be read ({type(exc).__name__})",
                "DOCUMENT_CORRUPT")


def read_direct(data: bytes, media_type: str | None = None) -> Document:
    """In a process that is itself a worker (Celery, the management command): no extra hop."""
    return read_document(data, media_type=media_type, on_page=progress.current())


def shutdown() -> None:
    global _executor
    with _lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=True, cancel_futures=True)
