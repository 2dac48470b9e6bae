"""ValueSet/$expand: the codes a value set holds, with `filter`, `count`/`offset`, `activeOnly`,
`includeDesignations` and `displayLanguage` (where the content has designations in it)."""

from __future__ import annotations

from django.conf import settings

from fhirserver.core.parameters import OperationInput
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.operations.registry import Operation, register
from fhirserver.terminology.http import instance_or_url, source, terminology_errors
from resources.terminology import expand as expand_value_set


@terminology_errors
def expand(request: FhirRequest) -> FhirResponse:
    given = OperationInput(request, "expand")
    valueset = instance_or_url(
        request, "ValueSet", given.text("url"), given.text("valueSetVersion"), inline=given.resource("valueSet")
    )
    count = given.integer("count")
    if count is not None:
        count = min(count, settings.FHIR["MAX_COUNT"])
    expanded, _ = expand_value_set(
        valueset,
        source(),
        text=given.text("filter"),
        offset=given.integer("offset", 0),
        count=count,
        display_language=given.text("displayLanguage") or _accept_language(request),
        active_only=given.boolean("activeOnly"),
        include_designations=given.boolean("includeDesignations"),
    )
    return FhirResponse(status=200, resource=expanded)


def _accept_language(request: FhirRequest) -> str | None:
    value = request.header("accept-language")
    return value.split(",")[0].split(";")[0].strip() or None if value else None


register(
    Operation(
        name="expand",
        handler=expand,
        resource_types=("ValueSet",),
        levels=("type", "instance"),
        definition="http://hl7.org/fhir/OperationDefinition/ValueSet-expand",
    )
)
