"""What the understanding stage reads off a lab report: typed, engine-independent, FHIR-independent.

The understanding stage turns a `Document` into a `LabReport`; the FHIR mapping turns a `LabReport`
into resources. Every value keeps where on the page it was read (`Region`) and how sure the reader
was, so the review page can draw it and a clinician can check it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Literal

from ingestion.document import Box

Flag = Literal["H", "L", "HH", "LL", "A", "N"]
# A row read less surely than this (or with any review reason) is one a person must check before confirming.
REVIEW_THRESHOLD = 0.9
CHECK_CONFIDENCE = 0.5  # a row a person must check is never reported surer than this, whatever its characters


@dataclass(frozen=True)
class Region:
    page: int  # 1-based page number
    box: Box  # page pixels, x0, y0, x1, y1


@dataclass
class ReferenceRange:
    low: Decimal | None = None
    high: Decimal | None = None
    unit: str | None = None  # UCUM code of low/high
    text: str | None = None  # as printed ("<200", "Negative", "M: 13.5-17.5")
    applies_to: str | None = None  # "male", "female", "adult", an age band as printed


@dataclass
class LabRow:
    printed_name: str  # the test name exactly as printed
    loinc: str | None = None  # None when the test is not known: never invent a code
    loinc_display: str | None = None
    value: Decimal | None = None  # numeric result
    comparator: Literal["<", "<=", ">", ">="] | None = None
    value_text: str | None = None  # qualitative result ("Negative", "Positive", "Yellow")
    printed_value: str = ""  # the value cell as printed
    unit: str | None = None  # UCUM code
    printed_unit: str | None = None
    reference_range: ReferenceRange | None = None
    flag: Flag | None = None  # flag printed on the page
    flag_disagrees: bool = False  # printed flag contradicts value vs range: flagged, not overwritten
    panel: str | None = None  # panel heading the row sits under, as printed
    specimen: str | None = None
    comment: str | None = None  # method / comment lines under the test
    confidence: float = 1.0  # lowest read confidence of the cells used
    region: Region | None = None
    absent_reason: str | None = None  # v3 data-absent-reason code when no value was readable
    # Why a person must check this row (plausibility, a merged cell, an unknown unit...): any reason makes
    # it a row to check, and a row with a reason is never stored as a certain valueQuantity.
    review_reasons: list[str] = field(default_factory=list)
    effective: str | None = None  # ISO date(Time) of this row's own column (cumulative reports); else the report's

    @property
    def needs_review(self) -> bool:
        return bool(self.review_reasons) or self.confidence < REVIEW_THRESHOLD

    def check(self, reason: str) -> None:
        """A reason a person must check this row: said once, and the row is no longer reported as sure."""
        if reason not in self.review_reasons:
            self.review_reasons.append(reason)
        self.confidence = min(self.confidence, CHECK_CONFIDENCE)


@dataclass
class PatientHeader:
    name: str | None = None  # as printed
    family: str | None = None
    given: list[str] = field(default_factory=list)
    birth_date: str | None = None  # ISO yyyy-mm-dd
    sex: Literal["male", "female", "other", "unknown"] | None = None
    identifier: str | None = None  # MRN / patient ID as printed


@dataclass
class LabReport:
    patient: PatientHeader = field(default_factory=PatientHeader)
    collected: str | None = None  # ISO date or dateTime of specimen collection
    reported: str | None = None  # ISO date or dateTime of the report
    ordering_clinician: str | None = None
    lab_name: str | None = None
    accession: str | None = None
    status: Literal["corrected", "amended"] | None = None  # the report says it replaces an earlier one
    rows: list[LabRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self, dict_factory=_json_dict)


def _json_dict(items):
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in items}
