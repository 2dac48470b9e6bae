"""How far the reading of a document has got: pages read out of the pages it has.

The job sets a callback for the reading it is doing (`reporting`); whichever way the reader runs (in a
reader process, or in this one) it reports each page through `current()`, without the stages' signature
knowing about it.
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import Callable, Iterator

PageProgress = Callable[[int, int], None]  # (pages done, pages in the document)
_current: ContextVar[PageProgress | None] = ContextVar("page_progress", default=None)


@contextlib.contextmanager
def reporting(callback: PageProgress) -> Iterator[None]:
    token = _current.set(callback)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> PageProgress | None:
    return _current.get()
