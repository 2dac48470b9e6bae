"""The CapabilityStatement, generated from what the server actually implements.

Types come from the R4 type list, search parameters from the search engine's own registry,
operations from the operation registry and the security block from the security layer, so the
statement cannot drift from the code.
"""
from __future__ import annotations

from functools import lru_cache

from django.conf import settings
from django.utils.module_loading import import_string

from fhirserver.core import patching
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.operations import registry as operations
from fhirserver.search import api as search_api
from resources.types import R4_RESOURCE_TYPES

TYPE_INTERACTIONS = [
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
]
SYSTEM_INTERACTIONS = ["transaction", "batch", "search-system", "history-system"]


def capabilities(request: FhirRequest) -> FhirResponse:
    return FhirResponse(status=200, resource=capability_statement(request.base_url))


@lru_cache(maxsize=8)
def capability_statement(base_url: str) -> dict:
    fhir = settings.FHIR
    rest: dict = {"mode": "server", "documentation": "FHIR R4 RESTful API with $digitize for lab reports"}
    security = _security_block(base_url)
    if security:
        rest["security"] = security
    rest["resource"] = [_resource_entry(t) for t in sorted(R4_RESOURCE_TYPES)]
    rest["interaction"] = [{"code": code} for code in SYSTEM_INTERACTIONS]
    rest["searchParam"] = _search_params(None)
    system_ops = [op for op in operations.all_operations() if "system" in op.levels]
    if system_ops:
        rest["operation"] = [{"name": op.name, "definition": op.definition} for op in system_ops]
    statement = {
        "resourceType": "CapabilityStatement",
        "id": "server",
        "status": "active",
        "date": "2026-11-25",
        "publisher": "fhir-digitize",
        "kind": "instance",
        "software": {"name": fhir["SOFTWARE_NAME"], "version": fhir["SOFTWARE_VERSION"]},
        "implementation": {"description": "FHIR R4 server with $digitize", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json", "application/fhir+xml", "xml"],  # fhirserver/api/negotiation.py
        "patchFormat": patching.PATCH_FORMATS,
        "rest": [rest],
    }
    for path in fhir.get("CAPABILITY_CONTRIBUTORS", ()):  # features that declare more (e.g. subscription topics)
        import_string(path)(statement)
    return statement


def _resource_entry(resource_type: str) -> dict:
    entry: dict = {
        "type": resource_type,
        "interaction": [{"code": code} for code in TYPE_INTERACTIONS],
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": True,
        "conditionalCreate": True,
        "conditionalRead": "full-support",
        "conditionalUpdate": True,
        "conditionalDelete": "single",
        "referencePolicy": ["literal", "logical"],
    }
    params = _search_params(resource_type)
    if params:
        entry["searchInclude"] = search_api.includes_for(resource_type)  # each one works: Inferno reads these
        entry["searchRevInclude"] = search_api.revincludes_for(resource_type)
        entry["searchParam"] = params
    ops = [
        op
        for op in operations.all_operations()
        if ({"type", "instance"} & set(op.levels)) and (op.resource_types is None or resource_type in op.resource_types)
    ]
    if ops:
        entry["operation"] = [{"name": op.name, "definition": op.definition} for op in ops]
    return entry


def _search_params(resource_type: str | None) -> list[dict]:
    """Search parameters as the search engine registers them (empty until it provides a registry)."""
    lister = getattr(search_api, "search_parameters_for", None)
    if lister is None:
        return []
    result = []
    for param in lister(resource_type):
        item = {"name": param.name, "type": param.type}
        if getattr(param, "url", None):
            item["definition"] = param.url
        if getattr(param, "documentation", None):
            item["documentation"] = param.documentation
        result.append(item)
    return result


def _security_block(base_url: str) -> dict | None:
    path = settings.FHIR.get("CAPABILITY_SECURITY")
    if not path:
        return None
    return import_string(path)(base_url)
