"""The search engine as the rest of the server sees it.

Storage calls `index_resource` (or `index_resources` for many) inside every write transaction; the
REST core calls `match_records` for conditional interactions and `search_bundle` for search
interactions; the CapabilityStatement lists `search_parameters_for(type)`; security uses
`in_patient_compartment` on the read path; the security layer's access decision gives the engine its
search filter (`Access.search_q`). See docs/search.md.
"""
from __future__ import annotations

from fhirserver.core.request import FhirRequest
from fhirserver.storage.models import ResourceRecord

from . import engine
from .compartments import in_patient_compartment  # noqa: F401  (re-exported for the security layer)
from .indexer import index_records
from .registry import (  # noqa: F401
    MODIFIERS,
    PREFIXES,
    RESULT_PARAMETERS,
    SearchParam,
    includes_for,
    revincludes_for,
    search_parameters_for,
)


def index_resource(record: ResourceRecord) -> None:
    """(Re)write the index rows of `record` (its current content); delete them when deleted."""
    index_records([record])


def index_resources(records: list[ResourceRecord]) -> None:
    """`index_resource` for many records at once (one INSERT per index table): for transactions."""
    index_records(records)


def match_records(resource_type: str, query: list[tuple[str, str]]) -> list[ResourceRecord]:
    """Current, non-deleted records of `resource_type` matching a search query (conditional ops)."""
    return engine.match_records(resource_type, query)


def match_condition(resource_type: str, query: list[tuple[str, str]]):
    """The matches of a search query as a `Q` over ResourceRecord, for a caller that streams them
    itself (bulk export's _typeFilter and scope constraints); unknown parameters are a 400."""
    return engine.match_condition(resource_type, query)


def search_bundle(request: FhirRequest) -> dict:
    """A searchset Bundle for `request` (type-level, system-level or compartment search)."""
    return engine.search_bundle(request)


def search_json(request: FhirRequest) -> str:
    """`search_bundle` already serialised as compact JSON, with the matches spliced in as stored."""
    return engine.search_json(request)
