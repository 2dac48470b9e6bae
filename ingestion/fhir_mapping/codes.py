"""Systems, codes and extension URLs the lab mapping writes, in one place."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
# Security labels of integrity and provenance (AIAST, CLINAST...): v3 ObservationValue, as AI Transparency on FHIR uses.
OBSERVATION_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
LIFECYCLE = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle"

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
PROFILE_OBSERVATION = US_CORE + "us-core-observation-lab"
PROFILE_REPORT = US_CORE + "us-core-diagnosticreport-lab"
PROFILE_ORGANIZATION = US_CORE + "us-core-organization"
PROFILE_PROVENANCE = US_CORE + "us-core-provenance"
PROFILE_DOCUMENT = US_CORE + "us-core-documentreference"

# AI Transparency on FHIR (HL7 IG): how sure the reader was, as a probability 0..1.
EXT_AI_CONFIDENCE = "http://hl7.org/fhir/uv/aitransparency/StructureDefinition/AIconfidence"
# This server's own extensions: where on the page a value was read; a printed flag the value contradicts.
EXT_BASE = "http://fhirserver.example.org/fhir/StructureDefinition/"
EXT_SOURCE_REGION = EXT_BASE + "digitize-source-region"
EXT_FLAG_DISAGREES = EXT_BASE + "digitize-flag-disagrees"
# Why a person must check a row (valueString, plain words), one extension per reason (docs/digitize.md).
EXT_REVIEW_REASON = EXT_BASE + "digitize-review-reason"

EXT_DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"

AI_ASSERTED = {"system": OBSERVATION_VALUE, "code": "AIAST", "display": "Artificial Intelligence asserted"}
LAB_SERVICE = {"coding": [{"system": V2_0074, "code": "LAB", "display": "Laboratory"}]}
LAB_CATEGORY = {"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory", "display": "Laboratory"}]}
LAB_REPORT = {"system": LOINC, "code": "11502-2", "display": "Laboratory report"}

INTERPRETATIONS = {"H": "High", "L": "Low", "HH": "Critical high", "LL": "Critical low", "A": "Abnormal", "N": "Normal"}
APPLIES_TO_SEX = {"male": ("248153007", "Male"), "female": ("248152002", "Female")}


def coding(system: str, code: str, display: str | None = None) -> dict:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(system: str, code: str, display: str | None = None, text: str | None = None) -> dict:
    out: dict = {"coding": [coding(system, code, display)]}
    if text:
        out["text"] = text
    return out


def number(value: Decimal) -> int | float:
    """A JSON number that keeps the printed precision as far as JSON can (5.0 stays 5.0)."""
    value = Decimal(value)
    if value == value.to_integral_value() and value.as_tuple().exponent >= 0:
        return int(value)
    return float(value)


def fhir_datetime(value: str | None) -> str | None:
    """An ISO date/dateTime as FHIR accepts it: a time without a zone is not a valid FHIR dateTime,
    so it is kept to its date rather than given a zone nobody printed."""
    if not value:
        return None
    value = value.strip()
    if "T" not in value:
        return value
    head, time = value.split("T", 1)
    if time.endswith("Z") or "+" in time or "-" in time:
        return value
    return head


def printed_instant(value: str | None, time_zone: str | None = None) -> str | None:
    """The report date printed on the page as a FHIR instant: a printed time is local time in
    `time_zone` (the deployment's zone, UTC by default) and keeps that offset; a printed date alone
    is that day's start. None when nothing was printed or it is not a date."""
    if not value:
        return None
    from zoneinfo import ZoneInfo

    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(time_zone or "UTC"))
    text = moment.isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def instant(value: datetime | str | None = None) -> str:
    if isinstance(value, str):
        return value
    value = value or datetime.now(timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def effective(value: str | None) -> dict:
    """effectiveDateTime, or its data-absent-reason when the page prints no date: US Core requires the
    element on preliminary lab results (us-core-8), and a date nobody printed would be invented."""
    if value:
        return {"effectiveDateTime": value}
    return {"_effectiveDateTime": {"extension": [{"url": EXT_DATA_ABSENT, "valueCode": "unknown"}]}}
