"""The delta check, as labs run one: a result far from the patient's previous result for the same
test, beyond what the test's biology allows in the time between, gets a review reason (flagged, not
rejected). Plain functions: the storing step (ingestion.digitize) finds the previous Observations."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from ingestion.labreport import LabRow
from resources import ucum

RULES_FILE = Path(__file__).with_name("delta_checks.csv")


@dataclass(frozen=True)
class DeltaRule:
    loinc: str
    unit: str
    kind: str  # "abs" (in unit) or "pct" (of the previous value)
    limit: Decimal
    days: Decimal
    analyte: str


@cache
def rules() -> dict[str, DeltaRule]:
    with open(RULES_FILE, newline="", encoding="utf-8") as f:
        return {r["loinc"]: DeltaRule(r["loinc"], r["unit"], r["kind"], Decimal(r["limit"]), Decimal(r["days"]),
                                      r["analyte"]) for r in csv.DictReader(f)}


def needs_check(row: LabRow) -> bool:
    return row.value is not None and not row.review_reasons and row.comparator is None and row.loinc in rules()


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _previous_value(observation: dict, unit: str) -> Decimal | None:
    quantity = observation.get("valueQuantity") or {}
    if "value" not in quantity or quantity.get("comparator") or not quantity.get("code"):
        return None
    try:
        return ucum.convert(Decimal(str(quantity["value"])), quantity["code"], unit)
    except (InvalidOperation, ValueError):
        return None


def delta_reason(row: LabRow, effective: str | None, previous: list[dict]) -> str | None:
    """The reason to check `row` (taken at `effective`) against the patient's stored `previous`
    Observations of the same LOINC, or None. The nearest earlier (or later) result within the rule's
    days decides; results without a time, a quantity or a convertible unit are not compared."""
    rule = rules().get(row.loinc or "")
    when = _moment(effective)
    if rule is None or when is None or row.value is None or row.unit is None:
        return None
    value = ucum.convert(row.value, row.unit, rule.unit)
    if value is None:
        return None
    candidates = []
    for observation in previous:
        then = _moment(observation.get("effectiveDateTime"))
        old = _previous_value(observation, rule.unit)
        if then is None or old is None:
            continue
        days = Decimal(abs((when - then).total_seconds())) / 86400
        if days <= rule.days:
            candidates.append((days, then, old))
    if not candidates:
        return None
    days, then, old = min(candidates, key=lambda c: c[0])
    change = abs(value - old)
    if rule.kind == "pct":
        if old == 0 or change * 100 / abs(old) <= rule.limit:
            return None
        size = f"{(change * 100 / abs(old)).quantize(Decimal(1))} %"
        allowed = f"{rule.limit} %"
    else:
        if change <= rule.limit:
            return None
        size, allowed = f"{change.normalize():f} {rule.unit}", f"{rule.limit} {rule.unit}"
    return (f"delta check: {row.printed_value} is {size} from the previous {rule.analyte} ({old.normalize():f} "
            f"{rule.unit} on {then.date().isoformat()}); more than {allowed} within {rule.days} days is not "
            f"expected")


def apply_delta(row: LabRow, effective: str | None, previous: list[dict]) -> None:
    reason = delta_reason(row, effective, previous)
    if reason:
        row.check(reason)
