"""The server's own writes of a Subscription: its status (and error) as the server decides them, and
a version rewritten in place so no read shows a secret. Below lifecycle and delivery, which both use it."""
from __future__ import annotations

import contextlib
import contextvars

from django.db.models import F

from fhirserver.search.indexer import index_records
from fhirserver.storage import repository
from fhirserver.storage.models import ResourceRecord, ResourceVersion
from fhirserver.subscriptions.models import SubscriptionState

_internal: contextvars.ContextVar[bool] = contextvars.ContextVar("subscription_internal_write", default=False)


@contextlib.contextmanager
def internal_write():
    """The server writing a Subscription's status: not a client's request, nothing to re-check."""
    token = _internal.set(True)
    try:
        yield
    finally:
        _internal.reset(token)


def is_internal_write() -> bool:
    return _internal.get()


def rewrite_version(record, content: dict) -> None:
    """Replace the content of the version just written (same transaction) and its index rows (the text
    index too: `_content` must not find a secret)."""
    # index_records: what repository.rewrite_meta uses for the same need
    ResourceRecord.objects.filter(resource_type="Subscription", logical_id=record.logical_id).update(content=content)
    ResourceVersion.objects.filter(resource_type="Subscription", logical_id=record.logical_id,
                                   version=record.version).update(content=content)
    index_records([record], clear=True)


def set_status(state: SubscriptionState, status: str, error: str = "") -> None:
    """The server changes a subscription's status: its state row and a new version of the resource."""
    with repository.write_transaction():
        SubscriptionState.objects.filter(pk=state.pk).update(status=status, error=error, revision=F("revision") + 1)
        state.status, state.error = status, error
        stored = repository.current("Subscription", state.logical_id)
        if stored is None or stored.deleted:
            return
        content = {k: v for k, v in stored.content.items() if k not in ("meta", "error")}
        meta = {k: v for k, v in (stored.content.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
        if meta:
            content["meta"] = meta
        content["status"] = status
        if error:
            content["error"] = error
        with internal_write():
            repository.update("Subscription", state.logical_id, content)
