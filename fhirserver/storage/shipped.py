"""Resources the server ships (OperationDefinitions, its LOINC and UCUM CodeSystems...), stored as
ordinary resources after every migrate so they can be read, searched and used by the terminology
operations. Storing is a no-op when the stored copy already says the same."""

from __future__ import annotations

import logging

from django.db import DatabaseError

from fhirserver.storage import repository

log = logging.getLogger("fhirserver.storage")


def ensure(resource_type: str, id: str, content: dict) -> None:
    """Store `content` as `resource_type/id` unless the current version is the same (meta aside)."""
    try:
        stored = repository.current(resource_type, id)
        if stored is not None and not stored.deleted and _without_meta(stored.content) == _without_meta(content):
            return
        repository.update(resource_type, id, dict(content, id=id))
    except DatabaseError:  # a partial migrate (storage or search tables not there yet): the next migrate stores it
        log.warning("%s/%s not stored yet: storage is not migrated", resource_type, id)


def _without_meta(content: dict | None) -> dict:
    return {k: v for k, v in (content or {}).items() if k != "meta"}
