"""The reader's time and memory, bounded inside the reader process (a decompression or size bomb
that got past the byte limits of pdf.py and images.py still ends as a 413/422, not a stuck worker).

- Time: SIGALRM in the process's main thread (pdfminer and the pipeline are Python, so the alarm
  lands); the web process also stops waiting a little later and replaces the reader process
  (ingestion/edge/jobs/pool.py), for the rare C loop that never returns to Python.
- Memory: the reader process's address space (RLIMIT_AS), set once when the process starts; an
  allocation past it is a MemoryError, reported as 413.
"""
from __future__ import annotations

import contextlib
import resource
import signal
import threading

from . import errors


class _OutOfTime(BaseException):
    """Raised by the alarm; a BaseException so that no `except Exception` on the way swallows it."""


@contextlib.contextmanager
def time_limit(seconds: int):
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _OutOfTime:
        raise errors.too_slow(seconds) from None
    except MemoryError:
        raise errors.too_much_memory(resource.getrlimit(resource.RLIMIT_AS)[0]) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def limit_memory(nbytes: int) -> None:
    """Cap this process's address space (only ever called in a reader process)."""
    if nbytes <= 0:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        nbytes = min(nbytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (nbytes, hard))
