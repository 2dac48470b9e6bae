"""The three PATCH formats: JSON Patch, JSON Merge Patch and FHIRPath Patch.

R4 defines JSON Patch (RFC 6902) and FHIRPath Patch (a `Parameters` resource, the only form a
Bundle entry can carry without a Binary). JSON Merge Patch (RFC 7386) is what several clients send
(fhirpy's `resource.patch()` posts the changed elements as plain JSON), so a JSON object that is a
partial resource of the target type is merged too. Every result is validated by the caller.
"""
from __future__ import annotations

import copy
import importlib
import re
import sys
from typing import Any

import fhirpathpy
import jsonpatch
from fhir.resources.R4B import get_fhir_model_class

from .errors import FhirError, bad_request

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
FHIR_JSON = ("application/fhir+json", "application/json")
PATCH_FORMATS = [JSON_PATCH, "application/fhir+json", MERGE_PATCH]


def apply_patch(resource: dict, document: Any, media_type: str, resource_type: str) -> dict:
    """The patched copy of `resource`; `media_type` is the request's, without parameters."""
    if media_type == JSON_PATCH or (media_type in FHIR_JSON and isinstance(document, list)):
        return _json_patch(resource, document)
    if media_type == MERGE_PATCH:
        return merge_patch(resource, _object(document))
    if media_type in FHIR_JSON and isinstance(document, dict):
        if document.get("resourceType") == "Parameters":
            return fhirpath_patch(resource, document)
        if document.get("resourceType", resource_type) != resource_type:
            raise bad_request(f"A {document.get('resourceType')} cannot patch a {resource_type}; send a Parameters "
                              "resource (FHIRPath Patch), a JSON Patch or a partial resource", code="PATCH_FORMAT")
        return merge_patch(resource, document)
    raise FhirError(415, f"PATCH takes {', '.join(PATCH_FORMATS)}", issue_code="not-supported", code="PATCH_MEDIA_TYPE")


def _object(document: Any) -> dict:
    if not isinstance(document, dict):
        raise bad_request("A JSON Merge Patch document is a JSON object", code="PATCH_FORMAT")
    return document


def _json_patch(resource: dict, document: Any) -> dict:
    if not isinstance(document, list):
        raise bad_request("A JSON Patch document is a JSON array of operations", code="PATCH_NOT_ARRAY")
    try:
        return jsonpatch.JsonPatch(document).apply(resource)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError, ValueError) as exc:
        raise _unapplicable(str(exc)) from exc


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge member by member, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- FHIRPath Patch (https://hl7.org/fhir/R4/fhirpatch.html) ---------------------------------------
def fhirpath_patch(resource: dict, parameters: dict) -> dict:
    patched = copy.deepcopy(resource)
    operations = [p for p in parameters.get("parameter") or [] if p.get("name") == "operation"]
    if not operations:
        raise bad_request("A FHIRPath Patch has at least one 'operation' parameter", code="PATCH_FORMAT",
                          expression=["Parameters.parameter"])
    for number, operation in enumerate(operations):
        parts = {part.get("name"): part for part in operation.get("part") or []}
        where = f"Parameters.parameter[{number}]"
        kind = _primitive(parts.get("type"))
        path = _primitive(parts.get("path"))
        if kind not in ("add", "insert", "delete", "replace", "move") or not path:
            raise bad_request(
                f"Operation {number + 1} needs a 'type' (add, insert, delete, replace, move) and a 'path'",
                code="PATCH_FORMAT",
                expression=[where],
            )
        try:
            _OPERATIONS[kind](patched, path, parts)
        except FhirError:
            raise
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise _unapplicable(f"operation {number + 1} ({kind} at {path}): {exc}") from exc
    return patched


def _primitive(part: dict | None) -> Any:
    if not part:
        return None
    for key, value in part.items():
        if key.startswith("value"):
            return value
    return None


def _value(parts: dict) -> Any:
    part = parts.get("value")
    if part is None:
        raise ValueError("the operation has no 'value'")
    for key, value in part.items():
        if key.startswith("value"):
            return copy.deepcopy(value)
    if part.get("part"):  # a complex value given element by element (BackboneElements have no value[x] type)
        values: dict[str, list] = {}
        for child in part["part"]:
            values.setdefault(child["name"], []).append(_value({"value": child}))
        return {name: items[0] if len(items) == 1 else items for name, items in values.items()}
    raise ValueError("the 'value' part has no value")


def _index(parts: dict, name: str) -> int:
    value = _primitive(parts.get(name))
    if not isinstance(value, int) or value < 0:
        raise ValueError(f"'{name}' must be a non-negative integer")
    return value


class _Location:
    """Where one selected node lives: `container[key]`, or `container[key][index]` in a list."""

    def __init__(self, container: dict, key: str, index: int | None):
        self.container, self.key, self.index = container, key, index

    @property
    def node(self) -> Any:
        value = self.container[self.key]
        return value if self.index is None else value[self.index]


_SEGMENT = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)\s*$")


def _select(resource: dict, path: str) -> list[_Location]:
    """The nodes a FHIRPath path selects, with where they live; supports the path forms patches use:
    `Type.a.b`, `[n]`, `.first()`, `.last()`, and `.where(<criteria>)` (criteria evaluated by fhirpathpy)."""
    steps = _split(path)
    if steps and steps[0] == resource.get("resourceType"):
        steps = steps[1:]
    current: list[Any] = [resource]
    locations: list[_Location] = []
    for step in steps:
        if step.startswith("where(") and step.endswith(")"):
            criteria = step[6:-1]
            keep = [i for i, loc in enumerate(locations) if _truthy(fhirpathpy.evaluate(loc.node, criteria))]
            locations = [locations[i] for i in keep]
        elif step in ("first()", "last()"):
            locations = locations[:1] if step == "first()" else locations[-1:]
        else:
            match = _SEGMENT.match(step)
            if not match:
                raise ValueError(f"unsupported path step '{step}'")
            name, indexes = match.group(1), [int(i) for i in re.findall(r"\d+", match.group(2))]
            locations = [loc for node in current if isinstance(node, dict) for loc in _children(node, name)]
            for index in indexes:
                locations = locations[index:index + 1]
        current = [loc.node for loc in locations]
    return locations


def _children(node: dict, name: str) -> list[_Location]:
    key = name if name in node else next((k for k in node if k.startswith(name) and k[len(name):][:1].isupper()), None)
    if key is None:  # also a choice element (value -> valueQuantity)
        return []
    value = node[key]
    if isinstance(value, list):
        return [_Location(node, key, i) for i in range(len(value))]
    return [_Location(node, key, None)]


def _split(path: str) -> list[str]:
    steps, depth, start = [], 0, 0
    for i, ch in enumerate(path):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "." and depth == 0:
            steps.append(path[start:i].strip())
            start = i + 1
    steps.append(path[start:].strip())
    return [s for s in steps if s]


def _truthy(result: list) -> bool:
    return bool(result) and result != [False]


def _one(resource: dict, path: str) -> _Location:
    locations = _select(resource, path)
    if len(locations) != 1:
        raise ValueError(f"the path matches {len(locations)} elements; it must match exactly one")
    return locations[0]


def _list_at(resource: dict, path: str) -> tuple[dict, str]:
    """The container and key of the list a path names (insert and move act on whole lists)."""
    locations = _select(resource, path)
    if (
        not locations
        or any(loc.index is None for loc in locations)
        or len({(id(loc.container), loc.key) for loc in locations}) != 1
    ):
        raise ValueError("the path must name one repeating element that has at least one item")
    return locations[0].container, locations[0].key


def _add(resource: dict, path: str, parts: dict) -> None:
    name = _primitive(parts.get("name"))
    if not name:
        raise ValueError("'add' needs a 'name'")
    target = resource if path == resource.get("resourceType") else _one(resource, path).node
    if not isinstance(target, dict):
        raise ValueError("'add' needs a path to a complex element")
    value = _shaped(resource, f"{path}.{name}", _value(parts))
    existing = target.get(name)
    if isinstance(existing, list):
        existing.append(value)
    elif existing is None:
        target[name] = [value] if _repeats(resource, path, name) else value
    else:
        raise ValueError(f"'{name}' already has a value; use 'replace'")


def _repeats(resource: dict, path: str, name: str) -> bool:
    """Whether `name` under `path` is a list in R4, from the fhir.resources model's field types."""
    model = _model_of_path(resource, path)
    return model is not None and _is_list(model, name)


def _is_list(model, name: str) -> bool:
    field = model.model_fields.get(name)
    return field is not None and "List[" in str(field.annotation)


def _model_of_path(resource: dict, path: str):
    steps = [step for step in _split(path) if "(" not in step]  # where()/first() keep the element's type
    if steps and steps[0] == resource["resourceType"]:
        steps = steps[1:]
    return _model_at(resource["resourceType"], steps)


def _shaped(resource: dict, path: str, value: Any) -> Any:
    """A value given part by part has one item per repeating child it names once: make those lists."""
    model = _model_of_path(resource, path) if isinstance(value, dict) else None
    if model is None:
        return value
    return {key: [item] if not isinstance(item, list) and _is_list(model, key) else item for key, item in value.items()}


def _model_at(resource_type: str, steps: list[str]):
    model = get_fhir_model_class(resource_type)
    for step in steps:
        field = model.model_fields.get(re.sub(r"\[\d+\]", "", step))
        if field is None:
            return None
        type_name = re.search(r"(\w+)Type\b", str(field.annotation))  # e.g. Optional[List[abc.IdentifierType]]
        if not type_name:
            return None
        name = type_name.group(1)
        module = sys.modules.get(model.__module__) or importlib.import_module(model.__module__)
        model = getattr(module, name, None)
        if model is None:
            try:
                model = get_fhir_model_class(name)
            except KeyError:
                return None
    return model


def _insert(resource: dict, path: str, parts: dict) -> None:
    container, key = _list_at(resource, path)
    index = _index(parts, "index")
    items = container[key]
    if index > len(items):
        raise ValueError(f"index {index} is beyond the list's {len(items)} items")
    items.insert(index, _shaped(resource, path, _value(parts)))


def _delete(resource: dict, path: str, parts: dict) -> None:
    locations = _select(resource, path)
    if not locations:
        return  # the spec: deleting nothing is not an error
    if len(locations) > 1:
        raise ValueError(f"the path matches {len(locations)} elements; 'delete' removes exactly one")
    loc = locations[0]
    if loc.index is None:
        del loc.container[loc.key]
        loc.container.pop("_" + loc.key, None)
    else:
        del loc.container[loc.key][loc.index]
        if not loc.container[loc.key]:
            del loc.container[loc.key]


def _replace(resource: dict, path: str, parts: dict) -> None:
    loc = _one(resource, path)
    if loc.index is None:
        loc.container[loc.key] = _shaped(resource, path, _value(parts))
    else:
        loc.container[loc.key][loc.index] = _shaped(resource, path, _value(parts))


def _move(resource: dict, path: str, parts: dict) -> None:
    container, key = _list_at(resource, path)
    items = container[key]
    source, destination = _index(parts, "source"), _index(parts, "destination")
    if source >= len(items) or destination >= len(items):
        raise ValueError(f"source and destination must be within the list's {len(items)} items")
    items.insert(destination, items.pop(source))


_OPERATIONS = {"add": _add, "insert": _insert, "delete": _delete, "replace": _replace, "move": _move}


def _unapplicable(detail: str) -> FhirError:
    return FhirError(422, f"The patch could not be applied: {detail}", issue_code="processing", code="PATCH_FAILED")
