"""Compartments (R4 CompartmentDefinitions): which resources belong to Patient/123, Encounter/9...

Used by compartment search (`GET /fhir/Patient/123/Observation`), `Patient/$everything` and the
security layer (`in_patient_compartment` on the read path, `compartment_q` on search).
"""
from __future__ import annotations

from functools import lru_cache

from resources import definitions

from .conditions import NOTHING, Rows, Where, eq, one_of
from .models import ReferenceIndex
from .params import reference
from .registry import get_param


@lru_cache(maxsize=1)
def _definitions() -> dict[str, dict[str, list[str]]]:
    return definitions.load("compartments.json")


def compartment_params(compartment_type: str, resource_type: str) -> list[str]:
    """Reference parameters of `resource_type` that put it in a `compartment_type` compartment."""
    return [p for p in _definitions().get(compartment_type, {}).get(resource_type, []) if p != "{def}"]


def compartment_types(compartment_type: str) -> list[str]:
    """Resource types that can be in a compartment of `compartment_type` (the owner type included)."""
    return sorted(set(_definitions().get(compartment_type, {})) | {compartment_type})


def compartment_q(compartment_type: str, compartment_id: str, resource_type: str) -> Where:
    """Records of `resource_type` in compartment `compartment_type/compartment_id`."""
    return in_compartments(compartment_type, [compartment_id], resource_type)


def in_compartments(compartment_type: str, owner_ids: list[str] | None, resource_type: str) -> Where:
    """Records of `resource_type` in the compartment of any of `owner_ids` (None: of any owner)."""
    params = compartment_params(compartment_type, resource_type)
    q = NOTHING
    if params:
        rows = eq("resource_type", resource_type) & one_of("name", params) & eq("target_type", compartment_type)
        if owner_ids is not None:
            rows &= one_of("target_id", owner_ids)
        q = Where.of(Rows(ReferenceIndex._meta.db_table, rows))
    if resource_type == compartment_type:
        owners = one_of("logical_id", owner_ids) if owner_ids is not None else eq("resource_type", resource_type)
        q |= Where(rest=owners)
    return q


def in_compartment(compartment_type: str, compartment_id: str, resource_type: str, content: dict) -> bool:
    """Whether a resource (as JSON) is in the compartment, computed from its content alone."""
    if resource_type == compartment_type and content.get("id") == compartment_id:
        return True
    for name in compartment_params(compartment_type, resource_type):
        param = get_param(resource_type, name)
        if param is None or param.type != "reference" or not param.expression:
            continue
        for row in reference.extract(param.extractor(resource_type)(content)):
            if row["target_type"] == compartment_type and row["target_id"] == compartment_id:
                return True
    return False


def in_patient_compartment(resource_type: str, content: dict, patient_id: str) -> bool:
    """True when the resource is Patient/`patient_id` or in that patient's compartment (R4 definition)."""
    return in_compartment("Patient", patient_id, resource_type, content)


def outside_compartments(compartment_type: str, owner_ids: list[str]):
    """`row -> bool`: whether a record belongs to compartments of `compartment_type` other than
    `owner_ids` and to none of theirs (another patient, or another patient's result). Rows that
    belong to no such compartment (a Practitioner, an Organization, a Medication) are not outside."""
    owners = set(owner_ids)

    def outside(row: dict) -> bool:
        resource_type, content = row["resource_type"], row.get("content") or {}
        if resource_type == compartment_type:
            return row.get("logical_id", content.get("id")) not in owners
        targets = set()
        for name in compartment_params(compartment_type, resource_type):
            param = get_param(resource_type, name)
            if param is None or param.type != "reference" or not param.expression:
                continue
            targets |= {r["target_id"] for r in reference.extract(param.extractor(resource_type)(content))
                        if r["target_type"] == compartment_type}
        return bool(targets) and not targets & owners

    return outside
