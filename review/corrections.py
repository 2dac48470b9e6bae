"""One result row of the review table: what an Observation shows, and the new Observation an edit makes.

The table shows an Observation as the text a clinician reads on the page (name, LOINC, value, unit,
range, flag). An edited row is read back the way the understanding stage reads a printed row (the
same value, range and unit parsers, the same FHIR mapping), and only the elements whose cells
changed are replaced: everything else the machine stored (region, confidence, specimen, comments)
stays as it was.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal

from ingestion.fhir_mapping.codes import (
    EXT_FLAG_DISAGREES,
    EXT_SOURCE_REGION,
    INTERPRETATIONS,
    LOINC,
)
from ingestion.fhir_mapping.observations import ObservationContext, build_observation
from ingestion.labreport import LabRow, Region
from ingestion.terminology import lookup_loinc
from ingestion.understanding.values import NumberStyle, parse_range, parse_value
from resources.ucum import normalize_unit
from review import verification

VALUE_ELEMENTS = ("valueQuantity", "valueString", "valueCodeableConcept", "dataAbsentReason")
DISAGREEMENT_NOTE = "Printed flag ("  # how the FHIR mapping's flag/range disagreement note begins
LOINC_FORMAT = re.compile(r"^\d{1,7}-\d$")
FLAGS = tuple(INTERPRETATIONS)  # H, L, HH, LL, A, N


class CorrectionError(ValueError):
    """An edited cell that cannot be stored as it is (the message names the cell)."""


@dataclass(frozen=True)
class ResultCells:
    """The editable cells of one row, as text."""
    name: str = ""
    loinc: str = ""
    value: str = ""
    unit: str = ""
    range: str = ""
    flag: str = ""

    def cleaned(self) -> "ResultCells":
        return ResultCells(**{f.name: " ".join(str(getattr(self, f.name) or "").split()) for f in fields(self)})

    def changed(self, other: "ResultCells") -> set[str]:
        mine, theirs = self.cleaned(), other.cleaned()
        return {f.name for f in fields(self) if getattr(mine, f.name) != getattr(theirs, f.name)}


@dataclass(frozen=True)
class ResultRow:
    """A row of the review table: the Observation, its cells, and what the reviewer should look at."""
    index: int
    observation: str  # "Observation/<id>"
    version: int
    status: str
    cells: ResultCells
    confidence: float | None
    region: Region | None
    flag_disagrees: bool
    display: str  # LOINC display name, "" when uncoded
    cell_confidence: dict[str, float] = field(default_factory=dict)  # "value" -> lowest read confidence of its words
    reasons: tuple[str, ...] = ()  # why a person must look at it before confirming (review.verification)
    verified: bool = False  # a person confirmed, accepted, corrected or entered it (CLINAST)
    machine_read: bool = True  # the reader produced it (AIAST); False for a row a person added or corrected
    resource: dict = field(default_factory=dict, compare=False, repr=False)  # the Observation as stored now

    @property
    def to_check(self) -> bool:
        return bool(self.reasons)


def cells_of(observation: dict) -> ResultCells:
    code = observation.get("code") or {}
    loinc = next((c.get("code", "") for c in code.get("coding") or [] if c.get("system") == LOINC), "")
    quantity = observation.get("valueQuantity")
    unit = ""
    if quantity:
        value = f"{quantity.get('comparator', '')}{_number_text(quantity.get('value'))}"
        unit = quantity.get("unit") or quantity.get("code") or ""
    elif "valueString" in observation:
        value = observation["valueString"]
    elif "valueCodeableConcept" in observation:
        concept = observation["valueCodeableConcept"]
        value = concept.get("text") or next(
            (c.get("display") or c.get("code") for c in concept.get("coding") or []), ""
        )
    else:
        value = ""
    flag = next((c.get("code", "") for i in observation.get("interpretation") or [] for c in i.get("coding") or []), "")
    return ResultCells(name=code.get("text") or "", loinc=loinc, value=value or "", unit=unit,
                       range=_range_text((observation.get("referenceRange") or [{}])[0]), flag=flag)


def row_of(
    index: int, observation: dict, *, region: Region | None = None, printed_value: str | None = None
) -> ResultRow:
    """The table row for a stored Observation; the region defaults to its own extension. `printed_value` is
    the value cell as the reader saw it (decides whether an unstored value must be checked)."""
    extensions = {e.get("url"): e for e in observation.get("extension") or []}
    confidence = verification.machine_confidence(observation)
    if region is None and EXT_SOURCE_REGION in extensions:
        parts = {
            p["url"]: p.get("valueInteger", p.get("valueDecimal")) for p in extensions[EXT_SOURCE_REGION]["extension"]
        }
        region = Region(page=int(parts["page"]), box=tuple(float(parts[k]) for k in ("x0", "y0", "x1", "y1")))
    cells = cells_of(observation)
    known = lookup_loinc(cells.loinc) if cells.loinc else None
    return ResultRow(
        index=index,
        observation=f"Observation/{observation['id']}",
        version=int(observation["meta"]["versionId"]),
        status=observation.get("status", ""),
        cells=cells,
        confidence=confidence,
        region=region,
        flag_disagrees=verification.flag_disagrees(observation),
        display=known.display
        if known
        else next((c.get("display", "") for c in (observation.get("code") or {}).get("coding") or []), ""),
        reasons=tuple(verification.reasons_to_check(observation, printed_value)),
        verified=verification.person_verified(observation),
        machine_read=verification.machine_asserted(observation),
        resource=observation,
    )


def corrected(observation: dict, edited: ResultCells, *, sex: str | None = None) -> dict | None:
    """The Observation with the edited cells applied; None when nothing changed. CorrectionError when
    a cell cannot be read (a value that is no number and no known result, an unknown LOINC code...)."""
    shown = cells_of(observation)
    changed = edited.changed(shown)
    if not changed:
        return None
    edited = edited.cleaned()
    row = lab_row(edited, sex=sex)
    built = build_observation(row, ObservationContext(subject=None, document_reference="", effective=None, issued=""))
    new = {k: v for k, v in observation.items() if k != "meta"}
    new["meta"] = {k: v for k, v in (observation.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
    if changed & {"name", "loinc"}:
        new["code"] = built["code"]
    if changed & {"value", "unit"}:
        for key in VALUE_ELEMENTS:
            new.pop(key, None)
        new.update({k: built[k] for k in VALUE_ELEMENTS if k in built})
    if changed & {"range", "unit"}:
        _put(new, "referenceRange", built.get("referenceRange"))
    if "flag" in changed:
        _put(new, "interpretation", built.get("interpretation"))
    if changed & {"value", "unit", "range", "flag"}:  # whether the flag fits value and range is decided anew
        extensions = [e for e in new.get("extension") or [] if e.get("url") != EXT_FLAG_DISAGREES]
        extensions += [e for e in built.get("extension") or [] if e.get("url") == EXT_FLAG_DISAGREES]
        _put(new, "extension", extensions)
        notes = [n for n in new.get("note") or [] if not n.get("text", "").startswith(DISAGREEMENT_NOTE)]
        notes += [n for n in built.get("note") or [] if n.get("text", "").startswith(DISAGREEMENT_NOTE)]
        _put(new, "note", notes)
    return new


def added_observation(cells: ResultCells, context: ObservationContext, *, sex: str | None = None) -> dict:
    """A result a person entered (the reader missed it), read the way an edited row is."""
    return build_observation(lab_row(cells.cleaned(), sex=sex), context)


def lab_row(cells: ResultCells, *, sex: str | None = None) -> LabRow:
    """Edited cells read like a printed row; CorrectionError names the cell that cannot be read."""
    style = NumberStyle()
    if not cells.name:
        raise CorrectionError("The test name cannot be empty")
    loinc, display = None, None
    if cells.loinc:
        known = lookup_loinc(cells.loinc)
        if known is None and not LOINC_FORMAT.match(cells.loinc):
            raise CorrectionError(f"'{cells.loinc}' is not a LOINC code (like 2345-7)")
        loinc, display = cells.loinc, known.display if known else None
    unit = normalize_unit(cells.unit) if cells.unit else None
    row = LabRow(printed_name=cells.name, loinc=loinc, loinc_display=display, printed_value=cells.value,
                 unit=unit, printed_unit=cells.unit or None)
    if cells.value:
        value = parse_value(cells.value, style, qualitative_any=True)
        if value is None or not value.readable:
            raise CorrectionError(
                f"'{cells.value}' is neither a number (like 5.4 or <0.5) nor a result word (like Negative)"
            )
        row = replace(row, value=value.number, comparator=value.comparator, value_text=value.text)
    else:
        row = replace(row, absent_reason="unknown")
    if cells.range:
        row = replace(row, reference_range=parse_range(cells.range, style, sex=sex, unit=unit))
    if cells.flag:
        if cells.flag not in FLAGS:
            raise CorrectionError(f"'{cells.flag}' is not a flag ({', '.join(FLAGS)})")
        row = replace(row, flag=cells.flag)
    return row


def _put(resource: dict, key: str, value) -> None:
    if value:
        resource[key] = value
    else:
        resource.pop(key, None)


def _number_text(value) -> str:
    if value is None:
        return ""
    return format(Decimal(str(value)), "f")  # 5.0 stays 5.0 (printed precision), 1e-05 reads 0.00001


def _range_text(rr: dict) -> str:
    if rr.get("text"):
        return rr["text"]
    low, high = (_number_text((rr.get(k) or {}).get("value")) for k in ("low", "high"))
    if low and high:
        return f"{low}-{high}"
    return f">={low}" if low else (f"<={high}" if high else "")
