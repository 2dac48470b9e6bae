"""Validation of incoming resources.

Structure and datatypes are checked with the `fhir.resources` R4B models: for the clinical and
administrative resources this server exists for (Patient, Observation, DiagnosticReport, ...) R4B is
the same as R4. Types that R4B dropped (EffectEvidenceSynthesis, MedicinalProduct*, Substance*
details, ...) get the structural checks only (resourceType, id, meta) — see docs/api.md.
Every problem becomes an OperationOutcome issue whose `expression` names the element
(e.g. `Patient.name[0].given`).
"""
from __future__ import annotations

import re
import threading
from functools import lru_cache

import orjson
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from fhirserver.core.errors import FhirError
from resources.bindings import binding_issues
from resources.types import R4_RESOURCE_TYPES

ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


@lru_cache(maxsize=None)
def _model(resource_type: str):
    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError, ImportError, AttributeError):
        return None


# --- remembering valid elements --------------------------------------------------------------------
# fhir.resources validates every complex element (CodeableConcept, Reference, Quantity...) as a
# model of its own, through fhir_core's `FhirBase.fhir_model_validator`, and that is most of the cost
# of validating a resource. The resources of one Bundle repeat elements (category, code, subject,
# performer, referenceRange...), so while `validation_issues` runs, an element already found valid
# (same model class, same JSON) is not validated again. Validation of an element depends only on
# its own content; only successes are remembered, so every error is still found and reported.
_valid = threading.local()  # .seen: {(model class, JSON text): model} of this thread; .on inside our calls
_SEEN_LIMIT = 1024
_SEEN_MAX_BYTES = 4096  # so the memo stays under ~10 MB per thread


def _remember_valid_elements() -> None:
    try:
        from fhir_core.types import FhirBase

        original = FhirBase.__dict__["fhir_model_validator"].__func__
    except (ImportError, KeyError, AttributeError):  # another fhir_core: validate everything every time
        return

    def fhir_model_validator(cls, value, model_klass):
        if not getattr(_valid, "on", False) or not isinstance(value, dict):
            return original(cls, value, model_klass)
        try:
            text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # integers beyond 64 bits, lone surrogates: no memo
            return original(cls, value, model_klass)
        if (
            b"null" in text or len(text) > _SEEN_MAX_BYTES
        ):  # NaN is written as null too; big elements (attachments) are not kept
            return original(cls, value, model_klass)
        key = (model_klass, text)
        seen = _valid.seen
        model = seen.get(key)
        if model is None:
            model = original(cls, value, model_klass)  # raises when invalid: nothing remembered
            if len(seen) >= _SEEN_LIMIT:
                seen.clear()
            seen[key] = model
        return model

    FhirBase.fhir_model_validator = classmethod(fhir_model_validator)


_remember_valid_elements()


def _validate_model(model, content: dict) -> None:
    if not hasattr(_valid, "seen"):
        _valid.seen = {}
    outer, _valid.on = getattr(_valid, "on", False), True
    try:
        model.model_validate(content)
    finally:
        _valid.on = outer


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and bool(ID_PATTERN.match(value))


def _expression(resource_type: str, loc: tuple) -> str:
    path = resource_type
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ("__root__",):
            continue
        else:
            path += f".{part}"
    return path


def validation_issues(content: object, *, expected_type: str | None = None) -> list[dict]:
    """Every problem with `content` as OperationOutcome issues; [] when it is valid."""
    if not isinstance(content, dict):
        return [_issue("structure", "The body must be a JSON object (a FHIR resource)", [])]
    resource_type = content.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        return [_issue("structure", "The resource has no resourceType", ["resourceType"])]
    if resource_type not in R4_RESOURCE_TYPES:
        return [_issue("not-supported", f"'{resource_type}' is not a FHIR R4 resource type", ["resourceType"])]
    if expected_type and resource_type != expected_type:
        return [
            _issue(
                "invalid",
                f"resourceType '{resource_type}' does not match the URL's type '{expected_type}'",
                ["resourceType"],
            )
        ]
    issues = []
    if "id" in content and not is_valid_id(content["id"]):
        issues.append(_issue("value", "id must match [A-Za-z0-9\\-\\.]{1,64}", [f"{resource_type}.id"]))
    issues += binding_issues(content)
    model = _model(resource_type)
    if model is None:
        return issues
    try:
        _validate_model(model, content)
    except ValidationError as exc:
        for err in exc.errors():
            message = err.get("msg", "invalid")
            issues.append(
                _issue(_issue_code(err.get("type", "")), message, [_expression(resource_type, err.get("loc", ()))])
            )
    except (ValueError, TypeError) as exc:  # fhir.resources raises these for some primitive errors
        issues.append(_issue("value", str(exc), [resource_type]))
    return issues


def validate_resource(content: object, *, expected_type: str | None = None) -> dict:
    """Return `content` when valid, else raise FhirError(400) naming every bad element."""
    issues = validation_issues(content, expected_type=expected_type)
    if issues:
        status = 400
        raise FhirError(status, issues[0]["diagnostics"], issues=issues, code="INVALID_RESOURCE")
    return content  # type: ignore[return-value]


def _issue_code(pydantic_type: str) -> str:
    if "missing" in pydantic_type:
        return "required"
    if pydantic_type == "extra_forbidden":
        return "structure"
    return "value"


def _issue(code: str, diagnostics: str, expression: list[str]) -> dict:
    issue = {"severity": "error", "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = expression
    return issue
