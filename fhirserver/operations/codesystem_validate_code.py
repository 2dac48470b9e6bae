"""CodeSystem/$validate-code: whether a code (and its display) is in a code system."""

from __future__ import annotations

from fhirserver.core.errors import bad_request
from fhirserver.core.parameters import OperationInput
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.operations.registry import Operation, register
from fhirserver.terminology.http import instance_or_url, source, terminology_errors, validation_answer
from resources import ucum
from resources.terminology import CodeSystemView

UCUM = "http://unitsofmeasure.org"


@terminology_errors
def validate_code(request: FhirRequest) -> FhirResponse:
    given = OperationInput(request, "validate-code")
    coding = given.coding("coding") or next(
        iter((given.codeable_concept("codeableConcept") or {}).get("coding") or []), {}
    )
    code = given.text("code") or coding.get("code")
    url = given.text("url") or coding.get("system")
    display = given.text("display") or coding.get("display")
    if not code:
        raise bad_request(
            "$validate-code needs 'code', 'coding' or 'codeableConcept'",
            code="VALIDATE_CODE_NO_CODE",
            expression=["code"],
        )
    if not request.id and url == UCUM:  # UCUM is a grammar: any well-formed unit expression is a code
        valid = ucum.is_valid(code)
        return validation_answer(
            valid, None if valid else f"'{code}' is not a valid UCUM unit", code if valid else None
        )
    if request.id:
        codesystem = CodeSystemView(instance_or_url(request, "CodeSystem", None, None))
    else:
        if not url:
            raise bad_request(
                "$validate-code needs 'url' (the code system)", code="VALIDATE_CODE_NO_SYSTEM", expression=["url"]
            )
        codesystem = source().codesystem(url, given.text("version"))
        if codesystem is None:
            instance_or_url(request, "CodeSystem", url, given.text("version"))
    concept = codesystem.lookup(code)
    if concept is None:
        return validation_answer(False, f"The code '{code}' is not in {codesystem.url}", None)
    if display and concept.display and display.strip().lower() != concept.display.strip().lower():
        return validation_answer(
            False,
            f"The display '{display}' is not the display of {codesystem.url}#{code} ('{concept.display}')",
            concept.display,
        )
    return validation_answer(True, None, concept.display)


register(
    Operation(
        name="validate-code",
        handler=validate_code,
        resource_types=("CodeSystem",),
        levels=("type", "instance"),
        definition="http://hl7.org/fhir/OperationDefinition/CodeSystem-validate-code",
    )
)
