"""Operations, one module each, registered here in one line each.

Each app registers its operations from its `AppConfig.ready()` (fhirserver's in fhirserver/apps.py,
`$digitize` from ingestion/apps.py), so the core never names a module above it.
An operation handler takes a `FhirRequest` (its `operation`, `resource_type` and `id` set by the
router) and returns a `FhirResponse`. `levels` says where it may be invoked: "system" (/fhir/$op),
"type" (/fhir/Type/$op) and "instance" (/fhir/Type/id/$op). The CapabilityStatement is generated
from this table.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from fhirserver.core.request import FhirRequest, FhirResponse

Handler = Callable[[FhirRequest], FhirResponse]


@dataclass(frozen=True)
class Operation:
    name: str  # without the "$"
    handler: Handler
    resource_types: tuple[str, ...] | None  # None: every type (and system level if "system" in levels)
    levels: tuple[str, ...]  # subset of ("system", "type", "instance")
    definition: str  # canonical URL of the OperationDefinition
    methods: tuple[str, ...] = ("GET", "POST")
    affects_state: bool = False
    # The error for a request body over what the server reads at all (DATA_UPLOAD_MAX_MEMORY_SIZE), given its
    # size: an operation that takes documents says so in its own words and with its own limit.
    body_too_large: Callable[[int], Exception] | None = None


# By name; one name may have several definitions on different types ($validate-code on CodeSystem
# and on ValueSet), each its own Operation.
_OPERATIONS: dict[str, list[Operation]] = {}


def register(operation: Operation) -> None:
    same = _OPERATIONS.setdefault(operation.name, [])
    same[:] = [op for op in same if op.resource_types != operation.resource_types] + [operation]


def find(name: str, resource_type: str | None, level: str) -> Operation | None:
    for op in _OPERATIONS.get(name.lstrip("$"), []):
        if level not in op.levels:
            continue
        if resource_type is not None and op.resource_types is not None and resource_type not in op.resource_types:
            continue
        return op
    return None


def all_operations() -> list[Operation]:
    return [op for ops in _OPERATIONS.values() for op in ops]

