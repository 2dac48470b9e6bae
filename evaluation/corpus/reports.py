"""Ground-truth lab reports drawn from the catalogue: realistic values with flags consistent with ranges.

A report is layout-independent: it says what the page means (a `LabReport`); a layout decides how
it looks. Everything is deterministic given the seed.
"""
from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from evaluation.corpus.catalogue import ANALYTES, BY_PANEL, LONG_NAMES, PANELS, QUALITATIVE_LOINC, Analyte, Measure
from ingestion.labreport import LabReport, LabRow, PatientHeader, ReferenceRange

Units = Literal["US", "SI"]

GIVEN_F = ("Maria", "Jane", "Aisha", "Emily", "Sofia", "Linda", "Mei", "Olivia", "Grace", "Fatima", "Hannah", "Ana")
GIVEN_M = ("James", "Robert", "Ahmed", "Daniel", "Luis", "Wei", "Michael", "Omar", "Thomas", "David", "Kwame", "Pedro")
FAMILY = ("Smith", "Garcia", "Johnson", "Nguyen", "Okafor", "Muller", "Rossi", "Patel", "Kowalski", "Brown",
          "Martinez", "Andersen", "Tanaka", "Williams", "Schmidt", "Haddad", "Oliveira", "Clarke")
LABS = ("Northside Clinical Laboratory", "Riverside Medical Labs", "St. Mary Hospital Laboratory",
        "Metro Diagnostics", "Lakeview Pathology Services", "Central Reference Laboratory",
        "Hillcrest Regional Medical Center Lab", "BioAnalytica Diagnostics")
CLINICIANS = ("Sarah Chen", "Michael O'Brien", "Priya Raman", "John Miller", "Elena Petrova",
              "Samuel Adeyemi", "Laura Fischer", "Carlos Mendes")

# Panels a one-page report draws from, by how often clinicians order them together.
ONE_PAGE_SETS = (("cbc", "cmp"), ("cmp", "lipid"), ("cbc", "lipid", "endo"), ("cmp", "misc"),
                 ("cbc", "coag", "endo"), ("lipid", "endo", "misc"))
MULTI_PAGE = ("cbc", "cmp", "lipid", "endo", "misc", "coag")
# A report printed in department sections: chemistry, hematology, urinalysis and serology together.
SECTIONED = ("cmp", "lipid", "cbc", "ua", "sero")


# Printed units whose UCUM code is not the measure's usual one (mEq/L is meq/L even when equal to mmol/L).
PRINTED_UCUM = {"mEq/L": "meq/L", "IU/L": "[IU]/L", "mU/L": "mU/L"}


def sample_report(seed: int, *, units: Units = "US", pages: int = 1, qualitative: bool = False,
                  sections: bool = False, long_names: bool = False) -> LabReport:
    """`sections`: chemistry, hematology, urinalysis and serology panels in one report; `long_names`:
    the full names hospital systems print ("Mean Corpuscular Hemoglobin Concentration (MCHC)")."""
    rng = random.Random(f"report-{seed}-{units}-{pages}-{qualitative}" + ("-sections" if sections else ""))
    sex = rng.choice(("male", "female"))
    given = rng.choice(GIVEN_M if sex == "male" else GIVEN_F)
    family = rng.choice(FAMILY)
    middle = rng.choice(("", "", "A", "J", "M"))
    givens = [given] + ([middle] if middle else [])
    birth = date(1938, 1, 1) + timedelta(days=rng.randrange(0, 365 * 67))
    collected = datetime(2025, 1, 1, 6, 0) + timedelta(days=rng.randrange(0, 420), minutes=rng.randrange(0, 720))
    collected = collected.replace(minute=collected.minute - collected.minute % 5)
    reported = collected + timedelta(hours=rng.randrange(3, 40), minutes=5 * rng.randrange(0, 12))
    mrn = rng.choice((f"{rng.randrange(10**6, 10**7)}", f"MRN{rng.randrange(10**7, 10**8)}",
                      f"{rng.choice('ABHKM')}{rng.randrange(10**6, 10**7)}"))
    report = LabReport(
        patient=PatientHeader(name=None, family=family, given=givens, birth_date=birth.isoformat(), sex=sex,
                              identifier=mrn),
        collected=collected.isoformat(timespec="seconds"),
        reported=reported.isoformat(timespec="seconds"),
        ordering_clinician=rng.choice(CLINICIANS),
        lab_name=rng.choice(LABS),
        accession=f"{rng.choice(('A', 'L', 'S', ''))}{collected:%y}-{rng.randrange(100000, 999999)}",
    )
    panels = list(MULTI_PAGE) if pages > 1 else list(rng.choice(ONE_PAGE_SETS))
    if qualitative:
        panels = panels[:1] + ["ua"] if pages == 1 else panels + ["ua"]
    if sections:
        panels = list(SECTIONED)
    for panel in panels:
        heading = rng.choice(PANELS[panel])
        analytes = [a for a in BY_PANEL[panel] if _measure(a, units) or a.qualitative]
        most = 7 if sections else 10
        if pages == 1 and panel not in ("ua", "sero") and len(analytes) > most:
            keep = sorted(rng.sample(range(len(analytes)), most))
            analytes = [analytes[i] for i in keep]
        for analyte in analytes:
            row = replace(_row(analyte, units, sex, rng), panel=heading)
            if long_names and analyte.key in LONG_NAMES:
                row.printed_name = LONG_NAMES[analyte.key]
            report.rows.append(row)
    return report


def _measure(analyte: Analyte, units: Units) -> Measure | None:
    return analyte.si if units == "SI" else analyte.us


def _row(analyte: Analyte, units: Units, sex: str, rng: random.Random) -> LabRow:
    name = rng.choice(analyte.names)
    if analyte.qualitative:
        return _qualitative_row(analyte, name, rng)
    m = _measure(analyte, units)
    low, high = (m.female if sex == "female" and m.female else (m.low, m.high))
    value, comparator = _draw_value(m, low, high, rng)
    printed_unit = rng.choice(m.printed_units) or None
    ucum = PRINTED_UCUM.get(printed_unit, m.ucum)
    rr = ReferenceRange(low=low, high=high, unit=ucum if (low is not None or high is not None) else None,
                        text=range_text(low, high), applies_to=sex if m.female else None)
    return LabRow(
        printed_name=name, loinc=m.loinc, loinc_display=m.display, value=value, comparator=comparator,
        printed_value=f"{comparator or ''}{value}", unit=ucum, printed_unit=printed_unit,
        reference_range=rr, flag=_flag(value, comparator, low, high, m.critical), comment=analyte.comment,
        specimen="urine" if analyte.panel == "ua" else None,
    )


def _qualitative_row(analyte: Analyte, name: str, rng: random.Random) -> LabRow:
    loinc, display = QUALITATIVE_LOINC[analyte.key]
    choices = analyte.qualitative
    value = choices[0] if rng.random() < 0.7 else rng.choice(choices[1:])
    rr = ReferenceRange(text=analyte.normal_text) if analyte.normal_text else None
    serology = analyte.panel == "sero"
    # serology reports flag a reactive result as abnormal; dipstick grades carry no flag
    flag = "A" if serology and value != choices[0] else None
    return LabRow(printed_name=name, loinc=loinc, loinc_display=display, value_text=value, printed_value=value,
                  reference_range=rr, specimen=None if serology else "urine", flag=flag)


def _draw_value(m: Measure, low: Decimal | None, high: Decimal | None, rng: random.Random):
    lo = float(low) if low is not None else float(high) * 0.3
    hi = float(high) if high is not None else float(low) * 1.8
    width = hi - lo
    u = rng.random()
    if u < 0.7:
        v = rng.uniform(lo, hi)
    elif u < 0.86 or low is None:
        v = hi + rng.uniform(0.03, 0.6) * width * m.spread
    else:
        v = max(lo - rng.uniform(0.03, 0.45) * width * m.spread, lo * 0.25)
    step = Decimal(1).scaleb(-m.decimals)
    value = max(Decimal(str(v)).quantize(step), step)
    if value in (low, high):  # keep values off the bounds so the flag is never a matter of convention
        value += step if value == high else -step
    if m.loinc == "1988-5" and value < Decimal("0.5"):  # CRP below the assay's limit of quantitation
        return Decimal("0.5"), "<"
    if m.loinc == "98979-8" and value > 90:  # eGFR above 90 is reported as >90
        return Decimal(90), ">"
    return value, None


def _flag(value, comparator, low, high, critical) -> str | None:
    if comparator == "<" and high is not None and value <= high:
        return None
    if comparator == ">" and low is not None and value >= low:
        return None
    crit_low, crit_high = critical
    if high is not None and value > high:
        return "HH" if crit_high is not None and value > crit_high else "H"
    if low is not None and value < low:
        return "LL" if crit_low is not None and value < crit_low else "L"
    return None


def range_text(low: Decimal | None, high: Decimal | None) -> str | None:
    if low is not None and high is not None:
        return f"{low}-{high}"
    if high is not None:
        return f"<{high}"
    if low is not None:
        return f">{low}"
    return None


def sex_ranges(row: LabRow):
    """((male low, high), (female low, high)) when the analyte has sex-specific intervals, else None."""
    for a in ANALYTES:
        for m in (a.us, a.si):
            if m and m.loinc == row.loinc and m.female and m.ucum == row.unit:
                return (m.low, m.high), m.female
    return None
