"""ingestion.terminology: the table itself, name+unit -> LOINC, panels, qualitative answers, search."""
import csv
import re

import pytest

from ingestion.terminology import (
    lab_tests,
    match_panel,
    match_test,
    normalize_answer,
    panels,
    search_tests,
    specimen_class,
)
from ingestion.terminology.catalogue import DATA_DIR
from resources.ucum import is_valid, normalize_unit


def test_table_is_large_valid_and_sourced():
    tests = lab_tests()
    assert len(tests) >= 300
    assert len({t.loinc for t in tests}) == len(tests)
    for t in tests:
        assert re.fullmatch(r"\d{1,6}-\d", t.loinc), t.loinc
        assert t.scale in ("Qn", "Ord", "Nom") and t.names and t.display and t.source.startswith("LOINC")
        assert all(is_valid(u) for u in t.units), t.loinc
        assert bool(t.units) == (t.scale == "Qn"), t.loinc


def test_loinc_check_digits_are_right():
    """LOINC's mod-10 check digit catches a mistyped code."""
    def check_digit(body: str) -> int:
        digits = [int(c) for c in body]
        total = 0
        for i, d in enumerate(reversed(digits)):
            if i % 2 == 0:
                d *= 2
                d = d // 10 + d % 10
            total += d
        return (10 - total % 10) % 10
    codes = {t.loinc for t in lab_tests()} | {p.loinc for p in panels()}
    codes |= {code for p in panels() for code in p.members}
    for code in codes:
        body, digit = code.split("-")
        assert check_digit(body) == int(digit), code


def test_panel_members_are_in_the_table():
    known = {t.loinc for t in lab_tests()}
    for panel in panels():
        assert panel.members <= known, (panel.loinc, panel.members - known)


def test_notice_carries_loinc_and_ucum_copyright():
    notice = (DATA_DIR / "NOTICE").read_text()
    assert "Regenstrief Institute" in notice and "http://loinc.org/license" in notice
    assert "UCUM" in notice and "unitsofmeasure.org" in notice
    with open(DATA_DIR / "lab_tests.csv", newline="") as f:
        assert "source" in next(csv.reader(f))


# Tests added to the table later, chosen the same way (the unit decides between variants).
ADDED_TESTS = [
    # one printed name, two LOINC terms: the printed unit decides (mass vs molar, activity vs mass, IU vs copies)
    ("Cortisol", "ug/dL", "2143-6"),
    ("Serum Cortisol", "nmol/L", "14675-3"),
    ("Lp(a)", "mg/dL", "10835-7"),
    ("Lipoprotein (a)", "nmol/L", "43583-4"),
    ("CK-MB", "ng/mL", "13969-1"),
    ("CK-MB", "U/L", "32673-6"),
    ("Prolactin", "ng/mL", "2842-3"),
    ("Prolactin", "mIU/L", "15081-3"),
    ("HBV DNA", "IU/mL", "42595-9"),
    ("HBV DNA", "copies/mL", "29615-2"),
    ("Vitamin B1", "ug/L", "2998-3"),
    ("Vitamin B1 (thiamine)", "nmol/L", "32554-8"),
    ("Ammonia", "ug/dL", "22763-7"),
    ("Ammonia", "umol/L", "16362-6"),
    ("Non-HDL Cholesterol", "mmol/L", "70204-3"),
    ("DHEA-S", "umol/L", "14688-6"),
    ("PTH", "pmol/L", "14866-8"),
    ("Progesterone", "nmol/L", "14890-8"),
    ("Insulin (fasting)", "pmol/L", "14796-7"),
    ("C-Peptide", "pmol/L", "14633-2"),
    ("Zinc", "umol/L", "14955-9"),
    ("Free Testosterone", "pmol/L", "14914-6"),
    ("AFP", "kIU/L", "19176-7"),
    # tests the table did not have
    ("AMH", "ng/mL", "38476-8"),
    ("Anti-Mullerian Hormone", "ng/mL", "38476-8"),
    ("Free Androgen Index", "%", "24125-7"),
    ("Rubella IgG", "IU/mL", "8014-3"),
    ("Toxoplasma IgG", "IU/mL", "8039-0"),
    ("CMV IgM", "Index", "7853-5"),
    ("VZV IgG", "mIU/mL", "8047-3"),
    ("HCV RNA", "IU/mL", "11011-4"),
    ("HIV-1 viral load", "copies/mL", "20447-9"),
    ("Factor VIII", "%", "3209-4"),
    ("Antithrombin III", "%", "27811-9"),
    ("Selenium", "umol/L", "25521-6"),
    ("Free Kappa Light Chains", "mg/L", "36916-5"),
    ("HbS", "%", "4625-0"),
    ("Urine Uric Acid", "umol/L", "14934-4"),
]


@pytest.mark.parametrize("name,unit,loinc", [
    ("Glucose", "mg/dL", "2345-7"), ("Glucose", "mmol/L", "14749-6"), ("GLU", "mg/dl", "2345-7"),
    ("Glucose, Fasting", "mg/dL", "1558-6"), ("FBS", "mmol/L", "14771-0"),
    ("Hemoglobin", "g/dL", "718-7"), ("Haemoglobin (Hb)", "g/L", "718-7"), ("HGB", "mmol/L", "59260-0"),
    ("WBC", "x10^3/uL", "6690-2"), ("White Blood Cells", "10^9/L", "6690-2"), ("Leukocytes", "K/uL", "6690-2"),
    ("Platelets", "lakhs/cumm", "777-3"), ("RBC", "M/uL", "789-8"),
    ("Neutrophils", "%", "770-8"), ("Neutrophils", "x10^3/uL", "751-8"), ("Lymph #", "K/uL", "731-0"),
    ("RDW-CV", "%", "788-0"), ("RDW", "fL", "21000-5"),
    ("ALT", "U/L", "1742-6"), ("SGPT", "IU/L", "1742-6"), ("Alanine Aminotransferase (ALT)", "U/L", "1742-6"),
    ("AST (SGOT)", "U/L", "1920-8"), ("HbA1c", "%", "4548-4"), ("Hemoglobin A1c", "mmol/mol", "59261-8"),
    ("Glycated haemoglobin", "%", "4548-4"), ("TSH", "uIU/mL", "3016-3"), ("TSH", "mIU/L", "3016-3"),
    ("eGFR", "mL/min/1.73m2", "98979-8"), ("Creatinine", "mg/dL", "2160-0"), ("Creatinine", "µmol/L", "14682-9"),
    ("S-Creatinine", "umol/L", "14682-9"), ("Serum Potassium", "mEq/L", "2823-3"), ("Na", "mmol/L", "2951-2"),
    ("Cholesterol, Total", "mg/dL", "2093-3"), ("Total Cholesterol", "mmol/L", "14647-2"),
    ("LDL Cholesterol", "mg/dL", "13457-7"), ("LDL (calculated)", "mmol/L", "39469-2"),
    ("LDL Direct", "mg/dL", "18262-6"), ("HDL-C", "mg/dL", "2085-9"), ("Triglycerides", "mg/dL", "2571-8"),
    ("PT", "sec", "5902-2"), ("INR", "INR", "6301-6"), ("aPTT", "seconds", "3173-2"),
    ("Ferritin", "ng/mL", "2276-4"), ("Vitamin B12", "pg/mL", "2132-9"), ("Troponin I", "ng/mL", "10839-9"),
    ("hs-Troponin T", "ng/L", "67151-1"), ("NT-proBNP", "pg/mL", "33762-6"), ("CRP", "mg/L", "1988-5"),
    ("ESR", "mm/hr", "30341-2"), ("Free T4", "ng/dL", "3024-7"), ("FT4", "pmol/L", "14920-3"),
    ("PSA", "ng/mL", "2857-1"), ("Bilirubin, Total", "mg/dL", "1975-2"), ("Bilirubin Direct", "umol/L", "14629-0"),
    ("Urine Sodium", "mmol/L", "2955-3"), ("WBC", "/hpf", "5821-4"), ("RBC", "/HPF", "13945-1"),
    ("Protein", "g/dL", "2885-2"), ("Microalbumin/Creatinine Ratio", "mg/g", "14959-1"),
] + ADDED_TESTS)
def test_name_and_unit_pick_the_loinc(name, unit, loinc):
    ucum_unit = normalize_unit(unit)
    assert ucum_unit is not None, unit
    match = match_test(name, ucum_unit)
    assert match is not None and match.loinc == loinc, (name, unit, match)



@pytest.mark.parametrize("name,unit,loinc", [  # French, Spanish, Italian, Portuguese report wording
    ("Glycémie", "g/L", "2345-7"), ("Glucosa", "mmol/L", "14749-6"), ("Glicemia a digiuno", "mg/dL", "1558-6"),
    ("Créatinine", "umol/L", "14682-9"), ("Sodio", "mmol/L", "2951-2"), ("Potássio", "mmol/L", "2823-3"),
    ("Plaquettes", "G/L", "777-3"), ("Leucocitos", "10*3/uL", "6690-2"), ("Hématies", "T/L", "789-8"),
    ("Hémoglobine", "g/dL", "718-7"), ("Cholestérol total", "g/L", "2093-3"), ("ASAT", "U/L", "1920-8"),
    ("Gamma-GT", "U/L", "2324-2"), ("Hémoglobine glyquée", "%", "4548-4"), ("VGM", "fL", "787-2"),
])
def test_report_wording_of_other_languages_picks_the_loinc(name, unit, loinc):
    match = match_test(name, normalize_unit(unit))
    assert match is not None and match.loinc == loinc, (name, unit, match)


@pytest.mark.parametrize("name,qualitative,loinc", [
    ("Rubella IgM", True, "31616-6"), ("CMV IgG", True, "22244-8"), ("RA Factor", True, "33910-1"),
    ("RA Factor", False, "11572-5"), ("Dengue NS1 Antigen", True, "75377-2"), ("Malaria Parasite", True, "51587-4"),
    ("Direct Coombs Test", True, "1007-4"), ("Anti-HBe", True, "22320-6"),
    ("H. pylori stool antigen", True, "17780-8"),
])
def test_added_serology_word_or_number_picks_presence_or_units(name, qualitative, loinc):
    """A printed word (Reactive, Negative) is the [Presence] term; a number the [Units/volume] one."""
    match = match_test(name, None, qualitative=qualitative)
    assert match is not None and match.loinc == loinc, (name, match)


@pytest.mark.parametrize("name,unit", [("AMH", "pmol/L"), ("CK-MB index", "ng/mL")])
def test_added_tests_refuse_a_unit_they_are_not_reported_in(name, unit):
    assert match_test(name, normalize_unit(unit)) is None


@pytest.mark.parametrize("name,unit,loinc", [
    ("Creatinlne", "mg/dL", "2160-0"), ("HbAlc", "%", "4548-4"), ("Hemog1obin", "g/dL", "718-7"),
    ("Potasium", "mmol/L", "2823-3"), ("Cho1esterol", "mg/dL", "2093-3"), ("Triglycerldes", "mg/dL", "2571-8"),
    ("PLATELET COUNT", "10*3/uL", "777-3"), ("Bilirubin-Total", "mg/dL", "1975-2"),
])
def test_ocr_garbled_names_still_match(name, unit, loinc):
    match = match_test(name, unit)
    assert match is not None and match.loinc == loinc
    assert match.score < 1.0 or match.kind in ("exact", "synonym")


@pytest.mark.parametrize("name,unit", [
    ("Frobnicase", "U/L"),  # unknown test
    ("Zonulin", "ng/mL"),
    ("Glucose", "10*3/uL"),  # unit contradicts the name
    ("ALT", "mg/dL"),
    ("AXT", "U/L"),  # short abbreviations are never fuzzy-matched ("ALT"/"AST" are one letter apart)
    ("", "mg/dL"),
    ("25-OH Vitamin D", "nmol/L"),  # no molar variant in the table: no code rather than the mass one
])
def test_unknown_or_contradicted_is_none(name, unit):
    assert match_test(name, unit) is None


@pytest.mark.parametrize("name,unit,loinc", [
    ("Estimated GFR (CKD-EPI 2021)", "mL/min/{1.73_m2}", "98979-8"), ("Creatinine (Jaffe)", "mg/dL", "2160-0"),
    ("Glucose GOD-POD", "mg/dL", "2345-7"), ("Albumin (BCG)", "g/dL", "1751-7"), ("Urea (Urease)", "mmol/L", "22664-7"),
    ("Cholesterol - Enzymatic", "mg/dL", "2093-3"), ("Glucose (2 hr post 75 g)", "mg/dL", "1518-0"),
    ("ESR (Westergren)", "mm/h", "4537-7"), ("Sodium (ISE)", "mmol/L", "2951-2"),
])
def test_method_and_qualifier_words_after_the_name(name, unit, loinc):
    match = match_test(name, unit)
    assert match is not None and match.loinc == loinc


@pytest.mark.parametrize(
    "name,unit,loinc",
    [
        ("HDL Cholesterol - Direct", "mg/dL", "2085-9"),
        ("HDL (Direct)", "mmol/L", "14646-4"),
        ("1. Glucose", "mg/dL", "2345-7"),
        ("• Hemoglobin", "g/dL", "718-7"),
        ("Serum Creatinine Level", "mg/dL", "2160-0"),
        ("Total Leucocyte Count (TLC)", "/uL", "6690-2"),
        ("BUN", "mmol/L", "14937-7"),
        ("Glucose 2hr PP", "mg/dL", "1521-4"),
    ],
)
def test_decorated_names(name, unit, loinc):
    match = match_test(name, unit)
    assert match is not None and match.loinc == loinc


@pytest.mark.parametrize("name,unit", [("HDL Cholesterol Direkt", "mg/dL"), ("Free T5", "ng/dL"), ("IgX", "mg/dL")])
def test_typos_never_cross_short_distinguishing_words(name, unit):
    """'HDL' is one letter from 'LDL': a typo budget spent there would swap two different tests."""
    match = match_test(name, unit)
    assert match is None or match.loinc not in ("18262-6", "13457-7", "3024-7", "3051-0", "2465-3", "2458-8", "2472-9")


@pytest.mark.parametrize("name,unit,loinc", [
    ("UREA NITROGEN (BUN)", "mg/dL", "3094-0"), ("EGFR NON-AFR. AMERICAN", "mL/min/{1.73_m2}", "48642-3"),
    ("Lymphs (Absolute)", "10*3/uL", "731-0"), ("Eos (Absolute)", "10*3/uL", "711-2"),
    ("Baso (Absolute)", "10*3/uL", "704-7"), ("Immature Grans (Abs)", "10*3/uL", "51584-1"),
    ("Estim. Avg Glu (eAG)", "mg/dL", "27353-2"), ("TSH W/REFLEX TO FT4", "m[IU]/L", "3016-3"),
    ("VITAMIN D,25-OH,TOTAL,IA", "ng/mL", "62292-8"), ("VLDL Cholesterol Cal", "mg/dL", "13458-5"),
    ("LDL Chol Calc (NIH)", "mg/dL", "13457-7"), ("T4,Free(Direct)", "ng/dL", "3024-7"),
    ("Prostate Specific Ag", "ng/mL", "2857-1"), ("eAG (mg/dL)", "mg/dL", "27353-2"),
    ("TSH, 3RD GENERATION", "m[IU]/L", "3016-3"), ("PHOSPHATE (AS PHOSPHORUS)", "mg/dL", "2777-1"),
    ("HCV Ab", None, "16128-1"), ("Sodium, Urine", "mmol/L", "2955-3"), ("Absolute Lymphs", "10*3/uL", "731-0"),
    ("Lymphs (Absolute)", None, "731-0"), ("Neutrophils %", None, "770-8"),
])
def test_commercial_lab_wordings(name, unit, loinc):
    """How large US reference labs print names: brackets, commas, method and reflex suffixes."""
    match = match_test(name, unit)
    assert match is not None and match.loinc == loinc


def test_qualifier_that_names_another_test_is_not_dropped():
    assert match_test("Glucose (Zonulin)", "mg/dL") is None


def test_specimen_and_qualitative_choose_the_variant():
    assert match_test("Glucose", None, specimen="Urinalysis").loinc == "25428-4"
    assert match_test("Glucose", "mg/dL", specimen="URINE ROUTINE").loinc == "5792-7"
    assert match_test("Protein", None, qualitative=True).loinc == "20454-5"
    assert match_test("Leukocytes", None, specimen="urine").loinc == "5799-2"
    assert match_test("pH", None).loinc == "5803-2"
    assert match_test("pH", None, specimen="Arterial blood").loinc == "2744-1"
    assert match_test("pCO2", "mm[Hg]", specimen="venous blood").loinc == "2021-4"
    assert match_test("Sodium", "mmol/L", specimen="CSF") is None


def test_missing_unit_on_mass_or_molar_test_is_low_confidence():
    match = match_test("Hemoglobin", None, qualitative=False)
    assert match.loinc == "718-7" and match.kind == "name-only" and match.score < 0.7


def test_specimen_class_reads_free_text():
    assert specimen_class("EDTA Whole Blood") == "blood"
    assert specimen_class("Urine Routine Examination") == "urine"
    assert specimen_class("Serum") == "serum"
    assert specimen_class("Department of Biochemistry") is None


@pytest.mark.parametrize("heading,loinc", [
    ("COMPLETE BLOOD COUNT (CBC)", "58410-2"), ("Lipid Profile", "24331-1"), ("LIVER FUNCTION TEST", "24325-3"),
    ("Basic Metabolic Panel", "24321-2"), ("Comprehensive Metabolic Panel (CMP)", "24323-8"),
    ("Thyroid Function Tests", "24348-5"), ("Urine Routine Examination", "24356-8"), ("Iron Studies", "50190-8"),
    ("Kidney Function Test - Serum", "24362-6"),
])
def test_panel_from_heading(heading, loinc):
    assert match_panel(heading).loinc == loinc


def test_panel_from_results():
    cbc = ["6690-2", "789-8", "718-7", "4544-3", "787-2", "785-6", "786-4", "788-0", "777-3"]
    assert match_panel(cbc).loinc == "58410-2"
    diff = cbc + ["770-8", "736-9", "5905-5", "713-8", "706-2", "751-8", "731-0"]
    assert match_panel(diff).loinc == "57021-8"
    assert match_panel(["2093-3", "2085-9", "2571-8", "13457-7", None]).loinc == "24331-1"
    assert match_panel(["14647-2", "14646-4", "14927-8", "39469-2"]).loinc == "24331-1"
    bmp = ["2951-2", "2823-3", "2075-0", "2028-9", "3094-0", "2160-0", "2345-7", "17861-6"]
    assert match_panel(bmp).loinc == "24321-2"
    assert match_panel(bmp + ["2885-2", "1751-7", "1975-2", "6768-6", "1742-6", "1920-8"]).loinc == "24323-8"
    assert match_panel(["2951-2", "2823-3", "2075-0", "2028-9"]).loinc == "24326-1"
    assert match_panel(cbc + ["4548-4"]) is None  # two panels' worth: no single panel code
    assert match_panel(["2093-3"]) is None  # one test is not a panel
    assert match_panel("Department of Pathology") is None


@pytest.mark.parametrize("printed,code", [
    ("NEGATIVE", "260385009"), ("Neg", "260385009"), ("Nil", "260385009"), ("Positive", "10828004"),
    ("+ve", "10828004"), ("Trace", "260405006"), ("1+", "260347006"), ("++", "260348001"), ("3+", "260349009"),
    ("Non-Reactive", "131194007"), ("Reactive", "11214006"), ("Not Detected", "260415000"),
    ("Negative (<10 mg/dL)", "260385009"), ("O Positive", "278147001"), ("B Rh(D) Negative", "278153001"),
])
def test_qualitative_answers_are_coded(printed, code):
    answer = normalize_answer(printed)
    assert answer is not None and answer.code == code and answer.system == "http://snomed.info/sct"


@pytest.mark.parametrize("printed", ["Yellowish", "Clear", "", "See comment", "12.5"])
def test_uncoded_answers_stay_text(printed):
    assert normalize_answer(printed) is None


def test_search_box():
    by_name = search_tests("hemoglobin", limit=5)
    assert by_name[0].loinc in ("718-7", "59260-0") and len(by_name) == 5
    assert search_tests("2345-7")[0].loinc == "2345-7"
    assert [m.loinc for m in search_tests("alt")][:1] == ["1742-6"]
    assert all("glucose" in m.display.lower() for m in search_tests("glucose", limit=8))
    assert search_tests("") == [] and search_tests("zzzzqqq") == []
