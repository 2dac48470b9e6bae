"""The tests the evaluation corpus draws from: realistic names, units, ranges and LOINC codes.

This is ground truth for generated reports only (what a lab would print and what the right code
is), not the server's terminology: the understanding stage never reads it. Codes are LOINC
(https://loinc.org, (c) Regenstrief Institute, Inc., used under the LOINC licence); units are UCUM
codes (https://ucum.org, (c) Regenstrief Institute, Inc.). Reference intervals are typical adult
intervals from common US and European laboratory handbooks, rounded.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Measure:
    """One way of reporting an analyte: a LOINC code with its unit and adult interval."""

    loinc: str
    display: str
    ucum: str | None  # None for unitless results (pH, specific gravity)
    printed_units: tuple[str, ...]  # spellings labs use for that unit
    low: Decimal | None
    high: Decimal | None
    decimals: int
    female: tuple[Decimal, Decimal] | None = None  # sex-specific interval (low/high applies to males)
    critical: tuple[Decimal | None, Decimal | None] = (None, None)
    spread: float = 1.0  # how far values wander outside the interval (in interval widths)


@dataclass(frozen=True)
class Analyte:
    key: str
    names: tuple[str, ...]  # printed name variants
    panel: str  # key into PANELS
    us: Measure | None = None
    si: Measure | None = None
    qualitative: tuple[str, ...] = ()  # possible results, the normal one first
    normal_text: str | None = None  # printed reference for qualitative results
    comment: str | None = None  # method/comment line labs print under it


PANELS = {
    "cbc": ("COMPLETE BLOOD COUNT", "Complete Blood Count (CBC)", "HEMATOLOGY - CBC"),
    "cmp": ("COMPREHENSIVE METABOLIC PANEL", "Comprehensive Metabolic Panel", "CLINICAL CHEMISTRY"),
    "lipid": ("LIPID PANEL", "Lipid Profile", "LIPIDS"),
    "endo": ("THYROID AND ENDOCRINE", "Endocrinology", "HORMONES"),
    "misc": ("SPECIAL CHEMISTRY", "Vitamins and Iron Studies", "OTHER TESTS"),
    "coag": ("COAGULATION", "Coagulation Studies", "HEMOSTASIS"),
    "ua": ("URINALYSIS", "Urinalysis, Routine", "URINE EXAMINATION"),
    "sero": ("INFECTIOUS DISEASE SEROLOGY", "Serology", "IMMUNOLOGY / SEROLOGY"),
}

# The department a panel is printed under in reports that group results into sections.
SECTIONS = {"cbc": "HEMATOLOGY", "coag": "HEMATOLOGY", "cmp": "CHEMISTRY", "lipid": "CHEMISTRY",
            "endo": "CHEMISTRY", "misc": "CHEMISTRY", "ua": "URINALYSIS", "sero": "SEROLOGY"}


def D(text: str) -> Decimal:
    return Decimal(text)


def _m(loinc, display, ucum, units, low, high, decimals, **kw) -> Measure:
    return Measure(loinc, display, ucum, tuple(units), D(low) if low is not None else None,
                   D(high) if high is not None else None, decimals, **kw)


_CELLS_US = ("x10^3/uL", "K/uL", "10^3/µL", "10*3/uL", "thou/uL")
_CELLS_SI = ("x10^9/L", "10^9/L", "10*9/L", "G/L")
_RBC_US = ("x10^6/uL", "M/uL", "10^6/µL", "10*6/uL")
_RBC_SI = ("x10^12/L", "10^12/L", "10*12/L", "T/L")

ANALYTES: tuple[Analyte, ...] = (
    # Complete blood count
    Analyte(
        "wbc",
        ("WBC", "White Blood Cell Count", "Leukocytes", "White Cell Count"),
        "cbc",
        us=_m(
            "6690-2",
            "Leukocytes [#/volume] in Blood",
            "10*3/uL",
            _CELLS_US,
            "4.0",
            "11.0",
            1,
            critical=(D("2.0"), D("30.0")),
        ),
        si=_m("6690-2", "Leukocytes [#/volume] in Blood", "10*9/L", _CELLS_SI, "4.0", "11.0", 1),
    ),
    Analyte(
        "rbc",
        ("RBC", "Red Blood Cell Count", "Erythrocytes", "Red Cell Count"),
        "cbc",
        us=_m(
            "789-8",
            "Erythrocytes [#/volume] in Blood",
            "10*6/uL",
            _RBC_US,
            "4.50",
            "5.90",
            2,
            female=(D("4.00"), D("5.20")),
        ),
        si=_m(
            "789-8",
            "Erythrocytes [#/volume] in Blood",
            "10*12/L",
            _RBC_SI,
            "4.50",
            "5.90",
            2,
            female=(D("4.00"), D("5.20")),
        ),
    ),
    Analyte(
        "hgb",
        ("Hemoglobin", "HGB", "Haemoglobin", "Hb"),
        "cbc",
        us=_m(
            "718-7",
            "Hemoglobin [Mass/volume] in Blood",
            "g/dL",
            ("g/dL", "g/dl", "gm/dL"),
            "13.5",
            "17.5",
            1,
            female=(D("12.0"), D("15.5")),
            critical=(D("7.0"), D("20.0")),
        ),
        si=_m(
            "718-7",
            "Hemoglobin [Mass/volume] in Blood",
            "g/L",
            ("g/L", "g/l"),
            "135",
            "175",
            0,
            female=(D("120"), D("155")),
        ),
    ),
    Analyte(
        "hct",
        ("Hematocrit", "HCT", "Haematocrit", "Packed Cell Volume"),
        "cbc",
        us=_m(
            "4544-3",
            "Hematocrit [Volume Fraction] of Blood by Automated count",
            "%",
            ("%",),
            "41.0",
            "53.0",
            1,
            female=(D("36.0"), D("46.0")),
        ),
        si=_m(
            "4544-3",
            "Hematocrit [Volume Fraction] of Blood by Automated count",
            "L/L",
            ("L/L", "l/l"),
            "0.41",
            "0.53",
            2,
            female=(D("0.36"), D("0.46")),
        ),
    ),
    Analyte(
        "mcv",
        ("MCV", "Mean Corpuscular Volume", "Mean Cell Volume"),
        "cbc",
        us=_m("787-2", "MCV [Entitic volume] by Automated count", "fL", ("fL", "fl", "um3"), "80.0", "100.0", 1),
        si=_m("787-2", "MCV [Entitic volume] by Automated count", "fL", ("fL", "fl"), "80.0", "100.0", 1),
    ),
    Analyte(
        "mch",
        ("MCH", "Mean Corpuscular Hemoglobin", "Mean Cell Haemoglobin"),
        "cbc",
        us=_m("785-6", "MCH [Entitic mass] by Automated count", "pg", ("pg",), "27.0", "33.0", 1),
        si=_m("785-6", "MCH [Entitic mass] by Automated count", "pg", ("pg",), "27.0", "33.0", 1),
    ),
    Analyte(
        "mchc",
        ("MCHC", "Mean Cell Hemoglobin Concentration"),
        "cbc",
        us=_m("786-4", "MCHC [Mass/volume] by Automated count", "g/dL", ("g/dL", "g/dl"), "32.0", "36.0", 1),
        si=_m("786-4", "MCHC [Mass/volume] by Automated count", "g/L", ("g/L",), "320", "360", 0),
    ),
    Analyte(
        "rdw",
        ("RDW", "RDW-CV", "Red Cell Distribution Width"),
        "cbc",
        us=_m("788-0", "Erythrocyte distribution width [Ratio] by Automated count", "%", ("%",), "11.5", "14.5", 1),
        si=_m("788-0", "Erythrocyte distribution width [Ratio] by Automated count", "%", ("%",), "11.5", "14.5", 1),
    ),
    Analyte(
        "plt",
        ("Platelets", "Platelet Count", "PLT", "Thrombocytes"),
        "cbc",
        us=_m(
            "777-3",
            "Platelets [#/volume] in Blood by Automated count",
            "10*3/uL",
            _CELLS_US,
            "150",
            "400",
            0,
            critical=(D("20"), D("1000")),
        ),
        si=_m("777-3", "Platelets [#/volume] in Blood by Automated count", "10*9/L", _CELLS_SI, "150", "400", 0),
    ),
    Analyte(
        "neut_pct",
        ("Neutrophils", "Neutrophils %", "Neut %"),
        "cbc",
        us=_m("770-8", "Neutrophils/100 leukocytes in Blood by Automated count", "%", ("%",), "40.0", "70.0", 1),
        si=_m("770-8", "Neutrophils/100 leukocytes in Blood by Automated count", "%", ("%",), "40.0", "70.0", 1),
    ),
    Analyte(
        "lymph_pct",
        ("Lymphocytes", "Lymphocytes %", "Lymph %"),
        "cbc",
        us=_m("736-9", "Lymphocytes/100 leukocytes in Blood by Automated count", "%", ("%",), "20.0", "40.0", 1),
        si=_m("736-9", "Lymphocytes/100 leukocytes in Blood by Automated count", "%", ("%",), "20.0", "40.0", 1),
    ),
    Analyte(
        "neut_abs",
        ("Absolute Neutrophils", "Neutrophils, Absolute", "ANC"),
        "cbc",
        us=_m("751-8", "Neutrophils [#/volume] in Blood by Automated count", "10*3/uL", _CELLS_US, "1.8", "7.7", 1),
        si=_m("751-8", "Neutrophils [#/volume] in Blood by Automated count", "10*9/L", _CELLS_SI, "1.8", "7.7", 1),
    ),
    # Metabolic panel
    Analyte(
        "glucose",
        ("Glucose", "Glucose, Serum", "Serum Glucose", "Glucose Plasma"),
        "cmp",
        us=_m(
            "2345-7",
            "Glucose [Mass/volume] in Serum or Plasma",
            "mg/dL",
            ("mg/dL", "mg/dl"),
            "70",
            "99",
            0,
            critical=(D("50"), D("400")),
        ),
        si=_m("14749-6", "Glucose [Moles/volume] in Serum or Plasma", "mmol/L", ("mmol/L", "mmol/l"), "3.9", "5.5", 1),
    ),
    Analyte(
        "bun",
        ("BUN", "Urea Nitrogen", "Blood Urea Nitrogen"),
        "cmp",
        us=_m("3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma", "mg/dL", ("mg/dL", "mg/dl"), "7", "20", 0),
    ),
    Analyte(
        "urea",
        ("Urea",),
        "cmp",
        si=_m("22664-7", "Urea [Moles/volume] in Serum or Plasma", "mmol/L", ("mmol/L", "mmol/l"), "2.5", "7.1", 1),
    ),
    Analyte(
        "creat",
        ("Creatinine", "Creatinine, Serum", "Creat"),
        "cmp",
        us=_m(
            "2160-0",
            "Creatinine [Mass/volume] in Serum or Plasma",
            "mg/dL",
            ("mg/dL", "mg/dl"),
            "0.70",
            "1.30",
            2,
            female=(D("0.50"), D("1.10")),
        ),
        si=_m(
            "14682-9",
            "Creatinine [Moles/volume] in Serum or Plasma",
            "umol/L",
            ("µmol/L", "umol/L", "µmol/l"),
            "62",
            "106",
            0,
            female=(D("44"), D("80")),
        ),
    ),
    Analyte(
        "egfr",
        ("eGFR (CKD-EPI 2021)", "Estimated GFR (CKD-EPI 2021)"),
        "cmp",
        us=_m(
            "98979-8",
            "Glomerular filtration rate/1.73 sq M.predicted by CKD-EPI 2021",
            "mL/min/{1.73_m2}",
            ("mL/min/1.73m2", "mL/min/1.73 m²"),
            "60",
            None,
            0,
        ),
        si=_m(
            "98979-8",
            "Glomerular filtration rate/1.73 sq M.predicted by CKD-EPI 2021",
            "mL/min/{1.73_m2}",
            ("mL/min/1.73m2",),
            "60",
            None,
            0,
        ),
        comment="Calculated with the CKD-EPI 2021 equation; values above 90 reported as >90.",
    ),
    Analyte(
        "na",
        ("Sodium", "Na", "Sodium, Serum"),
        "cmp",
        us=_m(
            "2951-2",
            "Sodium [Moles/volume] in Serum or Plasma",
            "mmol/L",
            ("mmol/L", "mEq/L"),
            "136",
            "145",
            0,
            critical=(D("120"), D("160")),
        ),
        si=_m("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", ("mmol/L", "mmol/l"), "136", "145", 0),
    ),
    Analyte(
        "k",
        ("Potassium", "K", "Potassium, Serum"),
        "cmp",
        us=_m(
            "2823-3",
            "Potassium [Moles/volume] in Serum or Plasma",
            "mmol/L",
            ("mmol/L", "mEq/L"),
            "3.5",
            "5.1",
            1,
            critical=(D("2.8"), D("6.2")),
        ),
        si=_m("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", ("mmol/L", "mmol/l"), "3.5", "5.1", 1),
    ),
    Analyte(
        "cl",
        ("Chloride", "Cl"),
        "cmp",
        us=_m("2075-0", "Chloride [Moles/volume] in Serum or Plasma", "mmol/L", ("mmol/L", "mEq/L"), "98", "107", 0),
        si=_m("2075-0", "Chloride [Moles/volume] in Serum or Plasma", "mmol/L", ("mmol/L",), "98", "107", 0),
    ),
    Analyte(
        "co2",
        ("Carbon Dioxide", "CO2", "Total CO2", "CO2, Total"),
        "cmp",
        us=_m(
            "2028-9",
            "Carbon dioxide, total [Moles/volume] in Serum or Plasma",
            "mmol/L",
            ("mmol/L", "mEq/L"),
            "22",
            "29",
            0,
        ),
        si=_m(
            "2028-9", "Carbon dioxide, total [Moles/volume] in Serum or Plasma", "mmol/L", ("mmol/L",), "22", "29", 0
        ),
    ),
    Analyte(
        "ca",
        ("Calcium", "Ca", "Calcium, Total"),
        "cmp",
        us=_m("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "mg/dL", ("mg/dL", "mg/dl"), "8.6", "10.3", 1),
        si=_m("2000-8", "Calcium [Moles/volume] in Serum or Plasma", "mmol/L", ("mmol/L", "mmol/l"), "2.15", "2.55", 2),
    ),
    Analyte(
        "protein",
        ("Total Protein", "Protein, Total"),
        "cmp",
        us=_m("2885-2", "Protein [Mass/volume] in Serum or Plasma", "g/dL", ("g/dL", "g/dl"), "6.0", "8.3", 1),
        si=_m("2885-2", "Protein [Mass/volume] in Serum or Plasma", "g/L", ("g/L", "g/l"), "60", "83", 0),
    ),
    Analyte(
        "alb",
        ("Albumin", "Albumin, Serum", "ALB"),
        "cmp",
        us=_m("1751-7", "Albumin [Mass/volume] in Serum or Plasma", "g/dL", ("g/dL", "g/dl"), "3.5", "5.0", 1),
        si=_m("1751-7", "Albumin [Mass/volume] in Serum or Plasma", "g/L", ("g/L", "g/l"), "35", "50", 0),
    ),
    Analyte(
        "tbil",
        ("Bilirubin, Total", "Total Bilirubin", "T. Bilirubin"),
        "cmp",
        us=_m(
            "1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma", "mg/dL", ("mg/dL", "mg/dl"), "0.1", "1.2", 1
        ),
        si=_m(
            "14631-6", "Bilirubin.total [Moles/volume] in Serum or Plasma", "umol/L", ("µmol/L", "umol/L"), "3", "21", 0
        ),
    ),
    Analyte(
        "alp",
        ("Alkaline Phosphatase", "ALP", "Alk Phos"),
        "cmp",
        us=_m(
            "6768-6",
            "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma",
            "U/L",
            ("U/L", "IU/L", "u/l"),
            "44",
            "147",
            0,
        ),
        si=_m(
            "6768-6",
            "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma",
            "U/L",
            ("U/L", "U/l"),
            "44",
            "147",
            0,
        ),
    ),
    Analyte(
        "alt",
        ("ALT", "ALT (SGPT)", "Alanine Aminotransferase"),
        "cmp",
        us=_m(
            "1742-6",
            "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
            "U/L",
            ("U/L", "IU/L"),
            "7",
            "56",
            0,
        ),
        si=_m(
            "1742-6",
            "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
            "U/L",
            ("U/L",),
            "7",
            "56",
            0,
        ),
    ),
    Analyte(
        "ast",
        ("AST", "AST (SGOT)", "Aspartate Aminotransferase"),
        "cmp",
        us=_m(
            "1920-8",
            "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
            "U/L",
            ("U/L", "IU/L"),
            "10",
            "40",
            0,
        ),
        si=_m(
            "1920-8",
            "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
            "U/L",
            ("U/L",),
            "10",
            "40",
            0,
        ),
    ),
    Analyte(
        "ggt",
        ("GGT", "Gamma GT", "Gamma-Glutamyl Transferase"),
        "cmp",
        us=_m(
            "2324-2",
            "Gamma glutamyl transferase [Enzymatic activity/volume] in Serum or Plasma",
            "U/L",
            ("U/L", "IU/L"),
            "8",
            "61",
            0,
        ),
        si=_m(
            "2324-2",
            "Gamma glutamyl transferase [Enzymatic activity/volume] in Serum or Plasma",
            "U/L",
            ("U/L",),
            "8",
            "61",
            0,
        ),
    ),
    # Lipids
    Analyte(
        "chol",
        ("Cholesterol, Total", "Total Cholesterol", "Cholesterol"),
        "lipid",
        us=_m("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", ("mg/dL", "mg/dl"), None, "200", 0),
        si=_m(
            "14647-2", "Cholesterol [Moles/volume] in Serum or Plasma", "mmol/L", ("mmol/L", "mmol/l"), None, "5.20", 2
        ),
    ),
    Analyte(
        "trig",
        ("Triglycerides", "Triglyceride", "TRIG"),
        "lipid",
        us=_m("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", ("mg/dL", "mg/dl"), None, "150", 0),
        si=_m(
            "14927-8", "Triglyceride [Moles/volume] in Serum or Plasma", "mmol/L", ("mmol/L", "mmol/l"), None, "1.70", 2
        ),
    ),
    Analyte(
        "hdl",
        ("HDL Cholesterol", "HDL-C", "Cholesterol, HDL"),
        "lipid",
        us=_m(
            "2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "mg/dL", ("mg/dL", "mg/dl"), "40", None, 0
        ),
        si=_m(
            "14646-4",
            "Cholesterol in HDL [Moles/volume] in Serum or Plasma",
            "mmol/L",
            ("mmol/L", "mmol/l"),
            "1.00",
            None,
            2,
        ),
    ),
    Analyte(
        "ldl",
        ("LDL Cholesterol, Calculated", "LDL-C (calc)", "LDL Cholesterol"),
        "lipid",
        us=_m(
            "13457-7",
            "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation",
            "mg/dL",
            ("mg/dL", "mg/dl"),
            None,
            "100",
            0,
        ),
        si=_m(
            "39469-2",
            "Cholesterol in LDL [Moles/volume] in Serum or Plasma by calculation",
            "mmol/L",
            ("mmol/L",),
            None,
            "2.60",
            2,
        ),
        comment="Method: calculated (Friedewald equation).",
    ),
    # Endocrine
    Analyte(
        "a1c",
        ("Hemoglobin A1c", "HbA1c", "Glycated Hemoglobin"),
        "endo",
        us=_m("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", ("%",), "4.0", "5.6", 1),
        si=_m(
            "59261-8",
            "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol",
            "mmol/mol",
            ("mmol/mol",),
            "20",
            "38",
            0,
        ),
        comment="Method: HPLC, NGSP certified.",
    ),
    Analyte(
        "tsh",
        ("TSH", "Thyroid Stimulating Hormone", "Thyrotropin"),
        "endo",
        us=_m(
            "3016-3",
            "Thyrotropin [Units/volume] in Serum or Plasma",
            "m[IU]/L",
            ("uIU/mL", "µIU/mL", "mIU/L"),
            "0.40",
            "4.00",
            2,
        ),
        si=_m(
            "3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", "m[IU]/L", ("mIU/L", "mU/L"), "0.40", "4.00", 2
        ),
    ),
    Analyte(
        "ft4",
        ("Free T4", "T4, Free", "Free Thyroxine"),
        "endo",
        us=_m(
            "3024-7",
            "Thyroxine (T4) free [Mass/volume] in Serum or Plasma",
            "ng/dL",
            ("ng/dL", "ng/dl"),
            "0.80",
            "1.80",
            2,
        ),
        si=_m(
            "14920-3",
            "Thyroxine (T4) free [Moles/volume] in Serum or Plasma",
            "pmol/L",
            ("pmol/L", "pmol/l"),
            "12.0",
            "22.0",
            1,
        ),
    ),
    Analyte(
        "psa",
        ("PSA", "PSA, Total", "Prostate Specific Antigen"),
        "endo",
        us=_m(
            "2857-1",
            "Prostate specific Ag [Mass/volume] in Serum or Plasma",
            "ng/mL",
            ("ng/mL", "ng/ml"),
            None,
            "4.00",
            2,
        ),
        si=_m(
            "2857-1", "Prostate specific Ag [Mass/volume] in Serum or Plasma", "ug/L", ("µg/L", "ug/L"), None, "4.00", 2
        ),
    ),
    # Vitamins, iron, inflammation
    Analyte(
        "ferritin",
        ("Ferritin", "Ferritin, Serum"),
        "misc",
        us=_m(
            "2276-4",
            "Ferritin [Mass/volume] in Serum or Plasma",
            "ng/mL",
            ("ng/mL", "ng/ml"),
            "30",
            "400",
            0,
            female=(D("13"), D("150")),
        ),
        si=_m(
            "2276-4",
            "Ferritin [Mass/volume] in Serum or Plasma",
            "ug/L",
            ("µg/L", "ug/L"),
            "30",
            "400",
            0,
            female=(D("13"), D("150")),
        ),
    ),
    Analyte(
        "iron",
        ("Iron", "Iron, Serum", "Serum Iron"),
        "misc",
        us=_m("2498-4", "Iron [Mass/volume] in Serum or Plasma", "ug/dL", ("ug/dL", "µg/dL", "mcg/dL"), "60", "170", 0),
        si=_m("14798-3", "Iron [Moles/volume] in Serum or Plasma", "umol/L", ("µmol/L", "umol/L"), "10.7", "30.4", 1),
    ),
    Analyte(
        "b12",
        ("Vitamin B12", "Cobalamin", "Vitamin B-12"),
        "misc",
        us=_m(
            "2132-9",
            "Cobalamin (Vitamin B12) [Mass/volume] in Serum or Plasma",
            "pg/mL",
            ("pg/mL", "pg/ml"),
            "200",
            "900",
            0,
            spread=0.5,
        ),
        si=_m(
            "14685-2",
            "Cobalamin (Vitamin B12) [Moles/volume] in Serum or Plasma",
            "pmol/L",
            ("pmol/L",),
            "148",
            "664",
            0,
            spread=0.5,
        ),
    ),
    Analyte(
        "vitd",
        ("Vitamin D, 25-Hydroxy", "25-OH Vitamin D", "25-Hydroxyvitamin D"),
        "misc",
        us=_m(
            "62292-8",
            "25-Hydroxyvitamin D2+D3 [Mass/volume] in Serum or Plasma",
            "ng/mL",
            ("ng/mL", "ng/ml"),
            "30",
            "100",
            1,
        ),
    ),
    Analyte(
        "crp",
        ("C-Reactive Protein", "CRP", "C Reactive Protein"),
        "misc",
        us=_m(
            "1988-5", "C reactive protein [Mass/volume] in Serum or Plasma", "mg/L", ("mg/L", "mg/l"), None, "5.0", 1
        ),
        si=_m(
            "1988-5", "C reactive protein [Mass/volume] in Serum or Plasma", "mg/L", ("mg/L", "mg/l"), None, "5.0", 1
        ),
    ),
    Analyte(
        "mg",
        ("Magnesium", "Mg", "Magnesium, Serum"),
        "misc",
        us=_m("19123-9", "Magnesium [Mass/volume] in Serum or Plasma", "mg/dL", ("mg/dL", "mg/dl"), "1.7", "2.2", 1),
        si=_m(
            "2601-3", "Magnesium [Moles/volume] in Serum or Plasma", "mmol/L", ("mmol/L", "mmol/l"), "0.70", "1.00", 2
        ),
    ),
    Analyte(
        "urate",
        ("Uric Acid", "Urate", "Uric Acid, Serum"),
        "misc",
        us=_m("3084-1", "Urate [Mass/volume] in Serum or Plasma", "mg/dL", ("mg/dL", "mg/dl"), "3.5", "7.2", 1),
        si=_m("14933-6", "Urate [Moles/volume] in Serum or Plasma", "umol/L", ("µmol/L", "umol/L"), "208", "428", 0),
    ),
    # Coagulation
    Analyte(
        "pt",
        ("Prothrombin Time", "PT"),
        "coag",
        us=_m("5902-2", "Prothrombin time (PT)", "s", ("sec", "s", "seconds"), "11.0", "13.5", 1),
        si=_m("5902-2", "Prothrombin time (PT)", "s", ("s", "sec"), "11.0", "13.5", 1),
    ),
    Analyte(
        "inr",
        ("INR", "International Normalized Ratio"),
        "coag",
        us=_m("6301-6", "INR in Platelet poor plasma by Coagulation assay", None, ("",), "0.8", "1.2", 1),
        si=_m("6301-6", "INR in Platelet poor plasma by Coagulation assay", None, ("",), "0.8", "1.2", 1),
    ),
    # Urinalysis (mostly qualitative)
    Analyte("ua_color", ("Color", "Colour"), "ua", qualitative=("Yellow", "Straw", "Amber", "Dark Yellow")),
    Analyte("ua_clarity", ("Appearance", "Clarity"), "ua", qualitative=("Clear", "Hazy", "Cloudy", "Turbid")),
    Analyte(
        "ua_sg",
        ("Specific Gravity", "Sp. Gravity"),
        "ua",
        us=_m("5811-5", "Specific gravity of Urine by Test strip", None, ("",), "1.005", "1.030", 3, spread=0.2),
        si=_m("5811-5", "Specific gravity of Urine by Test strip", None, ("",), "1.005", "1.030", 3, spread=0.2),
    ),
    Analyte(
        "ua_ph",
        ("pH", "Urine pH"),
        "ua",
        us=_m("5803-2", "pH of Urine by Test strip", None, ("",), "5.0", "8.0", 1, spread=0.3),
        si=_m("5803-2", "pH of Urine by Test strip", None, ("",), "5.0", "8.0", 1, spread=0.3),
    ),
    Analyte(
        "ua_protein",
        ("Protein", "Urine Protein"),
        "ua",
        qualitative=("Negative", "Trace", "1+", "2+"),
        normal_text="Negative",
    ),
    Analyte(
        "ua_glucose",
        ("Glucose", "Urine Glucose"),
        "ua",
        qualitative=("Negative", "Trace", "1+", "3+"),
        normal_text="Negative",
    ),
    Analyte(
        "ua_ketones",
        ("Ketones", "Ketone"),
        "ua",
        qualitative=("Negative", "Trace", "Small", "Moderate"),
        normal_text="Negative",
    ),
    Analyte(
        "ua_blood",
        ("Blood", "Occult Blood"),
        "ua",
        qualitative=("Negative", "Trace", "1+", "2+"),
        normal_text="Negative",
    ),
    Analyte("ua_nitrite", ("Nitrite",), "ua", qualitative=("Negative", "Positive"), normal_text="Negative"),
    Analyte(
        "ua_le",
        ("Leukocyte Esterase", "Leukocytes"),
        "ua",
        qualitative=("Negative", "Trace", "1+", "2+"),
        normal_text="Negative",
    ),
    # Serology and molecular tests (qualitative, only in reports that ask for them)
    Analyte(
        "hbsag",
        ("Hepatitis B Surface Antigen", "HBsAg"),
        "sero",
        qualitative=("Negative", "Positive"),
        normal_text="Negative",
    ),
    Analyte(
        "hcv",
        ("Hepatitis C Antibody", "HCV Ab"),
        "sero",
        qualitative=("Non-reactive", "Reactive"),
        normal_text="Non-reactive",
    ),
    Analyte(
        "hiv",
        ("HIV-1/2 Ag/Ab", "HIV Ag/Ab Combo"),
        "sero",
        qualitative=("Non-reactive", "Reactive"),
        normal_text="Non-reactive",
    ),
    Analyte(
        "rpr",
        ("RPR", "Rapid Plasma Reagin"),
        "sero",
        qualitative=("Non-reactive", "Reactive"),
        normal_text="Non-reactive",
    ),
    Analyte(
        "covid",
        ("SARS-CoV-2 RNA", "SARS-CoV-2 PCR"),
        "sero",
        qualitative=("Not detected", "Detected"),
        normal_text="Not detected",
    ),
)

# LOINC codes of the qualitative urinalysis results (all by test strip / visual inspection).
QUALITATIVE_LOINC = {
    "ua_color": ("5778-6", "Color of Urine"),
    "ua_clarity": ("5767-9", "Appearance of Urine"),
    "ua_protein": ("20454-5", "Protein [Presence] in Urine by Test strip"),
    "ua_glucose": ("25428-4", "Glucose [Presence] in Urine by Test strip"),
    "ua_ketones": ("2514-8", "Ketones [Presence] in Urine by Test strip"),
    "ua_blood": ("5794-3", "Hemoglobin [Presence] in Urine by Test strip"),
    "ua_nitrite": ("5802-4", "Nitrite [Presence] in Urine by Test strip"),
    "ua_le": ("5799-2", "Leukocyte esterase [Presence] in Urine by Test strip"),
    "hbsag": ("5196-1", "Hepatitis B virus surface Ag [Presence] in Serum by Immunoassay"),
    "hcv": ("16128-1", "Hepatitis C virus Ab [Presence] in Serum"),
    "hiv": ("56888-1", "HIV 1+2 Ab+HIV1 p24 Ag [Presence] in Serum or Plasma by Immunoassay"),
    "rpr": ("20507-0", "Reagin Ab [Presence] in Serum by RPR"),
    "covid": ("94500-6", "SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory specimen by NAA with probe detection"),
}

# Hospital systems print the full test name, often with its abbreviation: long enough to wrap in a narrow column.
LONG_NAMES = {
    "wbc": "White Blood Cell Count (WBC)", "rbc": "Red Blood Cell Count (RBC)", "hgb": "Hemoglobin (HGB)",
    "hct": "Hematocrit (HCT)", "mcv": "Mean Corpuscular Volume (MCV)", "mch": "Mean Corpuscular Hemoglobin (MCH)",
    "mchc": "Mean Corpuscular Hemoglobin Concentration (MCHC)", "rdw": "Red Cell Distribution Width (RDW-CV)",
    "plt": "Platelet Count (PLT)", "neut_abs": "Absolute Neutrophil Count (ANC)",
    "glucose": "Glucose, Serum", "bun": "Blood Urea Nitrogen (BUN)", "creat": "Creatinine, Serum",
    "egfr": "Estimated Glomerular Filtration Rate (CKD-EPI 2021)", "na": "Sodium, Serum", "k": "Potassium, Serum",
    "co2": "Carbon Dioxide, Total (Bicarbonate)", "ca": "Calcium, Total", "protein": "Protein, Total",
    "alb": "Albumin, Serum", "tbil": "Bilirubin, Total", "alp": "Alkaline Phosphatase (ALP)",
    "alt": "Alanine Aminotransferase (ALT/SGPT)", "ast": "Aspartate Aminotransferase (AST/SGOT)",
    "ggt": "Gamma-Glutamyl Transferase (GGT)", "chol": "Cholesterol, Total",
    "hdl": "High Density Lipoprotein Cholesterol (HDL-C)",
    "ldl": "Low Density Lipoprotein Cholesterol, Calculated (LDL-C)",
    "a1c": "Hemoglobin A1c (Glycated Hemoglobin)", "tsh": "Thyroid Stimulating Hormone (TSH)",
    "ft4": "Thyroxine, Free (Free T4)", "psa": "Prostate Specific Antigen (PSA), Total",
    "iron": "Iron, Total, Serum", "b12": "Vitamin B12 (Cobalamin)", "vitd": "Vitamin D, 25-Hydroxy, Total",
    "crp": "C-Reactive Protein, Quantitative", "urate": "Uric Acid, Serum", "pt": "Prothrombin Time (PT)",
    "inr": "International Normalized Ratio (INR)", "hbsag": "Hepatitis B Surface Antigen (HBsAg)",
    "hcv": "Hepatitis C Virus Antibody (Anti-HCV)", "hiv": "HIV-1/2 Antigen and Antibody Screen",
}

BY_PANEL: dict[str, tuple[Analyte, ...]] = {
    panel: tuple(a for a in ANALYTES if a.panel == panel) for panel in PANELS
}
