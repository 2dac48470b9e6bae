"""ConceptMap/$translate: a code in one system to its equivalents in another, through a stored or
shipped ConceptMap (`url`, an instance, or every map between the source and target systems)."""

from __future__ import annotations

from fhirserver.core.errors import bad_request
from fhirserver.core.parameters import OperationInput, parameters
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.operations.registry import Operation, register
from fhirserver.search import api as search_api
from fhirserver.terminology.http import instance_or_url, terminology_errors
from resources.terminology.conceptmap import is_match
from resources.terminology.conceptmap import translate as translate_code


@terminology_errors
def translate(request: FhirRequest) -> FhirResponse:
    given = OperationInput(request, "translate")
    coding = given.coding("coding") or {}
    concept = given.codeable_concept("codeableConcept")
    codings = [coding] if coding else list((concept or {}).get("coding") or [])
    if given.text("code"):
        codings = [{"system": given.text("system"), "code": given.text("code")}]
    codings = [c for c in codings if isinstance(c, dict) and c.get("code")]
    if not codings:
        raise bad_request(
            "$translate needs 'code' and 'system', 'coding' or 'codeableConcept'",
            code="TRANSLATE_NO_CODE",
            expression=["code"],
        )
    reverse = given.boolean("reverse")
    target_system = given.text("targetsystem")
    maps = _maps(request, given, target_system)
    matches = []
    for map_ in maps:
        for item in codings:
            matches += translate_code(
                map_, system=item.get("system"), code=item["code"], target_system=target_system, reverse=reverse
            )
    found = [m for m in matches if is_match(m)]
    parts = [{"name": "result", "valueBoolean": bool(found)}]
    if not found:
        parts.append({"name": "message", "valueString": "No mapping found for the given code"})
    for match in matches:
        part = [{"name": "equivalence", "valueCode": match["equivalence"]}]
        if match.get("concept"):
            part.append({"name": "concept", "valueCoding": match["concept"]})
        if match.get("source"):
            part.append({"name": "source", "valueUri": match["source"]})
        parts.append({"name": "match", "part": part})
    return FhirResponse(status=200, resource=parameters(*parts))


def _maps(request: FhirRequest, given: OperationInput, target_system: str | None) -> list[dict]:
    if request.id or given.text("url") or given.resource("conceptMap"):
        return [
            instance_or_url(
                request,
                "ConceptMap",
                given.text("url"),
                given.text("conceptMapVersion"),
                inline=given.resource("conceptMap"),
            )
        ]
    query = []
    if given.text("source"):
        query.append(("source-uri", given.text("source")))
    if given.text("target"):
        query.append(("target-uri", given.text("target")))
    if target_system:
        query.append(("target-system", target_system))
    if not query:
        raise bad_request(
            "$translate needs a ConceptMap: 'url', an instance, or 'source'/'target'/'targetsystem'",
            code="TRANSLATE_NO_MAP",
            expression=["url"],
        )
    return [r.content for r in search_api.match_records("ConceptMap", query) if r.content]


register(
    Operation(
        name="translate",
        handler=translate,
        resource_types=("ConceptMap",),
        levels=("type", "instance"),
        definition="http://hl7.org/fhir/OperationDefinition/ConceptMap-translate",
    )
)
