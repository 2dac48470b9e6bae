"""ValueSet/$validate-code: whether a code (and its display) is in a value set."""

from __future__ import annotations

from fhirserver.core.errors import bad_request
from fhirserver.core.parameters import OperationInput
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.operations.registry import Operation, register
from fhirserver.terminology.http import instance_or_url, source, terminology_errors, validation_answer
from resources.terminology import validate_in_value_set


@terminology_errors
def validate_code(request: FhirRequest) -> FhirResponse:
    given = OperationInput(request, "validate-code")
    valueset = instance_or_url(
        request, "ValueSet", given.text("url"), given.text("valueSetVersion"), inline=given.resource("valueSet")
    )
    codings = []
    if given.text("code"):
        codings = [
            {
                "system": given.text("system"),
                "code": given.text("code"),
                "display": given.text("display"),
                "version": given.text("systemVersion"),
            }
        ]
    elif given.coding("coding"):
        codings = [given.coding("coding")]
    elif given.codeable_concept("codeableConcept"):
        codings = [c for c in given.codeable_concept("codeableConcept").get("coding") or [] if isinstance(c, dict)]
    codings = [c for c in codings if c.get("code")]
    if not codings:
        raise bad_request(
            "$validate-code needs 'code', 'coding' or 'codeableConcept'",
            code="VALIDATE_CODE_NO_CODE",
            expression=["code"],
        )
    messages = []
    for coding in codings:  # a CodeableConcept is valid when one of its codings is
        result, message, display = validate_in_value_set(
            valueset,
            source(),
            system=coding.get("system"),
            code=coding["code"],
            display=coding.get("display"),
            version=coding.get("version"),
        )
        if result:
            return validation_answer(True, None, display)
        messages.append(message)
    return validation_answer(False, "; ".join(m for m in messages if m), None)


register(
    Operation(
        name="validate-code",
        handler=validate_code,
        resource_types=("ValueSet",),
        levels=("type", "instance"),
        definition="http://hl7.org/fhir/OperationDefinition/ValueSet-validate-code",
    )
)
