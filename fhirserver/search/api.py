"""The search engine as the rest of the server sees it.

Storage calls `index_resource` inside every write transaction; the REST core calls
`match_records` for conditional interactions and `search_bundle` for search interactions.
(Provisional bodies: the search engine of issue 3 replaces them behind the same signatures.)
"""
from __future__ import annotations

from fhirserver.core.request import FhirRequest
from fhirserver.storage.models import ResourceRecord


def index_resource(record: ResourceRecord) -> None:
    """(Re)write the index rows of `record` (its current content); delete them when deleted."""
    from .indexer import index_records

    index_records([record])


def index_resources(records: list[ResourceRecord]) -> None:
    """`index_resource` for many records at once (one INSERT per index table): for transactions."""
    from .indexer import index_records

    index_records(records)


def match_records(resource_type: str, query: list[tuple[str, str]]) -> list[ResourceRecord]:
    """Current, non-deleted records of `resource_type` matching a search query (conditional ops)."""
    records = ResourceRecord.objects.filter(resource_type=resource_type, deleted=False)
    for name, value in query:
        if name == "_id":
            records = records.filter(logical_id__in=value.split(","))
    result = list(records)
    for name, value in query:
        if name == "identifier":
            system, _, code = value.rpartition("|") if "|" in value else ("", "", value)
            result = [
                r for r in result
                if any(i.get("value") == code and (not system or i.get("system") == system) for i in (r.content or {}).get("identifier", []))
            ]
    return result


def search_bundle(request: FhirRequest) -> dict:
    """A searchset Bundle for `request` (type-level, system-level or compartment search)."""
    from fhirserver.core.errors import FhirError

    raise FhirError(501, "Search is not implemented yet", issue_code="not-supported")
