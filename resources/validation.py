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
import types
import typing
from functools import lru_cache

import orjson
from fhir.resources.R4B import get_fhir_model_class
from fhir_core.types import FhirBase, FhirElementOrResourceBase
from pydantic import ValidationError

from resources import decimals
from resources.bindings import binding_issues
from resources.errors import FhirError
from resources.json_types import primitive_type_issues
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
# model of its own, with Python validators per element, and that is most of the cost of validating
# a resource. The resources of one Bundle repeat elements (category, code, subject, performer,
# referenceRange...). Pydantic does not validate again a field value that already is an instance of
# the field's model (`revalidate_instances="never"`, its documented default), so an element this
# thread has already seen valid (same model class, same JSON) is handed in as the model made then.
# Validation of an element depends only on its own content; only elements of resources that
# validated without an error are remembered, so every error is still found and reported. Nothing
# of the library is replaced: when its models change shape, elements are simply validated again.
_valid = threading.local()  # .seen: the _Memo of this thread
_SEEN_LIMIT = 1024  # per generation
_SEEN_MAX_BYTES = 4096  # so the memo stays under ~20 MB per thread


class _Memo:
    """{(model class, JSON text): model instance} in two generations. When the young one is full it
    becomes the old one and the old one is dropped; a hit in the old one moves back to the young. So
    what every resource repeats (category, code, referenceRange) outlives the one-off elements
    (each value, each subject) that filled the memo: clearing it all lost them every ~500 resources."""

    __slots__ = ("young", "old")

    def __init__(self) -> None:
        self.young: dict = {}
        self.old: dict = {}

    def get(self, key):
        found = self.young.get(key)
        if found is None and (found := self.old.pop(key, None)) is not None:
            self.put(key, found)
        return found

    def put(self, key, model) -> None:
        if len(self.young) >= _SEEN_LIMIT:
            self.old, self.young = self.young, {}
        self.young[key] = model

ElementPath = tuple[tuple[str, int | None], ...]  # attribute names (and list indexes) from the resource's model


@lru_cache(maxsize=None)
def _element_fields(model) -> dict[str, tuple[str, type, bool]]:
    """The complex elements of `model`: JSON name -> (attribute name, element model, repeats)."""
    fields = {}
    for name, info in model.model_fields.items():
        element = _element_type(info.annotation)
        if element is not None:
            fields[info.alias or name] = (name, *element)
    return fields


def _element_type(annotation, repeats: bool = False) -> tuple[type, bool] | None:
    """(element model, repeats) of a field annotated `X | None` or `List[X] | None` with X a FHIR
    element type; None for primitives and for contained resources (their model depends on the value)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _element_type(inner[0], repeats) if len(inner) == 1 else None
    if origin is list and not repeats:
        (item,) = typing.get_args(annotation) or (None,)
        return _element_type(item, True)
    if (
        isinstance(annotation, type)
        and issubclass(annotation, FhirBase)
        and not issubclass(annotation, FhirElementOrResourceBase)
    ):
        return annotation.get_model_klass(), repeats
    return None


def _with_known_elements(model, content: dict, seen: _Memo, misses: list, path: ElementPath = ()) -> dict:
    """`content` with every remembered element replaced by its model instance (a copy where one is);
    the elements to remember once the resource is valid are added to `misses` as (key, path)."""
    changed = None
    fields = _element_fields(model)
    for key, value in content.items():
        field = fields.get(key)
        if field is None:
            continue
        name, element, repeats = field
        if not repeats:
            replaced = _known(element, value, seen, misses, path + ((name, None),))
        elif isinstance(value, list):
            replaced = value
            for index, item in enumerate(value):
                known = _known(element, item, seen, misses, path + ((name, index),))
                if known is not item:
                    replaced = list(value) if replaced is value else replaced
                    replaced[index] = known
        else:
            continue
        if replaced is not value:
            changed = dict(content) if changed is None else changed
            changed[key] = replaced
    return content if changed is None else changed


def _known(element, value, seen: _Memo, misses: list, path: ElementPath):
    """The remembered model for this element, else the element (with its own remembered parts)."""
    if not isinstance(value, dict):
        return value
    try:
        text = orjson.dumps(value, default=decimals.fragment, option=orjson.OPT_SORT_KEYS)  # 13.50 as written
    except TypeError:  # integers beyond 64 bits, lone surrogates: not remembered
        text = None
    if text is not None and b"null" not in text and len(text) <= _SEEN_MAX_BYTES:  # NaN is written as null too
        key = (element, text)
        model = seen.get(key)
        if model is not None:
            return model
        misses.append((key, path))
    return _with_known_elements(element, value, seen, misses, path)


def _remember(validated, misses: list, seen: _Memo) -> None:
    for key, path in misses:
        found = validated
        try:
            for name, index in path:
                found = getattr(found, name)
                if index is not None:
                    found = found[index]
        except (AttributeError, IndexError, TypeError):  # a model of another shape: not remembered
            continue
        seen.put(key, found)


def _validate_model(model, content: dict) -> None:
    if not hasattr(_valid, "seen"):
        _valid.seen = _Memo()
    misses: list = []
    validated = model.model_validate(_with_known_elements(model, content, _valid.seen, misses))
    _remember(validated, misses, _valid.seen)


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
    # The models coerce "13.50" to a decimal: a primitive's JSON type is checked on its own.
    typed = primitive_type_issues(content)
    issues += [_issue("value", f"{path}: {problem}", [path]) for path, problem in typed]
    model = _model(resource_type)
    if model is None:
        return issues
    try:
        _validate_model(model, content)
    except ValidationError as exc:
        reported = {path for path, _ in typed}
        for err in exc.errors():
            message = err.get("msg", "invalid")
            where = _expression(resource_type, err.get("loc", ()))
            if where not in reported:
                issues.append(_issue(_issue_code(err.get("type", "")), message, [where]))
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
