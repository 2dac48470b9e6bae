"""Reader processes: OCR runs here, never in a web request thread (the engines hold the GIL for seconds).

A small spawn-context process pool, started on first use; each process loads the OCR engine once and
keeps it. Reader refusals (`DocumentError`) cross the process boundary as plain values.
"""
from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool

from django.conf import settings

from ingestion.document import Document
from ingestion.reader.config import default_limits

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
    from ingestion.reader import bounds

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


def read_in_reader_process(data: bytes) -> Document:
    """`read_document` in a reader process; a pool whose process died is replaced and the read tried once more."""
    limits = default_limits()  # today's limits, not the pool's first
    for attempt in (1, 2):
        executor = _pool()
        try:
            # The reader stops itself at read_seconds; waiting longer means it is stuck in C code.
            outcome = executor.submit(read_here, data, limits).result(timeout=limits.read_seconds + 30)
            break
        except FutureTimeout:
            _kill(executor)
            from ingestion.reader.errors import too_slow

            raise too_slow(limits.read_seconds) from None
        except BrokenProcessPool:
            _reset(executor)
            if attempt == 2:
                raise
    if outcome[0] == "error":
        from ingestion.reader.errors import DocumentError

        _, status, reason, code = outcome
        raise DocumentError(status, reason, code=code)
    return Document.from_json(outcome[1])


def _kill(executor: ProcessPoolExecutor) -> None:
    """Stop a pool whose reader will not come back (the next read starts a fresh one)."""
    for process in list(getattr(executor, "_processes", {}).values()):
        process.kill()
    _reset(executor)


def read_here(data: bytes, limits=None) -> tuple:
    """Runs in the reader process: ("ok", document JSON) or ("error", status, reason, code)."""
    from ingestion.reader import bounds, read_document
    from ingestion.reader.errors import DocumentError

    limits = limits or default_limits()
    try:
        with bounds.time_limit(limits.read_seconds):
            return ("ok", read_document(data, limits=limits).to_json())
    except DocumentError as exc:
        return ("error", exc.status, exc.reason, exc.code)
    except MemoryError:
        return ("error", 413, f"Reading the document needs more memory than a reader may use "
                f"({limits.reader_memory_bytes // 2**20:,} MiB)", "DOCUMENT_TOO_MUCH_MEMORY")
    except RecursionError:
        return ("error", 422, "The document's structure is nested too deeply to read", "DOCUMENT_CORRUPT")
    except Exception as exc:  # noqa: BLE001 - a parser that chokes on a malformed upload: the client's file
        import logging

        logging.getLogger("ingestion.reader").warning("reader failed on an upload", exc_info=True)
        return ("error", 422, f"The document is damaged and cannot be read ({type(exc).__name__})",
                "DOCUMENT_CORRUPT")


def read_direct(data: bytes) -> Document:
    """In a process that is itself a worker (Celery, the management command): no extra hop."""
    from ingestion.reader import read_document

    return read_document(data)


def shutdown() -> None:
    global _executor
    with _lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=True, cancel_futures=True)
