"""A results table printed without column titles whose result cells carry their unit ("6,0 x10^9/L",
"74 mg/dL", "5.4 mmol/L H"): column inference must read such cells as results, not as text, and
never take the patient fields above the table ("MRN  9535801  Order Number  25-681511") for a row
of the table. The layouts are built here from the corpus's own (no new named layout); generated
text-layer PDFs through the real reader."""
from __future__ import annotations

from dataclasses import replace

import pytest

from evaluation.corpus.layouts import LAYOUTS, C, random_hospital_layout, random_layout
from evaluation.corpus.render import render_pdf
from evaluation.lab import pair_rows, row_differences
from ingestion.reader import read_document
from ingestion.understanding import understand
from ingestion.understanding.table import cell_type
from ingestion.understanding.values import NumberStyle, split_unit
from resources.ucum import normalize_unit

BASE = LAYOUTS["no-table-header"]
THREE = (C("name", "", .40), C("value", "", .26), C("range", "", .34))
HEADERLESS_UNIT_IN_VALUE = {
    # the patient-portal layout with its titles taken away: word ranges, flags as words in their own column
    "portal": replace(LAYOUTS["unit-in-value"], table_header=False),
    "paren-flags": replace(BASE, unit_in_value=True, columns=THREE),  # "14.2 g/dL (H)"
    "comma-letters": replace(BASE, unit_in_value=True, columns=THREE, value_flag="{v} {f}", decimal_comma=True,
                             units="SI", font="DejaVuSans", range_dash=" - "),  # "6,0 x10^9/L H"
    "star-times": replace(BASE, unit_in_value=True, columns=THREE, value_flag="{v} {f}", flag_style="marker",
                          marker="*", font="Times-Roman", font_size=10, range_style="parens"),  # "5.4 mmol/L *"
    "courier-flag-column": replace(BASE, unit_in_value=True, value_flag=None, font="Courier", font_size=8.5,
                                   qualitative=True, columns=(C("name", "", .36), C("value", "", .24),
                                                              C("flag", "", .08), C("range", "", .32))),
    # a narrow result column beside parenthesised ranges, urinalysis (pH, specific gravity: no unit)
    "narrow-urinalysis": replace(BASE, unit_in_value=True, qualitative=True, value_flag="{v} {f}",
                                 range_style="parens", font="DejaVuSans", font_size=9,
                                 columns=(C("name", "", .46), C("value", "", .12), C("range", "", .42))),
}
SEEDS = range(1, 6)


def read(layout, seed):
    truth = layout.report(seed)
    return truth, understand(read_document(render_pdf(truth, layout)))


def headerless(layout):
    """Any corpus layout with its column titles taken away and its units moved into the result cell."""
    return replace(layout, table_header=False, unit_in_value=True,
                   columns=tuple(c for c in layout.columns if c.kind != "unit"))


@pytest.mark.parametrize("name", HEADERLESS_UNIT_IN_VALUE)
def test_every_row_is_read_exactly_and_none_invented(name):
    layout = HEADERLESS_UNIT_IN_VALUE[name]
    assert not layout.table_header and layout.unit_in_value and not any(c.kind == "unit" for c in layout.columns)
    for seed in SEEDS:
        truth, got = read(layout, seed)
        pairs, invented = pair_rows(truth.rows, got.rows)
        assert invented == [], (seed, [r.printed_name for r in invented])
        wrong = [(t.printed_name, row_differences(t, g) if g else "missing") for t, g in pairs
                 if g is None or row_differences(t, g)]
        assert wrong == [], (seed, wrong)


def test_flags_printed_in_the_value_cell_are_read_and_none_added():
    truth, got = read(HEADERLESS_UNIT_IN_VALUE["comma-letters"], 1)
    assert [r.flag for r in got.rows] == [r.flag for r in truth.rows]
    assert {"H", "L"} <= {r.flag for r in got.rows}
    assert any(r.value != r.value.to_integral_value() for r in got.rows if r.value is not None)  # "4,98" -> 4.98
    assert all(r.printed_unit for r in got.rows if r.unit)  # every unit is one the page printed


def test_unitless_results_stay_in_the_result_and_their_range_in_the_range():
    layout = HEADERLESS_UNIT_IN_VALUE["narrow-urinalysis"]
    seen = set()
    for seed in SEEDS:
        truth, got = read(layout, seed)
        expected = {t.printed_name: t for t in truth.rows}
        for row in got.rows:
            if row.unit is None and row.value is not None:  # pH, specific gravity, INR
                seen.add(row.printed_name)
                assert row.value == expected[row.printed_name].value
                assert row.reference_range.low == expected[row.printed_name].reference_range.low
                assert row.reference_range.high == expected[row.printed_name].reference_range.high
    assert any("pH" in n for n in seen) and any("Gravity" in n for n in seen)


@pytest.mark.parametrize("text, decimal_comma", [("74 mg/dL", False), ("6,0 x10^9/L", True),
                                                 ("5.4 mmol/L H", False), ("14.2 g/dL (H)", False),
                                                 ("115 mg/dL *", False), ("7.8", False), ("Negative", False)])
def test_a_result_with_its_unit_is_typed_as_a_value(text, decimal_comma):
    assert cell_type(text, NumberStyle(decimal_comma=decimal_comma), normalize_unit) == "value"


@pytest.mark.parametrize("text", ["25-681511", "(5.0-8.0)", "3.5 to 5.1"])
def test_ranges_and_identifiers_are_not_values(text):
    assert cell_type(text, NumberStyle(), normalize_unit) == "range"


def test_a_number_beside_a_word_that_is_no_unit_is_not_a_value():
    assert cell_type("Suite 100", NumberStyle(), normalize_unit) == "text"
    assert cell_type("25 Main Street", NumberStyle(), normalize_unit) == "text"


@pytest.mark.parametrize("layout", [random_layout(3), random_layout(4), random_hospital_layout(6),
                                    random_hospital_layout(7)], ids=lambda layout: layout.name)
def test_ranges_before_results_a_status_column_and_names_run_into_the_next_cell(layout):
    """random-3/4: the range printed before the result, flags as "*LOW" / "*↑"; random-hospital-6/7: a
    Status column ("Final") after the result, which is no part of the name, and a long name run into
    the range beside it ("Gamma-Glutamyl Transferase (GGT) 8-61"), which must not swallow that column."""
    layout = headerless(layout)
    truth, got = read(layout, 1)
    pairs, invented = pair_rows(truth.rows, got.rows)
    wrong = [(t.printed_name, row_differences(t, g) if g else "missing") for t, g in pairs
             if g is None or row_differences(t, g)]
    # random-hospital-7 wraps MCHC's name over the top of page 2, where no row is read yet: that one
    # row is still missed (docs/digitize-accuracy.md)
    allowed = 1 if layout.name == "random-hospital-7" else 0
    assert len(wrong) <= allowed and len(invented) <= allowed, (wrong, [r.printed_name for r in invented])
    assert not any("Final" in r.printed_name for r in got.rows)


@pytest.mark.parametrize("text, number, unit, flag", [
    ("5.9 g/dl *LOW", "5.9", "g/dl", "L"), ("102.5 fL *↑", "102.5", "fL", "H"),
    ("1.4 10^3/µL (CRIT LOW)", "1.4", "10^3/µL", "LL"), ("115 mg/dL *", "115", "mg/dL", "A"),
    ("74 mg/dL", "74", "mg/dL", None)])
def test_a_flag_printed_after_a_value_and_its_unit_is_read(text, number, unit, flag):
    value, printed_unit = split_unit(text, NumberStyle(), normalize_unit)
    assert (str(value.number), printed_unit, value.flag) == (number, unit, flag)
