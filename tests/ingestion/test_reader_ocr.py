"""OCR through read_document on generated pages: clean pages with both PaddleOCR engines, multi-page
TIFF, scanned and mixed PDFs, rotated, skewed and photographed pages."""
import random

import pytest
from PIL import Image

from evaluation.corpus.degrade import DEGRADATIONS
from ingestion.reader import read_document
from ingestion.reader.engines import get_engine

from .reader_samples import ROWS, contains_sequence, encode, page_images, report_pdf, words_of

# Times distinguishes "I" from "l" (Helvetica does not, so "uIU/mL" is ambiguous on paper in it).
FONT = "Times-Roman"


@pytest.fixture(scope="session")
def clean_page() -> Image.Image:
    return page_images(report_pdf(font=FONT), dpi=300)[0]


@pytest.fixture(scope="session")
def default_engine():
    return get_engine("onnxruntime")  # loaded once per process, shared by every test


def assert_all_rows_read(document, *, page=None):
    words = words_of(document) if page is None else [w.text for line in page.lines for w in line.words]
    missing = [cell for row in ROWS for cell in row[:3] if not contains_sequence(words, cell)]
    assert missing == [], f"not read exactly: {missing}\n{document.text}"


@pytest.mark.parametrize("engine", ["onnxruntime", "paddle_static"])
def test_every_value_and_unit_on_a_clean_page(engine, clean_page):
    document = read_document(encode(clean_page, "PNG"), engine=engine)
    assert document.media_type == "image/png"
    assert document.engine.startswith(f"paddleocr-{engine}/")
    [page] = document.pages
    assert page.source == "ocr" and page.rotation == 0 and abs(page.skew) < 0.3
    assert_all_rows_read(document)
    flagged = {row[0]: row[4] for row in ROWS if row[4]}
    for line in page.lines:
        name = next((n for n in flagged if line.text.startswith(n + " ")), None)
        if name:
            assert line.words[-1].text == flagged[name], line.text  # the lone flag letter is found too
    for line in page.lines:
        assert 0 <= line.box[0] < line.box[2] <= page.width and 0 <= line.box[1] < line.box[3] <= page.height
        assert 0.0 < line.confidence <= 1.0


def test_multi_page_tiff(default_engine):
    first, second = page_images(report_pdf(pages=2, font=FONT), dpi=200)
    data = encode(first, "TIFF", save_all=True, append_images=[second], compression="tiff_lzw")
    document = read_document(data)
    assert document.media_type == "image/tiff"
    assert [p.number for p in document.pages] == [1, 2]
    for page, label in zip(document.pages, ("Page 1 of 2", "Page 2 of 2")):
        assert_all_rows_read(document, page=page)
        assert any(label in line.text for line in page.lines), page.text


def test_scanned_pdf_is_ocred(clean_page, default_engine):
    data, media_type = DEGRADATIONS["scanned-pdf"](clean_page, random.Random(3))
    document = read_document(data)
    assert media_type == document.media_type == "application/pdf"
    [page] = document.pages
    assert page.source == "ocr"
    assert (page.width, page.height) == (1700, 2200)  # letter at the 200-dpi PDF convention
    assert_all_rows_read(document)


def test_mixed_pdf_reads_text_layer_and_ocr_page_by_page(clean_page, default_engine):
    scanned, _ = DEGRADATIONS["scanned-pdf"](clean_page, random.Random(4))
    import pypdfium2

    merged = pypdfium2.PdfDocument(report_pdf(font=FONT))
    merged.import_pages(pypdfium2.PdfDocument(scanned))
    import io

    buffer = io.BytesIO()
    merged.save(buffer)
    document = read_document(buffer.getvalue())
    assert [p.source for p in document.pages] == ["text-layer", "ocr"]
    assert document.engine == "paddleocr-onnxruntime/PP-OCRv6_small+pdfplumber"
    for page in document.pages:
        assert (page.width, page.height) == (1700, 2200)
        assert_all_rows_read(document, page=page)
    # same convention on both pages: the same line sits at nearly the same place
    text_line = next(line for line in document.pages[0].lines if line.text.startswith("Hemoglobin"))
    ocr_line = next(line for line in document.pages[1].lines if line.text.startswith("Hemoglobin"))
    assert abs(text_line.box[0] - ocr_line.box[0]) < 15 and abs(text_line.box[1] - ocr_line.box[1]) < 15


@pytest.mark.parametrize("turn", [90, 180])
def test_rotated_page_is_turned_upright(turn, clean_page, default_engine):
    small = clean_page.resize((clean_page.width * 2 // 3, clean_page.height * 2 // 3), Image.Resampling.LANCZOS)
    document = read_document(encode(small.rotate(turn, expand=True), "PNG"))  # PIL turns counter-clockwise
    [page] = document.pages
    assert page.rotation == turn  # the clockwise turn applied undoes it
    assert page.width < page.height  # portrait again
    assert_all_rows_read(document)


def test_skewed_page_is_levelled(clean_page, default_engine):
    skewed = clean_page.rotate(-3.2, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(255, 255, 255))
    document = read_document(encode(skewed, "JPEG", quality=90))
    [page] = document.pages
    assert page.rotation == 0
    assert page.skew == pytest.approx(3.2, abs=0.3)  # turned 3.2 degrees clockwise -> levelled counter-clockwise
    assert_all_rows_read(document)
    hemoglobin = next(line for line in page.lines if line.text.startswith("Hemoglobin"))
    assert hemoglobin.box[3] - hemoglobin.box[1] < 80  # one level line, not a diagonal band


def test_phone_photo_is_read(clean_page, default_engine):
    data, media_type = DEGRADATIONS["phone-photo"](clean_page, random.Random(7))
    document = read_document(data)
    assert media_type == document.media_type == "image/jpeg"
    [page] = document.pages
    assert page.width < page.height
    assert_all_rows_read(document)


def test_tesseract_baseline_reads_every_value(clean_page):
    document = read_document(encode(clean_page, "PNG"), engine="tesseract")
    assert document.engine == "tesseract-5"
    words = words_of(document)
    missing = [row[1] for row in ROWS if not contains_sequence(words, row[1])]
    assert missing == []  # names and units: "HbA1c" -> "HbAlc", ^ -> * are its known confusions (docs/ocr.md)
