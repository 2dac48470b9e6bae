"""The evaluation corpus: deterministic, realistic, consistent ground truth in visually distinct layouts."""
from __future__ import annotations

import json

from evaluation.corpus import LAYOUTS, build_corpus, render_page_images, render_pdf, sample_report
from evaluation.corpus.reports import range_text
from evaluation.corpus.textlayer import text_layer_document
from ingestion.understanding.values import expected_flag


def test_reports_are_deterministic_and_differ_by_seed():
    assert sample_report(7).to_json() == sample_report(7).to_json()
    assert sample_report(7).to_json() != sample_report(8).to_json()
    assert render_pdf(sample_report(3), LAYOUTS["classic"]) == render_pdf(sample_report(3), LAYOUTS["classic"])


def test_flags_are_consistent_with_values_and_ranges():
    seen = set()
    for seed in range(40):
        for row in sample_report(seed, units="SI" if seed % 2 else "US", pages=1 + seed % 2, qualitative=True).rows:
            if row.value is None:
                assert row.value_text and row.flag is None
                continue
            expected = expected_flag(row.value, row.comparator, row.reference_range)
            direction = {"H": "H", "HH": "H", "L": "L", "LL": "L", None: "N"}[row.flag]
            assert direction == expected or (expected is None and row.flag is None), row
            seen.add(row.flag)
    assert {"H", "L", None} <= seen


def test_units_ranges_and_kinds_of_report():
    si = sample_report(5, units="SI")
    assert any(r.unit == "mmol/L" for r in si.rows) and not any(r.unit == "mg/dL" for r in si.rows)
    assert all(r.loinc for r in si.rows)
    qual = sample_report(5, qualitative=True)
    assert any(r.value_text for r in qual.rows) and any(r.specimen == "urine" for r in qual.rows)
    assert len(sample_report(5, pages=2).rows) > 2 * len(sample_report(5).rows)
    assert range_text(None, si.rows[0].reference_range.high) is not None


def test_layouts_are_visually_distinct():
    assert len(LAYOUTS) >= 8
    orders = {tuple(c.kind for c in layout.columns) for layout in LAYOUTS.values()}
    assert len(orders) >= 6
    styles = {(tuple(c.kind for c in layout.columns), layout.flag_style, layout.value_flag, layout.header_style,
               layout.grid, layout.font, layout.font_size, layout.decimal_comma, layout.table_header)
              for layout in LAYOUTS.values()}
    assert len(styles) == len(LAYOUTS)
    assert any(layout.units == "SI" for layout in LAYOUTS.values())
    assert any(layout.pages > 1 for layout in LAYOUTS.values())
    assert any(layout.qualitative for layout in LAYOUTS.values())
    assert any(any(c.kind == "out_of_range" for c in layout.columns) for layout in LAYOUTS.values())


def test_rendering_prints_every_row_and_repeats_headers_on_later_pages():
    layout = LAYOUTS["multipage"]
    report = layout.report(1)
    doc = text_layer_document(render_pdf(report, layout))
    assert len(doc.pages) >= 2
    text = doc.text
    for row in report.rows:
        assert row.printed_name in text
    assert all("Result" in p.text and "Ref. Range" in p.text for p in doc.pages)
    images = render_page_images(report, layout, dpi=100)
    assert len(images) == len(doc.pages) and images[0].size == (850, 1100)


def test_decimal_comma_and_arrow_layouts_print_as_announced():
    eu = LAYOUTS["si-european"]
    report = eu.report(2)
    text = text_layer_document(render_pdf(report, eu)).text
    decimal = next(r for r in report.rows if r.value is not None and r.value != r.value.to_integral())
    assert str(decimal.value).replace(".", ",") in text
    if any(r.flag for r in report.rows):
        assert "↑" in text or "↓" in text


def test_build_corpus_writes_truth_and_files(tmp_path):
    folders = build_corpus(tmp_path, seeds=(1,), layouts=["classic"], degradations=["jpeg-q25"], dpi=100)
    assert len(folders) == 1
    files = sorted(p.name for p in folders[0].iterdir())
    assert files == ["jpeg-q25.jpg", "text.pdf", "truth.json"]
    truth = json.loads((folders[0] / "truth.json").read_text())
    assert truth["rows"] and truth["patient"]["family"] == LAYOUTS["classic"].report(1).patient.family
