"""Understanding the page: a `Document` (positioned words) becomes a `LabReport` (typed results).

The stages read top to bottom:
  geometry  words -> visual rows -> cells                         (geometry.py)
  style     decimal comma or point, day-first dates, per document (values.py, dates.py)
  tables    header row (one or two lines) -> columns -> raw rows,  (table.py)
            panels, comments, names wrapped over lines              (wrapping.py)
  header    patient, dates, clinician, lab from the other lines    (header.py)
  rows      raw rows -> LabRow: value, unit, range, flag, LOINC     (rows.py)
Nothing here knows a particular report layout; every threshold is relative to the text size.
"""
from __future__ import annotations

from ingestion.document import Document
from ingestion.labreport import LabReport
from ingestion.understanding.dates import date_order as read_date_order
from ingestion.understanding.freetext import read_free_lines
from ingestion.understanding.geometry import document_rows
from ingestion.understanding.groups import separate_tables
from ingestion.understanding.header import read_header
from ingestion.understanding.plausibility import check_rows
from ingestion.understanding.rows import RowContext, build_row, mark_urine_sections, name_readings
from ingestion.understanding.table import read_tables
from ingestion.understanding.values import number_style
from resources.ucum import normalize_unit

__all__ = ["understand"]

_MISSING = object()


def understand(document: Document, *, match_test=_MISSING, lookup_loinc=_MISSING,
               date_order: str | None = None) -> LabReport:
    """Read header fields and result rows off a lab report document.

    `match_test(printed_name, ucum_unit, *, specimen=None)` chooses the LOINC code and
    `lookup_loinc(code)` gives its term (property, units) for the plausibility checks; both default to
    the project's terminology (`ingestion.terminology`). `date_order` (DMY, MDY, YMD) says how the
    report writes dates; without it the page's evidence decides, and a date it leaves ambiguous is warned of.
    """
    if match_test is _MISSING:
        match_test = _default_matcher()
    if lookup_loinc is _MISSING:
        lookup_loinc = _default_lookup()
    rows = document_rows(document)
    words = [t.text for r in rows for t in r.tokens]
    style = number_style(words)
    order = read_date_order([r.text for r in rows], style.decimal_comma, date_order)
    rows = separate_tables(rows, day_first=order.day_first)  # side-by-side groups, dated columns: one table each
    known = _known_name(match_test)
    tables = read_tables(rows, style, normalize_unit, known_name=known)
    # lines that gave no table result (a table reader's heading or noise may be a result line)
    taken = {id(t) for raw in tables.rows for t in raw.tokens}
    free, free_used = read_free_lines([r for r in rows if not any(id(t) in taken for t in r.tokens)], style,
                                      normalize_unit, known)
    tables.rows += free  # one line per test, key: value, blocks
    tables.used |= free_used
    # Header fields count only on pages that have results: a cover letter or a recipe page names nobody.
    result_pages = {raw.page for raw in tables.rows}
    report = read_header([r for r in rows if id(r) not in tables.used and r.page in result_pages],
                         day_first=order.day_first, order=order)
    ctx = RowContext(style=style, sex=report.patient.sex, unit_of=normalize_unit, match_test=match_test)
    report.rows = [build_row(raw, ctx) for raw in tables.rows]
    mark_urine_sections(report.rows, ctx)
    for row in report.rows:  # the newest column of a cumulative report is the report's own collection
        if row.effective and report.collected and report.collected.startswith(row.effective):
            row.effective = None
    check_rows(report.rows, lookup_loinc)  # before a number is trusted: unit, limits, scale, merged cells
    if match_test is None:
        report.warnings.append("terminology unavailable: no LOINC codes assigned")
    if not report.rows:
        report.warnings.append("no results table found")
    for row in report.rows:
        if row.flag_disagrees:
            report.warnings.append(f"{row.printed_name}: printed flag {row.flag} disagrees with value and range")
        if row.absent_reason:
            report.warnings.append(f"{row.printed_name}: value not readable ({row.printed_value or 'empty'})")
    return report


def _known_name(match_test):
    """Whether the terminology knows a printed name (any reading of it) surely, whatever the unit: a name
    it finds only inside longer text ("ANC" in "ANC Comprehensive Metabolic Panel") does not count."""
    if match_test is None:
        return None
    cache: dict[str, bool] = {}

    def known(name: str) -> bool:
        name = " ".join(name.split()).strip(" .:")
        if name not in cache:
            cache[name] = any(_sure(match_test(n, None)) for n in name_readings(name))
        return cache[name]
    return known


def _sure(match) -> bool:
    if match is None:
        return False
    score = getattr(match, "score", 1.0)
    if getattr(match, "kind", "") == "name-only":  # unsure of the unit variant, not of the name
        score /= 0.6
    return score >= 0.9


def _default_lookup():
    try:
        from ingestion.terminology import lookup_loinc
    except ImportError:  # no terminology: the checks that need the LOINC term are skipped
        return None
    return lookup_loinc


def _default_matcher():
    try:
        from ingestion.terminology import match_test
    except ImportError:  # the terminology package is optional at this layer: rows stay uncoded
        return None
    return match_test
