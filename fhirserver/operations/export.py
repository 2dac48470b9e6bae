"""$export (Bulk Data IG STU 2) at its three levels: [base]/$export, [base]/Patient/$export and
[base]/Group/[id]/$export, each with the IG's canonical OperationDefinition. The kick-off is read and
checked in fhirserver.bulk.kickoff; the job, the status URL and the files live in fhirserver.bulk.
$import (system level, POST) takes NDJSON in, fhirserver.bulk.inbound."""
from __future__ import annotations

from fhirserver.bulk import inbound, kickoff
from fhirserver.core.request import FhirRequest, FhirResponse
from fhirserver.operations.registry import Operation, register

IG = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition"


def system_export(request: FhirRequest) -> FhirResponse:
    return kickoff.kick_off(request, "system")


def patient_export(request: FhirRequest) -> FhirResponse:
    return kickoff.kick_off(request, "patient")


def group_export(request: FhirRequest) -> FhirResponse:
    return kickoff.kick_off(request, "group")


register(Operation(name="export", handler=system_export, resource_types=None, levels=("system",),
                   definition=f"{IG}/export"))
register(Operation(name="export", handler=patient_export, resource_types=("Patient",), levels=("type",),
                   definition=f"{IG}/patient-export"))
register(Operation(name="export", handler=group_export, resource_types=("Group",), levels=("instance",),
                   definition=f"{IG}/group-export"))
register(Operation(name="import", handler=inbound.import_request, resource_types=None, levels=("system",),
                   definition="https://fhir-digitize.org/fhir/OperationDefinition/import", methods=("POST",),
                   affects_state=True))
