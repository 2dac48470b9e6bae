"""Understanding every corpus layout end to end: text-layer PDFs through the reader, exact rows.

And one real OCR run on a rendered page image (OCR costs ~2 s a page, so only one).
"""
from __future__ import annotations

import pytest

from evaluation.corpus import LAYOUTS, render_page_images, render_pdf
from evaluation.lab import header_values, pair_rows, row_differences
from ingestion.reader import read_document
from ingestion.understanding import understand

from .reader_samples import encode


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("seed", [1, 2])
def test_text_pdf_rows_and_header_exact(layout, seed):
    truth = LAYOUTS[layout].report(seed)
    got = understand(read_document(render_pdf(truth, LAYOUTS[layout])))
    pairs, invented = pair_rows(truth.rows, got.rows)
    wrong = {t.printed_name: (row_differences(t, g) if g else ["missing"]) for t, g in pairs}
    assert {name: d for name, d in wrong.items() if d} == {}
    assert invented == []
    assert header_values(got) == header_values(truth)
    assert [r.printed_name for r in got.rows] == [r.printed_name for r in truth.rows]  # page order kept


def test_panels_and_comments_of_a_multi_page_report():
    layout = LAYOUTS["multipage"]
    truth = layout.report(1)
    got = understand(read_document(render_pdf(truth, layout)))
    assert {r.region.page for r in got.rows} == {1, 2}
    assert [r.panel for r in got.rows] == [r.panel for r in truth.rows]
    assert [r.comment for r in got.rows] == [r.comment for r in truth.rows]


def test_real_ocr_on_a_rendered_page():
    layout = LAYOUTS["hospital-grid"]
    truth = layout.report(1)
    doc = read_document(encode(render_page_images(truth, layout, dpi=300)[0], "PNG"))
    assert doc.pages[0].source == "ocr"
    got = understand(doc)
    pairs, invented = pair_rows(truth.rows, got.rows)
    exact = sum(1 for t, g in pairs if g is not None and not row_differences(t, g))
    assert invented == []
    assert exact >= 0.9 * len(truth.rows), [(t.printed_name, g and row_differences(t, g)) for t, g in pairs]
    assert got.patient.identifier == truth.patient.identifier and got.patient.birth_date == truth.patient.birth_date
    assert all(0 < r.confidence <= 1 and r.region.box[2] > r.region.box[0] for r in got.rows)
