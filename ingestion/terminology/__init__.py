"""Lab terminology: printed test names -> LOINC, panels, and coded qualitative answers.

Data (with sources and copyright notices) lives beside this module: lab_tests.csv, panels.csv,
answers.csv, NOTICE. Everything is loaded once and indexed on first use (`warm_up()` to do it now).

    match_test("Glucose", "mmol/L")            -> TestMatch(loinc="14749-6", ...)
    match_panel("Lipid Profile")               -> Panel(loinc="24331-1", ...)
    match_panel({"2093-3", "2085-9", ...})     -> Panel(...)
    search_tests("hemo")                       -> [TestMatch, ...]
    normalize_answer("NEGATIVE")               -> Answer(system=SNOMED, code="260385009", ...)
"""
from .answers import normalize_answer
from .catalogue import LOINC_SYSTEM, Answer, LabTest, Panel, lab_tests, panels
from .matching import TestMatch, lookup_loinc, match_test, search_tests, unit_fit, warm_up
from .names import specimen_class
from .panel_matching import match_panel

REPORT_LOINC = "11502-2"  # Laboratory report
REPORT_DISPLAY = "Laboratory report"

__all__ = [
    "LOINC_SYSTEM", "REPORT_LOINC", "REPORT_DISPLAY", "Answer", "LabTest", "Panel", "TestMatch",
    "lab_tests", "panels", "lookup_loinc", "match_test", "match_panel", "search_tests", "normalize_answer",
    "specimen_class", "unit_fit", "warm_up",
]
