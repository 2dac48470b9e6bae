"""One result row -> one US Core laboratory Observation (value, unit, range, flag, where it was read)."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ingestion.labreport import CHECK_CONFIDENCE, LabRow, ReferenceRange
from ingestion.terminology import lookup_loinc, normalize_answer
from resources import ucum
from resources.decimals import FhirDecimal

from .codes import (
    AI_ASSERTED,
    APPLIES_TO_SEX,
    DATA_ABSENT,
    EXT_AI_CONFIDENCE,
    EXT_FLAG_DISAGREES,
    EXT_REVIEW_REASON,
    EXT_SOURCE_REGION,
    INTERPRETATION,
    INTERPRETATIONS,
    LAB_CATEGORY,
    LOINC,
    PROFILE_OBSERVATION,
    SNOMED,
    UCUM,
    coding,
    concept,
    effective,
    number,
)


@dataclass(frozen=True)
class ObservationContext:
    subject: str | None
    document_reference: str
    effective: str | None
    issued: str
    performers: tuple[str, ...] = ()
    encounter: str | None = None


# Coded answers that say "nothing found" and "something found" (SNOMED CT qualifier values).
_NOTHING_FOUND = {"260385009", "260415000", "2667000", "131194007", "17621005"}
_SOMETHING_FOUND = {"10828004", "260373001", "52101004", "11214006", "260405006", "260347006", "260348001",
                    "260349009", "260350009", "263654008"}


def _expected_answer_flag(row: LabRow) -> str | None:
    """N when a qualitative result matches a 'Negative'-type range, A when it is positive against one."""
    rr = row.reference_range
    value, expected = normalize_answer(row.value_text), normalize_answer(rr.text if rr else None)
    if value is None or expected is None or expected.code not in _NOTHING_FOUND:
        return None
    if value.code in _NOTHING_FOUND:
        return "N"
    return "A" if value.code in _SOMETHING_FOUND else None


def expected_flag(row: LabRow) -> str | None:
    """H, L or N from the value against the printed range (in the range's unit), A/N for a qualitative
    result against a 'Negative' range; None when not comparable."""
    rr = row.reference_range
    if row.value is None and row.value_text:
        return _expected_answer_flag(row)
    if row.value is None or rr is None or (rr.low is None and rr.high is None):
        return None
    value = row.value
    if rr.unit and row.unit and rr.unit != row.unit:
        converted = ucum.convert(value, row.unit, rr.unit)
        if converted is None:
            return None
        value = converted
    # "<5" against 0-10 is within; "<5" against 6-10 is below; ">90" against 0-60 is above.
    if rr.low is not None and value < rr.low and row.comparator not in (">", ">="):
        return "L"
    if rr.high is not None and value > rr.high and row.comparator not in ("<", "<="):
        return "H"
    if row.comparator in ("<", "<=") and rr.low is not None and value <= rr.low:
        return None  # "<5" against 5-10: cannot tell
    if row.comparator in (">", ">=") and rr.high is not None and value >= rr.high:
        return None
    return "N"


def flag_disagrees(row: LabRow) -> bool:
    """The printed flag contradicts the value against the printed range (or the reader said so)."""
    if row.flag_disagrees:
        return True
    expected = expected_flag(row)
    if expected is None:
        return False
    printed = row.flag
    if printed is None:
        return expected != "N"  # out of range with no flag printed
    if expected == "A":
        return printed == "N"  # any abnormal flag (A, H, HH...) agrees with a positive result
    if printed in ("H", "HH"):
        return expected != "H"
    if printed in ("L", "LL"):
        return expected != "L"
    if printed == "N":
        return expected != "N"
    return expected == "N"  # "A" on a value inside the range


def context_elements(ctx: ObservationContext) -> dict:
    """subject, encounter, effective[x], issued and performer: shared by the report and its results."""
    elements: dict = {}
    if ctx.subject:
        elements["subject"] = {"reference": ctx.subject}
    if ctx.encounter:
        elements["encounter"] = {"reference": ctx.encounter}
    elements.update(effective(ctx.effective))
    elements["issued"] = ctx.issued
    if ctx.performers:
        elements["performer"] = [{"reference": ref} for ref in ctx.performers]
    return elements


def build_observation(row: LabRow, ctx: ObservationContext) -> dict:
    obs: dict = {
        "resourceType": "Observation",
        "meta": {"profile": [PROFILE_OBSERVATION], "security": [AI_ASSERTED]},
        "extension": _extensions(row),
        "status": "preliminary",
        "category": [LAB_CATEGORY],
        "code": _code(row),
    }
    obs.update(context_elements(ctx))
    if row.effective:  # a dated column of a cumulative report: the row's own time, not the report's
        obs.pop("effectiveDateTime", None)
        obs.pop("_effectiveDateTime", None)
        obs.update(effective(row.effective))
    obs.update(_value(row))
    if row.flag:
        obs["interpretation"] = [concept(INTERPRETATION, row.flag, INTERPRETATIONS[row.flag])]
    notes = []
    if row.comment:
        notes.append({"text": row.comment})
    if flag_disagrees(row):
        notes.append({"text": _disagreement_note(row)})
    if notes:
        obs["note"] = notes
    if row.specimen:
        obs["specimen"] = {"display": row.specimen}
    if row.reference_range and (ranges := _reference_range(row.reference_range, row.unit, row.printed_unit)):
        obs["referenceRange"] = [ranges]
    obs["derivedFrom"] = [{"reference": ctx.document_reference}]
    return obs


def _extensions(row: LabRow) -> list[dict]:
    # Confidence is in the understanding of the row, not only in its characters: a row with a reason to
    # check is never reported as sure, whatever the OCR said.
    confidence = min(row.confidence, CHECK_CONFIDENCE) if row.review_reasons else row.confidence
    out = [{"url": EXT_AI_CONFIDENCE, "valueDecimal": round(float(confidence), 4)}]
    if row.region:
        x0, y0, x1, y1 = row.region.box
        out.append(
            {
                "url": EXT_SOURCE_REGION,
                "extension": [
                    {"url": "page", "valueInteger": int(row.region.page)},
                    *(
                        {"url": name, "valueDecimal": round(float(v), 2)}
                        for name, v in zip(("x0", "y0", "x1", "y1"), (x0, y0, x1, y1))
                    ),
                ],
            }
        )
    if flag_disagrees(row):
        out.append({"url": EXT_FLAG_DISAGREES, "valueBoolean": True})
    out.extend({"url": EXT_REVIEW_REASON, "valueString": reason} for reason in row.review_reasons)
    return out


def _code(row: LabRow) -> dict:
    """LOINC coding when the test is known; the printed name always; no coding rather than a guess."""
    code: dict = {"text": row.printed_name}
    if row.loinc:
        display = row.loinc_display or (known.display if (known := lookup_loinc(row.loinc)) else None)
        code["coding"] = [coding(LOINC, row.loinc, display)]
    return code


def _quantity(value: Decimal, unit: str | None, printed_unit: str | None) -> dict:
    # The printed precision is part of the value (issue 16): 0.50 is stored and served as 0.50, not 0.5.
    plain = number(value)
    q: dict = {"value": plain if isinstance(plain, int) else FhirDecimal(format(Decimal(value), "f"))}
    if unit:
        q.update(unit=printed_unit or unit, system=UCUM, code=unit)
    elif printed_unit:
        q["unit"] = printed_unit  # a unit we cannot code stays as printed, uncoded
    return q


def _value(row: LabRow) -> dict:
    if row.value is not None and row.review_reasons:
        # Failed a check: the printed text is kept for a person to read, never a number a search could find.
        printed = " ".join(p for p in (row.printed_value or str(row.value), row.printed_unit) if p)
        return {"valueString": printed}
    if row.value is not None:
        q = _quantity(row.value, row.unit, row.printed_unit)
        if row.comparator:
            q["comparator"] = row.comparator
        return {"valueQuantity": q}
    if row.value_text:
        answer = normalize_answer(row.value_text)
        if answer:
            return {"valueCodeableConcept": {"coding": [coding(answer.system, answer.code, answer.display)],
                                             "text": row.value_text}}
        return {"valueString": row.value_text}
    reason = row.absent_reason or "unknown"
    return {"dataAbsentReason": concept(DATA_ABSENT, reason, None, row.printed_value or None)}


def _reference_range(rr: ReferenceRange, row_unit: str | None, printed_unit: str | None) -> dict | None:
    unit = rr.unit or row_unit
    shown = printed_unit if unit is None or unit == row_unit else None  # same unit as the value: say it the same way
    out: dict = {}
    if rr.low is not None:
        out["low"] = _quantity(rr.low, unit, shown)
    if rr.high is not None:
        out["high"] = _quantity(rr.high, unit, shown)
    if rr.applies_to:
        applies: dict = {"text": rr.applies_to}
        sex = APPLIES_TO_SEX.get(rr.applies_to.strip().lower())
        if sex:
            applies["coding"] = [coding(SNOMED, *sex)]
        out["appliesTo"] = [applies]
    if rr.text:
        out["text"] = rr.text
    return out if (out.keys() & {"low", "high", "text"}) else None


def _disagreement_note(row: LabRow) -> str:
    printed = row.flag or "no flag"
    expected = expected_flag(row)
    rr = row.reference_range
    where = rr.text if rr and rr.text else f"{rr.low if rr else ''}-{rr.high if rr else ''}"
    return (f"Printed flag ({printed}) disagrees with the value {row.printed_value or row.value} against the printed "
            f"reference range {where} (expected {expected or 'unclear'}); the printed flag is kept for review.")
