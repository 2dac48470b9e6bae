"""Generality: layouts generated at random (column order, titles, flag forms, header blocks, fonts,
number and date styles, with or without column titles) are understood as well as the named ones."""
from __future__ import annotations

import pytest

from evaluation.corpus.layouts import random_hospital_layout, random_layout
from evaluation.corpus.render import render_pdf
from evaluation.lab import header_values, pair_rows, row_differences
from ingestion.reader import read_document
from ingestion.understanding import understand


@pytest.mark.parametrize(
    "generate, seed", [(random_layout, s) for s in range(1, 13)] + [(random_hospital_layout, s) for s in range(1, 11)]
)  # hospital habits: wrapped names, two-line titles
def test_random_layout_text_pdf_exact(generate, seed):
    layout = generate(seed)
    truth = layout.report(seed)
    got = understand(read_document(render_pdf(truth, layout)))
    pairs, invented = pair_rows(truth.rows, got.rows)
    assert {t.printed_name: row_differences(t, g) if g else ["missing"] for t, g in pairs
            if g is None or row_differences(t, g)} == {}
    assert invented == []
    assert header_values(got) == header_values(truth)


@pytest.mark.parametrize("report_seed", [1, 2, 3])
def test_a_headerless_table_under_a_stacked_patient_block(report_seed):
    # random-2: no column titles, the range before the result, and a patient block of labels over values
    # ("NAME  DATE OF BIRTH  GENDER  PATIENT ID" / "Fatima A Williams  05/20/1974  F  2808438"). The values
    # line looked like a result ("F" is a UCUM unit) and its columns replaced the table's: 0 of 18 rows.
    layout = random_layout(2)
    assert not layout.table_header and layout.header_style == "stacked"
    truth = layout.report(report_seed)
    got = understand(read_document(render_pdf(truth, layout)))
    pairs, invented = pair_rows(truth.rows, got.rows)
    assert [t.printed_name for t, g in pairs if g is None or row_differences(t, g)] == []
    assert invented == []


@pytest.mark.parametrize("layout_seed", [12, 14, 26])
def test_a_long_name_run_into_the_next_column_gives_its_unit_or_flag_back(layout_seed):
    # "Prostate Specific Antigen (PSA), Total ng/ml", "Carbon Dioxide, Total (Bicarbonate) H": the name
    # reaches the Units (Flag) column, which starts right after it, and the two were one cell.
    layout = random_hospital_layout(layout_seed)
    truth = layout.report(1)
    got = understand(read_document(render_pdf(truth, layout)))
    pairs, invented = pair_rows(truth.rows, got.rows)
    assert {t.printed_name: row_differences(t, g) if g else ["missing"] for t, g in pairs
            if g is None or row_differences(t, g)} == {}
    assert invented == []
