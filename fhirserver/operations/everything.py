"""Patient/$everything: the patient, everything in their compartment, and what those point to.

Instance level (`Patient/123/$everything`) or type level (every patient the caller may see).
Parameters: `_since` (lastUpdated), `_type` (types to return), `_count` (page size, with links).
"""
from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings

from fhirserver.core import guard
from fhirserver.core.errors import FhirError, bad_request, not_found
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.operations.registry import Operation, register
from fhirserver.search import includes, sql
from fhirserver.search.compartments import compartment_params, outside_compartments
from fhirserver.search.conditions import compare, one_of
from fhirserver.search.models import ReferenceIndex
from fhirserver.search.paging import OrderKey, fetch_page
from fhirserver.search.parser import Include
from fhirserver.search.values import search_date_range
from fhirserver.storage.models import ResourceRecord
from resources import decimals

FIELDS = ("id", "resource_type", "logical_id", "text")  # "text": the stored JSON, parsed once here


def _patient_ids(request: FhirRequest) -> list[str]:
    patient_id = guard.confined_patient(request)
    if request.id:
        if patient_id and patient_id != request.id:
            raise FhirError(403, "The token's patient context does not allow this patient", issue_code="forbidden",
                            code="EVERYTHING_FORBIDDEN")
        if not ResourceRecord.objects.filter(resource_type="Patient", logical_id=request.id, deleted=False).exists():
            raise not_found("Patient", request.id)
        return [request.id]
    if patient_id:
        return [patient_id]
    return list(
        ResourceRecord.objects.filter(resource_type="Patient", deleted=False).values_list("logical_id", flat=True)
    )


def compartment_record_ids(patient_ids: list[str]) -> set[int]:
    """Records in the compartments of these patients (R4 Patient CompartmentDefinition), the patients included."""
    ids = set(ResourceRecord.objects.filter(resource_type="Patient", logical_id__in=patient_ids, deleted=False)
              .values_list("id", flat=True))
    rows = ReferenceIndex.objects.filter(target_type="Patient", target_id__in=patient_ids).values_list(
        "record_id", "resource_type", "name"
    )
    for record_id, resource_type, name in rows:
        if name in compartment_params("Patient", resource_type):
            ids.add(record_id)
    return ids


def everything(request: FhirRequest) -> FhirResponse:
    params = dict(request.query)
    count = params.get("_count", str(settings.FHIR["DEFAULT_COUNT"]))
    if not count.isdigit():
        raise bad_request("_count must be a non-negative integer", code="SEARCH_BAD_COUNT")
    count = min(int(count), settings.FHIR["MAX_COUNT"])
    patient_ids = _patient_ids(request)
    condition = one_of("id", sorted(compartment_record_ids(patient_ids)))
    types = [t for t in params.get("_type", "").split(",") if t]
    if types:
        condition &= one_of("resource_type", types)
    if params.get("_since"):
        condition &= compare("last_updated", ">=", search_date_range(params["_since"], name="_since")[0])
    page = fetch_page(condition, [OrderKey("id", False, "int")], count, params.get("_cursor"), FIELDS)
    for row in page.rows:
        row["content"] = decimals.loads(row.pop("text"))
    # Every row passes the same read decision as a direct read (v2 scope queries included).
    visible = [row for row in page.rows if guard.can_see(request, row["resource_type"], row["content"])]
    entries = [_entry(request, row, "match") for row in visible]
    # What the patients' resources point to, unless it is another patient's record: a reference
    # written into one's own resource must not open someone else's compartment.
    foreign = outside_compartments("Patient", patient_ids)
    referenced = includes.resolve(
        [Include("*", "*", None, False, False, ("_include", "*"))],
        visible,
        allowed=lambda row: not foreign(row) and guard.can_see(request, row["resource_type"], row["content"]),
        visible=guard.visible(request),
    )
    entries += [_entry(request, row, "include") for row in referenced if not types or row["resource_type"] in types]
    path = (
        f"{request.base_url}/Patient/{request.id}/$everything"
        if request.id
        else f"{request.base_url}/Patient/$everything"
    )
    kept = [(k, v) for k, v in request.query if k in ("_since", "_type")] + [("_count", str(count))]
    links = [
        {
            "relation": "self",
            "url": f"{path}?{urlencode(kept + ([('_cursor', params['_cursor'])] if params.get('_cursor') else []))}",
        }
    ]
    for relation, cursor in (("previous", page.previous), ("next", page.next)):
        if cursor:
            links.append({"relation": relation, "url": f"{path}?{urlencode(kept + [('_cursor', cursor)])}"})
    bundle = {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}
    if len(visible) == len(page.rows):  # a total that counted unreadable rows would tell of them
        bundle["total"] = sql.count(sql.record_ids(condition))
    return FhirResponse(status=200, resource=bundle)


def _entry(request: FhirRequest, row: dict, mode: str) -> dict:
    return {"fullUrl": f"{request.base_url}/{row['resource_type']}/{row['logical_id']}", "resource": row["content"],
            "search": {"mode": mode}}


register(Operation(
    name="everything", handler=everything, resource_types=("Patient",), levels=("type", "instance"),
    definition="http://hl7.org/fhir/OperationDefinition/Patient-everything",
))
