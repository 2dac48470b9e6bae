"""Which stored rows an export holds, and how they are streamed.

A system export holds every type the token may read. A Patient or Group export holds the resources
in the patients' compartments (the R4 Patient CompartmentDefinition, through the search index) and
then the resources those reference that are nobody's record (Practitioner, Organization, Location,
Medication...), found in the exported JSON text itself and followed until nothing new turns up.
Other patients are never followed: a Patient reference outside the cohort is not exported.

Rows come from one server-side cursor per type in primary-key (keyset) order, as stored JSON text:
no model instance, no JSON parse, constant memory whatever the size of the table.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from urllib.parse import parse_qsl

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q

from fhirserver.bulk.models import ExportJob
from fhirserver.core.errors import FhirError
from fhirserver.search import api as search_api
from fhirserver.search.compartments import compartment_params, compartment_types, in_compartments
from fhirserver.storage import repository
from fhirserver.storage.models import ResourceRecord
from resources.types import R4_RESOURCE_TYPES

# A literal reference in stored JSON: relative ("Practitioner/1"), absolute, or versioned.
_REFERENCE = re.compile(r'"reference":"(?:[^"]*/)?([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^"/]*)?"')
_MEMBER = re.compile(r"(?:^|/)(Patient|Group)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]*)?$")
ID_CHUNK = 1000  # logical ids per query when fetching referenced resources


def record_types() -> list[str]:
    """Types that live in patient compartments (Patient first)."""
    return ["Patient"] + [t for t in compartment_types("Patient") if t != "Patient"]


def is_supporting(resource_type: str) -> bool:
    """Nobody's record: a receiver of a patient's data needs it to read the references."""
    return resource_type != "Patient" and not compartment_params("Patient", resource_type)


def stored_types() -> set[str]:
    return set(ResourceRecord.objects.filter(deleted=False).values_list("resource_type", flat=True).distinct())


@dataclass
class Plan:
    """The types streamed in full (in order), the supporting types followed by reference, and what the
    manifest's error file says (types the token may not read, cohort members not found)."""

    types: list[str]
    supporting: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    scanned: list[str] = field(default_factory=list)  # read for their references only, not exported


def plan(job: ExportJob) -> Plan:
    readable = job.scope.get("types")  # None: every type
    allowed = (lambda t: True) if readable is None else (lambda t: t in readable)
    asked = list(job.types)
    problems = [f"The token's scopes do not allow reading {t}; it is not exported" for t in asked if not allowed(t)]
    have = stored_types()
    if job.level == "system":
        types = [t for t in (asked or sorted(have)) if allowed(t) and t in have]
        return Plan(types, set(), problems)
    wanted = set(asked) if asked else None
    # A Group is in its members' compartments, but it is the cohort's list, not anyone's data: only on request.
    types = [t for t in record_types() if (t in wanted if wanted is not None else t != "Group")
             and allowed(t) and t in have]
    supporting = {t for t in (wanted or R4_RESOURCE_TYPES) if is_supporting(t) and allowed(t)}
    # `_type=Practitioner` alone: the practitioners the records refer to, so the records are read for it.
    scanned = [t for t in record_types() if wanted is not None and supporting and t not in wanted and t in have
               and t != "Group" and allowed(t)]
    return Plan(types, supporting, problems, scanned)


# --- cohorts -------------------------------------------------------------------------------------
def group_members(group_id: str) -> list[str]:
    """Patient ids of a Group's active members (`member.entity`), nested Groups followed once each."""
    patients: list[str] = []
    seen_groups: set[str] = set()
    pending = [group_id]
    while pending:
        current = pending.pop()
        if current in seen_groups:
            continue
        seen_groups.add(current)
        stored = repository.current("Group", current)
        if stored is None or stored.deleted:
            if current == group_id:
                raise FhirError(404, f"Group/{group_id} is not known", issue_code="not-found", code="BULK_NO_GROUP")
            continue
        for member in stored.content.get("member") or []:
            if not isinstance(member, dict) or member.get("inactive") is True:
                continue
            match = _MEMBER.search(str((member.get("entity") or {}).get("reference") or ""))
            if match and match.group(1) == "Patient":
                patients.append(match.group(2))
            elif match:
                pending.append(match.group(2))
    return list(dict.fromkeys(patients))


def member_id(reference: str) -> str | None:
    """`Patient/x` (relative or absolute) -> "x"."""
    match = _MEMBER.search(reference or "")
    return match.group(2) if match and match.group(1) == "Patient" else None


def cohort(job: ExportJob) -> list[str] | None:
    """The patients a Patient/Group export covers; None = every patient."""
    if job.level == "group":
        members = group_members(job.group_id)
        return [p for p in members if p in set(job.patients)] if job.patients else members
    return list(job.patients) if job.patients else None


# --- conditions ----------------------------------------------------------------------------------
def base_condition(job: ExportJob, resource_type: str) -> Q:
    """What every exported row of `resource_type` satisfies: current, as of the transaction time,
    changed since `_since`, matching a `_typeFilter` of its type and the token's query constraints."""
    q = Q(resource_type=resource_type, deleted=False, last_updated__lte=job.transaction_time)
    if job.since is not None:
        q &= Q(last_updated__gte=job.since)  # stored times are whole milliseconds: the since's own one counts
    filters = job.type_filters.get(resource_type)
    if filters:
        q &= reduce(or_, (search_api.match_condition(resource_type, parse_qsl(f, keep_blank_values=True))
                          for f in filters))
    constraints = (job.scope.get("queries") or {}).get(resource_type)
    if constraints:
        q &= reduce(or_, (search_api.match_condition(resource_type, [tuple(p) for p in c]) for c in constraints))
    return q


def _deleted(job: ExportJob):
    return ResourceRecord.objects.filter(deleted=True, last_updated__gte=job.since,
                                         last_updated__lte=job.transaction_time)


def deleted_types(job: ExportJob) -> list[str]:
    """The types asked for (`_type`, else any) that the token may read and that had a deletion since `_since`."""
    readable = job.scope.get("types")
    found = set(_deleted(job).values_list("resource_type", flat=True).distinct())
    return [t for t in sorted(found) if (not job.types or t in job.types) and (readable is None or t in readable)]


def deleted_since(job: ExportJob, resource_type: str) -> Iterator[list[str]]:
    """Batches of the ids of `resource_type` deleted after the export's `_since`, by its transaction time."""
    rows = _deleted(job).filter(resource_type=resource_type).order_by("id")
    size = int(settings.BULK["FETCH_ROWS"])
    last = 0
    while batch := list(rows.filter(id__gt=last).values_list("id", "logical_id")[:size]):
        last = batch[-1][0]
        yield [logical_id for _, logical_id in batch]


def in_cohort(resource_type: str, patients: list[str] | None) -> Q:
    """Records of `resource_type` in the compartment of any of `patients` (None: of any patient)."""
    return in_compartments("Patient", patients, resource_type).q()


def validate_filter(resource_type: str, query: str) -> None:
    """Compile a `_typeFilter` once at kick-off, so a bad one is the client's 400, not a failed job."""
    search_api.match_condition(resource_type, parse_qsl(query, keep_blank_values=True))


# --- streaming -----------------------------------------------------------------------------------
def stream(condition: Q) -> Iterator[list[str]]:
    """Batches of the stored JSON text of the matching rows, in primary-key order, from a server-side
    cursor (a named cursor inside a read transaction on PostgreSQL)."""
    rows = ResourceRecord.objects.filter(condition).order_by("id").values_list("content")
    sql, params = rows.query.sql_with_params()
    size = int(settings.BULK["FETCH_ROWS"])
    if connection.vendor != "postgresql":  # SQLite's cursor already steps through the result lazily
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            while batch := cursor.fetchmany(size):
                yield [row[0] for row in batch]
        return
    with transaction.atomic():
        cursor = connection.chunked_cursor()
        cursor.cursor.itersize = size
        try:
            cursor.execute(sql, params)
            while batch := cursor.fetchmany(size):
                yield [row[0] for row in batch]
        finally:
            cursor.close()


class References:
    """Supporting resources the exported text refers to, each wanted once."""

    def __init__(self, supporting: set[str]):
        self.supporting = supporting
        self.seen: set[tuple[str, str]] = set()
        self.pending: dict[str, set[str]] = {}

    def collect(self, texts: list[str]) -> None:
        for resource_type, logical_id in _REFERENCE.findall("\n".join(texts)):
            key = (resource_type, logical_id)
            if resource_type in self.supporting and key not in self.seen:
                self.seen.add(key)
                self.pending.setdefault(resource_type, set()).add(logical_id)

    def take(self) -> dict[str, list[str]]:
        taken, self.pending = self.pending, {}
        return {t: sorted(ids) for t, ids in taken.items()}


def by_ids(condition: Q, ids: list[str]) -> Iterator[Q]:
    for start in range(0, len(ids), ID_CHUNK):
        yield condition & Q(logical_id__in=ids[start:start + ID_CHUNK])
