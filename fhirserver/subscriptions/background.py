"""What every background thread of the subscriptions app shares: its settings, the clock, and a lower
CPU priority. The bottom of the app: it imports nothing of it."""
from __future__ import annotations

import os
import threading
from datetime import datetime, timezone

from django.conf import settings


def config(name: str):
    return settings.SUBSCRIPTIONS[name]


def now() -> datetime:
    return datetime.now(timezone.utc)


_niced = threading.local()


def background_priority() -> None:
    """Notification work yields the CPU to writes: this thread (not the process) runs at nice NICE."""
    if getattr(_niced, "done", False):
        return
    _niced.done = True
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), int(config("NICE")))
    except (OSError, AttributeError):  # not Linux, or not allowed: run at the usual priority
        pass
