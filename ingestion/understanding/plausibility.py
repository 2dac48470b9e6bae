"""Plausibility: reasons a read row must not be stored as a certain number.

Run on every row once it is read and coded. Each check that fails adds a plain-words reason to
`LabRow.review_reasons` and lowers the row's confidence to at most `CHECK_CONFIDENCE` (the row is then stored
as its printed text, never a `valueQuantity`, and shown on the review page as a row to check):

  unit      the printed unit is not UCUM this server knows, is missing where the test has one, or does
            not fit the LOINC term's property (mass vs substance concentration, count, ratio...);
  limits    the value is outside what the analyte can be in a living patient (physiological_limits.csv,
            with its sources in physiological_limits.md), or a fraction outside 0-100 %;
  scale     the printed reference range is on another scale than the value (11211.6 against 70-99);
  merged    the value looks like the digits of two cells run together (0.84265 against 0.70-1.30);
  flag      the printed flag contradicts the value against its range (a lost decimal point shows so).

Pure and DB-free: the LOINC term is looked up through an injected function. The delta check against
the patient's previous result needs stored data, so it runs in the storing step (fhir_mapping.delta).
"""
from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

from ingestion.labreport import CHECK_CONFIDENCE, LabRow
from resources import ucum

LIMITS_FILE = Path(__file__).with_name("physiological_limits.csv")
FRACTIONS = {"MFr", "NFr", "VFr", "SFr"}  # LOINC properties that are a share of a whole
PREFIX_SLIP_DIGITS = 3  # a unit 10^3 or more from every unit the test is reported in is a row to check
SCALE_FOLD = Decimal(100)  # a value this many times beyond its printed range is on another scale
TermLookup = Callable[[str], object]  # LOINC -> a term with .property, .units, .scale (or None)


@dataclass(frozen=True)
class Limit:
    loinc: str
    unit: str
    low: Decimal
    high: Decimal
    analyte: str


@cache
def limits() -> dict[str, Limit]:
    with open(LIMITS_FILE, newline="", encoding="utf-8") as f:
        return {r["loinc"]: Limit(r["loinc"], r["unit"], Decimal(r["low"]), Decimal(r["high"]), r["analyte"])
                for r in csv.DictReader(f)}


def check_rows(rows: list[LabRow], lookup: TermLookup | None) -> None:
    for row in rows:
        check_row(row, lookup)


def check_row(row: LabRow, lookup: TermLookup | None) -> None:
    """Add every reason this row's number cannot be trusted as read; lower its confidence if any."""
    if row.value is None:
        return
    term = lookup(row.loinc) if lookup and row.loinc else None
    said = " ".join(row.review_reasons)  # what the reading already said (rows.py): not said twice
    if lookup is not None and not row.loinc and "not recognised" not in said:
        row.review_reasons.append(f"test '{row.printed_name}' is not one the terminology knows (no LOINC code)")
    for reason in (*_unit_reasons(row, term), _limit_reason(row, term), _scale_reason(row), _merged_reason(row),
                   _flag_reason(row)):
        if reason and reason.startswith("no unit printed") and "no unit read" in said:
            continue
        if reason:
            row.check(reason)
    if row.review_reasons:  # the reading's own reasons (rows.py) lower it too
        row.confidence = min(row.confidence, CHECK_CONFIDENCE)


def _unit_reasons(row: LabRow, term) -> list[str]:
    printed = (row.printed_unit or "").strip()
    if printed and row.unit is None:
        return [f"unit '{printed}' is not a UCUM unit (or holds more than a unit)"]
    if row.unit and not ucum.is_valid(row.unit):
        return [f"unit '{row.unit}' is not valid UCUM"]
    units = tuple(getattr(term, "units", ()) or ())
    if term is None or not units or getattr(term, "scale", "Qn") != "Qn":
        return []
    if row.unit is None:
        if all(_dimensionless(u) for u in units):
            return []
        return [f"no unit printed; {row.loinc} is reported in {units[0]}"]
    if row.unit in units:
        return []
    factors = [f for u in units if (f := ucum.convert(Decimal(1), row.unit, u)) is not None]
    if not factors:
        return [f"unit {row.unit} does not fit {row.loinc} ({_property_words(term)}, reported in {', '.join(units)})"]
    # Of the right kind but a thousand times or more from every unit the test is reported in: a prefix the
    # reader lost or misread (umol/L read as mol/L, ng as g) is likelier than a lab printing such a unit.
    if min(abs(f.adjusted()) for f in factors) >= PREFIX_SLIP_DIGITS:
        return [f"unit {row.unit} is {_fold(factors)} the units {row.loinc} is reported in ({', '.join(units)}): "
                f"a prefix (u, m, n) lost in reading?"]
    return []


def _fold(factors: list[Decimal]) -> str:
    nearest = min(factors, key=lambda f: abs(f.adjusted()))
    return f"10^{nearest.adjusted()} times" if nearest > 1 else f"1/10^{-nearest.adjusted()} of"


def _dimensionless(code: str) -> bool:
    """A unit labs often leave unprinted: a pure number, an annotation ({INR}, {ratio}) or pH."""
    return code == "[pH]" or ucum.convert(Decimal(1), code, "1") is not None


PROPERTY_WORDS = {"MCnc": "a mass concentration", "SCnc": "a substance concentration", "NCnc": "a count per volume",
                  "ACnc": "an arbitrary-unit concentration", "CCnc": "a catalytic concentration",
                  "MFr": "a mass fraction", "NFr": "a number fraction", "VFr": "a volume fraction",
                  "MRto": "a mass ratio", "SRto": "a substance ratio", "Time": "a time", "EntVol": "a cell volume",
                  "ArVRat": "a filtration rate", "PPres": "a partial pressure", "Naric": "a count per field"}


def _property_words(term) -> str:
    prop = getattr(term, "property", "")
    return PROPERTY_WORDS.get(prop, f"property {prop}")


def _limit_reason(row: LabRow, term) -> str | None:
    if row.unit == "%" and getattr(term, "property", "") in FRACTIONS and not 0 <= row.value <= 100:
        return f"{row.printed_value} % is not a possible fraction (0-100 %)"
    limit = limits().get(row.loinc or "")
    if limit is None or row.unit is None:
        return None
    value = ucum.convert(row.value, row.unit, limit.unit)
    if value is None or limit.low <= value <= limit.high:
        return None
    return (f"{row.printed_value} {row.printed_unit or row.unit} is outside what {limit.analyte} can be in a "
            f"patient ({limit.low}-{limit.high} {limit.unit})")


def _scale_reason(row: LabRow) -> str | None:
    rr = row.reference_range
    if rr is None or row.comparator:
        return None
    value = row.value
    if rr.unit and row.unit and rr.unit != row.unit:
        value = ucum.convert(value, row.unit, rr.unit)
        if value is None:
            return None
    printed = rr.text or "-".join(str(b) for b in (rr.low, rr.high) if b is not None)
    if rr.high is not None and rr.high > 0 and value > rr.high * SCALE_FOLD:
        return f"value {row.printed_value} is not on the scale of the printed range {printed}"
    if rr.low is not None and rr.low > 0 and 0 < value and value * SCALE_FOLD < rr.low:
        return f"value {row.printed_value} is not on the scale of the printed range {printed}"
    return None


def _flag_reason(row: LabRow) -> str | None:
    """A printed flag the value contradicts (H beside a value inside the range) is how a lost decimal point
    or a neighbour's digits show: the number is not to be trusted until a person has looked."""
    if not row.flag_disagrees:
        return None
    return f"the printed flag {row.flag or '(none)'} disagrees with the value {row.printed_value} and its range"


def _decimals(number: Decimal | None) -> int:
    return max(0, -number.as_tuple().exponent) if number is not None else 0


def _merged_reason(row: LabRow) -> str | None:
    """More decimals than any lab prints for the result, beside a range printed with far fewer, or a
    number with a space or second decimal point inside it: two neighbouring numbers read as one."""
    printed = row.printed_value.strip()
    digits = [p for p in printed.split() if re.fullmatch(r"[<>≤≥=]*\d[\d.,]*[*!]?", p)]  # not "10^3/uL" after it
    if len(digits) > 1:
        return f"value '{printed}' holds more than one number"
    places = _decimals(row.value)
    rr = row.reference_range
    bounds = [b for b in ((rr.low, rr.high) if rr else ()) if b is not None]
    if bounds and places >= 4 and places >= max(_decimals(b) for b in bounds) + 2:
        return f"value {printed} has more decimals than its printed range: digits of two cells run together?"
    if not bounds and places >= 4 and row.value >= 1:
        return f"value {printed} has more decimals than a lab prints: digits of two cells run together?"
    return None
