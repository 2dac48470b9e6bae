"""Stand-in stages and documents for the $digitize job tests (the job layer, not the reading, is under test)."""
from __future__ import annotations

import uuid
from decimal import Decimal

from ingestion.digitize import MappingContext, Stages
from ingestion.document import Document, Line, Page
from ingestion.labreport import LabReport, LabRow, PatientHeader, ReferenceRange, Region


def sample_report(
    *, mrn: str | None = "MRN4711", family: str = "Okafor", given=("Ada",), birth_date: str = "1971-04-02"
) -> LabReport:
    return LabReport(
        patient=PatientHeader(
            name=f"{' '.join(given)} {family}",
            family=family,
            given=list(given),
            birth_date=birth_date,
            sex="female",
            identifier=mrn,
        ),
        collected="2025-03-04T08:15:00",
        reported="2025-03-04T14:00:00",
        lab_name="Northside Lab",
        rows=[
            LabRow(
                printed_name="Glucose",
                loinc="2345-7",
                value=Decimal("105"),
                unit="mg/dL",
                printed_value="105",
                reference_range=ReferenceRange(low=Decimal("70"), high=Decimal("99"), unit="mg/dL"),
                flag="H",
                region=Region(page=1, box=(10, 100, 500, 120)),
                confidence=0.97,
            ),
            LabRow(
                printed_name="Sodium",
                loinc="2951-2",
                value=Decimal("140"),
                unit="mmol/L",
                printed_value="140",
                reference_range=ReferenceRange(low=Decimal("135"), high=Decimal("145"), unit="mmol/L"),
                region=Region(page=1, box=(10, 130, 500, 150)),
            ),
        ],
    )


def fake_read(data: bytes, media_type: str = "application/pdf") -> Document:
    return Document(media_type="application/pdf", engine="fake-engine/1",
                    pages=[Page(number=1, width=600, height=800, source="text-layer",
                                lines=[Line(text=data[:40].decode("latin-1"), box=(0, 0, 100, 10), confidence=1.0)])])


def fake_map(report: LabReport, context: MappingContext) -> list[dict]:
    """A minimal but valid mapping: DiagnosticReport + one Observation per row (the real one is fhir_mapping's)."""
    observations = []
    for row in report.rows:
        observation = {
            "resourceType": "Observation",
            "status": "preliminary",
            "category": [
                {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory"}
                    ]
                }
            ],
            "code": {"coding": [{"system": "http://loinc.org", "code": row.loinc}], "text": row.printed_name},
            "effectiveDateTime": report.collected + "Z",
            "valueQuantity": {
                "value": float(row.value),
                "unit": row.unit,
                "system": "http://unitsofmeasure.org",
                "code": row.unit,
            },
            "derivedFrom": [{"reference": context.document_reference}],
        }
        if context.subject:
            observation["subject"] = {"reference": context.subject}
        observations.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": observation})
    report_resource = {
        "resourceType": "DiagnosticReport", "status": "preliminary",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "11502-2"}]},
        "effectiveDateTime": report.collected + "Z",
        "result": [{"reference": e["fullUrl"]} for e in observations],
        "presentedForm": [{"contentType": context.media_type, "url": context.binary}],
    }
    if context.subject:
        report_resource["subject"] = {"reference": context.subject}
    return [{"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": report_resource}] + observations


def fake_stages(report: LabReport | None = None, **overrides) -> Stages:
    fixed = report or sample_report()
    stages = Stages(read=fake_read, understand=lambda document: fixed, to_entries=fake_map)
    for name, value in overrides.items():
        setattr(stages, name, value)
    return stages


def store_patient(resource: dict) -> dict:
    from fhirserver.storage import repository

    return repository.create("Patient", resource).content
