"""The repository's write observer (storage.repository.observe_writes), in the write's own transaction:
a written Subscription is accepted or refused (lifecycle), every write of a watched type leaves an
outbox event, and the matcher is woken once the transaction commits."""
from __future__ import annotations

from django.db import transaction

from fhirserver.subscriptions import lifecycle, matching, outbox


def record_writes(records: list) -> None:
    subscriptions = [r for r in records if r.resource_type == "Subscription"]
    if subscriptions:
        lifecycle.written(subscriptions)  # may refuse the write (422/403): the transaction rolls back
    if outbox.record(records):
        transaction.on_commit(matching.wake)
