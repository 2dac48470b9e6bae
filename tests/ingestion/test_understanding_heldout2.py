"""What the second held-out layouts taught (docs/digitize-accuracy.md, "Second held-out check"): the
unit printed inside the result cell, ranges in brackets or parentheses or in words ("3.5 to 5.1",
"Up to 200", "≥ 60", "≤ 5.0"), "*" and "!" marking an abnormal result without a direction, a LOINC
and a previous-result column beside the current result, header fields in a box or under the table,
the specimen printed on a panel's title row. Generated text-layer PDFs through the real reader."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from evaluation.corpus.layouts import HELD_OUT_LAYOUTS_2, LAYOUTS
from evaluation.corpus.render import render_pdf
from evaluation.lab import header_values, pair_rows, row_differences
from ingestion.reader import read_document
from ingestion.understanding import understand
from ingestion.understanding.values import NumberStyle, parse_range, parse_value


def read(layout_name: str, seed: int = 1):
    layout = LAYOUTS[layout_name]
    truth = layout.report(seed)
    return truth, understand(read_document(render_pdf(truth, layout)))


@pytest.mark.parametrize("name, seed", [(n, s) for n in HELD_OUT_LAYOUTS_2 for s in (1, 2, 3)])
def test_second_held_out_layouts_read_exactly(name, seed):
    truth, got = read(name, seed)
    pairs, invented = pair_rows(truth.rows, got.rows)
    assert {t.printed_name: row_differences(t, g) if g else ["missing"] for t, g in pairs
            if g is None or row_differences(t, g)} == {}
    assert invented == []
    assert header_values(got) == header_values(truth)


def test_unit_printed_inside_the_result_cell():
    truth, got = read("unit-in-value")
    assert "unit" not in {c.kind for c in LAYOUTS["unit-in-value"].columns}
    for t, g in pair_rows(truth.rows, got.rows)[0]:
        if t.value is not None:  # "74 mg/dl": the number is the value, the rest the printed unit
            assert (g.value, g.printed_unit, g.unit) == (t.value, t.printed_unit, t.unit)
            assert g.printed_value.endswith(t.printed_unit)


@pytest.mark.parametrize("text, low, high", [
    ("[3.5-5.1]", "3.5", "5.1"), ("(3.5 - 5.1)", "3.5", "5.1"), ("[<200]", None, "200"), ("(> 60)", "60", None),
    ("[>=60]", "60", None), ("3.5 to 5.1", "3.5", "5.1"), ("Up to 200", None, "200"), ("≤ 5.0", None, "5.0"),
    ("≥ 60", "60", None), ("(3,5 - 5,1)", "3.5", "5.1"),
])
def test_bracketed_and_worded_ranges(text, low, high):
    style = NumberStyle(decimal_comma="," in text)
    rr = parse_range(text, style)
    assert (rr.low, rr.high) == (low and Decimal(low), high and Decimal(high))
    assert rr.text == text  # the printed wording is kept


def test_bracketed_and_worded_ranges_on_the_page():
    for name in ("cumulative-codes", "star-parens", "unit-in-value", "specimen-panels"):
        truth, got = read(name, 2)
        for t, g in pair_rows(truth.rows, got.rows)[0]:
            rr = t.reference_range
            if rr is not None and (rr.low is not None or rr.high is not None):
                assert (g.reference_range.low, g.reference_range.high) == (t.reference_range.low,
                                                                          t.reference_range.high), name


def test_star_and_bang_markers_mean_abnormal_without_a_direction():
    assert parse_value("363 *", NumberStyle()).flag == "A"
    assert parse_value("0.4*", NumberStyle()).number == Decimal("0.4")
    assert parse_value("! 212", NumberStyle()).flag == "A"
    assert parse_value("14.2 H*", NumberStyle()).flag == "H"  # a direction printed with the mark is kept
    for name in ("star-parens", "specimen-panels"):  # "*" after the value; "!" in an untitled column
        flagged = 0
        for seed in (1, 2):
            truth, got = read(name, seed)
            assert [r.flag for r in got.rows] == [r.flag for r in truth.rows]
            assert {r.flag for r in got.rows} <= {None, "A"}  # never H or L: the page does not say which way
            assert not any(r.flag_disagrees for r in got.rows)
            flagged += sum(r.flag == "A" for r in got.rows)
        assert flagged >= 3


def test_previous_result_and_loinc_columns_are_not_the_result():
    truth, got = read("cumulative-codes", 2)
    pairs, invented = pair_rows(truth.rows, got.rows)
    assert invented == []
    for t, g in pairs:
        assert g.printed_value == (f"{t.comparator or ''}{t.value}" if t.value is not None else t.value_text)
        assert "(" not in g.printed_value and g.value == t.value  # the older value and its date are ignored
        assert t.loinc not in g.printed_name  # the printed code is not part of the name
    assert got.collected == truth.collected  # the previous results' dates are not the collection date


def test_specimen_on_a_panel_title_row_is_not_a_result():
    names = set()
    for seed in (1, 2, 3):
        truth, got = read("specimen-panels", seed)
        names |= {r.printed_name for r in got.rows}
        assert len(got.rows) == len(truth.rows)
        assert not any(r.value_text in ("Serum", "Urine", "Whole blood (EDTA)", "Citrated plasma") for r in got.rows)
        assert all(r.specimen == "urine" for r in got.rows if t_is_urine(truth, r))
    assert not names & {"LIPID PANEL", "URINALYSIS", "URINE EXAMINATION", "Urinalysis, Routine", "Lipid Profile"}
    assert parse_value("Serum", NumberStyle(), qualitative_any=True) is None
    assert parse_value("Whole blood", NumberStyle(), qualitative_any=True) is None
    assert parse_value("Yellow", NumberStyle(), qualitative_any=True).text == "Yellow"  # a result stays one


def t_is_urine(truth, row) -> bool:
    return any(t.printed_name == row.printed_name and t.specimen == "urine" for t in truth.rows)


def test_header_in_a_box_and_under_the_table():
    for name in ("unit-in-value", "star-parens"):  # "Legal Sex", "Authorizing Provider"; "Report authorised"
        truth, got = read(name, 1)
        assert header_values(got) == header_values(truth)
        assert got.patient.sex == truth.patient.sex and got.reported == truth.reported


def read_variant(layout, seed: int = 1):
    truth = layout.report(seed)
    got = understand(read_document(render_pdf(truth, layout)))
    pairs, invented = pair_rows(truth.rows, got.rows)
    return truth, got, {t.printed_name: row_differences(t, g) if g else ["missing"] for t, g in pairs
                        if g is None or row_differences(t, g)}, invented


@pytest.mark.parametrize("template, style", [("{v} {f}", "marker"), ("{v}{f}", "marker"), ("{f} {v}", "marker"),
                                             ("{v} {f}", "letter")])
def test_a_flag_printed_around_the_value_and_its_unit(template, style):
    """"115 mg/dL *", "115 mg/dL*", "* 115 mg/dL", "115 mg/dL H": value, unit and flag all read."""
    base = LAYOUTS["unit-in-value"]
    layout = replace(base, name="unit-and-flag-in-value", columns=base.columns[:3], flag_style=style,
                     value_flag=template)
    for seed in (1, 2):
        truth, got, wrong, invented = read_variant(layout, seed)
        assert wrong == {} and invented == []
        assert any(r.flag for r in got.rows)


@pytest.mark.parametrize("header_style", ["stacked", "grid", "inline"])
def test_header_fields_printed_under_the_table_are_not_results(header_style):
    layout = replace(LAYOUTS["specimen-panels"], name="fields-under-table", header_below=True,
                     header_style=header_style)
    truth, got, wrong, invented = read_variant(layout)
    assert wrong == {} and invented == []
    assert header_values(got) == header_values(truth)
